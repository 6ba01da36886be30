//! The bodies of the cargo-fuzz targets (fuzz/fuzz_targets/), one function each, so that
//! `cargo test` replays every committed seed (fuzz/corpus/) through the same code on stable
//! (tests/fuzz_seeds.rs) and the nightly fuzzer explores from there. Compiled with the
//! `fuzzing` feature only (the fuzz crate and the test build turn it on). Each function must
//! never panic on any input but through its own assertions.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tlog_tiles::Hash;

use crate::field::IsoDuration;
use crate::json;
use crate::ledger::statements::parse_payload;
use crate::log::tiles::TilePath;
use crate::receipt::{Receipt, TlogProof};
use crate::statement::access::{Access, AccessPayload};
use crate::statement::consent::{direct_identifier, Consent, ConsentActionPayload, ConsentPayload};
use crate::statement::deposit::{Deposit, DepositPayload};
use crate::statement::dsse::Envelope;
use crate::verify::receipt::verify_receipt;
use crate::verify::verify_checkpoint;
use crate::witness::cosignature::CosignatureVerifier;
use crate::witness::state::{MemoryWitnessStore, WitnessStore};
use crate::witness::{check, AddCheckpoint, Record, TrustedLogs};

/// The key of the reference vectors' signed note (tests/vectors/tlog-reference.json).
const CHECKPOINT_VKEY: &str =
    "example.org/datapole-test+816ccf32+AXymrZO9RE+y5v6VJW+Fz2KMtLpbMFQFxHhqKPeuhbFd";

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

/// The key of the seed receipts' log (fuzz/corpus/receipt_verify).
const RECEIPT_VKEY: &str =
    "datapole.localhost/log+d57d8ff6+AQ9o/3F+wkwJcH6xZdoFdNucP5QHmQ2dhpYQF1y8QzDI";

/// Equal, floats within one unit in the last place (serde_json's default float reading is
/// not always exact on a round trip).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 1,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        _ => a == b,
    }
}

fn typed<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8], v: &Value) {
    let Ok(strict) = json::from_slice::<T>(data) else {
        return;
    };
    // The same through the strict value (what the API does), and through serde_json alone.
    let via_value: T = json::from_value(v.clone()).expect("the value reads as the bytes do");
    assert_eq!(via_value, strict);
    let lax: T = serde_json::from_slice(data).expect("strict-accepted, lax-refused");
    assert_eq!(lax, strict);
    // Written back out, it reads back.
    let again = serde_json::to_vec(&strict).expect("serialises");
    let back: T = json::from_slice(&again).expect("its own serialisation is strict JSON");
    if !has_float(v) {
        assert_eq!(back, strict);
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

/// The log key of tests/vectors/witness-cosignature.json.
const LOG_VKEY: &str =
    "example.com/datapole-test-log+c2cd3dd2+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";

/// Signed-note and checkpoint parsing and verification must never panic, and a note that
/// verifies must be a well-formed checkpoint.
pub fn checkpoint_note(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = verify_checkpoint(text, CHECKPOINT_VKEY) {
            assert_eq!(cp.key_name, "example.org/datapole-test");
        }
        // Also as a verifier key.
        let _ = verify_checkpoint(
            "a\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
            text,
        );
    }
    let _ = signed_note::Note::from_bytes(data);
    let _ = tlog_tiles::Checkpoint::from_bytes(data);
}

/// Consent and access payload parsing and validation (pseudonymity heuristics, ISO 8601
/// durations and validity arithmetic, legal-basis references) must never panic, whatever the
/// bytes; and a consent that checks has an end.
pub fn consent_access(data: &[u8]) {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    if let Ok(payload) = parse_payload::<ConsentPayload>(data) {
        if let Ok(consent) = Consent::check(&payload, now) {
            let end = consent.validity.expires_at(now);
            assert!(
                end.is_some_and(|t| t > now),
                "a checked consent must end after now"
            );
        }
    }
    if let Ok(payload) = parse_payload::<AccessPayload>(data) {
        let _ = Access::try_from(&payload);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = direct_identifier(text);
        if let Some(d) = IsoDuration::parse(text) {
            let _ = d.after(now);
        }
    }
}

/// Statement payload parsing and validation (the deposit schema, freshness, nonces) must
/// never panic, whatever the bytes.
pub fn deposit_payload(data: &[u8]) {
    if let Ok(payload) = parse_payload::<DepositPayload>(data) {
        if let Ok(deposit) = Deposit::try_from(&payload) {
            let _ = deposit.freshness.check(chrono_now());
        }
    }
}

/// DSSE envelope parsing (with the strict reader the API uses), shape checks and signature
/// verification must never panic.
pub fn dsse_envelope(data: &[u8]) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    if let Ok(envelope) = crate::json::from_slice::<Envelope>(data) {
        let _ = envelope.check();
        let verified = envelope.verify(&key);
        // Canonical bytes parse back to the same envelope.
        let again: Envelope =
            crate::json::from_slice(&envelope.to_bytes().expect("an envelope is written"))
                .expect("canonical bytes parse");
        assert_eq!(again, envelope);
        assert_eq!(again.verify(&key).is_ok(), verified.is_ok());
    }
}

/// Receipt verification (JSON receipts and c2sp.org/tlog-proof texts) must never panic, and
/// must never accept what it cannot check.
pub fn receipt_verify(data: &[u8]) {
    if let Ok(receipt) = crate::json::from_slice::<Receipt>(data) {
        let pinned = verify_receipt(&receipt, Some(RECEIPT_VKEY));
        let own = verify_receipt(&receipt, None);
        // A receipt valid under the pinned key names that key, so it is valid on its own too.
        if pinned.ok() {
            assert!(own.ok());
            assert_eq!(receipt.log.vkey, RECEIPT_VKEY);
        }
        let text = receipt.to_tlog_proof();
        if let Some(proof) = TlogProof::parse(&text) {
            assert_eq!(proof.index, receipt.index);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TlogProof::parse(text);
    }
}

/// The strict JSON reader (src/json.rs) must never panic, and what it accepts must read the
/// same to every reader: serde_json's own reading of the bytes is the same value, the value
/// written back out reads back the same, and each statement type that reads it strictly reads
/// it with serde_json alone too, to an equal value that re-serialises and re-reads equal.
pub fn strict_json(data: &[u8]) {
    let Ok(v) = json::value(data) else {
        return;
    };
    let lax: Value = serde_json::from_slice(data).expect("strict-accepted, lax-refused");
    assert!(same(&lax, &v), "serde_json reads another value");
    let text = serde_json::to_vec(&v).expect("serialises");
    let back = json::value(&text).expect("its own serialisation is strict JSON");
    assert!(same(&back, &v), "the round trip changed the value");
    typed::<DepositPayload>(data, &v);
    typed::<ConsentPayload>(data, &v);
    typed::<ConsentActionPayload>(data, &v);
    typed::<AccessPayload>(data, &v);
}

/// Tile path parsing must never panic, and every accepted path must be canonical: it prints
/// back exactly as given.
pub fn tile_path(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(path) = TilePath::parse(s) {
            assert_eq!(path.path(), format!("tile/{s}"));
            assert!((1..=256).contains(&path.width));
        }
    }
}

/// A witness's `add-checkpoint` body (c2sp.org/tlog-witness) and a cosignature/v1 verifier
/// key, from anyone on the network: parsing and deciding must never panic, a parsed request
/// must re-encode to what was parsed, and nothing unsigned by the trusted log is accepted.
pub fn witness_request(data: &[u8]) {
    if let Ok(request) = AddCheckpoint::parse(data) {
        assert_eq!(
            AddCheckpoint::parse(&request.to_bytes()).as_ref(),
            Ok(&request)
        );
        let mut logs = TrustedLogs::new();
        logs.add(LOG_VKEY).unwrap();
        for record in [
            None,
            Some(Record {
                size: 3,
                root: Hash([7; 32]),
            }),
        ] {
            if let Ok(accepted) = check(&request, &logs, record) {
                // Only the trusted log's checkpoints, and only consistent ones.
                assert_eq!(accepted.origin, "example.com/datapole-test-log");
                assert!(accepted.size >= record.map_or(0, |r| r.size));
            }
        }
        let store = MemoryWitnessStore::default();
        assert!(store.record("x").unwrap().is_none());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CosignatureVerifier::from_vkey(text);
    }
}
