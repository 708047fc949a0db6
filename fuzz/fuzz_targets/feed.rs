//! cargo-fuzz target: see `harness::feed` (fuzz/harness.rs) for what it checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::feed(data));
