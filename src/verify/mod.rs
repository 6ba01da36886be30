//! Offline verification of what the log hands out: signed checkpoints (c2sp.org/signed-note,
//! c2sp.org/tlog-checkpoint), inclusion proofs and consistency proofs (RFC 9162 §2.1.3.2 and
//! §2.1.4.2); receipts ([`receipt`]) and a dataset's custody chain ([`custody`]) are checked
//! with them.
//!
//! Pure functions over plain data, with no I/O. On purpose, this module shares no Merkle code
//! with the engine in [`crate::log`]: leaf hashes are computed here with `sha2`, inclusion is
//! checked by the independent `rs_merkle` crate, and consistency by this module's own
//! implementation of the RFC 9162 algorithm. A bug in the engine's proof code cannot hide itself
//! by being run again in the verifier.

pub mod custody;
pub mod receipt;

use rs_merkle::MerkleProof;
use sha2::{Digest, Sha256};
use signed_note::{Note, StandardVerifier, VerifierList};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The verifier key is not a signed-note Ed25519 verifier key.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    /// The note is not a well-formed signed note.
    #[error("malformed signed note")]
    MalformedNote,
    /// The note carries no valid signature by the key.
    #[error("the checkpoint is not signed by the log key: {0}")]
    BadSignature(String),
    /// The note's text is not a checkpoint.
    #[error("the note is not a c2sp.org/tlog-checkpoint")]
    MalformedCheckpoint,
    /// An index or size does not fit.
    #[error("{0}")]
    OutOfRange(String),
    /// The proof does not have the length its parameters call for.
    #[error("the proof has {got} hashes where {want} are needed")]
    ProofLength {
        /// Hashes given.
        got: usize,
        /// Hashes needed.
        want: usize,
    },
    /// The inclusion proof does not lead to the root.
    #[error("the inclusion proof does not lead to the checkpoint's root")]
    InclusionMismatch,
    /// The consistency proof does not join the two roots.
    #[error("the consistency proof does not join the two roots")]
    ConsistencyMismatch,
}

/// A checkpoint whose signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
    /// The name of the key that signed it.
    pub key_name: String,
}

/// RFC 9162 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 9162 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 / RFC 9162 hashing for `rs_merkle`. Leaves are given to it already hashed; a node
/// with no right sibling is carried up unchanged, which yields the RFC's left-balanced tree.
#[derive(Clone, Debug)]
pub struct Rfc6962Hasher;

impl rs_merkle::Hasher for Rfc6962Hasher {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }

    fn hash_size() -> usize {
        32
    }
}

/// The root of the tree whose leaves have the given leaf hashes (RFC 9162 MTH).
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(leaves)
        .root()
        .unwrap_or([0; 32])
}

/// Checks the signature on a signed checkpoint note with the signed-note verifier key `vkey`,
/// then parses the checkpoint.
pub fn verify_checkpoint(note: &str, vkey: &str) -> Result<VerifiedCheckpoint, VerifyError> {
    let verifier =
        StandardVerifier::new(vkey).map_err(|e| VerifyError::BadVerifierKey(e.to_string()))?;
    let key_name = signed_note::Verifier::name(&verifier).to_owned();
    let note = Note::from_bytes(note.as_bytes()).map_err(|_| VerifyError::MalformedNote)?;
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| VerifyError::BadSignature(e.to_string()))?;
    let body = tlog_tiles::Checkpoint::from_bytes(note.text())
        .map_err(|_| VerifyError::MalformedCheckpoint)?;
    Ok(VerifiedCheckpoint {
        origin: body.origin().to_owned(),
        size: body.size(),
        root: body.hash().0,
        key_name,
    })
}

/// A witness's cosignature found valid on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness's key name.
    pub witness: String,
    /// When it cosigned (seconds since the epoch).
    pub timestamp: u64,
}

/// Checks the c2sp.org/tlog-cosignature (`cosignature/v1`) lines of a signed checkpoint
/// against the given witness keys: the valid ones, one per witness key at most. A line that
/// names a given key (name and key ID) but does not verify is an error, as
/// c2sp.org/signed-note asks of known keys; lines of other keys are ignored. The same public
/// key given twice (under two names) is an error: the signed message does not name the
/// witness, so one cosignature would count twice.
pub fn check_cosignatures(
    note: &str,
    witnesses: &[crate::witness::cosignature::CosignatureVerifier],
) -> Result<Vec<Cosignature>, VerifyError> {
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|_| VerifyError::MalformedNote)?;
    let text = parsed.text();
    let (_, lines) = note.rsplit_once("\n\n").ok_or(VerifyError::MalformedNote)?;
    let lines: Vec<signed_note::Signature> = lines
        .lines()
        .map(|l| signed_note::Signature::from_bytes(l.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| VerifyError::MalformedNote)?;
    for (k, w) in witnesses.iter().enumerate() {
        if witnesses[..k].iter().any(|o| {
            o.public_key() == w.public_key()
                || signed_note::Verifier::name(o) == signed_note::Verifier::name(w)
        }) {
            return Err(VerifyError::BadVerifierKey(format!(
                "witness {} is given twice (same key or same name)",
                signed_note::Verifier::name(w)
            )));
        }
    }
    let mut found = Vec::new();
    for w in witnesses {
        let name = signed_note::Verifier::name(w);
        let id = signed_note::Verifier::key_id(w);
        let mut valid = None;
        for line in lines.iter().filter(|l| l.name() == name && l.id() == id) {
            match w.check(text, line) {
                Some(t) => valid = Some(t),
                None => {
                    return Err(VerifyError::BadSignature(format!(
                        "the cosignature of witness {name} does not verify"
                    )))
                }
            }
        }
        if let Some(timestamp) = valid {
            found.push(Cosignature {
                witness: name.to_owned(),
                timestamp,
            });
        }
    }
    Ok(found)
}

/// How many of the given witnesses validly cosigned the checkpoint note (0 when any named
/// witness's line fails to verify).
pub fn count_cosignatures(
    note: &str,
    witnesses: &[crate::witness::cosignature::CosignatureVerifier],
) -> usize {
    check_cosignatures(note, witnesses).map_or(0, |c| c.len())
}

/// The number of hashes in the audit path of leaf `index` in a tree of `size` leaves.
fn audit_path_len(mut index: u64, mut size: u64) -> usize {
    let mut len = 0;
    while size > 1 {
        if (index ^ 1) < size {
            len += 1;
        }
        index >>= 1;
        size = size.div_ceil(2);
    }
    len
}

/// Checks that the leaf with hash `leaf` is at `index` in the tree of `size` leaves with root
/// `root`, by the audit path `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::OutOfRange(format!(
            "index {index} is not in a tree of size {size}"
        )));
    }
    let want = audit_path_len(index, size);
    if proof.len() != want {
        return Err(VerifyError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    let (Ok(index), Ok(size)) = (usize::try_from(index), usize::try_from(size)) else {
        return Err(VerifyError::OutOfRange(
            "tree too large for this platform".into(),
        ));
    };
    let proof = MerkleProof::<Rfc6962Hasher>::new(proof.to_vec());
    if proof.verify(*root, &[index], &[*leaf], size) {
        Ok(())
    } else {
        Err(VerifyError::InclusionMismatch)
    }
}

/// Checks that the tree of `from` leaves with root `old_root` is a prefix of the tree of `to`
/// leaves with root `new_root`, by the consistency proof `proof` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    from: u64,
    to: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if from == 0 || from > to {
        return Err(VerifyError::OutOfRange(format!(
            "no consistency proof from {from} to {to}: need 0 < from <= to"
        )));
    }
    if from == to {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::ConsistencyMismatch)
        };
    }
    if proof.is_empty() {
        return Err(VerifyError::ConsistencyMismatch);
    }
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof.iter());
    let mut fnode = from - 1;
    let mut snode = to - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = *path[0];
    let mut sr = *path[0];
    for c in &path[1..] {
        if snode == 0 {
            return Err(VerifyError::ConsistencyMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if &fr == old_root && &sr == new_root && snode == 0 {
        Ok(())
    } else {
        Err(VerifyError::ConsistencyMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn single_leaf_tree() {
        let l = leaves(1);
        let root = root_from_leaf_hashes(&l);
        assert_eq!(root, l[0]);
        verify_inclusion(&l[0], 0, 1, &[], &root).unwrap();
    }

    #[test]
    fn audit_path_lengths() {
        assert_eq!(audit_path_len(0, 1), 0);
        assert_eq!(audit_path_len(0, 2), 1);
        assert_eq!(audit_path_len(4, 5), 1);
        assert_eq!(audit_path_len(0, 5), 3);
        assert_eq!(audit_path_len(6, 7), 2);
    }

    #[test]
    fn wrong_inputs_fail_without_panicking() {
        let l = leaves(7);
        let root = root_from_leaf_hashes(&l);
        assert!(verify_inclusion(&l[0], 7, 7, &[], &root).is_err());
        assert!(verify_inclusion(&l[0], 0, 7, &[[0; 32]; 9], &root).is_err());
        assert!(verify_consistency(0, 7, &root, &root, &[]).is_err());
        assert!(verify_consistency(8, 7, &root, &root, &[]).is_err());
        assert!(verify_consistency(3, 7, &root, &root, &[]).is_err());
        assert!(verify_consistency(3, 7, &root, &root, &[[1; 32]; 40]).is_err());
        verify_consistency(7, 7, &root, &root, &[]).unwrap();
    }
}

/// The right edge of a Merkle tree: the roots of its perfect subtrees, largest first, so that
/// leaves can be appended and the RFC 9162 root computed in O(log n) memory (a monitor
/// following a log of millions of entries keeps only this).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frontier {
    /// The number of leaves.
    pub size: u64,
    /// The perfect subtrees' roots, left to right (one per bit set in `size`, largest first).
    pub nodes: Vec<Hash>,
}

impl Frontier {
    /// Appends the leaf with leaf hash `leaf`.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        // Each trailing one bit of the old size is a subtree the new leaf completes.
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().unwrap_or_default();
            node = node_hash(&left, &node);
            size >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The tree's root (the hash of the empty string for an empty tree).
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return Sha256::digest([]).into();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Whether the frontier is well formed for its size.
    pub fn is_valid(&self) -> bool {
        self.nodes.len() == self.size.count_ones() as usize
    }
}

#[cfg(test)]
mod cosignature_tests {
    use super::*;
    use crate::witness::cosignature::CosignatureVerifier;
    use base64::prelude::*;
    use serde_json::Value;

    /// Vectors from an independent implementation (tests/vectors/witness-cosignature.py).
    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/vectors/witness-cosignature.json")).unwrap()
    }

    fn s(v: &Value, k: &str) -> String {
        v[k].as_str().unwrap().to_owned()
    }

    #[test]
    fn one_cosignature_never_counts_twice() {
        let v = vectors();
        let cosigned = s(&v, "cosigned_checkpoint7");
        let w1 = CosignatureVerifier::from_vkey(&s(&v, "wit_vkey_cosig_v1")).unwrap();
        assert_eq!(count_cosignatures(&cosigned, std::slice::from_ref(&w1)), 1);
        // The same public key under another name: the signed message does not name the
        // witness, so a copy of the line under that name would verify too. Refused.
        let alias = CosignatureVerifier::new("witness.example/alias", *w1.public_key()).unwrap();
        let copied = format!(
            "{cosigned}{}",
            s(&v, "add_checkpoint_response_200").replace(
                "— witness.example/w1 3xwKNQ",
                &format!(
                    "— witness.example/alias {}",
                    &BASE64_STANDARD.encode(signed_note::Verifier::key_id(&alias).to_be_bytes())
                        [..6]
                )
            )
        );
        assert!(check_cosignatures(&copied, &[w1.clone(), alias.clone()]).is_err());
        assert_eq!(count_cosignatures(&copied, &[w1, alias]), 0);
        // A quorum of zero is no requirement.
        let check = receipt::check_witnesses(&cosigned, &[s(&v, "wit_vkey_cosig_v1")], 0);
        assert!(!check.ok, "{}", check.detail);
        let check = receipt::check_witnesses(&cosigned, &[s(&v, "wit_vkey_cosig_v1")], 1);
        assert!(check.ok, "{}", check.detail);
    }
}

#[cfg(test)]
mod frontier_tests {
    use super::*;

    #[test]
    fn frontier_roots_match_the_full_tree() {
        let mut f = Frontier::default();
        assert_eq!(f.root(), root_from_leaf_hashes(&[]));
        let mut leaves = Vec::new();
        for i in 0..600u32 {
            let l = leaf_hash(&i.to_be_bytes());
            leaves.push(l);
            f.push(l);
            assert!(f.is_valid());
            assert_eq!(f.root(), root_from_leaf_hashes(&leaves), "size {}", i + 1);
        }
    }
}
