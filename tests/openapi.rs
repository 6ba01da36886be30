//! The OpenAPI document (`src/api/openapi.rs`) held to the code, to the real server and to an
//! independent validator:
//!
//! - the committed `schemas/openapi.json` is the generated document (regenerate it after an
//!   intended change with `DATAPOLE_WRITE_SCHEMAS=1 cargo test --test openapi`);
//! - its paths and methods are exactly the server's route list (`api::endpoints()` and the
//!   pages of `web::ASSETS`);
//! - the real binary serves it at `/openapi.json`, byte for byte, and answers every documented
//!   operation with a handler (neither 405 nor 404 `not_found`) and every other method with 405
//!   and the documented methods in `Allow`;
//! - real answers (a registration, a deposit, a consent, an access, reads and errors) fit the
//!   schemas the document gives for their route and status, checked by the `jsonschema`
//!   crate, and each error's code is one the document lists for that answer;
//! - `openapi-spec-validator` (PyPI) accepts it: `$DATAPOLE_PYTHON -m openapi_spec_validator`
//!   (`python3` by default; skipped when the module is missing).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{post, Answer, Server};
use datapole::api::openapi::{document, openapi_path, text};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::{json, Value};

const METHODS: &[&str] = &["get", "head", "post", "put", "patch", "delete", "options"];

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = text();
    if std::env::var_os("DATAPOLE_WRITE_SCHEMAS").is_some() {
        std::fs::write(committed(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/openapi.json differs from the code; run DATAPOLE_WRITE_SCHEMAS=1 cargo test \
         --test openapi and review the diff"
    );
}

/// The (OpenAPI path, lower-case method) pairs a document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()) || *k == "trace")
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect()
}

#[test]
fn the_document_has_every_route_of_the_server_and_no_other() {
    let mut routes = BTreeSet::new();
    for e in datapole::api::endpoints() {
        for m in e.allow.split(',') {
            routes.insert((openapi_path(e.path), m.trim().to_lowercase()));
        }
    }
    for asset in datapole::web::ASSETS {
        for m in ["get", "head"] {
            routes.insert((asset.path.to_owned(), m.to_owned()));
        }
    }
    let documented = operations(&document());
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes of the server missing from the document (add them in src/api/openapi.rs): \
         {undocumented:?}; operations of the document the server does not route: {unrouted:?}"
    );
    // Every operation id is unique, and every path parameter is declared.
    let doc = document();
    let mut ids = BTreeSet::new();
    for (path, method) in &documented {
        let op = &doc["paths"][path][method];
        let id = op["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        for name in path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap())
        {
            let declared = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["in"] == "path"
                        && p["name"] == name
                        && (p["example"].is_string() || p["example"].is_number())
                })
            });
            assert!(
                declared,
                "{method} {path}: path parameter {name} without an example"
            );
        }
    }
}

/// `path` with each `{name}` replaced by the example of its parameter in `op`.
fn concrete(path: &str, op: &Value) -> String {
    let mut out = path.to_owned();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "path" {
            let example = match &p["example"] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            out = out.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), &example);
        }
    }
    out
}

#[test]
fn the_server_serves_the_document_and_answers_exactly_its_operations() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));

    let served = server.get("/openapi.json");
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type, "application/json");
    assert!(
        served.body == std::fs::read(committed()).unwrap(),
        "the served document differs from schemas/openapi.json"
    );
    let head = server.request("HEAD", "/openapi.json", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let doc: Value = served.json();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documented: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| METHODS.contains(k))
            .collect();
        let any_op = item.as_object().unwrap().values().next().unwrap();
        let url = concrete(path, any_op);
        for method in METHODS {
            let a = server.request(&method.to_uppercase(), &url, &[], b"");
            if documented.contains(method) {
                assert_ne!(a.status, 405, "{method} {url} is documented: {}", a.text());
                if a.status == 404 && *method != "head" {
                    assert_ne!(
                        a.json()["error"]["code"],
                        "not_found",
                        "{method} {url} is documented but not routed"
                    );
                }
                if *method != "head" {
                    assert!(
                        item[method]["responses"]
                            .get(a.status.to_string())
                            .is_some(),
                        "{method} {url} answered {}, which the document does not list: {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    );
                }
            } else {
                assert_eq!(a.status, 405, "{method} {url} is not documented");
                let allowed: BTreeSet<String> = a
                    .allow
                    .split(',')
                    .map(|m| m.trim().to_lowercase())
                    .collect();
                let documented: BTreeSet<String> =
                    documented.iter().map(|m| m.to_string()).collect();
                assert_eq!(allowed, documented, "Allow of {url}");
            }
        }
    }
}

/// The document's own schemas, as one JSON Schema whose `$ref`s resolve inside it.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("not a valid schema: {e}"))
}

/// Asserts that `answer` to `method path` (the document's path) is one the document lists,
/// that its JSON body fits the schema given for it, and for an error that its code is listed.
fn fits(doc: &Value, method: &str, path: &str, answer: &Answer) -> Value {
    let what = format!("{method} {path} answered {}", answer.status);
    let response = &doc["paths"][path][method]["responses"][answer.status.to_string()];
    assert!(
        response.is_object(),
        "{what}, which the document does not list"
    );
    assert!(
        answer.content_type.starts_with("application/json"),
        "{what}: {}",
        answer.content_type
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{what}: no JSON schema in the document");
    let body = answer.json();
    let errors: Vec<String> = validator(doc, schema)
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
    if answer.status >= 400 {
        if let Some(code) = body["error"]["code"].as_str() {
            let about = response["description"].as_str().unwrap();
            assert!(
                about.contains(&format!("`{code}`")),
                "{what} with code {code}, which the document does not list: {about}"
            );
        }
    }
    body
}

#[test]
fn real_answers_fit_the_documents_schemas() {
    let doc = document();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();

    fits(&doc, "get", "/v1/log", &server.get("/v1/log"));
    fits(&doc, "get", "/readyz", &server.get("/readyz"));

    // A registration, refused then accepted, and the participant's record.
    let request = json!({"name": "CHU", "roles": ["controller", "depositor"],
        "public_key": base64::Engine::encode(&base64::prelude::BASE64_STANDARD, common::test_key(1))});
    let body = request.to_string();
    fits(
        &doc,
        "post",
        "/v1/participants",
        &post(&server, "/v1/participants", body.as_bytes(), None),
    );
    let registered = fits(
        &doc,
        "post",
        "/v1/participants",
        &post(&server, "/v1/participants", body.as_bytes(), Some(&admin)),
    );
    let chu = common::Participant {
        id: registered["participant_id"].as_str().unwrap().to_owned(),
        token: registered["api_token"].as_str().unwrap().to_owned(),
        key: common::test_signing_key(1),
    };
    fits(
        &doc,
        "post",
        "/v1/participants",
        &post(&server, "/v1/participants", body.as_bytes(), Some(&admin)),
    );
    fits(
        &doc,
        "get",
        "/v1/participants/{id}",
        &server.get(&format!("/v1/participants/{}", chu.id)),
    );
    let lab = common::register(&server, &admin, 2, &["accessor"]);

    // A deposit, one refused, and the dataset.
    let payload = common::deposit_payload(b"open data", "public");
    let deposited = fits(
        &doc,
        "post",
        "/v1/deposits",
        &post(
            &server,
            "/v1/deposits",
            &chu.sign(DEPOSIT_TYPE, &payload),
            None,
        ),
    );
    let dataset = deposited["dataset_id"].as_str().unwrap().to_owned();
    let mut bad = common::deposit_payload(b"more data", "public");
    bad["sha256"] = json!("not hex");
    fits(
        &doc,
        "post",
        "/v1/deposits",
        &post(&server, "/v1/deposits", &chu.sign(DEPOSIT_TYPE, &bad), None),
    );
    fits(
        &doc,
        "post",
        "/v1/deposits",
        &post(
            &server,
            "/v1/deposits",
            &lab.sign(DEPOSIT_TYPE, &payload),
            None,
        ),
    );
    fits(
        &doc,
        "get",
        "/v1/datasets/{id}",
        &server.get(&format!("/v1/datasets/{dataset}")),
    );

    // A consent, its reading by the citizen, a permitted access, a withdrawal.
    let consent = fits(
        &doc,
        "post",
        "/v1/consents",
        &post(
            &server,
            "/v1/consents",
            &chu.sign(CONSENT_TYPE, &common::consent_payload(&dataset, &lab.id)),
            None,
        ),
    );
    let id = consent["consent_id"].as_str().unwrap();
    let secret = consent["citizen_secret"].as_str().unwrap();
    fits(
        &doc,
        "get",
        "/v1/consents/{id}",
        &common::get(&server, &format!("/v1/consents/{id}"), secret),
    );
    fits(
        &doc,
        "get",
        "/v1/consents/{id}",
        &common::get(&server, &format!("/v1/consents/{id}"), "wrong"),
    );
    let access = json!({"dataset_id": dataset, "action": "query",
        "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
        "consent_ids": [id], "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": common::nonce()});
    let decided = fits(
        &doc,
        "post",
        "/v1/accesses",
        &post(
            &server,
            "/v1/accesses",
            &lab.sign(ACCESS_TYPE, &access),
            None,
        ),
    );
    assert_eq!(decided["decision"], "permit");
    let withdraw = format!("/v1/consents/{id}/withdraw");
    for _ in 0..2 {
        fits(
            &doc,
            "post",
            "/v1/consents/{id}/withdraw",
            &post(&server, &withdraw, b"", Some(secret)),
        );
    }

    // A receipt and a few read errors.
    let index = decided["index"].as_u64().unwrap();
    fits(
        &doc,
        "get",
        "/v1/receipts/{index}",
        &server.get(&format!("/v1/receipts/{index}")),
    );
    fits(
        &doc,
        "get",
        "/v1/entries/{index}",
        &server.get("/v1/entries/x"),
    );
    fits(
        &doc,
        "get",
        "/v1/proofs/consistency",
        &server.get("/v1/proofs/consistency?from=2&to=1"),
    );
}

#[test]
fn an_independent_validator_accepts_the_document() {
    let python = std::env::var("DATAPOLE_PYTHON").unwrap_or_else(|_| "python3".into());
    let present = Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        common::skip(
            "openapi_spec_validator",
            &format!("{python} has no openapi_spec_validator module (pip install openapi-spec-validator)"),
        );
        return;
    }
    // The generated document, so that this checks the code even before it is committed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, text()).unwrap();
    let out = Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
