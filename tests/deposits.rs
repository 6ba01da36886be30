//! Deposits end to end against the real binary: public and private deposits whose receipts
//! verify offline, new versions, duplicates, search; tampering with receipts; every rejection
//! path with its status and code and an unchanged log; and no private title or metadata on
//! any public endpoint, tiles and bundles included.

mod common;

use base64::prelude::*;
use common::{deposit_payload as payload, register, sha_hex, test_key, Participant, Server};
use datapole::receipt::{Receipt, TlogProof};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::{self, receipt::verify_receipt};
use serde_json::{json, Value};

struct World {
    server: Server,
    vkey: String,
    depositor: Participant,
    other: Participant,
    auditor: Participant,
    controller: Participant,
}

fn world(dir: &std::path::Path) -> World {
    let server = Server::start(&dir.join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let depositor = register(&server, &admin, 1, &["depositor"]);
    let other = register(&server, &admin, 2, &["depositor"]);
    let auditor = register(&server, &admin, 3, &["auditor"]);
    let controller = register(&server, &admin, 4, &["controller"]);
    World {
        server,
        vkey,
        depositor,
        other,
        auditor,
        controller,
    }
}

fn envelope(p: &Participant, payload: &Value) -> Vec<u8> {
    Envelope::sign(DEPOSIT_TYPE, payload.to_string().as_bytes(), &p.id, &p.key)
        .to_bytes()
        .unwrap()
}

fn post(server: &Server, body: &[u8]) -> common::Answer {
    server.request(
        "POST",
        "/v1/deposits",
        &[("content-type", "application/json")],
        body,
    )
}

fn receipt_of(v: &Value) -> Receipt {
    serde_json::from_value(v["receipt"].clone()).expect("a receipt")
}

fn check(r: &Receipt, vkey: &str) -> Vec<&'static str> {
    let report = verify_receipt(r, Some(vkey));
    assert!(report.ok(), "{report:#?}");
    report.checks.iter().map(|c| c.name).collect()
}

#[test]
fn deposits_receipts_versions_duplicates_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let s = &w.server;

    // A public deposit: the whole signed statement is on the log.
    let content = b"year,patients\n2025,1200\n";
    let a = post(s, &envelope(&w.depositor, &payload(content, "public")));
    assert_eq!(a.status, 201, "{}", a.text());
    let public = a.json();
    assert_eq!(public["duplicate"], false);
    assert_eq!(public["version"], 1);
    let dataset = public["dataset_id"].as_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&dataset).unwrap().get_version_num(),
        7
    );
    let r = receipt_of(&public);
    let checks = check(&r, &w.vkey);
    assert!(
        checks.contains(&"statement signature") && checks.contains(&"statement matches entry"),
        "{checks:?}"
    );
    assert!(r.statement.is_none() && r.opening.is_none());
    let entry = s.get(&format!("/v1/entries/{}", r.index)).json()["entry"].clone();
    assert_eq!(entry["type"], "deposit");
    assert_eq!(entry["visibility"], "public");
    assert_eq!(entry["depositor"], w.depositor.id.as_str());
    assert!(entry["statement"]["payload"].is_string());

    // As a c2sp.org/tlog-proof.
    let text = s.get(&format!("/v1/receipts/{}?format=tlog-proof", r.index));
    assert_eq!(text.status, 200);
    assert!(text.content_type.starts_with("text/plain"));
    let proof = TlogProof::parse(&text.text()).expect("a tlog-proof");
    assert_eq!(proof.index, r.index);
    let leaf = proof.extra.unwrap();
    let cp = verify::verify_checkpoint(&proof.checkpoint, &w.vkey).unwrap();
    verify::verify_inclusion(
        &verify::leaf_hash(&leaf),
        proof.index,
        cp.size,
        &proof.hashes,
        &cp.root,
    )
    .unwrap();

    // A private deposit: only a commitment is on the log.
    let secret_title = "Cohorte oncologie confidentielle";
    let mut p = payload(b"secret rows", "private");
    p["title"] = json!(secret_title);
    p["metadata"] = json!({"ward": "oncology-7"});
    p["description"] = json!("Patients of ward 7");
    let env = envelope(&w.depositor, &p);
    let a = post(s, &env);
    assert_eq!(a.status, 201, "{}", a.text());
    let private = a.json();
    let pr = receipt_of(&private);
    assert!(pr.statement.is_some() && pr.opening.is_some());
    assert!(check(&pr, &w.vkey).contains(&"commitment"));
    let private_index = pr.index;
    let private_dataset = private["dataset_id"].as_str().unwrap().to_owned();
    let entry = s.get(&format!("/v1/entries/{private_index}")).json()["entry"].clone();
    assert_eq!(entry["visibility"], "private");
    assert!(entry["commitment"].as_str().unwrap().len() == 64);
    assert!(entry.get("statement").is_none() && entry.get("title").is_none());

    // The opening goes to the depositor and to auditors only.
    let receipt_with = |token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        s.request(
            "GET",
            &format!("/v1/receipts/{private_index}"),
            &headers,
            &[],
        )
    };
    for token in [
        Some(w.depositor.token.as_str()),
        Some(w.auditor.token.as_str()),
    ] {
        let r: Receipt = serde_json::from_value(receipt_with(token).json()).unwrap();
        assert!(r.opening.is_some());
        assert!(check(&r, &w.vkey).contains(&"commitment"));
    }
    for token in [None, Some(w.other.token.as_str())] {
        let a = receipt_with(token);
        assert_eq!(a.status, 200);
        let r: Receipt = serde_json::from_value(a.json()).unwrap();
        assert!(r.opening.is_none() && r.statement.is_none());
        check(&r, &w.vkey);
    }
    receipt_with(Some("dpt_not-a-token")).assert_error(
        401,
        "unauthorized",
        "bad participant token",
    );

    // No public endpoint shows the private statement: neither its title, metadata or
    // description, nor its payload, even base64-encoded.
    let env: Envelope = serde_json::from_slice(&env).unwrap();
    let needles: Vec<Vec<u8>> = vec![
        secret_title.as_bytes().to_vec(),
        b"oncology-7".to_vec(),
        b"Patients of ward".to_vec(),
        env.payload.as_bytes().to_vec(),
        env.payload.as_bytes()[..40].to_vec(),
    ];
    let size = s.size();
    let mut public_bodies = vec![
        s.get(&format!("/v1/entries/{private_index}")).body,
        s.get(&format!("/v1/deposits?sha256={}", sha_hex(b"secret rows")))
            .body,
        s.get(&format!("/v1/datasets/{private_dataset}")).body,
        receipt_with(None).body,
        receipt_with(Some(&w.other.token)).body,
        s.get(&format!("/v1/receipts/{private_index}?format=tlog-proof"))
            .body,
        s.get(&format!("/tile/entries/000.p/{size}")).body,
        s.get(&format!("/tile/0/000.p/{size}")).body,
        s.get("/checkpoint").body,
    ];
    for i in 0..size {
        public_bodies.push(s.get(&format!("/v1/entries/{i}")).body);
    }
    for body in &public_bodies {
        for needle in &needles {
            assert!(
                !body.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{:?} leaked",
                String::from_utf8_lossy(needle)
            );
        }
    }

    // The same private content again: the existing entry, but without its opening (a replayed
    // statement must not obtain it); the depositor reads it with its token.
    let mut again = payload(b"secret rows", "private");
    again["title"] = json!(secret_title);
    let a = post(s, &envelope(&w.depositor, &again));
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        (a.json()["duplicate"].as_bool(), a.json()["index"].as_u64()),
        (Some(true), Some(private_index))
    );
    let dup = receipt_of(&a.json());
    assert!(dup.opening.is_none() && dup.statement.is_none());
    check(&dup, &w.vkey);
    // The same content deposited publicly is a new deposit, not the private one handed back.
    let a = post(
        s,
        &envelope(&w.depositor, &payload(b"secret rows", "public")),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    assert_ne!(a.json()["index"].as_u64(), Some(private_index));

    // A new version of the public dataset, then duplicates of existing content.
    let v2_content = b"year,patients\n2025,1200\n2026,1310\n";
    let mut p = payload(v2_content, "public");
    p["dataset_id"] = json!(dataset);
    let a = post(s, &envelope(&w.depositor, &p));
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.json()["version"], 2);
    assert_eq!(a.json()["dataset_id"], dataset.as_str());
    let before = s.size();
    let a = post(s, &envelope(&w.depositor, &payload(content, "public")));
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["duplicate"], true);
    assert_eq!(a.json()["index"], public["index"]);
    check(&receipt_of(&a.json()), &w.vkey);
    let mut p = payload(v2_content, "public");
    p["dataset_id"] = json!(dataset);
    let a = post(s, &envelope(&w.depositor, &p));
    assert_eq!((a.status, a.json()["version"].as_u64()), (200, Some(2)));
    assert_eq!(s.size(), before, "duplicates add no entry");

    // Search by content: another depositor's deposit of the same content is listed too.
    let a = post(s, &envelope(&w.other, &payload(content, "public")));
    assert_eq!(a.status, 201);
    let list = s
        .get(&format!(
            "/v1/deposits?sha256={}",
            sha_hex(content).to_uppercase()
        ))
        .json();
    let deposits = list["deposits"].as_array().unwrap();
    assert_eq!(deposits.len(), 2);
    assert_eq!(list["truncated"], false);
    assert_eq!(deposits[0]["depositor"], w.depositor.id.as_str());
    assert_eq!(deposits[1]["depositor"], w.other.id.as_str());
    assert!(deposits.iter().all(|d| d["sha256"] == sha_hex(content)));
    let versions = s.get(&format!("/v1/datasets/{dataset}")).json();
    assert_eq!(versions["depositor"], w.depositor.id.as_str());
    let v: Vec<u64> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(v, [1, 2]);
    let empty = s
        .get(&format!("/v1/deposits?sha256={}", sha_hex(b"nothing")))
        .json();
    assert_eq!(empty["deposits"].as_array().unwrap().len(), 0);
}

#[test]
fn concurrent_versions_of_one_dataset_get_distinct_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let first = post(
        &w.server,
        &envelope(&w.depositor, &payload(b"v1", "public")),
    )
    .json();
    let dataset = first["dataset_id"].as_str().unwrap().to_owned();
    let mut versions: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let w = &w;
                let dataset = &dataset;
                s.spawn(move || {
                    let mut p = payload(format!("version {i}").as_bytes(), "private");
                    p["dataset_id"] = json!(dataset);
                    let a = post(&w.server, &envelope(&w.depositor, &p));
                    assert_eq!(a.status, 201, "{}", a.text());
                    a.json()["version"].as_u64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>());
}

#[test]
fn any_change_to_a_receipt_makes_it_fail() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let mut p = payload(b"private content", "private");
    p["metadata"] = json!({"k": "v"});
    let private = receipt_of(&post(&w.server, &envelope(&w.depositor, &p)).json());
    let public = receipt_of(
        &post(
            &w.server,
            &envelope(&w.depositor, &payload(b"public content", "public")),
        )
        .json(),
    );
    for receipt in [&private, &public] {
        assert!(verify_receipt(receipt, Some(&w.vkey)).ok());
        let text = serde_json::to_vec(receipt).unwrap();
        let mut tried = 0;
        for i in 0..text.len() {
            for replacement in [text[i] ^ 0x01, b'A', b'0'] {
                if replacement == text[i] {
                    continue;
                }
                let mut t = text.clone();
                t[i] = replacement;
                let Ok(changed) = serde_json::from_slice::<Receipt>(&t) else {
                    continue; // no longer a receipt at all
                };
                tried += 1;
                assert!(
                    !verify_receipt(&changed, Some(&w.vkey)).ok(),
                    "changing byte {i} ({:?} -> {:?}) still verifies: {}",
                    text[i] as char,
                    replacement as char,
                    String::from_utf8_lossy(&t)
                );
            }
        }
        assert!(tried > 1000, "only {tried} mutations parsed");
    }
    // Field-level tampering that keeps the JSON well formed.
    let mut r = private.clone();
    r.opening = None;
    assert!(!verify_receipt(&r, Some(&w.vkey)).ok(), "a half opening");
    let mut r = public.clone();
    r.statement = private.statement.clone();
    assert!(
        !verify_receipt(&r, Some(&w.vkey)).ok(),
        "a foreign statement on a public entry"
    );
    let mut r = private.clone();
    r.signer = public.signer.clone().map(|mut s| {
        s.public_key = BASE64_STANDARD.encode(test_key(2));
        s
    });
    assert!(
        !verify_receipt(&r, Some(&w.vkey)).ok(),
        "another signer key"
    );
    // A receipt from another log, checked with this log's key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = world(other_dir.path());
    let foreign = receipt_of(
        &post(
            &other.server,
            &envelope(&other.depositor, &payload(b"x", "public")),
        )
        .json(),
    );
    assert!(verify_receipt(&foreign, Some(&other.vkey)).ok());
    assert!(!verify_receipt(&foreign, Some(&w.vkey)).ok());
}

#[test]
fn bad_deposits_get_precise_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world(dir.path());
    let good = payload(b"content", "public");
    let public = post(&w.server, &envelope(&w.depositor, &good)).json();
    let dataset = public["dataset_id"].as_str().unwrap().to_owned();
    let used_nonce = good["nonce"].as_str().unwrap().to_owned();

    let sign = |p: &Participant, v: &Value| envelope(p, v);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = payload(b"other content", "public");
        f(&mut p);
        p
    };
    let env_with = |f: &dyn Fn(&mut Envelope)| {
        let mut e = Envelope::sign(
            DEPOSIT_TYPE,
            payload(b"c2", "public").to_string().as_bytes(),
            &w.depositor.id,
            &w.depositor.key,
        );
        f(&mut e);
        serde_json::to_vec(&e).unwrap()
    };
    let raw_payload = |bytes: &[u8]| {
        Envelope::sign(DEPOSIT_TYPE, bytes, &w.depositor.id, &w.depositor.key)
            .to_bytes()
            .unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not JSON", b"{".to_vec(), 400, "malformed_envelope"),
        (
            "not an envelope",
            br#"{"hello": 1}"#.to_vec(),
            400,
            "malformed_envelope",
        ),
        (
            "no signature",
            env_with(&|e| e.signatures.clear()),
            400,
            "malformed_envelope",
        ),
        (
            "two signatures",
            env_with(&|e| e.signatures.push(e.signatures[0].clone())),
            400,
            "malformed_envelope",
        ),
        (
            "payload not base64",
            env_with(&|e| e.payload = "***".into()),
            400,
            "malformed_envelope",
        ),
        (
            "sig not base64",
            env_with(&|e| e.signatures[0].sig = "***".into()),
            400,
            "malformed_envelope",
        ),
        (
            "wrong payload type",
            Envelope::sign(
                "application/json",
                good.to_string().as_bytes(),
                &w.depositor.id,
                &w.depositor.key,
            )
            .to_bytes()
            .unwrap(),
            400,
            "malformed_envelope",
        ),
        (
            "unknown keyid",
            env_with(&|e| e.signatures[0].keyid = uuid::Uuid::new_v4().to_string()),
            401,
            "unknown_participant",
        ),
        (
            "keyid not a participant id",
            env_with(&|e| e.signatures[0].keyid = "alice".into()),
            401,
            "unknown_participant",
        ),
        (
            "keyid spelt in upper case",
            env_with(&|e| e.signatures[0].keyid = e.signatures[0].keyid.to_uppercase()),
            401,
            "unknown_participant",
        ),
        (
            "signed by another key",
            Envelope::sign(
                DEPOSIT_TYPE,
                with(&|_| {}).to_string().as_bytes(),
                &w.depositor.id,
                &w.other.key,
            )
            .to_bytes()
            .unwrap(),
            401,
            "bad_signature",
        ),
        (
            "payload changed after signing",
            env_with(&|e| e.payload = BASE64_STANDARD.encode(with(&|_| {}).to_string())),
            401,
            "bad_signature",
        ),
        (
            "auditor cannot deposit",
            sign(&w.auditor, &with(&|_| {})),
            403,
            "forbidden_role",
        ),
        (
            "controller cannot deposit",
            sign(&w.controller, &with(&|_| {})),
            403,
            "forbidden_role",
        ),
        (
            "payload not JSON",
            raw_payload(b"not json"),
            422,
            "invalid_payload",
        ),
        (
            "payload an array",
            raw_payload(b"[1]"),
            422,
            "invalid_payload",
        ),
        (
            "missing sha256",
            sign(
                &w.depositor,
                &with(&|p| {
                    p.as_object_mut().unwrap().remove("sha256");
                }),
            ),
            422,
            "invalid_field",
        ),
        (
            "bad sha256",
            sign(&w.depositor, &with(&|p| p["sha256"] = json!("abc"))),
            422,
            "invalid_field",
        ),
        (
            "negative size",
            sign(&w.depositor, &with(&|p| p["size"] = json!(-1))),
            422,
            "invalid_field",
        ),
        (
            "size a string",
            sign(&w.depositor, &with(&|p| p["size"] = json!("12"))),
            422,
            "invalid_field",
        ),
        (
            "unknown field",
            sign(&w.depositor, &with(&|p| p["owner"] = json!("me"))),
            422,
            "invalid_field",
        ),
        (
            "bad visibility",
            sign(&w.depositor, &with(&|p| p["visibility"] = json!("secret"))),
            422,
            "invalid_field",
        ),
        (
            "bad media type",
            sign(&w.depositor, &with(&|p| p["media_type"] = json!("csv"))),
            422,
            "invalid_field",
        ),
        (
            "empty title",
            sign(&w.depositor, &with(&|p| p["title"] = json!(" "))),
            422,
            "invalid_field",
        ),
        (
            "bad retention",
            sign(
                &w.depositor,
                &with(&|p| p["retention"] = json!("ten years")),
            ),
            422,
            "invalid_field",
        ),
        (
            "metadata not an object",
            sign(&w.depositor, &with(&|p| p["metadata"] = json!([1]))),
            422,
            "invalid_field",
        ),
        (
            "dataset_id not a UUID",
            sign(&w.depositor, &with(&|p| p["dataset_id"] = json!("d1"))),
            422,
            "invalid_field",
        ),
        (
            "short nonce",
            sign(&w.depositor, &with(&|p| p["nonce"] = json!("abc"))),
            422,
            "invalid_field",
        ),
        (
            "issued_at not a time",
            sign(&w.depositor, &with(&|p| p["issued_at"] = json!("now"))),
            422,
            "invalid_field",
        ),
        (
            "issued 10 minutes ago",
            sign(
                &w.depositor,
                &with(&|p| {
                    p["issued_at"] =
                        json!((chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339())
                }),
            ),
            422,
            "stale_statement",
        ),
        (
            "issued 10 minutes ahead",
            sign(
                &w.depositor,
                &with(&|p| {
                    p["issued_at"] =
                        json!((chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339())
                }),
            ),
            422,
            "stale_statement",
        ),
        (
            "replayed nonce",
            sign(&w.depositor, &with(&|p| p["nonce"] = json!(used_nonce))),
            409,
            "replayed",
        ),
        (
            "unknown dataset",
            sign(
                &w.depositor,
                &with(&|p| p["dataset_id"] = json!(uuid::Uuid::now_v7().to_string())),
            ),
            404,
            "dataset_not_found",
        ),
        (
            "someone else's dataset",
            sign(&w.other, &with(&|p| p["dataset_id"] = json!(dataset))),
            403,
            "not_dataset_owner",
        ),
        (
            "oversized body",
            sign(
                &w.depositor,
                &with(&|p| p["description"] = json!("d".repeat(100_000))),
            ),
            413,
            "payload_too_large",
        ),
    ];
    // The whole store, raw, before and after every refusal: nothing at all may be written.
    let data = w.server.data_dir.clone();
    w.server.stop();
    let stored = common::store_contents(&data);
    w.server = Server::start(&data);
    let s = &w.server;
    let before = s.checkpoint();
    let mut unused = Vec::new();
    for (what, body, status, code) in cases {
        post(s, &body).assert_error(status, code, what);
        assert_eq!(s.checkpoint(), before, "{what}: the log changed");
        // A statement the depositor signed, refused: its nonce must stay usable.
        if let Some((keyid, nonce)) = common::statement_nonce(&body) {
            if keyid == w.depositor.id && nonce.len() >= 16 && nonce != used_nonce {
                unused.push((what, nonce));
            }
        }
    }
    // The exact replay of an accepted statement.
    post(s, &envelope(&w.depositor, &good)).assert_error(409, "replayed", "exact replay");
    s.request(
        "POST",
        "/v1/deposits",
        &[("content-type", "text/plain")],
        &envelope(&w.depositor, &with(&|_| {})),
    )
    .assert_error(415, "unsupported_media_type", "text/plain");
    // Reads.
    for (what, path, status, code) in [
        (
            "receipt beyond the log",
            "/v1/receipts/99".to_owned(),
            404,
            "entry_not_found",
        ),
        (
            "receipt index not a number",
            "/v1/receipts/x".to_owned(),
            400,
            "invalid_index",
        ),
        (
            "receipt in an unknown format",
            "/v1/receipts/0?format=pdf".to_owned(),
            400,
            "invalid_query",
        ),
        (
            "search without sha256",
            "/v1/deposits".to_owned(),
            400,
            "invalid_query",
        ),
        (
            "search with a bad sha256",
            "/v1/deposits?sha256=xyz".to_owned(),
            400,
            "invalid_query",
        ),
        (
            "search with another parameter",
            format!("/v1/deposits?sha256={}&title=x", sha_hex(b"c")),
            400,
            "invalid_query",
        ),
        (
            "dataset id not a UUID",
            "/v1/datasets/abc".to_owned(),
            400,
            "invalid_dataset_id",
        ),
        (
            "unknown dataset",
            format!("/v1/datasets/{}", uuid::Uuid::now_v7()),
            404,
            "dataset_not_found",
        ),
    ] {
        s.get(&path).assert_error(status, code, what);
    }
    assert_eq!(s.checkpoint(), before);
    let a = s.request("DELETE", "/v1/deposits", &[], &[]);
    a.assert_error(405, "method_not_allowed", "DELETE deposits");
    assert_eq!(a.allow, "GET, HEAD, POST");

    w.server.stop();
    common::assert_same_store(&stored, &common::store_contents(&data), "refused deposits");
    w.server = Server::start(&data);
    assert!(unused.len() >= 15, "{} nonces to try", unused.len());
    for (k, (what, nonce)) in unused.iter().enumerate() {
        let mut p = payload(format!("fresh content {k}").as_bytes(), "public");
        p["nonce"] = json!(nonce);
        let a = post(&w.server, &envelope(&w.depositor, &p));
        assert_eq!(
            a.status,
            201,
            "{what}: its nonce is no longer usable: {}",
            a.text()
        );
    }
}
