//! Where objects are kept: the [`Location`] trait, and [`DirLocation`], a directory (one per
//! disk, for example).
//!
//! The trait is shaped so that an S3 bucket with Object Lock (compliance mode, versioning on)
//! can implement it later, with a call or two per method: `write_incoming` a `PutObject` (or a
//! multipart upload) under `incoming/<id>`; `promote` a write-once put of `objects/<id>`
//! (`If-None-Match: *`, with the retain-until date and the legal hold; a copy of the incoming
//! object), then a `DeleteObject` of the incoming one; `lock`, `set_hold` and
//! `extend_retention` the `Get`/`PutObjectRetention` and `Get`/`PutObjectLegalHold` calls
//! (compliance mode lets retention be extended, never shortened); `open` a `GetObject` with
//! `Range`; `objects` a `ListObjectsV2`; `remove` a `DeleteObject` of the locked version, which
//! the bucket itself refuses before the date (the implementation checks first, as a directory
//! does); `replace` a new version whose bytes were checked first. Nothing here needs a rename
//! of a committed object, or a listing consistent with a write in flight.
//!
//! # [`DirLocation`]'s layout, under its root
//!
//! - `incoming/<id>`: an object written, complete and durable, whose custody entry is not on
//!   the log yet. No lock: it may be discarded.
//! - `objects/<id>`: a committed object, mode 0400, and beside it `objects/<id>.lock`, its
//!   lock manifest, `{"v":1,"retain_until":"<RFC 3339 UTC>"|null,"hold":false}`. The manifest
//!   is written before the object is linked in, so that a committed object always has its lock.
//! - `tmp/`: files being written. One left there by a crash is garbage
//!   ([`DirLocation::sweep_tmp`]).
//!
//! Every operation that returns `Ok` has made what it did durable: a file is written in `tmp/`,
//! `fsync`ed, then linked (`link(2)`, which fails if the name exists, so that nothing is
//! overwritten by accident) or, for a lock manifest and a repair, renamed into place, and the
//! directory is `fsync`ed. A committed object is never written again, except by
//! [`Location::replace`], with bytes checked to be the very ones it held.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{io_error, ArchiveError, Lock, ObjectId, Written};

/// The size of the buffer objects are streamed through: 1 MiB.
pub const CHUNK: usize = 1 << 20;

/// The mode of a committed object and of its lock manifest: readable by its owner only, and
/// written by nobody.
const READ_ONLY: u32 = 0o400;

/// A place that keeps objects: a directory, or (later) an S3 bucket with Object Lock.
///
/// Every method that returns `Ok` has made its effect durable. Ids are random, so two callers
/// never write the same one; a location still refuses ([`ArchiveError::Exists`]) rather than
/// overwrite.
pub trait Location: Send + Sync {
    /// A short stable name, given at construction ("disk1").
    fn name(&self) -> &str;

    /// Streams `src` to its end into a new incoming object `id`, in constant memory, and
    /// returns the size and SHA-256 of the bytes written. `Exists` if `id` is incoming or
    /// committed already.
    fn write_incoming(&self, id: ObjectId, src: &mut dyn Read) -> Result<Written, ArchiveError>;

    /// Makes the staged file `file` (fully written and `fsync`ed by the caller, e.g. an upload)
    /// the incoming object `id`, hashing it. A directory links it when it can (the staged
    /// file must then never be written again; the caller removes its own name), and copies it
    /// otherwise.
    fn adopt_incoming(&self, id: ObjectId, file: &Path) -> Result<Written, ArchiveError>;

    /// As [`Location::adopt_incoming`], for a file whose size and SHA-256 the caller computed
    /// while staging it: a link does not read it again. A copy checks the bytes it copies, and
    /// the size is always checked (`Mismatch`, and nothing adopted, if they differ).
    fn adopt_incoming_hashed(
        &self,
        id: ObjectId,
        file: &Path,
        written: &Written,
    ) -> Result<(), ArchiveError>;

    /// Commits the incoming object `id` under `lock`: read-only, listed by
    /// [`Location::objects`], and removable only as the lock allows. Done again after success,
    /// or after a crash half way, it finishes the job and returns `Ok`, as long as the
    /// committed lock covers `lock` (it may have been extended since). `Exists` if another
    /// object is committed as `id`, `NotFound` if there is no incoming object `id`.
    fn promote(&self, id: ObjectId, lock: &Lock) -> Result<(), ArchiveError>;

    /// Removes the incoming object `id` (`Ok` if there is none). A committed object is not
    /// touched.
    fn discard_incoming(&self, id: ObjectId) -> Result<(), ArchiveError>;

    /// The incoming objects, in id order: after a crash, those whose custody the log does not
    /// record are to be discarded, the others promoted.
    fn incoming(&self) -> Result<Vec<ObjectId>, ArchiveError>;

    /// The committed objects, in id order (with a lock, whether or not their bytes are still
    /// there: fixity finds a lost one).
    fn objects(&self) -> Result<Vec<ObjectId>, ArchiveError>;

    /// Reads the committed object `id` (`NotFound` if it is absent).
    fn open(&self, id: ObjectId) -> Result<ObjectReader, ArchiveError>;

    /// The lock of the committed object `id`.
    fn lock(&self, id: ObjectId) -> Result<Lock, ArchiveError>;

    /// Sets or lifts the legal hold of the committed object `id`.
    fn set_hold(&self, id: ObjectId, hold: bool) -> Result<(), ArchiveError>;

    /// Keeps the committed object `id` until `until` at least. Retention is never shortened:
    /// `Retained` with the current date if `until` is earlier.
    fn extend_retention(&self, id: ObjectId, until: DateTime<Utc>) -> Result<(), ArchiveError>;

    /// Removes the committed object `id` and its lock, if its lock allows it at `now`:
    /// `Retained` before its retain-until date, `Held` under a legal hold. `Ok` if there is no
    /// such object. The location enforces this whatever the caller believes.
    fn remove(&self, id: ObjectId, now: DateTime<Utc>) -> Result<(), ArchiveError>;

    /// Repairs the committed object `id` with `good`, which must be exactly `expect`: the bytes
    /// are written aside and checked first (`Mismatch`, and nothing replaced, if they differ),
    /// then put in place of the damaged or lost ones. The only overwrite a location allows.
    fn replace(
        &self,
        id: ObjectId,
        good: &mut dyn Read,
        expect: &Written,
    ) -> Result<(), ArchiveError>;
}

/// Anything an [`ObjectReader`] can wrap.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A committed object being read: `Read + Seek`, with its length.
pub struct ObjectReader {
    inner: Box<dyn ReadSeek>,
    len: u64,
}

impl ObjectReader {
    /// Wraps `inner`, which holds `len` bytes (for a location to build its readers).
    pub fn new(inner: impl Read + Seek + Send + 'static, len: u64) -> Self {
        Self {
            inner: Box::new(inner),
            len,
        }
    }

    /// The object's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Which side of a copy failed.
pub(crate) enum CopyError {
    /// Reading the source.
    Read(io::Error),
    /// Writing the destination.
    Write(io::Error),
}

/// Copies `src` to its end into `dst` through `buf`, hashing what passes.
pub(crate) fn copy_hashed(
    src: &mut dyn Read,
    dst: &mut dyn Write,
    buf: &mut [u8],
) -> Result<Written, CopyError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match src.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(CopyError::Write)?;
        size += n as u64;
    }
    Ok(Written {
        size,
        sha256: hasher.finalize().into(),
    })
}

/// The size and SHA-256 of what `src` holds from where it is to its end.
pub(crate) fn hash_reader(src: &mut dyn Read) -> io::Result<Written> {
    let mut buf = vec![0u8; CHUNK];
    copy_hashed(src, &mut io::sink(), &mut buf).map_err(|e| match e {
        CopyError::Read(e) | CopyError::Write(e) => e,
    })
}

/// The lock manifest, `objects/<id>.lock`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The format's version: 1.
    v: u32,
    retain_until: Option<DateTime<Utc>>,
    hold: bool,
}

/// A file being written in `tmp/`, removed when dropped unless it was renamed away.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// It was renamed: nothing to remove.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a file left behind is swept at the next start.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `fsync` of a directory: the names created, renamed or removed in it are durable.
fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing directory", dir))
}

/// The metadata of `path`, or `None` if there is nothing there.
fn metadata(path: &Path) -> Result<Option<fs::Metadata>, ArchiveError> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("reading metadata of", path)(e)),
    }
}

/// Removes the file `path`; `false` if it was not there.
fn remove_file(path: &Path) -> Result<bool, ArchiveError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("removing", path)(e)),
    }
}

/// The size and SHA-256 of the file `path`.
fn hash_file(path: &Path) -> Result<Written, ArchiveError> {
    File::open(path)
        .and_then(|mut f| hash_reader(&mut f))
        .map_err(io_error("reading", path))
}

/// A directory of objects, laid out as the module's doc says.
pub struct DirLocation {
    name: String,
    root: PathBuf,
    incoming: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    /// One of these is held while a lock manifest is read and rewritten, or an object
    /// promoted, removed or replaced, so that two such operations on one object cannot
    /// interleave; objects share them by their id, so that others (most promotions at once,
    /// each with its `fsync`s) rarely wait for each other.
    guards: Vec<Mutex<()>>,
}

/// How many guards a [`DirLocation`] spreads its objects over.
const GUARDS: usize = 64;

impl fmt::Debug for DirLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirLocation")
            .field("name", &self.name)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl DirLocation {
    /// The location `name` in the directory `root`, created with its subdirectories if need
    /// be. One process opens a root at a time.
    pub fn open(name: impl Into<String>, root: impl AsRef<Path>) -> Result<Self, ArchiveError> {
        let root = root.as_ref().to_owned();
        if metadata(&root)?.is_none() {
            fs::create_dir_all(&root).map_err(io_error("creating directory", &root))?;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let location = Self {
            name: name.into(),
            incoming: root.join("incoming"),
            objects: root.join("objects"),
            tmp: root.join("tmp"),
            root,
            guards: (0..GUARDS).map(|_| Mutex::new(())).collect(),
        };
        let mut created = false;
        for dir in [&location.incoming, &location.objects, &location.tmp] {
            match fs::create_dir(dir) {
                Ok(()) => created = true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(io_error("creating directory", dir)(e)),
            }
        }
        if created {
            sync_dir(&location.root)?;
        }
        Ok(location)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds the committed object `id` (for tools and tests: read it through
    /// [`Location::open`]).
    pub fn object_path(&self, id: ObjectId) -> PathBuf {
        self.objects.join(id.to_string())
    }

    /// The file that holds the incoming object `id`.
    pub fn incoming_path(&self, id: ObjectId) -> PathBuf {
        self.incoming.join(id.to_string())
    }

    /// Removes what a crash left in `tmp/`, and says how many files that was. Only at start,
    /// before any write: it would remove a file being written.
    pub fn sweep_tmp(&self) -> Result<usize, ArchiveError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp).map_err(io_error("listing", &self.tmp))? {
            let path = entry.map_err(io_error("listing", &self.tmp))?.path();
            if remove_file(&path)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn lock_path(&self, id: ObjectId) -> PathBuf {
        self.objects.join(format!("{id}.lock"))
    }

    /// The guard of object `id`.
    fn guard(&self, id: ObjectId) -> MutexGuard<'_, ()> {
        // Ids are random: their low bits spread them evenly.
        let i = (id.as_uuid().as_u128() % GUARDS as u128) as usize;
        // A guard protects no data of its own: a panic while held leaves nothing half done in
        // memory, so a poisoned one is as good as any.
        self.guards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new file in `tmp/`, created read-only (the descriptor returned may still write it).
    fn create_temp(&self, what: &str) -> Result<(TempFile, File), ArchiveError> {
        let path = self
            .tmp
            .join(format!("{what}.{}", uuid::Uuid::new_v4().simple()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(READ_ONLY)
            .open(&path)
            .map_err(io_error("creating", &path))?;
        Ok((TempFile { path, armed: true }, file))
    }

    /// Writes `src` into a new file in `tmp/`, durable, to become `dest`, and checks it
    /// against `expect` if given.
    fn write_temp(
        &self,
        id: ObjectId,
        dest: &Path,
        src: &mut dyn Read,
        expect: Option<&Written>,
    ) -> Result<(TempFile, Written), ArchiveError> {
        let (temp, mut file) = self.create_temp(&id.to_string())?;
        let mut buf = vec![0u8; CHUNK];
        let written = copy_hashed(src, &mut file, &mut buf).map_err(|e| match e {
            CopyError::Read(e) => io_error("reading the source bytes of", dest)(e),
            CopyError::Write(e) => io_error("writing", &temp.path)(e),
        })?;
        if let Some(expected) = expect.filter(|e| **e != written) {
            return Err(ArchiveError::Mismatch {
                expected: *expected,
                found: written,
            });
        }
        file.sync_all().map_err(io_error("syncing", &temp.path))?;
        Ok((temp, written))
    }

    /// `Exists` if `id` is incoming or committed.
    fn refuse_existing(&self, id: ObjectId) -> Result<(), ArchiveError> {
        for path in [self.incoming_path(id), self.object_path(id)] {
            if metadata(&path)?.is_some() {
                return Err(ArchiveError::Exists(id));
            }
        }
        Ok(())
    }

    /// Writes `src` (checked against `expect` if given) as the incoming object `id`.
    fn write_new(
        &self,
        id: ObjectId,
        src: &mut dyn Read,
        expect: Option<&Written>,
    ) -> Result<Written, ArchiveError> {
        self.refuse_existing(id)?;
        let dest = self.incoming_path(id);
        let (temp, written) = self.write_temp(id, &dest, src, expect)?;
        match fs::hard_link(&temp.path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ArchiveError::Exists(id))
            }
            Err(e) => return Err(io_error("linking", &dest)(e)),
        }
        drop(temp); // its second name
        sync_dir(&self.incoming)?;
        Ok(written)
    }

    /// Links the staged `file` as the incoming object `id`: `Ok(false)` if it cannot be linked
    /// (another file system, or one without hard links) and must be copied.
    fn link_incoming(&self, id: ObjectId, file: &Path) -> Result<bool, ArchiveError> {
        self.refuse_existing(id)?;
        match fs::hard_link(file, self.incoming_path(id)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(ArchiveError::Exists(id)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io_error("linking", file)(e)),
            Err(_) => Ok(false),
        }
    }

    /// The lock of `id`, or `None` if it has no manifest (it is not committed).
    fn read_lock(&self, id: ObjectId) -> Result<Option<Lock>, ArchiveError> {
        let path = self.lock_path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("reading", &path)(e)),
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| ArchiveError::Corrupt(format!("{}: {e}", path.display())))?;
        if manifest.v != 1 {
            return Err(ArchiveError::Corrupt(format!(
                "{}: unknown version {}",
                path.display(),
                manifest.v
            )));
        }
        Ok(Some(Lock {
            retain_until: manifest.retain_until,
            hold: manifest.hold,
        }))
    }

    /// The lock of the committed object `id`, or `NotFound`.
    fn committed_lock(&self, id: ObjectId) -> Result<Lock, ArchiveError> {
        self.read_lock(id)?.ok_or(ArchiveError::NotFound(id))
    }

    /// Writes the lock manifest of `id` atomically and durably.
    fn write_lock(&self, id: ObjectId, lock: &Lock) -> Result<(), ArchiveError> {
        let manifest = Manifest {
            v: 1,
            retain_until: lock.retain_until,
            hold: lock.hold,
        };
        let json = serde_json::to_vec(&manifest)
            .map_err(|e| ArchiveError::Corrupt(format!("lock manifest of {id}: {e}")))?;
        let (temp, mut file) = self.create_temp(&format!("{id}.lock"))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(io_error("writing", &temp.path))?;
        let dest = self.lock_path(id);
        fs::rename(&temp.path, &dest).map_err(io_error("renaming to", &dest))?;
        temp.disarm();
        sync_dir(&self.objects)
    }

    /// Makes the incoming object `id` read-only, durably, if it is not (an adopted file).
    fn make_read_only(&self, id: ObjectId, meta: &fs::Metadata) -> Result<(), ArchiveError> {
        if meta.mode() & 0o7777 == READ_ONLY {
            return Ok(());
        }
        let path = self.incoming_path(id);
        let file = File::open(&path).map_err(io_error("opening", &path))?;
        file.set_permissions(fs::Permissions::from_mode(READ_ONLY))
            .and_then(|()| file.sync_all())
            .map_err(io_error("making read-only", &path))
    }

    /// The ids named by the files of `dir`, with `suffix` taken off where it ends them.
    fn list(&self, dir: &Path, suffix: &str) -> Result<Vec<ObjectId>, ArchiveError> {
        let mut ids = BTreeSet::new();
        for entry in fs::read_dir(dir).map_err(io_error("listing", dir))? {
            let name = entry.map_err(io_error("listing", dir))?.file_name();
            let Some(name) = name.to_str() else { continue };
            let name = name.strip_suffix(suffix).unwrap_or(name);
            // Anything else (a file put there by hand) is not an object of ours.
            if let Ok(id) = name.parse() {
                ids.insert(id);
            }
        }
        Ok(ids.into_iter().collect())
    }
}

impl Location for DirLocation {
    fn name(&self) -> &str {
        &self.name
    }

    fn write_incoming(&self, id: ObjectId, src: &mut dyn Read) -> Result<Written, ArchiveError> {
        self.write_new(id, src, None)
    }

    fn adopt_incoming(&self, id: ObjectId, file: &Path) -> Result<Written, ArchiveError> {
        if !self.link_incoming(id, file)? {
            let mut src = File::open(file).map_err(io_error("opening", file))?;
            return self.write_new(id, &mut src, None);
        }
        match hash_file(&self.incoming_path(id)).and_then(|w| {
            sync_dir(&self.incoming)?;
            Ok(w)
        }) {
            Ok(written) => Ok(written),
            Err(e) => {
                let _ = fs::remove_file(self.incoming_path(id));
                Err(e)
            }
        }
    }

    fn adopt_incoming_hashed(
        &self,
        id: ObjectId,
        file: &Path,
        written: &Written,
    ) -> Result<(), ArchiveError> {
        let size = fs::metadata(file)
            .map_err(io_error("reading metadata of", file))?
            .len();
        if size != written.size {
            return Err(ArchiveError::Mismatch {
                expected: *written,
                found: hash_file(file)?,
            });
        }
        if self.link_incoming(id, file)? {
            return sync_dir(&self.incoming).inspect_err(|_| {
                let _ = fs::remove_file(self.incoming_path(id));
            });
        }
        let mut src = File::open(file).map_err(io_error("opening", file))?;
        self.write_new(id, &mut src, Some(written)).map(drop)
    }

    fn promote(&self, id: ObjectId, lock: &Lock) -> Result<(), ArchiveError> {
        let _guard = self.guard(id);
        let (object, incoming) = (self.object_path(id), self.incoming_path(id));
        let committed = self.read_lock(id)?;
        match (metadata(&object)?, metadata(&incoming)?) {
            (Some(o), Some(i)) => {
                if (o.dev(), o.ino()) != (i.dev(), i.ino()) {
                    return Err(ArchiveError::Exists(id));
                }
                // A promote that stopped after linking: its incoming name is left.
                match committed {
                    Some(c) if c.covers(lock) => {}
                    Some(_) => return Err(ArchiveError::Exists(id)),
                    None => return Err(no_manifest(id)),
                }
                remove_file(&incoming)?;
                sync_dir(&self.incoming)
            }
            (Some(_), None) => match committed {
                Some(c) if c.covers(lock) => Ok(()),
                Some(_) => Err(ArchiveError::Exists(id)),
                None => Err(no_manifest(id)),
            },
            (None, Some(i)) => {
                self.make_read_only(id, &i)?;
                // A promote that stopped after writing the manifest left it: keep the stronger.
                let lock = committed.map_or(*lock, |c| c.strongest(lock));
                self.write_lock(id, &lock)?;
                match fs::hard_link(&incoming, &object) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(ArchiveError::Exists(id))
                    }
                    Err(e) => return Err(io_error("linking", &object)(e)),
                }
                sync_dir(&self.objects)?;
                remove_file(&incoming)?;
                sync_dir(&self.incoming)
            }
            (None, None) => Err(ArchiveError::NotFound(id)),
        }
    }

    fn discard_incoming(&self, id: ObjectId) -> Result<(), ArchiveError> {
        if remove_file(&self.incoming_path(id))? {
            sync_dir(&self.incoming)?;
        }
        Ok(())
    }

    fn incoming(&self) -> Result<Vec<ObjectId>, ArchiveError> {
        self.list(&self.incoming, "")
    }

    fn objects(&self) -> Result<Vec<ObjectId>, ArchiveError> {
        self.list(&self.objects, ".lock")
    }

    fn open(&self, id: ObjectId) -> Result<ObjectReader, ArchiveError> {
        let path = self.object_path(id);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ArchiveError::NotFound(id))
            }
            Err(e) => return Err(io_error("opening", &path)(e)),
        };
        let len = file
            .metadata()
            .map_err(io_error("reading metadata of", &path))?
            .len();
        Ok(ObjectReader::new(file, len))
    }

    fn lock(&self, id: ObjectId) -> Result<Lock, ArchiveError> {
        self.committed_lock(id)
    }

    fn set_hold(&self, id: ObjectId, hold: bool) -> Result<(), ArchiveError> {
        let _guard = self.guard(id);
        let lock = self.committed_lock(id)?;
        if lock.hold == hold {
            return Ok(());
        }
        self.write_lock(id, &Lock { hold, ..lock })
    }

    fn extend_retention(&self, id: ObjectId, until: DateTime<Utc>) -> Result<(), ArchiveError> {
        let _guard = self.guard(id);
        let lock = self.committed_lock(id)?;
        match lock.retain_until {
            Some(current) if until < current => Err(ArchiveError::Retained { until: current }),
            Some(current) if until == current => Ok(()),
            _ => self.write_lock(
                id,
                &Lock {
                    retain_until: Some(until),
                    ..lock
                },
            ),
        }
    }

    fn remove(&self, id: ObjectId, now: DateTime<Utc>) -> Result<(), ArchiveError> {
        let _guard = self.guard(id);
        let object = self.object_path(id);
        let Some(lock) = self.read_lock(id)? else {
            return match metadata(&object)? {
                Some(_) => Err(no_manifest(id)),
                None => Ok(()),
            };
        };
        if let Some(refusal) = lock.forbids_removal(now) {
            return Err(refusal);
        }
        remove_file(&object)?;
        remove_file(&self.lock_path(id))?;
        sync_dir(&self.objects)
    }

    fn replace(
        &self,
        id: ObjectId,
        good: &mut dyn Read,
        expect: &Written,
    ) -> Result<(), ArchiveError> {
        self.committed_lock(id)?;
        let object = self.object_path(id);
        let (temp, _) = self.write_temp(id, &object, good, Some(expect))?;
        let _guard = self.guard(id);
        // Still committed (not removed while the bytes were copied).
        self.committed_lock(id)?;
        fs::rename(&temp.path, &object).map_err(io_error("renaming to", &object))?;
        temp.disarm();
        sync_dir(&self.objects)
    }
}

/// A committed object without its lock manifest, which promotion never leaves.
fn no_manifest(id: ObjectId) -> ArchiveError {
    ArchiveError::Corrupt(format!("object {id} has no lock manifest"))
}
