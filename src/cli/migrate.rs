//! `datapole migrate`: moves a data directory to the current layout ([`crate::log::migrate`]).

use std::path::PathBuf;

use anyhow::Context;
use base64::prelude::*;
use clap::Args;

use super::serve::check_data_dir;

/// Flags of `datapole migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory, as for `datapole serve`.
    #[arg(long, default_value = "./datapole-data")]
    pub data_dir: PathBuf,
}

/// Runs the command.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    check_data_dir(&args.data_dir)?;
    let started = std::time::Instant::now();
    let done = crate::log::migrate::migrate(&args.data_dir)
        .with_context(|| format!("migrating {}", args.data_dir.display()))?;
    let root = BASE64_STANDARD.encode(done.root.0);
    if done.already {
        println!(
            "{} is already in the current layout: size {}, root {root}",
            args.data_dir.display(),
            done.size
        );
    } else {
        println!(
            "migrated {} in {:.1} s: size {}, root {root}, the same checkpoint, every entry read \
             back from the new tiles",
            args.data_dir.display(),
            started.elapsed().as_secs_f64(),
            done.size
        );
    }
    Ok(())
}
