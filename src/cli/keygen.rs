//! `datapole keygen`: a new signed-note Ed25519 key (c2sp.org/signed-note).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::log::LogSigner;

/// Flags of `datapole keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key name, which is also the log's default origin (e.g. `datapole.example.org/log`):
    /// no spaces, no `+`.
    #[arg(long)]
    pub name: String,
    /// Where to write the private key (created with mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Writes the private key and prints the verifier key on stdout.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let (skey, vkey) = LogSigner::generate(&args.name)?;
    super::write_secret(&args.out, &format!("{skey}\n"), args.force)
        .with_context(|| format!("writing {} (use --force to replace it)", args.out.display()))?;
    println!("{vkey}");
    Ok(())
}
