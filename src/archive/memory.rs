//! [`MemoryLocation`], the in-memory twin of [`super::DirLocation`], for the tests of the
//! layers above: the same contract (write-once, locks enforced, repair only with the same
//! bytes), nothing durable, and a way to damage or lose an object's bytes on purpose.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::location::{copy_hashed, CopyError, Location, ObjectReader, CHUNK};
use super::{io_error, ArchiveError, Lock, ObjectId, Written};

/// A committed object: its bytes (`None` once lost) and its lock.
struct Committed {
    bytes: Option<Arc<[u8]>>,
    lock: Lock,
}

#[derive(Default)]
struct Objects {
    incoming: BTreeMap<ObjectId, Arc<[u8]>>,
    committed: BTreeMap<ObjectId, Committed>,
}

/// Objects in memory.
pub struct MemoryLocation {
    name: String,
    objects: Mutex<Objects>,
}

impl MemoryLocation {
    /// An empty location called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            objects: Mutex::new(Objects::default()),
        }
    }

    /// Changes the stored bytes of the committed object `id` (a test's bit rot); `false` if
    /// it has none.
    pub fn damage(&self, id: ObjectId, f: impl FnOnce(&mut Vec<u8>)) -> bool {
        let mut objects = self.objects();
        let Some(bytes) = objects
            .committed
            .get_mut(&id)
            .and_then(|c| c.bytes.as_mut())
        else {
            return false;
        };
        let mut v = bytes.to_vec();
        f(&mut v);
        *bytes = v.into();
        true
    }

    /// Loses the bytes of the committed object `id`, keeping its lock (a lost file).
    pub fn lose(&self, id: ObjectId) {
        if let Some(c) = self.objects().committed.get_mut(&id) {
            c.bytes = None;
        }
    }

    fn objects(&self) -> MutexGuard<'_, Objects> {
        // Every change below is one assignment: a panic leaves no half-made state.
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads `src` to its end, checked against `expect` if given.
    fn read_all(
        src: &mut dyn Read,
        expect: Option<&Written>,
    ) -> Result<(Arc<[u8]>, Written), ArchiveError> {
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        let written = copy_hashed(src, &mut bytes, &mut buf).map_err(|e| match e {
            CopyError::Read(e) | CopyError::Write(e) => io_error("reading", "memory:")(e),
        })?;
        if let Some(expected) = expect.filter(|e| **e != written) {
            return Err(ArchiveError::Mismatch {
                expected: *expected,
                found: written,
            });
        }
        Ok((bytes.into(), written))
    }

    fn put_incoming(&self, id: ObjectId, bytes: Arc<[u8]>) -> Result<(), ArchiveError> {
        let mut objects = self.objects();
        if objects.incoming.contains_key(&id) || objects.committed.contains_key(&id) {
            return Err(ArchiveError::Exists(id));
        }
        objects.incoming.insert(id, bytes);
        Ok(())
    }
}

impl Location for MemoryLocation {
    fn name(&self) -> &str {
        &self.name
    }

    fn write_incoming(&self, id: ObjectId, src: &mut dyn Read) -> Result<Written, ArchiveError> {
        {
            let objects = self.objects();
            if objects.incoming.contains_key(&id) || objects.committed.contains_key(&id) {
                return Err(ArchiveError::Exists(id));
            }
        }
        let (bytes, written) = Self::read_all(src, None)?;
        self.put_incoming(id, bytes)?;
        Ok(written)
    }

    fn adopt_incoming(&self, id: ObjectId, file: &Path) -> Result<Written, ArchiveError> {
        let mut f = std::fs::File::open(file).map_err(io_error("opening", file))?;
        self.write_incoming(id, &mut f)
    }

    fn adopt_incoming_hashed(
        &self,
        id: ObjectId,
        file: &Path,
        written: &Written,
    ) -> Result<(), ArchiveError> {
        let mut f = std::fs::File::open(file).map_err(io_error("opening", file))?;
        let (bytes, _) = Self::read_all(&mut f, Some(written))?;
        self.put_incoming(id, bytes)
    }

    fn promote(&self, id: ObjectId, lock: &Lock) -> Result<(), ArchiveError> {
        let mut objects = self.objects();
        if let Some(c) = objects.committed.get(&id) {
            return match objects.incoming.get(&id) {
                None if c.lock.covers(lock) => Ok(()),
                _ => Err(ArchiveError::Exists(id)),
            };
        }
        let bytes = objects
            .incoming
            .remove(&id)
            .ok_or(ArchiveError::NotFound(id))?;
        objects.committed.insert(
            id,
            Committed {
                bytes: Some(bytes),
                lock: *lock,
            },
        );
        Ok(())
    }

    fn discard_incoming(&self, id: ObjectId) -> Result<(), ArchiveError> {
        self.objects().incoming.remove(&id);
        Ok(())
    }

    fn incoming(&self) -> Result<Vec<ObjectId>, ArchiveError> {
        Ok(self.objects().incoming.keys().copied().collect())
    }

    fn objects(&self) -> Result<Vec<ObjectId>, ArchiveError> {
        Ok(self.objects().committed.keys().copied().collect())
    }

    fn open(&self, id: ObjectId) -> Result<ObjectReader, ArchiveError> {
        let bytes = self
            .objects()
            .committed
            .get(&id)
            .and_then(|c| c.bytes.clone())
            .ok_or(ArchiveError::NotFound(id))?;
        let len = bytes.len() as u64;
        Ok(ObjectReader::new(Cursor::new(bytes), len))
    }

    fn lock(&self, id: ObjectId) -> Result<Lock, ArchiveError> {
        self.objects()
            .committed
            .get(&id)
            .map(|c| c.lock)
            .ok_or(ArchiveError::NotFound(id))
    }

    fn set_hold(&self, id: ObjectId, hold: bool) -> Result<(), ArchiveError> {
        let mut objects = self.objects();
        let c = objects
            .committed
            .get_mut(&id)
            .ok_or(ArchiveError::NotFound(id))?;
        c.lock.hold = hold;
        Ok(())
    }

    fn extend_retention(&self, id: ObjectId, until: DateTime<Utc>) -> Result<(), ArchiveError> {
        let mut objects = self.objects();
        let c = objects
            .committed
            .get_mut(&id)
            .ok_or(ArchiveError::NotFound(id))?;
        match c.lock.retain_until {
            Some(current) if until < current => Err(ArchiveError::Retained { until: current }),
            _ => {
                c.lock.retain_until = Some(until);
                Ok(())
            }
        }
    }

    fn remove(&self, id: ObjectId, now: DateTime<Utc>) -> Result<(), ArchiveError> {
        let mut objects = self.objects();
        let Some(c) = objects.committed.get(&id) else {
            return Ok(());
        };
        if let Some(refusal) = c.lock.forbids_removal(now) {
            return Err(refusal);
        }
        objects.committed.remove(&id);
        Ok(())
    }

    fn replace(
        &self,
        id: ObjectId,
        good: &mut dyn Read,
        expect: &Written,
    ) -> Result<(), ArchiveError> {
        self.lock(id)?;
        let (bytes, _) = Self::read_all(good, Some(expect))?;
        let mut objects = self.objects();
        let c = objects
            .committed
            .get_mut(&id)
            .ok_or(ArchiveError::NotFound(id))?;
        c.bytes = Some(bytes);
        Ok(())
    }
}
