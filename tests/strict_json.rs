//! One meaning per signed statement (issue #15, finding 1), against the real binary: a
//! statement whose JSON repeats a key (at any depth, free-form `metadata` included) or holds
//! a number beyond 2^53−1 is refused at submission with 422 `invalid_field` naming its path,
//! and writes nothing: not an entry, not its nonce. Before the fix such statements were
//! logged under the last of the two values, and every later reader (the consent's pages, the
//! access listings, `datapole verify`, `datapole audit`, verify.js) then failed on them.

mod common;

use common::consent_payload;

use common::post;

use common::get;

use common::{nonce, register, sha_hex, Answer, Participant, Server};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use serde_json::{json, Value};

/// An envelope over exactly these payload bytes.
fn sign_raw(who: &Participant, payload_type: &str, payload: &str) -> Vec<u8> {
    Envelope::sign(payload_type, payload.as_bytes(), &who.id, &who.key)
        .to_bytes()
        .unwrap()
}

/// `payload` as compact JSON with `key: value` written once more before its first key.
fn with_repeated(payload: &Value, key: &str, value: Value) -> String {
    let text = payload.to_string();
    text.replacen('{', &format!("{{{}:{value},", json!(key)), 1)
}

/// Asserts 422 `invalid_field` whose message names `path` and says `what`.
fn assert_refused(a: &Answer, path: &str, what: &str, case: &str) {
    a.assert_error(422, "invalid_field", case);
    let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with(&format!("{path}: ")) && message.contains(what),
        "{case}: {message:?} should name {path:?} and say {what:?}"
    );
}

fn access_payload(dataset: &str, consent: &str) -> Value {
    json!({
        "dataset_id": dataset,
        "action": "query",
        "purpose": {"code": "cohort-2027"},
        "legal_basis": "consent",
        "consent_ids": [consent],
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    })
}

#[test]
fn statements_with_two_meanings_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let chu = register(&server, &admin, 1, &["controller", "depositor"]);
    let lab = register(&server, &admin, 2, &["accessor"]);
    let a = post(
        &server,
        "/v1/deposits",
        &chu.sign(DEPOSIT_TYPE, &common::deposit_payload(b"cohort", "private")),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let dataset = a.json()["dataset_id"].as_str().unwrap().to_owned();
    let consent = post(
        &server,
        "/v1/consents",
        &chu.sign(CONSENT_TYPE, &consent_payload(&dataset, &lab.id)),
        None,
    );
    assert_eq!(consent.status, 201, "{}", consent.text());
    let consent = consent.json();
    let id = consent["consent_id"].as_str().unwrap().to_owned();
    let secret = consent["citizen_secret"].as_str().unwrap().to_owned();
    // The whole store, raw, around the refusals below: nothing at all may be written.
    let data = server.data_dir.clone();
    server.stop();
    let stored = common::store_contents(&data);
    server = Server::start(&data);
    let size = server.size();
    let checkpoint = server.checkpoint();

    // A consent naming its legal basis twice: refused, and its nonce left unused.
    let good = consent_payload(&dataset, &lab.id);
    let twice = with_repeated(&good, "legal_basis", json!("gdpr-6-1-a"));
    let a = post(
        &server,
        "/v1/consents",
        &sign_raw(&chu, CONSENT_TYPE, &twice),
        None,
    );
    assert_refused(
        &a,
        "payload",
        "duplicate key \"legal_basis\"",
        "legal_basis twice",
    );
    // Twice at depth 2 and inside an array of objects.
    let mut nested = good.clone();
    nested["nonce"] = json!(nonce());
    let text = nested
        .to_string()
        .replacen("{\"url\":", "{\"version\":\"2\",\"url\":", 1);
    let a = post(
        &server,
        "/v1/consents",
        &sign_raw(&chu, CONSENT_TYPE, &text),
        None,
    );
    assert_refused(&a, "payload.notice", "duplicate key \"version\"", "notice");
    let text = nested
        .to_string()
        .replacen("{\"code\":", "{\"text\":\"x\",\"code\":", 1);
    let a = post(
        &server,
        "/v1/consents",
        &sign_raw(&chu, CONSENT_TYPE, &text),
        None,
    );
    assert_refused(
        &a,
        "payload.purposes[0]",
        "duplicate key \"text\"",
        "purpose",
    );

    // A struct written as the array of its fields: serde's derived readers take it, no other
    // reader does.
    let text = nested.to_string().replacen(
        &nested["notice"].to_string(),
        &json!([
            "https://chu.example/notice",
            sha_hex(b"notice"),
            "3",
            "fr-FR"
        ])
        .to_string(),
        1,
    );
    let a = post(
        &server,
        "/v1/consents",
        &sign_raw(&chu, CONSENT_TYPE, &text),
        None,
    );
    assert_refused(
        &a,
        "payload.notice",
        "invalid type: sequence",
        "notice as an array",
    );

    // An access statement with a key twice, at the top and nested.
    let access = access_payload(&dataset, &id);
    let a = post(
        &server,
        "/v1/accesses",
        &sign_raw(
            &lab,
            ACCESS_TYPE,
            &with_repeated(&access, "action", json!("export")),
        ),
        None,
    );
    assert_refused(&a, "payload", "duplicate key \"action\"", "access action");
    let mut access2 = access.clone();
    access2["nonce"] = json!(nonce());
    let text = access2.to_string().replace(
        "{\"code\":\"cohort-2027\"}",
        "{\"code\":\"x\",\"code\":\"cohort-2027\"}",
    );
    let a = post(
        &server,
        "/v1/accesses",
        &sign_raw(&lab, ACCESS_TYPE, &text),
        None,
    );
    assert_refused(
        &a,
        "payload.purpose",
        "duplicate key \"code\"",
        "access purpose",
    );

    // Deposits: sha256 twice; a key twice inside metadata, at depth 2 and 3 and in an array.
    let deposit = common::deposit_payload(b"public data", "public");
    let a = post(
        &server,
        "/v1/deposits",
        &sign_raw(
            &chu,
            DEPOSIT_TYPE,
            &with_repeated(&deposit, "sha256", json!(sha_hex(b"other data"))),
        ),
        None,
    );
    assert_refused(&a, "payload", "duplicate key \"sha256\"", "sha256 twice");
    for (metadata, path, key) in [
        (
            r#"{"source":"a","source":"b"}"#,
            "payload.metadata",
            "source",
        ),
        (
            r#"{"a":{"b":{"x":1,"y":2,"x":1}}}"#,
            "payload.metadata.a.b",
            "x",
        ),
        (
            r#"{"rows":[{"k":1},{"k":2,"k":3}]}"#,
            "payload.metadata.rows[1]",
            "k",
        ),
    ] {
        let mut p = deposit.clone();
        p["nonce"] = json!(nonce());
        p["metadata"] = json!({"placeholder": 0});
        let text = p.to_string().replace(r#"{"placeholder":0}"#, metadata);
        let a = post(
            &server,
            "/v1/deposits",
            &sign_raw(&chu, DEPOSIT_TYPE, &text),
            None,
        );
        assert_refused(&a, path, &format!("duplicate key {key:?}"), metadata);
    }
    // Numbers beyond 2^53−1: the size, and one inside metadata.
    for (text, path) in [
        (
            deposit.to_string().replacen(
                &format!("\"size\":{}", b"public data".len()),
                "\"size\":9007199254740992",
                1,
            ),
            "payload.size",
        ),
        (
            {
                let mut p = deposit.clone();
                p["metadata"] = json!({"rows": [1, 2]});
                p.to_string().replace("[1,2]", "[1,-9007199254740993]")
            },
            "payload.metadata.rows[1]",
        ),
    ] {
        assert!(text.contains("900719925474099"), "{text}");
        let a = post(
            &server,
            "/v1/deposits",
            &sign_raw(&chu, DEPOSIT_TYPE, &text),
            None,
        );
        assert_refused(&a, path, "2^53", path);
    }

    // The envelope itself: a key twice is a malformed envelope.
    let env = String::from_utf8(chu.sign(DEPOSIT_TYPE, &deposit)).unwrap();
    let other = String::from_utf8(chu.sign(DEPOSIT_TYPE, &common::deposit_payload(b"x", "public")))
        .unwrap();
    let other_payload = serde_json::from_str::<Value>(&other).unwrap()["payload"].clone();
    for (what, text) in [
        (
            "payload twice",
            env.replacen('{', &format!("{{\"payload\":{other_payload},"), 1),
        ),
        (
            "keyid twice",
            env.replacen(
                "{\"keyid\":",
                &format!("{{\"keyid\":{},\"keyid\":", json!(lab.id)),
                1,
            ),
        ),
    ] {
        post(&server, "/v1/deposits", text.as_bytes(), None).assert_error(
            400,
            "malformed_envelope",
            what,
        );
    }

    // A registration naming a field twice (a plain JSON body, not a statement).
    let body = format!(
        r#"{{"name":"Org A","roles":["auditor"],"name":"Org B","public_key":"{}"}}"#,
        base64::Engine::encode(&base64::prelude::BASE64_STANDARD, common::test_key(9))
    );
    let a = post(&server, "/v1/participants", body.as_bytes(), Some(&admin));
    a.assert_error(422, "invalid_field", "registration with name twice");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"name\""),
        "{}",
        a.text()
    );

    assert_eq!(server.size(), size, "a refused statement reached the log");
    assert_eq!(server.checkpoint(), checkpoint);
    server.stop();
    common::assert_same_store(
        &stored,
        &common::store_contents(&data),
        "refused statements",
    );
    server = Server::start(&data);

    // The corrected consent, with the nonce of the refused one, is accepted.
    let a = post(
        &server,
        "/v1/consents",
        &chu.sign(CONSENT_TYPE, &good),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let second = a.json();
    // The largest size every verifier reads exactly is accepted, and its receipt verifies.
    let mut p = common::deposit_payload(b"big", "public");
    p["size"] = json!(9_007_199_254_740_991u64);
    let a = post(&server, "/v1/deposits", &chu.sign(DEPOSIT_TYPE, &p), None);
    assert_eq!(a.status, 201, "{}", a.text());
    let (report, _) =
        datapole::verify::receipt::verify_document(&a.json(), Some(&server.vkey())).unwrap();
    assert!(report.ok(), "{report:#?}");
    // The access that cites the consent, valid this time.
    let a = post(
        &server,
        "/v1/accesses",
        &lab.sign(ACCESS_TYPE, &access),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(server.size(), size + 3);

    // Every reader of the consents still reads them.
    for (consent_id, secret) in [
        (id.as_str(), secret.as_str()),
        (
            second["consent_id"].as_str().unwrap(),
            second["citizen_secret"].as_str().unwrap(),
        ),
    ] {
        let a = get(&server, &format!("/v1/consents/{consent_id}"), secret);
        assert_eq!(a.status, 200, "{}", a.text());
        let a = get(
            &server,
            &format!("/v1/consents/{consent_id}/accesses"),
            secret,
        );
        assert_eq!(a.status, 200, "{}", a.text());
        let a = get(
            &server,
            &format!("/v1/consents?controller={}", chu.id),
            &chu.token,
        );
        assert_eq!(a.status, 200, "{}", a.text());
        let a = post(
            &server,
            &format!("/v1/consents/{consent_id}/withdraw"),
            b"",
            Some(secret),
        );
        assert_eq!(a.status, 201, "{}", a.text());
    }
}
