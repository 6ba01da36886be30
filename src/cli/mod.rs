//! The command line (clap): flags become an args struct, dispatched to one file per
//! subcommand. `anyhow` is used here and nowhere below.

pub mod audit;
pub mod client;
pub mod deposit;
pub mod download;
pub mod keygen;
pub mod migrate;
pub mod participant;
pub mod participant_change;
pub mod prefill;
pub mod reference;
pub mod serve;
pub mod verify;
pub mod witness;

use std::io::Write;
use std::path::Path;

use clap::{CommandFactory, Parser, Subcommand};

/// datapole: a regional trusted third party for data, on an append-only signed Merkle log.
#[derive(Debug, Parser)]
#[command(name = "datapole", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the log service (HTTP API, C2SP tiles, sequencer) on an embedded sled store.
    Serve(Box<serve::ServeArgs>),
    /// Generate an Ed25519 private key: a signed-note key for a log or witness (printing its
    /// vkey), or a participant's PKCS#8 PEM key (printing its public key).
    Keygen(keygen::KeygenArgs),
    /// Deposit a file: sign its deposit statement, upload it (resumably), verify the receipt
    /// and save it.
    Deposit(Box<deposit::DepositArgs>),
    /// Download a dataset version's content (resumably) and check it against its deposit's
    /// receipt.
    Download(Box<download::DownloadArgs>),
    /// Verify a receipt (datapole.receipt.v1 JSON or c2sp.org/tlog-proof text), or a
    /// dataset's custody chain (--custody), offline with the log key, or also against the live
    /// log.
    Verify(verify::VerifyArgs),
    /// Monitor a log: verify its checkpoints, prove them consistent from its tiles, recompute
    /// its root from its entries and check every entry.
    Audit(audit::AuditArgs),
    /// Grow a log through the real engine path (batches, signed checkpoints, flushed
    /// commits), for benchmarks and large-log tests. The log must not be served meanwhile.
    Prefill(prefill::PrefillArgs),
    /// Move a data directory written before the log's objects (store format
    /// `datapole-store/3`) to the current layout, in place, and check it: the same checkpoint,
    /// the same root recomputed from the new tiles, every entry read back. The log must not be
    /// served meanwhile.
    Migrate(migrate::MigrateArgs),
    /// The operator's commands about participants: change a participant's roles, reissue its
    /// token.
    #[command(subcommand)]
    Participant(participant::ParticipantCommand),
    /// Run a c2sp.org/tlog-witness witness: cosign the checkpoints of the logs it follows
    /// once they are proved consistent with the last one it cosigned.
    Witness(witness::WitnessArgs),
}

/// The clap command the derive builds from [`Cli`]: what `datapole --help` renders, and what
/// [`reference`] documents.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the command line and runs the subcommand. Every file and directory it creates is
/// its owner's only (umask 077): data directories, stores, keys, tokens.
pub fn main() -> anyhow::Result<()> {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Keygen(args) => keygen::run(args),
        Command::Deposit(args) => deposit::run(*args),
        Command::Download(args) => download::run(*args),
        Command::Verify(args) => verify::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Prefill(args) => prefill::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Participant(command) => participant::run(command),
        Command::Witness(args) => witness::run(args),
    }
}

/// Writes a secret file readable by its owner only (mode 0600). With `overwrite` false, an
/// existing file is an error.
pub fn write_secret(path: &Path, contents: &str, overwrite: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
