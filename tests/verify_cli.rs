//! `datapole verify` on real receipts: offline with a pinned key, with `--log-url` (the key
//! fetched and printed, the signer's registration and the live log's consistency checked),
//! as c2sp.org/tlog-proof text, as JSON; tampered receipts and wrong keys fail with the
//! failing check named and a non-zero exit.

mod common;

use std::process::{Command, Output};

use common::{binary, deposit_payload, test_key, test_signing_key, Server};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use serde_json::Value;

fn verify(args: &[&str]) -> Output {
    Command::new(binary())
        .arg("verify")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn receipts_verify_offline_and_online_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let reg = server
        .register(&admin, "Depositor", &["depositor"], &test_key(1))
        .json();
    let id = reg["participant_id"].as_str().unwrap().to_owned();
    let key = test_signing_key(1);
    let mut receipts = Vec::new();
    for (content, visibility) in [
        (&b"public data"[..], "public"),
        (&b"private data"[..], "private"),
    ] {
        let env = Envelope::sign(
            DEPOSIT_TYPE,
            deposit_payload(content, visibility).to_string().as_bytes(),
            &id,
            &key,
        );
        let a = server.request(
            "POST",
            "/v1/deposits",
            &[("content-type", "application/json")],
            &env.to_bytes().unwrap(),
        );
        assert_eq!(a.status, 201, "{}", a.text());
        let path = dir.path().join(format!("{visibility}.json"));
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&a.json()["receipt"]).unwrap(),
        )
        .unwrap();
        receipts.push((visibility, path, a.json()["index"].as_u64().unwrap()));
    }
    // One more entry so that the live log has moved on from the receipts' checkpoints.
    assert_eq!(
        server
            .register(&admin, "Later", &["auditor"], &test_key(2))
            .status,
        201
    );

    for (visibility, path, index) in &receipts {
        let p = path.to_str().unwrap();
        let out = verify(&[p, "--vkey", &vkey]);
        let text = stdout(&out);
        assert!(out.status.success(), "{visibility}: {text}");
        for check in [
            "✓ checkpoint signature",
            "✓ inclusion",
            "✓ statement signature",
            "✓ statement matches entry",
        ] {
            assert!(text.contains(check), "{visibility}: no {check:?} in {text}");
        }
        if *visibility == "private" {
            assert!(text.contains("✓ commitment"), "{text}");
        }
        assert!(text.contains("valid:"), "{text}");

        // Online: the key is fetched and printed, the signer and the live log are checked.
        let out = verify(&[p, "--log-url", &server.base]);
        let text = stdout(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(&vkey), "the fetched key is printed: {text}");
        assert!(
            text.contains("✓ signer registration")
                && text.contains("✓ consistent with the live log"),
            "{text}"
        );

        // JSON output.
        let out = verify(&[p, "--vkey", &vkey, "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true);
        assert!(v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true));

        // The same proof as a c2sp.org/tlog-proof text.
        let tlog = dir.path().join(format!("{visibility}.tlog-proof"));
        std::fs::write(
            &tlog,
            server
                .get(&format!("/v1/receipts/{index}?format=tlog-proof"))
                .body,
        )
        .unwrap();
        let out = verify(&[tlog.to_str().unwrap(), "--vkey", &vkey]);
        assert!(out.status.success(), "{}", stdout(&out));
        assert!(stdout(&out).contains("✓ inclusion"));
    }

    // A participant registration's receipt verifies too (it has no statement).
    let registration = dir.path().join("registration.json");
    std::fs::write(&registration, server.get("/v1/receipts/0").body).unwrap();
    let out = verify(&[registration.to_str().unwrap(), "--vkey", &vkey]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("✓ inclusion"));

    // Tampering: the failing check is named and the exit code is non-zero.
    let (_, public, _) = &receipts[0];
    let original: Value = serde_json::from_slice(&std::fs::read(public).unwrap()).unwrap();
    let tampered = dir.path().join("tampered.json");
    for (what, field, value, failing) in [
        ("index", "/index", serde_json::json!(0), "✗ inclusion"),
        (
            "checkpoint",
            "/checkpoint",
            Value::String(
                original["checkpoint"]
                    .as_str()
                    .unwrap()
                    .replacen('\n', "\n9", 1),
            ),
            "✗ checkpoint signature",
        ),
        (
            "signer key",
            "/signer/public_key",
            Value::String(datapole_b64(&test_key(7))),
            "✗ statement signature",
        ),
    ] {
        let mut r = original.clone();
        *r.pointer_mut(field).unwrap() = value;
        std::fs::write(&tampered, serde_json::to_vec(&r).unwrap()).unwrap();
        let out = verify(&[tampered.to_str().unwrap(), "--vkey", &vkey]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
        assert!(stdout(&out).contains(failing), "{what}: {}", stdout(&out));
        assert!(stdout(&out).contains("INVALID"), "{what}");
    }
    // Another log's key.
    let (_, other) = datapole::log::LogSigner::generate("datapole.localhost/log").unwrap();
    let out = verify(&[public.to_str().unwrap(), "--vkey", &other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("✗ log key"), "{}", stdout(&out));
    // A receipt file naming a key twice has no one meaning: refused, even when the last of
    // the two values is the genuine one (serde_json alone would read that one and pass).
    let text = serde_json::to_string(&original).unwrap();
    for (what, twice) in [
        ("index twice", text.replacen('{', "{\"index\":1,", 1)),
        (
            "tree_size twice",
            text.replacen("{\"tree_size\":", "{\"tree_size\":1,\"tree_size\":", 1),
        ),
    ] {
        assert_ne!(twice, text, "{what}");
        std::fs::write(&tampered, &twice).unwrap();
        let out = verify(&[tampered.to_str().unwrap(), "--vkey", &vkey]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("duplicate key"), "{what}: {err}");
    }
    // Not a receipt at all.
    std::fs::write(&tampered, "hello").unwrap();
    let out = verify(&[tampered.to_str().unwrap(), "--vkey", &vkey]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a datapole.receipt.v1 receipt"));
}

fn datapole_b64(bytes: &[u8]) -> String {
    use base64::prelude::*;
    BASE64_STANDARD.encode(bytes)
}
