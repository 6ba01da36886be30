//! What one fixity run commits to: a check record per stored copy, in the order checked, and
//! the RFC 9162 Merkle tree hash over them (leaf hash SHA-256(0x00 ‖ record bytes)), which its
//! `fixity` entry carries as `root`. The records are kept off the log beside that entry; the
//! audit path of any one record ([`path`], RFC 9162 §2.1.3.1) proves that the run checked
//! that copy with that outcome, and any RFC 9162 inclusion verifier checks it against `root`.
//! Pure code.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::json::{self, EncodeError, JsonError};

/// How a stored copy fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The size and SHA-256 of the stored bytes are the recorded ones.
    Intact,
    /// Bytes are there, with another size or digest.
    Mismatch,
    /// No copy at this location.
    Missing,
    /// The copy could not be read.
    Unreadable,
}

/// One copy's check in a run: a leaf of the run's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRecord {
    /// The object.
    pub object: Uuid,
    /// The location whose copy was checked.
    pub location: String,
    /// The outcome (before any repair).
    pub outcome: Outcome,
    /// SHA-256 of the bytes read, hex, when they could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// True when the copy failed and was repaired during the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repaired: bool,
}

impl CheckRecord {
    /// The leaf's bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        json::to_vec("a fixity check record", self)
    }

    /// Reads a leaf's bytes with the strict reader.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, JsonError> {
        json::from_slice(bytes)
    }
}

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// RFC 9162 leaf hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// RFC 9162 MTH over the leaf hashes (the hash of the empty string for none).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// RFC 9162 PATH(m, D[n]): the audit path of leaf `m`, leaf-side first; `None` when `m` is
/// not a leaf.
pub fn path(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    if m >= leaves.len() {
        return None;
    }
    fn walk(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
        let n = leaves.len();
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            walk(&leaves[..k], m, out);
            out.push(root(&leaves[k..]));
        } else {
            walk(&leaves[k..], m - k, out);
            out.push(root(&leaves[..k]));
        }
    }
    let mut out = Vec::new();
    walk(leaves, m, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 hashing for the oracle.
    #[derive(Clone)]
    struct Rfc;
    impl rs_merkle::Hasher for Rfc {
        type Hash = Hash;
        fn hash(data: &[u8]) -> Hash {
            Sha256::digest(data).into()
        }
        fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
            match right {
                Some(r) => node(left, r),
                None => *left,
            }
        }
        fn hash_size() -> usize {
            32
        }
    }

    #[test]
    fn root_and_paths_agree_with_an_independent_merkle_library() {
        for n in 1..40usize {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let tree = rs_merkle::MerkleTree::<Rfc>::from_leaves(&leaves);
            let want = tree.root().unwrap();
            assert_eq!(root(&leaves), want, "n = {n}");
            for m in 0..n {
                let p = path(&leaves, m).unwrap();
                let proof = rs_merkle::MerkleProof::<Rfc>::new(p);
                assert!(
                    proof.verify(want, &[m], &[leaves[m]], n),
                    "n = {n}, m = {m}"
                );
            }
            assert!(path(&leaves, n).is_none());
        }
    }

    #[test]
    fn a_record_round_trips() {
        let r = CheckRecord {
            object: Uuid::from_u128(3),
            location: "disk2".into(),
            outcome: Outcome::Mismatch,
            sha256: Some("0f".repeat(32)),
            repaired: true,
        };
        let b = r.to_bytes().unwrap();
        assert_eq!(CheckRecord::from_bytes(&b).unwrap(), r);
        let intact = CheckRecord {
            outcome: Outcome::Intact,
            repaired: false,
            ..r
        };
        assert!(!String::from_utf8(intact.to_bytes().unwrap())
            .unwrap()
            .contains("repaired"));
    }
}
