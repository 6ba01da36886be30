//! Upload sessions: a dataset's bytes arriving in pieces at increasing offsets, staged until
//! they are whole, then checked against the size and SHA-256 its signed deposit statement
//! names. The protocol is the core of tus 1.0 (resumable uploads): a session is opened with
//! the statement, `PATCH` appends at the session's offset and answers the new offset once the
//! bytes are synced, `HEAD` tells where to resume after a dropped connection. Nothing here
//! knows HTTP or the log.
//!
//! A session is a ticket (`<id>.json`: who, what, when) and a data file (`<id>.data`), under
//! the uploads directory, their owner's only. A public dataset's bytes are staged as they
//! come; the session survives a restart of the server (its digest is recomputed from the
//! staged bytes). A private dataset's bytes are encrypted as they come, to the object's own
//! key, which lives in memory only until the log keeps it: the staged file is already the
//! archived object's ciphertext, never the plaintext, and a restart ends the session.
//! Abandoned sessions expire; [`Uploads::sweep`] deletes them.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::crypt::{self, EncryptWriter, ObjectKey};
use super::Written;

/// From this size on, a piece is hashed on another thread while it is written.
const PARALLEL: usize = 256 << 10;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No such session (never opened, expired, finished or abandoned).
    #[error("no upload session {0}")]
    NotFound(Uuid),
    /// The client's offset is not the session's.
    #[error("the upload is at offset {at}, not {given}")]
    Offset {
        /// The session's offset.
        at: u64,
        /// The offset the client sent.
        given: u64,
    },
    /// More bytes than the statement's size.
    #[error("the upload has {size} bytes; {beyond} more than that were sent")]
    TooLong {
        /// The statement's size.
        size: u64,
        /// How many bytes too many.
        beyond: u64,
    },
    /// Another request is writing to this session.
    #[error("another request is writing to upload {0}")]
    Busy(Uuid),
    /// The bytes are whole but are not the ones the statement describes.
    #[error("the bytes received have SHA-256 {got}, not the statement's {want}")]
    Digest {
        /// The statement's digest, hex.
        want: String,
        /// The received bytes' digest, hex.
        got: String,
    },
    /// The session is not complete yet.
    #[error("the upload has {offset} of {size} bytes")]
    Incomplete {
        /// Bytes received.
        offset: u64,
        /// Bytes expected.
        size: u64,
    },
    /// The statement's nonce is already used by an open session.
    #[error("an open upload session already uses this statement's nonce")]
    NonceInUse,
    /// The staging directory failed.
    #[error("staging {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The encryption failed.
    #[error("encrypting the upload: {0}")]
    Crypto(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> UploadError + 'a {
    move |source| UploadError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What a session is for, as its ticket keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// Format version: 1.
    pub v: u8,
    /// The session id.
    pub id: Uuid,
    /// The depositor.
    pub participant: Uuid,
    /// The statement's nonce (reserved while the session is open).
    pub nonce: String,
    /// The dataset's size, from the statement.
    pub size: u64,
    /// Its SHA-256, hex, from the statement.
    pub sha256: String,
    /// Staged encrypted (a private deposit).
    pub private: bool,
    /// The signed deposit statement (the DSSE envelope's JSON bytes, as sent).
    pub statement: String,
    /// When the session was opened and the statement found fresh.
    pub opened_at: DateTime<Utc>,
}

/// Where the staged bytes go.
enum Sink {
    /// The plaintext, into the data file.
    Plain(Hashed<File>),
    /// The age ciphertext, into the data file; the key that opens it.
    Sealed(Box<EncryptWriter<Hashed<File>>>, ObjectKey),
    /// Finished (or broken): nothing more is written.
    Closed,
}

/// A writer that hashes (when asked) and counts what passes through.
pub struct Hashed<W> {
    inner: W,
    sha: Option<Sha256>,
    len: u64,
}

impl<W> Hashed<W> {
    /// Hashes what passes: the ciphertext of a private upload.
    fn new(inner: W) -> Self {
        Self {
            inner,
            sha: Some(Sha256::new()),
            len: 0,
        }
    }

    /// Only counts: a public upload stores its plaintext, already hashed once.
    fn counting(inner: W) -> Self {
        Self {
            inner,
            sha: None,
            len: 0,
        }
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(sha) = &mut self.sha {
            sha.update(&buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One open session.
pub struct Session {
    ticket: Ticket,
    /// The offset last synced, readable without the session's lock.
    durable: Arc<std::sync::atomic::AtomicU64>,
    data: PathBuf,
    offset: u64,
    plain: Sha256,
    sink: Sink,
    touched: DateTime<Utc>,
}

/// A finished session's bytes, checked: the staged file and what it holds.
pub struct Staged {
    /// The staged file (the object's stored bytes).
    pub path: PathBuf,
    /// Size and SHA-256 of the stored bytes (the ciphertext when encrypted).
    pub stored: Written,
    /// The object's key, for a private deposit.
    pub key: Option<ObjectKey>,
    /// The session's ticket.
    pub ticket: Ticket,
}

impl Session {
    /// The ticket.
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// Bytes received and staged.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// When it expires, given the configured idle time.
    pub fn expires_at(&self, idle: Duration) -> DateTime<Utc> {
        self.touched + idle
    }

    /// Appends `bytes` at the session's offset. A client resuming sends the offset it
    /// learnt; [`Uploads::check_offset`] compares before any byte is read.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let room = self.ticket.size - self.offset;
        if bytes.len() as u64 > room {
            return Err(UploadError::TooLong {
                size: self.ticket.size,
                beyond: bytes.len() as u64 - room,
            });
        }
        let write = |sink: &mut Sink| match sink {
            Sink::Plain(w) => w.write_all(bytes),
            Sink::Sealed(w, _) => w.write_all(bytes),
            Sink::Closed => Err(io::Error::other("the session is closed")),
        };
        let (plain, sink) = (&mut self.plain, &mut self.sink);
        // SHA-256 costs about as much as the disk: a large piece is hashed on a second core
        // while it is written (or encrypted and written).
        let result = if bytes.len() >= PARALLEL {
            std::thread::scope(|s| {
                s.spawn(|| plain.update(bytes));
                write(sink)
            })
        } else {
            plain.update(bytes);
            write(sink)
        };
        if let Err(e) = result {
            // The file may now hold part of `bytes`: the session cannot go on (the digest
            // is then never used).
            self.sink = Sink::Closed;
            return Err(io_err("writing", &self.data)(e));
        }
        self.offset += bytes.len() as u64;
        self.touched = Utc::now();
        Ok(())
    }

    /// Makes what was appended durable (the data file's `fdatasync`): called before the new
    /// offset is answered. The encrypted sink keeps the last partial 64 KiB chunk in memory,
    /// which a restart loses anyway with the key.
    pub fn sync(&mut self) -> Result<(), UploadError> {
        let file = match &mut self.sink {
            Sink::Plain(w) => &mut w.inner,
            Sink::Sealed(w, _) => {
                w.flush().map_err(io_err("flushing", &self.data))?;
                // What the encryption holds back (the last partial chunk) is in memory, as
                // is the key: the session lives in this process only.
                self.durable
                    .store(self.offset, std::sync::atomic::Ordering::Release);
                return Ok(());
            }
            Sink::Closed => return Ok(()),
        };
        file.flush().map_err(io_err("flushing", &self.data))?;
        file.sync_data().map_err(io_err("syncing", &self.data))?;
        self.durable
            .store(self.offset, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Closes a complete session: checks the plaintext's digest against the statement's,
    /// finishes the encryption, syncs the file.
    fn finish(&mut self) -> Result<Staged, UploadError> {
        if self.offset != self.ticket.size {
            return Err(UploadError::Incomplete {
                offset: self.offset,
                size: self.ticket.size,
            });
        }
        let plain: [u8; 32] = self.plain.clone().finalize().into();
        let got = crate::field::hex(&plain);
        if got != self.ticket.sha256 {
            self.sink = Sink::Closed;
            return Err(UploadError::Digest {
                want: self.ticket.sha256.clone(),
                got,
            });
        }
        let (hashed, key) = match std::mem::replace(&mut self.sink, Sink::Closed) {
            Sink::Plain(w) => (w, None),
            Sink::Sealed(w, key) => (
                w.finish().map_err(|e| UploadError::Crypto(e.to_string()))?,
                Some(key),
            ),
            Sink::Closed => {
                return Err(UploadError::Io {
                    action: "finishing",
                    path: self.data.clone(),
                    source: io::Error::other("an earlier write failed"),
                })
            }
        };
        let Hashed { inner, sha, len } = hashed;
        inner.sync_all().map_err(io_err("syncing", &self.data))?;
        Ok(Staged {
            path: self.data.clone(),
            stored: Written {
                size: len,
                sha256: sha.map_or(plain, |s| s.finalize().into()),
            },
            key,
            ticket: self.ticket.clone(),
        })
    }
}

/// A session handle: the lock serialises writers (held across a request's body, hence an
/// async lock); a second writer is refused, not queued.
pub type Handle = Arc<tokio::sync::Mutex<Session>>;

/// An open session as the map keeps it: what never changes and the synced offset are read
/// without its lock, so that a status read or another session's opening never finds it
/// busy.
struct Slot {
    ticket: Arc<Ticket>,
    durable: Arc<std::sync::atomic::AtomicU64>,
    handle: Handle,
}

/// Where a session stands, read without its lock.
#[derive(Debug, Clone)]
pub struct Status {
    /// Its ticket.
    pub ticket: Arc<Ticket>,
    /// The offset last synced.
    pub offset: u64,
}

/// The open sessions, over one staging directory.
pub struct Uploads {
    dir: PathBuf,
    idle: Duration,
    sessions: Mutex<HashMap<Uuid, Slot>>,
}

fn sync_dir(dir: &Path) -> Result<(), UploadError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}

impl Uploads {
    /// The sessions staged under `dir` (created if needed), which expire after `idle` without
    /// a byte. Public sessions staged before a restart are taken up again, their digest
    /// recomputed from the staged bytes; private ones, whose key died with the process, and
    /// stray files are deleted.
    pub fn open(dir: &Path, idle: Duration) -> Result<Self, UploadError> {
        fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        let uploads = Self {
            dir: dir.to_owned(),
            idle,
            sessions: Mutex::new(HashMap::new()),
        };
        let entries = fs::read_dir(dir).map_err(io_err("listing", dir))?;
        let mut names = Vec::new();
        for e in entries {
            names.push(e.map_err(io_err("listing", dir))?.path());
        }
        let mut kept = Vec::new();
        for path in &names {
            if path.extension().is_some_and(|e| e == "json") {
                match uploads.resume(path) {
                    Ok(Some(id)) => kept.push(id),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, path = %path.display(), "an upload session could not be resumed; deleted")
                    }
                }
            }
        }
        for path in &names {
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| Uuid::parse_str(s).ok());
            if !id.is_some_and(|id| kept.contains(&id)) {
                let _ = fs::remove_file(path);
            }
        }
        Ok(uploads)
    }

    fn paths(&self, id: Uuid) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{id}.json")),
            self.dir.join(format!("{id}.data")),
        )
    }

    fn resume(&self, ticket_path: &Path) -> Result<Option<Uuid>, UploadError> {
        let bytes = fs::read(ticket_path).map_err(io_err("reading", ticket_path))?;
        let Ok(ticket) = serde_json::from_slice::<Ticket>(&bytes) else {
            return Ok(None);
        };
        if ticket.private {
            return Ok(None);
        }
        let (_, data) = self.paths(ticket.id);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&data)
            .map_err(io_err("opening", &data))?;
        let mut plain = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut offset = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io_err("reading", &data))?;
            if n == 0 {
                break;
            }
            plain.update(&buf[..n]);
            offset += n as u64;
        }
        if offset > ticket.size {
            return Ok(None);
        }
        let touched = fs::metadata(&data)
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .unwrap_or_else(|_| Utc::now());
        let mut hashed = Hashed::counting(file);
        hashed.len = offset;
        let id = ticket.id;
        let durable = Arc::new(std::sync::atomic::AtomicU64::new(offset));
        let slot_ticket = Arc::new(ticket.clone());
        let session = Session {
            ticket,
            durable: durable.clone(),
            data,
            offset,
            plain,
            sink: Sink::Plain(hashed),
            touched,
        };
        self.lock().insert(
            id,
            Slot {
                ticket: slot_ticket,
                durable,
                handle: Arc::new(tokio::sync::Mutex::new(session)),
            },
        );
        Ok(Some(id))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Slot>> {
        // A panic while holding the map's lock leaves a consistent map (every operation on it
        // is a single insert, get or remove).
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The idle time after which a session expires.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Opens a session for `ticket`: its ticket is durable when this returns. A private
    /// deposit's bytes will be staged encrypted to a new object key.
    pub fn open_session(&self, ticket: Ticket) -> Result<Handle, UploadError> {
        let mut sessions = self.lock();
        if sessions
            .values()
            .any(|s| s.ticket.participant == ticket.participant && s.ticket.nonce == ticket.nonce)
        {
            return Err(UploadError::NonceInUse);
        }
        let (ticket_path, data) = self.paths(ticket.id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&data)
            .map_err(io_err("creating", &data))?;
        let sink = if ticket.private {
            let key = ObjectKey::generate();
            let writer = crypt::encrypt_to(&key, &[], Hashed::new(file))
                .map_err(|e| UploadError::Crypto(e.to_string()))?;
            Sink::Sealed(Box::new(writer), key)
        } else {
            Sink::Plain(Hashed::counting(file))
        };
        let body = serde_json::to_vec(&ticket).map_err(|e| UploadError::Io {
            action: "encoding",
            path: ticket_path.clone(),
            source: io::Error::other(e),
        })?;
        let tmp = self.dir.join(format!("{}.json.tmp", ticket.id));
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &ticket_path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&data);
            return Err(io_err("writing", &ticket_path)(e));
        }
        sync_dir(&self.dir)?;
        let id = ticket.id;
        let durable = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let slot_ticket = Arc::new(ticket.clone());
        let handle = Arc::new(tokio::sync::Mutex::new(Session {
            ticket,
            durable: durable.clone(),
            data,
            offset: 0,
            plain: Sha256::new(),
            sink,
            touched: Utc::now(),
        }));
        sessions.insert(
            id,
            Slot {
                ticket: slot_ticket,
                durable,
                handle: handle.clone(),
            },
        );
        Ok(handle)
    }

    /// The open session `id`.
    pub fn get(&self, id: Uuid) -> Result<Handle, UploadError> {
        self.lock()
            .get(&id)
            .map(|s| s.handle.clone())
            .ok_or(UploadError::NotFound(id))
    }

    /// Where session `id` stands, without waiting for a request writing to it: its ticket and
    /// the offset last synced.
    pub fn status(&self, id: Uuid) -> Result<Status, UploadError> {
        self.lock()
            .get(&id)
            .map(|s| Status {
                ticket: s.ticket.clone(),
                offset: s.durable.load(std::sync::atomic::Ordering::Acquire),
            })
            .ok_or(UploadError::NotFound(id))
    }

    /// The open sessions of `participant`: their declared sizes count against its quota.
    pub fn reserved(&self, participant: Uuid) -> u64 {
        self.lock()
            .values()
            .filter(|s| s.ticket.participant == participant)
            .map(|s| s.ticket.size)
            .sum()
    }

    /// Finishes a session (whose lock the caller holds): its bytes, checked; the session is
    /// closed and stays on disk until [`Uploads::remove`] (after the archive adopted the
    /// staged file). On a digest mismatch the session is removed with its bytes.
    pub fn finish(&self, session: &mut Session) -> Result<Staged, UploadError> {
        match session.finish() {
            Err(e @ UploadError::Digest { .. }) => {
                self.remove(session.ticket.id);
                Err(e)
            }
            other => other,
        }
    }

    /// Deletes session `id` and its staged bytes (abandoned, expired, or adopted).
    pub fn remove(&self, id: Uuid) {
        self.lock().remove(&id);
        let (ticket, data) = self.paths(id);
        let _ = fs::remove_file(ticket);
        let _ = fs::remove_file(data);
        let _ = sync_dir(&self.dir);
    }

    /// Deletes the sessions idle for longer than the idle time at `now`; how many.
    pub fn sweep(&self, now: DateTime<Utc>) -> usize {
        let expired: Vec<Uuid> = self
            .lock()
            .iter()
            .filter_map(|(id, s)| {
                // A session being written to is not idle.
                let s = s.handle.try_lock().ok()?;
                (s.touched + self.idle < now).then_some(*id)
            })
            .collect();
        for id in &expired {
            self.remove(*id);
        }
        expired.len()
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Compares a client's offset with the session's before any byte is read.
pub fn check_offset(session: &Session, given: u64) -> Result<(), UploadError> {
    if session.offset != given {
        return Err(UploadError::Offset {
            at: session.offset,
            given,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(data: &[u8], private: bool) -> Ticket {
        Ticket {
            v: 1,
            id: Uuid::new_v4(),
            participant: Uuid::from_u128(7),
            nonce: format!("nonce-{}", Uuid::new_v4()),
            size: data.len() as u64,
            sha256: crate::field::hex(&Sha256::digest(data)),
            private,
            statement: "{}".into(),
            opened_at: Utc::now(),
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_public_upload_resumes_after_a_restart_from_its_staged_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(300_000);
        let t = ticket(&data, false);
        let id = t.id;
        {
            let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
            let h = up.open_session(t).unwrap();
            let mut s = h.try_lock().unwrap();
            s.append(&data[..100_000]).unwrap();
            s.sync().unwrap();
        }
        let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
        let h = up.get(id).unwrap();
        let mut s = h.try_lock().unwrap();
        {
            assert_eq!(s.offset(), 100_000);
            assert!(matches!(
                check_offset(&s, 0),
                Err(UploadError::Offset {
                    at: 100_000,
                    given: 0
                })
            ));
            s.append(&data[100_000..]).unwrap();
            assert!(matches!(
                s.append(b"x"),
                Err(UploadError::TooLong { beyond: 1, .. })
            ));
        }
        let staged = up.finish(&mut s).unwrap();
        drop(s);
        assert_eq!(fs::read(&staged.path).unwrap(), data);
        assert_eq!(staged.stored.size, data.len() as u64);
        assert_eq!(
            staged.stored.sha256,
            <[u8; 32]>::from(Sha256::digest(&data))
        );
        up.remove(id);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_private_upload_is_staged_as_ciphertext_and_ends_with_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"Patient cohort 2026, row 1: the same recognisable text again and again. "
            .repeat(2000);
        let t = ticket(&data, true);
        let id = t.id;
        let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
        let h = up.open_session(t.clone()).unwrap();
        let mut s = h.try_lock().unwrap();
        s.append(&data[..5000]).unwrap();
        s.sync().unwrap();
        s.append(&data[5000..]).unwrap();
        let staged = up.finish(&mut s).unwrap();
        drop(s);
        let stored = fs::read(&staged.path).unwrap();
        assert!(!stored
            .windows(32)
            .any(|w| data.windows(32).next() == Some(w)));
        assert_eq!(
            staged.stored.sha256,
            <[u8; 32]>::from(Sha256::digest(&stored))
        );
        let key = staged.key.as_ref().unwrap();
        let mut plain = Vec::new();
        crypt::decrypt(key, io::Cursor::new(stored))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, data);
        // A second session with the same nonce is refused while the first is open.
        let again = Ticket {
            id: Uuid::new_v4(),
            ..t
        };
        assert!(matches!(
            up.open_session(again),
            Err(UploadError::NonceInUse)
        ));
        drop(up);
        let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
        assert!(matches!(up.get(id), Err(UploadError::NotFound(_))));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn other_bytes_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(1000);
        let t = ticket(&data, false);
        let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
        let h = up.open_session(t).unwrap();
        let mut other = data.clone();
        other[500] ^= 1;
        let mut s = h.try_lock().unwrap();
        s.append(&other).unwrap();
        assert!(matches!(up.finish(&mut s), Err(UploadError::Digest { .. })));
        drop(s);
        assert!(up.is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_session_being_written_to_blocks_neither_its_status_nor_another_opening() {
        let dir = tempfile::tempdir().unwrap();
        let up = Uploads::open(dir.path(), Duration::hours(1)).unwrap();
        let data = pattern(100);
        let t = ticket(&data, false);
        let h = up.open_session(t.clone()).unwrap();
        // A request holds the session, as a PATCH does for its whole body.
        let mut writing = h.try_lock().unwrap();
        writing.append(&data[..40]).unwrap();
        assert_eq!(up.status(t.id).unwrap().offset, 0, "not synced yet");
        writing.sync().unwrap();
        assert_eq!(up.status(t.id).unwrap().offset, 40);
        // Another session opens; the same nonce is still refused; the quota still counts it.
        up.open_session(ticket(&pattern(7), false)).unwrap();
        let again = Ticket {
            id: Uuid::new_v4(),
            ..t.clone()
        };
        assert!(matches!(
            up.open_session(again),
            Err(UploadError::NonceInUse)
        ));
        assert_eq!(up.reserved(t.participant), 107);
        // Not idle while it is written to.
        assert_eq!(
            up.sweep(Utc::now() + Duration::hours(2)),
            1,
            "only the other one"
        );
        drop(writing);
    }

    #[test]
    fn idle_sessions_expire() {
        let dir = tempfile::tempdir().unwrap();
        let up = Uploads::open(dir.path(), Duration::minutes(10)).unwrap();
        let data = pattern(10);
        up.open_session(ticket(&data, false)).unwrap();
        assert_eq!(up.sweep(Utc::now()), 0);
        assert_eq!(up.sweep(Utc::now() + Duration::minutes(11)), 1);
        assert!(up.is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
