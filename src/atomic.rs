//! Replacing a file atomically, the one way feedfold writes files it publishes or edits.
//!
//! In: a path, the bytes it should hold and the permissions the file gets ([`Mode`]). Out: the
//! file replaced in one rename: the bytes go to a temporary file beside it (same folder, so the
//! rename never crosses file systems), are synced, then renamed over it, so a reader sees the
//! old file or the new one, never a part. On any error the temporary file is removed: a failed
//! write leaves nothing behind. A path that is a symbolic link is followed, so the link stays a
//! link and its target is replaced.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The permissions of the replaced file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// What a new file gets by default (the process's umask), or the old file's permissions
    /// when there is one: a published output, a config file edited in place.
    Keep,
    /// Readable and writable by the owner only (0600 on Unix): a private output.
    Private,
}

/// Replaces `path` with `bytes` (see the module documentation).
pub fn replace(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let tmp = temporary(&target);
    let write = || -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if mode == Mode::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        if let Some(permissions) = permissions(&target, mode)? {
            file.set_permissions(permissions)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &target)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// The temporary file for `target`: hidden, beside it, named after this process.
fn temporary(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The permissions to set on the temporary file, if any: the old file's for [`Mode::Keep`]
/// (none when there is no old file), 0600 for [`Mode::Private`] (also when a temporary file of
/// the same name was left with wider ones).
fn permissions(target: &Path, mode: Mode) -> io::Result<Option<Permissions>> {
    match mode {
        Mode::Keep => match fs::metadata(target) {
            Ok(meta) => Ok(Some(meta.permissions())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
        #[cfg(unix)]
        Mode::Private => {
            use std::os::unix::fs::PermissionsExt;
            Ok(Some(Permissions::from_mode(0o600)))
        }
        #[cfg(not(unix))]
        Mode::Private => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_bytes_and_keeps_the_permissions() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("all.rss");
        replace(&path, b"one", Mode::Keep).expect("new file");
        assert_eq!(fs::read(&path).expect("read"), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, Permissions::from_mode(0o640)).expect("chmod");
            replace(&path, b"two", Mode::Keep).expect("replaced");
            assert_eq!(
                fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o640
            );
            replace(&path, b"three", Mode::Private).expect("private");
            assert_eq!(
                fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_link_stays_a_link() {
        let dir = tempfile::tempdir().expect("dir");
        let real = dir.path().join("real.toml");
        fs::write(&real, "old").expect("write");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.toml");
            std::os::unix::fs::symlink(&real, &link).expect("link");
            replace(&link, b"new", Mode::Keep).expect("replaced");
            assert!(
                fs::symlink_metadata(&link)
                    .expect("meta")
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(fs::read(&real).expect("read"), b"new");
        }
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        // A folder where the file should be: the rename fails after the bytes were written.
        let path = dir.path().join("all.atom");
        fs::create_dir(&path).expect("dir in the way");
        fs::write(path.join("inside"), "x").expect("write");
        let error = replace(&path, b"bytes", Mode::Keep).expect_err("cannot replace a folder");
        assert_ne!(error.kind(), io::ErrorKind::NotFound, "{error}");
        assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
        assert!(path.is_dir(), "the folder is untouched");
    }
}
