//! The committed JSON Schemas (`schemas/`) checked against real answers of the real binary,
//! with a validator that is not ours (the `jsonschema` crate): every JSON endpoint, its
//! success and its errors, and the entries and statements inside them. The schemas are made
//! stricter here: an object may hold only the properties its schema declares, so a field the
//! code adds without its schema fails too.

mod common;

use common::post;

use common::get;

use std::collections::BTreeMap;
use std::path::Path;

use base64::prelude::*;
use common::{nonce, register, sha_hex, Answer, Server};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::{CONSENT_TYPE, ERASURE_TYPE, WITHDRAWAL_TYPE};
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::{json, Value};

/// Every committed schema, each made closed (no undeclared property), compiled.
struct Schemas(BTreeMap<String, jsonschema::Validator>);

/// Sets `additionalProperties: false` on every object schema that lists its properties and
/// says nothing of others.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in map.values_mut() {
                close(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

impl Schemas {
    fn load() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(name) = name.strip_suffix(".schema.json") else {
                continue;
            };
            let mut schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            close(&mut schema);
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"));
            out.insert(name.to_owned(), validator);
        }
        Self(out)
    }

    /// Asserts that `value` fits schema `name`.
    fn check(&self, name: &str, value: &Value, what: &str) {
        let validator = self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no schema {name}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not fit {name}.schema.json: {errors:#?}\n{value:#}"
        );
    }

    /// Asserts that the answer has `status` and a JSON body fitting `name`.
    fn answer(&self, a: &Answer, status: u16, name: &str, what: &str) -> Value {
        assert_eq!(a.status, status, "{what}: {}", a.text());
        assert!(
            a.content_type.starts_with("application/json"),
            "{what}: {}",
            a.content_type
        );
        let v = a.json();
        self.check(name, &v, what);
        v
    }

    /// An error answer: its status, code and the error schema.
    fn error(&self, a: &Answer, status: u16, code: &str, what: &str) {
        let v = self.answer(a, status, "error", what);
        assert_eq!(v["error"]["code"], code, "{what}");
    }

    /// A receipt, and what it carries: the entry, and the statement or document it opens.
    fn receipt(&self, r: &Value, what: &str) {
        self.check("receipt.v1", r, what);
        let leaf: Value =
            serde_json::from_slice(&BASE64_STANDARD.decode(r["leaf"].as_str().unwrap()).unwrap())
                .unwrap();
        self.leaf(&leaf, what);
        if let Some(statement) = r.get("statement") {
            self.check("dsse-envelope", statement, what);
        }
    }

    /// An entry, by its type.
    fn leaf(&self, leaf: &Value, what: &str) {
        let schema = match leaf["type"].as_str() {
            Some("participant") => "participant-leaf",
            Some("participant_roles" | "participant_token") => "participant-change-leaf",
            Some("deposit") => "deposit-leaf",
            Some("consent" | "withdrawal" | "erasure" | "access") => "record-leaf",
            other => panic!("{what}: an entry of type {other:?}"),
        };
        self.check(schema, leaf, what);
        if let Some(statement) = leaf.get("statement") {
            self.check("dsse-envelope", statement, what);
            let payload = BASE64_STANDARD
                .decode(statement["payload"].as_str().unwrap())
                .unwrap();
            self.check(
                "deposit-payload",
                &serde_json::from_slice(&payload).unwrap(),
                what,
            );
        }
    }
}

#[test]
fn every_json_answer_fits_its_committed_schema() {
    let schemas = Schemas::load();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();

    // The log, health and readiness.
    schemas.answer(&server.get("/v1/log"), 200, "log-info", "/v1/log");
    schemas.answer(&server.get("/healthz"), 200, "health", "/healthz");
    schemas.answer(&server.get("/readyz"), 200, "ready", "/readyz");

    // Registration, by the request schema and the answers.
    let request = json!({"name": "CHU", "roles": ["controller", "depositor"],
        "public_key": BASE64_STANDARD.encode(common::test_key(1))});
    schemas.check("registration-request", &request, "a registration");
    let a = post(
        &server,
        "/v1/participants",
        request.to_string().as_bytes(),
        Some(&admin),
    );
    let chu_id = schemas.answer(&a, 201, "registered", "registration")["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let chu_token = a.json()["api_token"].as_str().unwrap().to_owned();
    let chu = common::Participant {
        id: chu_id.clone(),
        token: chu_token,
        key: common::test_signing_key(1),
    };
    schemas.answer(
        &server.get(&format!("/v1/participants/{chu_id}")),
        200,
        "participant",
        "a participant",
    );
    let lab = register(&server, &admin, 2, &["accessor"]);
    let auditor = register(&server, &admin, 3, &["auditor"]);

    // A participant's changes: roles, a token reissued, the record after them.
    let changing = register(&server, &admin, 9, &["depositor"]);
    let change = json!({"add": ["auditor"], "remove": ["depositor"]});
    schemas.check("roles-request", &change, "a change of roles");
    let path = format!("/v1/participants/{}/roles", changing.id);
    let a = post(&server, &path, change.to_string().as_bytes(), Some(&admin));
    let v = schemas.answer(&a, 201, "roles-changed", "a change of roles");
    schemas.receipt(&v["receipt"], "a change of roles");
    let path = format!("/v1/participants/{}/token", changing.id);
    let v = schemas.answer(
        &post(&server, &path, b"", Some(&admin)),
        201,
        "token-reissued",
        "a token reissue",
    );
    schemas.receipt(&v["receipt"], "a token reissue");
    schemas.answer(
        &server.get(&format!("/v1/participants/{}", changing.id)),
        200,
        "participant",
        "a changed participant",
    );

    // Deposits, public and private, a duplicate, a new version; searches and datasets.
    let mut first = None;
    for (content, visibility) in [(&b"open data"[..], "public"), (b"cohort", "private")] {
        let p = common::deposit_payload(content, visibility);
        schemas.check("deposit-payload", &p, "a deposit payload");
        let a = post(&server, "/v1/deposits", &chu.sign(DEPOSIT_TYPE, &p), None);
        let v = schemas.answer(&a, 201, "deposit-accepted", visibility);
        schemas.receipt(&v["receipt"], visibility);
        first.get_or_insert(v["dataset_id"].as_str().unwrap().to_owned());
    }
    let dataset = first.unwrap();
    let again = common::deposit_payload(b"open data", "public");
    let v = schemas.answer(
        &post(
            &server,
            "/v1/deposits",
            &chu.sign(DEPOSIT_TYPE, &again),
            None,
        ),
        200,
        "deposit-accepted",
        "a duplicate",
    );
    assert_eq!(v["duplicate"], true);
    let mut next = common::deposit_payload(b"open data v2", "public");
    next["dataset_id"] = json!(dataset);
    next["metadata"] = json!({"ward": "oncology-7", "rows": 12});
    schemas.answer(
        &post(
            &server,
            "/v1/deposits",
            &chu.sign(DEPOSIT_TYPE, &next),
            None,
        ),
        201,
        "deposit-accepted",
        "a new version",
    );
    schemas.answer(
        &server.get(&format!("/v1/deposits?sha256={}", sha_hex(b"open data"))),
        200,
        "deposit-list",
        "a search",
    );
    schemas.answer(
        &server.get(&format!("/v1/datasets/{dataset}?limit=1")),
        200,
        "dataset",
        "a dataset",
    );

    // A consent, its reads, an access permitted and one denied, a withdrawal and an erasure.
    let consent = common::consent_payload(&dataset, &lab.id);
    schemas.check("consent-payload", &consent, "a consent payload");
    let c = schemas.answer(
        &post(
            &server,
            "/v1/consents",
            &chu.sign(CONSENT_TYPE, &consent),
            None,
        ),
        201,
        "citizen-receipt",
        "a consent",
    );
    schemas.receipt(&c["receipt"], "a consent's receipt");
    let id = c["consent_id"].as_str().unwrap().to_owned();
    let secret = c["citizen_secret"].as_str().unwrap().to_owned();
    let access = |consents: &[&str]| {
        let p = json!({"dataset_id": dataset, "action": "query",
            "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
            "consent_ids": consents, "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce()});
        schemas.check("access-payload", &p, "an access payload");
        post(&server, "/v1/accesses", &lab.sign(ACCESS_TYPE, &p), None)
    };
    let v = schemas.answer(&access(&[&id]), 201, "access-decided", "a permit");
    schemas.receipt(&v["receipt"], "a permit's receipt");
    let unknown = uuid::Uuid::new_v4().to_string();
    schemas.answer(&access(&[&unknown]), 403, "access-decided", "a deny");
    for token in [secret.as_str(), &chu.token, &auditor.token] {
        let v = schemas.answer(
            &get(&server, &format!("/v1/consents/{id}"), token),
            200,
            "consent",
            "a consent read",
        );
        assert!(v.get("record").is_some());
        schemas.answer(
            &get(&server, &format!("/v1/consents/{id}/accesses"), token),
            200,
            "access-list",
            "the accesses",
        );
    }
    schemas.answer(
        &get(
            &server,
            &format!("/v1/consents?controller={chu_id}"),
            &chu.token,
        ),
        200,
        "consent-list",
        "a controller's consents",
    );
    let v = schemas.answer(
        &post(
            &server,
            &format!("/v1/consents/{id}/withdraw"),
            b"",
            Some(&secret),
        ),
        201,
        "consent-event-recorded",
        "a citizen's withdrawal",
    );
    schemas.receipt(&v["receipt"], "a withdrawal's receipt");
    schemas.check(
        "consent-event-document",
        &serde_json::from_slice(
            &BASE64_STANDARD
                .decode(v["receipt"]["opening"]["document"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap(),
        "the withdrawal's document",
    );
    // The controller's own statements, and the erased consent's reads.
    let mut again = consent.clone();
    again["nonce"] = json!(nonce());
    let c = schemas.answer(
        &post(
            &server,
            "/v1/consents",
            &chu.sign(CONSENT_TYPE, &again),
            None,
        ),
        201,
        "citizen-receipt",
        "a second consent",
    );
    let second = c["consent_id"].as_str().unwrap().to_owned();
    let action = json!({"consent_id": second, "reason": "the person asked by letter",
        "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": nonce()});
    schemas.check(
        "consent-action-payload",
        &action,
        "a controller's statement",
    );
    schemas.answer(
        &post(
            &server,
            &format!("/v1/consents/{second}/withdraw"),
            &chu.sign(WITHDRAWAL_TYPE, &action),
            None,
        ),
        201,
        "consent-event-recorded",
        "a controller's withdrawal",
    );
    let mut erase = action.clone();
    erase["nonce"] = json!(nonce());
    schemas.answer(
        &post(
            &server,
            &format!("/v1/consents/{second}/erase"),
            &chu.sign(ERASURE_TYPE, &erase),
            None,
        ),
        201,
        "consent-event-recorded",
        "a controller's erasure",
    );
    let v = schemas.answer(
        &get(&server, &format!("/v1/consents/{second}"), &chu.token),
        200,
        "consent",
        "an erased consent",
    );
    assert_eq!(v["status"], "erased");

    // Entries, proofs and receipts of every entry, opened for the auditor.
    let size = server.size();
    for index in 0..size {
        let v = schemas.answer(
            &server.get(&format!("/v1/entries/{index}")),
            200,
            "entry",
            "an entry",
        );
        schemas.leaf(&v["entry"], &format!("entry {index}"));
        schemas.answer(
            &server.get(&format!("/v1/proofs/inclusion?index={index}")),
            200,
            "inclusion-proof",
            "an inclusion proof",
        );
        let r = schemas.answer(
            &get(&server, &format!("/v1/receipts/{index}"), &auditor.token),
            200,
            "receipt.v1",
            "a receipt",
        );
        schemas.receipt(&r, &format!("receipt {index}"));
        if let Some(document) = r["opening"].get("document") {
            let doc: Value = serde_json::from_slice(
                &BASE64_STANDARD.decode(document.as_str().unwrap()).unwrap(),
            )
            .unwrap();
            let schema = if doc.get("accessor").is_some() {
                "access-record"
            } else {
                "consent-event-document"
            };
            schemas.check(schema, &doc, &format!("the document of entry {index}"));
        }
    }
    schemas.answer(
        &server.get(&format!("/v1/proofs/consistency?from=1&to={size}")),
        200,
        "consistency-proof",
        "a consistency proof",
    );

    // Errors, from each layer: routing, query, path, body, statement, authorization, state.
    schemas.error(
        &server.get("/nowhere"),
        404,
        "not_found",
        "an unknown route",
    );
    schemas.error(
        &server.request("DELETE", "/v1/log", &[], b""),
        405,
        "method_not_allowed",
        "a wrong method",
    );
    schemas.error(
        &server.get("/v1/entries/x"),
        400,
        "invalid_index",
        "a bad index",
    );
    schemas.error(
        &server.get("/v1/deposits?sha256=zz"),
        400,
        "invalid_query",
        "a bad query",
    );
    schemas.error(
        &server.get("/v1/datasets/not-a-uuid"),
        400,
        "invalid_dataset_id",
        "a bad path",
    );
    schemas.error(
        &post(&server, "/v1/deposits", b"{", None),
        400,
        "malformed_envelope",
        "a broken envelope",
    );
    schemas.error(
        &post(&server, "/v1/participants", b"[]", Some(&admin)),
        422,
        "invalid_field",
        "a registration that is not an object",
    );
    schemas.error(
        &get(&server, &format!("/v1/consents/{id}"), "wrong"),
        401,
        "unauthorized",
        "a wrong secret",
    );
    schemas.error(
        &post(
            &server,
            &format!("/v1/consents/{id}/withdraw"),
            b"",
            Some(&secret),
        ),
        409,
        "already_withdrawn",
        "a second withdrawal",
    );
    schemas.error(
        &server.get("/v1/entries/999999"),
        404,
        "entry_not_found",
        "an entry beyond the log",
    );

    // A witness of this log: its description.
    let (key, _) = common::witness_key(dir.path(), "witness.test/w");
    let witness = Server::start_witness(
        &dir.path().join("witness"),
        &key,
        &[&server.vkey()],
        "127.0.0.1:0",
    );
    schemas.answer(&witness.get("/"), 200, "witness-info", "a witness");
}
