//! The web pages' receipt verifier (`src/web/assets/verify.js`, WebCrypto) and the Rust
//! verifier agree on one set of vectors (`tests/common/vectors.rs`): real receipt files of
//! every kind from a running log (a registration, public and private deposits, a citizen's
//! consent receipt, permitted and denied accesses, the citizen's withdrawal and erasure, the
//! controller's signed withdrawal) and tampered variants of each. The vectors are written to
//! `target/tmp/web-vectors.json`; the JavaScript side runs under Node's WebCrypto here (the
//! pages run it in Chromium: tests/browser.rs). The JavaScript proofs code is also checked
//! against the Go reference implementation's inclusion and consistency proofs
//! (tests/vectors/tlog-reference.json). It also fails exactly the committed checks on the
//! committed vectors (`tests/vectors/receipts.json`, which tests/receipt_vectors.rs keeps equal
//! to the Rust verdicts). Without `node`, the JavaScript half is reported as skipped, never
//! passed.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::vectors;
use serde_json::{json, Value};

#[test]
fn the_browser_verifier_and_the_rust_verifier_agree_on_every_vector() {
    let dir = tempfile::tempdir().unwrap();
    let s = vectors::scenario(dir.path());
    let vkey = s.vkey.clone();
    let all = vectors::all(&s);
    // The Rust verdicts: the names of the failed checks, with the pinned log key.
    let rust: BTreeMap<String, Vec<String>> = all
        .iter()
        .map(|(name, doc)| (name.clone(), vectors::rust_failed(doc, &vkey)))
        .collect();
    assert_eq!(rust.len(), all.len(), "vector names are unique");
    // Valid files pass, every tampered one fails somewhere.
    for (name, failed) in &rust {
        assert_eq!(failed.is_empty(), !name.contains('/'), "{name}: {failed:?}");
    }
    // Every kind of receipt is there.
    for kind in [
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
    ] {
        assert!(rust.contains_key(kind), "{kind}");
    }
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-vectors.json");
    let json: Vec<Value> = all
        .iter()
        .map(|(name, doc)| json!({"name": name, "document": doc, "vkey": vkey, "rust_failed": rust[name]}))
        .collect();
    std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let Some(answer) = run_node(&file) else {
        return;
    };
    // The Go reference implementation's proofs all verify, and none once tampered.
    let reference = &answer["reference"];
    assert_eq!(reference["inclusion_ok"], 148, "{reference}");
    assert_eq!(reference["consistency_ok"], 145, "{reference}");
    assert_eq!(reference["inclusion_bad"], 0, "{reference}");
    assert_eq!(reference["consistency_bad"], 0, "{reference}");
    assert_eq!(reference["tampered_accepted"], 0, "{reference}");
    let js: BTreeMap<String, Value> = serde_json::from_value(answer["receipts"].clone()).unwrap();
    assert_eq!(js.len(), rust.len());
    for (name, failed) in &rust {
        let js_failed: Vec<String> = js[name]["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&js_failed, failed, "{name}: JavaScript and Rust disagree");
    }
}

/// Runs the pages' verifier under Node on a vectors file (each entry's `name`, `document` and
/// `vkey`); its answer, or None (reported as skipped) without `node`.
fn run_node(file: &std::path::Path) -> Option<Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    // verify.js is an ES module served as .js; Node reads a .mjs copy as one, whatever its
    // version (no flag needed).
    let module = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify.mjs");
    std::fs::copy(format!("{root}/src/web/assets/verify.js"), &module).unwrap();
    let node = Command::new("node")
        .arg(format!("{root}/tests/web/run-verifier.mjs"))
        .arg(&module)
        .arg(file)
        .arg(format!("{root}/tests/vectors/tlog-reference.json"))
        .output();
    let out = match node {
        Ok(out) => out,
        Err(e) => {
            common::skip(
                "web_verifier",
                &format!("no node ({e}); the Rust verdicts are in {}", file.display()),
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The pages' verifier fails exactly the checks that the committed vectors
/// (`tests/vectors/receipts.json`, kept equal to the Rust verdicts by tests/receipt_vectors.rs)
/// name, on every committed receipt file.
#[test]
fn the_browser_verifier_fails_exactly_the_committed_checks() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/receipts.json");
    let vectors: Vec<Value> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let Some(answer) = run_node(&file) else {
        return;
    };
    let js = &answer["receipts"];
    assert_eq!(js.as_object().unwrap().len(), vectors.len());
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        assert_eq!(
            js[name]["failed"], v["failed"],
            "{name}: JavaScript and the committed verdict disagree"
        );
    }
}
