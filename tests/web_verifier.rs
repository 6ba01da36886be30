//! The web pages' receipt verifier (`src/web/assets/verify.js`, WebCrypto) and the Rust
//! verifier agree on one set of vectors: real receipts from a running log (a registration,
//! a public deposit, a private deposit with its opening) and tampered variants of each. The
//! vectors are written to `target/web-vectors.json`; the JavaScript side runs under Node's
//! WebCrypto here (the pages run it in a browser). The JavaScript proofs code is also checked
//! against the Go reference implementation's inclusion and consistency proofs
//! (tests/vectors/tlog-reference.json). Without `node`, the JavaScript half is reported as
//! skipped, never passed.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use base64::prelude::*;
use common::Server;
use datapole::receipt::Receipt;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::receipt::verify_receipt;
use serde_json::{json, Value};

fn deposit(server: &Server, p: &common::Participant, content: &[u8], visibility: &str) -> Value {
    let payload = common::deposit_payload(content, visibility);
    let body =
        Envelope::sign(DEPOSIT_TYPE, payload.to_string().as_bytes(), &p.id, &p.key).to_bytes();
    let a = server.request(
        "POST",
        "/v1/deposits",
        &[("content-type", "application/json")],
        &body,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    a.json()["receipt"].clone()
}

/// Flips the last bit of a base64 field's bytes.
fn flip_b64(s: &str) -> String {
    let mut b = BASE64_STANDARD.decode(s).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    BASE64_STANDARD.encode(b)
}

fn tampered(name: &str, receipt: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut add = |what: &str, f: &dyn Fn(&mut Value)| {
        let mut r = receipt.clone();
        f(&mut r);
        if r != *receipt {
            out.push((format!("{name}/{what}"), r));
        }
    };
    add("leaf", &|r| {
        r["leaf"] = json!(flip_b64(r["leaf"].as_str().unwrap()))
    });
    add("index", &|r| {
        r["index"] = json!(r["index"].as_u64().unwrap() + 1)
    });
    add("proof", &|r| {
        if let Some(h) = r["inclusion"]["hashes"].get_mut(0) {
            *h = json!(flip_b64(h.as_str().unwrap()));
        }
    });
    add("checkpoint size", &|r| {
        let cp = r["checkpoint"].as_str().unwrap();
        let mut lines: Vec<String> = cp.split('\n').map(str::to_owned).collect();
        let size: u64 = lines[1].parse().unwrap();
        lines[1] = (size + 1).to_string();
        r["checkpoint"] = json!(lines.join("\n"));
    });
    add("checkpoint signature", &|r| {
        let cp = r["checkpoint"].as_str().unwrap().to_owned();
        let (text, sig) = cp.rsplit_once(' ').unwrap();
        r["checkpoint"] = json!(format!("{text} {}\n", flip_b64(sig.trim_end())));
    });
    add("format", &|r| r["format"] = json!("datapole.receipt.v0"));
    add("salt", &|r| {
        if let Some(salt) = r.pointer_mut("/opening/salt") {
            *salt = json!(flip_b64(salt.as_str().unwrap()));
        }
    });
    add("statement signature", &|r| {
        if let Some(sig) = r.pointer_mut("/statement/signatures/0/sig") {
            *sig = json!(flip_b64(sig.as_str().unwrap()));
        }
    });
    add("signer key", &|r| {
        if let Some(k) = r.pointer_mut("/signer/public_key") {
            *k = json!(BASE64_STANDARD.encode(common::test_key(99)));
        }
    });
    out
}

#[test]
fn the_browser_verifier_and_the_rust_verifier_agree_on_every_vector() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let depositor = common::register(&server, &admin, 1, &["depositor"]);
    let vkey = server.vkey();
    let mut valid = vec![
        (
            "registration".to_owned(),
            server.get("/v1/receipts/0").json(),
        ),
        (
            "public deposit".to_owned(),
            deposit(&server, &depositor, b"open data", "public"),
        ),
        (
            "private deposit".to_owned(),
            deposit(&server, &depositor, b"hospital records", "private"),
        ),
    ];
    let mut vectors = Vec::new();
    for (name, receipt) in valid.drain(..) {
        vectors.extend(tampered(&name, &receipt));
        vectors.push((name, receipt));
    }
    // The Rust verdicts: the names of the failed checks, with the pinned log key.
    let mut rust: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, receipt) in &vectors {
        let failed = match serde_json::from_value::<Receipt>(receipt.clone()) {
            Ok(r) => verify_receipt(&r, Some(&vkey))
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name.to_owned())
                .collect(),
            Err(_) => vec!["format".to_owned()],
        };
        rust.insert(name.clone(), failed);
    }
    // Valid receipts pass, every tampered one fails somewhere.
    for (name, failed) in &rust {
        assert_eq!(failed.is_empty(), !name.contains('/'), "{name}: {failed:?}");
    }
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-vectors.json");
    let json: Vec<Value> = vectors
        .iter()
        .map(|(name, receipt)| json!({"name": name, "receipt": receipt, "vkey": vkey, "rust_failed": rust[name]}))
        .collect();
    std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let root = env!("CARGO_MANIFEST_DIR");
    let node = Command::new("node")
        .arg("--experimental-default-type=module")
        .arg(format!("{root}/tests/web/run-verifier.mjs"))
        .arg(format!("{root}/src/web/assets/verify.js"))
        .arg(&file)
        .arg(format!("{root}/tests/vectors/tlog-reference.json"))
        .output();
    let out = match node {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: the JavaScript verifier was not run: no node ({e}); the Rust verdicts are in {}", file.display());
            return;
        }
    };
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
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
