//! Crypto-shredding of the log's sidecars (the off-log data kept beside an entry, opaque to
//! the engine; the ledger keeps its private records there): the keys, the key file and the
//! AEAD.
//!
//! Each record is sealed (ChaCha20-Poly1305, RFC 8439, through `ring`) under its own random
//! *data key*. The data key is stored beside the record *wrapped* (sealed) under the
//! *key-encryption key* (KEK) of the record's bucket of [`BUCKET_LEAVES`] leaf indexes. The KEKs
//! live outside the store, in a small key file written atomically (temporary file, fsync,
//! rename, fsync of the directory), readable by its owner only. Erasing a record deletes its
//! data key and ciphertext and rotates its bucket's KEK: the bucket's other data keys are
//! wrapped again under a new KEK *generation*, and the old generation leaves the key file once
//! that is durable. What lingers of the record in the store's old segments, or in any copy of
//! the store, is then sealed under a data key that is itself sealed under a KEK that no longer
//! exists.
//!
//! This module owns the key material and its file format; it knows nothing of sled. The sled
//! store (`sled_store`) decides when keys are made, rotated and dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::store::StoreError;

/// Leaves per bucket: one KEK covers the private records of this many consecutive leaf
/// indexes. An erasure re-wraps the data keys of its bucket (at most this many, 64 bytes each);
/// the key file grows by one KEK (44 bytes) per bucket that holds a private record.
pub const BUCKET_LEAVES: u64 = 4096;

/// The bucket of a leaf.
pub fn bucket(leaf: u64) -> u64 {
    leaf / BUCKET_LEAVES
}

/// A 256-bit key, wiped from memory when dropped.
pub type Key = Zeroizing<[u8; 32]>;

/// The first bytes of a key file: its format.
const MAGIC: &[u8; 16] = b"datapole-keys/1\n";
/// One KEK in the key file: bucket (8, BE), generation (4, BE), key (32).
const RECORD: usize = 8 + 4 + 32;
/// AEAD tag length (Poly1305).
const TAG: usize = 16;
/// A wrapped data key: generation (4, BE), nonce, sealed key and tag.
pub const WRAPPED_LEN: usize = 4 + NONCE_LEN + 32 + TAG;

fn random_fail(e: ring::error::Unspecified) -> StoreError {
    StoreError::Backend {
        action: "drawing a key",
        detail: format!("the system's random source failed: {e}"),
    }
}

/// A fresh random key.
pub fn random_key() -> Result<Key, StoreError> {
    let mut k = Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(&mut k[..]).map_err(random_fail)?;
    Ok(k)
}

fn cipher(key: &[u8; 32]) -> LessSafeKey {
    // CHACHA20_POLY1305 takes exactly 32 key bytes, which `key` is.
    LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, key)
            .unwrap_or_else(|_| unreachable!("a ChaCha20-Poly1305 key is 32 bytes")),
    )
}

/// Seals `plaintext` under `key` with a random nonce: nonce ‖ ciphertext ‖ tag.
fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(random_fail)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG);
    out.extend_from_slice(&nonce);
    let mut body = plaintext.to_vec();
    cipher(key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| StoreError::Corrupt("a record too large to seal".into()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens what [`seal`] made; `None` if the key, the associated data or the bytes are wrong.
fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce = Nonce::try_assume_unique_for_key(sealed.get(..NONCE_LEN)?).ok()?;
    let mut body = Zeroizing::new(sealed.get(NONCE_LEN..)?.to_vec());
    let len = cipher(key)
        .open_in_place(nonce, Aad::from(aad), &mut body[..])
        .ok()?
        .len();
    body.truncate(len);
    Some(body)
}

fn record_aad(leaf: u64) -> [u8; 24] {
    let mut a = [0u8; 24];
    a[..16].copy_from_slice(b"datapole record\0");
    a[16..].copy_from_slice(&leaf.to_be_bytes());
    a
}

fn wrap_aad(leaf: u64) -> [u8; 24] {
    let mut a = [0u8; 24];
    a[..16].copy_from_slice(b"datapole datakey");
    a[16..].copy_from_slice(&leaf.to_be_bytes());
    a
}

/// Seals the private record of `leaf` under a fresh data key; returns the sealed record and
/// the data key.
pub fn seal_record(leaf: u64, plaintext: &[u8]) -> Result<(Vec<u8>, Key), StoreError> {
    let data_key = random_key()?;
    Ok((seal(&data_key, &record_aad(leaf), plaintext)?, data_key))
}

/// Opens the sealed private record of `leaf` with its data key.
pub fn open_record(leaf: u64, sealed: &[u8], data_key: &Key) -> Result<Vec<u8>, StoreError> {
    open(data_key, &record_aad(leaf), sealed)
        .map(|p| p.to_vec())
        .ok_or_else(|| {
            StoreError::Corrupt(format!("the private record of leaf {leaf} does not open"))
        })
}

/// Wraps the data key of `leaf` under KEK generation `generation` of its bucket.
pub fn wrap(leaf: u64, data_key: &Key, generation: u32, kek: &Key) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&seal(kek, &wrap_aad(leaf), &data_key[..])?);
    Ok(out)
}

/// The KEK generation a wrapped data key was sealed under.
pub fn wrapped_generation(wrapped: &[u8]) -> Option<u32> {
    wrapped
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
}

/// Unwraps the data key of `leaf` with the KEKs of `ring`.
pub fn unwrap(leaf: u64, wrapped: &[u8], ring: &Keyring) -> Result<Key, StoreError> {
    let generation = wrapped_generation(wrapped).ok_or_else(|| {
        StoreError::Corrupt(format!("the wrapped data key of leaf {leaf} is truncated"))
    })?;
    let kek = ring.get(bucket(leaf), generation).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the key file has no KEK generation {generation} for bucket {} (leaf {leaf}): \
             was it replaced by an older copy?",
            bucket(leaf)
        ))
    })?;
    let plain = open(kek, &wrap_aad(leaf), &wrapped[4..]).ok_or_else(|| {
        StoreError::Corrupt(format!("the data key of leaf {leaf} does not unwrap"))
    })?;
    let key = <[u8; 32]>::try_from(&plain[..])
        .map_err(|_| StoreError::Corrupt(format!("the data key of leaf {leaf} is not 32 bytes")))?;
    Ok(Zeroizing::new(key))
}

/// The KEKs, by bucket and generation. A bucket normally has one generation; it has two
/// between the start of a rotation and the moment the store has made the new one durable.
#[derive(Default, Clone)]
pub struct Keyring {
    keks: BTreeMap<(u64, u32), Key>,
}

impl Keyring {
    /// The KEK of `bucket` at `generation`.
    pub fn get(&self, bucket: u64, generation: u32) -> Option<&Key> {
        self.keks.get(&(bucket, generation))
    }

    /// The bucket's newest generation, the one new data keys are wrapped under.
    pub fn current(&self, bucket: u64) -> Option<(u32, &Key)> {
        self.keks
            .range((bucket, 0)..=(bucket, u32::MAX))
            .next_back()
            .map(|(&(_, g), k)| (g, k))
    }

    /// Adds a KEK.
    pub fn insert(&mut self, bucket: u64, generation: u32, kek: Key) {
        self.keks.insert((bucket, generation), kek);
    }

    /// Drops the bucket's generations older than `generation`.
    pub fn drop_older(&mut self, bucket: u64, generation: u32) {
        self.keks
            .retain(|&(b, g), _| b != bucket || g >= generation);
    }

    /// Drops one generation.
    pub fn remove(&mut self, bucket: u64, generation: u32) {
        self.keks.remove(&(bucket, generation));
    }

    /// The buckets holding more than one generation (a rotation was under way).
    pub fn rotating(&self) -> BTreeSet<u64> {
        let mut seen = BTreeSet::new();
        let mut several = BTreeSet::new();
        for &(b, _) in self.keks.keys() {
            if !seen.insert(b) {
                several.insert(b);
            }
        }
        several
    }

    /// The generations of `bucket`, oldest first.
    pub fn generations(&self, bucket: u64) -> Vec<u32> {
        self.keks
            .range((bucket, 0)..=(bucket, u32::MAX))
            .map(|(&(_, g), _)| g)
            .collect()
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(16 + 4 + self.keks.len() * RECORD + 32));
        v.extend_from_slice(MAGIC);
        // Fewer than 2^32 buckets: a bucket needs 4,096 leaves.
        v.extend_from_slice(&(self.keks.len() as u32).to_be_bytes());
        for (&(b, g), k) in &self.keks {
            v.extend_from_slice(&b.to_be_bytes());
            v.extend_from_slice(&g.to_be_bytes());
            v.extend_from_slice(&k[..]);
        }
        let digest = Sha256::digest(&v[..]);
        v.extend_from_slice(&digest);
        v
    }

    fn decode(bytes: &[u8], path: &Path) -> Result<Self, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("key file {}: {what}", path.display()));
        if bytes.get(..16) != Some(&MAGIC[..]) {
            return Err(bad("not a datapole key file (datapole-keys/1)"));
        }
        let (body, digest) = bytes.split_at(bytes.len().saturating_sub(32).max(16));
        if Sha256::digest(body)[..] != *digest {
            return Err(bad("checksum mismatch"));
        }
        let count: [u8; 4] = body
            .get(16..20)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        let records = &body[20..];
        if records.len() != u32::from_be_bytes(count) as usize * RECORD {
            return Err(bad("wrong length"));
        }
        let mut ring = Keyring::default();
        for r in records.chunks_exact(RECORD) {
            let mut k = Zeroizing::new([0u8; 32]);
            k.copy_from_slice(&r[12..]);
            // The slices are 8 and 4 bytes long by construction of RECORD.
            let b = u64::from_be_bytes(r[..8].try_into().map_err(|_| bad("record"))?);
            let g = u32::from_be_bytes(r[8..12].try_into().map_err(|_| bad("record"))?);
            ring.insert(b, g, k);
        }
        Ok(ring)
    }
}

/// The key file: the KEKs, in one file replaced atomically.
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The key file at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    }

    /// Reads the keys, or `None` if there is no key file. A temporary file left by a write
    /// that did not finish holds keys too: it is deleted.
    pub fn load(&self) -> Result<Option<Keyring>, StoreError> {
        let fail = |e: std::io::Error| StoreError::Backend {
            action: "reading the key file",
            detail: format!("{}: {e}", self.path.display()),
        };
        match std::fs::remove_file(self.temp()) {
            Ok(()) => sync_parent(&self.path).map_err(fail)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                Keyring::decode(&bytes, &self.path).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fail(e)),
        }
    }

    /// Replaces the file with `ring`, durably: a temporary file (mode 0600) written and
    /// fsynced, renamed over the file, and the directory fsynced. When this returns `Ok`, the
    /// file holds `ring` after any crash; before, it holds the previous keys or `ring`.
    pub fn write(&self, ring: &Keyring) -> Result<(), StoreError> {
        let temp = self.temp();
        let result = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&temp)?;
            f.write_all(&ring.encode())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&temp, &self.path)?;
            sync_parent(&self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map_err(|e| StoreError::Backend {
            action: "writing the key file",
            detail: format!("{}: {e}", self.path.display()),
        })
    }
}

/// fsyncs the directory holding `path`, so that a rename or a removal in it is durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_with_its_key_and_leaf_only() {
        let (sealed, key) = seal_record(7, b"the statement").unwrap();
        assert!(!sealed.windows(13).any(|w| w == b"the statement"));
        assert_eq!(open_record(7, &sealed, &key).unwrap(), b"the statement");
        // Moved to another leaf, or opened with another key, it does not open.
        assert!(open_record(8, &sealed, &key).is_err());
        assert!(open_record(7, &sealed, &random_key().unwrap()).is_err());
    }

    #[test]
    fn a_data_key_unwraps_only_with_its_generation() {
        let mut ring = Keyring::default();
        ring.insert(0, 0, random_key().unwrap());
        let data_key = random_key().unwrap();
        let wrapped = wrap(3, &data_key, 0, ring.get(0, 0).unwrap()).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(*unwrap(3, &wrapped, &ring).unwrap(), *data_key);
        assert!(unwrap(4, &wrapped, &ring).is_err(), "bound to its leaf");
        ring.insert(0, 1, random_key().unwrap());
        assert_eq!(ring.current(0).unwrap().0, 1);
        assert_eq!(ring.rotating(), BTreeSet::from([0]));
        ring.drop_older(0, 1);
        assert_eq!(ring.generations(0), vec![1]);
        let e = unwrap(3, &wrapped, &ring).unwrap_err();
        assert!(e.to_string().contains("no KEK generation 0"), "{e}");
    }

    #[test]
    fn the_key_file_round_trips_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("store.keys"));
        assert!(file.load().unwrap().is_none());
        let mut ring = Keyring::default();
        ring.insert(0, 0, random_key().unwrap());
        ring.insert(5, 2, random_key().unwrap());
        file.write(&ring).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A temporary file left by a crash is removed on load.
        std::fs::write(file.temp(), b"partial").unwrap();
        let back = file.load().unwrap().unwrap();
        assert!(!file.temp().exists());
        assert_eq!(*back.get(5, 2).unwrap(), *ring.get(5, 2).unwrap());
        assert_eq!(back.generations(0), vec![0]);
        // One flipped bit is refused.
        let mut bytes = std::fs::read(file.path()).unwrap();
        bytes[30] ^= 1;
        std::fs::write(file.path(), &bytes).unwrap();
        let e = file.load().err().expect("refused");
        assert!(e.to_string().contains("checksum"), "{e}");
    }
}
