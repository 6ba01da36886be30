//! The `datapole` binary: everything is in the library; see `datapole --help`.

#![forbid(unsafe_code)]

/// mimalloc instead of glibc's allocator: measured in docs/BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    datapole::cli::main()
}
