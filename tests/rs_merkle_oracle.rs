//! `rs_merkle`, an independent Merkle tree implementation, as an oracle: with an RFC 6962
//! hasher its roots and single-leaf proofs equal the engine's for many tree sizes, including
//! every size up to 300 and the sizes around tile and power-of-two boundaries.

use datapole::log::tree::{self, StoreReader};
use datapole::log::{Batch, Hash, LogSigner, MemoryStore, Store};
use datapole::verify::{self, Rfc6962Hasher};
use rs_merkle::MerkleTree;

const TOTAL: u64 = 4_100;

fn leaf(i: u64) -> Vec<u8> {
    // Varied lengths and contents.
    let mut v = format!("leaf {i} ").into_bytes();
    v.extend(std::iter::repeat_n((i % 251) as u8, (i % 37) as usize));
    v
}

/// Builds the log through the engine in batches of varying sizes.
fn engine() -> (MemoryStore, Vec<(u64, Hash)>) {
    let (skey, _) = LogSigner::generate("oracle.test/log").unwrap();
    let signer = LogSigner::from_skey(&skey, None).unwrap();
    let store = MemoryStore::new();
    let mut size = 0u64;
    let mut batch_roots = Vec::new();
    let mut k = 0u64;
    while size < TOTAL {
        let n = [1, 2, 3, 7, 64, 255, 256, 257, 500][(k % 9) as usize].min(TOTAL - size);
        k += 1;
        let entries: Vec<Vec<u8>> = (size..size + n).map(leaf).collect();
        let hashes: Vec<Hash> = entries.iter().map(|e| tlog_tiles::record_hash(e)).collect();
        let int = tree::integrate(size, &hashes, &StoreReader::new(&store)).unwrap();
        let checkpoint = signer.sign(int.new_size, int.root).unwrap();
        store
            .commit(&Batch {
                first_index: size,
                entries,
                first_hash_index: int.first_hash_index,
                hashes: int.hashes,
                index_keys: vec![],
                sidecars: vec![],
                erased_sidecars: vec![],
                removed_keys: Vec::new(),
                checkpoint,
            })
            .unwrap();
        size += n;
        batch_roots.push((size, int.root));
    }
    (store, batch_roots)
}

#[test]
fn roots_and_proofs_match_rs_merkle() {
    let (store, batch_roots) = engine();
    let reader = StoreReader::new(&store);
    let leaves: Vec<[u8; 32]> = (0..TOTAL).map(|i| verify::leaf_hash(&leaf(i))).collect();

    // The root computed while integrating each batch.
    for (size, root) in &batch_roots {
        assert_eq!(
            root.0,
            verify::root_from_leaf_hashes(&leaves[..*size as usize]),
            "batch root at {size}"
        );
    }

    let mut sizes: Vec<u64> = (1..=300).collect();
    sizes.extend([
        511, 512, 513, 1000, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, TOTAL,
    ]);
    let mut proofs = 0;
    for size in sizes {
        let oracle = MerkleTree::<Rfc6962Hasher>::from_leaves(&leaves[..size as usize]);
        assert_eq!(
            tree::root(size, &reader).unwrap().0,
            oracle.root().unwrap(),
            "root at size {size}"
        );
        let mut indexes = vec![0, size - 1, size / 2, size / 3, (size * 7) / 11];
        if size <= 64 {
            indexes = (0..size).collect();
        }
        indexes.sort_unstable();
        indexes.dedup();
        for i in indexes {
            let ours: Vec<[u8; 32]> = tree::inclusion_proof(i, size, &reader)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect();
            let theirs = oracle.proof(&[i as usize]).proof_hashes().to_vec();
            assert_eq!(ours, theirs, "proof of {i} in {size}");
            proofs += 1;
        }
    }
    assert!(proofs > 1_000);
}
