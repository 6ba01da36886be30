//! The storage trait under the log, and its in-memory twin for tests.
//!
//! A store holds the entries, the stored hashes (c2sp.org/tlog-tiles order), the latest signed
//! checkpoint and a few secondary indexes that map a key to a leaf index. It is written only
//! through [`Store::commit`], which must make a whole [`Batch`] visible and durable at once:
//! after a crash a store shows either all of a batch or none of it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tlog_tiles::Hash;

use super::checkpoint::SignedCheckpoint;

/// A storage failure. Messages are short and say what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store failed (I/O, full disk, corruption).
    #[error("storage failure while {action}: {detail}")]
    Backend {
        /// What the store was doing.
        action: &'static str,
        /// What the backend said.
        detail: String,
    },
    /// A record the store's own invariants say must exist is missing or malformed.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store was written in a layout this version does not read.
    #[error("unsupported store format: {0}")]
    Format(String),
}

/// A secondary index kept beside the entries, named by a one-byte tag. Each maps a key to a
/// leaf index. The engine owns [`Index::LEAF_HASH`]; what the other indexes mean, and how
/// their keys are laid out, belongs to the log's user (the ledger's `keys` module): to the
/// engine they are opaque bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Index(u8);

impl Index {
    /// RFC 9162 leaf hash → the (latest) leaf with that hash: kept by the sequencer.
    pub const LEAF_HASH: Index = Index(1);

    /// An index of the log's user, tagged `tag` (2 to 255; 0 and 1 are the engine's).
    pub const fn user(tag: u8) -> Index {
        assert!(tag >= 2, "index tags 0 and 1 are the engine's");
        Index(tag)
    }

    /// The one-byte tag stores use to keep indexes apart.
    pub fn tag(self) -> u8 {
        self.0
    }
}

/// A key in one of the secondary indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexKey {
    /// Which index.
    pub index: Index,
    /// The key's bytes.
    pub key: Vec<u8>,
}

impl IndexKey {
    /// A key in `index`.
    pub fn new(index: Index, key: impl Into<Vec<u8>>) -> Self {
        Self {
            index,
            key: key.into(),
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`; `None` when there is
/// none (an empty prefix, or one of `0xff` bytes only).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Everything one sequenced batch writes, committed atomically.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The index of `entries[0]` (the tree size before the batch).
    pub first_index: u64,
    /// The new entries, in order.
    pub entries: Vec<Vec<u8>>,
    /// The stored-hash index of `hashes[0]`.
    pub first_hash_index: u64,
    /// The new stored hashes, contiguous.
    pub hashes: Vec<Hash>,
    /// Secondary index keys, each pointing at a leaf index of this batch.
    pub index_keys: Vec<(IndexKey, u64)>,
    /// Data kept beside an entry but off the log (opaque bytes), by leaf index.
    pub sidecars: Vec<(u64, Vec<u8>)>,
    /// Earlier entries whose off-log data this batch deletes. Once the commit
    /// returns, nothing the store keeps may open that data again, even in files where a
    /// deleted value lingers: the sled store destroys the key it was sealed under.
    pub erased_sidecars: Vec<u64>,
    /// The checkpoint signed for the tree this batch produces.
    pub checkpoint: SignedCheckpoint,
}

/// Storage for the log. Implementations must be safe to read from many threads while the
/// sequencer commits.
pub trait Store: Send + Sync + 'static {
    /// The latest committed checkpoint, or `None` for a store never committed to.
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError>;
    /// The stored hashes at the given stored-hash indexes, all of which must exist.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;
    /// The entries with indexes in `start..end`, all of which must exist.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// The leaf index a secondary index key points to.
    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError>;
    /// The keys of `index` that start with `prefix`, in key order, with their leaf indexes;
    /// at most `limit` of them. With `after`, only the keys greater than `prefix ‖ after`: a
    /// seek, so that paging costs the page, not what precedes it.
    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError>;
    /// The greatest key of `index` that starts with `prefix`, with its leaf index.
    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError>;
    /// The off-log data kept beside entry `index`, in the clear, if any: `None` once erased.
    /// Stores may keep it encrypted; that is theirs to hide.
    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes the whole batch atomically and durably: when this returns `Ok`, the batch
    /// survives a crash. When it fails, the batch is not served unless [`Store::recover`]
    /// later finds it durable in the store.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// After a failed commit: checks that the store can write again and brings it back to its
    /// last durable state. Until this succeeds the sequencer accepts no write. Reads may keep
    /// being served while it fails.
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// A small value kept beside the log, not part of it (the last cosigned checkpoint).
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a value kept beside the log, durably.
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError>;
    /// How long the last successful [`Store::commit`] spent making the batch durable (the
    /// flush), if the store measures it.
    fn last_flush(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A store in memory, for unit tests and benchmarks of the core.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    checkpoint: Option<SignedCheckpoint>,
    entries: Vec<Vec<u8>>,
    hashes: Vec<Hash>,
    index: BTreeMap<(Index, Vec<u8>), u64>,
    sidecars: HashMap<u64, Vec<u8>>,
    meta: HashMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A poisoned lock means a panic mid-commit in a test; the data is still coherent
        // because commit mutates only after all checks.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        Ok(self.lock().checkpoint.clone())
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let inner = self.lock();
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| inner.hashes.get(i).copied())
                    .ok_or_else(|| StoreError::Corrupt(format!("missing stored hash {i}")))
            })
            .collect()
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let inner = self.lock();
        (start..end)
            .map(|i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| inner.entries.get(i).cloned())
                    .ok_or_else(|| StoreError::Corrupt(format!("missing entry {i}")))
            })
            .collect()
    }

    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
        Ok(self
            .lock()
            .index
            .get(&(key.index, key.key.clone()))
            .copied())
    }

    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        use std::ops::Bound;
        let start = match after {
            None => Bound::Included((index, prefix.to_vec())),
            Some(a) => Bound::Excluded((index, [prefix, a].concat())),
        };
        Ok(self
            .lock()
            .index
            .range((start, Bound::Unbounded))
            .take_while(|((i, k), _)| *i == index && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), *v))
            .collect())
    }

    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        use std::ops::Bound;
        let end = match prefix_end(prefix) {
            Some(end) => Bound::Excluded((index, end)),
            None => Bound::Unbounded,
        };
        Ok(self
            .lock()
            .index
            .range((Bound::Included((index, prefix.to_vec())), end))
            .next_back()
            .filter(|((i, k), _)| *i == index && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), *v)))
    }

    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().sidecars.get(&index).cloned())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().meta.get(name).cloned())
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().meta.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.entries.len() as u64 != batch.first_index
            || inner.hashes.len() as u64 != batch.first_hash_index
        {
            return Err(StoreError::Corrupt(format!(
                "batch at entry {} / hash {} does not follow a store of {} entries / {} hashes",
                batch.first_index,
                batch.first_hash_index,
                inner.entries.len(),
                inner.hashes.len()
            )));
        }
        inner.entries.extend(batch.entries.iter().cloned());
        inner.hashes.extend(batch.hashes.iter().copied());
        for (key, leaf) in &batch.index_keys {
            inner.index.insert((key.index, key.key.clone()), *leaf);
        }
        for (leaf, data) in &batch.sidecars {
            inner.sidecars.insert(*leaf, data.clone());
        }
        for leaf in &batch.erased_sidecars {
            inner.sidecars.remove(leaf);
        }
        inner.checkpoint = Some(batch.checkpoint.clone());
        Ok(())
    }
}
