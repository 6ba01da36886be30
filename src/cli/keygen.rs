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
    /// A witness key: print its c2sp.org/tlog-cosignature (`cosignature/v1`, type 0x04)
    /// verifier key, the one logs and verifiers configure, instead of the note key.
    #[arg(long)]
    pub witness: bool,
}

/// Writes the private key and prints the verifier key on stdout.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let (skey, vkey) = LogSigner::generate(&args.name)?;
    super::write_secret(&args.out, &format!("{skey}\n"), args.force)
        .with_context(|| format!("writing {} (use --force to replace it)", args.out.display()))?;
    if args.witness {
        let (name, key) = crate::log::checkpoint::signing_key(&skey)?;
        println!(
            "{}",
            crate::witness::cosignature::vkey(&name, &key.verifying_key())
        );
    } else {
        println!("{vkey}");
    }
    Ok(())
}
