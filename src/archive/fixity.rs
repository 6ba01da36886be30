//! Fixity: whether a location still holds an object's bytes, checked by reading them all again
//! and comparing their size and SHA-256 with those recorded when the object was written (a
//! file's size and modification time say nothing of a flipped bit), within an I/O [`Budget`];
//! and repair of a damaged or lost copy from an intact one in another location.
//!
//! Reading and hashing overlap (one thread reads the next chunk while the caller's hashes the
//! last), so that an unthrottled check runs at the speed of the slower of the two rather than
//! of their sum, through a fixed pair of 1 MiB buffers.

use std::fmt;
use std::io::{self, Read};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::budget::Budget;
use super::location::{Location, CHUNK};
use super::{ArchiveError, ObjectId, Written};

/// What a fixity check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The bytes are the ones written.
    Intact,
    /// Other bytes: their SHA-256 and size.
    Mismatch {
        /// The SHA-256 of what is there (hex in JSON).
        #[serde(with = "hex32")]
        sha256: [u8; 32],
        /// The size of what is there.
        size: u64,
    },
    /// No bytes at all.
    Missing,
    /// The bytes could not be read (an I/O error, a failing disk).
    Unreadable(String),
}

impl Outcome {
    /// Whether the object is intact.
    pub fn is_intact(&self) -> bool {
        matches!(self, Outcome::Intact)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Intact => f.write_str("intact"),
            Outcome::Mismatch { sha256, size } => write!(
                f,
                "mismatch ({size} bytes, sha256 {})",
                crate::field::hex(sha256)
            ),
            Outcome::Missing => f.write_str("missing"),
            Outcome::Unreadable(why) => write!(f, "unreadable ({why})"),
        }
    }
}

/// A SHA-256 as lower-case hex in JSON.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::field::hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        crate::field::sha256_hex("sha256", &s).map_err(serde::de::Error::custom)
    }
}

/// Reads the committed object `id` in `loc` again, in 1 MiB chunks, each taken from `budget`
/// before it is read, and compares its size and SHA-256 with `expect`.
pub fn check(loc: &dyn Location, id: ObjectId, expect: &Written, budget: &Budget) -> Outcome {
    let mut reader = match loc.open(id) {
        Ok(r) => r,
        Err(ArchiveError::NotFound(_)) => return Outcome::Missing,
        Err(e) => return Outcome::Unreadable(e.to_string()),
    };
    let len = reader.len();
    match hash_within(&mut reader, len, budget) {
        Ok(found) if found == *expect => Outcome::Intact,
        Ok(found) => Outcome::Mismatch {
            sha256: found.sha256,
            size: found.size,
        },
        Err(e) => Outcome::Unreadable(format!("reading object {id} in {}: {e}", loc.name())),
    }
}

/// Fills `buf` from `src` as far as it goes; fewer bytes only at the end.
fn fill(src: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The size and SHA-256 of what `src` holds (`len` bytes, it says), read in chunks taken from
/// `budget`; a reading thread fills one buffer while this one hashes the other. A chunk is
/// taken before it is read, as much of it as `len` says is left (so that a small object costs
/// its size, not a whole chunk), and any more read than that after.
fn hash_within(src: &mut (dyn Read + Send), len: u64, budget: &Budget) -> io::Result<Written> {
    // Two buffers go round: empty ones to the reader, full ones back to be hashed.
    let (to_reader, empty) = mpsc::sync_channel::<Vec<u8>>(2);
    let (to_hasher, full) = mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    for _ in 0..2 {
        // The channel has room for both buffers and its receiver is alive.
        let _ = to_reader.send(vec![0u8; CHUNK]);
    }
    std::thread::scope(|s| {
        // Owned by this closure: if it returns early, the reader's sends fail and it stops.
        let full = full;
        s.spawn(move || {
            let mut done = 0u64;
            while let Ok(mut buf) = empty.recv() {
                let ask = len.saturating_sub(done).min(CHUNK as u64);
                budget.take(ask);
                buf.resize(CHUNK, 0);
                let chunk = fill(src, &mut buf).map(|n| {
                    budget.take((n as u64).saturating_sub(ask));
                    done += n as u64;
                    buf.truncate(n);
                    buf
                });
                let last = !matches!(&chunk, Ok(b) if b.len() == CHUNK);
                if to_hasher.send(chunk).is_err() || last {
                    return;
                }
            }
        });
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            // The reader sends until the end or an error, then stops: a closed channel
            // before either cannot happen, but is an error rather than a short hash.
            let buf = full
                .recv()
                .map_err(|_| io::Error::other("the reading thread stopped"))??;
            hasher.update(&buf);
            size += buf.len() as u64;
            if buf.len() < CHUNK {
                break;
            }
            // The reader may have stopped (it never does before the end): then nothing waits.
            let _ = to_reader.send(buf);
        }
        drop(to_reader);
        Ok(Written {
            size,
            sha256: hasher.finalize().into(),
        })
    })
}

/// A reader that takes what it reads from a budget.
struct Budgeted<'a, R> {
    inner: R,
    budget: &'a Budget,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.take(n as u64);
        Ok(n)
    }
}

/// Repairs the object `id` in `bad` from its copy in `good`: checks that the good copy is
/// intact (refusing otherwise), streams it into `bad` (which checks the bytes again before
/// putting them in place: [`Location::replace`], or, if `bad` lost the object with its lock,
/// a new commit under the good copy's lock), then checks `bad`. Everything read is taken from
/// `budget`.
pub fn repair(
    bad: &dyn Location,
    good: &dyn Location,
    id: ObjectId,
    expect: &Written,
    budget: &Budget,
) -> Result<(), ArchiveError> {
    if bad.name() == good.name() {
        return Err(ArchiveError::Corrupt(format!(
            "cannot repair object {id} in {} from itself",
            bad.name()
        )));
    }
    let outcome = check(good, id, expect, budget);
    if !outcome.is_intact() {
        return Err(ArchiveError::Corrupt(format!(
            "object {id} in {} is {outcome}: not repairing {} from it",
            good.name(),
            bad.name()
        )));
    }
    let mut src = Budgeted {
        inner: good.open(id)?,
        budget,
    };
    match bad.lock(id) {
        Ok(_) => bad.replace(id, &mut src, expect)?,
        Err(ArchiveError::NotFound(_)) => {
            let lock = good.lock(id)?;
            let written = bad.write_incoming(id, &mut src)?;
            if written != *expect {
                bad.discard_incoming(id)?;
                return Err(ArchiveError::Mismatch {
                    expected: *expect,
                    found: written,
                });
            }
            bad.promote(id, &lock)?;
        }
        Err(e) => return Err(e),
    }
    match check(bad, id, expect, budget) {
        Outcome::Intact => Ok(()),
        other => Err(ArchiveError::Corrupt(format!(
            "object {id} in {} is {other} after its repair",
            bad.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::budget::FakeClock;
    use crate::archive::location::{DirLocation, ObjectReader};
    use crate::archive::memory::MemoryLocation;
    use crate::archive::Lock;
    use std::fs;
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::time::Duration;

    const MIB: usize = 1 << 20;

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(13) ^ (i >> 10) as u8)
            .collect()
    }

    /// Two disks holding the same committed object.
    struct Two {
        _dir: tempfile::TempDir,
        disk1: DirLocation,
        disk2: DirLocation,
        id: ObjectId,
        data: Vec<u8>,
        expect: Written,
    }

    fn two(len: usize) -> Two {
        let dir = tempfile::tempdir().unwrap();
        let disk1 = DirLocation::open("disk1", dir.path().join("disk1")).unwrap();
        let disk2 = DirLocation::open("disk2", dir.path().join("disk2")).unwrap();
        let data = data(len);
        let id = ObjectId::new();
        let lock = Lock {
            retain_until: Some("2040-01-01T00:00:00Z".parse().unwrap()),
            hold: false,
        };
        for disk in [&disk1, &disk2] {
            disk.write_incoming(id, &mut &data[..]).unwrap();
            disk.promote(id, &lock).unwrap();
        }
        let expect = Written::of(&data);
        Two {
            _dir: dir,
            disk1,
            disk2,
            id,
            data,
            expect,
        }
    }

    /// Runs `f` on the read-only object file made writable, then puts its mode back.
    fn writable(path: &Path, f: impl FnOnce(&mut fs::File)) {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        f(&mut file);
        file.sync_all().unwrap();
        drop(file);
        fs::set_permissions(path, fs::Permissions::from_mode(0o400)).unwrap();
    }

    fn read(loc: &dyn Location, id: ObjectId) -> Vec<u8> {
        let mut out = Vec::new();
        loc.open(id).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    fn unlimited() -> Budget {
        Budget::unlimited()
    }

    #[test]
    fn an_intact_object_is_intact_at_every_chunk_boundary() {
        for len in [0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 123] {
            let t = two(len);
            assert_eq!(
                check(&t.disk1, t.id, &t.expect, &unlimited()),
                Outcome::Intact,
                "{len} bytes"
            );
            // Another expectation is not met by the same bytes.
            let other = Written {
                size: t.expect.size + 1,
                ..t.expect
            };
            assert!(!check(&t.disk1, t.id, &other, &unlimited()).is_intact());
        }
    }

    #[test]
    fn a_byte_flipped_with_size_and_mtime_unchanged_is_found() {
        let t = two(5 * MIB / 2);
        let path = t.disk1.object_path(t.id);
        let before = fs::metadata(&path).unwrap();
        let at = t.data.len() / 2 + 7;
        writable(&path, |f| {
            f.seek(SeekFrom::Start(at as u64)).unwrap();
            f.write_all(&[t.data[at] ^ 0x10]).unwrap();
            f.set_modified(before.modified().unwrap()).unwrap();
        });
        let after = fs::metadata(&path).unwrap();
        assert_eq!(after.len(), before.len());
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
        let mut flipped = t.data.clone();
        flipped[at] ^= 0x10;
        assert_eq!(
            check(&t.disk1, t.id, &t.expect, &unlimited()),
            Outcome::Mismatch {
                sha256: Written::of(&flipped).sha256,
                size: t.expect.size
            }
        );
        assert_eq!(
            check(&t.disk2, t.id, &t.expect, &unlimited()),
            Outcome::Intact
        );
    }

    #[test]
    fn a_truncated_a_missing_and_an_unreadable_object_are_found() {
        let t = two(MIB + 10);
        let path = t.disk1.object_path(t.id);
        writable(&path, |f| f.set_len(MIB as u64).unwrap());
        assert_eq!(
            check(&t.disk1, t.id, &t.expect, &unlimited()),
            Outcome::Mismatch {
                sha256: Written::of(&t.data[..MIB]).sha256,
                size: MIB as u64
            }
        );
        fs::remove_file(&path).unwrap();
        assert_eq!(
            check(&t.disk1, t.id, &t.expect, &unlimited()),
            Outcome::Missing
        );
        // A directory where the file was: it opens, and reading fails.
        fs::create_dir(&path).unwrap();
        let outcome = check(&t.disk1, t.id, &t.expect, &unlimited());
        assert!(matches!(outcome, Outcome::Unreadable(_)), "{outcome:?}");
        fs::remove_dir(&path).unwrap();
        assert_eq!(
            check(&t.disk1, ObjectId::new(), &t.expect, &unlimited()),
            Outcome::Missing
        );
    }

    #[test]
    fn a_check_takes_every_chunk_from_the_budget() {
        let t = two(5 * MIB + 1);
        let (budget, clock) = FakeClock::budget(Some(MIB as u64));
        assert_eq!(check(&t.disk1, t.id, &t.expect, &budget), Outcome::Intact);
        // 5 MiB + 1 byte taken at 1 MiB/s, the first second free: 4 s, and 1 byte's 953 ns.
        let slept: Duration = clock.slept().iter().sum();
        assert_eq!(slept, Duration::from_nanos(4_000_000_953));
        // A small object costs its size, not a whole chunk.
        let t = two(1024);
        let (budget, clock) = FakeClock::budget(Some(1024));
        assert_eq!(check(&t.disk1, t.id, &t.expect, &budget), Outcome::Intact);
        assert!(clock.slept().is_empty(), "within the burst");
        assert_eq!(check(&t.disk1, t.id, &t.expect, &budget), Outcome::Intact);
        assert_eq!(clock.slept(), [Duration::from_secs(1)]);
        // An object larger than its reader said is still paid for in full.
        let (budget, clock) = FakeClock::budget(Some(MIB as u64));
        let data = data(3 * MIB);
        let mut reader = ObjectReader::new(std::io::Cursor::new(data.clone()), 10);
        assert_eq!(
            hash_within(&mut reader, 10, &budget).unwrap(),
            Written::of(&data)
        );
        let slept: Duration = clock.slept().iter().sum();
        assert!(slept >= Duration::from_millis(1999), "{slept:?}");
    }

    #[test]
    fn repair_restores_the_bytes_from_a_good_location() {
        let t = two(3 * MIB + 5);
        let path = t.disk1.object_path(t.id);
        writable(&path, |f| {
            f.seek(SeekFrom::Start(MIB as u64 + 3)).unwrap();
            f.write_all(b"rot").unwrap();
        });
        assert!(!check(&t.disk1, t.id, &t.expect, &unlimited()).is_intact());
        repair(&t.disk1, &t.disk2, t.id, &t.expect, &unlimited()).unwrap();
        assert_eq!(read(&t.disk1, t.id), t.data);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o400
        );
        // The lock is untouched.
        assert_eq!(t.disk1.lock(t.id).unwrap(), t.disk2.lock(t.id).unwrap());

        // A lost file, its lock kept.
        fs::remove_file(&path).unwrap();
        repair(&t.disk1, &t.disk2, t.id, &t.expect, &unlimited()).unwrap();
        assert_eq!(read(&t.disk1, t.id), t.data);

        // Lost with its lock: committed again under the good copy's lock.
        fs::remove_file(&path).unwrap();
        fs::remove_file(t.disk1.root().join(format!("objects/{}.lock", t.id))).unwrap();
        repair(&t.disk1, &t.disk2, t.id, &t.expect, &unlimited()).unwrap();
        assert_eq!(read(&t.disk1, t.id), t.data);
        assert_eq!(t.disk1.lock(t.id).unwrap(), t.disk2.lock(t.id).unwrap());
        assert!(t.disk1.incoming().unwrap().is_empty());
    }

    #[test]
    fn repair_refuses_a_copy_that_is_not_intact() {
        let t = two(2 * MIB);
        let bad = t.disk1.object_path(t.id);
        writable(&bad, |f| f.set_len(10).unwrap());
        // The "good" copy is damaged too.
        writable(&t.disk2.object_path(t.id), |f| {
            f.seek(SeekFrom::Start(100)).unwrap();
            f.write_all(b"x").unwrap();
        });
        let err = repair(&t.disk1, &t.disk2, t.id, &t.expect, &unlimited()).unwrap_err();
        assert!(matches!(err, ArchiveError::Corrupt(_)), "{err}");
        assert_eq!(fs::metadata(&bad).unwrap().len(), 10, "nothing replaced");
        // Nor from a copy that is missing, nor from itself.
        fs::remove_file(t.disk2.object_path(t.id)).unwrap();
        assert!(repair(&t.disk1, &t.disk2, t.id, &t.expect, &unlimited()).is_err());
        assert!(repair(&t.disk1, &t.disk1, t.id, &t.expect, &unlimited()).is_err());
        assert_eq!(fs::metadata(&bad).unwrap().len(), 10);
    }

    #[test]
    fn repair_works_across_kinds_of_location() {
        let t = two(MIB + 1);
        let memory = MemoryLocation::new("memory");
        memory.write_incoming(t.id, &mut &t.data[..]).unwrap();
        memory.promote(t.id, &Lock::default()).unwrap();
        assert!(memory.damage(t.id, |b| b[5] ^= 1));
        assert!(!check(&memory, t.id, &t.expect, &unlimited()).is_intact());
        repair(&memory, &t.disk1, t.id, &t.expect, &unlimited()).unwrap();
        assert_eq!(
            check(&memory, t.id, &t.expect, &unlimited()),
            Outcome::Intact
        );
        memory.lose(t.id);
        assert_eq!(
            check(&memory, t.id, &t.expect, &unlimited()),
            Outcome::Missing
        );
        repair(&memory, &t.disk2, t.id, &t.expect, &unlimited()).unwrap();
        assert_eq!(read(&memory, t.id), t.data);
    }

    #[test]
    fn an_outcome_reads_as_json() {
        let sha256 = Written::of(b"x").sha256;
        let cases = [
            (Outcome::Intact, r#""intact""#.to_owned()),
            (Outcome::Missing, r#""missing""#.to_owned()),
            (
                Outcome::Mismatch { sha256, size: 1 },
                format!(
                    r#"{{"mismatch":{{"sha256":"{}","size":1}}}}"#,
                    crate::field::hex(&sha256)
                ),
            ),
            (
                Outcome::Unreadable("i/o error".into()),
                r#"{"unreadable":"i/o error"}"#.to_owned(),
            ),
        ];
        for (outcome, json) in cases {
            assert_eq!(serde_json::to_string(&outcome).unwrap(), json);
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
    }
}
