//! The log's store as two parts: the public artifacts as objects (checkpoint, hash tiles,
//! entry bundles, [`super::objects`]) and the private state with the checkpoint lock
//! ([`super::state`]). [`TiledStore`] puts them together behind [`Store`], so that the
//! sequencer and every reader above it are unchanged.
//!
//! # The commit protocol
//!
//! One batch, from a tree of size `n` (the lock holds `n`) to size `m`:
//!
//! 1. **Build**, in memory: the hash tiles and entry bundles that change from `n` to `m`
//!    (full ones and the new partial ones at the right edge) and the checkpoint for `m`.
//! 2. **Objects**: every tile and bundle is written and made durable (each file synced,
//!    renamed into place, its directory synced). Nothing refers to them yet: no checkpoint
//!    covers a tile beyond `n`, and the partial tiles of size `m` have new paths, so a crash
//!    here changes nothing a reader or a restart trusts. A full tile left by such a crash is
//!    written again, with the right bytes, by the batch that really fills it.
//! 3. **Lock**: one atomic, durable state-store commit moves the lock from `n` to `m`
//!    (compare-and-swap) with the batch's index keys, private sidecars and erasures. This is
//!    the point at which the batch exists. What the bundles cannot give back (sidecars, token
//!    hashes, erasure keys) is durable here, in the same step, before any checkpoint covers
//!    the bundles that refer to it; the indexes never lag the entries.
//! 4. **Publish**: the `checkpoint` object is replaced by the checkpoint of size `m` (on a
//!    witnessed log, the witnessing collector publishes the cosigned one instead).
//! 5. **Clean up**: the partial tiles of size `n` that size `m` replaced are unlinked, without
//!    a sync (a partial that a power cut brings back is removed at the next start).
//! 6. **Answer**: only now does the sequencer acknowledge the batch and serve size `m`.
//!
//! At start (and after a failed commit) the store reads the lock's checkpoint, loads the
//! partial tiles at its size, recomputes the root from the tiles and checks it against the
//! checkpoint, then compares the published `checkpoint` object: behind or missing, it is
//! published again (a crash between 3 and 4); ahead of the lock, or another root at the same
//! size, the store refuses to open, since the state store has lost what it acknowledged.
//! Partial tiles beyond the right edge (a crash between 2 and 3, or between 4 and 6) are
//! deleted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tlog_tiles::{Hash, HashReader};

use super::checkpoint::SignedCheckpoint;
use super::objects::{DirObjects, MemoryObjects, ObjectError, ObjectKey, ObjectStore};
use super::sled_store::SledStore;
use super::state::{MemoryState, StateBatch, StateStore};
use super::store::{Batch, Index, IndexKey, Store, StoreError};
use super::tiles::{bundle, unbundle, TileKind, TilePath, TILE_WIDTH};

/// Hash tiles at most (a 64-bit tree has 8 levels of 8).
const MAX_LEVELS: usize = 8;
/// How many tiles past the right edge a crash may have left partial tiles in: a batch holds at
/// most a few thousand entries, 16 bundles' worth (the sequencer's `max_batch`), so 32 is
/// ample.
const CLEANUP_WINDOW: u64 = 32;
/// Full hash tiles kept in memory with their inner nodes (16 KiB each): 32 MiB.
pub const DEFAULT_TILE_CACHE: usize = 2048;
/// Full entry bundles kept in memory, parsed.
pub const DEFAULT_BUNDLE_CACHE: usize = 64;

impl From<ObjectError> for StoreError {
    fn from(e: ObjectError) -> Self {
        let ObjectError::Io {
            action,
            path,
            source,
        } = e;
        StoreError::Backend {
            action,
            detail: format!("{path}: {source}"),
        }
    }
}

/// The positions at tile level `level` of a tree of `size` leaves (hashes at tree level
/// `8·level`; entries at level 0).
fn positions(size: u64, level: usize) -> u64 {
    size.checked_shr(8 * level as u32).unwrap_or(0)
}

/// How many hash-tile levels a tree of `size` leaves has.
fn levels(size: u64) -> usize {
    (0..MAX_LEVELS)
        .take_while(|&l| positions(size, l) > 0)
        .count()
}

fn hash_tile(level: usize, n: u64, width: u64) -> ObjectKey {
    ObjectKey::Tile(TilePath {
        kind: TileKind::Hash(level as u8),
        n,
        width,
    })
}

fn bundle_key(n: u64, width: u64) -> ObjectKey {
    ObjectKey::Tile(TilePath {
        kind: TileKind::Entries,
        n,
        width,
    })
}

/// A hash tile with its inner nodes: `levels[r]` holds the complete subtree hashes of height
/// `r` over the tile's base hashes (`width >> r` of them), for `r` in 0..8.
#[derive(Debug, Default)]
struct Nodes {
    levels: Vec<Vec<Hash>>,
}

impl Nodes {
    /// The nodes over base hashes `base` (32 bytes each).
    fn build(base: &[u8]) -> Nodes {
        let mut levels = Vec::with_capacity(8);
        levels.push(
            base.chunks_exact(32)
                .map(|c| Hash(c.try_into().unwrap_or([0; 32])))
                .collect::<Vec<_>>(),
        );
        for r in 1..8 {
            let below: &Vec<Hash> = &levels[r - 1];
            let up = below
                .chunks_exact(2)
                .map(|p| tlog_tiles::node_hash(p[0], p[1]))
                .collect();
            levels.push(up);
        }
        Nodes { levels }
    }

    fn get(&self, r: u8, j: u64) -> Option<Hash> {
        self.levels
            .get(usize::from(r))?
            .get(usize::try_from(j).ok()?)
            .copied()
    }

    /// The tile's bytes at width `width` (a prefix of its base hashes).
    fn bytes(&self, width: u64) -> Vec<u8> {
        self.levels
            .first()
            .map(|b| b.iter().take(width as usize).flat_map(|h| h.0).collect())
            .unwrap_or_default()
    }
}

/// The right edge of the tree at the lock's size: the partial tile of every level and the
/// partial bundle, in memory. Everything left of them is in full objects.
#[derive(Debug, Default)]
struct Edge {
    /// The size the lock holds (`None` before the first commit).
    lock: Option<u64>,
    /// The tree size (0 before the first commit).
    size: u64,
    /// Per tile level, the partial tile at the right edge (width 0 when the level ends on a
    /// tile boundary).
    tiles: Vec<Arc<Nodes>>,
    /// The entries of the partial bundle.
    bundle: Vec<Arc<[u8]>>,
}

impl Edge {
    fn tile(&self, level: usize) -> Option<&Nodes> {
        self.tiles.get(level).map(|t| &**t)
    }
}

/// A bounded cache with two generations: when the young one is full it becomes the old one
/// and the previous old one is dropped; a hit in the old one moves the value to the young.
struct Cache<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    half: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> Cache<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            half: (capacity / 2).max(1),
        }
    }

    fn get(&mut self, k: &K) -> Option<V> {
        if let Some(v) = self.young.get(k) {
            return Some(v.clone());
        }
        let v = self.old.remove(k)?;
        self.insert(*k, v.clone());
        Some(v)
    }

    fn insert(&mut self, k: K, v: V) {
        if self.young.len() >= self.half {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, v);
    }
}

/// How a [`TiledStore`] runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Full hash tiles kept in memory with their inner nodes (16 KiB each).
    pub tile_cache: usize,
    /// Full entry bundles kept in memory, parsed.
    pub bundle_cache: usize,
    /// Whether a commit publishes its checkpoint object: not on a witnessed log, where the
    /// witnessing collector publishes the cosigned one ([`Store::publish`]).
    pub publish_on_commit: bool,
    /// The embedded state store's page cache (sled's), in bytes.
    pub state_cache_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tile_cache: DEFAULT_TILE_CACHE,
            bundle_cache: DEFAULT_BUNDLE_CACHE,
            publish_on_commit: true,
            state_cache_bytes: super::sled_store::DEFAULT_CACHE_BYTES,
        }
    }
}

/// A log store made of an object store (the public artifacts) and a state store (the rest,
/// and the checkpoint lock).
pub struct TiledStore<S, O> {
    state: S,
    objects: O,
    /// Whether a commit publishes its checkpoint object (not on a witnessed log).
    publish_on_commit: AtomicBool,
    edge: RwLock<Arc<Edge>>,
    tiles: Mutex<Cache<(u8, u64), Arc<Nodes>>>,
    bundles: Mutex<Cache<u64, Arc<Vec<Vec<u8>>>>>,
    /// Held by a commit or a recovery: one at a time.
    writing: Mutex<()>,
    #[cfg(any(test, feature = "test-hooks"))]
    faults: Faults,
}

/// Where a test makes a commit stop, as if the process died there ([`TiledStore::fail_at`]).
#[cfg(any(test, feature = "test-hooks"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Before any object is written.
    BeforeObjects,
    /// After half of the objects are written (in their order).
    MidObjects,
    /// After the objects, before the lock moves.
    BeforeLock,
    /// After the lock moved, before the checkpoint object.
    BeforePublish,
    /// After the checkpoint object, before the old partial tiles are deleted.
    BeforeCleanup,
}

#[cfg(any(test, feature = "test-hooks"))]
#[derive(Default)]
struct Faults(Mutex<Option<FailPoint>>);

#[cfg(any(test, feature = "test-hooks"))]
impl Faults {
    fn hit(&self, at: FailPoint) -> Result<(), StoreError> {
        if *self.0.lock().unwrap_or_else(|p| p.into_inner()) == Some(at) {
            return Err(StoreError::Backend {
                action: "committing",
                detail: format!("injected fault at {at:?}"),
            });
        }
        Ok(())
    }
}

impl<S: StateStore, O: ObjectStore> TiledStore<S, O> {
    /// The store over `state` and `objects`: loads the right edge, checks the tiles against the
    /// lock's checkpoint and repairs what a crash left (see the module's documentation).
    pub fn open(state: S, objects: O) -> Result<Self, StoreError> {
        Self::open_with(state, objects, &Options::default())
    }

    /// [`TiledStore::open`] with `options`.
    pub fn open_with(state: S, objects: O, options: &Options) -> Result<Self, StoreError> {
        let store = Self {
            state,
            objects,
            publish_on_commit: AtomicBool::new(options.publish_on_commit),
            edge: RwLock::new(Arc::new(Edge::default())),
            tiles: Mutex::new(Cache::new(options.tile_cache)),
            bundles: Mutex::new(Cache::new(options.bundle_cache)),
            writing: Mutex::new(()),
            #[cfg(any(test, feature = "test-hooks"))]
            faults: Faults::default(),
        };
        store.reload()?;
        Ok(store)
    }

    /// The state store.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The object store.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// Tests: makes every commit fail at `at` (or at none).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn fail_at(&self, at: Option<FailPoint>) {
        *self.faults.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    fn edge(&self) -> Arc<Edge> {
        self.edge.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads the right edge at the lock's size, checks it and repairs the objects around it.
    fn reload(&self) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let cp = self.state.checkpoint()?;
        let size = cp.as_ref().map_or(0, |c| c.size);
        let mut tiles = Vec::new();
        for level in 0..levels(size) {
            let p = positions(size, level);
            let width = p % TILE_WIDTH;
            let nodes = if width == 0 {
                Nodes::default()
            } else {
                let key = hash_tile(level, p / TILE_WIDTH, width);
                let data = self.objects.get(&key)?.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "{} is missing: the log of size {size} cannot be read",
                        key.path()
                    ))
                })?;
                if data.len() as u64 != width * 32 {
                    return Err(StoreError::Corrupt(format!(
                        "{} holds {} bytes",
                        key.path(),
                        data.len()
                    )));
                }
                Nodes::build(&data)
            };
            tiles.push(Arc::new(nodes));
        }
        let width = size % TILE_WIDTH;
        let bundle_entries = if width == 0 {
            Vec::new()
        } else {
            let key = bundle_key(size / TILE_WIDTH, width);
            let data = self.objects.get(&key)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{} is missing: the log of size {size} cannot be read",
                    key.path()
                ))
            })?;
            match unbundle(&data) {
                Some(e) if e.len() as u64 == width => e.into_iter().map(Arc::from).collect(),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "{} is not a bundle of {width} entries",
                        key.path()
                    )))
                }
            }
        };
        *self.edge.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Edge {
            lock: cp.as_ref().map(|c| c.size),
            size,
            tiles,
            bundle: bundle_entries,
        });
        let Some(cp) = cp else {
            return Ok(());
        };
        let root = tlog_tiles::tree_hash(size, &Reader(self))
            .map_err(|e| StoreError::Corrupt(format!("recomputing the root from tiles: {e}")))?;
        if root != cp.root {
            return Err(StoreError::Corrupt(format!(
                "the tiles give another root than the checkpoint of size {size}"
            )));
        }
        match self.objects.get(&ObjectKey::Checkpoint)? {
            Some(note) => match note_size_root(&note) {
                Some((p, _)) if p > size => {
                    return Err(StoreError::Corrupt(format!(
                        "the published checkpoint is at size {p}, ahead of the state store's \
                         {size}: the state store lost acknowledged batches"
                    )))
                }
                Some((p, r)) if p == size && r != cp.root => {
                    return Err(StoreError::Corrupt(format!(
                        "the published checkpoint of size {p} has another root than the state \
                         store's"
                    )))
                }
                Some((p, _)) if p < size && self.publish_on_commit.load(Ordering::SeqCst) => {
                    self.objects
                        .put(&ObjectKey::Checkpoint, cp.note.as_bytes())?;
                }
                Some(_) => {}
                None => {
                    return Err(StoreError::Corrupt(
                        "the published checkpoint object is unreadable".into(),
                    ))
                }
            },
            None if self.publish_on_commit.load(Ordering::SeqCst) => {
                self.objects
                    .put(&ObjectKey::Checkpoint, cp.note.as_bytes())?;
            }
            None => {}
        }
        self.remove_stray_partials(size)
    }

    /// Deletes the partial tiles and bundles near the right edge that the tree of `size` does
    /// not have: left by a crash before the lock moved (beyond the edge), or before the
    /// clean-up (behind it).
    fn remove_stray_partials(&self, size: u64) -> Result<(), StoreError> {
        for level in 0..=levels(size).min(MAX_LEVELS - 1) {
            let p = positions(size, level);
            let (edge, width) = (p / TILE_WIDTH, p % TILE_WIDTH);
            for n in edge.saturating_sub(CLEANUP_WINDOW)..edge + CLEANUP_WINDOW {
                for kind in [TileKind::Hash(level as u8), TileKind::Entries] {
                    if kind == TileKind::Entries && level > 0 {
                        continue;
                    }
                    let tile = TilePath::full(kind, n);
                    for w in self.objects.partials(&tile)? {
                        if n != edge || w != width {
                            self.objects
                                .delete(&ObjectKey::Tile(TilePath { width: w, ..tile }))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The full hash tile `n` of level `level`, with its nodes.
    fn full_tile(&self, level: u8, n: u64) -> Result<Arc<Nodes>, StoreError> {
        if let Some(t) = self
            .tiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, n))
        {
            return Ok(t);
        }
        let key = hash_tile(usize::from(level), n, TILE_WIDTH);
        let data = self
            .objects
            .get(&key)?
            .filter(|d| d.len() as u64 == TILE_WIDTH * 32)
            .ok_or_else(|| StoreError::Corrupt(format!("{} is missing or short", key.path())))?;
        let nodes = Arc::new(Nodes::build(&data));
        self.tiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((level, n), nodes.clone());
        Ok(nodes)
    }

    /// The entries of the full bundle `n`.
    fn full_bundle(&self, n: u64) -> Result<Arc<Vec<Vec<u8>>>, StoreError> {
        if let Some(b) = self
            .bundles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&n)
        {
            return Ok(b);
        }
        let key = bundle_key(n, TILE_WIDTH);
        let entries = self
            .objects
            .get(&key)?
            .and_then(|d| unbundle(&d))
            .filter(|e| e.len() as u64 == TILE_WIDTH)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("{} is missing or malformed", key.path()))
            })?;
        let entries = Arc::new(entries);
        self.bundles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n, entries.clone());
        Ok(entries)
    }

    /// Stored hash `i` of the tree `edge` describes.
    fn stored_hash(&self, edge: &Edge, i: u64) -> Result<Hash, StoreError> {
        let missing = || StoreError::Corrupt(format!("stored hash {i} is not in the tree"));
        let (level, n) = tlog_tiles::split_stored_hash_index(i);
        let (tl, r) = (usize::from(level / 8), level % 8);
        let first = n.checked_shl(u32::from(r)).ok_or_else(missing)?;
        let tile = first / TILE_WIDTH;
        let j = n - tile * (TILE_WIDTH >> r);
        let p = positions(edge.size, tl);
        if (tile + 1) * TILE_WIDTH <= p {
            self.full_tile(tl as u8, tile)?
                .get(r, j)
                .ok_or_else(missing)
        } else if tile == p / TILE_WIDTH {
            edge.tile(tl).and_then(|t| t.get(r, j)).ok_or_else(missing)
        } else {
            Err(missing())
        }
    }

    /// The bytes of `path` if the tree of `size` (at most the lock's) has it.
    fn read_tile(&self, path: &TilePath, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let edge = self.edge();
        if size > edge.size {
            return Ok(None);
        }
        let level = match path.kind {
            TileKind::Hash(l) => usize::from(l),
            TileKind::Entries => 0,
        };
        // Within the tree of `size`...
        let start = path.n.checked_mul(TILE_WIDTH);
        if start
            .and_then(|s| s.checked_add(path.width))
            .is_none_or(|end| end > positions(size, level))
        {
            return Ok(None);
        }
        // ... so within the lock's tree: a full tile there, or the edge's.
        let full_now = (path.n + 1) * TILE_WIDTH <= positions(edge.size, level);
        match (path.kind, full_now) {
            (_, true) if path.is_full() => Ok(self.objects.get(&ObjectKey::Tile(*path))?),
            (TileKind::Hash(l), true) => Ok(Some(self.full_tile(l, path.n)?.bytes(path.width))),
            (TileKind::Hash(_), false) => Ok(edge.tile(level).map(|t| t.bytes(path.width))),
            (TileKind::Entries, true) => {
                let b = self.full_bundle(path.n)?;
                Ok(Some(bundle(&b[..path.width as usize])))
            }
            (TileKind::Entries, false) => Ok(edge.bundle.get(..path.width as usize).map(bundle)),
        }
    }
}

/// The size and root of a checkpoint note (its second and third lines).
fn note_size_root(note: &[u8]) -> Option<(u64, Hash)> {
    use base64::prelude::*;
    let text = std::str::from_utf8(note).ok()?;
    let mut lines = text.lines();
    lines.next()?;
    let size = lines.next()?.parse().ok()?;
    let root: [u8; 32] = BASE64_STANDARD
        .decode(lines.next()?)
        .ok()?
        .try_into()
        .ok()?;
    Some((size, Hash(root)))
}

/// Reads stored hashes for `tlog_tiles` at the current edge.
struct Reader<'a, S, O>(&'a TiledStore<S, O>);

impl<S: StateStore, O: ObjectStore> HashReader for Reader<'_, S, O> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0
            .read_hashes(indexes)
            .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))
    }
}

/// What one commit writes, built before anything is.
struct Plan {
    objects: Vec<(ObjectKey, Vec<u8>)>,
    /// The new edge's partial tiles and bundle.
    edge: Edge,
    /// The partial objects of the old edge that the new one replaces.
    replaced: Vec<ObjectKey>,
}

/// What a batch writes over the tree whose right edge is `old`: its objects and the new edge.
fn plan(old: &Edge, batch: &Batch) -> Result<Plan, StoreError> {
    let size = batch.checkpoint.size;
    if batch.first_index != old.size || size != old.size + batch.entries.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "a batch of {} entries at {} to size {size} does not follow a tree of size {}",
            batch.entries.len(),
            batch.first_index,
            old.size
        )));
    }
    // The batch's new hashes at each tile level's base (tree levels 0, 8, 16, ...).
    let mut fresh: Vec<Vec<u8>> = vec![Vec::new(); levels(size)];
    for (i, h) in (batch.first_hash_index..).zip(&batch.hashes) {
        let (level, n) = tlog_tiles::split_stored_hash_index(i);
        if level % 8 != 0 {
            continue;
        }
        let tl = usize::from(level / 8);
        let next = positions(old.size, tl) + fresh[tl].len() as u64 / 32;
        if n != next {
            return Err(StoreError::Corrupt(format!(
                "stored hash {i} is out of order (level {level}, {n} for {next})"
            )));
        }
        fresh[tl].extend_from_slice(&h.0);
    }
    let mut objects = Vec::new();
    let mut replaced = Vec::new();
    let mut tiles = Vec::with_capacity(fresh.len());
    for (level, new) in fresh.into_iter().enumerate() {
        let (was, now) = (positions(old.size, level), positions(size, level));
        if now - was != new.len() as u64 / 32 {
            return Err(StoreError::Corrupt(format!(
                "the batch brings {} hashes to tile level {level}, not {}",
                new.len() / 32,
                now - was
            )));
        }
        let old_tile = old.tile(level);
        if was == now {
            tiles.push(old.tiles.get(level).cloned().unwrap_or_default());
            continue;
        }
        let first_tile = was / TILE_WIDTH;
        let mut run = old_tile
            .map(|t| t.bytes(was % TILE_WIDTH))
            .unwrap_or_default();
        run.extend_from_slice(&new);
        if was % TILE_WIDTH != 0 {
            replaced.push(hash_tile(level, first_tile, was % TILE_WIDTH));
        }
        let mut edge = Nodes::default();
        for (k, chunk) in run.chunks(TILE_WIDTH as usize * 32).enumerate() {
            let width = chunk.len() as u64 / 32;
            objects.push((
                hash_tile(level, first_tile + k as u64, width),
                chunk.to_vec(),
            ));
            if width < TILE_WIDTH {
                edge = Nodes::build(chunk);
            }
        }
        tiles.push(Arc::new(edge));
    }
    let was = old.size;
    let first_bundle = was / TILE_WIDTH;
    if was % TILE_WIDTH != 0 && !batch.entries.is_empty() {
        replaced.push(bundle_key(first_bundle, was % TILE_WIDTH));
    }
    let edge_bundle = if batch.entries.is_empty() {
        old.bundle.clone()
    } else {
        // The old edge's entries are shared, the batch's copied once.
        let run: Vec<Arc<[u8]>> = old
            .bundle
            .iter()
            .cloned()
            .chain(batch.entries.iter().map(|e| Arc::from(e.as_slice())))
            .collect();
        let mut edge = Vec::new();
        for (k, chunk) in run.chunks(TILE_WIDTH as usize).enumerate() {
            let width = chunk.len() as u64;
            objects.push((bundle_key(first_bundle + k as u64, width), bundle(chunk)));
            if width < TILE_WIDTH {
                edge = chunk.to_vec();
            }
        }
        edge
    };
    Ok(Plan {
        objects,
        edge: Edge {
            lock: Some(size),
            size,
            tiles,
            bundle: edge_bundle,
        },
        replaced,
    })
}

impl<S: StateStore, O: ObjectStore> TiledStore<S, O> {
    #[cfg(any(test, feature = "test-hooks"))]
    fn fault(&self, at: FailPoint) -> Result<(), StoreError> {
        self.faults.hit(at)
    }

    /// Where the objects' writing is cut: in the middle when a test arms
    /// [`FailPoint::MidObjects`], nowhere otherwise.
    #[cfg(any(test, feature = "test-hooks"))]
    fn split(&self, objects: usize) -> usize {
        match *self.faults.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(FailPoint::MidObjects) => objects / 2,
            _ => objects,
        }
    }

    #[cfg(not(any(test, feature = "test-hooks")))]
    #[inline(always)]
    fn split(&self, objects: usize) -> usize {
        objects
    }

    #[cfg(not(any(test, feature = "test-hooks")))]
    #[inline(always)]
    fn fault(&self, _: FailPointStub) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Without test hooks, fail points are names that compile to nothing.
#[cfg(not(any(test, feature = "test-hooks")))]
#[derive(Clone, Copy)]
enum FailPointStub {
    BeforeObjects,
    MidObjects,
    BeforeLock,
    BeforePublish,
    BeforeCleanup,
}

#[cfg(not(any(test, feature = "test-hooks")))]
use FailPointStub as FailPoint;

impl<S: StateStore, O: ObjectStore> Store for TiledStore<S, O> {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.state.checkpoint()
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let edge = self.edge();
        indexes
            .iter()
            .map(|&i| self.stored_hash(&edge, i))
            .collect()
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let edge = self.edge();
        if start > end || end > edge.size {
            return Err(StoreError::Corrupt(format!(
                "entries {start}..{end} are not in the tree of size {}",
                edge.size
            )));
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut i = start;
        while i < end {
            let n = i / TILE_WIDTH;
            let stop = end.min((n + 1) * TILE_WIDTH);
            let (from, to) = ((i % TILE_WIDTH) as usize, (stop - n * TILE_WIDTH) as usize);
            if (n + 1) * TILE_WIDTH <= edge.size {
                out.extend(self.full_bundle(n)?[from..to].iter().cloned());
            } else {
                let part = edge.bundle.get(from..to).ok_or_else(|| {
                    StoreError::Corrupt(format!("entries {i}..{stop} are not at the edge"))
                })?;
                out.extend(part.iter().map(|e| e.to_vec()));
            }
            i = stop;
        }
        Ok(out)
    }

    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
        self.state.lookup(key)
    }

    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        self.state.scan(index, prefix, after, limit)
    }

    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.state.last(index, prefix)
    }

    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.sidecar(index)
    }

    fn tile(&self, path: &TilePath, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_tile(path, size)
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.edge();
        let plan = plan(&old, batch)?;
        self.fault(FailPoint::BeforeObjects)?;
        // One `put_all`, so that each directory is synced once; a test cutting the writing
        // in the middle splits it.
        let split = self.split(plan.objects.len());
        self.objects.put_all(&plan.objects[..split])?;
        if split < plan.objects.len() {
            self.fault(FailPoint::MidObjects)?;
            self.objects.put_all(&plan.objects[split..])?;
        }
        self.fault(FailPoint::BeforeLock)?;
        self.state.commit(&StateBatch {
            expected: old.lock,
            index_keys: &batch.index_keys,
            sidecars: &batch.sidecars,
            erased_sidecars: &batch.erased_sidecars,
            removed_keys: &batch.removed_keys,
            checkpoint: &batch.checkpoint,
        })?;
        self.fault(FailPoint::BeforePublish)?;
        if self.publish_on_commit.load(Ordering::SeqCst) {
            self.objects
                .put(&ObjectKey::Checkpoint, batch.checkpoint.note.as_bytes())?;
        }
        // Full tiles just written are likely read soon (the next proofs): cache them.
        {
            let mut cache = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
            for (key, data) in &plan.objects {
                if let ObjectKey::Tile(TilePath {
                    kind: TileKind::Hash(l),
                    n,
                    width: TILE_WIDTH,
                }) = key
                {
                    cache.insert((*l, *n), Arc::new(Nodes::build(data)));
                }
            }
        }
        *self.edge.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(plan.edge);
        self.fault(FailPoint::BeforeCleanup)?;
        for key in &plan.replaced {
            if let Err(e) = self.objects.delete(key) {
                // Harmless: the next start deletes it.
                tracing::warn!(error = %e, object = key.path(), "a replaced partial tile stays");
            }
        }
        Ok(())
    }

    fn recover(&self) -> Result<(), StoreError> {
        self.state.recover()?;
        self.reload()
    }

    fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        let edge = self.edge();
        if checkpoint.size > edge.size {
            return Err(StoreError::Corrupt(format!(
                "cannot publish a checkpoint of size {} over a tree of size {}",
                checkpoint.size, edge.size
            )));
        }
        Ok(self
            .objects
            .put(&ObjectKey::Checkpoint, checkpoint.note.as_bytes())?)
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.state.meta(name)
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.state.put_meta(name, value)
    }

    fn last_flush(&self) -> Option<std::time::Duration> {
        self.state.last_flush()
    }
}

/// The embedded default: the state in sled, the objects as files.
pub type DiskStore = TiledStore<SledStore, DirObjects>;

/// Where the state store lives in a data directory.
pub const STATE_DIR: &str = "store";
/// Where the public objects live in a data directory: serve it with any static file server.
pub const PUBLIC_DIR: &str = "public";

impl TiledStore<SledStore, DirObjects> {
    /// The log of the data directory `data_dir`: the state in `store/` (with `store.keys`
    /// beside it), the objects in `public/`.
    pub fn open_dir(data_dir: &Path, options: &Options) -> Result<Self, StoreError> {
        let state =
            SledStore::open_with_cache(&data_dir.join(STATE_DIR), options.state_cache_bytes)?;
        let objects = DirObjects::open(data_dir.join(PUBLIC_DIR))?;
        Self::open_with(state, objects, options)
    }
}

/// Writes the objects of a whole tree, window by window, from its entries and stored hashes
/// (`datapole migrate`).
pub struct TreeWriter<'a, O> {
    objects: &'a O,
    edge: Edge,
}

impl<'a, O: ObjectStore> TreeWriter<'a, O> {
    /// A writer of an empty tree's objects into `objects`.
    pub fn new(objects: &'a O) -> Self {
        Self {
            objects,
            edge: Edge::default(),
        }
    }

    /// Writes the objects of the next `entries`, whose stored hashes start at
    /// `first_hash_index`, durably.
    pub fn add(
        &mut self,
        entries: Vec<Vec<u8>>,
        first_hash_index: u64,
        hashes: Vec<Hash>,
    ) -> Result<(), StoreError> {
        let size = self.edge.size + entries.len() as u64;
        let batch = Batch {
            first_index: self.edge.size,
            entries,
            first_hash_index,
            hashes,
            index_keys: Vec::new(),
            sidecars: Vec::new(),
            erased_sidecars: Vec::new(),
            removed_keys: Vec::new(),
            // Only its size is read.
            checkpoint: SignedCheckpoint {
                size,
                root: Hash([0; 32]),
                note: String::new(),
            },
        };
        let plan = plan(&self.edge, &batch)?;
        self.objects.put_all(&plan.objects)?;
        for key in &plan.replaced {
            self.objects.delete(key)?;
        }
        self.edge = plan.edge;
        Ok(())
    }

    /// Publishes `checkpoint`, which must be of the tree written.
    pub fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        if checkpoint.size != self.edge.size {
            return Err(StoreError::Corrupt(format!(
                "a checkpoint of size {} for a tree of {}",
                checkpoint.size, self.edge.size
            )));
        }
        Ok(self
            .objects
            .put(&ObjectKey::Checkpoint, checkpoint.note.as_bytes())?)
    }
}

/// The log in memory: the twin of the embedded default for tests and benchmarks of the core.
pub type MemoryStore = TiledStore<MemoryState, MemoryObjects>;

impl TiledStore<MemoryState, MemoryObjects> {
    /// An empty log in memory.
    pub fn new() -> Self {
        match Self::open(MemoryState::new(), MemoryObjects::new()) {
            Ok(store) => store,
            // An empty state has no checkpoint: opening reads nothing that can fail.
            Err(e) => unreachable!("opening an empty memory store: {e}"),
        }
    }
}

impl Default for TiledStore<MemoryState, MemoryObjects> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[path = "tiled_tests.rs"]
mod tests;
