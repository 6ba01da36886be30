//! c2sp.org/tlog-cosignature, `cosignature/v1`: a witness's timestamped Ed25519 signature on a
//! checkpoint, carried as one more c2sp.org/signed-note signature line (signature type 0x04).
//!
//! - Key ID: `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]`.
//! - Signature: `timestamp (u64, big-endian) ‖ Ed25519 signature (64 bytes)`, 72 bytes.
//! - Signed message: `"cosignature/v1\ntime <timestamp>\n"` followed by the whole checkpoint
//!   body (the note text, with its final newline, without signature lines).
//! - Verifier key: `name+<hex key ID>+base64(0x04 ‖ public key)`.

use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Signature, Verifier};

/// The signed-note signature type of `cosignature/v1`.
pub const COSIGNATURE_V1: u8 = 0x04;

/// The size of a `cosignature/v1` signature: timestamp and Ed25519 signature.
pub const SIGNATURE_LEN: usize = 72;

/// What is wrong with a witness key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not `name+hex id+base64(0x04 ‖ key)`, or the parts disagree.
    #[error("malformed cosignature/v1 verifier key: {0}")]
    BadVkey(String),
    /// The key name is not allowed by c2sp.org/signed-note.
    #[error("invalid key name {0:?}: it must be non-empty, with no whitespace and no '+'")]
    BadName(String),
}

/// The message a `cosignature/v1` signs at `timestamp` over the checkpoint body `text`.
pub fn message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// The key ID of the `cosignature/v1` key `name` with public key `key`.
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut typed = Vec::with_capacity(33);
    typed.push(COSIGNATURE_V1);
    typed.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &typed)
}

/// The verifier key string of the `cosignature/v1` key `name` with public key `key`.
pub fn vkey(name: &str, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(COSIGNATURE_V1);
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        key_id(name, key),
        BASE64_STANDARD.encode(typed)
    )
}

/// The timestamp a `cosignature/v1` signature carries, when it is well-formed.
pub fn timestamp(signature: &[u8]) -> Option<u64> {
    if signature.len() != SIGNATURE_LEN {
        return None;
    }
    let t = u64::from_be_bytes(signature[..8].try_into().ok()?);
    // tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
    (t <= i64::MAX as u64).then_some(t)
}

/// Checks `cosignature/v1` signatures of one witness key.
#[derive(Debug, Clone)]
pub struct CosignatureVerifier {
    name: String,
    key: VerifyingKey,
    id: u32,
}

impl CosignatureVerifier {
    /// A verifier for the key `name` with public key `key`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, KeyError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, &key),
            key,
        })
    }

    /// Parses a `cosignature/v1` verifier key (`name+hex id+base64(0x04 ‖ key)`).
    pub fn from_vkey(vkey: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::BadVkey(format!("{vkey:?}: {why}"));
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        if id.len() != 8
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("the key ID is not 8 lower-case hex digits"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| bad("the key ID is not hex"))?;
        let raw = BASE64_STANDARD
            .decode(key)
            .map_err(|_| bad("the key is not base64"))?;
        match raw.first() {
            Some(&COSIGNATURE_V1) => {}
            Some(0x01) => {
                return Err(bad(
                    "this is an Ed25519 note key (type 0x01), not a cosignature/v1 key (0x04)",
                ))
            }
            _ => return Err(bad("not a cosignature/v1 key (type 0x04)")),
        }
        let bytes: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| bad("the public key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an Ed25519 point"))?;
        let verifier = Self::new(name, key)?;
        if verifier.id != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(verifier)
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        vkey(&self.name, &self.key)
    }

    /// The raw public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks one signature line against this key and the checkpoint body `text`; returns the
    /// cosignature's timestamp when it verifies.
    pub fn check(&self, text: &[u8], line: &Signature) -> Option<u64> {
        if line.name() != self.name || line.id() != self.id {
            return None;
        }
        self.verify(text, line.signature())
            .then(|| timestamp(line.signature()))
            .flatten()
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some(t) = timestamp(sig) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&sig[8..]) else {
            return false;
        };
        self.key.verify_strict(&message(t, msg), &signature).is_ok()
    }
}

/// Makes `cosignature/v1` signatures with a witness key.
pub struct Cosigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl Cosigner {
    /// A cosigner named `name` with the Ed25519 key `key`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key others use to check this witness's cosignatures.
    pub fn vkey(&self) -> String {
        vkey(&self.name, &self.key.verifying_key())
    }

    /// The verifier of this key.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            id: self.id,
        }
    }

    /// The signature line cosigning the checkpoint body `text` at `timestamp` (seconds since
    /// the epoch).
    pub fn cosign(&self, text: &[u8], timestamp: u64) -> Signature {
        let signature = self.key.sign(&message(timestamp, text));
        let mut sig = Vec::with_capacity(SIGNATURE_LEN);
        sig.extend_from_slice(&timestamp.to_be_bytes());
        sig.extend_from_slice(&signature.to_bytes());
        // The name was checked at construction and the signature is not empty.
        Signature::new(self.name.clone(), self.id, sig)
            .unwrap_or_else(|e| unreachable!("a checked name makes a valid signature line: {e}"))
    }
}
