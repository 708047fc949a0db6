//! OPML import into a config file on disk: the library's `import_file` on the fixtures in
//! `tests/fixtures/opml/` (a feed reader's export and a commented config with outputs).

use std::path::{Path, PathBuf};

use feedfold::config::Config;
use feedfold::config::edit::EditError;
use feedfold::opml::{OpmlError, import_file};

use crate::support::fixtures;

fn opml_fixture(name: &str) -> PathBuf {
    fixtures().join("opml").join(name)
}

/// A temporary copy of the fixture config, with the text it started as.
fn config_copy(dir: &Path) -> (PathBuf, String) {
    let text = std::fs::read_to_string(opml_fixture("feeds.toml")).expect("fixture config");
    let path = dir.join("feeds.toml");
    std::fs::write(&path, &text).expect("write config");
    (path, text)
}

#[test]
fn import_file_adds_sources_and_keeps_the_file_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, original) = config_copy(dir.path());

    let import = import_file(&config, &opml_fixture("feedreader.opml")).expect("import");
    assert_eq!(import.added.len(), 8, "{:?}", import.added);
    assert_eq!(import.skipped.len(), 2, "{:?}", import.skipped);
    assert_eq!(import.rejected.len(), 1, "{:?}", import.rejected);

    let written = std::fs::read_to_string(&config).expect("read back");
    assert_eq!(written, import.text);
    let (head, tail) = original.split_at(original.find("\n\n# One merged feed").expect("fixture") + 1);
    assert!(
        written.starts_with(head) && written.ends_with(tail),
        "the sources go after the last source, the rest is kept:\n{written}"
    );
    for comment in [
        "# Wire services first.",
        "# region = \"310000\"",
        "# aligned on purpose",
        "# One merged feed",
    ] {
        assert!(written.contains(comment), "lost `{comment}`");
    }
    let cfg = Config::load(&config).expect("the written config loads");
    assert_eq!(cfg.sources.len(), 2 + 8);
    assert_eq!(cfg.outputs.len(), 2);
    assert!(cfg.sources.iter().any(|s| s.name == "Ars Technica (2)"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != "feeds.toml")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // A second import finds every subscription already there and writes nothing.
    let again = import_file(&config, &opml_fixture("feedreader.opml")).expect("import again");
    assert!(again.added.is_empty());
    assert_eq!(again.skipped.len(), 10);
    assert_eq!(std::fs::read_to_string(&config).expect("read"), written);
}

#[test]
fn import_file_writes_nothing_when_the_result_would_not_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, original) = config_copy(dir.path());
    let broken = format!("{original}\n[[output]]\nname = \"bad\"\ntitle = \"t\"\nsources = [\"nobody\"]\n");
    std::fs::write(&config, &broken).expect("write");

    let err = import_file(&config, &opml_fixture("feedreader.opml")).expect_err("invalid");
    assert!(
        matches!(err, OpmlError::Config(EditError::Invalid { .. })),
        "{err:?}"
    );
    let report = feedfold::run::error_chain(&err);
    assert!(report.contains("no source is named `nobody`"), "{report}");
    assert_eq!(std::fs::read_to_string(&config).expect("read"), broken);
}

#[test]
fn import_file_names_the_file_it_cannot_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, original) = config_copy(dir.path());
    let opml = dir.path().join("bad.opml");
    std::fs::write(&opml, "<opml version=\"2.0\"><body>\n<outline text=\"a\" xmlUrl=").expect("write");

    let err = import_file(&config, &opml).expect_err("malformed");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: not an OPML document", opml.display())),
        "{message}"
    );
    let missing = import_file(&config, &dir.path().join("missing.opml")).expect_err("missing");
    assert!(missing.to_string().contains("missing.opml"), "{missing}");
    assert_eq!(std::fs::read_to_string(&config).expect("read"), original);
}
