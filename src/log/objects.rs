//! The log's public artifacts as plain objects: the checkpoint, the hash tiles and the entry
//! bundles, each at its c2sp.org/tlog-tiles path (`checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`). A store of them is a few methods, `put`, `get` and `delete`,
//! so that a directory, an in-memory map or, later, an S3-compatible bucket can hold them, and
//! any static file server can serve what the directory holds.
//!
//! The contract every implementation keeps:
//! - `put` writes a whole object or nothing, and when it returns the object is durable (it
//!   survives a power cut, not only a killed process) and every later `get` sees it;
//! - the store never needs a conditional write: the writer is one sequencer, and the order
//!   in which it writes objects and moves the checkpoint lock (in the state store) is what
//!   makes a crash harmless;
//! - a full tile or bundle, once a published checkpoint covers it, is never written again with
//!   other bytes; a partial one is replaced by the next, wider one.
//!
//! [`DirObjects`], the embedded default, makes a file durable the way Linux asks: a temporary
//! file created beside the target, written, `fsync`ed, renamed over the target, then the
//! directory `fsync`ed (and, for a directory it created, that directory's parent).
//! [`MemoryObjects`] is its twin for tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::fs::{Fs, OsFs};
use super::tiles::TilePath;

/// The name of an object: the checkpoint, or a tile or bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKey {
    /// The latest published checkpoint, `checkpoint` (the only object that changes).
    Checkpoint,
    /// A hash tile or an entry bundle, full or partial.
    Tile(TilePath),
}

impl ObjectKey {
    /// The object's c2sp.org/tlog-tiles path, relative to the log's prefix.
    pub fn path(&self) -> String {
        match self {
            ObjectKey::Checkpoint => "checkpoint".to_owned(),
            ObjectKey::Tile(t) => t.path(),
        }
    }

    /// Whether the object never changes once a published checkpoint covers it: every tile
    /// and bundle, full or partial (a wider partial has another path). The checkpoint changes.
    pub fn is_immutable(&self) -> bool {
        matches!(self, ObjectKey::Tile(_))
    }
}

/// Why an object store failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The backend failed (I/O, full disk, the service refused).
    #[error("object store failure while {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The object or directory.
        path: String,
        /// What the backend said.
        source: std::io::Error,
    },
}

/// Storage for the log's public artifacts.
pub trait ObjectStore: Send + Sync + 'static {
    /// Writes `data` as object `key`, replacing any previous version atomically; durable and
    /// visible to every later `get` when it returns.
    fn put(&self, key: &ObjectKey, data: &[u8]) -> Result<(), ObjectError>;

    /// Writes several objects, each as [`ObjectStore::put`] would, all durable when it
    /// returns (a store may share the syncs between them). Not atomic as a whole: after a
    /// failure some may be written.
    fn put_all(&self, objects: &[(ObjectKey, Vec<u8>)]) -> Result<(), ObjectError> {
        objects.iter().try_for_each(|(k, d)| self.put(k, d))
    }

    /// Object `key`, or `None` if there is none.
    fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ObjectError>;

    /// Removes object `key` if it exists (partial tiles a full one has replaced). Not
    /// necessarily durable: an object that a power cut brings back must be harmless.
    fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError>;

    /// The widths of the partial versions of `tile` (whose own width is ignored) that the
    /// store holds: `tile/<L>/<N>.p/<W>` for every `W` present, in any order.
    fn partials(&self, tile: &TilePath) -> Result<Vec<u64>, ObjectError>;
}

/// A shared store (a test reopens a log over the same objects).
impl<T: ObjectStore + ?Sized> ObjectStore for std::sync::Arc<T> {
    fn put(&self, key: &ObjectKey, data: &[u8]) -> Result<(), ObjectError> {
        (**self).put(key, data)
    }
    fn put_all(&self, objects: &[(ObjectKey, Vec<u8>)]) -> Result<(), ObjectError> {
        (**self).put_all(objects)
    }
    fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ObjectError> {
        (**self).get(key)
    }
    fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        (**self).delete(key)
    }
    fn partials(&self, tile: &TilePath) -> Result<Vec<u64>, ObjectError> {
        (**self).partials(tile)
    }
}

/// The objects in memory, for tests.
#[derive(Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<ObjectKey, Vec<u8>>>,
}

impl MemoryObjects {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys of every object held, in order.
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectKey, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ObjectStore for MemoryObjects {
    fn put(&self, key: &ObjectKey, data: &[u8]) -> Result<(), ObjectError> {
        self.lock().insert(*key, data.to_vec());
        Ok(())
    }

    fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ObjectError> {
        Ok(self.lock().get(key).cloned())
    }

    fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        self.lock().remove(key);
        Ok(())
    }

    fn partials(&self, tile: &TilePath) -> Result<Vec<u64>, ObjectError> {
        Ok(self
            .lock()
            .keys()
            .filter_map(|k| match k {
                ObjectKey::Tile(t) if t.kind == tile.kind && t.n == tile.n && !t.is_full() => {
                    Some(t.width)
                }
                _ => None,
            })
            .collect())
    }
}

/// The objects as files under one directory, in the c2sp.org/tlog-tiles path layout: point a
/// static file server at it and it serves the log. Nothing else is ever written there but
/// short-lived temporary files (`.tmp-*`, removed on open). The file system is [`OsFs`]; a
/// test puts [`super::fs::LossyFs`] under it to cut the power.
pub struct DirObjects<F: Fs = OsFs> {
    fs: F,
    root: PathBuf,
}

/// The prefix of a temporary file, beside the object it becomes.
const TEMP_PREFIX: &str = ".tmp-";

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ObjectError + 'a {
    move |source| ObjectError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

impl DirObjects<OsFs> {
    /// The objects under `root`, created (durably) if missing; temporary files a crash left
    /// there are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ObjectError> {
        Self::open_on(OsFs, root)
    }
}

impl<F: Fs> DirObjects<F> {
    /// [`DirObjects::open`] on the file system `fs`.
    pub fn open_on(fs: F, root: impl Into<PathBuf>) -> Result<Self, ObjectError> {
        let root = root.into();
        let store = Self { fs, root };
        store.create_dirs(&store.root)?;
        store.remove_temporaries(&store.root.clone())?;
        Ok(store)
    }

    /// The directory the objects are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file system under it.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    fn file(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.path())
    }

    /// `fsync` of a directory: its entries (a file created or renamed in it) are durable.
    fn sync_dir(&self, dir: &Path) -> Result<(), ObjectError> {
        self.fs
            .sync_dir(dir)
            .map_err(io("syncing the directory", dir))
    }

    /// Creates `dir` and its missing parents, each made durable in its parent.
    fn create_dirs(&self, dir: &Path) -> Result<(), ObjectError> {
        if self.fs.is_dir(dir) {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        match self.fs.create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(io("creating the directory", dir)(e)),
        }
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => self.sync_dir(parent),
            _ => Ok(()),
        }
    }

    fn remove_temporaries(&self, dir: &Path) -> Result<(), ObjectError> {
        for (name, is_dir) in self.fs.list(dir).map_err(io("listing", dir))? {
            let path = dir.join(&name);
            if is_dir {
                self.remove_temporaries(&path)?;
            } else if name.starts_with(TEMP_PREFIX) {
                self.fs
                    .remove_file(&path)
                    .map_err(io("removing the leftover", &path))?;
            }
        }
        Ok(())
    }

    /// Writes `data` to a new temporary file beside `target` and syncs it; returns its path.
    fn write_temporary(&self, target: &Path, data: &[u8]) -> Result<PathBuf, ObjectError> {
        let dir = target.parent().unwrap_or(&self.root);
        self.create_dirs(dir)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{name}-{:016x}",
            rand::random::<u64>()
        ));
        self.fs
            .write_synced(&temp, data)
            .map_err(io("writing", &temp))?;
        Ok(temp)
    }
}

impl<F: Fs> ObjectStore for DirObjects<F> {
    fn put(&self, key: &ObjectKey, data: &[u8]) -> Result<(), ObjectError> {
        self.put_all(&[(*key, data.to_vec())])
    }

    /// Every file written and synced, then every rename, then each directory synced once.
    fn put_all(&self, objects: &[(ObjectKey, Vec<u8>)]) -> Result<(), ObjectError> {
        let mut renames = Vec::with_capacity(objects.len());
        for (key, data) in objects {
            let target = self.file(key);
            match self.write_temporary(&target, data) {
                Ok(temp) => renames.push((temp, target)),
                Err(e) => {
                    for (temp, _) in &renames {
                        let _ = self.fs.remove_file(temp);
                    }
                    return Err(e);
                }
            }
        }
        let mut dirs = BTreeSet::new();
        for (temp, target) in &renames {
            self.fs
                .rename(temp, target)
                .map_err(io("renaming into place", target))?;
            if let Some(dir) = target.parent() {
                dirs.insert(dir.to_path_buf());
            }
        }
        dirs.iter().try_for_each(|d| self.sync_dir(d))
    }

    fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, ObjectError> {
        let path = self.file(key);
        match self.fs.read(&path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &path)(e)),
        }
    }

    fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        let path = self.file(key);
        match self.fs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("removing", &path)(e)),
        }
        // A `<N>.p/` directory left empty goes too (it fails harmlessly if not empty).
        if let Some(dir) = path
            .parent()
            .filter(|d| d.extension().is_some_and(|e| e == "p"))
        {
            let _ = self.fs.remove_dir(dir);
        }
        Ok(())
    }

    fn partials(&self, tile: &TilePath) -> Result<Vec<u64>, ObjectError> {
        let full = self.file(&ObjectKey::Tile(TilePath {
            width: super::tiles::TILE_WIDTH,
            ..*tile
        }));
        let dir = full.with_extension("p");
        let names = match self.fs.list(&dir) {
            Ok(names) => names,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("listing", &dir)(e)),
        };
        Ok(names
            .iter()
            .filter_map(|(n, _)| n.parse::<u64>().ok())
            .filter(|w| (1..super::tiles::TILE_WIDTH).contains(w))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tiles::TileKind;

    fn tile(level: u8, n: u64, width: u64) -> ObjectKey {
        ObjectKey::Tile(TilePath {
            kind: TileKind::Hash(level),
            n,
            width,
        })
    }

    fn bundle(n: u64, width: u64) -> ObjectKey {
        ObjectKey::Tile(TilePath {
            kind: TileKind::Entries,
            n,
            width,
        })
    }

    /// The same behaviour from every store.
    fn contract(store: &dyn ObjectStore) {
        assert_eq!(store.get(&ObjectKey::Checkpoint).unwrap(), None);
        store.put(&ObjectKey::Checkpoint, b"one").unwrap();
        store.put(&ObjectKey::Checkpoint, b"two").unwrap();
        assert_eq!(
            store.get(&ObjectKey::Checkpoint).unwrap().as_deref(),
            Some(&b"two"[..])
        );
        let objects = vec![
            (tile(0, 1234, 256), vec![1u8; 8192]),
            (tile(0, 1235, 7), vec![2u8; 7 * 32]),
            (bundle(1234, 256), b"bundle".to_vec()),
        ];
        store.put_all(&objects).unwrap();
        for (key, data) in &objects {
            assert_eq!(store.get(key).unwrap().as_ref(), Some(data));
        }
        store.delete(&tile(0, 1235, 7)).unwrap();
        store.delete(&tile(0, 1235, 7)).unwrap();
        assert_eq!(store.get(&tile(0, 1235, 7)).unwrap(), None);
    }

    #[test]
    fn memory_objects_keep_the_contract() {
        contract(&MemoryObjects::new());
    }

    #[test]
    fn directory_objects_keep_the_contract_in_the_tlog_tiles_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        let store = DirObjects::open(&root).unwrap();
        contract(&store);
        // Exactly the C2SP paths, and nothing else: a static server of `root` serves the log.
        let mut files = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        files.sort();
        assert_eq!(
            files,
            ["checkpoint", "tile/0/x001/234", "tile/entries/x001/234"]
        );
        assert_eq!(
            std::fs::read(root.join("tile/0/x001/234")).unwrap().len(),
            8192
        );
    }

    #[test]
    fn a_crash_leaves_no_temporary_behind_once_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirObjects::open(dir.path()).unwrap();
        store.put(&ObjectKey::Checkpoint, b"published").unwrap();
        // A write cut before its rename: the temporary is there, the object unchanged.
        let temp = store
            .write_temporary(&dir.path().join("checkpoint"), b"half")
            .unwrap();
        assert!(temp.exists());
        drop(store);
        let store = DirObjects::open(dir.path()).unwrap();
        assert!(!temp.exists());
        assert_eq!(
            store.get(&ObjectKey::Checkpoint).unwrap().as_deref(),
            Some(&b"published"[..])
        );
    }

    #[test]
    fn only_the_checkpoint_changes() {
        assert!(!ObjectKey::Checkpoint.is_immutable());
        assert!(tile(2, 0, 3).is_immutable() && bundle(0, 256).is_immutable());
        assert_eq!(bundle(5, 17).path(), "tile/entries/005.p/17");
    }
}
