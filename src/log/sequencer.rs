//! The sequencer: the one thread that appends to the log.
//!
//! Callers queue an [`AppendRequest`] and wait. The sequencer takes the first waiting request,
//! gathers more until the batch holds `max_batch` entries or `max_wait` has passed, refuses the
//! requests whose unique keys are taken, integrates the rest into the tree, signs one checkpoint,
//! commits entries, hashes, index keys and checkpoint atomically and durably, and only then
//! publishes the checkpoint and answers every caller with its index. At low load a request waits
//! at most `max_wait` (0 by default) plus one flush; under load, requests queue during a flush
//! and the next batch takes them all at once, so batches, and throughput, grow with load.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tlog_tiles::Hash;
use tokio::sync::oneshot;

use super::checkpoint::{CheckpointError, LogSigner, SignedCheckpoint};
use super::store::{Batch, Index, IndexKey, Store, StoreError};
use super::tree::{self, StoreReader, TreeError};
use super::MAX_ENTRY_SIZE;

/// How the sequencer forms batches.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// A batch closes when it holds this many entries.
    pub max_batch: usize,
    /// ... or when this long has passed since its first entry arrived.
    pub max_wait: Duration,
    /// Requests that may wait for the sequencer before new ones are refused as overloaded.
    pub queue: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            // Measured (docs/BENCHMARKS.md; the reasoning in docs/design/sequencer.md):
            // lingering costs latency at low load and gains nothing under load, where
            // requests queue during each flush and form the next batch.
            max_wait: Duration::ZERO,
            queue: 65_536,
        }
    }
}

/// Told about each batch the sequencer commits, for metrics. Called on the sequencer thread:
/// implementations must be quick and must not block.
pub trait BatchObserver: Send + Sync + 'static {
    /// A batch was committed: its entries, the new tree size, the time spent integrating and
    /// signing, the time the store took to commit it durably (apply and flush), and of that
    /// the flush, if the store measures it.
    fn committed(
        &self,
        entries: usize,
        size: u64,
        integrate: Duration,
        commit: Duration,
        flush: Option<Duration>,
    );
    /// A batch could not be committed.
    fn failed(&self, entries: usize);
    /// Requests refused at admission (a unique key taken or a precondition failed).
    fn refused(&self, requests: usize);
}

/// An observer that ignores everything.
pub struct NoObserver;

impl BatchObserver for NoObserver {
    fn committed(&self, _: usize, _: u64, _: Duration, _: Duration, _: Option<Duration>) {}
    fn failed(&self, _: usize) {}
    fn refused(&self, _: usize) {}
}

/// One entry to append.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    /// The entry's bytes (the leaf data), at most [`MAX_ENTRY_SIZE`].
    pub entry: Vec<u8>,
    /// Index keys that must not be taken yet; the request is refused if one is.
    pub unique: Vec<IndexKey>,
    /// Further index keys to point at this entry (a later entry may take them over).
    pub index: Vec<IndexKey>,
    /// Index keys of one-to-many indexes: the sequencer appends the entry's index (8 bytes,
    /// big-endian) to each, so every entry gets its own key under the prefix.
    pub listed: Vec<IndexKey>,
    /// Data kept beside the entry, off the log (opaque bytes, sealed at rest).
    pub sidecar: Option<Vec<u8>>,
    /// Index keys that must not exist (in the store, or as unique keys of an earlier entry of
    /// the batch): a precondition, checked when the entry is sequenced. Not written.
    pub absent: Vec<IndexKey>,
    /// Earlier entries whose off-log data is deleted when this entry is committed.
    pub erase_sidecars: Vec<u64>,
}

/// An appended entry: its index and the first checkpoint that includes it.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The entry's index in the log.
    pub index: u64,
    /// The signed checkpoint of the batch that integrated it.
    pub checkpoint: Arc<SignedCheckpoint>,
}

/// Why an append was not acknowledged. For every variant but [`AppendError::Storage`], nothing
/// of the request was written. A storage failure after the store applied the batch may leave
/// the entry in the log, unacknowledged: it becomes visible with the next successful batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// The entry does not fit an entry bundle.
    #[error("entry of {0} bytes exceeds the {MAX_ENTRY_SIZE}-byte limit")]
    TooLarge(usize),
    /// A unique key is already taken.
    #[error("a unique {0:?} key is already taken")]
    Conflict(Index),
    /// Too many requests are waiting.
    #[error("the log's write queue is full")]
    Overloaded,
    /// The store failed; the batch was not committed.
    #[error("the store could not commit the batch: {0}")]
    Storage(String),
    /// The sequencer is not running.
    #[error("the sequencer has stopped")]
    Stopped,
}

impl From<TreeError> for AppendError {
    fn from(e: TreeError) -> Self {
        AppendError::Storage(e.to_string())
    }
}

impl From<StoreError> for AppendError {
    fn from(e: StoreError) -> Self {
        AppendError::Storage(e.to_string())
    }
}

impl From<CheckpointError> for AppendError {
    fn from(e: CheckpointError) -> Self {
        AppendError::Storage(e.to_string())
    }
}

/// Why the log could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored tree is not coherent.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The first checkpoint could not be signed.
    #[error(transparent)]
    Sign(#[from] CheckpointError),
    /// The stored checkpoint was not signed by this key for this origin.
    #[error("the data directory holds a log whose checkpoint was not signed by key {vkey} for origin {origin:?}; use that log's key and origin, or another data directory")]
    ForeignLog {
        /// The key in use.
        vkey: String,
        /// The origin in use.
        origin: String,
    },
    /// The stored hashes do not give the stored checkpoint's root.
    #[error("the stored hashes do not match the stored checkpoint at size {0}")]
    RootMismatch(u64),
}

/// How often a degraded sequencer retries recovering the store when no write arrives.
const RECOVERY_RETRY: Duration = Duration::from_secs(1);

/// Clears the running flag when the sequencer thread ends, by return or by panic.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// A handle on the running log: append through the sequencer, read the latest checkpoint and
/// the store. Cheap to clone; the sequencer thread stops when the last handle is dropped.
#[derive(Clone)]
pub struct Sequencer {
    tx: SyncSender<Job>,
    latest: Arc<RwLock<Arc<SignedCheckpoint>>>,
    store: Arc<dyn Store>,
    signer: Arc<LogSigner>,
    /// Requests queued and not yet taken by the sequencer.
    queued: Arc<AtomicUsize>,
    /// False once the sequencer thread has stopped.
    running: Arc<AtomicBool>,
    /// True while a failed commit awaits the store's recovery.
    degraded: Arc<AtomicBool>,
    /// The size of each checkpoint published, for watchers.
    published: Arc<tokio::sync::watch::Sender<u64>>,
    /// Index keys to remove with the next batch ([`Sequencer::forget`]).
    forgotten: Arc<Mutex<HashSet<IndexKey>>>,
}

/// What a batch changes beside its entries: the sidecars it writes, those it erases, the index
/// keys it removes.
type OffLog = (Vec<(u64, Vec<u8>)>, Vec<u64>, Vec<IndexKey>);

/// A view of the log that follows its published checkpoints without keeping the sequencer
/// alive (the witnessing threads hold one).
pub struct LogWatch {
    /// The latest published checkpoint.
    latest: Arc<RwLock<Arc<SignedCheckpoint>>>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The log's key.
    pub signer: Arc<LogSigner>,
    /// Changes with every checkpoint published; closed when the sequencer stops.
    pub published: tokio::sync::watch::Receiver<u64>,
}

impl LogWatch {
    /// The latest published checkpoint.
    pub fn latest(&self) -> Arc<SignedCheckpoint> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Sequencer {
    /// Recovers the log from `store` (signing the empty tree on first start) and starts the
    /// sequencer thread.
    pub fn start(
        store: Arc<dyn Store>,
        signer: LogSigner,
        config: SequencerConfig,
    ) -> Result<(Self, JoinHandle<()>), StartError> {
        Self::start_observed(store, signer, config, Arc::new(NoObserver))
    }

    /// [`Sequencer::start`], telling `observer` about every batch.
    pub fn start_observed(
        store: Arc<dyn Store>,
        signer: LogSigner,
        config: SequencerConfig,
        observer: Arc<dyn BatchObserver>,
    ) -> Result<(Self, JoinHandle<()>), StartError> {
        let checkpoint = match store.checkpoint()? {
            Some(cp) => {
                if !signer.recognises(&cp) {
                    return Err(StartError::ForeignLog {
                        vkey: signer.vkey().to_owned(),
                        origin: signer.origin().to_owned(),
                    });
                }
                let root = tree::root(cp.size, &StoreReader::new(&*store))?;
                if root != cp.root {
                    return Err(StartError::RootMismatch(cp.size));
                }
                cp
            }
            None => {
                let cp = signer.sign(0, tlog_tiles::EMPTY_HASH)?;
                store.commit(&Batch {
                    first_index: 0,
                    entries: Vec::new(),
                    first_hash_index: 0,
                    hashes: Vec::new(),
                    index_keys: Vec::new(),
                    sidecars: Vec::new(),
                    erased_sidecars: Vec::new(),
                    removed_keys: Vec::new(),
                    checkpoint: cp.clone(),
                })?;
                cp
            }
        };
        let config = SequencerConfig {
            max_batch: config.max_batch.max(1),
            queue: config.queue.max(1),
            ..config
        };
        let (tx, rx) = mpsc::sync_channel(config.queue);
        let latest = Arc::new(RwLock::new(Arc::new(checkpoint.clone())));
        let signer = Arc::new(signer);
        let queued = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicBool::new(true));
        let degraded = Arc::new(AtomicBool::new(false));
        let published = Arc::new(tokio::sync::watch::channel(checkpoint.size).0);
        let forgotten = Arc::new(Mutex::new(HashSet::new()));
        let worker = Worker {
            forgotten: forgotten.clone(),
            published: published.clone(),
            store: store.clone(),
            signer: signer.clone(),
            latest: latest.clone(),
            size: checkpoint.size,
            config,
            degraded: false,
            observer,
            queued: queued.clone(),
            running: running.clone(),
            degraded_flag: degraded.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| StoreError::Backend {
                action: "starting the sequencer",
                detail: e.to_string(),
            })?;
        Ok((
            Self {
                tx,
                latest,
                store,
                signer,
                queued,
                running,
                degraded,
                published,
                forgotten,
            },
            thread,
        ))
    }

    /// Index keys the log no longer needs (nonces past their freshness window): removed from
    /// the indexes with the next batch, atomically with it. Until then they still count.
    pub fn forget(&self, keys: impl IntoIterator<Item = IndexKey>) {
        self.forgotten
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(keys);
    }

    /// Appends one entry and waits until it is durable and covered by a signed checkpoint.
    pub async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        if request.entry.len() > MAX_ENTRY_SIZE {
            return Err(AppendError::TooLarge(request.entry.len()));
        }
        let (reply, answer) = oneshot::channel();
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(Job { request, reply }) {
            Ok(()) => {}
            Err(e) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(match e {
                    TrySendError::Full(_) => AppendError::Overloaded,
                    TrySendError::Disconnected(_) => AppendError::Stopped,
                });
            }
        }
        answer.await.unwrap_or(Err(AppendError::Stopped))
    }

    /// A view following the published checkpoints, which does not keep the sequencer alive.
    pub fn watch(&self) -> LogWatch {
        LogWatch {
            latest: self.latest.clone(),
            store: self.store.clone(),
            signer: self.signer.clone(),
            published: self.published.subscribe(),
        }
    }

    /// The latest signed checkpoint: every entry below its size is durable.
    pub fn latest(&self) -> Arc<SignedCheckpoint> {
        // A poisoned lock still holds a whole Arc: the writer only ever swaps it.
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Requests waiting for the sequencer.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether the sequencer thread is running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Whether the log refuses writes until the store recovers from a failed commit.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The store, for reads.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The log's signing identity.
    pub fn signer(&self) -> &LogSigner {
        &self.signer
    }
}

struct Worker {
    published: Arc<tokio::sync::watch::Sender<u64>>,
    store: Arc<dyn Store>,
    signer: Arc<LogSigner>,
    latest: Arc<RwLock<Arc<SignedCheckpoint>>>,
    size: u64,
    config: SequencerConfig,
    /// A commit failed and the store has not recovered yet: no write is taken.
    degraded: bool,
    observer: Arc<dyn BatchObserver>,
    queued: Arc<AtomicUsize>,
    running: Arc<AtomicBool>,
    degraded_flag: Arc<AtomicBool>,
    forgotten: Arc<Mutex<HashSet<IndexKey>>>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Job>) {
        // `running` turns false however the thread ends, a panic included.
        let _running = RunningGuard(self.running.clone());
        loop {
            let first = if self.degraded {
                // While degraded, retry recovery every second even with no write coming, so
                // that readiness comes back by itself once the store can write again.
                match rx.recv_timeout(RECOVERY_RETRY) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(e) = self.recover() {
                            tracing::debug!(error = %e, "the store has not recovered yet");
                        }
                        self.degraded_flag.store(self.degraded, Ordering::Relaxed);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            };
            let mut jobs = vec![first];
            let deadline = Instant::now() + self.config.max_wait;
            while jobs.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        match rx.recv_timeout(deadline - now) {
                            Ok(job) => jobs.push(job),
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break
                            }
                        }
                    }
                }
            }
            self.queued.fetch_sub(jobs.len(), Ordering::Relaxed);
            self.process(jobs);
            self.degraded_flag.store(self.degraded, Ordering::Relaxed);
        }
        tracing::info!(size = self.size, "sequencer stopped");
    }

    /// Refuses the jobs whose unique keys are taken (in the store or earlier in the batch).
    fn admit(&self, jobs: Vec<Job>) -> Vec<Job> {
        let mut taken: HashSet<&IndexKey> = HashSet::new();
        let mut verdicts = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let mut verdict = Ok(());
            for key in job.request.absent.iter().chain(&job.request.unique) {
                if taken.contains(key) {
                    verdict = Err(AppendError::Conflict(key.index));
                    break;
                }
                match self.store.lookup(key) {
                    Ok(None) => {}
                    Ok(Some(_)) => {
                        verdict = Err(AppendError::Conflict(key.index));
                        break;
                    }
                    Err(e) => {
                        verdict = Err(e.into());
                        break;
                    }
                }
            }
            if verdict.is_ok() {
                taken.extend(job.request.unique.iter());
            }
            verdicts.push(verdict);
        }
        jobs.into_iter()
            .zip(verdicts)
            .filter_map(|(job, verdict)| match verdict {
                Ok(()) => Some(job),
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    None
                }
            })
            .collect()
    }

    fn process(&mut self, jobs: Vec<Job>) {
        if self.degraded {
            if let Err(e) = self.recover() {
                tracing::warn!(error = %e, "the store has not recovered; refusing the batch");
                for job in jobs {
                    let _ = job.reply.send(Err(AppendError::Storage(e.to_string())));
                }
                return;
            }
        }
        let asked = jobs.len();
        let jobs = self.admit(jobs);
        if jobs.len() < asked {
            self.observer.refused(asked - jobs.len());
        }
        if jobs.is_empty() {
            return;
        }
        let started = Instant::now();
        let first_index = self.size;
        let mut entries = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut index_keys = Vec::with_capacity(jobs.len() * 2);
        let mut leaf_hashes: Vec<Hash> = Vec::with_capacity(jobs.len());
        let mut sidecars = Vec::new();
        let mut erased_sidecars = Vec::new();
        for (k, job) in jobs.into_iter().enumerate() {
            let leaf = first_index + k as u64;
            let hash = tlog_tiles::record_hash(&job.request.entry);
            leaf_hashes.push(hash);
            index_keys.push((IndexKey::new(Index::LEAF_HASH, hash.0.to_vec()), leaf));
            for key in job.request.unique.into_iter().chain(job.request.index) {
                index_keys.push((key, leaf));
            }
            for mut key in job.request.listed {
                key.key.extend_from_slice(&leaf.to_be_bytes());
                index_keys.push((key, leaf));
            }
            if let Some(data) = job.request.sidecar {
                sidecars.push((leaf, data));
            }
            erased_sidecars.extend(job.request.erase_sidecars);
            entries.push(job.request.entry);
            replies.push(job.reply);
        }
        let count = entries.len();
        let removed_keys: Vec<IndexKey> = self
            .forgotten
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            // A key this batch writes again stays.
            .filter(|k| !index_keys.iter().any(|(taken, _)| taken == k))
            .collect();
        let committed = self.commit(
            first_index,
            entries,
            leaf_hashes,
            index_keys,
            (sidecars, erased_sidecars, removed_keys),
        );
        match committed {
            Ok((checkpoint, integrate, commit)) => {
                self.observer.committed(
                    count,
                    checkpoint.size,
                    integrate,
                    commit,
                    self.store.last_flush(),
                );
                self.size = checkpoint.size;
                let checkpoint = Arc::new(checkpoint);
                *self.latest.write().unwrap_or_else(|p| p.into_inner()) = checkpoint.clone();
                self.published.send_replace(checkpoint.size);
                tracing::debug!(
                    entries = count,
                    size = self.size,
                    micros = started.elapsed().as_micros() as u64,
                    "batch committed"
                );
                for (k, reply) in replies.into_iter().enumerate() {
                    let _ = reply.send(Ok(Appended {
                        index: first_index + k as u64,
                        checkpoint: checkpoint.clone(),
                    }));
                }
            }
            Err(e) => {
                self.observer.failed(count);
                tracing::error!(error = %e, entries = count, "batch not committed");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                self.degraded = true;
                // Recover at once if the store can (and, for sled, so that reads work again).
                if let Err(e) = self.recover() {
                    tracing::warn!(error = %e, "the store has not recovered yet");
                }
            }
        }
    }

    fn commit(
        &self,
        first_index: u64,
        entries: Vec<Vec<u8>>,
        leaf_hashes: Vec<Hash>,
        index_keys: Vec<(IndexKey, u64)>,
        (sidecars, erased_sidecars, removed_keys): OffLog,
    ) -> Result<(SignedCheckpoint, Duration, Duration), AppendError> {
        let started = Instant::now();
        let reader = StoreReader::new(&*self.store);
        let integration = tree::integrate(first_index, &leaf_hashes, &reader)?;
        let checkpoint = self.signer.sign(integration.new_size, integration.root)?;
        let batch = Batch {
            first_index,
            entries,
            first_hash_index: integration.first_hash_index,
            hashes: integration.hashes,
            index_keys,
            sidecars,
            erased_sidecars,
            removed_keys,
            checkpoint,
        };
        let integrated = Instant::now();
        self.store.commit(&batch)?;
        Ok((batch.checkpoint, integrated - started, integrated.elapsed()))
    }

    /// After a failed commit: has the store recover (it checks that it can write again and
    /// returns to its last durable state), then takes its word for where the tree stands, so
    /// that the next batch continues it. A checkpoint is published here only if the recovered
    /// store holds a newer one, which recovery has just shown to be durable: a batch the store
    /// applied but could not flush is never served before that.
    fn recover(&mut self) -> Result<(), StoreError> {
        self.store.recover()?;
        let cp = self
            .store
            .checkpoint()?
            .ok_or_else(|| StoreError::Corrupt("no checkpoint after recovery".into()))?;
        let published = self.latest().size;
        if cp.size < published {
            return Err(StoreError::Corrupt(format!(
                "the recovered store is at size {}, behind the published checkpoint {published}",
                cp.size
            )));
        }
        if cp.size != self.size {
            tracing::warn!(
                from = self.size,
                to = cp.size,
                "continuing from the recovered store"
            );
        }
        self.size = cp.size;
        if cp.size > published {
            let size = cp.size;
            *self.latest.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(cp);
            self.published.send_replace(size);
        }
        self.degraded = false;
        tracing::info!(size = self.size, "the store recovered; taking writes again");
        Ok(())
    }

    fn latest(&self) -> Arc<SignedCheckpoint> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;

    /// Two user indexes: a unique key, and one a precondition checks.
    const KEY_INDEX: Index = Index::user(3);
    const ENDED_INDEX: Index = Index::user(13);
    use crate::log::MemoryStore;

    const OK: u8 = 0;
    const FAIL_BEFORE_APPLY: u8 = 1;
    const FAIL_AFTER_APPLY: u8 = 2;

    /// A store whose commits fail on demand: before writing anything, or after applying the
    /// batch (as when sled applies a batch but `flush()` fails).
    struct FlakyStore {
        inner: MemoryStore,
        mode: AtomicU8,
    }

    impl Store for FlakyStore {
        fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
            self.inner.checkpoint()
        }
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
            self.inner.read_hashes(indexes)
        }
        fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
            self.inner.entries(start, end)
        }
        fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
            self.inner.lookup(key)
        }
        fn scan(
            &self,
            index: Index,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
            self.inner.scan(index, prefix, after, limit)
        }
        fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
            self.inner.last(index, prefix)
        }
        fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.sidecar(index)
        }
        fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.meta(name)
        }
        fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
            self.inner.put_meta(name, value)
        }
        fn recover(&self) -> Result<(), StoreError> {
            match self.mode.load(Ordering::SeqCst) {
                OK => Ok(()),
                _ => Err(StoreError::Backend {
                    action: "recovering",
                    detail: "disk still full".into(),
                }),
            }
        }
        fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
            let failure = StoreError::Backend {
                action: "flushing a batch",
                detail: "disk full".into(),
            };
            match self.mode.load(Ordering::SeqCst) {
                FAIL_BEFORE_APPLY => Err(failure),
                FAIL_AFTER_APPLY => {
                    self.inner.commit(batch)?;
                    Err(failure)
                }
                _ => self.inner.commit(batch),
            }
        }
    }

    fn entry(s: &str) -> AppendRequest {
        AppendRequest {
            entry: s.as_bytes().to_vec(),
            ..AppendRequest::default()
        }
    }

    #[tokio::test]
    async fn a_failed_commit_is_not_acknowledged_nor_published() {
        let store = Arc::new(FlakyStore {
            inner: MemoryStore::new(),
            mode: AtomicU8::new(OK),
        });
        let (skey, _) = LogSigner::generate("test/log").unwrap();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let (log, _thread) =
            Sequencer::start(store.clone(), signer, SequencerConfig::default()).unwrap();
        assert_eq!(log.append(entry("a")).await.unwrap().index, 0);
        let after_a = log.latest();

        // Applied but not flushed: not acknowledged, and its checkpoint is not published
        // while the store cannot recover.
        store.mode.store(FAIL_AFTER_APPLY, Ordering::SeqCst);
        assert!(matches!(
            log.append(entry("c")).await,
            Err(AppendError::Storage(_))
        ));
        assert_eq!(store.checkpoint().unwrap().unwrap().size, 2);
        assert_eq!(log.latest(), after_a);

        // While the store has not recovered, nothing is written at all.
        store.mode.store(FAIL_BEFORE_APPLY, Ordering::SeqCst);
        assert!(matches!(
            log.append(entry("b")).await,
            Err(AppendError::Storage(_))
        ));
        assert_eq!(log.latest(), after_a);
        assert_eq!(store.checkpoint().unwrap().unwrap().size, 2);

        // Once it recovers, the next batch continues after the applied one and publishes a
        // checkpoint covering both.
        store.mode.store(OK, Ordering::SeqCst);
        let d = log.append(entry("d")).await.unwrap();
        assert_eq!(d.index, 2);
        assert_eq!(d.checkpoint.size, 3);
        assert_eq!(log.latest().size, 3);
        assert_eq!(
            store.entries(0, 3).unwrap(),
            vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[tokio::test]
    async fn oversized_entries_and_taken_keys_are_refused() {
        let (skey, _) = LogSigner::generate("test/log").unwrap();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let store = Arc::new(MemoryStore::new());
        let (log, _thread) =
            Sequencer::start(store.clone(), signer, SequencerConfig::default()).unwrap();
        let big = AppendRequest {
            entry: vec![0; MAX_ENTRY_SIZE + 1],
            ..AppendRequest::default()
        };
        assert!(matches!(
            log.append(big).await,
            Err(AppendError::TooLarge(_))
        ));
        let key = IndexKey::new(KEY_INDEX, vec![1; 32]);
        let with_key = |s: &str| AppendRequest {
            entry: s.as_bytes().to_vec(),
            unique: vec![key.clone()],
            ..AppendRequest::default()
        };
        assert_eq!(log.append(with_key("first")).await.unwrap().index, 0);
        assert!(matches!(
            log.append(with_key("second")).await,
            Err(AppendError::Conflict(KEY_INDEX))
        ));
        assert_eq!(log.latest().size, 1);
        assert_eq!(store.lookup(&key).unwrap(), Some(0));
    }

    #[tokio::test]
    async fn preconditions_hold_within_a_batch_and_erasures_delete_sidecars() {
        let (skey, _) = LogSigner::generate("test/log").unwrap();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let store = Arc::new(MemoryStore::new());
        let (log, thread) =
            Sequencer::start(store.clone(), signer, SequencerConfig::default()).unwrap();
        let consent = log
            .append(AppendRequest {
                entry: b"consent".to_vec(),
                sidecar: Some(b"record".to_vec()),
                ..AppendRequest::default()
            })
            .await
            .unwrap();
        drop(log);
        thread.join().unwrap();
        // Then batches of exactly three: the three requests below share one, whatever the
        // timing (a minute's linger is only a liveness deadline).
        let config = SequencerConfig {
            max_batch: 3,
            max_wait: Duration::from_secs(60),
            ..SequencerConfig::default()
        };
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let (log, _thread) = Sequencer::start(store.clone(), signer, config).unwrap();
        let ended = IndexKey::new(ENDED_INDEX, vec![7; 16]);
        assert_eq!(store.sidecar(0).unwrap(), Some(b"record".to_vec()));
        let access = |s: &str| AppendRequest {
            entry: s.as_bytes().to_vec(),
            absent: vec![ended.clone()],
            ..AppendRequest::default()
        };
        let withdrawal = AppendRequest {
            entry: b"withdrawal".to_vec(),
            unique: vec![ended.clone()],
            erase_sidecars: vec![consent.index],
            ..AppendRequest::default()
        };
        // `join!` polls them in order, and each is queued at its first poll: this order.
        let (before, end, after) = tokio::join!(
            log.append(access("before")),
            log.append(withdrawal),
            log.append(access("after"))
        );
        let (before, end) = (before.unwrap(), end.unwrap());
        assert_eq!(before.checkpoint.size, end.checkpoint.size, "one batch");
        assert!(matches!(after, Err(AppendError::Conflict(ENDED_INDEX))));
        // The absent key was only checked, never written, by the first access.
        assert_eq!(store.lookup(&ended).unwrap(), Some(end.index));
        assert_eq!(store.sidecar(consent.index).unwrap(), None);
        // Later accesses too (three, to fill a batch), once the withdrawal is in the store.
        let later = tokio::join!(
            log.append(access("later 1")),
            log.append(access("later 2")),
            log.append(access("later 3"))
        );
        for refused in [later.0, later.1, later.2] {
            assert!(matches!(refused, Err(AppendError::Conflict(ENDED_INDEX))));
        }
        assert_eq!(log.latest().size, 3);
    }

    /// A store that loses, at a crash, every batch it has not flushed: `volatile` is what
    /// readers see once a batch is applied, `durable` what survives. With a gate, a commit
    /// applies its batch, says so, and waits to be told whether the flush happens (`true`) or
    /// the process dies first (`false`).
    struct CrashStore {
        volatile: MemoryStore,
        durable: Arc<MemoryStore>,
        gate: std::sync::Mutex<Option<Gate>>,
    }

    struct Gate {
        applied: mpsc::Sender<u64>,
        flush: mpsc::Receiver<bool>,
    }

    impl Store for CrashStore {
        fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
            self.volatile.checkpoint()
        }
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
            self.volatile.read_hashes(indexes)
        }
        fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
            self.volatile.entries(start, end)
        }
        fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
            self.volatile.lookup(key)
        }
        fn scan(
            &self,
            index: Index,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
            self.volatile.scan(index, prefix, after, limit)
        }
        fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
            self.volatile.last(index, prefix)
        }
        fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
            self.volatile.sidecar(index)
        }
        fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.volatile.meta(name)
        }
        fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
            self.volatile.put_meta(name, value)
        }
        fn recover(&self) -> Result<(), StoreError> {
            // After a crash, this process is gone: only a restart on `durable` goes on.
            Err(StoreError::Backend {
                action: "recovering",
                detail: "the process died".into(),
            })
        }
        fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
            self.volatile.commit(batch)?;
            if let Some(gate) = self.gate.lock().unwrap().as_ref() {
                gate.applied.send(batch.checkpoint.size).unwrap();
                if !gate.flush.recv().unwrap() {
                    return Err(StoreError::Backend {
                        action: "flushing",
                        detail: "the process died before the flush".into(),
                    });
                }
            }
            self.durable.commit(batch)
        }
    }

    /// A log over a crash store, with a gate the test holds.
    fn gated() -> (
        Arc<CrashStore>,
        mpsc::Receiver<u64>,
        mpsc::Sender<bool>,
        String,
    ) {
        let (skey, _) = LogSigner::generate("test/log").unwrap();
        let store = Arc::new(CrashStore {
            volatile: MemoryStore::new(),
            durable: Arc::new(MemoryStore::new()),
            gate: std::sync::Mutex::new(None),
        });
        let (applied_tx, applied) = mpsc::channel();
        let (flush, flush_rx) = mpsc::channel();
        *store.gate.lock().unwrap() = Some(Gate {
            applied: applied_tx,
            flush: flush_rx,
        });
        (store, applied, flush, skey)
    }

    /// Waits for the store to say it applied a batch (a liveness deadline).
    async fn wait_applied(applied: &mpsc::Receiver<u64>) -> u64 {
        tokio::task::block_in_place(|| applied.recv_timeout(Duration::from_secs(60)).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_answered_or_published_before_the_flush_and_a_crash_keeps_every_acknowledged_entry(
    ) {
        let (store, applied, flush, skey) = gated();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        // The empty tree's first checkpoint is committed (and flushed) at start.
        let start = tokio::task::spawn_blocking({
            let store = store.clone();
            move || Sequencer::start(store, signer, SequencerConfig::default())
        });
        assert_eq!(wait_applied(&applied).await, 0);
        flush.send(true).unwrap();
        let (log, _thread) = start.await.unwrap().unwrap();

        // Two entries, each acknowledged only after its flush.
        let mut acknowledged = Vec::new();
        for name in ["a", "b"] {
            let append = tokio::spawn({
                let log = log.clone();
                async move { log.append(entry(name)).await }
            });
            let size = wait_applied(&applied).await;
            assert_eq!(log.latest().size, size - 1, "published before the flush");
            let early = tokio::time::timeout(Duration::from_millis(50), async {
                while !append.is_finished() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert!(early.is_err(), "answered before the flush");
            flush.send(true).unwrap();
            let appended = append.await.unwrap().unwrap();
            assert_eq!(log.latest().size, size);
            acknowledged.push((appended.index, name));
        }

        // The third is applied, and the process dies before its flush: no acknowledgment.
        let append = tokio::spawn({
            let log = log.clone();
            async move { log.append(entry("c")).await }
        });
        assert_eq!(wait_applied(&applied).await, 3);
        assert_eq!(log.latest().size, 2);
        flush.send(false).unwrap();
        assert!(matches!(
            append.await.unwrap(),
            Err(AppendError::Storage(_))
        ));
        assert_eq!(
            log.latest().size,
            2,
            "an unflushed batch is never published"
        );

        // Restart on what survived: every acknowledged entry, nothing of the lost batch.
        let survivor = store.durable.clone();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let (log, _thread) =
            Sequencer::start(survivor.clone(), signer, SequencerConfig::default()).unwrap();
        assert_eq!(log.latest().size, 2);
        for (index, name) in acknowledged {
            assert_eq!(
                survivor.entries(index, index + 1).unwrap(),
                vec![name.as_bytes().to_vec()]
            );
        }
        // The log goes on from there.
        assert_eq!(log.append(entry("c")).await.unwrap().index, 2);
    }
}
