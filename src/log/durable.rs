//! Making what the log wrote survive a power cut, not only a killed process.
//!
//! sled 0.34's `flush()` writes its buffers and ends in `sync_file_range` on Linux (sled's
//! open issue "Data is not written durably"): the pages reach the device, but the device's
//! volatile cache is not flushed and the file's metadata (a grown file's size) is not synced;
//! sled's own `fsync` comes later, from a background thread. And a value larger than a
//! quarter of a segment goes to its own file under `blobs/`, which sled never syncs. So after
//! each `flush()` the store calls [`SledFiles::sync`]: `fsync` of sled's log file (`db`), of
//! every blob file it has not synced yet, and of the `blobs/` directory when it holds new
//! ones. Only then is a batch acknowledged.
//!
//! [`sync_dir`] is the last step of making a new or renamed file durable: its directory entry.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// `fsync` of a directory: the files created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `fsync` of every file under `dir` and of the directories themselves.
pub fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// The files of one sled database that its `flush()` leaves unsynced.
pub struct SledFiles {
    dir: PathBuf,
    /// sled's log file, kept open so that a write-back error is reported to this descriptor.
    log: File,
    /// The blob files already synced.
    blobs: HashSet<OsString>,
}

impl SledFiles {
    /// The files of the sled database in `dir` (opened and synced once, with the directory).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let log = File::open(dir.join("db"))?;
        let mut files = Self {
            dir: dir.to_owned(),
            log,
            blobs: HashSet::new(),
        };
        files.sync()?;
        sync_dir(dir)?;
        Ok(files)
    }

    /// `fsync` of sled's log file, and of the blob files (and their directory) written since
    /// the last call.
    pub fn sync(&mut self) -> io::Result<()> {
        self.log.sync_all()?;
        let blobs = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut present = HashSet::new();
        let mut new = false;
        for entry in entries {
            let name = entry?.file_name();
            if !self.blobs.contains(&name) {
                File::open(blobs.join(&name))?.sync_all()?;
                new = true;
            }
            present.insert(name);
        }
        if new {
            sync_dir(&blobs)?;
        }
        // Blobs sled removed (a value overwritten or deleted) are forgotten.
        self.blobs = present;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_a_sled_database_are_found_and_synced() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let mut files = SledFiles::open(dir.path()).unwrap();
        // A value large enough to be a blob file, and a small one.
        db.insert(b"big", vec![7u8; 1 << 20]).unwrap();
        db.insert(b"small", b"x".as_slice()).unwrap();
        db.flush().unwrap();
        files.sync().unwrap();
        let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(!blobs.is_empty(), "a 1 MiB value is a blob file");
        assert!(blobs.iter().all(|b| files.blobs.contains(b)));
        // What is known is what the directory holds: a blob sled removes is forgotten.
        db.remove(b"big").unwrap();
        db.flush().unwrap();
        files.sync().unwrap();
        let now: HashSet<OsString> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files.blobs, now);
    }

    #[test]
    fn a_database_without_its_log_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SledFiles::open(dir.path()).is_err());
    }
}
