//! The fuzz targets' seed corpora, run as ordinary tests: every file of `fuzz/seeds/TARGET/`
//! goes through the same body the fuzzer runs (`fuzz/harness.rs`). Files the fuzzer found
//! interesting, and inputs of fixed crashes, are added there.

use std::path::PathBuf;

#[allow(dead_code)] // contain_dependency_panics is for the fuzzer's init only
#[path = "../../fuzz/harness.rs"]
mod harness;

/// Runs `body` over every seed of `target`, naming the file that fails.
fn run_seeds(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{}: too few seeds", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("a readable seed");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("seed {} fails the {target} harness", file.display());
        }
    }
}

#[test]
fn feed_seeds() {
    run_seeds("feed", harness::feed);
}

#[test]
fn comparison_seeds() {
    run_seeds("comparison", harness::comparison);
}

#[test]
fn filter_seeds() {
    run_seeds("filter", harness::filter);
}

#[test]
fn config_seeds() {
    run_seeds("config", harness::config);
}
