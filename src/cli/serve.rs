//! `datapole serve`: opens the store, recovers the log, starts the sequencer and the HTTP
//! server. Runs with no flags at all: everything it needs is created in the data directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use crate::api::limits::{RateLimit, RateLimiter};
use crate::api::{self, AppState, ServerOptions};
use crate::ledger::Ledger;
use crate::log::tiled::Options;
use crate::log::{DiskStore, LogSigner, Sequencer, SequencerConfig};
use crate::witnessing::collector::{WitnessConfig, Witnessing};

/// The key name (and so the origin) of a log created with no `--origin`.
pub const DEFAULT_NAME: &str = "datapole.localhost/log";

/// Flags of `datapole serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where the store, the generated log key and the generated admin token live: created
    /// private (0700) if missing, refused if other users may read or write it or anything in it.
    #[arg(long, default_value = "./datapole-data")]
    pub data_dir: PathBuf,
    /// The checkpoint origin line (default: the log key's name).
    #[arg(long)]
    pub origin: Option<String>,
    /// A signed-note private key file (from `datapole keygen`); default: `<data-dir>/log.key`,
    /// generated at first start.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// A file holding the operator's admin token; the `DATAPOLE_ADMIN_TOKEN` variable wins over
    /// it. Default: `<data-dir>/admin-token`, generated at first start.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// A batch closes when it holds this many entries.
    #[arg(long, default_value_t = SequencerConfig::default().max_batch)]
    pub batch_max_entries: usize,
    /// ... or this many milliseconds after its first entry arrived.
    #[arg(long, default_value_t = SequencerConfig::default().max_wait.as_millis() as u64)]
    pub batch_max_wait_ms: u64,
    /// Appends that may wait for the sequencer before new ones get 503 `overloaded`.
    #[arg(long, default_value_t = SequencerConfig::default().queue)]
    pub queue: usize,
    /// sled's page cache in MiB: with the 32 MiB of recent hashes, what bounds the server's
    /// memory whatever the log's size.
    #[arg(long, default_value_t = crate::log::sled_store::DEFAULT_CACHE_BYTES >> 20)]
    pub store_cache_mb: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Concurrent connections per worker.
    #[arg(long, default_value_t = 25_000)]
    pub max_connections: usize,
    /// Milliseconds a client has to send a request head, and then as much for its body, before
    /// it is cut off (slowloris); on a kept-alive connection the next request must arrive, head
    /// and body, within --keep-alive-secs plus this.
    #[arg(long, default_value_t = 5_000)]
    pub request_timeout_ms: u64,
    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, default_value_t = 30)]
    pub keep_alive_secs: u64,
    /// Requests per second each client may make (0: no limit). Clients are told apart by
    /// address; see --trusted-proxy.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit: f64,
    /// Requests a client may make in a burst (default: twice --rate-limit, at least 1).
    #[arg(long)]
    pub rate_burst: Option<f64>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeatable). From any other peer the
    /// header is ignored.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// PEM certificate chain: serve HTTPS (with --tls-key) instead of plain HTTP.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A witness to submit every checkpoint to: `URL=VKEY`, its base URL (c2sp.org/tlog-witness
    /// submission prefix) and its `cosignature/v1` verifier key (`datapole keygen --witness`).
    /// Repeatable. With witnesses, `/checkpoint` serves only checkpoints cosigned by
    /// --witness-quorum of them, and writes are answered with such a checkpoint.
    #[arg(long = "witness", value_name = "URL=VKEY")]
    pub witnesses: Vec<String>,
    /// How many distinct witnesses must cosign a checkpoint.
    #[arg(long, default_value_t = 1)]
    pub witness_quorum: usize,
    /// Milliseconds one request to a witness may take.
    #[arg(long, default_value_t = 5_000)]
    pub witness_timeout_ms: u64,
    /// Milliseconds a write waits for the quorum before it is answered 202 with the log's
    /// own receipt (`"witnessed": false`); `GET /v1/receipts/{index}` has the witnessed one
    /// later.
    #[arg(long, default_value_t = 3_000)]
    pub witness_wait_ms: u64,
    /// Seconds after which an unchanged checkpoint is submitted to the witnesses again, to
    /// refresh the timestamps of its cosignatures.
    #[arg(long, default_value_t = 600)]
    pub witness_refresh_secs: u64,
    /// An archive location, `NAME=DIR` (repeat for copies on other disks: each object is
    /// written to every location, and a copy that fails its fixity check is repaired from a
    /// good one). Default: one location `local` in `<data-dir>/archive`. Uploads are staged
    /// under the first.
    #[arg(long = "archive-location", value_name = "NAME=DIR")]
    pub archive_locations: Vec<String>,
    /// The largest object the archive takes, in MiB.
    #[arg(long, default_value_t = 1 << 20)]
    pub archive_max_object_mb: u64,
    /// Each participant's archive quota (its live objects and open uploads), in MiB.
    #[arg(long, default_value_t = 4 << 20)]
    pub archive_quota_mb: u64,
    /// Minutes an upload session lives without a byte before it and its bytes are deleted.
    #[arg(long, default_value_t = 24 * 60)]
    pub upload_idle_minutes: u64,
    /// Hours between fixity runs (0: none; `POST /v1/archive/fixity` runs one on demand).
    #[arg(long, default_value_t = 24)]
    pub fixity_interval_hours: u64,
    /// The scheduled fixity runs' read budget, in MiB per second (0: unthrottled).
    #[arg(long, default_value_t = 64)]
    pub fixity_budget_mb: u64,
    /// The retention policy: dispose of every object whose retention has ended (and that no
    /// legal hold keeps) once an hour, each disposal logged as the operator's. Without it,
    /// the depositor or the operator disposes of them by hand.
    #[arg(long)]
    pub dispose_at_retention_end: bool,
}

/// Parses the `--archive-location NAME=DIR` flags.
fn archive_locations(args: &ServeArgs) -> anyhow::Result<Vec<(String, PathBuf)>> {
    args.archive_locations
        .iter()
        .map(|l| {
            let (name, dir) = l
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--archive-location {l:?}: expected NAME=DIR"))?;
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            anyhow::ensure!(
                ok,
                "--archive-location {l:?}: the name must be 1 to 64 letters, digits, '-', '_' or '.'"
            );
            Ok((name.to_owned(), PathBuf::from(dir)))
        })
        .collect()
}

/// Parses the `--witness URL=VKEY` flags.
fn witness_config(args: &ServeArgs) -> anyhow::Result<Option<WitnessConfig>> {
    if args.witnesses.is_empty() {
        return Ok(None);
    }
    let witnesses = args
        .witnesses
        .iter()
        .map(|w| {
            w.split_once('=')
                .map(|(url, vkey)| (url.trim().to_owned(), vkey.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--witness {w:?}: expected URL=VKEY"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(WitnessConfig {
        witnesses,
        quorum: args.witness_quorum,
        timeout: Duration::from_millis(args.witness_timeout_ms.max(1)),
        wait: Duration::from_millis(args.witness_wait_ms),
        refresh: Duration::from_secs(args.witness_refresh_secs.max(1)),
    }))
}

/// Refuses a secret file that other users can read or write.
pub(crate) fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is accessible to other users (mode {:o}); make it private: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

/// Loads the TLS certificate chain and key.
fn load_tls(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    check_private(key)?;
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the certificates in {}", cert.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key in {}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")
}

fn read_trimmed(path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim().to_owned())
}

/// The log key: `--key-file`, else `<data-dir>/log.key`, generated if missing.
fn load_key(args: &ServeArgs) -> anyhow::Result<LogSigner> {
    open_log_key(
        &args.data_dir,
        args.key_file.as_deref(),
        args.origin.as_deref(),
    )
}

/// The log's signing key: `key_file`, else `<data_dir>/log.key`, generated (named `origin`,
/// or [`DEFAULT_NAME`]) if missing.
pub(crate) fn open_log_key(
    data_dir: &Path,
    key_file: Option<&Path>,
    origin: Option<&str>,
) -> anyhow::Result<LogSigner> {
    let skey = match key_file {
        Some(path) => {
            check_private(path)?;
            read_trimmed(path)?
        }
        None => {
            let path = data_dir.join("log.key");
            if path.exists() {
                check_private(&path)?;
                read_trimmed(&path)?
            } else {
                let name = origin.unwrap_or(DEFAULT_NAME);
                let (skey, vkey) = LogSigner::generate(name).with_context(|| {
                    format!("the origin {name:?} cannot name a key; use `datapole keygen` and --key-file")
                })?;
                super::write_secret(&path, &format!("{skey}\n"), false)
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(path = %path.display(), %vkey, "generated the log key");
                skey
            }
        }
    };
    Ok(LogSigner::from_skey(&skey, origin)?)
}

/// The fewest characters an admin token may have: shorter ones could be guessed.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// The admin token: `DATAPOLE_ADMIN_TOKEN`, else `--admin-token-file`, else
/// `<data-dir>/admin-token`, generated if missing. Each must have at least
/// [`MIN_ADMIN_TOKEN_CHARS`] characters.
fn load_admin_token(args: &ServeArgs) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("DATAPOLE_ADMIN_TOKEN") {
        return long_enough(token.trim().to_owned(), "DATAPOLE_ADMIN_TOKEN");
    }
    let path = match &args.admin_token_file {
        Some(p) => {
            check_private(p)?;
            return long_enough(
                read_trimmed(p)?,
                &format!("the admin token file {}", p.display()),
            );
        }
        None => args.data_dir.join("admin-token"),
    };
    if path.exists() {
        check_private(&path)?;
        return long_enough(
            read_trimmed(&path)?,
            &format!("the admin token file {}", path.display()),
        );
    }
    use base64::prelude::*;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("dpa_{}", BASE64_URL_SAFE_NO_PAD.encode(raw));
    super::write_secret(&path, &format!("{token}\n"), false)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("admin token generated in {}", path.display());
    Ok(token)
}

/// Refuses an admin token (from `source`) shorter than [`MIN_ADMIN_TOKEN_CHARS`].
fn long_enough(token: String, source: &str) -> anyhow::Result<String> {
    let chars = token.chars().count();
    if chars < MIN_ADMIN_TOKEN_CHARS {
        bail!(
            "{source} holds an admin token of {chars} characters; it must have at least \
             {MIN_ADMIN_TOKEN_CHARS} characters (for example the output of `openssl rand -base64 32`)"
        );
    }
    Ok(token)
}

/// Standard error for logs, swallowing write failures: a full or closed log disk must not take
/// the service down (the logging library reports write errors with `eprintln!`, which panics
/// when standard error itself is what fails).
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Creates the data directory if missing (and its missing parents), readable by its owner
/// only (it will hold the log key, the admin token and the store).
pub(crate) fn ensure_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    if !data_dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("securing {}", data_dir.display()))?;
        }
    }
    Ok(())
}

/// Refuses a data directory that other users (group or world) may read, write or enter, or
/// that holds a file or directory they may: it holds the signing key, the admin token and the
/// store (private openings, consent records, token hashes). Symbolic links are not followed.
pub(crate) fn check_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut pending = vec![data_dir.to_owned()];
        while let Some(path) = pending.pop() {
            let meta = std::fs::symlink_metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o777;
            let public = path == data_dir.join(crate::log::tiled::PUBLIC_DIR);
            if mode & 0o077 != 0 && !public {
                bail!(
                    "{} is open to other users (mode {mode:o}), in the data directory that holds \
                     the log key, the admin token and the store; make it private: \
                     chmod -R go-rwx {}",
                    path.display(),
                    data_dir.display()
                );
            }
            // The log's public objects may be opened to a web server's user.
            if meta.is_dir() && path != data_dir.join(crate::log::tiled::PUBLIC_DIR) {
                for entry in std::fs::read_dir(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                {
                    pending.push(entry?.path());
                }
            }
        }
    }
    Ok(())
}

/// Runs the service until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    ensure_data_dir(&args.data_dir)?;
    check_data_dir(&args.data_dir)?;
    let signer = load_key(&args)?;
    let admin_token = load_admin_token(&args)?;
    let witnessed = witness_config(&args)?.is_some();
    let options = Options {
        state_cache_bytes: args.store_cache_mb.max(1) << 20,
        // On a witnessed log the public checkpoint is the cosigned one, which the witnessing
        // collector publishes.
        publish_on_commit: !witnessed,
        ..Options::default()
    };
    let store = DiskStore::open_dir(&args.data_dir, &options).with_context(|| {
        format!(
            "opening the log in {} (is another datapole using it?)",
            args.data_dir.display()
        )
    })?;
    let config = SequencerConfig {
        max_batch: args.batch_max_entries,
        max_wait: Duration::from_millis(args.batch_max_wait_ms),
        queue: args.queue,
    };
    let metrics = Arc::new(api::metrics::Metrics::new());
    let (log, sequencer) =
        Sequencer::start_observed(Arc::new(store), signer, config, metrics.clone())?;
    let witnessing = match witness_config(&args)? {
        None => None,
        Some(config) => Some(
            Witnessing::start(config, log.watch())
                .map_err(|e| anyhow::anyhow!("witnesses: {e}"))?,
        ),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(load_tls(cert, key)?)),
        _ => None,
    };
    let rate_limit = (args.rate_limit > 0.0).then(|| {
        Arc::new(RateLimiter::new(
            RateLimit {
                per_second: args.rate_limit,
                burst: args.rate_burst.unwrap_or(args.rate_limit * 2.0).max(1.0),
            },
            args.trusted_proxies.clone(),
        ))
    });
    let options = ServerOptions {
        workers: args.workers,
        max_connections: args.max_connections.max(1),
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        keep_alive: Duration::from_secs(args.keep_alive_secs),
        rate_limit,
        tls,
    };
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let latest = log.latest();
    tracing::info!(
        origin = log.signer().origin(),
        vkey = log.signer().vkey(),
        size = latest.size,
        "log ready"
    );
    println!("log {} vkey {}", log.signer().origin(), log.signer().vkey());
    println!("datapole listening on {scheme}://{addr}");
    let mut ledger = Ledger::new(log);
    if let Some(w) = &witnessing {
        println!(
            "witnessed by {} (quorum {})",
            args.witnesses.len(),
            w.quorum()
        );
        ledger = ledger.with_witnessing(w.clone());
    }
    let limits = crate::archive::vault::Limits {
        max_object: args.archive_max_object_mb.saturating_mul(1 << 20),
        quota: args.archive_quota_mb.saturating_mul(1 << 20),
        upload_idle: chrono::Duration::minutes(
            i64::try_from(args.upload_idle_minutes)
                .unwrap_or(i64::MAX / 120_000)
                .max(1),
        ),
        fixity_budget: (args.fixity_budget_mb > 0)
            .then(|| args.fixity_budget_mb.saturating_mul(1 << 20)),
    };
    let archive =
        crate::archive::Archive::open_dirs(&args.data_dir, &archive_locations(&args)?, limits)
            .context("opening the archive")?;
    ledger = ledger.with_archive(Arc::new(archive));
    ledger
        .reconcile_archive()
        .map_err(|e| anyhow::anyhow!("reconciling the archive with the log: {}", e.message()))?;
    let fixity_every = Duration::from_secs(args.fixity_interval_hours.saturating_mul(3600));
    let dispose_at_end = args.dispose_at_retention_end;
    let state = AppState::with_metrics(ledger, &admin_token, metrics);
    let state = actix_web::web::Data::new(state);
    let served = actix_web::rt::System::new().block_on(async move {
        // Nonces past their freshness window go, a minute at a time.
        let pruning = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let state = pruning.clone();
                let pruned = actix_web::web::block(move || {
                    state.ledger.prune_nonces(chrono::Utc::now(), 100_000)
                })
                .await;
                match pruned {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(nonces = n, "stale nonces forgotten"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning the nonces failed"),
                    _ => {}
                }
            }
        });
        // Abandoned uploads go, a minute at a time.
        let sweeping = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Ok(archive) = sweeping.ledger.archive() {
                    let archive = archive.clone();
                    let swept =
                        actix_web::web::block(move || archive.uploads().sweep(chrono::Utc::now()))
                            .await;
                    if let Ok(n) = swept.map_err(|_| ()) {
                        if n > 0 {
                            tracing::info!(sessions = n, "expired upload sessions deleted");
                        }
                    }
                }
            }
        });
        // The retention policy, hourly.
        if dispose_at_end {
            let disposing = state.clone();
            actix_web::rt::spawn(async move {
                let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
                loop {
                    tick.tick().await;
                    match disposing.ledger.dispose_expired(chrono::Utc::now()).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(objects = n, "disposed of at the end of their retention")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "the retention policy failed"),
                    }
                }
            });
        }
        // The scrubber, on its schedule and within its budget.
        if !fixity_every.is_zero() {
            let scrubbing = state.clone();
            actix_web::rt::spawn(async move {
                let mut tick = actix_web::rt::time::interval(fixity_every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = scrubbing
                        .ledger
                        .fixity_run(crate::ledger::fixity::Pace::Configured)
                        .await
                    {
                        tracing::error!(error = %e, "a fixity run failed");
                    }
                }
            });
        }
        let server = api::server(listener, state, options)?;
        server.await
    });
    // The HTTP server has stopped and dropped its handles: the witnessing threads stop, the
    // sequencer drains and exits.
    if let Some(w) = witnessing {
        w.shutdown();
    }
    served?;
    let _ = sequencer.join();
    Ok(())
}
