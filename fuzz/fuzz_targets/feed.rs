//! cargo-fuzz target: see `harness::feed` (fuzz/harness.rs) for what it checks.
#![no_main]

#[allow(dead_code)] // each target uses one body of the shared harness
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(init: harness::contain_dependency_panics(), |data: &[u8]| harness::feed(data));
