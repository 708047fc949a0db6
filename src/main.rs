//! The `feedfold` binary: a thin shell over the library (see `cli`).

mod cli;

/// jemalloc instead of the system allocator (see BENCHMARKS.md, issue 16).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
