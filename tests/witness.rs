//! The witness as a real process (`datapole witness`): c2sp.org/tlog-witness over HTTP, with
//! the independent vectors of tests/vectors/witness-cosignature.json, its exact status codes
//! and 409 body, and its records surviving a restart and a kill.

mod common;

use std::path::Path;
use std::process::Command;

use common::{binary, Server};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/witness-cosignature.json")).unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

/// `datapole keygen --witness`: writes the key, returns the cosignature/v1 vkey.
fn witness_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(format!("{}.key", name.replace('/', "_")));
    let out = Command::new(binary())
        .args(["keygen", "--witness", "--name", name, "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
    // The key type byte 0x04 encodes to a base64 'B'.
    assert!(
        vkey.splitn(3, '+').nth(2).unwrap().starts_with('B'),
        "{vkey}"
    );
    (path, vkey)
}

fn post(w: &Server, body: &[u8]) -> common::Answer {
    w.request("POST", "/add-checkpoint", &[], body)
}

#[test]
fn add_checkpoint_over_http_follows_the_spec_and_survives_restarts() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = witness_key(dir.path(), "witness.test/w1");
    let log_vkey = s(&v, "log_vkey");
    let data = dir.path().join("w1");
    let mut w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");

    // First contact: old 0 and no proof.
    let a = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let line = a.text();
    assert!(
        line.starts_with("— witness.test/w1 ") && line.ends_with('\n'),
        "{line:?}"
    );
    let cosigned = format!("{}{line}", s(&v, "checkpoint3"));
    check_cosignature(&cosigned, &vkey);

    // The same request again: the witness is at 3 now, so 409 with exactly "3\n" as
    // text/x.tlog.size.
    let again = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.content_type, "text/x.tlog.size");
    assert_eq!(again.body, b"3\n");

    // Errors other than the size conflict are JSON, with the spec's statuses.
    post(&w, b"old 3\n").assert_error(400, "malformed_request", "no empty line");
    post(&w, b"old 03\n\nx\n").assert_error(400, "malformed_request", "leading zero");
    let other_origin = s(&v, "checkpoint3").replace("datapole-test-log", "other-log");
    post(&w, format!("old 0\n\n{other_origin}").as_bytes()).assert_error(
        404,
        "unknown_origin",
        "unknown origin",
    );
    let tampered = s(&v, "checkpoint7").replace("\n7\n", "\n8\n");
    post(&w, format!("old 3\n\n{tampered}").as_bytes()).assert_error(
        403,
        "untrusted_signature",
        "signature over another text",
    );
    post(&w, format!("old 9\n\n{}", s(&v, "checkpoint7")).as_bytes()).assert_error(
        400,
        "old_size_too_large",
        "old size beyond the checkpoint",
    );
    let proof: Vec<&str> = v["proof_3_7"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let wrong_proof = format!(
        "old 3\n{}\n{}\n{}\n{}\n\n{}",
        proof[1],
        proof[0],
        proof[2],
        proof[3],
        s(&v, "checkpoint7")
    );
    post(&w, wrong_proof.as_bytes()).assert_error(
        422,
        "invalid_consistency_proof",
        "proof hashes out of order",
    );
    let huge = vec![b'a'; 100 * 1024];
    post(&w, &huge).assert_error(413, "payload_too_large", "oversized body");
    w.request("GET", "/add-checkpoint", &[], b"").assert_error(
        405,
        "method_not_allowed",
        "GET on add-checkpoint",
    );
    assert_eq!(info(&w)["logs"][0]["size"], 3, "refusals changed nothing");

    // Restarted cleanly, it still knows size 3.
    w.stop();
    let w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");
    let a = post(
        &w,
        s(&v, "add_checkpoint_request_first_old0_size3").as_bytes(),
    );
    assert_eq!((a.status, a.body.as_slice()), (409, b"3\n".as_slice()));
    // 3 → 7 with the vectors' proof.
    let a = post(&w, s(&v, "add_checkpoint_request_old3_to7").as_bytes());
    assert_eq!(a.status, 200, "{}", a.text());
    check_cosignature(&format!("{}{}", s(&v, "checkpoint7"), a.text()), &vkey);
    // Killed right after answering: the cosigned size was durable before the answer.
    w.kill();
    let w = Server::start_witness(&data, &key, &[&log_vkey], "127.0.0.1:0");
    let i = info(&w);
    assert_eq!(i["logs"][0]["size"], 7);
    assert_eq!(i["logs"][0]["root"], s(&v, "root7"));
    assert_eq!(i["vkey"], vkey);
}

fn info(w: &Server) -> Value {
    let a = w.get("/");
    assert_eq!(a.status, 200);
    a.json()
}

/// Checks the witness's cosignature line on a cosigned checkpoint by hand, from the bytes
/// (c2sp.org/tlog-cosignature): key ID, timestamp, Ed25519 over the spec's message.
fn check_cosignature(cosigned: &str, vkey: &str) {
    use base64::prelude::*;
    use sha2::{Digest, Sha256};
    let mut parts = vkey.splitn(3, '+');
    let (name, id, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let typed = BASE64_STANDARD.decode(key).unwrap();
    assert_eq!(typed[0], 0x04);
    let expected_id = &Sha256::digest([name.as_bytes(), b"\n", &typed].concat())[..4];
    assert_eq!(hex(expected_id), id);
    let (text, sigs) = cosigned.rsplit_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = sigs
        .lines()
        .find(|l| l.starts_with(&format!("— {name} ")))
        .expect("a line of the witness");
    let raw = BASE64_STANDARD
        .decode(line.rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(&raw[..4], expected_id);
    let t = u64::from_be_bytes(raw[4..12].try_into().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        t <= now && now - t < 600,
        "timestamp {t} is not now ({now})"
    );
    let message = format!("cosignature/v1\ntime {t}\n{text}");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&typed[1..].try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
    key.verify_strict(message.as_bytes(), &sig)
        .expect("the cosignature verifies");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
