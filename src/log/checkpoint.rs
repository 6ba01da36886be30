//! c2sp.org/tlog-checkpoint notes, signed per c2sp.org/signed-note with the log's Ed25519 key
//! (signature algorithm 0x01), and the signed-note key files the log keeps.

use base64::prelude::*;
use ed25519_dalek::{SigningKey, VerifyingKey};
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// A checkpoint the log signed: the tree it commits to, and the signed note served as-is.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCheckpoint {
    /// The tree size.
    pub size: u64,
    /// The tree hash at that size.
    pub root: Hash,
    /// The signed note text (checkpoint body, blank line, signature lines).
    pub note: String,
}

impl SignedCheckpoint {
    /// A compact binary form for stores: size (8 bytes BE), root (32), note (UTF-8).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.note.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(self.note.as_bytes());
        out
    }

    /// The inverse of [`SignedCheckpoint::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < 40 {
            return None;
        }
        let size = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let root = Hash(bytes[8..40].try_into().ok()?);
        let note = String::from_utf8(bytes[40..].to_vec()).ok()?;
        Some(Self { size, root, note })
    }
}

/// What can go wrong with keys and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The private key is not a signed-note Ed25519 key.
    #[error("malformed signed-note private key: {0}")]
    BadKey(String),
    /// The origin line is not allowed by c2sp.org/tlog-checkpoint.
    #[error("invalid origin {0:?}: it must be non-empty and contain no newline")]
    BadOrigin(String),
    /// A key name is not allowed by c2sp.org/signed-note.
    #[error("invalid key name {0:?}: it must be non-empty, with no whitespace and no '+'")]
    BadName(String),
    /// Signing failed.
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
}

/// The name and Ed25519 key of a signed-note private key (`PRIVATE+KEY+name+id+base64`, as
/// `datapole keygen` writes them). A witness uses the same key file for its `cosignature/v1`
/// key.
pub fn signing_key(skey: &str) -> Result<(String, SigningKey), CheckpointError> {
    let skey = skey.trim();
    // StandardSigner checks the format, the type byte and the key ID.
    let signer = StandardSigner::new(skey).map_err(|e| CheckpointError::BadKey(e.to_string()))?;
    // PRIVATE+KEY+<name>+<id>+<base64>: names have no '+', base64 may.
    let encoded = skey
        .splitn(5, '+')
        .nth(4)
        .ok_or_else(|| CheckpointError::BadKey("no key".into()))?;
    let raw = BASE64_STANDARD
        .decode(encoded)
        .map_err(|e| CheckpointError::BadKey(e.to_string()))?;
    let seed: [u8; 32] = raw
        .get(1..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| CheckpointError::BadKey("not an Ed25519 seed".into()))?;
    let name = signed_note::Signer::name(&signer).to_owned();
    Ok((name, SigningKey::from_bytes(&seed)))
}

/// The log's signing identity: a signed-note Ed25519 key and the checkpoint origin.
pub struct LogSigner {
    signer: StandardSigner,
    origin: String,
    vkey: String,
    public_key: VerifyingKey,
}

impl LogSigner {
    /// Reads a signed-note private key (`PRIVATE+KEY+name+id+base64`); the origin defaults to
    /// the key's name.
    pub fn from_skey(skey: &str, origin: Option<&str>) -> Result<Self, CheckpointError> {
        let skey = skey.trim();
        let signer =
            StandardSigner::new(skey).map_err(|e| CheckpointError::BadKey(e.to_string()))?;
        let (name, key) = signing_key(skey)?;
        let public_key = key.verifying_key();
        let origin = origin.unwrap_or(&name).to_owned();
        if origin.is_empty() || origin.contains('\n') {
            return Err(CheckpointError::BadOrigin(origin));
        }
        let vkey = signed_note::new_ed25519_verifier_key(&name, &public_key);
        Ok(Self {
            signer,
            origin,
            vkey,
            public_key,
        })
    }

    /// Generates a new key named `name`: returns (private key, verifier key).
    pub fn generate(name: &str) -> Result<(String, String), CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadName(name.to_owned()));
        }
        Ok(signed_note::generate_key(&mut rand::rngs::OsRng, name))
    }

    /// The checkpoint origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The signed-note verifier key (`name+id+base64`).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key.to_bytes()
    }

    /// Signs the checkpoint for a tree of `size` leaves with root `root`.
    pub fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, CheckpointError> {
        let body = Checkpoint::new(&self.origin, size, root, "")
            .map_err(|_| CheckpointError::BadOrigin(self.origin.clone()))?;
        let mut note =
            Note::new(&body.to_bytes(), &[]).map_err(|e| CheckpointError::Sign(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| CheckpointError::Sign(e.to_string()))?;
        let note =
            String::from_utf8(note.to_bytes()).map_err(|e| CheckpointError::Sign(e.to_string()))?;
        Ok(SignedCheckpoint { size, root, note })
    }

    /// Whether `checkpoint` is one this key signed for this origin (used at start-up, to
    /// refuse a data directory that belongs to another log).
    pub fn recognises(&self, checkpoint: &SignedCheckpoint) -> bool {
        let Ok(verifier) = StandardVerifier::new(&self.vkey) else {
            return false;
        };
        let Ok(note) = Note::from_bytes(checkpoint.note.as_bytes()) else {
            return false;
        };
        if note
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .is_err()
        {
            return false;
        }
        match Checkpoint::from_bytes(note.text()) {
            Ok(body) => {
                body.origin() == self.origin
                    && body.size() == checkpoint.size
                    && *body.hash() == checkpoint.root
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_sign_whatever_their_base64() {
        // Enough keys that some have '+' and '/' in their base64.
        for i in 0..64 {
            let name = format!("example.org/log{i}");
            let (skey, vkey) = LogSigner::generate(&name).unwrap();
            let signer = LogSigner::from_skey(&skey, None).unwrap();
            assert_eq!(signer.vkey(), vkey);
            assert_eq!(signer.origin(), name);
            let cp = signer.sign(3, Hash([i; 32])).unwrap();
            assert!(signer.recognises(&cp));
            assert_eq!(SignedCheckpoint::decode(&cp.encode()), Some(cp));
        }
    }

    #[test]
    fn another_key_or_origin_is_not_recognised() {
        let (a, _) = LogSigner::generate("a.example/log").unwrap();
        let (b, _) = LogSigner::generate("a.example/log").unwrap();
        let a = LogSigner::from_skey(&a, None).unwrap();
        let cp = a.sign(1, Hash([1; 32])).unwrap();
        assert!(!LogSigner::from_skey(&b, None).unwrap().recognises(&cp));
        let other_origin =
            LogSigner::from_skey(&LogSigner::generate("x/y").unwrap().0, Some("z")).unwrap();
        assert!(!other_origin.recognises(&cp));
        assert!(LogSigner::generate("bad name").is_err());
        assert!(LogSigner::from_skey("PRIVATE+KEY+x+00000000+AAAA", None).is_err());
    }
}
