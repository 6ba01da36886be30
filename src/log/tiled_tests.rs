//! The tiled store against an independent oracle (every stored hash recomputed by
//! `tlog_tiles` over a flat list), and the commit protocol cut at each step.

use std::sync::Arc;

use tlog_tiles::{Hash, HashReader};

use super::{
    bundle_key, hash_tile, levels, positions, DiskStore, FailPoint, Options, TiledStore, MAX_LEVELS,
};
use crate::log::checkpoint::LogSigner;
use crate::log::fs::LossyFs;
use crate::log::objects::{DirObjects, MemoryObjects, ObjectKey, ObjectStore};
use crate::log::state::{MemoryState, StateBatch, StateStore};
use crate::log::store::{Batch, Index, IndexKey, Store, StoreError};
use crate::log::tiles::{bundle, TileKind, TilePath, TILE_WIDTH};
use crate::log::tree::{self, StoreReader};

fn signer() -> LogSigner {
    let (skey, _) = LogSigner::generate("tiles.test/log").unwrap();
    LogSigner::from_skey(&skey, None).unwrap()
}

/// Every stored hash of a tree, computed over a flat list: the oracle.
#[derive(Default)]
struct Flat {
    hashes: Vec<Hash>,
    entries: Vec<Vec<u8>>,
}

impl HashReader for Flat {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.hashes
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Flat {
    fn add(&mut self, entry: Vec<u8>) {
        let n = self.entries.len() as u64;
        let new = tlog_tiles::stored_hashes(n, &entry, self).unwrap();
        self.hashes.extend(new);
        self.entries.push(entry);
    }

    fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The bytes of a tile of the tree of `size`, from the flat lists.
    fn tile(&self, path: &TilePath) -> Vec<u8> {
        let start = path.n * TILE_WIDTH;
        match path.kind {
            TileKind::Hash(l) => (start..start + path.width)
                .flat_map(|k| self.hashes[tlog_tiles::stored_hash_index(l * 8, k) as usize].0)
                .collect(),
            TileKind::Entries => {
                bundle(&self.entries[start as usize..(start + path.width) as usize])
            }
        }
    }
}

/// Appends `entries` to `store` as the sequencer does: integrate, sign, commit.
fn append(store: &dyn Store, signer: &LogSigner, entries: Vec<Vec<u8>>) -> Result<(), StoreError> {
    let size = store.checkpoint()?.map_or(0, |c| c.size);
    let leaves: Vec<Hash> = entries.iter().map(|e| tlog_tiles::record_hash(e)).collect();
    let integration = tree::integrate(size, &leaves, &StoreReader::new(store))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let checkpoint = signer
        .sign(integration.new_size, integration.root)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.commit(&Batch {
        first_index: size,
        index_keys: leaves
            .iter()
            .enumerate()
            .map(|(k, h)| {
                (
                    IndexKey::new(Index::LEAF_HASH, h.0.to_vec()),
                    size + k as u64,
                )
            })
            .collect(),
        entries,
        first_hash_index: integration.first_hash_index,
        hashes: integration.hashes,
        sidecars: Vec::new(),
        erased_sidecars: Vec::new(),
        removed_keys: Vec::new(),
        checkpoint,
    })
}

fn start(store: &dyn Store, signer: &LogSigner) {
    let cp = signer.sign(0, tlog_tiles::EMPTY_HASH).unwrap();
    store
        .commit(&Batch {
            first_index: 0,
            entries: Vec::new(),
            first_hash_index: 0,
            hashes: Vec::new(),
            index_keys: Vec::new(),
            sidecars: Vec::new(),
            erased_sidecars: Vec::new(),
            removed_keys: Vec::new(),
            checkpoint: cp,
        })
        .unwrap();
}

fn entries(from: u64, count: u64) -> Vec<Vec<u8>> {
    (from..from + count)
        .map(|i| {
            format!("entry {i}")
                .repeat((i % 5) as usize + 1)
                .into_bytes()
        })
        .collect()
}

/// Every read of `store` agrees with the oracle: every stored hash, every entry, every tile
/// and bundle (full, the edge's, and older partial widths), the root, and the leaf-hash index.
fn check(store: &dyn Store, flat: &Flat) {
    let size = flat.size();
    assert_eq!(store.checkpoint().unwrap().unwrap().size, size);
    let all: Vec<u64> = (0..flat.hashes.len() as u64).collect();
    assert_eq!(
        store.read_hashes(&all).unwrap(),
        flat.hashes,
        "stored hashes"
    );
    assert_eq!(store.entries(0, size).unwrap(), flat.entries, "entries");
    for (a, b) in [(0, 1), (255, 257), (size.saturating_sub(3), size)] {
        if b <= size && a < b {
            assert_eq!(
                store.entries(a, b).unwrap(),
                &flat.entries[a as usize..b as usize]
            );
        }
    }
    let root = tree::root(size, &StoreReader::new(store)).unwrap();
    assert_eq!(root, tlog_tiles::tree_hash(size, flat).unwrap());
    for level in 0..levels(size) {
        let p = positions(size, level);
        for n in 0..=p / TILE_WIDTH {
            for kind in [TileKind::Hash(level as u8), TileKind::Entries] {
                if kind == TileKind::Entries && level > 0 {
                    continue;
                }
                let end = (p - n * TILE_WIDTH).min(TILE_WIDTH);
                if end == 0 {
                    continue;
                }
                for width in [1, end / 2, end.saturating_sub(1), end] {
                    if width == 0 {
                        continue;
                    }
                    let path = TilePath { kind, n, width };
                    assert_eq!(
                        store.tile(&path, size).unwrap().as_deref(),
                        Some(flat.tile(&path).as_slice()),
                        "{}",
                        path.path()
                    );
                }
                // One past the tree is not served.
                let past = TilePath {
                    kind,
                    n,
                    width: (end + 1).min(TILE_WIDTH),
                };
                if end < TILE_WIDTH {
                    assert_eq!(store.tile(&past, size).unwrap(), None, "{}", past.path());
                }
            }
        }
    }
    for (i, e) in flat.entries.iter().enumerate() {
        let key = IndexKey::new(Index::LEAF_HASH, tlog_tiles::record_hash(e).0.to_vec());
        assert_eq!(
            store.lookup(&key).unwrap(),
            Some(i as u64),
            "leaf hash index of {i}"
        );
    }
}

/// The partial objects present, as (kind, n, width).
fn partial_objects(objects: &MemoryObjects) -> Vec<TilePath> {
    objects
        .keys()
        .into_iter()
        .filter_map(|k| match k {
            ObjectKey::Tile(t) if !t.is_full() => Some(t),
            _ => None,
        })
        .collect()
}

/// The partial objects a tree of `size` has: one per level not on a tile boundary.
fn expected_partials(size: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    for level in 0..levels(size) {
        let p = positions(size, level);
        if p % TILE_WIDTH != 0 {
            out.push(TilePath {
                kind: TileKind::Hash(level as u8),
                n: p / TILE_WIDTH,
                width: p % TILE_WIDTH,
            });
        }
    }
    if size % TILE_WIDTH != 0 {
        out.push(TilePath {
            kind: TileKind::Entries,
            n: size / TILE_WIDTH,
            width: size % TILE_WIDTH,
        });
    }
    out.sort();
    out
}

#[test]
fn reads_agree_with_an_oracle_across_tile_boundaries_and_a_reopen() {
    let state = Arc::new(MemoryState::new());
    let objects = Arc::new(MemoryObjects::new());
    let signer = signer();
    let store = TiledStore::open(state.clone(), objects.clone()).unwrap();
    start(&store, &signer);
    let mut flat = Flat::default();
    // Sizes that start and end on and off tile boundaries, and cross level 1 (65,536 leaves).
    let batches = [
        1u64, 2, 253, 1, 255, 256, 257, 1, 4096, 3000, 60_000, 900, 1,
    ];
    for (b, &count) in batches.iter().enumerate() {
        let new = entries(flat.size(), count);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
        let mut partials = partial_objects(&objects);
        partials.sort();
        assert_eq!(partials, expected_partials(flat.size()), "after batch {b}");
        if b % 4 == 0 || b + 1 == batches.len() {
            check(&store, &flat);
        }
    }
    assert!(flat.size() > 65_536);
    drop(store);
    // Reopened over the same objects and state: the edge comes back from the partial tiles.
    let store = TiledStore::open(state, objects.clone()).unwrap();
    check(&store, &flat);
    assert_eq!(
        objects.get(&ObjectKey::Checkpoint).unwrap().unwrap(),
        store.checkpoint().unwrap().unwrap().note.as_bytes()
    );
}

#[test]
fn small_caches_still_read_right() {
    let signer = signer();
    let store = TiledStore::open_with(
        MemoryState::new(),
        MemoryObjects::new(),
        &Options {
            tile_cache: 1,
            bundle_cache: 1,
            ..Options::default()
        },
    )
    .unwrap();
    start(&store, &signer);
    let mut flat = Flat::default();
    for count in [700u64, 300, 1] {
        let new = entries(flat.size(), count);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
    }
    check(&store, &flat);
}

const POINTS: [FailPoint; 5] = [
    FailPoint::BeforeObjects,
    FailPoint::MidObjects,
    FailPoint::BeforeLock,
    FailPoint::BeforePublish,
    FailPoint::BeforeCleanup,
];

/// Opens the store again right after the previous handle was dropped. sled's background
/// flusher may hold the database's file lock a moment longer than the handle (seen once
/// under a loaded machine: `could not acquire lock`): that refusal alone is retried, for up to
/// five seconds (a liveness deadline); any other error is returned at once.
fn reopen(dir: &std::path::Path) -> Result<DiskStore, crate::log::StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match DiskStore::open_dir(dir, &Options::default()) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Whether a batch cut at `at` exists afterwards: the lock moved.
fn lands(at: FailPoint) -> bool {
    matches!(at, FailPoint::BeforePublish | FailPoint::BeforeCleanup)
}

/// A commit cut at each step, then the process gone: the store reopened over what is on
/// disk (sled and files) has the batch exactly when the lock moved, publishes the lock's
/// checkpoint, keeps no stray partial tile, reads every entry, hash and tile as the oracle,
/// its leaf-hash index equals what the bundles imply, and takes the next batch.
#[test]
fn a_commit_cut_at_any_step_then_reopened_loses_nothing_and_serves_no_stray_object() {
    for at in POINTS {
        let dir = tempfile::tempdir().unwrap();
        let signer = signer();
        let mut flat = Flat::default();
        {
            let store = DiskStore::open_dir(dir.path(), &Options::default()).unwrap();
            start(&store, &signer);
            for count in [300u64, 20] {
                let new = entries(flat.size(), count);
                append(&store, &signer, new.clone()).unwrap();
                new.into_iter().for_each(|e| flat.add(e));
            }
            store.fail_at(Some(at));
            let cut = entries(flat.size(), 500);
            append(&store, &signer, cut.clone()).expect_err("cut");
            if lands(at) {
                cut.into_iter().for_each(|e| flat.add(e));
            }
        }
        let store = reopen(dir.path()).unwrap_or_else(|e| panic!("{at:?}: {e}"));
        check(&store, &flat);
        let published = store
            .objects()
            .get(&ObjectKey::Checkpoint)
            .unwrap()
            .unwrap();
        assert_eq!(
            published,
            store.checkpoint().unwrap().unwrap().note.as_bytes(),
            "{at:?}"
        );
        let mut partials = Vec::new();
        for level in 0..MAX_LEVELS {
            for kind in [TileKind::Hash(level as u8), TileKind::Entries] {
                for n in 0..8 {
                    let tile = TilePath::full(kind, n);
                    for w in store.objects().partials(&tile).unwrap() {
                        partials.push(TilePath { width: w, ..tile });
                    }
                }
            }
        }
        partials.sort();
        partials.dedup();
        assert_eq!(partials, expected_partials(flat.size()), "{at:?}");
        let new = entries(flat.size(), 300);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
        check(&store, &flat);
    }
}

/// The same cuts, but the process lives on: after the failed commit the sequencer calls
/// `recover`, which brings the store back to the lock's state, and the next batch follows it.
#[test]
fn a_commit_cut_at_any_step_then_recovered_in_process_continues_the_tree() {
    for at in POINTS {
        let signer = signer();
        let state = Arc::new(MemoryState::new());
        let objects = Arc::new(MemoryObjects::new());
        let store = TiledStore::open(state, objects.clone()).unwrap();
        start(&store, &signer);
        let mut flat = Flat::default();
        let new = entries(0, 260);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
        store.fail_at(Some(at));
        let cut = entries(flat.size(), 300);
        append(&store, &signer, cut.clone()).expect_err("cut");
        store.fail_at(None);
        store.recover().unwrap();
        if lands(at) {
            cut.into_iter().for_each(|e| flat.add(e));
        }
        check(&store, &flat);
        let new = entries(flat.size(), 77);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
        check(&store, &flat);
        let mut partials = partial_objects(&objects);
        partials.sort();
        assert_eq!(partials, expected_partials(flat.size()), "{at:?}");
    }
}

/// What the protocol rules out is refused at start, not served: a published checkpoint
/// ahead of the lock (the state store lost acknowledged batches), another root at the same
/// size, a missing partial tile. A published checkpoint behind the lock is published again.
#[test]
fn a_start_refuses_a_log_the_protocol_cannot_have_written() {
    let signer = signer();
    let build = || {
        let state = Arc::new(MemoryState::new());
        let objects = Arc::new(MemoryObjects::new());
        let store = TiledStore::open(state.clone(), objects.clone()).unwrap();
        start(&store, &signer);
        append(&store, &signer, entries(0, 10)).unwrap();
        let ten = store.checkpoint().unwrap().unwrap();
        append(&store, &signer, entries(10, 5)).unwrap();
        (state, objects, ten)
    };

    let (state, objects, ten) = build();
    objects
        .put(&ObjectKey::Checkpoint, ten.note.as_bytes())
        .unwrap();
    let store = TiledStore::open(state.clone(), objects.clone()).unwrap();
    let lock = store.checkpoint().unwrap().unwrap();
    assert_eq!(lock.size, 15);
    assert_eq!(
        objects.get(&ObjectKey::Checkpoint).unwrap().unwrap(),
        lock.note.as_bytes(),
        "published again"
    );
    drop(store);

    let ahead = signer.sign(16, Hash([7; 32])).unwrap();
    objects
        .put(&ObjectKey::Checkpoint, ahead.note.as_bytes())
        .unwrap();
    let e = TiledStore::open(state.clone(), objects.clone())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("ahead of the state store"), "{e}");

    let forked = signer.sign(15, Hash([7; 32])).unwrap();
    objects
        .put(&ObjectKey::Checkpoint, forked.note.as_bytes())
        .unwrap();
    let e = TiledStore::open(state.clone(), objects.clone())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("another root"), "{e}");

    let (state, objects, _) = build();
    objects.delete(&bundle_key(0, 15)).unwrap();
    let e = TiledStore::open(state, objects).err().expect("refused");
    assert!(
        e.to_string().contains("tile/entries/000.p/15 is missing"),
        "{e}"
    );

    // A tile whose bytes were changed gives another root: refused too.
    let (state, objects, _) = build();
    let mut tile = objects.get(&hash_tile(0, 0, 15)).unwrap().unwrap();
    tile[0] ^= 1;
    objects.put(&hash_tile(0, 0, 15), &tile).unwrap();
    let e = TiledStore::open(state, objects).err().expect("refused");
    assert!(e.to_string().contains("another root"), "{e}");
}

/// The lock is a compare-and-swap: a batch built on another size than the lock's changes
/// nothing.
#[test]
fn the_lock_refuses_a_batch_built_on_another_size() {
    let state = MemoryState::new();
    let signer = signer();
    let cp = signer.sign(0, tlog_tiles::EMPTY_HASH).unwrap();
    let batch = |expected, cp| StateBatch {
        expected,
        index_keys: &[],
        sidecars: &[],
        erased_sidecars: &[],
        removed_keys: &[],
        checkpoint: cp,
    };
    state.commit(&batch(None, &cp)).unwrap();
    let next = signer.sign(1, Hash([1; 32])).unwrap();
    let e = state.commit(&batch(None, &next)).unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let e = state.commit(&batch(Some(5), &next)).unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert_eq!(state.checkpoint().unwrap().unwrap().size, 0);
    state.commit(&batch(Some(0), &next)).unwrap();
    assert_eq!(state.checkpoint().unwrap().unwrap().size, 1);
}

/// A power cut at every file-system call of a run of batches, on the twin that keeps only
/// what was synced ([`LossyFs`]): the store reopened over what the disk kept opens, holds every
/// acknowledged batch (and the cut one only if its lock moved), publishes the lock's
/// checkpoint, reads as the oracle and takes the next batch. The state store's own durability
/// at commit is sled's flush and fsync, whose order `tests/sync_order.rs` checks.
#[test]
fn a_power_cut_at_any_file_system_call_loses_nothing_acknowledged() {
    let signer = signer();
    let batches = [300u64, 1, 255, 700, 2];
    let run = |cut: Option<u64>| {
        let state = Arc::new(MemoryState::new());
        let objects = DirObjects::open_on(LossyFs::new(), "/public").unwrap();
        let store = TiledStore::open(state.clone(), objects).unwrap();
        start(&store, &signer);
        store.objects().fs().fail_after(cut);
        let calls = store.objects().fs().calls();
        let mut acked = Flat::default();
        let mut pending = Vec::new();
        for &count in &batches {
            let new = entries(acked.size(), count);
            match append(&store, &signer, new.clone()) {
                Ok(()) => new.into_iter().for_each(|e| acked.add(e)),
                Err(_) => {
                    pending = new;
                    break;
                }
            }
        }
        let used = store.objects().fs().calls() - calls;
        (state, store, acked, pending, used)
    };
    let (_, _, _, _, total) = run(None);
    assert!(total > 40, "{total} calls");
    for cut in 0..=total {
        let (state, store, mut flat, pending, _) = run(Some(cut));
        let disk = store.objects().fs().power_cut();
        drop(store);
        let store = TiledStore::open(state, DirObjects::open_on(disk, "/public").unwrap())
            .unwrap_or_else(|e| panic!("cut after {cut} calls: {e}"));
        let size = store.checkpoint().unwrap().unwrap().size;
        if size > flat.size() {
            assert_eq!(size, flat.size() + pending.len() as u64, "cut {cut}");
            pending.into_iter().for_each(|e| flat.add(e));
        }
        check(&store, &flat);
        assert_eq!(
            store
                .objects()
                .get(&ObjectKey::Checkpoint)
                .unwrap()
                .unwrap(),
            store.checkpoint().unwrap().unwrap().note.as_bytes(),
            "cut {cut}"
        );
        let new = entries(flat.size(), 40);
        append(&store, &signer, new.clone()).unwrap();
        new.into_iter().for_each(|e| flat.add(e));
        check(&store, &flat);
    }
}
