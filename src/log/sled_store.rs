//! The embedded state store ([`super::state`]): sled 0.34, one tree with prefixed keys, so
//! that a whole state batch is one atomic `apply_batch`, made durable by `flush()` and an
//! `fsync` of sled's files ([`super::durable`]) before `commit` returns. The entries and the
//! hashes are not here: they are the log's objects ([`super::objects`]).
//!
//! The keys: `v` the format ([`FORMAT`]); `c` the latest checkpoint (the checkpoint lock);
//! `m` + name for values kept beside the log (the last cosigned checkpoint); `i` + index tag +
//! key for the secondary indexes (value: u64 BE leaf index); `p` + u64 BE for the off-log
//! sidecar of an entry, sealed under its own data key; `k` + u64 BE for that data key, wrapped
//! under its bucket's KEK (see [`super::shred`]).
//!
//! The KEKs are in the *key file* beside the database (`<store>.keys`, mode 0600), never in
//! sled: sled is log-structured, and what it deletes lingers in its old segments. An erasure
//! deletes the record's `p` and `k` keys and rotates its bucket's KEK, in this order, so that
//! a crash anywhere leaves every acknowledged record readable:
//!
//! 1. the key file is rewritten (atomically, durably) with the bucket's old *and* new KEK;
//! 2. one sled batch deletes the record and wraps the bucket's other data keys again, under
//!    the new KEK (each wrapped key names its generation), and is flushed;
//! 3. the key file is rewritten without the old KEK; only then is the batch acknowledged.
//!
//! A crash between 1 and 3 leaves two generations of a bucket in the key file. On opening
//! (and on recovery) the store drops every generation that no wrapped key references except
//! the newest, after syncing sled's files. A new bucket's first KEK is likewise durable in the
//! key file before the batch that uses it is applied.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use super::checkpoint::SignedCheckpoint;
use super::durable::SledFiles;
use super::shred::{self, KeyFile, Keyring};
use super::state::{StateBatch, StateStore};
use super::store::{Index, IndexKey, StoreError};

const CHECKPOINT: &[u8] = b"c";
const FORMAT_KEY: &[u8] = b"v";
/// The layout this code writes and reads. Stores from before packing (one key per entry and
/// per hash) carry no format key, those of `datapole-store/2` hold the private records in the
/// clear: both are refused with a clear error. `datapole-store/3` held the entries and hashes
/// too: `datapole migrate` moves them to the objects ([`super::migrate`]).
pub const FORMAT: &[u8] = b"datapole-state/4";
/// The layout before the objects: entries and hashes in sled ([`super::migrate`] reads it).
pub const FORMAT_PACKED: &[u8] = b"datapole-store/3";
/// The previous layout: sidecars in the clear, no key file.
const FORMAT_CLEAR_SIDECARS: &[u8] = b"datapole-store/2";

fn key_number(k: &[u8]) -> Option<u64> {
    k.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
}

fn prefixed(p: u8, i: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = p;
    k[1..].copy_from_slice(&i.to_be_bytes());
    k
}

fn index_key(index: Index, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + key.len());
    k.push(b'i');
    k.push(index.tag());
    k.extend_from_slice(key);
    k
}

fn leaf_index(v: &[u8]) -> Result<u64, StoreError> {
    let b: [u8; 8] = v
        .try_into()
        .map_err(|_| StoreError::Corrupt("index value is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(b))
}

fn backend(action: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |e| StoreError::Backend {
        action,
        detail: e.to_string(),
    }
}

fn io_backend(action: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::Backend {
        action,
        detail: e.to_string(),
    }
}

/// The log's store on sled.
///
/// sled keeps an I/O error (a full disk, a read-only file) and then fails every later read
/// and write, and it cannot reopen on a full disk. So the store keeps a *ballast* file beside
/// the database: after a failed write, [`Store::recover`] deletes the ballast, which makes
/// room to reopen the database (recovering its last durable state) and to serve reads again;
/// writes are taken again only once the ballast can be written back and a probe synced, i.e.
/// once the disk has room again.
pub struct SledStore {
    path: PathBuf,
    db: RwLock<Option<sled::Db>>,
    /// The files sled's `flush()` leaves unsynced, synced after each one ([`super::durable`]).
    files: Mutex<Option<SledFiles>>,
    /// A write failed: the open database holds sled's sticky error and must be reopened.
    failed: AtomicBool,
    /// sled's page-cache size.
    cache_bytes: u64,
    /// How long the last successful commit's flush took, in nanoseconds.
    last_flush_nanos: std::sync::atomic::AtomicU64,
    /// The KEKs, as the key file holds them once the current commit is done. Lock order:
    /// the database guard ([`SledStore::db`]) first, then this.
    keys: RwLock<Keyring>,
    /// Where the KEKs are kept.
    key_file: KeyFile,
    /// Held by whatever changes the keys (a commit, a recovery): one at a time.
    writing: Mutex<()>,
    /// Tests: where [`Store::commit`] stops, as if the process died there.
    #[cfg(test)]
    crash_at: std::sync::atomic::AtomicU8,
}

/// Bytes written and synced to check that the store's directory takes writes.
const PROBE_BYTES: usize = 1 << 20;
/// The ballast's size: room for sled to reopen after the disk filled up.
const BALLAST_BYTES: usize = 8 << 20;

/// fsyncs every file in `dir` (and below), and the directories.
fn sync_dir_files(dir: &Path) -> Result<(), StoreError> {
    super::durable::sync_tree(dir).map_err(|e| StoreError::Backend {
        action: "syncing the recovered store",
        detail: e.to_string(),
    })
}

/// sled's page cache: what bounds the server's memory, whatever the log's size (sled's own
/// default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(backend("opening the store"))?;
    match db.get(FORMAT_KEY).map_err(backend("opening the store"))? {
        Some(v) if v.as_ref() == FORMAT => Ok(db),
        Some(v) if v.as_ref() == FORMAT_PACKED => Err(StoreError::Format(format!(
            "{} holds format {:?}, with the entries and hashes inside; this datapole keeps them \
             as tiles and bundles in the data directory's public/ directory: run `datapole \
             migrate --data-dir <the data directory>` once (it checks the roots and receipts \
             before and after), then serve",
            path.display(),
            String::from_utf8_lossy(&v)
        ))),
        Some(v) if v.as_ref() == FORMAT_CLEAR_SIDECARS => Err(StoreError::Format(format!(
            "{} holds format {:?}, with the private records in the clear; this datapole reads \
             {:?} (private records encrypted, erasure by key destruction) and does not convert \
             it: serve it with the version that wrote it, or start a new data directory",
            path.display(),
            String::from_utf8_lossy(&v),
            String::from_utf8_lossy(FORMAT)
        ))),
        Some(v) => Err(StoreError::Format(format!(
            "{} holds format {:?}, this datapole reads {:?}",
            path.display(),
            String::from_utf8_lossy(&v),
            String::from_utf8_lossy(FORMAT)
        ))),
        None if db.is_empty() => {
            db.insert(FORMAT_KEY, FORMAT)
                .map_err(backend("initialising the store"))?;
            db.flush().map_err(backend("initialising the store"))?;
            Ok(db)
        }
        None => Err(StoreError::Format(format!(
            "{} was written by an earlier datapole (one key per entry and per hash, before \
             {:?}); this version does not read it: serve it with the version that wrote it, or \
             start a new data directory",
            path.display(),
            String::from_utf8_lossy(FORMAT)
        ))),
    }
}

impl SledStore {
    /// Opens (or creates) the store in the directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`SledStore::open`] with a page cache of `cache_bytes`.
    ///
    /// The KEKs of the private records are read from the key file beside it
    /// ([`SledStore::key_file_path`]), which is created with the store. A store holding private
    /// records without its key file is refused: they could not be read.
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = open_db(path, cache_bytes)?;
        let key_file = KeyFile::new(Self::key_file_path(path));
        let keys = match key_file.load()? {
            Some(keys) => keys,
            None => {
                let holds_private = db
                    .scan_prefix(b"k")
                    .next()
                    .transpose()
                    .map_err(backend("opening the store"))?
                    .is_some();
                if holds_private {
                    return Err(StoreError::Corrupt(format!(
                        "{} holds private records but their key file {} is missing: restore it \
                         from the backup of the data directory",
                        path.display(),
                        key_file.path().display()
                    )));
                }
                let keys = Keyring::default();
                key_file.write(&keys)?;
                keys
            }
        };
        let files = SledFiles::open(path).map_err(io_backend("syncing the store's files"))?;
        let store = Self {
            path: path.to_owned(),
            db: RwLock::new(Some(db)),
            files: Mutex::new(Some(files)),
            failed: AtomicBool::new(false),
            cache_bytes,
            last_flush_nanos: std::sync::atomic::AtomicU64::new(0),
            keys: RwLock::new(keys),
            key_file,
            writing: Mutex::new(()),
            #[cfg(test)]
            crash_at: std::sync::atomic::AtomicU8::new(0),
        };
        store.drop_unused_generations()?;
        if let Err(e) = store.ensure_ballast() {
            tracing::warn!(error = %e, "no ballast: after the disk fills up, reads stop until space is back");
        }
        Ok(store)
    }

    /// The key file of the store in `path`: `<path>.keys`, beside it in the data directory.
    pub fn key_file_path(path: &Path) -> PathBuf {
        path.with_extension("keys")
    }

    /// The keys that open the private record of `leaf`: its data key, and the KEK generation
    /// (and KEK) that wraps it; `None` if it has no private record (never had, or erased).
    /// For audits of erasure and tests: the server never hands keys out.
    pub fn record_keys(&self, leaf: u64) -> Result<Option<RecordKeys>, StoreError> {
        let db = self.db()?;
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let Some(wrapped) = db
            .get(prefixed(b'k', leaf))
            .map_err(backend("reading a data key"))?
        else {
            return Ok(None);
        };
        let data_key = shred::unwrap(leaf, &wrapped, &keys)?;
        let generation = shred::wrapped_generation(&wrapped).unwrap_or_default();
        let kek = keys
            .get(shred::bucket(leaf), generation)
            .map(|k| **k)
            .unwrap_or_default();
        Ok(Some(RecordKeys {
            data_key: *data_key,
            generation,
            kek,
        }))
    }

    /// Drops the KEK generations that a rotation cut short left behind: in each bucket with
    /// several, those no wrapped key references, except the newest. sled's files are synced
    /// first, so that the references seen are durable.
    fn drop_unused_generations(&self) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let db = self.db()?;
        let mut next = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut changed = false;
        for bucket in next.rotating() {
            let mut used = std::collections::BTreeSet::new();
            for item in db.range(bucket_range(bucket)) {
                let (_, v) = item.map_err(backend("reading data keys"))?;
                used.insert(shred::wrapped_generation(&v).ok_or_else(|| {
                    StoreError::Corrupt(format!("truncated data key in bucket {bucket}"))
                })?);
            }
            let generations = next.generations(bucket);
            let newest = generations.last().copied();
            for g in generations {
                if !used.contains(&g) && Some(g) != newest {
                    next.remove(bucket, g);
                    changed = true;
                }
            }
        }
        if changed {
            sync_dir_files(&self.path)?;
            self.key_file.write(&next)?;
            *self.keys.write().unwrap_or_else(|p| p.into_inner()) = next;
            tracing::info!("unused key generations dropped from the key file");
        }
        Ok(())
    }

    fn ballast(&self) -> PathBuf {
        self.path.with_extension("ballast")
    }

    /// Writes the ballast if it is missing or short; a partial one is removed again.
    fn ensure_ballast(&self) -> Result<(), StoreError> {
        let path = self.ballast();
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == BALLAST_BYTES as u64) {
            return Ok(());
        }
        let result = (|| {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&vec![0u8; BALLAST_BYTES])?;
            f.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result.map_err(|e| StoreError::Backend {
            action: "writing the ballast file",
            detail: e.to_string(),
        })
    }

    fn db(&self) -> Result<DbGuard<'_>, StoreError> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(StoreError::Backend {
                action: "reading",
                detail: "the store is closed for recovery".into(),
            });
        }
        Ok(DbGuard(guard))
    }

    /// After a `flush()`: `fsync` of what it left unsynced, so that the flushed writes survive
    /// a power cut ([`super::durable`]).
    fn sync_files(&self) -> Result<(), StoreError> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        match files.as_mut() {
            Some(files) => files
                .sync()
                .map_err(io_backend("syncing the store's files")),
            None => Err(StoreError::Backend {
                action: "syncing the store's files",
                detail: "the store is closed".into(),
            }),
        }
    }

    /// Closes the database (releasing its lock file) and opens it again.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        drop(slot.take());
        let mut last = None;
        // sled's background flusher may hold the lock file for a moment after the close.
        for _ in 0..50 {
            match open_db(&self.path, self.cache_bytes) {
                Ok(db) => {
                    // What sled recovered was read back from its files, maybe from the page
                    // cache only: sync them so that a checkpoint published from it is durable.
                    sync_dir_files(&self.path)?;
                    let files = SledFiles::open(&self.path)
                        .map_err(io_backend("syncing the store's files"))?;
                    *self.files.lock().unwrap_or_else(|p| p.into_inner()) = Some(files);
                    *slot = Some(db);
                    tracing::warn!(path = %self.path.display(), "store reopened after a write failure");
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        Err(last.unwrap_or(StoreError::Corrupt("cannot reopen the store".into())))
    }

    /// Writes, syncs and removes a probe file beside the database.
    fn probe(&self) -> Result<(), StoreError> {
        let path = self.path.join("write-probe");
        let result = (|| {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&vec![0u8; PROBE_BYTES])?;
            f.sync_all()
        })();
        let _ = std::fs::remove_file(&path);
        result.map_err(|e| StoreError::Backend {
            action: "checking that the store can write again",
            detail: e.to_string(),
        })
    }
}

/// Tests: [`Store::commit`] stops after writing the key file, before the sled batch.
#[cfg(test)]
const CRASH_BEFORE_BATCH: u8 = 1;
/// Tests: [`Store::commit`] stops after the sled batch is durable, before the old KEKs go.
#[cfg(test)]
const CRASH_AFTER_BATCH: u8 = 2;

#[cfg(test)]
fn simulated_crash() -> StoreError {
    StoreError::Backend {
        action: "committing",
        detail: "simulated crash".into(),
    }
}

impl SledStore {
    /// Adds a batch's private records to the sled batch `b`, sealed, and its erasures; makes
    /// durable in the key file the KEKs this needs (a new bucket's first, a rotated bucket's
    /// next). Returns the rotated buckets with their new generation, whose older generations
    /// go once `b` is durable ([`SledStore::drop_rotated`]).
    fn private_records(
        &self,
        db: &sled::Db,
        batch: &StateBatch<'_>,
        b: &mut sled::Batch,
    ) -> Result<Vec<(u64, u32)>, StoreError> {
        if batch.sidecars.is_empty() && batch.erased_sidecars.is_empty() {
            return Ok(Vec::new());
        }
        let erased: std::collections::BTreeSet<u64> =
            batch.erased_sidecars.iter().copied().collect();
        // As in the memory store, a record erased by the batch that writes it is not written.
        let written: Vec<(u64, &[u8])> = batch
            .sidecars
            .iter()
            .filter(|(leaf, _)| !erased.contains(leaf))
            .map(|(leaf, data)| (*leaf, data.as_slice()))
            .collect();
        // The KEKs to make: the next generation of every bucket with an erasure (a bucket
        // without a KEK never held a record), the first of every new bucket.
        let mut rotated = Vec::new();
        let mut added = Vec::new();
        {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            let buckets: std::collections::BTreeSet<u64> =
                erased.iter().map(|&l| shred::bucket(l)).collect();
            for &bucket in &buckets {
                if let Some((g, _)) = keys.current(bucket) {
                    let next = g.checked_add(1).ok_or_else(|| {
                        StoreError::Corrupt(format!("bucket {bucket} is out of KEK generations"))
                    })?;
                    rotated.push((bucket, next));
                    added.push((bucket, next, shred::random_key()?));
                }
            }
            let fresh: std::collections::BTreeSet<u64> = written
                .iter()
                .map(|&(l, _)| shred::bucket(l))
                .filter(|bucket| keys.current(*bucket).is_none())
                .collect();
            for bucket in fresh {
                added.push((bucket, 0, shred::random_key()?));
            }
        }
        if !added.is_empty() {
            let mut next = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
            for (bucket, g, kek) in added {
                next.insert(bucket, g, kek);
            }
            // Durable before any batch wraps a key under them.
            self.key_file.write(&next)?;
            *self.keys.write().unwrap_or_else(|p| p.into_inner()) = next;
        }
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let current = |bucket: u64| {
            keys.current(bucket).ok_or_else(|| {
                StoreError::Corrupt(format!("no KEK for bucket {bucket} after making it"))
            })
        };
        for &(bucket, _) in &rotated {
            let (g, kek) = current(bucket)?;
            for item in db.range(bucket_range(bucket)) {
                let (k, wrapped) = item.map_err(backend("reading data keys"))?;
                let leaf = key_number(&k)
                    .ok_or_else(|| StoreError::Corrupt("malformed data key name".into()))?;
                if erased.contains(&leaf) {
                    continue;
                }
                let data_key = shred::unwrap(leaf, &wrapped, &keys)?;
                b.insert(k, shred::wrap(leaf, &data_key, g, kek)?);
            }
        }
        for &leaf in &erased {
            b.remove(&prefixed(b'p', leaf));
            b.remove(&prefixed(b'k', leaf));
        }
        for (leaf, data) in written {
            let (g, kek) = current(shred::bucket(leaf))?;
            let (sealed, data_key) = shred::seal_record(leaf, data)?;
            b.insert(&prefixed(b'p', leaf), sealed);
            b.insert(&prefixed(b'k', leaf), shred::wrap(leaf, &data_key, g, kek)?);
        }
        Ok(rotated)
    }

    /// After a batch that rotated `rotated` is durable: drops the older KEK generations of
    /// those buckets from the key file, and then from memory.
    fn drop_rotated(&self, rotated: &[(u64, u32)]) -> Result<(), StoreError> {
        if rotated.is_empty() {
            return Ok(());
        }
        let mut next = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        for &(bucket, g) in rotated {
            next.drop_older(bucket, g);
        }
        self.key_file.write(&next)?;
        // Readers holding the keys finish unwrapping with the old generation first.
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}

/// The keys of one private record, as [`SledStore::record_keys`] finds them.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordKeys {
    /// The record's data key.
    pub data_key: [u8; 32],
    /// The generation of its bucket's KEK that wraps it.
    pub generation: u32,
    /// That KEK.
    pub kek: [u8; 32],
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The `k` keys (wrapped data keys) of a bucket's leaves.
fn bucket_range(bucket: u64) -> std::ops::Range<[u8; 9]> {
    let first = bucket * shred::BUCKET_LEAVES;
    prefixed(b'k', first)..prefixed(b'k', first + shred::BUCKET_LEAVES)
}

/// A read guard on the open database.
struct DbGuard<'a>(RwLockReadGuard<'a, Option<sled::Db>>);

impl std::ops::Deref for DbGuard<'_> {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        // `SledStore::db` hands out guards only while the database is open.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("guard on a closed store"))
    }
}

impl StateStore for SledStore {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self
            .db()?
            .get(CHECKPOINT)
            .map_err(backend("reading the checkpoint"))?
        {
            None => Ok(None),
            Some(v) => SignedCheckpoint::decode(&v)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt("unreadable checkpoint record".into())),
        }
    }

    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
        self.db()?
            .get(index_key(key.index, &key.key))
            .map_err(backend("reading an index"))?
            .map(|v| leaf_index(&v))
            .transpose()
    }

    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        use std::ops::Bound;
        let full = index_key(index, prefix);
        let start = match after {
            None => Bound::Included(full.clone()),
            Some(a) => Bound::Excluded([full.as_slice(), a].concat()),
        };
        // Index keys start with `i` and a tag: the prefix always has a successor.
        let end = match super::store::prefix_end(&full) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.db()?
            .range::<Vec<u8>, _>((start, end))
            .take(limit)
            .map(|item| {
                let (k, v) = item.map_err(backend("scanning an index"))?;
                Ok((k[2..].to_vec(), leaf_index(&v)?))
            })
            .collect()
    }

    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let full = index_key(index, prefix);
        self.db()?
            .scan_prefix(&full)
            .next_back()
            .map(|item| {
                let (k, v) = item.map_err(backend("reading an index's last key"))?;
                Ok((k[2..].to_vec(), leaf_index(&v)?))
            })
            .transpose()
    }

    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        // The keys are held until the data key is unwrapped: a rotation drops the old KEK
        // only after its batch, so the wrapped key read here still opens.
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let Some(wrapped) = db
            .get(prefixed(b'k', index))
            .map_err(backend("reading a data key"))?
        else {
            return Ok(None);
        };
        let data_key = shred::unwrap(index, &wrapped, &keys)?;
        drop(keys);
        // Gone since the data key was read: erased meanwhile.
        let Some(sealed) = db
            .get(prefixed(b'p', index))
            .map_err(backend("reading a sidecar"))?
        else {
            return Ok(None);
        };
        shred::open_record(index, &sealed, &data_key).map(Some)
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut key = vec![b'm'];
        key.extend_from_slice(name.as_bytes());
        Ok(self
            .db()?
            .get(key)
            .map_err(backend("reading a value beside the log"))?
            .map(|v| v.to_vec()))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut key = vec![b'm'];
        key.extend_from_slice(name.as_bytes());
        let db = self.db()?;
        db.insert(key, value)
            .map_err(backend("writing a value beside the log"))?;
        db.flush()
            .map_err(backend("flushing a value beside the log"))?;
        self.sync_files()
    }

    fn commit(&self, batch: &StateBatch<'_>) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for key in batch.removed_keys {
            b.remove(index_key(key.index, &key.key));
        }
        for (key, leaf) in batch.index_keys {
            b.insert(index_key(key.index, &key.key), &leaf.to_be_bytes());
        }
        b.insert(CHECKPOINT, batch.checkpoint.encode());
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let db = self.db()?;
        // The lock: only the writer holding `writing` moves it, so reading it here and
        // applying the batch below is a compare-and-swap.
        let held = db
            .get(CHECKPOINT)
            .map_err(backend("reading the checkpoint lock"))?
            .map(|v| {
                SignedCheckpoint::decode(&v)
                    .map(|c| c.size)
                    .ok_or_else(|| StoreError::Corrupt("unreadable checkpoint record".into()))
            })
            .transpose()?;
        if held != batch.expected {
            return Err(StoreError::Conflict(format!(
                "the checkpoint lock holds {held:?}, the batch expected {:?}",
                batch.expected
            )));
        }
        let rotated = self.private_records(&db, batch, &mut b)?;
        #[cfg(test)]
        if self.crash_at.load(Ordering::SeqCst) == CRASH_BEFORE_BATCH {
            return Err(simulated_crash());
        }
        let result = db
            .apply_batch(b)
            .map_err(backend("writing a batch"))
            .and_then(|()| {
                let flushing = std::time::Instant::now();
                db.flush().map_err(backend("flushing a batch"))?;
                self.sync_files()?;
                let nanos = u64::try_from(flushing.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.last_flush_nanos.store(nanos, Ordering::Relaxed);
                Ok(())
            })
            .and_then(|()| {
                #[cfg(test)]
                if self.crash_at.load(Ordering::SeqCst) == CRASH_AFTER_BATCH {
                    return Err(simulated_crash());
                }
                self.drop_rotated(&rotated)
            });
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        result
    }

    fn last_flush(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_nanos(
            self.last_flush_nanos.load(Ordering::Relaxed),
        ))
    }

    fn recover(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            // Make room to reopen, in case the disk is full.
            let _ = std::fs::remove_file(self.ballast());
            self.reopen()?;
            self.failed.store(false, Ordering::SeqCst);
        }
        // A failed commit may have left a rotation's two generations in the key file.
        self.drop_unused_generations()?;
        self.ensure_ballast()?;
        self.probe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::store::Batch;
    use tlog_tiles::Hash;

    /// Commits the state part of `batch`, as the tiled store does.
    fn commit(store: &SledStore, batch: &Batch) -> Result<(), StoreError> {
        store.commit(&StateBatch {
            expected: store.checkpoint()?.map(|c| c.size),
            index_keys: &batch.index_keys,
            sidecars: &batch.sidecars,
            erased_sidecars: &batch.erased_sidecars,
            removed_keys: &batch.removed_keys,
            checkpoint: &batch.checkpoint,
        })
    }

    fn h(i: u64) -> Hash {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&i.to_le_bytes());
        Hash(b)
    }

    /// Batches of `n` small entries, with the given private records and erasures.
    struct Batches {
        signer: super::super::LogSigner,
        n: u64,
    }

    impl Batches {
        fn new() -> Self {
            let (skey, _) = super::super::LogSigner::generate("shred.test/log").unwrap();
            Self {
                signer: super::super::LogSigner::from_skey(&skey, None).unwrap(),
                n: 0,
            }
        }

        fn next(&mut self, size: u64, sidecars: &[(u64, &str)], erased: &[u64]) -> Batch {
            let first_index = self.n;
            self.n += size;
            let first_hash_index = tlog_tiles::stored_hash_count(first_index);
            Batch {
                first_index,
                entries: (first_index..self.n)
                    .map(|i| i.to_be_bytes().to_vec())
                    .collect(),
                first_hash_index,
                hashes: (first_hash_index..tlog_tiles::stored_hash_count(self.n))
                    .map(h)
                    .collect(),
                index_keys: Vec::new(),
                sidecars: sidecars
                    .iter()
                    .map(|(l, d)| (*l, d.as_bytes().to_vec()))
                    .collect(),
                erased_sidecars: erased.to_vec(),
                removed_keys: Vec::new(),
                checkpoint: self.signer.sign(self.n, h(self.n)).unwrap(),
            }
        }

        /// Forgets the last batch of `size` (it was not committed).
        fn undo(&mut self, size: u64) {
            self.n -= size;
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Every file under `dir`, read whole.
    fn all_bytes(dir: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(all_bytes(&path));
            } else {
                out.extend(std::fs::read(&path).unwrap());
            }
        }
        out
    }

    #[test]
    fn private_records_are_sealed_and_an_erasure_rotates_only_their_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        let last = shred::BUCKET_LEAVES;
        let mut batches = Batches::new();
        let records: Vec<(u64, String)> = [0, 1, last - 1, last]
            .iter()
            .map(|&l| (l, format!("private record of leaf {l}")))
            .collect();
        let refs: Vec<(u64, &str)> = records.iter().map(|(l, d)| (*l, d.as_str())).collect();
        commit(&store, &batches.next(last + 1, &refs, &[])).unwrap();
        for (l, d) in &records {
            assert_eq!(store.sidecar(*l).unwrap(), Some(d.clone().into_bytes()));
        }
        assert_eq!(store.sidecar(2).unwrap(), None);
        drop(store);
        assert!(
            !contains(&all_bytes(dir.path()), b"private record of leaf"),
            "sealed on disk"
        );
        let store = SledStore::open(&path).unwrap();
        let before = store.record_keys(1).unwrap().unwrap();
        assert_eq!(before.generation, 0);
        let other_bucket = store.record_keys(last).unwrap().unwrap();

        // Erase leaf 1: bucket 0 moves to generation 1, bucket 1 stays.
        commit(
            &store,
            &batches.next(1, &[(last + 1, "erasure event")], &[1]),
        )
        .unwrap();
        assert_eq!(store.sidecar(1).unwrap(), None);
        assert_eq!(store.record_keys(1).unwrap(), None);
        for l in [0, last - 1] {
            assert_eq!(store.record_keys(l).unwrap().unwrap().generation, 1);
        }
        assert_eq!(store.record_keys(last).unwrap().unwrap(), other_bucket);
        let keys = store.key_file.load().unwrap().unwrap();
        assert_eq!(keys.generations(0), vec![1]);
        assert_eq!(keys.generations(1), vec![0]);
        drop(store);
        // Neither the data key nor the KEK that opened the record is left in any file.
        let bytes = all_bytes(dir.path());
        assert!(!contains(&bytes, &before.data_key), "data key lingers");
        assert!(!contains(&bytes, &before.kek), "old KEK lingers");
        let store = SledStore::open(&path).unwrap();
        for (l, d) in records.iter().filter(|(l, _)| *l != 1) {
            assert_eq!(
                store.sidecar(*l).unwrap(),
                Some(d.clone().into_bytes()),
                "leaf {l}"
            );
        }
        assert_eq!(
            store.sidecar(last + 1).unwrap(),
            Some(b"erasure event".to_vec())
        );
    }

    /// An erasure cut at each step of its commit, as if the process died there: after
    /// reopening, every acknowledged record still opens, and the old KEK is gone exactly when
    /// the erasure's batch is in the store.
    #[test]
    fn an_erasure_cut_at_any_step_loses_no_acknowledged_record() {
        for crash in [CRASH_BEFORE_BATCH, CRASH_AFTER_BATCH] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store");
            let store = SledStore::open(&path).unwrap();
            let mut batches = Batches::new();
            commit(
                &store,
                &batches.next(3, &[(0, "zero"), (1, "one"), (2, "two")], &[]),
            )
            .unwrap();
            let old = store.record_keys(1).unwrap().unwrap();
            store.crash_at.store(crash, Ordering::SeqCst);
            let erasure = batches.next(1, &[(3, "erasure event")], &[1]);
            commit(&store, &erasure).expect_err("crashed");
            drop(store);

            let store = SledStore::open(&path).unwrap();
            let size = store.checkpoint().unwrap().unwrap().size;
            let keys = store.key_file.load().unwrap().unwrap();
            assert_eq!(store.sidecar(0).unwrap(), Some(b"zero".to_vec()), "{crash}");
            assert_eq!(store.sidecar(2).unwrap(), Some(b"two".to_vec()), "{crash}");
            if crash == CRASH_AFTER_BATCH {
                // The batch was durable: the erasure took effect, the old KEK is dropped.
                assert_eq!(size, 4);
                assert_eq!(store.sidecar(1).unwrap(), None);
                assert_eq!(store.sidecar(3).unwrap(), Some(b"erasure event".to_vec()));
                assert_eq!(keys.generations(0), vec![1]);
                drop(store);
                let bytes = all_bytes(dir.path());
                assert!(!contains(&bytes, &old.kek) && !contains(&bytes, &old.data_key));
            } else {
                // Nothing of the batch: the record is still there (it was never erased), under
                // the old KEK; the unused new one stays, as the bucket's newest.
                assert_eq!(size, 3);
                assert_eq!(store.sidecar(1).unwrap(), Some(b"one".to_vec()));
                assert_eq!(store.sidecar(3).unwrap(), None);
                assert_eq!(keys.generations(0), vec![0, 1]);
                // The erasure done again finishes the job.
                batches.undo(1);
                commit(&store, &batches.next(1, &[(3, "erasure event")], &[1])).unwrap();
                assert_eq!(store.sidecar(1).unwrap(), None);
                assert_eq!(store.sidecar(0).unwrap(), Some(b"zero".to_vec()));
                let keys = store.key_file.load().unwrap().unwrap();
                assert_eq!(keys.generations(0), vec![2]);
                drop(store);
                let bytes = all_bytes(dir.path());
                assert!(!contains(&bytes, &old.kek) && !contains(&bytes, &old.data_key));
            }
        }
    }

    #[test]
    fn a_store_without_its_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = SledStore::open(&path).unwrap();
        commit(&store, &Batches::new().next(1, &[(0, "private")], &[])).unwrap();
        drop(store);
        std::fs::remove_file(SledStore::key_file_path(&path)).unwrap();
        let e = SledStore::open(&path).err().expect("refused");
        assert!(e.to_string().contains("key file"), "{e}");
    }

    /// Opens a store that a `sled::Db` of the test just closed: sled's background flusher
    /// may hold the directory's lock a moment after the handle is dropped.
    fn open_once_closed(path: &std::path::Path) -> Result<SledStore, StoreError> {
        for _ in 0..250 {
            match SledStore::open(path) {
                Err(e) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => return other,
            }
        }
        SledStore::open(path)
    }

    #[test]
    fn a_store_in_another_layout_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        // The layout before packing: one key per entry, no format key.
        let old = dir.path().join("old");
        {
            let db = sled::open(&old).unwrap();
            db.insert(b"c", b"checkpoint".as_slice()).unwrap();
            db.insert(prefixed(b'e', 0), b"entry".as_slice()).unwrap();
            db.flush().unwrap();
        }
        let e = open_once_closed(&old).err().expect("refused");
        assert!(matches!(e, StoreError::Format(_)), "{e}");
        assert!(e.to_string().contains("earlier datapole"), "{e}");
        // A format from elsewhere.
        let other = dir.path().join("other");
        {
            let db = sled::open(&other).unwrap();
            db.insert(FORMAT_KEY, b"datapole-store/9".as_slice())
                .unwrap();
            db.flush().unwrap();
        }
        let e = open_once_closed(&other).err().expect("refused");
        assert!(e.to_string().contains("datapole-store/9"), "{e}");
        // The layout before encryption: private records in the clear.
        let clear = dir.path().join("clear");
        {
            let db = sled::open(&clear).unwrap();
            db.insert(FORMAT_KEY, b"datapole-store/2".as_slice())
                .unwrap();
            db.insert(prefixed(b'p', 0), b"a consent".as_slice())
                .unwrap();
            db.flush().unwrap();
        }
        let e = SledStore::open(&clear).err().expect("refused");
        assert!(matches!(e, StoreError::Format(_)), "{e}");
        assert!(e.to_string().contains("in the clear"), "{e}");
        // A new store is stamped, and opens again.
        let new = dir.path().join("new");
        drop(SledStore::open(&new).unwrap());
        assert!(SledStore::open(&new).is_ok());
    }
}
