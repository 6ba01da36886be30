//! DSSE, the Dead Simple Signing Envelope (github.com/secure-systems-lab/dsse, protocol v1),
//! as used by in-toto and Sigstore: a payload, its type, and signatures over
//! `PAE(type, payload) = "DSSEv1" SP len(type) SP type SP len(payload) SP payload`.
//!
//! datapole requires exactly one Ed25519 signature whose `keyid` is the signer's participant
//! id. Pure code: parsing, PAE, signing and verification.

use base64::prelude::*;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A DSSE envelope, as sent and as stored (field order is the JSON order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The payload's media type, e.g. `application/vnd.datapole.deposit.v1+json`.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The payload bytes, base64 (standard or URL-safe, padded or not).
    pub payload: String,
    /// The signatures: datapole requires exactly one.
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signer's participant id.
    pub keyid: String,
    /// The Ed25519 signature over the PAE, base64.
    pub sig: String,
}

/// Why an envelope is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// The envelope is not well formed.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The signature does not verify with the signer's key.
    #[error("the signature does not verify with the key of {0}")]
    BadSignature(String),
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Decodes base64 in any of the forms DSSE allows.
fn decode_any(s: &str) -> Option<Vec<u8>> {
    BASE64_STANDARD
        .decode(s)
        .or_else(|_| BASE64_URL_SAFE.decode(s))
        .or_else(|_| BASE64_STANDARD_NO_PAD.decode(s))
        .or_else(|_| BASE64_URL_SAFE_NO_PAD.decode(s))
        .ok()
}

impl Envelope {
    /// Signs `payload` as `payload_type` with `key`, naming `keyid` (a participant id).
    pub fn sign(payload_type: &str, payload: &[u8], keyid: &str, key: &SigningKey) -> Self {
        let sig = key.sign(&pae(payload_type, payload));
        Self {
            payload_type: payload_type.to_owned(),
            payload: BASE64_STANDARD.encode(payload),
            signatures: vec![Signature {
                keyid: keyid.to_owned(),
                sig: BASE64_STANDARD.encode(sig.to_bytes()),
            }],
        }
    }

    /// The envelope's canonical bytes: compact JSON in field order. Every field is ASCII by
    /// construction once [`Envelope::check`] has passed, so any JSON serialiser that keeps key
    /// order produces the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a DSSE envelope", self)
    }

    /// Checks the envelope's shape: one signature, a printable-ASCII payload type, base64
    /// fields. Returns the payload bytes and the signer's keyid.
    pub fn check(&self) -> Result<(Vec<u8>, &str), DsseError> {
        let malformed = |m: &str| DsseError::Malformed(m.to_owned());
        if self.payload_type.is_empty()
            || self.payload_type.len() > 200
            || !self.payload_type.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(malformed(
                "payloadType must be 1 to 200 printable ASCII characters",
            ));
        }
        let [signature] = self.signatures.as_slice() else {
            return Err(malformed("exactly one signature is required"));
        };
        if signature.keyid.is_empty() || !signature.keyid.is_ascii() {
            return Err(malformed("the signature's keyid must be a participant id"));
        }
        if !signature.sig.is_ascii() || decode_any(&signature.sig).is_none() {
            return Err(malformed("the signature is not base64"));
        }
        let payload =
            decode_any(&self.payload).ok_or_else(|| malformed("the payload is not base64"))?;
        Ok((payload, &signature.keyid))
    }

    /// Verifies the one signature with `key` (strict Ed25519: no malleable signatures, no
    /// small-order keys). Returns the payload bytes.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Vec<u8>, DsseError> {
        let (payload, keyid) = self.check()?;
        let bad = || DsseError::BadSignature(keyid.to_owned());
        let sig = decode_any(&self.signatures[0].sig).ok_or_else(bad)?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| bad())?;
        key.verify_strict(
            &pae(&self.payload_type, &payload),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| bad())?;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn signed_envelopes_verify_and_any_change_breaks_them() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let env = Envelope::sign("application/x-test", b"{\"a\":1}", "p1", &key);
        assert_eq!(env.verify(&key.verifying_key()).unwrap(), b"{\"a\":1}");
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert!(matches!(
            env.verify(&other),
            Err(DsseError::BadSignature(_))
        ));
        let mut t = env.clone();
        t.payload_type = "application/x-other".into();
        assert!(t.verify(&key.verifying_key()).is_err());
        let mut t = env.clone();
        t.payload = BASE64_STANDARD.encode(b"{\"a\":2}");
        assert!(t.verify(&key.verifying_key()).is_err());
        let mut t = env.clone();
        t.signatures.push(t.signatures[0].clone());
        assert!(matches!(
            t.verify(&key.verifying_key()),
            Err(DsseError::Malformed(_))
        ));
        let mut t = env;
        t.signatures[0].sig = "!!".into();
        assert!(matches!(
            t.verify(&key.verifying_key()),
            Err(DsseError::Malformed(_))
        ));
    }

    #[test]
    fn url_safe_unpadded_base64_is_accepted() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut env = Envelope::sign("t/x", &[0xfb, 0xff, 0xfe], "p1", &key);
        env.payload = BASE64_URL_SAFE_NO_PAD.encode([0xfb, 0xff, 0xfe]);
        env.signatures[0].sig =
            BASE64_URL_SAFE_NO_PAD.encode(BASE64_STANDARD.decode(&env.signatures[0].sig).unwrap());
        assert_eq!(
            env.verify(&key.verifying_key()).unwrap(),
            vec![0xfb, 0xff, 0xfe]
        );
    }
}
