//! The append-only Merkle log: RFC 9162 §2.1 hashing, stored-hash indexing and proofs
//! (through the `tlog_tiles` crate), c2sp.org/tlog-checkpoint notes signed per
//! c2sp.org/signed-note, and the c2sp.org/tlog-tiles resources built from them.
//!
//! This module owns the tree, its storage trait and the sequencer, the only writer, and the
//! keys that seal the private records at rest (`shred`). It knows nothing of HTTP, of JSON
//! payloads or of what an entry means: entries and their sidecars are opaque bytes.

pub mod checkpoint;
pub mod durable;
pub mod fs;
pub mod migrate;
pub mod objects;
pub mod sequencer;
pub mod shred;
pub mod sled_store;
pub mod state;
pub mod store;
pub mod tiled;
pub mod tiles;
pub mod tree;

pub use checkpoint::{CheckpointError, LogSigner, SignedCheckpoint};
pub use sequencer::{AppendError, AppendRequest, Appended, Sequencer, SequencerConfig};
pub use sled_store::SledStore;
pub use state::{MemoryState, StateStore};
pub use store::{Batch, Index, IndexKey, Store, StoreError};
pub use tiled::{DiskStore, MemoryStore, TiledStore};
pub use tlog_tiles::Hash;
pub use tree::TreeError;

/// The largest entry the log accepts: an entry bundle frames each entry with a 16-bit length.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
