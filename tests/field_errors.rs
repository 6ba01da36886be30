//! A request with several broken fields hears of every one at once: the error body's `errors`
//! lists each field's JSON path and what is wrong with it, whether the request does not fit
//! its shape (missing, unknown, mistyped fields: found by the type's JSON Schema) or breaks
//! the rules of its fields (lengths, pseudonyms, durations, nonces). Nothing is written.

mod common;

use common::{consent_payload, post, register, Server};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::json;

fn fields(errors: &[(String, String)]) -> Vec<&str> {
    errors.iter().map(|(f, _)| f.as_str()).collect()
}

fn assert_fields(errors: &[(String, String)], expected: &[&str], what: &str) {
    let got = fields(errors);
    for e in expected {
        assert!(got.contains(e), "{what}: {e} missing from {errors:?}");
    }
    assert_eq!(got.len(), expected.len(), "{what}: {errors:?}");
}

#[test]
fn every_broken_field_of_a_request_is_listed_at_once_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let chu = register(&server, &admin, 1, &["controller", "depositor"]);
    let lab = register(&server, &admin, 2, &["accessor"]);
    let size = server.size();

    // A registration wrong in three fields: every rule broken is named.
    let body = json!({"name": "  ", "roles": [], "public_key": "not base64!"});
    let a = post(
        &server,
        "/v1/participants",
        body.to_string().as_bytes(),
        Some(&admin),
    );
    a.assert_error(422, "invalid_field", "registration rules");
    assert_fields(
        &a.field_errors(),
        &["name", "roles", "public_key"],
        "registration rules",
    );
    let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("3 problems: "), "{message}");

    // A registration of the wrong shape: a missing field, an unknown one, a mistyped one.
    let body = json!({"roles": "depositor", "public_key": "x", "colour": "blue"});
    let a = post(
        &server,
        "/v1/participants",
        body.to_string().as_bytes(),
        Some(&admin),
    );
    a.assert_error(422, "invalid_field", "registration shape");
    assert_fields(
        &a.field_errors(),
        &["name", "roles", "colour"],
        "registration shape",
    );
    // The values sent are not repeated back.
    assert!(!a.text().contains("blue"), "{}", a.text());

    // A consent statement of the wrong shape: each problem under `payload.`.
    let mut p = consent_payload(&uuid::Uuid::nil().to_string(), &lab.id);
    let o = p.as_object_mut().unwrap();
    o.remove("legal_basis");
    o.insert("special_category".into(), json!("yes"));
    o.insert("purposes".into(), json!([{"code": "c", "text": 3}]));
    o.insert("favourite_colour".into(), json!("blue"));
    let a = post(&server, "/v1/consents", &chu.sign(CONSENT_TYPE, &p), None);
    a.assert_error(422, "invalid_field", "consent shape");
    assert_fields(
        &a.field_errors(),
        &[
            "payload.legal_basis",
            "payload.special_category",
            "payload.purposes[0].text",
            "payload.favourite_colour",
        ],
        "consent shape",
    );

    // A consent statement that fits but breaks five rules, the pseudonym one included.
    let mut p = consent_payload(&uuid::Uuid::nil().to_string(), &lab.id);
    p["subject_ref"] = json!("jean.dupont@example.fr");
    p["notice"]["language"] = json!("french");
    p["purposes"][0]["code"] = json!("a b");
    p["nonce"] = json!("short");
    p["validity"] = json!({});
    let a = post(&server, "/v1/consents", &chu.sign(CONSENT_TYPE, &p), None);
    a.assert_error(422, "invalid_field", "consent rules");
    assert_fields(
        &a.field_errors(),
        &[
            "payload.subject_ref",
            "payload.notice.language",
            "payload.purposes[0].code",
            "payload.nonce",
            "payload.validity",
        ],
        "consent rules",
    );
    assert!(!a.text().contains("jean.dupont"), "{}", a.text());

    // The pseudonym rule alone keeps its own code, and names its field.
    let mut p = consent_payload(&uuid::Uuid::nil().to_string(), &lab.id);
    p["subject_ref"] = json!("Jean Dupont");
    let a = post(&server, "/v1/consents", &chu.sign(CONSENT_TYPE, &p), None);
    a.assert_error(422, "identifier_not_pseudonymous", "pseudonym alone");
    assert_fields(
        &a.field_errors(),
        &["payload.subject_ref"],
        "pseudonym alone",
    );

    // Every unknown recipient and dataset of a consent at once.
    let mut p = consent_payload(&uuid::Uuid::nil().to_string(), &lab.id);
    p["recipients"] = json!([lab.id, chu.id, uuid::Uuid::nil()]);
    p["datasets"] = json!([uuid::Uuid::nil(), uuid::Uuid::max()]);
    let a = post(&server, "/v1/consents", &chu.sign(CONSENT_TYPE, &p), None);
    a.assert_error(422, "unknown_recipient", "unknown recipients and datasets");
    assert_fields(
        &a.field_errors(),
        &[
            "payload.recipients[1]",
            "payload.recipients[2]",
            "payload.datasets[0]",
            "payload.datasets[1]",
        ],
        "unknown recipients and datasets",
    );

    // A deposit and an access wrong in several rules.
    let mut d = common::deposit_payload(b"a,b\n1,2\n", "public");
    d["sha256"] = json!("00");
    d["media_type"] = json!("csv");
    d["title"] = json!("");
    d["retention"] = json!("ten years");
    let a = post(&server, "/v1/deposits", &chu.sign(DEPOSIT_TYPE, &d), None);
    a.assert_error(422, "invalid_field", "deposit rules");
    assert_fields(
        &a.field_errors(),
        &[
            "payload.sha256",
            "payload.media_type",
            "payload.title",
            "payload.retention",
        ],
        "deposit rules",
    );
    let access = json!({
        "purpose": {"code": "no spaces allowed"},
        "legal_basis": "consent",
        "consent_ids": [],
        "dataset_id": uuid::Uuid::nil(),
        "action": "read",
        "issued_at": "yesterday",
        "nonce": common::nonce(),
    });
    let a = post(
        &server,
        "/v1/accesses",
        &lab.sign(ACCESS_TYPE, &access),
        None,
    );
    a.assert_error(422, "invalid_field", "access rules");
    let got = a.field_errors();
    for f in [
        "payload.purpose.code",
        "payload.consent_ids",
        "payload.issued_at",
    ] {
        assert!(fields(&got).contains(&f), "{f}: {got:?}");
    }

    // Errors that are not about a field list none.
    let a = server.get("/v1/entries/999999");
    a.assert_error(404, "entry_not_found", "no field at fault");
    assert!(a.field_errors().is_empty());

    assert_eq!(server.size(), size, "a refused request wrote nothing");
}
