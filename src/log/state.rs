//! The state store: what the log keeps that is not public. The secondary indexes, the private
//! sidecars (sealed at rest by the store), values kept beside the log, and the *checkpoint
//! lock*: the latest checkpoint, moved only by a compare-and-swap, so that the object store
//! under the public artifacts never needs a conditional write (as Sunlight's `LockBackend`).
//!
//! A [`StateBatch`] moves the lock and writes the batch's index keys and private records in
//! one atomic, durable step: it is the point at which a batch exists. Entries and hashes are
//! not here: they are the objects ([`super::objects`]), written before the lock moves
//! ([`super::tiled`] says in which order and why).
//!
//! [`MemoryState`] is the twin of the embedded default ([`super::sled_store::SledStore`]) for
//! tests; a PostgreSQL one fits the same trait (one transaction: `UPDATE … WHERE size = $old`
//! on the lock row, and the rows of the batch).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::checkpoint::SignedCheckpoint;
use super::store::{prefix_end, Index, IndexKey, StoreError};

/// What one batch changes in the state store, with the lock's move.
#[derive(Debug, Clone, Copy)]
pub struct StateBatch<'a> {
    /// The size of the checkpoint the lock must hold for the batch to apply (`None`: no
    /// checkpoint yet). Anything else is a [`StoreError::Conflict`] and nothing is written.
    pub expected: Option<u64>,
    /// Secondary index keys, each pointing at a leaf index of this batch.
    pub index_keys: &'a [(IndexKey, u64)],
    /// Data kept beside an entry but off the log (opaque bytes), by leaf index.
    pub sidecars: &'a [(u64, Vec<u8>)],
    /// Earlier entries whose off-log data this batch deletes, for good (see
    /// [`super::store::Batch::erased_sidecars`]).
    pub erased_sidecars: &'a [u64],
    /// Index keys this batch removes (expired ones: nonces past their window).
    pub removed_keys: &'a [IndexKey],
    /// The checkpoint the lock holds once the batch applies.
    pub checkpoint: &'a SignedCheckpoint,
}

/// Storage for the log's private state and its checkpoint lock. Safe to read from many
/// threads while one writer commits.
pub trait StateStore: Send + Sync + 'static {
    /// The checkpoint the lock holds, or `None` before the first batch.
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError>;
    /// The leaf index a secondary index key points to.
    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError>;
    /// The keys of `index` that start with `prefix`, in key order, at most `limit`, after
    /// `prefix ‖ after` when given (as [`super::Store::scan`]).
    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError>;
    /// The greatest key of `index` that starts with `prefix`, with its leaf index.
    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError>;
    /// The off-log data of entry `index`, in the clear; `None` if none or erased.
    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Applies `batch` atomically and durably if the lock holds `batch.expected`: when this
    /// returns `Ok`, the batch survives a power cut.
    fn commit(&self, batch: &StateBatch<'_>) -> Result<(), StoreError>;
    /// After a failed commit: brings the store back to its last durable state (see
    /// [`super::Store::recover`]).
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// A small value kept beside the log (the last cosigned checkpoint).
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a value kept beside the log, durably.
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError>;
    /// How long the last successful commit spent making itself durable, if measured.
    fn last_flush(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A shared store (a test reopens a log over the same state).
impl<T: StateStore + ?Sized> StateStore for std::sync::Arc<T> {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        (**self).checkpoint()
    }
    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
        (**self).lookup(key)
    }
    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        (**self).scan(index, prefix, after, limit)
    }
    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        (**self).last(index, prefix)
    }
    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).sidecar(index)
    }
    fn commit(&self, batch: &StateBatch<'_>) -> Result<(), StoreError> {
        (**self).commit(batch)
    }
    fn recover(&self) -> Result<(), StoreError> {
        (**self).recover()
    }
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).meta(name)
    }
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).put_meta(name, value)
    }
    fn last_flush(&self) -> Option<std::time::Duration> {
        (**self).last_flush()
    }
}

/// The state in memory, for tests.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    checkpoint: Option<SignedCheckpoint>,
    index: BTreeMap<(Index, Vec<u8>), u64>,
    sidecars: HashMap<u64, Vec<u8>>,
    meta: HashMap<String, Vec<u8>>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // Commit mutates only after its checks: a panic elsewhere leaves the data coherent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every index key with its leaf, in order (tests compare indexes with the bundles).
    pub fn index_keys(&self) -> Vec<(IndexKey, u64)> {
        self.lock()
            .index
            .iter()
            .map(|((index, key), leaf)| (IndexKey::new(*index, key.clone()), *leaf))
            .collect()
    }
}

impl StateStore for MemoryState {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        Ok(self.lock().checkpoint.clone())
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

    fn commit(&self, batch: &StateBatch<'_>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let held = inner.checkpoint.as_ref().map(|c| c.size);
        if held != batch.expected {
            return Err(StoreError::Conflict(format!(
                "the checkpoint lock holds {held:?}, the batch expected {:?}",
                batch.expected
            )));
        }
        for key in batch.removed_keys {
            inner.index.remove(&(key.index, key.key.clone()));
        }
        for (key, leaf) in batch.index_keys {
            inner.index.insert((key.index, key.key.clone()), *leaf);
        }
        for (leaf, data) in batch.sidecars {
            inner.sidecars.insert(*leaf, data.clone());
        }
        for leaf in batch.erased_sidecars {
            inner.sidecars.remove(leaf);
        }
        inner.checkpoint = Some(batch.checkpoint.clone());
        Ok(())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().meta.get(name).cloned())
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().meta.insert(name.to_owned(), value.to_vec());
        Ok(())
    }
}
