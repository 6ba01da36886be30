//! The engine against the Go reference implementation (golang.org/x/mod/sumdb/tlog and
//! sumdb/note): every root, inclusion and consistency proof, every tile and bundle, and the
//! signed note byte for byte. The vectors are in tests/vectors/tlog-reference.json.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::prelude::*;
use datapole::log::tiles::TilePath;
use datapole::log::tree::{self, StoreReader};
use datapole::log::{
    AppendRequest, Batch, Hash, LogSigner, MemoryStore, Sequencer, SequencerConfig, Store,
};
use datapole::verify;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    leaf_hashes: Vec<String>,
    roots: BTreeMap<String, String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
    signed_note: SignedNote,
    tiles: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Inclusion {
    index: u64,
    tree_size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    from: u64,
    to: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct SignedNote {
    skey: String,
    vkey: String,
    text: String,
    signed: String,
}

fn vectors() -> Vectors {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/tlog-reference.json"
    ))
    .expect("tests/vectors/tlog-reference.json");
    serde_json::from_str(&text).expect("vectors parse")
}

fn b64(s: &str) -> [u8; 32] {
    BASE64_STANDARD
        .decode(s)
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

fn leaf(i: u64) -> Vec<u8> {
    format!("entry-{i}").into_bytes()
}

/// Appends leaves one at a time through the engine's integrate + commit path, recording the
/// root after every append.
fn build_one_by_one(n: u64, signer: &LogSigner) -> (MemoryStore, Vec<Hash>) {
    let store = MemoryStore::new();
    let mut roots = Vec::new();
    for i in 0..n {
        let data = leaf(i);
        let reader = StoreReader::new(&store);
        let int = tree::integrate(i, &[tlog_tiles::record_hash(&data)], &reader).unwrap();
        let checkpoint = signer.sign(int.new_size, int.root).unwrap();
        store
            .commit(&Batch {
                first_index: i,
                entries: vec![data],
                first_hash_index: int.first_hash_index,
                hashes: int.hashes,
                index_keys: vec![],
                sidecars: vec![],
                erased_sidecars: vec![],
                removed_keys: Vec::new(),
                checkpoint,
            })
            .unwrap();
        roots.push(int.root);
    }
    (store, roots)
}

#[test]
fn engine_reproduces_the_reference_log() {
    let v = vectors();
    let signer = LogSigner::from_skey(&v.signed_note.skey, None).unwrap();
    let (store, roots) = build_one_by_one(1100, &signer);
    let reader = StoreReader::new(&store);

    // Leaf hashes and every root, sizes 1..=1100.
    for (i, want) in v.leaf_hashes.iter().enumerate() {
        assert_eq!(tlog_tiles::record_hash(&leaf(i as u64)).0, b64(want));
        assert_eq!(verify::leaf_hash(&leaf(i as u64)), b64(want));
    }
    assert_eq!(v.roots.len(), 1100);
    for (size, want) in &v.roots {
        let size: u64 = size.parse().unwrap();
        assert_eq!(roots[size as usize - 1].0, b64(want), "root at {size}");
        assert_eq!(tree::root(size, &reader).unwrap().0, b64(want));
    }

    // Every inclusion proof, generated and verified.
    assert!(!v.inclusion.is_empty());
    for p in &v.inclusion {
        let want: Vec<[u8; 32]> = p.proof.iter().map(|h| b64(h)).collect();
        let got: Vec<[u8; 32]> = tree::inclusion_proof(p.index, p.tree_size, &reader)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(got, want, "inclusion {} in {}", p.index, p.tree_size);
        let root = b64(&v.roots[&p.tree_size.to_string()]);
        let leaf = b64(&v.leaf_hashes[p.index as usize]);
        verify::verify_inclusion(&leaf, p.index, p.tree_size, &want, &root).unwrap();
        // A wrong index or a wrong root must fail.
        if p.tree_size > 1 {
            let other = (p.index + 1) % p.tree_size;
            assert!(verify::verify_inclusion(&leaf, other, p.tree_size, &want, &root).is_err());
        }
        assert!(verify::verify_inclusion(&leaf, p.index, p.tree_size, &want, &[9; 32]).is_err());
    }

    // Every consistency proof, generated and verified.
    assert!(!v.consistency.is_empty());
    for p in &v.consistency {
        let want: Vec<[u8; 32]> = p.proof.iter().map(|h| b64(h)).collect();
        let got: Vec<[u8; 32]> = tree::consistency_proof(p.from, p.to, &reader)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(got, want, "consistency {} -> {}", p.from, p.to);
        let old = b64(&v.roots[&p.from.to_string()]);
        let new = b64(&v.roots[&p.to.to_string()]);
        verify::verify_consistency(p.from, p.to, &old, &new, &want).unwrap();
        if p.from < p.to {
            assert!(verify::verify_consistency(p.from, p.to, &new, &old, &want).is_err());
        }
    }

    // Every tile and bundle, byte for byte.
    assert!(v.tiles.len() > 100);
    for (path, want) in &v.tiles {
        let parsed = TilePath::parse(path.strip_prefix("tile/").unwrap()).unwrap();
        let got = store.tile(&parsed, 1100).unwrap().expect(path);
        assert_eq!(BASE64_STANDARD.encode(got), *want, "{path}");
    }
}

#[test]
fn signed_note_matches_the_reference_byte_for_byte() {
    let v = vectors();
    let signer = LogSigner::from_skey(&v.signed_note.skey, None).unwrap();
    assert_eq!(signer.vkey(), v.signed_note.vkey);
    let root = b64(&v.roots["1100"]);
    let cp = signer.sign(1100, Hash(root)).unwrap();
    assert_eq!(cp.note, v.signed_note.signed);
    assert!(cp.note.starts_with(&v.signed_note.text));
    let checked = verify::verify_checkpoint(&cp.note, &v.signed_note.vkey).unwrap();
    assert_eq!((checked.size, checked.root), (1100, root));
    // Any change to the text breaks the signature.
    let forged = cp.note.replacen("1100", "1101", 1);
    assert!(verify::verify_checkpoint(&forged, &v.signed_note.vkey).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequencer_batches_give_the_same_tree() {
    let v = vectors();
    let signer = LogSigner::from_skey(&v.signed_note.skey, None).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let config = SequencerConfig {
        max_batch: 37,
        ..SequencerConfig::default()
    };
    let (log, _thread) = Sequencer::start(store, signer, config).unwrap();
    // Appends in waves of varying sizes, concurrently within each wave, so batches vary.
    let mut next = 0u64;
    for wave in [1u64, 2, 3, 100, 255, 256, 257, 26, 200] {
        let mut handles = Vec::new();
        for i in next..next + wave {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                let request = AppendRequest {
                    entry: leaf(i),
                    ..AppendRequest::default()
                };
                (i, log.append(request).await.unwrap())
            }));
        }
        // Entries submitted concurrently may be sequenced in any order: re-order the
        // expectation by the index each one got.
        for h in handles {
            let (_, appended) = h.await.unwrap();
            assert!(appended.index < next + wave);
            assert!(appended.checkpoint.size > appended.index);
        }
        next += wave;
    }
    assert_eq!(log.latest().size, next);
    // The entries as sequenced, hashed independently, give the signed root.
    let entries = log.store().entries(0, next).unwrap();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| verify::leaf_hash(e)).collect();
    assert_eq!(verify::root_from_leaf_hashes(&leaves), log.latest().root.0);
    let checked = verify::verify_checkpoint(&log.latest().note, &v.signed_note.vkey).unwrap();
    assert_eq!(checked.size, next);
}
