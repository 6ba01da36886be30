//! The committed receipt vectors, `tests/vectors/receipts.json`: receipt files of every kind
//! from a real running log and tampered variants of each (`tests/common/vectors.rs`), each with
//! the log key to pin and the names of the checks the Rust verifier fails on it. Other
//! verifiers (the pages' `verify.js` in tests/web_verifier.rs, the Python client's in
//! `clients/python/tests`) must fail exactly those checks, and can do so without cargo.
//!
//! With `DATAPOLE_WRITE_VECTORS=1` this test starts a log and writes the file afresh;
//! otherwise it checks that the Rust verifier's verdicts on the committed documents are still
//! the committed ones, so that the file cannot drift from the Rust verifier.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::vectors;
use serde_json::{json, Value};

fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/receipts.json")
}

/// The kinds of receipt files every set of vectors holds, genuine.
const KINDS: [&str; 10] = [
    "registration",
    "public deposit",
    "private deposit",
    "consent",
    "access permit",
    "access deny",
    "citizen withdrawal",
    "citizen erasure",
    "controller withdrawal",
    "deposit under a controller",
];

fn write() {
    let dir = tempfile::tempdir().unwrap();
    let s = vectors::scenario(dir.path());
    let out: Vec<Value> = vectors::all(&s)
        .iter()
        .map(|(name, doc)| {
            json!({"name": name, "document": doc, "vkey": s.vkey,
                   "failed": vectors::rust_failed(doc, &s.vkey)})
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&out).unwrap();
    text.push('\n');
    std::fs::write(file(), text).unwrap();
}

#[test]
fn the_committed_receipt_vectors_are_the_rust_verifiers_verdicts() {
    if std::env::var("DATAPOLE_WRITE_VECTORS").is_ok_and(|v| v == "1") {
        write();
    }
    let vectors: Vec<Value> =
        serde_json::from_slice(&std::fs::read(file()).expect("tests/vectors/receipts.json"))
            .unwrap();
    let mut names = BTreeSet::new();
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        assert!(names.insert(name.to_owned()), "{name} twice");
        let committed: Vec<String> = serde_json::from_value(v["failed"].clone()).unwrap();
        let now = vectors::rust_failed(&v["document"], v["vkey"].as_str().unwrap());
        assert_eq!(
            now, committed,
            "{name}: the Rust verifier's verdict changed"
        );
        // Genuine files (no '/' in the name) pass; every tampered one fails somewhere.
        assert_eq!(
            committed.is_empty(),
            !name.contains('/'),
            "{name}: {committed:?}"
        );
    }
    for kind in KINDS {
        assert!(names.contains(kind), "no {kind} vector");
    }
}
