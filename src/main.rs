//! The `datapole` binary: everything is in the library; see `datapole --help`.

#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    datapole::cli::main()
}
