//! `datapole prefill`: grows a log to a given size through the real engine path (the
//! sequencer's batching, tree integration, one signed checkpoint per batch, atomic and
//! flushed sled commits), for benchmarks and large-log tests. The log must not be served
//! meanwhile (sled locks the store).
//!
//! The entries are access decisions of one registered accessor (`"type":"access"` leaves: a
//! random id and a commitment, like real ones) without off-log records, so the log audits
//! clean and its size on disk is that of the log itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use base64::prelude::*;
use clap::Args;
use rand::RngCore;
use uuid::Uuid;

use super::serve::{check_data_dir, ensure_data_dir, open_log_key};
use crate::consent::{RecordKind, RecordLeaf};
use crate::ledger::keys;
use crate::log::tiled::Options;
use crate::log::{AppendRequest, DiskStore, Sequencer, SequencerConfig};
use crate::participant::{ParticipantLeaf, Registration, Role};

/// Flags of `datapole prefill`.
#[derive(Debug, Args)]
pub struct PrefillArgs {
    /// Entries to append.
    #[arg(long)]
    pub count: u64,
    /// The data directory, as for `datapole serve`.
    #[arg(long, default_value = "./datapole-data")]
    pub data_dir: PathBuf,
    /// The log key file, as for `datapole serve`.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The checkpoint origin, as for `datapole serve`.
    #[arg(long)]
    pub origin: Option<String>,
    /// Entries per batch (one checkpoint and one flush each).
    #[arg(long, default_value_t = SequencerConfig::default().max_batch)]
    pub batch: usize,
}

/// Runs the command.
pub fn run(args: PrefillArgs) -> anyhow::Result<()> {
    ensure_data_dir(&args.data_dir)?;
    check_data_dir(&args.data_dir)?;
    let signer = open_log_key(
        &args.data_dir,
        args.key_file.as_deref(),
        args.origin.as_deref(),
    )?;
    let store = DiskStore::open_dir(&args.data_dir, &Options::default()).with_context(|| {
        format!(
            "opening the log in {} (is it being served?)",
            args.data_dir.display()
        )
    })?;
    let config = SequencerConfig {
        max_batch: args.batch.max(1),
        queue: args.batch.max(1) * 4,
        ..SequencerConfig::default()
    };
    let (log, thread) = Sequencer::start(Arc::new(store), signer, config)?;
    let start_size = log.latest().size;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let started = Instant::now();
    runtime.block_on(async {
        // The accessor the entries are attributed to.
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let registration = Registration {
            name: "Prefill accessor".into(),
            roles: vec![Role::Accessor],
            public_key: key,
        };
        let accessor = Uuid::new_v4();
        let leaf = ParticipantLeaf::new(&registration, accessor, chrono::Utc::now());
        log.append(AppendRequest {
            entry: leaf.to_bytes()?,
            unique: vec![
                keys::participant_key(key.as_bytes()),
                keys::participant_id(accessor),
            ],
            ..AppendRequest::default()
        })
        .await
        .context("registering the prefill accessor")?;
        println!(
            "prefill accessor {accessor} (key {})",
            BASE64_STANDARD.encode(key.as_bytes())
        );

        // Keep a queue's worth of appends in flight: the sequencer is never idle, and the
        // next batch forms while the current one is flushed.
        let window = config.queue.max(1) as u64;
        let log = &log;
        let append = |_: u64| {
            let mut r = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut r);
            let id = Uuid::new_v4();
            let leaf = RecordLeaf::new(
                RecordKind::Access,
                id,
                accessor,
                chrono::Utc::now(),
                &r,
                b"prefill",
            );
            let entry = leaf.to_bytes();
            async move {
                log.append(AppendRequest {
                    entry: entry?,
                    unique: vec![keys::record_id(id)],
                    ..AppendRequest::default()
                })
                .await
                .map_err(anyhow::Error::from)
            }
        };
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let (mut sent, mut done) = (0u64, 0u64);
        let mut last_report = Instant::now();
        while done < args.count {
            while sent < args.count && sent - done < window {
                in_flight.push(append(sent));
                sent += 1;
            }
            if let Some(r) = futures_util::StreamExt::next(&mut in_flight).await {
                r.context("appending")?;
                done += 1;
            }
            if last_report.elapsed().as_secs() >= 5 || done == args.count {
                last_report = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{done} of {} entries in {secs:.1} s ({:.0} entries/s), log size {}",
                    args.count,
                    done as f64 / secs,
                    log.latest().size
                );
            }
        }
        anyhow::Ok(())
    })?;
    let size = log.latest().size;
    drop(log);
    let _ = thread.join();
    println!(
        "the log grew from {start_size} to {size} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
