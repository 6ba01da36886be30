//! The witness's durable record: per log origin, the size and root it last cosigned, behind a
//! small trait (sled for the service, memory for tests). A record changes only by a
//! compare-and-swap from the value the decision was made against, made durable before the
//! cosignature leaves the witness: two racing requests cannot both move it, and a restart
//! never forgets a cosigned checkpoint.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use tlog_tiles::Hash;

use super::Record;
use crate::log::durable::SledFiles;

/// A failure of the witness's store.
#[derive(Debug, thiserror::Error)]
#[error("witness store failure while {action}: {detail}")]
pub struct StateError {
    action: &'static str,
    detail: String,
}

/// Where a witness keeps its records.
pub trait WitnessStore: Send + Sync + 'static {
    /// The record for `origin`, if the witness ever cosigned for it.
    fn record(&self, origin: &str) -> Result<Option<Record>, StateError>;
    /// Sets the record for `origin` to `new` if it still is `expected`, durably: `Ok(true)`
    /// once it is on disk, `Ok(false)` if another request changed it first.
    fn replace(
        &self,
        origin: &str,
        expected: Option<Record>,
        new: Record,
    ) -> Result<bool, StateError>;
    /// Keeps a validly signed checkpoint that forks from what was cosigned, as evidence of
    /// the log's misbehaviour: once per note, at most [`MAX_EVIDENCE`] per origin.
    fn keep_evidence(&self, origin: &str, note: &[u8]) -> Result<(), StateError>;
    /// The evidence kept for `origin`, oldest first.
    fn evidence(&self, origin: &str) -> Result<Vec<Vec<u8>>, StateError>;
}

/// The most fork checkpoints kept per origin: one is proof enough, a few show a pattern.
pub const MAX_EVIDENCE: usize = 64;

fn evidence_key(origin: &str, note: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut key = origin.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&Sha256::digest(note));
    key
}

fn encode(r: Record) -> [u8; 40] {
    let mut v = [0u8; 40];
    v[..8].copy_from_slice(&r.size.to_be_bytes());
    v[8..].copy_from_slice(&r.root.0);
    v
}

fn decode(v: &[u8]) -> Option<Record> {
    Some(Record {
        size: u64::from_be_bytes(v.get(..8)?.try_into().ok()?),
        root: Hash(v.get(8..40)?.try_into().ok()?),
    })
}

/// The witness's records in sled: tree `records` (origin → size ‖ root), tree `evidence`
/// (origin ‖ 0 ‖ SHA-256 of the note → the signed checkpoint note).
pub struct SledWitnessStore {
    db: sled::Db,
    /// What sled's `flush()` leaves unsynced, synced after each one: a cosignature leaves
    /// only once its record survives a power cut.
    files: Mutex<SledFiles>,
    records: sled::Tree,
    evidence: sled::Tree,
}

fn failed(action: &'static str) -> impl Fn(sled::Error) -> StateError {
    move |e| StateError {
        action,
        detail: e.to_string(),
    }
}

impl SledWitnessStore {
    /// Opens (or creates) the store in the directory `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(16 << 20)
            .open()
            .map_err(failed("opening the witness store"))?;
        let records = db
            .open_tree("records")
            .map_err(failed("opening the witness store"))?;
        let evidence = db
            .open_tree("evidence")
            .map_err(failed("opening the witness store"))?;
        let files = SledFiles::open(path).map_err(|e| StateError {
            action: "opening the witness store",
            detail: e.to_string(),
        })?;
        Ok(Self {
            db,
            files: Mutex::new(files),
            records,
            evidence,
        })
    }
}

impl SledWitnessStore {
    /// sled's `flush()`, then the `fsync` of what it leaves unsynced.
    fn flush(&self, action: &'static str) -> Result<(), StateError> {
        self.db.flush().map_err(failed(action))?;
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync()
            .map_err(|e| StateError {
                action,
                detail: e.to_string(),
            })
    }
}

impl WitnessStore for SledWitnessStore {
    fn record(&self, origin: &str) -> Result<Option<Record>, StateError> {
        match self
            .records
            .get(origin.as_bytes())
            .map_err(failed("reading a record"))?
        {
            None => Ok(None),
            Some(v) => decode(&v).map(Some).ok_or_else(|| StateError {
                action: "reading a record",
                detail: format!("the record of {origin:?} is not 40 bytes"),
            }),
        }
    }

    fn replace(
        &self,
        origin: &str,
        expected: Option<Record>,
        new: Record,
    ) -> Result<bool, StateError> {
        let old = expected.map(encode);
        let swapped = self
            .records
            .compare_and_swap(
                origin.as_bytes(),
                old.as_ref().map(|v| &v[..]),
                Some(&encode(new)[..]),
            )
            .map_err(failed("writing a record"))?;
        if swapped.is_err() {
            return Ok(false);
        }
        self.flush("flushing a record")?;
        Ok(true)
    }

    fn keep_evidence(&self, origin: &str, note: &[u8]) -> Result<(), StateError> {
        let key = evidence_key(origin, note);
        let mut prefix = origin.as_bytes().to_vec();
        prefix.push(0);
        let kept = self.evidence.scan_prefix(&prefix).keys().count();
        let known = self
            .evidence
            .contains_key(&key)
            .map_err(failed("keeping evidence"))?;
        if known || kept >= MAX_EVIDENCE {
            return Ok(());
        }
        self.evidence
            .insert(key, note)
            .map_err(failed("keeping evidence"))?;
        self.flush("keeping evidence")?;
        Ok(())
    }

    fn evidence(&self, origin: &str) -> Result<Vec<Vec<u8>>, StateError> {
        let mut prefix = origin.as_bytes().to_vec();
        prefix.push(0);
        self.evidence
            .scan_prefix(prefix)
            .map(|item| {
                item.map(|(_, v)| v.to_vec())
                    .map_err(failed("reading evidence"))
            })
            .collect()
    }
}

/// The witness's records in memory, for tests of the core.
#[derive(Default)]
pub struct MemoryWitnessStore {
    inner: Mutex<MemoryInner>,
}

/// The records by origin, and the evidence as (origin, body).
type MemoryInner = (HashMap<String, Record>, Vec<(String, Vec<u8>)>);

impl WitnessStore for MemoryWitnessStore {
    fn record(&self, origin: &str) -> Result<Option<Record>, StateError> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner.0.get(origin).copied())
    }

    fn replace(
        &self,
        origin: &str,
        expected: Option<Record>,
        new: Record,
    ) -> Result<bool, StateError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0.get(origin).copied() != expected {
            return Ok(false);
        }
        inner.0.insert(origin.to_owned(), new);
        Ok(true)
    }

    fn keep_evidence(&self, origin: &str, note: &[u8]) -> Result<(), StateError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let kept = inner.1.iter().filter(|(o, _)| o == origin).count();
        if kept < MAX_EVIDENCE && !inner.1.iter().any(|(o, n)| o == origin && n == note) {
            inner.1.push((origin.to_owned(), note.to_vec()));
        }
        Ok(())
    }

    fn evidence(&self, origin: &str) -> Result<Vec<Vec<u8>>, StateError> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner
            .1
            .iter()
            .filter(|(o, _)| o == origin)
            .map(|(_, b)| b.clone())
            .collect())
    }
}
