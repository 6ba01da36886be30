//! `datapole migrate`: moves a data directory of store format `datapole-store/3` (entries and
//! stored hashes inside sled) to the objects and the state store.
//!
//! In order, so that a crash anywhere leaves a directory that either version reads and the
//! migration can simply be run again:
//!
//! 1. the old store is read in windows of entries: each entry's leaf hash must equal the old
//!    store's stored hash for it, and the objects of the window (full tiles and bundles, and
//!    at the end the partial ones) are written to `public/` and made durable;
//! 2. the `checkpoint` object is published, unchanged (the same signed note);
//! 3. one sled batch removes the entries and hashes and stamps the new format, then sled is
//!    flushed and its files synced: until this step the old version still reads the
//!    directory, and the objects written so far are simply written again by a new run;
//! 4. the log is opened as the server opens it, which recomputes the root from the tiles and
//!    checks it against the signed checkpoint, and every entry and its leaf-hash index is
//!    read back and compared with what the old store held.

use std::path::Path;

use tlog_tiles::Hash;

use super::checkpoint::SignedCheckpoint;
use super::objects::DirObjects;
use super::sled_store::{FORMAT, FORMAT_PACKED};
use super::store::{Index, IndexKey, Store, StoreError};
use super::tiled::{DiskStore, Options, TreeWriter, PUBLIC_DIR, STATE_DIR};

/// What a migration did.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The log's size (unchanged).
    pub size: u64,
    /// Its root (unchanged, recomputed from the new tiles).
    pub root: Hash,
    /// Whether the directory was already in the current format (nothing done).
    pub already: bool,
}

/// Entries read from the old store per window (one window's objects are written at once).
const WINDOW: u64 = 1 << 16;

fn backend(action: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |e| StoreError::Backend {
        action,
        detail: e.to_string(),
    }
}

fn number(k: &[u8]) -> Result<u64, StoreError> {
    k.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt("malformed key in the old store".into()))
}

/// The entries of an old entry chunk: each a u32 BE length and its bytes.
fn decode_chunk(mut v: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let bad = || StoreError::Corrupt("malformed entry chunk in the old store".into());
    let mut out = Vec::new();
    while !v.is_empty() {
        let len: [u8; 4] = v.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        let len = u32::from_be_bytes(len) as usize;
        out.push(v.get(4..4 + len).ok_or_else(bad)?.to_vec());
        v = &v[4 + len..];
    }
    Ok(out)
}

/// Reads the old store's entries and stored hashes in order.
struct OldLog<'a> {
    db: &'a sled::Db,
    next_entry: u64,
    entries: std::collections::VecDeque<Vec<u8>>,
    next_hash: u64,
    hashes: std::collections::VecDeque<Hash>,
}

impl OldLog<'_> {
    /// The next `count` entries.
    fn entries(&mut self, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        while (self.entries.len() as u64) < count {
            let key = [&[b'E'][..], &self.next_entry.to_be_bytes()].concat();
            let chunk = self
                .db
                .get(&key)
                .map_err(backend("reading the old entries"))?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the old store has no entry chunk at {}",
                        self.next_entry
                    ))
                })?;
            let chunk = decode_chunk(&chunk)?;
            if chunk.is_empty() {
                return Err(StoreError::Corrupt("an empty entry chunk".into()));
            }
            self.next_entry += chunk.len() as u64;
            self.entries.extend(chunk);
        }
        Ok(self.entries.drain(..count as usize).collect())
    }

    /// The stored hashes up to (not including) stored index `end`.
    fn hashes_until(&mut self, end: u64) -> Result<Vec<Hash>, StoreError> {
        let held = self.next_hash - self.hashes.len() as u64;
        while self.next_hash < end {
            let c = self.next_hash / 256;
            let key = [&[b'H'][..], &c.to_be_bytes()].concat();
            let chunk = self
                .db
                .get(&key)
                .map_err(backend("reading the old hashes"))?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("the old store has no hash chunk {c}"))
                })?;
            let from = (self.next_hash % 256) as usize * 32;
            let bytes = chunk.get(from..).unwrap_or_default();
            if bytes.is_empty() || bytes.len() % 32 != 0 {
                return Err(StoreError::Corrupt(format!("hash chunk {c} is malformed")));
            }
            for h in bytes.chunks_exact(32) {
                self.hashes.push_back(Hash(h.try_into().unwrap_or([0; 32])));
                self.next_hash += 1;
            }
        }
        let take = (end - held) as usize;
        Ok(self.hashes.drain(..take).collect())
    }
}

/// Migrates the data directory `data_dir` in place (see the module's documentation).
pub fn migrate(data_dir: &Path) -> Result<Migrated, StoreError> {
    let state_path = data_dir.join(STATE_DIR);
    if !state_path.is_dir() {
        return Err(StoreError::Format(format!(
            "{} holds no store: nothing to migrate",
            data_dir.display()
        )));
    }
    let (checkpoint, old_entries) = {
        let db = sled::Config::new()
            .path(&state_path)
            .open()
            .map_err(backend("opening the old store (is a server using it?)"))?;
        let format = db.get(b"v").map_err(backend("reading the format"))?;
        match format.as_deref() {
            Some(f) if f == FORMAT => {
                drop(db);
                let log = DiskStore::open_dir(data_dir, &Options::default())?;
                let cp = log
                    .checkpoint()?
                    .ok_or_else(|| StoreError::Corrupt("no checkpoint".into()))?;
                return Ok(Migrated {
                    size: cp.size,
                    root: cp.root,
                    already: true,
                });
            }
            Some(f) if f == FORMAT_PACKED => {}
            other => {
                return Err(StoreError::Format(format!(
                    "{} holds format {:?}: only {:?} is migrated",
                    state_path.display(),
                    other.map(String::from_utf8_lossy),
                    String::from_utf8_lossy(FORMAT_PACKED)
                )))
            }
        }
        let cp = db
            .get(b"c")
            .map_err(backend("reading the checkpoint"))?
            .and_then(|v| SignedCheckpoint::decode(&v))
            .ok_or_else(|| {
                StoreError::Corrupt("the old store has no readable checkpoint".into())
            })?;
        let objects = DirObjects::open(data_dir.join(PUBLIC_DIR))?;
        let mut writer = TreeWriter::new(&objects);
        let mut old = OldLog {
            db: &db,
            next_entry: 0,
            entries: Default::default(),
            next_hash: 0,
            hashes: Default::default(),
        };
        // The leaf hashes, to compare with the index after the migration (32 B per entry).
        let mut leaves = Vec::with_capacity(cp.size.min(1 << 24) as usize);
        let mut at = 0;
        while at < cp.size {
            let count = WINDOW.min(cp.size - at);
            let entries = old.entries(count)?;
            let first_hash = tlog_tiles::stored_hash_count(at);
            let hashes = old.hashes_until(tlog_tiles::stored_hash_count(at + count))?;
            for (k, e) in entries.iter().enumerate() {
                let leaf = tlog_tiles::record_hash(e);
                let i = tlog_tiles::stored_hash_index(0, at + k as u64);
                if hashes.get((i - first_hash) as usize) != Some(&leaf) {
                    return Err(StoreError::Corrupt(format!(
                        "entry {} does not match its stored leaf hash in the old store",
                        at + k as u64
                    )));
                }
                leaves.push(leaf);
            }
            writer.add(entries, first_hash, hashes)?;
            at += count;
        }
        writer.publish(&cp)?;
        // The flip: the entries and hashes go, the format changes, in one batch.
        let mut b = sled::Batch::default();
        for prefix in [b'E', b'H', b'U'] {
            for item in db.scan_prefix([prefix]) {
                let (k, _) = item.map_err(backend("listing the old entries and hashes"))?;
                number(&k)?;
                b.remove(k);
            }
        }
        b.insert(&b"v"[..], FORMAT);
        db.apply_batch(b).map_err(backend("converting the store"))?;
        db.flush()
            .map_err(backend("flushing the converted store"))?;
        drop(db);
        (cp, leaves)
    };
    super::durable::sync_tree(&state_path).map_err(|e| StoreError::Backend {
        action: "syncing the converted store",
        detail: e.to_string(),
    })?;
    // Read back as the server reads it.
    let log = DiskStore::open_dir(data_dir, &Options::default())?;
    let now = log
        .checkpoint()?
        .ok_or_else(|| StoreError::Corrupt("no checkpoint after the migration".into()))?;
    if now.note != checkpoint.note {
        return Err(StoreError::Corrupt(
            "the checkpoint changed in the migration".into(),
        ));
    }
    let mut at = 0;
    while at < now.size {
        let end = (at + WINDOW).min(now.size);
        for (k, e) in log.entries(at, end)?.iter().enumerate() {
            let i = at + k as u64;
            let leaf = tlog_tiles::record_hash(e);
            if old_entries.get(i as usize) != Some(&leaf) {
                return Err(StoreError::Corrupt(format!("entry {i} reads back changed")));
            }
            let indexed = log.lookup(&IndexKey::new(Index::LEAF_HASH, leaf.0.to_vec()))?;
            if indexed.and_then(|j| old_entries.get(j as usize)) != Some(&leaf) {
                return Err(StoreError::Corrupt(format!(
                    "the leaf-hash index does not find entry {i}"
                )));
            }
        }
        at = end;
    }
    Ok(Migrated {
        size: now.size,
        root: now.root,
        already: false,
    })
}
