//! The command line (clap): flags become an args struct, dispatched to one file per
//! subcommand. `anyhow` is used here and nowhere below.

pub mod access;
pub mod audit;
pub mod client;
pub mod consent;
pub mod deposit;
pub mod download;
pub mod keygen;
pub mod migrate;
pub mod participant;
pub mod participant_change;
pub mod payload;
pub mod prefill;
pub mod receipt;
pub mod reference;
pub mod serve;
pub mod verify;
pub mod vkey;
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
    /// Participants: register one, change its roles or reissue its token (operator), or show
    /// one's public record.
    #[command(subcommand)]
    Participant(participant::ParticipantCommand),
    /// Print the log's verifier key as the server states it (an auditor pins the one printed
    /// at the log's first start, obtained out of band, instead).
    Vkey(vkey::VkeyArgs),
    /// Consents: record one from a payload file (controller); read, withdraw or erase one
    /// with the citizen's receipt file, or withdraw or erase it as its controller.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Access decisions: ask the log before using data (accessor).
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Receipts: fetch an entry's receipt from the log, or show what a receipt file is about.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Verify a receipt (datapole.receipt.v1 JSON or c2sp.org/tlog-proof text), or a
    /// dataset's custody chain (--custody), offline with the log key, or also against the live
    /// log; with --file, also that a deposit's receipt is about those bytes.
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
        Command::Participant(command) => participant::run(command),
        Command::Vkey(args) => vkey::run(args),
        Command::Consent(command) => consent::run(command),
        Command::Access(command) => access::run(command),
        Command::Receipt(command) => receipt::run(command),
        Command::Verify(args) => verify::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Prefill(args) => prefill::run(args),
        Command::Migrate(args) => migrate::run(args),
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
