//! The log's witnessing: after each new checkpoint, submit it to every configured witness at
//! once, and as soon as a quorum of them has cosigned it, publish it with their cosignature
//! lines appended. Writes wait (up to a configured time) for a cosigned checkpoint covering
//! them; `/checkpoint` serves only cosigned checkpoints.
//!
//! Threads: one coordinator, which runs rounds (one checkpoint each, the newest), and one per
//! witness, so that a slow or dead witness holds up neither the others nor the next round.
//! The last published cosigned checkpoint is kept in the store, so that a restarted log
//! serves it at once, before the witnesses are reachable.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::client::{SubmitError, WitnessClient, WitnessClientError};
use crate::log::sequencer::LogWatch;
use crate::log::tree::{self, StoreReader};
use crate::log::SignedCheckpoint;

/// The store's key for the last published cosigned checkpoint.
pub const COSIGNED_META: &str = "cosigned-checkpoint";

/// How witnessing is configured.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// Each witness: its base URL and its `cosignature/v1` verifier key.
    pub witnesses: Vec<(String, String)>,
    /// How many distinct witnesses must cosign a checkpoint before it is served.
    pub quorum: usize,
    /// The time limit of one request to a witness.
    pub timeout: Duration,
    /// How long a write waits for a cosigned checkpoint before it is answered unwitnessed.
    pub wait: Duration,
    /// An unchanged checkpoint is submitted again after this long, so that its cosignatures'
    /// timestamps show the witnesses saw it recently.
    pub refresh: Duration,
}

/// Why witnessing cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration names no witness.
    #[error("no witness configured")]
    NoWitness,
    /// The quorum is 0 or more than the witnesses configured.
    #[error("a quorum of {quorum} among {witnesses} witnesses is not possible")]
    Quorum {
        /// The quorum asked for.
        quorum: usize,
        /// The number of witnesses configured.
        witnesses: usize,
    },
    /// A witness's URL or key is unusable.
    #[error(transparent)]
    Witness(#[from] WitnessClientError),
    /// Two witnesses with the same key or the same key name (the second one's key).
    #[error("witness {0:?} is configured twice (same key or same name)")]
    Twice(String),
    /// A thread could not be started.
    #[error("{0}")]
    Thread(std::io::Error),
}

/// What the log knows of one witness, for `/v1/log` and `/metrics`.
#[derive(Default)]
pub struct WitnessStats {
    /// Cosignatures obtained.
    pub cosigned: AtomicU64,
    /// Submissions that failed.
    pub failures: AtomicU64,
    /// The duration of the last successful submission, in microseconds.
    pub last_micros: AtomicU64,
    /// The sum of the successful submissions' durations, in microseconds.
    pub total_micros: AtomicU64,
    /// The last failure, if the last submission failed.
    pub last_error: Mutex<Option<String>>,
}

/// One witness worker's inbox: the newest round it should submit.
struct Slot {
    job: Mutex<Option<(u64, Arc<SignedCheckpoint>)>>,
    ready: Condvar,
}

/// A witness's answer: the size of the checkpoint submitted, which witness, the outcome.
type Outcome = (u64, usize, Result<signed_note::Signature, SubmitError>);

/// The log's witnessing.
pub struct Witnessing {
    clients: Vec<Arc<WitnessClient>>,
    stats: Vec<Arc<WitnessStats>>,
    quorum: usize,
    wait: Duration,
    cosigned: RwLock<Option<Arc<SignedCheckpoint>>>,
    published: watch::Sender<u64>,
    stop: Arc<AtomicBool>,
    slots: Vec<Arc<Slot>>,
}

impl Witnessing {
    /// Checks the configuration, loads the last cosigned checkpoint from the log's store (if
    /// it still meets this configuration) and starts the threads.
    pub fn start(config: WitnessConfig, log: LogWatch) -> Result<Arc<Self>, StartError> {
        if config.witnesses.is_empty() {
            return Err(StartError::NoWitness);
        }
        if config.quorum == 0 || config.quorum > config.witnesses.len() {
            return Err(StartError::Quorum {
                quorum: config.quorum,
                witnesses: config.witnesses.len(),
            });
        }
        let mut clients = Vec::new();
        for (url, vkey) in &config.witnesses {
            let client = WitnessClient::new(url, vkey, config.timeout)?;
            if clients.iter().any(|c: &Arc<WitnessClient>| {
                c.verifier().public_key() == client.verifier().public_key()
                    || signed_note::Verifier::name(c.verifier())
                        == signed_note::Verifier::name(client.verifier())
            }) {
                return Err(StartError::Twice(vkey.clone()));
            }
            clients.push(Arc::new(client));
        }
        let stats: Vec<_> = clients
            .iter()
            .map(|_| Arc::new(WitnessStats::default()))
            .collect();
        let slots: Vec<_> = clients
            .iter()
            .map(|_| {
                Arc::new(Slot {
                    job: Mutex::new(None),
                    ready: Condvar::new(),
                })
            })
            .collect();
        let witnessing = Arc::new(Self {
            clients,
            stats,
            quorum: config.quorum,
            wait: config.wait,
            cosigned: RwLock::new(None),
            published: watch::channel(0).0,
            stop: Arc::new(AtomicBool::new(false)),
            slots,
        });
        if let Some(cp) = witnessing.load_cosigned(&log) {
            tracing::info!(size = cp.size, "serving the last cosigned checkpoint");
            // A stop between keeping it and publishing it left the object behind.
            if let Err(e) = log.store.publish(&cp) {
                tracing::warn!(error = %e, "could not publish the cosigned checkpoint");
            }
            witnessing.set_cosigned(Arc::new(cp));
        }
        let (results, outcomes) = mpsc::channel::<Outcome>();
        for (i, client) in witnessing.clients.iter().enumerate() {
            let client = client.clone();
            let slot = witnessing.slots[i].clone();
            let stats = witnessing.stats[i].clone();
            let stop = witnessing.stop.clone();
            let results = results.clone();
            let store = log.store.clone();
            std::thread::Builder::new()
                .name(format!("witness-{i}"))
                .spawn(move || worker(i, &client, &slot, &stats, &stop, &results, &*store))
                .map_err(StartError::Thread)?;
        }
        let coordinator = witnessing.clone();
        std::thread::Builder::new()
            .name("witnessing".into())
            .spawn(move || coordinator.coordinate(log, outcomes, config.timeout, config.refresh))
            .map_err(StartError::Thread)?;
        Ok(witnessing)
    }

    /// The cosigned checkpoint in the store, if it still verifies against the log and meets
    /// this configuration's quorum.
    fn load_cosigned(&self, log: &LogWatch) -> Option<SignedCheckpoint> {
        let bytes = log.store.meta(COSIGNED_META).ok().flatten()?;
        let cp = SignedCheckpoint::decode(&bytes)?;
        let latest = log.latest();
        if cp.size > latest.size || !log.signer.recognises(&cp) {
            return None;
        }
        let root = tree::root(cp.size, &StoreReader::new(&*log.store)).ok()?;
        (root == cp.root && self.count_cosignatures(&cp) >= self.quorum).then_some(cp)
    }

    /// How many configured witnesses validly cosigned `cp`.
    pub fn count_cosignatures(&self, cp: &SignedCheckpoint) -> usize {
        let verifiers: Vec<_> = self.clients.iter().map(|c| c.verifier().clone()).collect();
        crate::verify::count_cosignatures(&cp.note, &verifiers)
    }

    fn set_cosigned(&self, cp: Arc<SignedCheckpoint>) {
        let size = cp.size;
        *self.cosigned.write().unwrap_or_else(|p| p.into_inner()) = Some(cp);
        self.published.send_replace(size);
    }

    /// The latest checkpoint meeting the quorum, if any yet.
    pub fn cosigned(&self) -> Option<Arc<SignedCheckpoint>> {
        self.cosigned
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The quorum.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// The witnesses, with what the log knows of each.
    pub fn witnesses(&self) -> impl Iterator<Item = (&WitnessClient, &WitnessStats)> {
        self.clients
            .iter()
            .map(|c| &**c)
            .zip(self.stats.iter().map(|s| &**s))
    }

    /// Waits until a cosigned checkpoint covers entry `index`, for at most the configured
    /// wait; `None` when the quorum was not reached in time.
    pub async fn wait_for(&self, index: u64) -> Option<Arc<SignedCheckpoint>> {
        let mut rx = self.published.subscribe();
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            if let Some(cp) = self.cosigned().filter(|cp| cp.size > index) {
                return Some(cp);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    /// Stops the threads (they also stop when the log does).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for slot in &self.slots {
            let _guard = slot.job.lock().unwrap_or_else(|p| p.into_inner());
            slot.ready.notify_all();
        }
    }

    fn coordinate(
        &self,
        mut log: LogWatch,
        outcomes: mpsc::Receiver<Outcome>,
        timeout: Duration,
        refresh: Duration,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "witnessing cannot start");
                return;
            }
        };
        let mut round = 0u64;
        let mut published = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            let target = log.latest();
            let fresh = published.elapsed() < refresh;
            if fresh && self.cosigned().is_some_and(|cp| cp.size >= target.size) {
                // Nothing new: wait for the next checkpoint (or check the stop flag).
                let changed = runtime.block_on(async {
                    tokio::time::timeout(Duration::from_millis(500), log.published.changed()).await
                });
                if matches!(changed, Ok(Err(_))) {
                    break; // the sequencer stopped
                }
                continue;
            }
            // A round for a checkpoint already cosigned only refreshes its timestamps.
            let refreshing = self.cosigned().is_some_and(|cp| cp.size >= target.size);
            round += 1;
            for slot in &self.slots {
                *slot.job.lock().unwrap_or_else(|p| p.into_inner()) = Some((round, target.clone()));
                slot.ready.notify_all();
            }
            // A submission may take two requests (a 409 teaches the witness's size first).
            let deadline = Instant::now() + timeout * 2 + Duration::from_millis(500);
            let mut lines: Vec<(usize, signed_note::Signature)> = Vec::new();
            let mut failed = 0;
            while lines.len() < self.quorum && failed <= self.clients.len() - self.quorum {
                let left = deadline.saturating_duration_since(Instant::now());
                match outcomes.recv_timeout(left) {
                    // Answers are matched by checkpoint size: the log signs one root per size, so
                    // an earlier round's late answer for the same checkpoint counts too.
                    Ok((size, i, Ok(line))) if size == target.size => {
                        if !lines.iter().any(|(j, _)| *j == i) {
                            lines.push((i, line));
                        }
                    }
                    Ok((size, _, Err(_))) if size == target.size => failed += 1,
                    Ok(_) => {} // an answer about an older checkpoint
                    Err(_) => break,
                }
            }
            if lines.len() >= self.quorum {
                lines.sort_by_key(|(i, _)| *i);
                let mut note = target.note.clone();
                for (_, line) in &lines {
                    note.push_str(&String::from_utf8_lossy(&line.to_bytes()));
                }
                let cp = SignedCheckpoint {
                    size: target.size,
                    root: target.root,
                    note,
                };
                if let Err(e) = log.store.put_meta(COSIGNED_META, &cp.encode()) {
                    tracing::warn!(error = %e, "could not keep the cosigned checkpoint");
                }
                // The public `checkpoint` object: static readers see what the API serves.
                if let Err(e) = log.store.publish(&cp) {
                    tracing::warn!(error = %e, "could not publish the cosigned checkpoint");
                }
                tracing::debug!(
                    size = cp.size,
                    cosignatures = lines.len(),
                    "checkpoint cosigned"
                );
                self.set_cosigned(Arc::new(cp));
                published = Instant::now();
            } else if refreshing {
                // The served checkpoint stays valid; try again at the next refresh.
                tracing::info!(size = target.size, "refreshing the cosignatures failed");
                published = Instant::now();
            } else {
                tracing::warn!(
                    size = target.size,
                    cosignatures = lines.len(),
                    quorum = self.quorum,
                    "the witnesses' quorum was not reached; retrying"
                );
                // Do not hammer witnesses that are down; wake up early to stop, and stop with
                // the sequencer.
                if log.published.has_changed().is_err() {
                    break;
                }
                for _ in 0..10 {
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        self.shutdown();
    }
}

impl Drop for Witnessing {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn worker(
    i: usize,
    client: &WitnessClient,
    slot: &Slot,
    stats: &WitnessStats,
    stop: &AtomicBool,
    results: &mpsc::Sender<Outcome>,
    store: &dyn crate::log::Store,
) {
    let mut done = 0u64;
    loop {
        let (round, target) = {
            let mut job = slot.job.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                match &*job {
                    Some((r, cp)) if *r > done => break (*r, cp.clone()),
                    _ => {
                        job = slot
                            .ready
                            .wait_timeout(job, Duration::from_secs(1))
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                }
            }
        };
        done = round;
        let prove =
            |from: u64, to: u64| tree::consistency_proof(from, to, &StoreReader::new(store));
        let outcome = client.submit(&target, &prove);
        match &outcome {
            Ok((_, took)) => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                stats.cosigned.fetch_add(1, Ordering::Relaxed);
                stats.last_micros.store(micros, Ordering::Relaxed);
                stats.total_micros.fetch_add(micros, Ordering::Relaxed);
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            Err(e) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                let level_warn = !matches!(e, SubmitError::Unreachable(_));
                if level_warn {
                    tracing::warn!(witness = client.base(), size = target.size, error = %e, "witness refused the checkpoint");
                } else {
                    tracing::info!(witness = client.base(), size = target.size, error = %e, "witness unreachable");
                }
            }
        }
        if results
            .send((target.size, i, outcome.map(|(line, _)| line)))
            .is_err()
        {
            return;
        }
    }
}
