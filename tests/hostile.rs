//! Hostile input over every endpoint, sent as raw HTTP so that nothing is cleaned up on the
//! way: malformed and deeply nested JSON, wrong types, huge and negative numbers, invalid
//! UTF-8, oversized bodies, bad base64, bad and foreign signatures, wrong roles, replays,
//! expired statements, traversal and garbage in paths and queries. After it: no 5xx, the
//! server alive, and the log unchanged but for the valid entries.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::prelude::*;
use common::{test_key, test_signing_key, Server};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use serde_json::json;

/// Sends one raw HTTP/1.1 request and returns the status code (0 if the server answered
/// nothing parseable, which also counts as a failure).
fn raw(addr: &str, method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).expect("server alive");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    let _ = s.write_all(&req);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let head = String::from_utf8_lossy(&resp[..resp.len().min(64)]).into_owned();
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn nested(depth: usize, open: &str, close: &str) -> Vec<u8> {
    format!("{}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
}

#[test]
fn hostile_input_gets_4xx_and_leaves_the_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    let addr = server.base.trim_start_matches("http://").to_owned();
    let admin = server.admin_token();
    let depositor = server
        .register(&admin, "Depositor", &["depositor"], &test_key(1))
        .json();
    let depositor_id = depositor["participant_id"].as_str().unwrap().to_owned();
    let auditor = server
        .register(&admin, "Auditor", &["auditor"], &test_key(2))
        .json();
    let auditor_id = auditor["participant_id"].as_str().unwrap().to_owned();
    let key = test_signing_key(1);
    let good_payload = |nonce: &str| {
        json!({
            "sha256": "ab".repeat(32), "size": 1, "media_type": "text/plain", "title": "t",
            "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": nonce,
        })
    };
    // One valid deposit, whose statement is then replayed.
    let accepted = Envelope::sign(
        DEPOSIT_TYPE,
        good_payload("hostile-nonce-0001").to_string().as_bytes(),
        &depositor_id,
        &key,
    )
    .to_bytes()
    .unwrap();
    assert_eq!(
        raw(
            &addr,
            "POST",
            b"/v1/deposits",
            &[("Content-Type", b"application/json")],
            &accepted
        ),
        201
    );
    // The whole store, raw, around everything hostile below: nothing at all may be written.
    let data = server.data_dir.clone();
    server.stop();
    let stored = common::store_contents(&data);
    let mut server = Server::start(&data);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let size = server.size();
    let checkpoint = server.checkpoint();

    // Bodies: malformed JSON of every kind.
    let mut bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"}".to_vec(),
        b"null".to_vec(),
        b"true".to_vec(),
        b"-1".to_vec(),
        b"1e999".to_vec(),
        b"99999999999999999999999999".to_vec(),
        b"\"str\"".to_vec(),
        b"[]".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        b"\xef\xbb\xbf{}".to_vec(),
        b"{\"a\":\"\xc3\x28\"}".to_vec(),
        b"{\"name\":\"\\ud800\"}".to_vec(),
        b"{\"name\":1,\"name\":2}".to_vec(),
        vec![b'{'; 100_000],
        nested(100_000, "[", "]"),
        nested(5_000, "{\"a\":", "}"),
        b"{\"a\":[".repeat(2_000),
        vec![0u8; 1000],
        "\u{0}".repeat(10).into_bytes(),
    ];
    // Participant registrations with hostile fields.
    for v in [
        json!({"name": "x".repeat(70_000), "roles": ["auditor"], "public_key": "AA=="}),
        json!({"name": -1, "roles": ["auditor"], "public_key": "AA=="}),
        json!({"name": "x", "roles": [1e308], "public_key": "AA=="}),
        json!({"name": "x", "roles": "auditor", "public_key": null}),
        json!({"name": "x", "roles": ["auditor"], "public_key": "A".repeat(10_000)}),
        json!({"name": "x", "roles": ["auditor"], "public_key": BASE64_STANDARD.encode([0u8; 32])}),
        json!({"name": "../../etc/passwd", "roles": ["root"], "public_key": "////"}),
        json!({"name": "x", "roles": [null], "public_key": BASE64_STANDARD.encode(test_key(1))}),
    ] {
        bodies.push(v.to_string().into_bytes());
    }
    // A valid registration but for a key named twice.
    bodies.push(
        format!(
            r#"{{"name":"A","roles":["auditor"],"name":"B","public_key":"{}"}}"#,
            BASE64_STANDARD.encode(test_key(77))
        )
        .into_bytes(),
    );
    let auth_admin = format!("Bearer {admin}");
    let json_ct: (&str, &[u8]) = ("Content-Type", b"application/json");
    let mut statuses = Vec::new();
    for body in &bodies {
        statuses.push((
            "POST participants",
            raw(
                &addr,
                "POST",
                b"/v1/participants",
                &[json_ct, ("Authorization", auth_admin.as_bytes())],
                body,
            ),
        ));
        statuses.push((
            "POST deposits",
            raw(&addr, "POST", b"/v1/deposits", &[json_ct], body),
        ));
        // The same bytes as a signed statement's payload.
        let env = Envelope::sign(DEPOSIT_TYPE, body, &depositor_id, &key)
            .to_bytes()
            .unwrap();
        statuses.push((
            "signed hostile payload",
            raw(&addr, "POST", b"/v1/deposits", &[json_ct], &env),
        ));
    }
    // Hostile deposit payloads, correctly signed.
    let hostile_payloads = [
        json!({"sha256": null}),
        json!({"sha256": "ab".repeat(32), "size": -1, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": "n".repeat(20)}),
        json!({"sha256": "ab".repeat(32), "size": 1.5, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": "n".repeat(20)}),
        json!({"sha256": "ab".repeat(32), "size": 18446744073709551615u64, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": "9999-12-31T23:59:59Z", "nonce": "n".repeat(20)}),
        json!({"sha256": "ab".repeat(32), "size": 1, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": "1970-01-01T00:00:00Z", "nonce": "n".repeat(20)}),
        json!({"sha256": "ab".repeat(32), "size": 1, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": "../../../../etc/passwd"}),
        json!({"sha256": "ab".repeat(32), "size": 1, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": "n".repeat(20), "dataset_id": "../../x"}),
        json!({"sha256": "ab".repeat(32), "size": 1, "media_type": "a/b", "title": "t", "visibility": "public", "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": "n".repeat(20), "metadata": nested_json(200)}),
    ];
    let mut hostile_payloads: Vec<String> =
        hostile_payloads.iter().map(|p| p.to_string()).collect();
    // Numbers no JSON library can hold.
    hostile_payloads.push(
        good_payload("hostile-nonce-0009")
            .to_string()
            .replace("\"size\":1", "\"size\":1e400"),
    );
    hostile_payloads.push(
        good_payload("hostile-nonce-0010")
            .to_string()
            .replace("\"size\":1", "\"size\":184467440737095516160"),
    );
    // One signed text, two meanings (issue #15): a key twice at every depth, and numbers
    // beyond 2^53−1 (which JavaScript reads as other numbers) wherever they are. serde_json
    // alone would keep the last key and the exact number; the log refuses them all.
    let deep = nested_json(70).to_string();
    for (k, (from, to)) in [
        (
            "{\"sha256\"",
            format!("{{\"sha256\":\"{}\",\"sha256\"", "cd".repeat(32)),
        ),
        ("\"size\":1", "\"size\":1,\"size\":1".to_owned()),
        ("\"size\":1", "\"size\":9007199254740992".to_owned()),
        ("\"size\":1", "\"size\":-9007199254740992".to_owned()),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{},\"metadata\":{}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"a\":1,\"a\":2}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"a\":{\"b\":1,\"b\":1}}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"a\":[{\"b\":{\"c\":1,\"c\":2}}]}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"ab\":1,\"a\\u0062\":2}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"n\":9007199254740992}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"a\":[[-9007199254740993]]}".to_owned(),
        ),
        (
            "\"size\":1",
            "\"size\":1,\"metadata\":{\"f\":1e16}".to_owned(),
        ),
        ("\"size\":1", format!("\"size\":1,\"metadata\":{deep}")),
    ]
    .into_iter()
    .enumerate()
    {
        let p = good_payload(&format!("hostile-nonce-01{k:02}")).to_string();
        assert!(p.contains(from), "{from}");
        hostile_payloads.push(p.replacen(from, &to, 1));
    }
    for p in &hostile_payloads {
        let env = Envelope::sign(DEPOSIT_TYPE, p.as_bytes(), &depositor_id, &key)
            .to_bytes()
            .unwrap();
        statuses.push((
            "hostile deposit payload",
            raw(&addr, "POST", b"/v1/deposits", &[json_ct], &env),
        ));
    }
    // Signatures and signers.
    let fresh = good_payload("hostile-nonce-0002").to_string();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut envs = vec![
        (
            "foreign key",
            Envelope::sign(DEPOSIT_TYPE, fresh.as_bytes(), &depositor_id, &stranger),
        ),
        (
            "wrong role",
            Envelope::sign(
                DEPOSIT_TYPE,
                fresh.as_bytes(),
                &auditor_id,
                &test_signing_key(2),
            ),
        ),
        (
            "traversal keyid",
            Envelope::sign(DEPOSIT_TYPE, fresh.as_bytes(), "../../../etc/passwd", &key),
        ),
        (
            "huge keyid",
            Envelope::sign(DEPOSIT_TYPE, fresh.as_bytes(), &"k".repeat(50_000), &key),
        ),
        (
            "huge payload type",
            Envelope::sign(&"t".repeat(10_000), fresh.as_bytes(), &depositor_id, &key),
        ),
        (
            "control chars in type",
            Envelope::sign("application/x\u{1}", fresh.as_bytes(), &depositor_id, &key),
        ),
    ];
    let mut e = Envelope::sign(DEPOSIT_TYPE, fresh.as_bytes(), &depositor_id, &key);
    e.signatures[0].sig = BASE64_STANDARD.encode([0u8; 64]);
    envs.push(("zero signature", e.clone()));
    e.signatures[0].sig = BASE64_STANDARD.encode([0u8; 63]);
    envs.push(("short signature", e.clone()));
    e.signatures[0].sig = "=".repeat(88);
    envs.push(("padding signature", e));
    for (what, env) in envs {
        statuses.push((
            what,
            raw(
                &addr,
                "POST",
                b"/v1/deposits",
                &[json_ct],
                &env.to_bytes().unwrap(),
            ),
        ));
    }
    statuses.push((
        "replay",
        raw(&addr, "POST", b"/v1/deposits", &[json_ct], &accepted),
    ));
    statuses.push((
        "oversized",
        raw(
            &addr,
            "POST",
            b"/v1/deposits",
            &[json_ct],
            &vec![b' '; 200_000],
        ),
    ));
    statuses.push((
        "oversized registration",
        raw(
            &addr,
            "POST",
            b"/v1/participants",
            &[json_ct, ("Authorization", auth_admin.as_bytes())],
            &vec![b' '; 200_000],
        ),
    ));
    statuses.push((
        "binary authorization",
        raw(
            &addr,
            "POST",
            b"/v1/participants",
            &[json_ct, ("Authorization", b"Bearer \xff\xfe")],
            b"{}",
        ),
    ));
    statuses.push((
        "huge authorization",
        raw(
            &addr,
            "POST",
            b"/v1/participants",
            &[
                json_ct,
                (
                    "Authorization",
                    format!("Bearer {}", "a".repeat(8_000)).as_bytes(),
                ),
            ],
            b"{}",
        ),
    ));
    statuses.push((
        "bad participant token",
        raw(
            &addr,
            "GET",
            b"/v1/receipts/0",
            &[("Authorization", b"Bearer \x01\x02")],
            b"",
        ),
    ));

    // Paths and queries.
    let targets: Vec<Vec<u8>> = vec![
        b"/tile/../../etc/passwd".to_vec(),
        b"/tile/0/%2e%2e/%2e%2e".to_vec(),
        b"/tile/0/000.p/99999999999999999999".to_vec(),
        b"/tile/entries/x999/x999/x999/x999/x999/x999/x999/999".to_vec(),
        b"/tile/%00".to_vec(),
        b"/tile/0/000%00".to_vec(),
        b"/tile/entries/000.p/-1".to_vec(),
        b"/tile/63/000".to_vec(),
        b"/tile/7/x018/x446/x744/x073/x709/x551/615".to_vec(),
        b"/tile/0/".to_vec(),
        b"/tile//000".to_vec(),
        b"/tile/entries/000.p/1/../../..".to_vec(),
        b"/v1/entries/%00".to_vec(),
        b"/v1/entries/18446744073709551616".to_vec(),
        b"/v1/entries/18446744073709551615".to_vec(),
        b"/v1/entries/-0".to_vec(),
        b"/v1/entries/0x10".to_vec(),
        b"/v1/entries/%ff%fe".to_vec(),
        b"/v1/entries/1e3".to_vec(),
        b"/v1/receipts/..%2f..%2fetc".to_vec(),
        b"/v1/receipts/18446744073709551615?format=tlog-proof".to_vec(),
        b"/v1/receipts/0?format=%ff".to_vec(),
        b"/v1/participants/%ff".to_vec(),
        b"/v1/participants/..%2f..".to_vec(),
        b"/v1/datasets/../../".to_vec(),
        b"/v1/datasets/%00".to_vec(),
        b"/v1/deposits?sha256=%00".to_vec(),
        b"/v1/deposits?sha256=".to_vec(),
        b"/v1/deposits?sha256[]=1".to_vec(),
        b"/v1/proofs/inclusion?index=18446744073709551615&tree_size=18446744073709551615".to_vec(),
        b"/v1/proofs/inclusion?index=-1".to_vec(),
        b"/v1/proofs/inclusion?leaf_hash=%ff%fe%fd".to_vec(),
        b"/v1/proofs/inclusion?leaf_hash=".to_vec(),
        b"/v1/proofs/inclusion?index=0&tree_size=0".to_vec(),
        b"/v1/proofs/inclusion?index=0%00".to_vec(),
        b"/v1/proofs/consistency?from=1&to=18446744073709551615".to_vec(),
        b"/v1/proofs/consistency?from=18446744073709551615&to=1".to_vec(),
        b"/v1/proofs/consistency?from=%ff&to=%fe".to_vec(),
        format!("/v1/proofs/consistency?{}", "from=1&".repeat(2_000)).into_bytes(),
        format!("/{}", "a/".repeat(3_000)).into_bytes(),
        b"/checkpoint?x=1".to_vec(),
        b"//checkpoint".to_vec(),
        b"/v1/log/../../checkpoint".to_vec(),
        b"*".to_vec(),
        b"http://evil.example/checkpoint".to_vec(),
    ];
    for t in &targets {
        statuses.push(("GET", raw(&addr, "GET", t, &[], b"")));
    }
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
        statuses.push(("method", raw(&addr, m, b"/v1/deposits", &[], b"")));
    }

    let bad: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| *s == 0 || *s >= 500)
        .collect();
    assert!(bad.is_empty(), "server errors or no answer: {bad:?}");
    // A valid request that only reads must succeed; everything refused was refused.
    let refused = statuses
        .iter()
        .filter(|(_, s)| (400..500).contains(s))
        .count();
    assert!(refused >= statuses.len() - 2, "{statuses:?}");
    assert_eq!(server.size(), size, "the log changed");
    assert_eq!(server.checkpoint(), checkpoint);
    server.stop();
    common::assert_same_store(&stored, &common::store_contents(&data), "hostile input");
    let server = Server::start(&data);
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Still alive and well.
    let mut last = good_payload("hostile-nonce-0003");
    last["sha256"] = json!("cd".repeat(32));
    let fresh = Envelope::sign(
        DEPOSIT_TYPE,
        last.to_string().as_bytes(),
        &depositor_id,
        &key,
    )
    .to_bytes()
    .unwrap();
    assert_eq!(raw(&addr, "POST", b"/v1/deposits", &[json_ct], &fresh), 201);
    assert_eq!(server.size(), size + 1);
}

fn nested_json(depth: usize) -> serde_json::Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}
