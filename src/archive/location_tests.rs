//! The [`Location`] contract, checked on both [`DirLocation`] and [`MemoryLocation`]; then
//! what only a directory can show: its layout, modes and manifests, and the states a crash
//! leaves, each finished by doing the interrupted operation again.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::crypt::{decrypt, encrypt_reader, ObjectKey};
use super::location::{DirLocation, Location};
use super::memory::MemoryLocation;
use super::{ArchiveError, Lock, ObjectId, Written};

/// Runs `f` on a fresh directory location and a fresh memory one.
fn each(f: impl Fn(&dyn Location)) {
    let dir = tempfile::tempdir().unwrap();
    f(&DirLocation::open("disk1", dir.path().join("disk1")).unwrap());
    f(&MemoryLocation::new("memory"));
}

/// Recognisable bytes, spanning several 1 MiB chunks when `len` asks.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn until(s: &str) -> Lock {
    Lock {
        retain_until: Some(t(s)),
        hold: false,
    }
}

fn read_all(loc: &dyn Location, id: ObjectId) -> Vec<u8> {
    let mut out = Vec::new();
    loc.open(id).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Writes and commits `data` as a new object.
fn commit(loc: &dyn Location, data: &[u8], lock: &Lock) -> ObjectId {
    let id = ObjectId::new();
    loc.write_incoming(id, &mut &data[..]).unwrap();
    loc.promote(id, lock).unwrap();
    id
}

#[test]
fn write_promote_open_round_trip() {
    each(|loc| {
        let data = bytes(3 * (1 << 20) + 5, 1);
        let id = ObjectId::new();
        let written = loc.write_incoming(id, &mut &data[..]).unwrap();
        assert_eq!(written, Written::of(&data), "{}", loc.name());
        assert_eq!(loc.incoming().unwrap(), [id]);
        assert!(loc.objects().unwrap().is_empty());
        assert!(matches!(loc.open(id), Err(ArchiveError::NotFound(x)) if x == id));
        assert!(matches!(loc.lock(id), Err(ArchiveError::NotFound(_))));

        let lock = until("2035-06-01T00:00:00Z");
        loc.promote(id, &lock).unwrap();
        assert!(loc.incoming().unwrap().is_empty());
        assert_eq!(loc.objects().unwrap(), [id]);
        assert_eq!(loc.lock(id).unwrap(), lock);
        let mut r = loc.open(id).unwrap();
        assert_eq!(r.len(), data.len() as u64);
        r.seek(SeekFrom::Start(2_000_000)).unwrap();
        let mut mid = vec![0u8; 100_000];
        r.read_exact(&mut mid).unwrap();
        assert_eq!(mid, data[2_000_000..2_100_000]);
        assert_eq!(read_all(loc, id), data);

        // The empty object too.
        let empty = commit(loc, b"", &Lock::default());
        assert!(loc.open(empty).unwrap().is_empty());
        assert_eq!(read_all(loc, empty), b"");
        let mut ids = vec![id, empty];
        ids.sort();
        assert_eq!(loc.objects().unwrap(), ids);
    });
}

#[test]
fn promote_done_again_is_ok_and_never_overwrites() {
    each(|loc| {
        let lock = until("2030-01-01T00:00:00Z");
        let id = commit(loc, b"first", &lock);
        loc.promote(id, &lock).unwrap();
        loc.promote(id, &Lock::default()).unwrap();
        // A lock the committed one does not cover is another object's.
        assert!(matches!(
            loc.promote(id, &until("2031-01-01T00:00:00Z")),
            Err(ArchiveError::Exists(x)) if x == id
        ));
        // Extended since: the first promote, done again, is still fine.
        loc.set_hold(id, true).unwrap();
        loc.extend_retention(id, t("2040-01-01T00:00:00Z")).unwrap();
        loc.promote(id, &lock).unwrap();
        // The id of a committed object cannot be written again.
        assert!(matches!(
            loc.write_incoming(id, &mut &b"second"[..]),
            Err(ArchiveError::Exists(x)) if x == id
        ));
        assert_eq!(read_all(loc, id), b"first");
        // Nor an incoming one.
        let other = ObjectId::new();
        loc.write_incoming(other, &mut &b"a"[..]).unwrap();
        assert!(matches!(
            loc.write_incoming(other, &mut &b"b"[..]),
            Err(ArchiveError::Exists(_))
        ));
        // Nothing incoming: nothing to promote.
        assert!(matches!(
            loc.promote(ObjectId::new(), &lock),
            Err(ArchiveError::NotFound(_))
        ));
    });
}

#[test]
fn remove_waits_for_retention_and_hold_and_is_idempotent() {
    each(|loc| {
        let id = commit(loc, b"kept", &until("2030-01-01T00:00:00Z"));
        let before = t("2029-12-31T23:59:59Z");
        assert!(matches!(
            loc.remove(id, before),
            Err(ArchiveError::Retained { until }) if until == t("2030-01-01T00:00:00Z")
        ));
        assert_eq!(read_all(loc, id), b"kept");
        let after = t("2030-01-01T00:00:00Z");
        loc.set_hold(id, true).unwrap();
        assert!(loc.lock(id).unwrap().hold);
        assert!(matches!(loc.remove(id, after), Err(ArchiveError::Held)));
        assert!(matches!(
            loc.remove(id, after + Duration::days(10_000)),
            Err(ArchiveError::Held)
        ));
        assert_eq!(read_all(loc, id), b"kept");
        loc.set_hold(id, false).unwrap();
        loc.remove(id, after).unwrap();
        assert!(matches!(loc.open(id), Err(ArchiveError::NotFound(_))));
        assert!(matches!(loc.lock(id), Err(ArchiveError::NotFound(_))));
        assert!(loc.objects().unwrap().is_empty());
        loc.remove(id, after).unwrap();
        loc.remove(ObjectId::new(), before).unwrap();
        // No retention: removable at once (unless held).
        let free = commit(loc, b"x", &Lock::default());
        loc.remove(free, before).unwrap();
        assert!(matches!(
            loc.set_hold(free, true),
            Err(ArchiveError::NotFound(_))
        ));
    });
}

#[test]
fn retention_is_extended_never_shortened() {
    each(|loc| {
        let id = commit(loc, b"x", &until("2030-01-01T00:00:00Z"));
        assert!(matches!(
            loc.extend_retention(id, t("2029-01-01T00:00:00Z")),
            Err(ArchiveError::Retained { until }) if until == t("2030-01-01T00:00:00Z")
        ));
        loc.extend_retention(id, t("2030-01-01T00:00:00Z")).unwrap();
        loc.extend_retention(id, t("2032-01-01T00:00:00Z")).unwrap();
        assert_eq!(loc.lock(id).unwrap(), until("2032-01-01T00:00:00Z"));
        assert!(matches!(
            loc.remove(id, t("2031-01-01T00:00:00Z")),
            Err(ArchiveError::Retained { .. })
        ));
        let none = commit(loc, b"y", &Lock::default());
        loc.extend_retention(none, t("2029-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(loc.lock(none).unwrap(), until("2029-01-01T00:00:00Z"));
        assert!(matches!(
            loc.extend_retention(ObjectId::new(), t("2029-01-01T00:00:00Z")),
            Err(ArchiveError::NotFound(_))
        ));
    });
}

#[test]
fn replace_takes_only_the_same_bytes() {
    each(|loc| {
        let data = bytes(1 << 20, 7);
        let id = commit(loc, &data, &Lock::default());
        let expect = Written::of(&data);
        let other = bytes(1 << 20, 8);
        match loc.replace(id, &mut &other[..], &expect) {
            Err(ArchiveError::Mismatch { expected, found }) => {
                assert_eq!(expected, expect);
                assert_eq!(found, Written::of(&other));
            }
            other => panic!("{other:?}"),
        }
        // A prefix of the right bytes is not them either.
        assert!(matches!(
            loc.replace(id, &mut &data[..100], &expect),
            Err(ArchiveError::Mismatch { .. })
        ));
        assert_eq!(read_all(loc, id), data);
        loc.replace(id, &mut &data[..], &expect).unwrap();
        assert_eq!(read_all(loc, id), data);
        // Only a committed object is repaired.
        let incoming = ObjectId::new();
        loc.write_incoming(incoming, &mut &data[..]).unwrap();
        assert!(matches!(
            loc.replace(incoming, &mut &data[..], &expect),
            Err(ArchiveError::NotFound(_))
        ));
    });
}

#[test]
fn incoming_objects_are_listed_until_promoted_or_discarded() {
    each(|loc| {
        let (a, b) = (ObjectId::new(), ObjectId::new());
        loc.write_incoming(a, &mut &b"a"[..]).unwrap();
        loc.write_incoming(b, &mut &b"b"[..]).unwrap();
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(loc.incoming().unwrap(), both);
        loc.discard_incoming(a).unwrap();
        loc.discard_incoming(a).unwrap();
        assert_eq!(loc.incoming().unwrap(), [b]);
        assert!(matches!(
            loc.promote(a, &Lock::default()),
            Err(ArchiveError::NotFound(_))
        ));
        loc.promote(b, &Lock::default()).unwrap();
        // Discarding never reaches a committed object.
        loc.discard_incoming(b).unwrap();
        assert_eq!(read_all(loc, b), b"b");
    });
}

#[test]
fn a_staged_file_is_adopted_with_its_hash_checked() {
    each(|loc| {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(2 << 20, 3);
        let staged = dir.path().join("upload");
        fs::write(&staged, &data).unwrap();
        let expect = Written::of(&data);

        let id = ObjectId::new();
        assert_eq!(loc.adopt_incoming(id, &staged).unwrap(), expect);
        assert!(matches!(
            loc.adopt_incoming(id, &staged),
            Err(ArchiveError::Exists(_))
        ));
        loc.promote(id, &Lock::default()).unwrap();
        assert_eq!(read_all(loc, id), data);

        // With the hash computed while staging: a wrong size is refused, nothing adopted.
        let id = ObjectId::new();
        let wrong = Written {
            size: expect.size + 1,
            ..expect
        };
        match loc.adopt_incoming_hashed(id, &staged, &wrong) {
            Err(ArchiveError::Mismatch { found, .. }) => assert_eq!(found, expect),
            other => panic!("{other:?}"),
        }
        assert!(loc.incoming().unwrap().is_empty());
        loc.adopt_incoming_hashed(id, &staged, &expect).unwrap();
        loc.promote(id, &Lock::default()).unwrap();
        assert_eq!(read_all(loc, id), data);

        assert!(matches!(
            loc.adopt_incoming(ObjectId::new(), &dir.path().join("absent")),
            Err(ArchiveError::Io { .. })
        ));
    });
}

#[test]
fn concurrent_writers_and_lock_changes_keep_every_object_whole() {
    each(|loc| {
        let shared = commit(loc, b"shared", &until("2030-01-01T00:00:00Z"));
        let ids: Vec<Vec<ObjectId>> = std::thread::scope(|s| {
            for k in 0..4u32 {
                s.spawn(move || {
                    for j in 0..25 {
                        loc.set_hold(shared, (j + k) % 2 == 0).unwrap();
                        let day = Duration::days(i64::from(k * 25 + j));
                        loc.extend_retention(shared, t("2030-01-01T00:00:00Z") + day)
                            .or_else(|e| match e {
                                ArchiveError::Retained { .. } => Ok(()),
                                e => Err(e),
                            })
                            .unwrap();
                    }
                });
            }
            let writers: Vec<_> = (0..4u8)
                .map(|k| {
                    s.spawn(move || {
                        (0..20u8)
                            .map(|j| {
                                commit(loc, &bytes(1000 + usize::from(j), k), &Lock::default())
                            })
                            .collect()
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for (k, ids) in ids.iter().enumerate() {
            for (j, id) in ids.iter().enumerate() {
                assert_eq!(read_all(loc, *id), bytes(1000 + j, k as u8));
            }
        }
        assert_eq!(loc.objects().unwrap().len(), 81);
        assert!(loc.incoming().unwrap().is_empty());
        // Retention only ever grew: it ends with the latest date asked for.
        assert_eq!(
            loc.lock(shared).unwrap().retain_until,
            Some(t("2030-01-01T00:00:00Z") + Duration::days(99))
        );
        assert_eq!(read_all(loc, shared), b"shared");
    });
}

#[test]
fn a_private_object_is_stored_encrypted_and_read_by_range() {
    fn send<T: Send>(_: &T) {}
    each(|loc| {
        let key = ObjectKey::generate();
        let plain = bytes(700_000, 9);
        let mut src = encrypt_reader(&key, &[], &plain[..]).unwrap();
        send(&src);
        let id = ObjectId::new();
        let stored = loc.write_incoming(id, &mut src).unwrap();
        assert_eq!(src.plaintext(), Some(Written::of(&plain)));
        assert_ne!(
            stored,
            Written::of(&plain),
            "the ciphertext is what is stored"
        );
        loc.promote(id, &Lock::default()).unwrap();
        let reader = loc.open(id).unwrap();
        send(&reader);
        let mut r = decrypt(&key, reader).unwrap();
        send(&r);
        assert_eq!(r.plaintext_len().unwrap(), plain.len() as u64);
        r.seek(SeekFrom::Start(654_321)).unwrap();
        let mut range = vec![0u8; 12_345];
        r.read_exact(&mut range).unwrap();
        assert_eq!(range, plain[654_321..666_666]);
        assert!(decrypt(&ObjectKey::generate(), loc.open(id).unwrap()).is_err());
    });
}

// What only a directory shows.

fn dir_location(root: &Path) -> DirLocation {
    DirLocation::open("disk1", root).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_directory_layout_modes_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/disk1");
    let loc = dir_location(&root);
    assert_eq!(names(&root), ["incoming", "objects", "tmp"]);
    let id = ObjectId::new();
    loc.write_incoming(id, &mut &b"data"[..]).unwrap();
    assert_eq!(names(&root.join("incoming")), [id.to_string()]);
    loc.promote(id, &until("2030-01-01T00:00:00Z")).unwrap();
    assert!(names(&root.join("incoming")).is_empty());
    assert!(
        names(&root.join("tmp")).is_empty(),
        "no temporary file left"
    );
    assert_eq!(
        names(&root.join("objects")),
        [id.to_string(), format!("{id}.lock")]
    );
    let object = fs::metadata(loc.object_path(id)).unwrap();
    assert_eq!(object.mode() & 0o7777, 0o400);
    assert_eq!(object.nlink(), 1, "the incoming name is gone");
    let manifest = fs::read_to_string(root.join(format!("objects/{id}.lock"))).unwrap();
    assert_eq!(
        manifest,
        r#"{"v":1,"retain_until":"2030-01-01T00:00:00Z","hold":false}"#
    );
    loc.set_hold(id, true).unwrap();
    let manifest = fs::read_to_string(root.join(format!("objects/{id}.lock"))).unwrap();
    assert_eq!(
        manifest,
        r#"{"v":1,"retain_until":"2030-01-01T00:00:00Z","hold":true}"#
    );
    let free = commit(&loc, b"", &Lock::default());
    let manifest = fs::read_to_string(root.join(format!("objects/{free}.lock"))).unwrap();
    assert_eq!(manifest, r#"{"v":1,"retain_until":null,"hold":false}"#);
    assert!(names(&root.join("tmp")).is_empty());

    // Reopened: the same objects. Files that are not objects are not listed.
    fs::write(root.join("objects/README"), "x").unwrap();
    fs::write(
        root.join(format!("incoming/{}", id.to_string().to_uppercase())),
        "x",
    )
    .unwrap();
    let again = dir_location(&root);
    let mut ids = vec![id, free];
    ids.sort();
    assert_eq!(again.objects().unwrap(), ids);
    assert!(again.incoming().unwrap().is_empty());
    assert_eq!(again.root(), root);
}

#[test]
fn an_adopted_file_is_linked_and_made_read_only_on_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir_location(&dir.path().join("disk1"));
    let staged = dir.path().join("upload");
    fs::write(&staged, b"uploaded").unwrap();
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o600)).unwrap();
    let id = ObjectId::new();
    loc.adopt_incoming_hashed(id, &staged, &Written::of(b"uploaded"))
        .unwrap();
    let (s, i) = (
        fs::metadata(&staged).unwrap(),
        fs::metadata(loc.incoming_path(id)).unwrap(),
    );
    assert_eq!((s.dev(), s.ino()), (i.dev(), i.ino()), "linked, not copied");
    loc.promote(id, &Lock::default()).unwrap();
    assert_eq!(
        fs::metadata(loc.object_path(id)).unwrap().mode() & 0o7777,
        0o400
    );
    fs::remove_file(&staged).unwrap();
    assert_eq!(read_all(&loc, id), b"uploaded");
}

#[test]
fn an_incoming_object_left_by_a_crash_is_listed_and_can_be_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("disk1");
    let id = ObjectId::new();
    {
        let loc = dir_location(&root);
        loc.write_incoming(id, &mut &b"left behind"[..]).unwrap();
        // A write stopped half way leaves only a temporary file.
        fs::write(root.join("tmp/partial"), b"half").unwrap();
    }
    let loc = dir_location(&root);
    assert_eq!(loc.incoming().unwrap(), [id]);
    assert_eq!(loc.sweep_tmp().unwrap(), 1);
    assert!(names(&root.join("tmp")).is_empty());
    loc.promote(id, &Lock::default()).unwrap();
    assert_eq!(read_all(&loc, id), b"left behind");
}

#[test]
fn a_promote_stopped_half_way_is_finished_by_doing_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("disk1");
    let loc = dir_location(&root);
    let lock = until("2030-01-01T00:00:00Z");

    // Stopped after linking the object, before removing its incoming name.
    let id = commit(&loc, b"one", &lock);
    fs::hard_link(loc.object_path(id), loc.incoming_path(id)).unwrap();
    assert_eq!(loc.incoming().unwrap(), [id]);
    loc.promote(id, &lock).unwrap();
    assert!(loc.incoming().unwrap().is_empty());
    assert_eq!(read_all(&loc, id), b"one");

    // Stopped after writing the lock manifest, before linking the object.
    let id = commit(&loc, b"two", &lock);
    fs::rename(loc.object_path(id), loc.incoming_path(id)).unwrap();
    assert!(matches!(loc.open(id), Err(ArchiveError::NotFound(_))));
    loc.promote(id, &lock).unwrap();
    assert!(loc.incoming().unwrap().is_empty());
    assert_eq!(read_all(&loc, id), b"two");
    assert_eq!(loc.lock(id).unwrap(), lock);

    // Another file under a committed id is never linked over it.
    let id = commit(&loc, b"three", &lock);
    fs::write(loc.incoming_path(id), b"impostor").unwrap();
    assert!(matches!(
        loc.promote(id, &lock),
        Err(ArchiveError::Exists(x)) if x == id
    ));
    assert_eq!(read_all(&loc, id), b"three");
}

#[test]
fn a_damaged_manifest_or_a_missing_one_stops_removal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("disk1");
    let loc = dir_location(&root);
    let id = commit(&loc, b"x", &Lock::default());
    let manifest = root.join(format!("objects/{id}.lock"));
    fs::remove_file(&manifest).unwrap();
    fs::write(&manifest, b"{\"v\":2,\"retain_until\":null,\"hold\":false}").unwrap();
    assert!(matches!(loc.lock(id), Err(ArchiveError::Corrupt(_))));
    assert!(matches!(
        loc.remove(id, t("2100-01-01T00:00:00Z")),
        Err(ArchiveError::Corrupt(_))
    ));
    fs::write(&manifest, b"not json").unwrap();
    assert!(matches!(loc.lock(id), Err(ArchiveError::Corrupt(_))));
    // An object without its manifest is not removed as if it had no lock.
    fs::remove_file(&manifest).unwrap();
    assert!(matches!(
        loc.remove(id, t("2100-01-01T00:00:00Z")),
        Err(ArchiveError::Corrupt(_))
    ));
    assert_eq!(read_all(&loc, id), b"x");
}
