//! The published view: every read of the ledger goes through one [`View`], which carries the
//! checkpoint it was taken at and sees nothing at or beyond its size. A request takes one view
//! and reads everything through it, so it cannot serve an entry that is not yet durable and
//! signed, nor mix two sizes.

use std::sync::Arc;

use crate::entry::{Entry, EntryError};
use crate::error::Error;
use crate::log::tree::{self, StoreReader};
use crate::log::{Hash, Index, IndexKey, SignedCheckpoint, Store};
use crate::receipt::PrivateSidecar;

use super::receipts::Against;

/// The log as one published checkpoint shows it.
pub struct View<'a> {
    store: &'a dyn Store,
    /// What is seen: the latest checkpoint's size, or less for a narrowed view.
    size: u64,
    latest: Arc<SignedCheckpoint>,
    cosigned: Option<Arc<SignedCheckpoint>>,
    witnessing: bool,
}

/// An entry as the store holds it: its bytes and, read from them once, its type.
pub struct Stored {
    /// The entry's index.
    pub index: u64,
    /// Its bytes (the leaf data).
    pub bytes: Vec<u8>,
    /// The bytes read as an entry.
    pub entry: Result<Entry, EntryError>,
}

/// One page of a one-to-many index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The leaf indexes listed, in key order, all published.
    pub leaves: Vec<u64>,
    /// True when there are more.
    pub truncated: bool,
}

impl<'a> View<'a> {
    pub(super) fn new(
        store: &'a dyn Store,
        latest: Arc<SignedCheckpoint>,
        cosigned: Option<Arc<SignedCheckpoint>>,
        witnessing: bool,
    ) -> Self {
        Self {
            store,
            size: latest.size,
            latest,
            cosigned,
            witnessing,
        }
    }

    /// The same view, seeing only the first `size` entries (at most what it sees now): the
    /// tree an earlier request saw.
    pub fn narrowed(&self, size: u64) -> View<'a> {
        View {
            store: self.store,
            size: size.min(self.size),
            latest: self.latest.clone(),
            cosigned: self.cosigned.clone(),
            witnessing: self.witnessing,
        }
    }

    /// The published size: entries `0..size` are seen.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The latest published checkpoint.
    pub fn checkpoint(&self) -> &Arc<SignedCheckpoint> {
        &self.latest
    }

    /// The store, for the tree's reads (tiles, proofs) bounded by [`View::size`].
    pub fn store(&self) -> &'a dyn Store {
        self.store
    }

    /// The checkpoint a receipt of entry `index` is built against now: the cosigned one when
    /// it covers the entry, the latest (unwitnessed) otherwise.
    pub fn against(&self, index: u64) -> Against {
        match &self.cosigned {
            Some(cp) if self.witnessing && index < cp.size => Against {
                checkpoint: cp.clone(),
                witnessed: Some(true),
            },
            _ => Against {
                checkpoint: self.latest.clone(),
                witnessed: self.witnessing.then_some(false),
            },
        }
    }

    /// Entry `index`'s bytes; `None` beyond the published size.
    pub fn bytes(&self, index: u64) -> Result<Option<Vec<u8>>, Error> {
        if index >= self.size() {
            return Ok(None);
        }
        let bytes = self.store.entries(index, index + 1)?.pop().ok_or_else(|| {
            Error::corrupt(format!("missing entry {index} below the published size"))
        })?;
        Ok(Some(bytes))
    }

    /// Entry `index`, read; `None` beyond the published size.
    pub fn entry(&self, index: u64) -> Result<Option<Stored>, Error> {
        Ok(self.bytes(index)?.map(|bytes| Stored {
            index,
            entry: Entry::from_bytes(&bytes),
            bytes,
        }))
    }

    /// The published entry with RFC 9162 leaf hash `hash` (the latest, if several).
    pub fn find_leaf(&self, hash: &Hash) -> Result<Option<u64>, Error> {
        self.lookup(&IndexKey::new(Index::LEAF_HASH, hash.0.to_vec()))
    }

    /// The published entry a unique key points at.
    pub fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, Error> {
        Ok(self.store.lookup(key)?.filter(|&i| i < self.size()))
    }

    /// One page of a one-to-many index whose keys end with a big-endian number in log order
    /// (a leaf index, or a dataset's version): the published leaves under `prefix` after
    /// `prefix ‖ after`, at most `limit`, found by one seek.
    pub fn page(&self, prefix: &IndexKey, after: Option<u64>, limit: usize) -> Result<Page, Error> {
        let after = after.map(u64::to_be_bytes);
        let size = self.size();
        let mut leaves: Vec<u64> = self
            .store
            .scan(
                prefix.index,
                &prefix.key,
                after.as_ref().map(|a| a.as_slice()),
                limit.saturating_add(1),
            )?
            .into_iter()
            .map(|(_, leaf)| leaf)
            .filter(|&leaf| leaf < size)
            .collect();
        let truncated = leaves.len() > limit;
        leaves.truncate(limit);
        Ok(Page { leaves, truncated })
    }

    /// The off-log record kept beside published entry `index`, if any (`None` once erased).
    pub fn sidecar(&self, index: u64) -> Result<Option<PrivateSidecar>, Error> {
        if index >= self.size() {
            return Ok(None);
        }
        match self.store.sidecar(index)? {
            None => Ok(None),
            Some(bytes) => PrivateSidecar::from_bytes(&bytes)
                .map(Some)
                .ok_or_else(|| Error::corrupt(format!("entry {index} has an unreadable sidecar"))),
        }
    }

    /// The RFC 9162 inclusion proof of entry `index` in the tree of `size` entries, which
    /// must not exceed the published size.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        if size > self.size() {
            return Err(Error::corrupt(format!(
                "a proof to size {size} beyond the published {}",
                self.size()
            )));
        }
        Ok(tree::inclusion_proof(
            index,
            size,
            &StoreReader::new(self.store),
        )?)
    }

    /// The RFC 9162 consistency proof between two published sizes.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, Error> {
        if to > self.size() {
            return Err(Error::corrupt(format!(
                "a proof to size {to} beyond the published {}",
                self.size()
            )));
        }
        Ok(tree::consistency_proof(
            from,
            to,
            &StoreReader::new(self.store),
        )?)
    }
}
