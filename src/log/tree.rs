//! Pure tree math over stored hashes (RFC 9162 §2.1, the stored-hash order of Crosby and
//! Wallach used by c2sp.org/tlog-tiles): integrating a batch of leaves, tree hashes and the
//! inclusion and consistency proofs. Everything reads hashes through `tlog_tiles::HashReader`.

use std::cell::RefCell;

use tlog_tiles::{Hash, HashReader};

use super::store::{Store, StoreError};

/// What can go wrong computing over the tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An index, size or range does not fit the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The hash arithmetic failed (a corrupt store or a bug).
    #[error("tree arithmetic: {0}")]
    Tlog(String),
}

/// The result of appending leaves to a tree: the new stored hashes, contiguous from
/// `first_hash_index`, and the new root.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The size of the tree before the batch (= the index of its first leaf).
    pub old_size: u64,
    /// The size after the batch.
    pub new_size: u64,
    /// The stored-hash index of `hashes[0]`.
    pub first_hash_index: u64,
    /// The stored hashes the batch adds, in stored-hash order.
    pub hashes: Vec<Hash>,
    /// The tree hash at `new_size`.
    pub root: Hash,
}

/// Reads stored hashes from a [`Store`], keeping the store's own error for the caller
/// (`tlog_tiles` only knows its own error type).
pub struct StoreReader<'a, S: Store + ?Sized> {
    store: &'a S,
    failure: RefCell<Option<StoreError>>,
}

impl<'a, S: Store + ?Sized> StoreReader<'a, S> {
    /// A reader over `store`.
    pub fn new(store: &'a S) -> Self {
        Self {
            store,
            failure: RefCell::new(None),
        }
    }

    /// Turns a `tlog_tiles` error into ours, preferring the store error that caused it.
    fn error(&self, e: tlog_tiles::Error) -> TreeError {
        match self.failure.borrow_mut().take() {
            Some(store) => TreeError::Store(store),
            None => match e {
                tlog_tiles::Error::InvalidInput(m) => TreeError::OutOfRange(m),
                other => TreeError::Tlog(other.to_string()),
            },
        }
    }
}

impl<S: Store + ?Sized> HashReader for StoreReader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.store.read_hashes(indexes).map_err(|e| {
            let message = e.to_string();
            *self.failure.borrow_mut() = Some(e);
            tlog_tiles::Error::InvalidInput(message)
        })
    }
}

/// Hashes written by the batch being integrated, in front of the stored ones.
struct Overlay<'a, R: HashReader> {
    base: u64,
    new: &'a [Hash],
    under: &'a R,
}

impl<R: HashReader> HashReader for Overlay<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let old: Vec<u64> = indexes.iter().copied().filter(|&i| i < self.base).collect();
        let mut old = if old.is_empty() {
            Vec::new()
        } else {
            self.under.read_hashes(&old)?
        }
        .into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < self.base {
                    old.next().ok_or(tlog_tiles::Error::IndexesNotInTree)
                } else {
                    usize::try_from(i - self.base)
                        .ok()
                        .and_then(|k| self.new.get(k).copied())
                        .ok_or(tlog_tiles::Error::IndexesNotInTree)
                }
            })
            .collect()
    }
}

/// Appends the leaves with the given leaf hashes to a tree of `old_size` leaves whose stored
/// hashes `reader` serves, and returns the stored hashes to write and the new root.
pub fn integrate<S: Store + ?Sized>(
    old_size: u64,
    leaf_hashes: &[Hash],
    reader: &StoreReader<'_, S>,
) -> Result<Integration, TreeError> {
    let first_hash_index = tlog_tiles::stored_hash_index(0, old_size);
    let mut hashes: Vec<Hash> = Vec::with_capacity(leaf_hashes.len() * 2 + 8);
    for (k, leaf) in leaf_hashes.iter().enumerate() {
        let n = old_size + k as u64;
        let overlay = Overlay {
            base: first_hash_index,
            new: &hashes,
            under: reader,
        };
        let added = tlog_tiles::stored_hashes_for_record_hash(n, *leaf, &overlay)
            .map_err(|e| reader.error(e))?;
        hashes.extend(added);
    }
    let new_size = old_size + leaf_hashes.len() as u64;
    let overlay = Overlay {
        base: first_hash_index,
        new: &hashes,
        under: reader,
    };
    let root = tlog_tiles::tree_hash(new_size, &overlay).map_err(|e| reader.error(e))?;
    Ok(Integration {
        old_size,
        new_size,
        first_hash_index,
        hashes,
        root,
    })
}

/// The tree hash (root) of the first `size` leaves.
pub fn root<S: Store + ?Sized>(size: u64, reader: &StoreReader<'_, S>) -> Result<Hash, TreeError> {
    tlog_tiles::tree_hash(size, reader).map_err(|e| reader.error(e))
}

/// The RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: Store + ?Sized>(
    index: u64,
    size: u64,
    reader: &StoreReader<'_, S>,
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::OutOfRange(format!(
            "index {index} is not in a tree of size {size}"
        )));
    }
    tlog_tiles::prove_record(size, index, reader).map_err(|e| reader.error(e))
}

/// The RFC 9162 consistency proof from the tree of `from` leaves to the tree of `to` leaves.
pub fn consistency_proof<S: Store + ?Sized>(
    from: u64,
    to: u64,
    reader: &StoreReader<'_, S>,
) -> Result<Vec<Hash>, TreeError> {
    if from == 0 || from > to {
        return Err(TreeError::OutOfRange(format!(
            "no consistency proof from {from} to {to}: need 0 < from <= to"
        )));
    }
    tlog_tiles::prove_tree(to, from, reader).map_err(|e| reader.error(e))
}
