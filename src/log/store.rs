//! The storage trait under the log, as the sequencer and the readers see it.
//!
//! A store holds the entries, the stored hashes (c2sp.org/tlog-tiles order), the latest signed
//! checkpoint and a few secondary indexes that map a key to a leaf index. It is written only
//! through [`Store::commit`], which must make a whole [`Batch`] visible and durable at once:
//! after a crash a store shows either all of a batch or none of it. The one implementation,
//! [`super::tiled::TiledStore`], keeps the public part as objects and the rest in a state store.

use tlog_tiles::Hash;

use super::checkpoint::SignedCheckpoint;
use super::tiles::{bundle, TileKind, TilePath, TILE_HEIGHT};

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
    /// The checkpoint lock did not hold what the writer expected: another writer moved it.
    #[error("checkpoint lock conflict: {0}")]
    Conflict(String),
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
    /// Index keys this batch removes (expired ones: nonces past their window).
    pub removed_keys: Vec<IndexKey>,
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
    /// The bytes of the c2sp.org/tlog-tiles tile or bundle `path` in the tree of `size`
    /// leaves, or `None` if that tree does not have it.
    fn tile(&self, path: &TilePath, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        read_tile(self, path, size)
    }
    /// Publishes `checkpoint` as the log's public `checkpoint` object: on a witnessed log, the
    /// cosigned one (commits publish their own otherwise).
    fn publish(&self, _checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
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

/// The bytes of the tile at `path` in the tree of `size` leaves, or `None` if that tree does
/// not have that tile.
fn read_tile<S: Store + ?Sized>(
    store: &S,
    path: &TilePath,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((start, end)) = path.span(size) else {
        return Ok(None);
    };
    match path.kind {
        TileKind::Hash(l) => {
            let level = l * TILE_HEIGHT;
            let indexes: Vec<u64> = (start..end)
                .map(|i| tlog_tiles::stored_hash_index(level, i))
                .collect();
            let hashes = store.read_hashes(&indexes)?;
            Ok(Some(hashes.iter().flat_map(|h| h.0).collect()))
        }
        TileKind::Entries => Ok(Some(bundle(&store.entries(start, end)?))),
    }
}
