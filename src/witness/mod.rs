//! A c2sp.org/tlog-witness witness: it cosigns a log's checkpoint (c2sp.org/tlog-cosignature,
//! `cosignature/v1`) only once it has checked that the checkpoint is consistent with the last
//! one it cosigned for that log, so that a log cannot show two histories to people who check
//! cosignatures.
//!
//! This module is the pure core: parsing an `add-checkpoint` request and deciding on it
//! against the witness's record for the log. [`state`] keeps that record durably, [`http`]
//! serves it; [`cosignature`] holds the signature format, which the log's side
//! ([`crate::witnessing`]) and the offline verifier ([`crate::verify`]) use as well.
//!
//! The witness is a program of its own (`datapole witness`), run by someone other than the
//! log's operator: it must not import the log's API, its witnessing or the verifier. They
//! import it, never the other way.

pub mod cosignature;
pub mod http;
pub mod state;

use std::collections::HashMap;

use base64::prelude::*;
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// The most consistency-proof lines a request may carry (tlog-witness: "MUST NOT send more
/// than 63").
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409's size body: the size last cosigned (c2sp.org/tlog-witness).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    use sha2::{Digest, Sha256};
    Hash(Sha256::digest([]).into())
}

/// Why a witness refuses a checkpoint, each with the status c2sp.org/tlog-witness gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is not an `add-checkpoint` request (400).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The checkpoint's origin is not a log this witness follows (404).
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// No signature from the log's key verifies, or one from its key fails (403).
    #[error("the checkpoint carries no valid signature of the log's key")]
    Untrusted,
    /// The old size is larger than the checkpoint's size (400).
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge {
        /// The old size given.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size this witness last cosigned for the log (409, with that
    /// size as a `text/x.tlog.size` body).
    #[error("old size {old} is not the size {latest} last cosigned for this log")]
    Conflict {
        /// The old size given.
        old: u64,
        /// The size last cosigned (0 if none).
        latest: u64,
    },
    /// The consistency proof does not prove the checkpoint consistent with the last one
    /// cosigned (422).
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
    /// Same size as the last checkpoint cosigned, but another root: a fork (409).
    #[error("the checkpoint has the size last cosigned but another root hash: a fork")]
    RootMismatch,
}

impl Refusal {
    /// The HTTP status c2sp.org/tlog-witness prescribes (its code's).
    pub fn status(&self) -> u16 {
        self.code().status()
    }

    /// The error code of the answer.
    pub fn code(&self) -> crate::error::Code {
        use crate::error::Code;
        match self {
            Refusal::Malformed(_) => Code::MalformedRequest,
            Refusal::UnknownOrigin(_) => Code::UnknownOrigin,
            Refusal::Untrusted => Code::UntrustedSignature,
            Refusal::OldSizeTooLarge { .. } => Code::OldSizeTooLarge,
            Refusal::Conflict { .. } => Code::OldSizeConflict,
            Refusal::BadProof(_) => Code::InvalidConsistencyProof,
            Refusal::RootMismatch => Code::RootMismatch,
        }
    }
}

/// A parsed `add-checkpoint` request body.
#[derive(Debug, Clone, PartialEq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub note: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses a request body: `old <size>\n`, up to 63 base64 hash lines, an empty line, then
    /// the signed checkpoint.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let bad = |why: &str| Refusal::Malformed(why.to_owned());
        // The old-size and proof lines hold no empty line: the first one ends them.
        let split = body
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or_else(|| bad("no empty line after the old size and proof lines"))?;
        let head = std::str::from_utf8(&body[..split])
            .map_err(|_| bad("the old size and proof lines are not UTF-8"))?;
        let note = body[split + 2..].to_vec();
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let canonical = !old.is_empty()
            && old.bytes().all(|b| b.is_ascii_digit())
            && (old == "0" || !old.starts_with('0'));
        let old_size = canonical
            .then(|| old.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| bad("the old size must be a decimal without leading zeroes"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let bytes: [u8; 32] = BASE64_STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
            proof.push(Hash(bytes));
        }
        if note.is_empty() {
            return Err(bad("no checkpoint after the empty line"));
        }
        Ok(Self {
            old_size,
            proof,
            note,
        })
    }

    /// The request body for this request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(BASE64_STANDARD.encode(h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note);
        out
    }
}

/// A log verifier key a witness cannot follow a log with: not an Ed25519 signed-note
/// verifier key.
#[derive(Debug, thiserror::Error)]
#[error("log key {vkey:?}: {reason}")]
pub struct BadLogKey {
    /// The key, as given (trimmed).
    pub vkey: String,
    /// Why signed-note refuses it.
    pub reason: signed_note::VerifierError,
}

/// The logs a witness follows: each origin with the verifier keys it trusts for it.
#[derive(Default)]
pub struct TrustedLogs {
    keys: HashMap<String, Vec<String>>,
}

impl TrustedLogs {
    /// No logs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the Ed25519 signed-note verifier key `vkey` for the log whose origin is the
    /// key's name.
    pub fn add(&mut self, vkey: &str) -> Result<&str, BadLogKey> {
        let vkey = vkey.trim();
        StandardVerifier::new(vkey).map_err(|reason| BadLogKey {
            vkey: vkey.to_owned(),
            reason,
        })?;
        let origin = vkey.split('+').next().unwrap_or_default().to_owned();
        let keys = self.keys.entry(origin.clone()).or_default();
        if !keys.iter().any(|k| k == vkey) {
            keys.push(vkey.to_owned());
        }
        Ok(self
            .keys
            .get_key_value(&origin)
            .map(|(k, _)| k.as_str())
            .unwrap_or_default())
    }

    /// The origins followed.
    pub fn origins(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys.iter().map(|(o, k)| (o.as_str(), k.as_slice()))
    }

    fn verifiers(&self, origin: &str) -> Option<VerifierList> {
        let keys = self.keys.get(origin)?;
        Some(VerifierList::new(
            keys.iter()
                .filter_map(|k| StandardVerifier::new(k).ok())
                .map(|v| Box::new(v) as Box<dyn signed_note::Verifier>)
                .collect(),
        ))
    }
}

/// A checkpoint the witness may cosign: checked, consistent with its record.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's size.
    pub size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// The checkpoint body (the note text) to cosign.
    pub text: Vec<u8>,
}

/// The witness's record for one log: the size and root it last cosigned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// The size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

/// The checkpoint's origin, for looking the witness's record up before [`check`].
pub fn origin_of(request: &AddCheckpoint) -> Result<String, Refusal> {
    let note = Note::from_bytes(&request.note)
        .map_err(|e| Refusal::Malformed(format!("the checkpoint is not a signed note: {e}")))?;
    let checkpoint = Checkpoint::from_bytes(note.text())
        .map_err(|e| Refusal::Malformed(format!("not a checkpoint: {e}")))?;
    Ok(checkpoint.origin().to_owned())
}

/// Decides on a request against the record of its log (`None` if the witness never cosigned
/// for it), with the checks in c2sp.org/tlog-witness's order.
pub fn check(
    request: &AddCheckpoint,
    logs: &TrustedLogs,
    record: Option<Record>,
) -> Result<Accepted, Refusal> {
    let note = Note::from_bytes(&request.note)
        .map_err(|e| Refusal::Malformed(format!("the checkpoint is not a signed note: {e}")))?;
    let checkpoint = Checkpoint::from_bytes(note.text())
        .map_err(|e| Refusal::Malformed(format!("not a checkpoint: {e}")))?;
    let origin = checkpoint.origin().to_owned();
    let verifiers = logs
        .verifiers(&origin)
        .ok_or_else(|| Refusal::UnknownOrigin(origin.clone()))?;
    match note.verify(&verifiers) {
        Ok(_) => {}
        Err(NoteError::UnverifiedNote | NoteError::InvalidSignature { .. }) => {
            return Err(Refusal::Untrusted)
        }
        Err(e) => return Err(Refusal::Malformed(format!("the checkpoint note: {e}"))),
    }
    let (size, root) = (checkpoint.size(), *checkpoint.hash());
    let old = request.old_size;
    if old > size {
        return Err(Refusal::OldSizeTooLarge { old, size });
    }
    let latest = record.map_or(0, |r| r.size);
    if old != latest {
        return Err(Refusal::Conflict { old, latest });
    }
    if size == 0 && root != empty_root() {
        return Err(Refusal::BadProof(
            "a checkpoint of size 0 must carry the empty tree's root".into(),
        ));
    }
    match record {
        None => {
            if !request.proof.is_empty() {
                return Err(Refusal::BadProof(
                    "the proof must be empty when the old size is 0".into(),
                ));
            }
        }
        Some(r) if r.size == size => {
            if r.root != root {
                return Err(Refusal::RootMismatch);
            }
            if !request.proof.is_empty() {
                return Err(Refusal::BadProof(
                    "the proof must be empty between equal sizes".into(),
                ));
            }
        }
        Some(r) if r.size == 0 => {
            if !request.proof.is_empty() {
                return Err(Refusal::BadProof(
                    "the proof must be empty when the old size is 0".into(),
                ));
            }
        }
        Some(r) => {
            tlog_tiles::check_tree(&request.proof, size, root, r.size, r.root)
                .map_err(|e| Refusal::BadProof(e.to_string()))?;
        }
    }
    // What is cosigned is the checkpoint as parsed and re-encoded, which from_bytes (strict)
    // guarantees is the text that was signed.
    Ok(Accepted {
        origin,
        size,
        root,
        text: checkpoint.to_bytes(),
    })
}

/// Why an `add-checkpoint` got no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The checkpoint was refused, per c2sp.org/tlog-witness.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The witness could not read or persist its record.
    #[error(transparent)]
    State(#[from] state::StateError),
}

/// A running witness: its key, the logs it follows and its durable records.
pub struct Witness {
    cosigner: cosignature::Cosigner,
    logs: TrustedLogs,
    store: std::sync::Arc<dyn state::WitnessStore>,
    /// Serialises check-then-persist, so that no two requests decide against the same record.
    lock: std::sync::Mutex<()>,
}

impl Witness {
    /// A witness signing with `cosigner` for `logs`, keeping its records in `store`.
    pub fn new(
        cosigner: cosignature::Cosigner,
        logs: TrustedLogs,
        store: std::sync::Arc<dyn state::WitnessStore>,
    ) -> Self {
        Self {
            cosigner,
            logs,
            store,
            lock: std::sync::Mutex::new(()),
        }
    }

    /// The witness's key.
    pub fn cosigner(&self) -> &cosignature::Cosigner {
        &self.cosigner
    }

    /// The logs followed.
    pub fn logs(&self) -> &TrustedLogs {
        &self.logs
    }

    /// The record kept for `origin`.
    pub fn record(&self, origin: &str) -> Result<Option<Record>, state::StateError> {
        self.store.record(origin)
    }

    /// Handles an `add-checkpoint` body at time `now` (seconds since the epoch): the
    /// cosignature line, once the new record is durable.
    pub fn add_checkpoint(
        &self,
        body: &[u8],
        now: u64,
    ) -> Result<signed_note::Signature, AddError> {
        let request = AddCheckpoint::parse(body)?;
        let origin = origin_of(&request)?;
        let serial = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let record = self.store.record(&origin)?;
        match check(&request, &self.logs, record) {
            Ok(accepted) => {
                let new = Record {
                    size: accepted.size,
                    root: accepted.root,
                };
                if !self.store.replace(&origin, record, new)? {
                    // Only this witness writes its records, under the lock.
                    let latest = self.store.record(&origin)?.map_or(0, |r| r.size);
                    return Err(Refusal::Conflict {
                        old: request.old_size,
                        latest,
                    }
                    .into());
                }
                tracing::info!(%origin, size = accepted.size, "cosigned");
                Ok(self.cosigner.cosign(&accepted.text, now))
            }
            Err(Refusal::RootMismatch) => {
                // The log signed another root for a size this witness cosigned: a fork, proved
                // by the two signed checkpoints alone (a bad proof proves nothing: the client
                // chose it). Kept, but never at the cost of the answer.
                drop(serial);
                tracing::warn!(%origin, "a second root for a cosigned size refused: the log forked");
                if let Err(e) = self.store.keep_evidence(&origin, &request.note) {
                    tracing::warn!(%origin, error = %e, "the fork's checkpoint could not be kept");
                }
                Err(Refusal::RootMismatch.into())
            }
            Err(refusal) => Err(refusal.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cosignature::{CosignatureVerifier, Cosigner};
    use super::state::{MemoryWitnessStore, WitnessStore};
    use super::*;
    use crate::log::LogSigner;
    use ed25519_dalek::SigningKey;
    use serde_json::Value;
    use std::sync::Arc;

    /// Vectors from an independent implementation (tests/vectors/witness-cosignature.py).
    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../tests/vectors/witness-cosignature.json")).unwrap()
    }

    fn s(v: &Value, k: &str) -> String {
        v[k].as_str().unwrap().to_owned()
    }

    fn cosigner() -> Cosigner {
        Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[2; 32])).unwrap()
    }

    fn log_signer(v: &Value) -> LogSigner {
        // The vectors' log key (seed 01×32) as a signed-note private key.
        let vkey = s(v, "log_vkey");
        let id = vkey.split('+').nth(1).unwrap();
        let mut typed = vec![1u8];
        typed.extend_from_slice(&[1; 32]);
        let skey = format!(
            "PRIVATE+KEY+example.com/datapole-test-log+{id}+{}",
            BASE64_STANDARD.encode(typed)
        );
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        assert_eq!(signer.vkey(), vkey);
        signer
    }

    fn witness(v: &Value) -> (Witness, Arc<MemoryWitnessStore>) {
        let mut logs = TrustedLogs::new();
        assert_eq!(
            logs.add(&s(v, "log_vkey")).unwrap(),
            "example.com/datapole-test-log"
        );
        let store = Arc::new(MemoryWitnessStore::default());
        (Witness::new(cosigner(), logs, store.clone()), store)
    }

    fn text(note: &str) -> Vec<u8> {
        Note::from_bytes(note.as_bytes()).unwrap().text().to_vec()
    }

    #[test]
    fn cosignatures_match_the_independent_vectors_byte_for_byte() {
        let v = vectors();
        let c = cosigner();
        assert_eq!(c.vkey(), s(&v, "wit_vkey_cosig_v1"));
        assert_eq!(
            cosignature::message(1_700_000_000, &text(&s(&v, "checkpoint7"))),
            s(&v, "cosig_signed_message").into_bytes()
        );
        let line3 = c.cosign(&text(&s(&v, "checkpoint3")), 1_699_999_940);
        assert_eq!(line3.to_bytes(), s(&v, "cosig3_line").into_bytes());
        let line7 = c.cosign(&text(&s(&v, "checkpoint7")), 1_700_000_000);
        assert_eq!(
            line7.to_bytes(),
            s(&v, "add_checkpoint_response_200").into_bytes()
        );
        // The verifier parsed from the vkey accepts them, and the cosigned note verifies.
        let verifier = CosignatureVerifier::from_vkey(&s(&v, "wit_vkey_cosig_v1")).unwrap();
        assert_eq!(
            verifier.check(&text(&s(&v, "checkpoint7")), &line7),
            Some(1_700_000_000)
        );
        assert_eq!(verifier.check(&text(&s(&v, "checkpoint3")), &line7), None);
        let cosigned = Note::from_bytes(s(&v, "cosigned_checkpoint7").as_bytes()).unwrap();
        let (ok, _) = cosigned
            .verify(&VerifierList::new(vec![Box::new(verifier.clone())]))
            .unwrap();
        assert_eq!(ok.len(), 1);
        // The spec's own example line parses: key ID 8d66cf3f, timestamp 1679315147.
        let spec = signed_note::Signature::from_bytes(
            "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==".as_bytes(),
        )
        .unwrap();
        assert_eq!(spec.id(), 0x8d66cf3f);
        assert_eq!(
            cosignature::timestamp(spec.signature()),
            Some(1_679_315_147)
        );
    }

    #[test]
    fn verifier_keys_of_the_wrong_kind_are_refused() {
        let v = vectors();
        // A log key (type 0x01) is not a cosignature key.
        let e = CosignatureVerifier::from_vkey(&s(&v, "log_vkey")).unwrap_err();
        assert!(e.to_string().contains("0x01"), "{e}");
        // A wrong key ID.
        let good = s(&v, "wit_vkey_cosig_v1");
        let bad = good.replace("df1c0a35", "df1c0a36");
        assert!(CosignatureVerifier::from_vkey(&bad).is_err());
        assert!(CosignatureVerifier::from_vkey("no-plus").is_err());
        // Upper-case hex in a key ID is not the spec's encoding.
        let upper = good.replace("df1c0a35", "DF1C0A35");
        assert!(CosignatureVerifier::from_vkey(&upper).is_err());
        // A signature with a timestamp above 2^63 - 1 is not valid.
        let mut sig = vec![0xff; 8];
        sig.extend_from_slice(&[0; 64]);
        assert_eq!(cosignature::timestamp(&sig), None);
    }

    #[test]
    fn the_witness_cosigns_the_vectors_requests_and_keeps_its_record() {
        let v = vectors();
        let (w, store) = witness(&v);
        let first = w
            .add_checkpoint(
                s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
                1_699_999_940,
            )
            .unwrap();
        assert_eq!(first.to_bytes(), s(&v, "cosig3_line").into_bytes());
        let second = w
            .add_checkpoint(
                s(&v, "add_checkpoint_request_old3_to7").as_bytes(),
                1_700_000_000,
            )
            .unwrap();
        assert_eq!(
            second.to_bytes(),
            s(&v, "add_checkpoint_response_200").into_bytes()
        );
        let record = store
            .record("example.com/datapole-test-log")
            .unwrap()
            .unwrap();
        assert_eq!(record.size, 7);
        assert_eq!(record.root.to_string(), s(&v, "root7"));
        // The same checkpoint again (old 7): cosigned afresh, with the new time.
        let again = format!("old 7\n\n{}", s(&v, "checkpoint7"));
        let line = w.add_checkpoint(again.as_bytes(), 1_700_000_100).unwrap();
        assert_eq!(
            cosignature::timestamp(line.signature()),
            Some(1_700_000_100)
        );
        // Replaying the first request now conflicts, with the size in the answer.
        let replay = w.add_checkpoint(
            s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
            1,
        );
        assert!(matches!(
            replay,
            Err(AddError::Refused(Refusal::Conflict { old: 0, latest: 7 }))
        ));
    }

    fn refusal(w: &Witness, body: &[u8]) -> Refusal {
        match w.add_checkpoint(body, 1_700_000_000) {
            Err(AddError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_refusal_has_the_specs_status_and_changes_nothing() {
        let v = vectors();
        let (w, store) = witness(&v);
        w.add_checkpoint(
            s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
            1,
        )
        .unwrap();
        let cp7 = s(&v, "checkpoint7");
        let proof: Vec<String> = v["proof_3_7"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        let body = |old: &str, proof: &[String], note: &str| {
            let mut b = format!("old {old}\n");
            for p in proof {
                b.push_str(p);
                b.push('\n');
            }
            b.push('\n');
            b.push_str(note);
            b.into_bytes()
        };
        let signer = log_signer(&v);
        let root7 = Hash::parse_hash(&s(&v, "root7")).unwrap();
        // Another log key with the same name: untrusted.
        let (other, _) = LogSigner::generate("example.com/datapole-test-log").unwrap();
        let other = LogSigner::from_skey(&other, None).unwrap();
        let forged = other.sign(7, root7).unwrap().note;
        // Another origin.
        let (stranger, _) = LogSigner::generate("elsewhere.example/log").unwrap();
        let stranger = LogSigner::from_skey(&stranger, None).unwrap();
        // The log's own key over another history of the same size: a fork.
        let fork7 = signer.sign(7, Hash([9; 32])).unwrap().note;
        let fork3 = signer.sign(3, Hash([9; 32])).unwrap().note;
        let mut bad_proof = proof.clone();
        bad_proof[0] = BASE64_STANDARD.encode([0u8; 32]);
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (b"old 3\n".to_vec(), 400, "malformed_request"),
            (b"new 3\n\n".to_vec(), 400, "malformed_request"),
            (body("03", &proof, &cp7), 400, "malformed_request"),
            (body("-1", &proof, &cp7), 400, "malformed_request"),
            (body("3", &["abc".into()], &cp7), 400, "malformed_request"),
            (
                body("3", &vec![proof[0].clone(); 64], &cp7),
                400,
                "malformed_request",
            ),
            (body("3", &proof, "not a note\n"), 400, "malformed_request"),
            (
                body("0", &[], &stranger.sign(1, Hash([1; 32])).unwrap().note),
                404,
                "unknown_origin",
            ),
            (body("3", &proof, &forged), 403, "untrusted_signature"),
            (body("8", &[], &cp7), 400, "old_size_too_large"),
            (body("0", &[], &cp7), 409, "old_size_conflict"),
            (body("5", &proof, &cp7), 409, "old_size_conflict"),
            (
                body("3", &bad_proof, &cp7),
                422,
                "invalid_consistency_proof",
            ),
            (body("3", &proof, &fork7), 422, "invalid_consistency_proof"),
            (body("3", &[], &fork3), 409, "root_mismatch"),
        ];
        for (k, (request, status, code)) in cases.iter().enumerate() {
            let r = refusal(&w, request);
            assert_eq!(
                (r.status(), r.code().as_str()),
                (*status, *code),
                "case {k}: {r}"
            );
            let record = store
                .record("example.com/datapole-test-log")
                .unwrap()
                .unwrap();
            assert_eq!(record.size, 3, "case {k} changed the record");
        }
        // The second root for size 3, validly signed by the log, is kept as evidence (a bad
        // proof is not: the client chose it), once however often it is sent.
        assert!(refusal(&w, &body("3", &[], &fork3)).status() == 409);
        let evidence = store.evidence("example.com/datapole-test-log").unwrap();
        assert_eq!(evidence, vec![fork3.clone().into_bytes()]);
        // After all that, the honest next checkpoint is still cosigned.
        assert!(w.add_checkpoint(&body("3", &proof, &cp7), 2).is_ok());
    }

    #[test]
    fn a_first_request_must_have_an_empty_proof_and_a_size_zero_the_empty_root() {
        let v = vectors();
        let (w, _) = witness(&v);
        let proof = v["proof_3_7"][0].as_str().unwrap();
        let with_proof = format!("old 0\n{proof}\n\n{}", s(&v, "checkpoint3"));
        assert_eq!(refusal(&w, with_proof.as_bytes()).status(), 422);
        let signer = log_signer(&v);
        let empty = signer.sign(0, Hash([0; 32])).unwrap().note;
        assert_eq!(
            refusal(&w, format!("old 0\n\n{empty}").as_bytes()).status(),
            422
        );
        let empty = signer.sign(0, empty_root()).unwrap().note;
        assert!(w
            .add_checkpoint(format!("old 0\n\n{empty}").as_bytes(), 1)
            .is_ok());
    }

    #[test]
    fn requests_round_trip() {
        let v = vectors();
        let body = s(&v, "add_checkpoint_request_old3_to7");
        let parsed = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(parsed.old_size, 3);
        assert_eq!(parsed.proof.len(), 4);
        assert_eq!(parsed.to_bytes(), body.into_bytes());
    }
}
