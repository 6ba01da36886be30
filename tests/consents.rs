//! Consents and access decisions end to end against the real binary, with real signatures:
//! a controller records a consent, the citizen holding only the receipt verifies it offline,
//! reads its status and accesses, and withdraws it; the same access, permitted before, is then
//! denied; every decision is on the log. Also: erasure, the controller's own withdrawal,
//! expiry, refusals, emergencies, other legal bases; wrong secrets and unknown ids answered
//! alike; no personal field on any public endpoint; and every rejection with its code and an
//! unchanged log.

mod common;

use common::post;

use common::get;

use std::collections::BTreeSet;

use base64::prelude::*;
use common::{nonce, register, sha_hex, Answer, Participant, Server};
use datapole::receipt::Receipt;
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::{CONSENT_TYPE, ERASURE_TYPE, WITHDRAWAL_TYPE};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::verify::receipt::{check_citizen_record, verify_receipt};
use serde_json::{json, Value};

/// A change to a payload.
type Change = Box<dyn Fn(&mut Value)>;

struct World {
    server: Server,
    vkey: String,
    /// A hospital: controller and depositor of its own datasets.
    chu: Participant,
    /// Another controller.
    other_controller: Participant,
    /// A research lab, the consents' recipient.
    lab: Participant,
    /// An accessor no consent names.
    stranger: Participant,
    auditor: Participant,
    dataset: String,
}

fn world(dir: &std::path::Path) -> World {
    let server = Server::start(&dir.join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let chu = register(&server, &admin, 1, &["controller", "depositor"]);
    let other_controller = register(&server, &admin, 2, &["controller"]);
    let lab = register(&server, &admin, 3, &["accessor"]);
    let stranger = register(&server, &admin, 4, &["accessor"]);
    let auditor = register(&server, &admin, 5, &["auditor"]);
    let deposit = common::deposit_payload(b"patient cohort extract", "private");
    let a = post(
        &server,
        "/v1/deposits",
        &chu.sign(DEPOSIT_TYPE, &deposit),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let dataset = a.json()["dataset_id"].as_str().unwrap().to_owned();
    World {
        server,
        vkey,
        chu,
        other_controller,
        lab,
        stranger,
        auditor,
        dataset,
    }
}

const SUBJECT: &str = "hmac-sha256:9c1185a5c5e9fc54612808977ee8f548";
const NOTICE: &str = "https://chu.example/notices/cohort-2027-v3";
const PURPOSE_TEXT: &str = "Étude de cohorte sur le diabète de type 2";

fn consent_payload(w: &World) -> Value {
    json!({
        "subject_ref": SUBJECT,
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {"url": NOTICE, "sha256": sha_hex(b"notice v3"), "version": "3", "language": "fr-FR"},
        "purposes": [{"code": "cohort-2027", "text": PURPOSE_TEXT}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health", "biometric-measurements"],
        "special_category": true,
        "datasets": [w.dataset],
        "recipients": [w.lab.id],
        "jurisdiction": "FR",
        "storage_location": "FR, hébergeur de données de santé certifié",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/consents/withdraw",
        "decision": "given",
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    })
}

fn access_payload(w: &World, consent_ids: &[&str]) -> Value {
    json!({
        "dataset_id": w.dataset,
        "action": "query",
        "purpose": {"code": "cohort-2027"},
        "legal_basis": "consent",
        "consent_ids": consent_ids,
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    })
}

fn record_consent(w: &World, payload: &Value) -> Value {
    let a = post(
        &w.server,
        "/v1/consents",
        &w.chu.sign(CONSENT_TYPE, payload),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    a.json()
}

fn access(w: &World, who: &Participant, payload: &Value) -> Answer {
    post(
        &w.server,
        "/v1/accesses",
        &who.sign(ACCESS_TYPE, payload),
        None,
    )
}

fn receipt_of(v: &Value) -> Receipt {
    serde_json::from_value(v["receipt"].clone()).expect("a receipt")
}

/// Verifies a receipt offline with the pinned log key; the names of its checks.
fn verified(r: &Receipt, vkey: &str) -> Vec<&'static str> {
    let report = verify_receipt(r, Some(vkey));
    assert!(report.ok(), "{report:#?}");
    report.checks.iter().map(|c| c.name).collect()
}

#[test]
fn the_citizen_flow_works_with_only_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let payload = consent_payload(&w);
    let c = record_consent(&w, &payload);
    let id = c["consent_id"].as_str().unwrap().to_owned();
    let secret = c["citizen_secret"].as_str().unwrap().to_owned();
    assert_eq!(c["status"], "given");
    assert_eq!(c["record"], payload);
    assert_eq!(BASE64_URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);

    // The citizen's receipt verifies offline: inclusion, commitment, the controller's
    // signature, and the record shown is the one signed.
    let receipt = receipt_of(&c);
    let checks = verified(&receipt, &w.vkey);
    for name in [
        "inclusion",
        "commitment",
        "statement signature",
        "statement matches entry",
    ] {
        assert!(checks.contains(&name), "{checks:?}");
    }
    assert!(check_citizen_record(&receipt, Some(&id), &payload, c["expires_at"].as_str()).ok);
    let mut forged = payload.clone();
    forged["purposes"][0]["code"] = json!("marketing");
    assert!(!check_citizen_record(&receipt, Some(&id), &forged, None).ok);
    assert!(
        !check_citizen_record(
            &receipt,
            Some(&id),
            &payload,
            Some("2099-01-01T00:00:00.000Z")
        )
        .ok
    );
    assert!(!check_citizen_record(&receipt, Some("another"), &payload, None).ok);

    // Status with the secret alone.
    let v = get(&w.server, &format!("/v1/consents/{id}"), &secret);
    assert_eq!(v.status, 200, "{}", v.text());
    let v = v.json();
    assert_eq!(v["status"], "given");
    assert_eq!(v["record"], payload);
    assert_eq!(v["controller"], w.chu.id.as_str());
    assert_eq!(v["events"].as_array().unwrap().len(), 1);

    // The lab is permitted.
    let access_body = access_payload(&w, &[&id]);
    let a = access(&w, &w.lab, &access_body);
    assert_eq!(a.status, 201, "{}", a.text());
    let permit = a.json();
    assert_eq!(permit["decision"], "permit");
    assert_eq!(permit["reason"], "consented");
    let checks = verified(&receipt_of(&permit), &w.vkey);
    assert!(checks.contains(&"record matches entry"), "{checks:?}");

    // The citizen withdraws with the secret and nothing else.
    let size = w.server.size();
    let wd = post(
        &w.server,
        &format!("/v1/consents/{id}/withdraw"),
        b"",
        Some(&secret),
    );
    assert_eq!(wd.status, 201, "{}", wd.text());
    let wd = wd.json();
    assert_eq!(wd["status"], "withdrawn");
    assert_eq!(wd["initiated_by"], "subject");
    assert_eq!(w.server.size(), size + 1);
    let checks = verified(&receipt_of(&wd), &w.vkey);
    assert!(checks.contains(&"record matches entry"), "{checks:?}");

    // The same access is now denied, and recorded.
    let mut again = access_body.clone();
    again["nonce"] = json!(nonce());
    let a = access(&w, &w.lab, &again);
    assert_eq!(a.status, 403, "{}", a.text());
    let deny = a.json();
    assert_eq!(deny["decision"], "deny");
    assert_eq!(deny["reason"], "consent_withdrawn");
    assert_eq!(deny["consent_id"], id.as_str());
    assert_eq!(deny["error"]["code"], "consent_withdrawn");
    verified(&receipt_of(&deny), &w.vkey);

    // The citizen sees both, with their receipts.
    let v = get(&w.server, &format!("/v1/consents/{id}"), &secret).json();
    assert_eq!(v["status"], "withdrawn");
    let events: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["consent", "withdrawal"]);
    let list = get(&w.server, &format!("/v1/consents/{id}/accesses"), &secret);
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.json();
    let accesses = list["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 2);
    assert_eq!(accesses[0]["decision"], "permit");
    assert_eq!(accesses[1]["decision"], "deny");
    assert_eq!(accesses[1]["reason"], "consent_withdrawn");
    // Paging, in log order.
    let first = accesses[0]["index"].as_u64().unwrap();
    let page = get(
        &w.server,
        &format!("/v1/consents/{id}/accesses?after={first}"),
        &secret,
    )
    .json();
    assert_eq!(page["accesses"].as_array().unwrap().len(), 1);
    assert_eq!(page["accesses"][0]["index"], accesses[1]["index"]);
    get(
        &w.server,
        &format!("/v1/consents/{id}/accesses?after=x"),
        &secret,
    )
    .assert_error(400, "invalid_query", "malformed after");
    get(&w.server, &format!("/v1/consents/{id}?verbose=1"), &secret).assert_error(
        400,
        "invalid_query",
        "unknown parameter",
    );
    for a in accesses {
        assert_eq!(a["accessor"], w.lab.id.as_str());
        assert_eq!(a["accessor_name"], "Org 3");
        assert_eq!(a["purpose"], "cohort-2027");
        assert_eq!(a["action"], "query");
        verified(&receipt_of(a), &w.vkey);
    }

    // Withdrawing twice changes nothing.
    let size = w.server.size();
    post(
        &w.server,
        &format!("/v1/consents/{id}/withdraw"),
        b"",
        Some(&secret),
    )
    .assert_error(409, "already_withdrawn", "second withdrawal");
    assert_eq!(w.server.size(), size);

    // The controller and auditors read it with their participant tokens.
    for token in [&w.chu.token, &w.auditor.token] {
        let v = get(&w.server, &format!("/v1/consents/{id}"), token);
        assert_eq!(v.status, 200, "{}", v.text());
        assert_eq!(v.json()["status"], "withdrawn");
    }
    let listed = get(
        &w.server,
        &format!("/v1/consents?controller={}", w.chu.id),
        &w.chu.token,
    );
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["consents"][0]["consent_id"], id.as_str());
    get(
        &w.server,
        &format!("/v1/consents?controller={}", w.chu.id),
        &w.lab.token,
    )
    .assert_error(
        403,
        "forbidden_role",
        "an accessor listing a controller's consents",
    );

    // The citizen's receipt, saved as a file, verifies with `datapole verify`.
    let file = dir.path().join("citizen-receipt.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let out = std::process::Command::new(common::binary())
        .args(["verify", "--vkey", &w.vkey])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("✓ record"), "{stdout}");

    // The monitor audits the whole log clean: every consent event and access decision was
    // issued by a participant with the right role.
    let out = std::process::Command::new(common::binary())
        .args([
            "audit",
            "--log-url",
            &w.server.base,
            "--vkey",
            &w.vkey,
            "--state-dir",
        ])
        .arg(dir.path().join("audit"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in ["consent: 1", "withdrawal: 1", "access: 2"] {
        assert!(text.contains(kind), "{kind} in {text}");
    }
}

#[test]
fn wrong_secrets_and_unknown_ids_are_indistinguishable() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = record_consent(&w, &consent_payload(&w));
    let id = c["consent_id"].as_str().unwrap();
    let secret = c["citizen_secret"].as_str().unwrap();
    let other = record_consent(&w, &consent_payload(&w));
    let other_secret = other["citizen_secret"].as_str().unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();
    let size = w.server.size();
    let mut answers = BTreeSet::new();
    for path in ["", "/accesses"] {
        for (consent, token) in [
            (id, "wrong-secret"),
            (id, other_secret),
            (id, w.other_controller.token.as_str()),
            (id, w.lab.token.as_str()),
            (unknown.as_str(), secret),
            (unknown.as_str(), w.auditor.token.as_str()),
        ] {
            let a = get(&w.server, &format!("/v1/consents/{consent}{path}"), token);
            answers.insert((a.status, a.text()));
        }
        let a = w.server.get(&format!("/v1/consents/{id}{path}"));
        answers.insert((a.status, a.text()));
        let a = w.server.get(&format!("/v1/consents/{unknown}{path}"));
        answers.insert((a.status, a.text()));
    }
    for action in ["withdraw", "erase"] {
        for (consent, token) in [
            (id, "wrong-secret"),
            (id, other_secret),
            (unknown.as_str(), secret),
        ] {
            let a = post(
                &w.server,
                &format!("/v1/consents/{consent}/{action}"),
                b"",
                Some(token),
            );
            answers.insert((a.status, a.text()));
        }
        // A participant token is not a citizen secret: the controller signs a statement.
        let a = post(
            &w.server,
            &format!("/v1/consents/{id}/{action}"),
            b"",
            Some(&w.chu.token),
        );
        answers.insert((a.status, a.text()));
    }
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let (status, body) = answers.into_iter().next().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");
    assert_eq!(w.server.size(), size);
    let v = get(&w.server, &format!("/v1/consents/{id}"), secret);
    assert_eq!(v.json()["status"], "given");
}

#[test]
fn no_personal_field_reaches_a_public_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let payload = consent_payload(&w);
    let c = record_consent(&w, &payload);
    let id = c["consent_id"].as_str().unwrap();
    let secret = c["citizen_secret"].as_str().unwrap();
    let a = access(&w, &w.lab, &access_payload(&w, &[id]));
    assert_eq!(a.status, 201);
    let a = access(&w, &w.stranger, &access_payload(&w, &[id]));
    assert_eq!(a.status, 403);
    post(
        &w.server,
        &format!("/v1/consents/{id}/withdraw"),
        b"",
        Some(secret),
    );
    // A refused consent whose subject is an email address: the refusal must not echo it.
    const EMAIL: &str = "jean.dupont@example.fr";
    let mut refused = consent_payload(&w);
    refused["subject_ref"] = json!(EMAIL);
    let refusal = post(
        &w.server,
        "/v1/consents",
        &w.chu.sign(CONSENT_TYPE, &refused),
        None,
    );
    refusal.assert_error(422, "identifier_not_pseudonymous", "an email as subject");

    let admin = w.server.admin_token();
    let secrets: Vec<&str> = vec![
        SUBJECT,
        EMAIL,
        NOTICE,
        PURPOSE_TEXT,
        "biometric-measurements",
        "hébergeur",
        "chu.example",
        secret,
        &w.chu.token,
        &w.lab.token,
        &w.stranger.token,
        &w.auditor.token,
        &w.other_controller.token,
        &admin,
    ];
    let size = w.server.size();
    let mut public: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fetch = |path: String| {
        let a = w.server.get(&path);
        assert!(a.status < 500, "{path}: {}", a.status);
        public.push((path, a.body));
    };
    // Every route the server serves without credentials: the pages and their assets, the
    // log's tiles, bundles, entries, proofs and receipts, the participants, the searches,
    // the status, health and metrics.
    for asset in datapole::web::ASSETS {
        fetch(asset.path.to_owned());
    }
    for path in ["/checkpoint", "/v1/log", "/metrics", "/healthz", "/readyz"] {
        fetch(path.to_owned());
    }
    fetch(format!("/tile/0/000.p/{size}"));
    fetch(format!("/tile/entries/000.p/{size}"));
    for i in 0..size {
        fetch(format!("/v1/entries/{i}"));
        fetch(format!("/v1/receipts/{i}"));
        fetch(format!("/v1/receipts/{i}?format=tlog-proof"));
        fetch(format!("/v1/proofs/inclusion?index={i}"));
        fetch(format!("/v1/proofs/consistency?from={}&to={size}", i + 1));
    }
    for p in [&w.chu, &w.other_controller, &w.lab, &w.stranger, &w.auditor] {
        fetch(format!("/v1/participants/{}", p.id));
    }
    fetch(format!(
        "/v1/deposits?sha256={}",
        sha_hex(b"patient cohort extract")
    ));
    fetch(format!("/v1/datasets/{}", w.dataset));
    // Error bodies, including the refusal above and answers to wrong credentials.
    public.push(("the refused consent".into(), refusal.body.clone()));
    for path in [
        format!("/v1/consents/{id}"),
        format!("/v1/consents/{id}/accesses"),
        format!("/v1/consents?controller={}", w.chu.id),
    ] {
        let a = get(&w.server, &path, "not-the-secret");
        assert_eq!(a.status, 401, "{path}");
        public.push((format!("{path} with a wrong secret"), a.body));
    }
    // The server's own log.
    let log = w.server.data_dir.with_extension("log");
    public.push(("the server's log".into(), std::fs::read(&log).unwrap()));
    for (what, body) in &public {
        for s in &secrets {
            if let Some(form) = common::leaked(body, s.as_bytes()) {
                panic!("{what} holds {s:?} ({form})");
            }
        }
    }
    // The leaves themselves: type, id, issuer, time, commitment, nothing else.
    for i in 0..size {
        let leaf = w.server.get(&format!("/v1/entries/{i}")).json();
        let data = BASE64_STANDARD
            .decode(leaf["data"].as_str().unwrap())
            .unwrap();
        let v: Value = serde_json::from_slice(&data).unwrap();
        if matches!(
            v["type"].as_str(),
            Some("consent" | "withdrawal" | "access")
        ) {
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["v", "type", "id", "issuer", "time", "commitment"]);
        }
    }
}

#[test]
fn erasure_deletes_the_record_but_the_citizen_copy_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let payload = consent_payload(&w);
    let c = record_consent(&w, &payload);
    let id = c["consent_id"].as_str().unwrap();
    let secret = c["citizen_secret"].as_str().unwrap();
    let e = post(
        &w.server,
        &format!("/v1/consents/{id}/erase"),
        b"",
        Some(secret),
    );
    assert_eq!(e.status, 201, "{}", e.text());
    assert_eq!(e.json()["status"], "erased");
    verified(&receipt_of(&e.json()), &w.vkey);

    let v = get(&w.server, &format!("/v1/consents/{id}"), secret);
    assert_eq!(v.status, 200, "{}", v.text());
    let v = v.json();
    assert_eq!(v["status"], "erased");
    assert!(v.get("record").is_none(), "{v}");
    // The log's own receipt of the consent no longer opens it ...
    let first = &v["events"][0]["receipt"];
    assert!(
        first.get("opening").is_none() && first.get("statement").is_none(),
        "{first}"
    );
    let auditor_view = get(
        &w.server,
        &format!("/v1/receipts/{}", c["index"]),
        &w.auditor.token,
    )
    .json();
    assert!(auditor_view.get("opening").is_none(), "{auditor_view}");
    let text = serde_json::to_string(&v).unwrap();
    assert!(!text.contains(SUBJECT) && !text.contains(PURPOSE_TEXT));
    // ... only the citizen's copy does, and it still verifies.
    verified(&receipt_of(&c), &w.vkey);
    assert!(
        check_citizen_record(
            &receipt_of(&c),
            Some(id),
            &payload,
            c["expires_at"].as_str()
        )
        .ok
    );

    // An erased consent permits nothing and cannot be withdrawn or erased again.
    let a = access(&w, &w.lab, &access_payload(&w, &[id]));
    assert_eq!(a.status, 403);
    assert_eq!(a.json()["reason"], "consent_erased");
    let size = w.server.size();
    post(
        &w.server,
        &format!("/v1/consents/{id}/withdraw"),
        b"",
        Some(secret),
    )
    .assert_error(409, "already_erased", "withdrawing an erased consent");
    post(
        &w.server,
        &format!("/v1/consents/{id}/erase"),
        b"",
        Some(secret),
    )
    .assert_error(409, "already_erased", "erasing twice");
    assert_eq!(w.server.size(), size);

    // The data survives a restart: the erasure was committed with its event.
    drop(w.server);
    let server = Server::start(&dir.path().join("data"));
    let v = get(&server, &format!("/v1/consents/{id}"), secret).json();
    assert_eq!(v["status"], "erased");
    assert!(v.get("record").is_none());
}

#[test]
fn the_controller_withdraws_and_erases_its_own_consents_with_signed_statements() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = record_consent(&w, &consent_payload(&w));
    let id = c["consent_id"].as_str().unwrap();
    let secret = c["citizen_secret"].as_str().unwrap();
    let action = |consent: &str| {
        json!({"consent_id": consent, "reason": "the person asked at the front desk",
               "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": nonce()})
    };
    let path = format!("/v1/consents/{id}/withdraw");
    let size = w.server.size();
    // Another controller may not, and learns nothing: its consent or none, the same 404; the
    // path and the statement must name the same consent; a withdrawal statement does not
    // erase.
    post(
        &w.server,
        &path,
        &w.other_controller.sign(WITHDRAWAL_TYPE, &action(id)),
        None,
    )
    .assert_error(404, "consent_not_found", "another controller");
    let other_id = uuid::Uuid::new_v4().to_string();
    post(
        &w.server,
        &path,
        &w.chu.sign(WITHDRAWAL_TYPE, &action(&other_id)),
        None,
    )
    .assert_error(422, "consent_mismatch", "another consent in the statement");
    post(
        &w.server,
        &format!("/v1/consents/{other_id}/withdraw"),
        &w.chu.sign(WITHDRAWAL_TYPE, &action(&other_id)),
        None,
    )
    .assert_error(404, "consent_not_found", "unknown consent");
    post(
        &w.server,
        &format!("/v1/consents/{id}/erase"),
        &w.chu.sign(WITHDRAWAL_TYPE, &action(id)),
        None,
    )
    .assert_error(
        400,
        "malformed_envelope",
        "a withdrawal statement sent to erase",
    );
    post(
        &w.server,
        &path,
        &w.lab.sign(WITHDRAWAL_TYPE, &action(id)),
        None,
    )
    .assert_error(403, "forbidden_role", "an accessor");
    assert_eq!(w.server.size(), size);

    let body = w.chu.sign(WITHDRAWAL_TYPE, &action(id));
    let a = post(&w.server, &path, &body, None);
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.json()["initiated_by"], "controller");
    let checks = verified(&receipt_of(&a.json()), &w.vkey);
    assert!(checks.contains(&"statement signature"), "{checks:?}");
    // Replaying the statement is refused.
    post(&w.server, &path, &body, None).assert_error(409, "replayed", "replayed withdrawal");
    let v = get(&w.server, &format!("/v1/consents/{id}"), secret).json();
    assert_eq!(v["status"], "withdrawn");
    assert_eq!(v["events"][1]["initiated_by"], "controller");

    let e = post(
        &w.server,
        &format!("/v1/consents/{id}/erase"),
        &w.chu.sign(ERASURE_TYPE, &action(id)),
        None,
    );
    assert_eq!(e.status, 201, "{}", e.text());
    assert_eq!(
        get(&w.server, &format!("/v1/consents/{id}"), secret).json()["status"],
        "erased"
    );
}

#[test]
fn decisions_follow_every_rule_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = record_consent(&w, &consent_payload(&w));
    let id = c["consent_id"].as_str().unwrap().to_owned();
    let mut refused = consent_payload(&w);
    refused["decision"] = json!("refused");
    let r = record_consent(&w, &refused);
    assert_eq!(r["status"], "refused");
    let refused_id = r["consent_id"].as_str().unwrap().to_owned();
    let mut short = consent_payload(&w);
    short["validity"] =
        json!({"until": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339()});
    let s = record_consent(&w, &short);
    let short_id = s["consent_id"].as_str().unwrap().to_owned();
    let mut any = consent_payload(&w);
    any["datasets"] = json!([]);
    let any_id = record_consent(&w, &any)["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other_dataset = {
        let d = common::deposit_payload(b"another dataset", "public");
        let a = post(
            &w.server,
            "/v1/deposits",
            &w.chu.sign(DEPOSIT_TYPE, &d),
            None,
        );
        a.json()["dataset_id"].as_str().unwrap().to_owned()
    };
    let foreign_dataset = uuid::Uuid::new_v4().to_string();

    let case = |who: &Participant, change: &dyn Fn(&mut Value)| {
        let mut p = access_payload(&w, &[&id]);
        change(&mut p);
        let size = w.server.size();
        let a = access(&w, who, &p);
        assert_eq!(
            w.server.size(),
            size + 1,
            "every decision is on the log: {}",
            a.text()
        );
        (a.status, a.json())
    };
    let expect = |(status, v): (u16, Value), want_status: u16, reason: &str| {
        assert_eq!(
            (status, v["reason"].as_str().unwrap()),
            (want_status, reason),
            "{v}"
        );
        v
    };
    expect(case(&w.lab, &|_| {}), 201, "consented");
    expect(case(&w.stranger, &|_| {}), 403, "recipient_not_allowed");
    expect(
        case(&w.lab, &|p| p["purpose"]["code"] = json!("marketing")),
        403,
        "purpose_not_consented",
    );
    expect(
        case(&w.lab, &|p| p["dataset_id"] = json!(other_dataset)),
        403,
        "dataset_not_covered",
    );
    expect(
        case(&w.lab, &|p| {
            p["consent_ids"] = json!([uuid::Uuid::new_v4()])
        }),
        403,
        "unknown_consent",
    );
    expect(
        case(&w.lab, &|p| p["consent_ids"] = json!([refused_id])),
        403,
        "consent_refused",
    );
    expect(
        case(&w.lab, &|p| p["consent_ids"] = json!([id, refused_id])),
        403,
        "consent_refused",
    );
    // "Any dataset of this controller": its other dataset is covered, a foreign one is not.
    expect(
        case(&w.lab, &|p| {
            p["consent_ids"] = json!([any_id]);
            p["dataset_id"] = json!(other_dataset);
        }),
        201,
        "consented",
    );
    expect(
        case(&w.lab, &|p| {
            p["consent_ids"] = json!([any_id]);
            p["dataset_id"] = json!(foreign_dataset);
        }),
        403,
        "dataset_not_covered",
    );
    // Other legal bases are recorded with their reference.
    let v = expect(
        case(&w.stranger, &|p| {
            p["legal_basis"] = json!("permit");
            p.as_object_mut().unwrap().remove("consent_ids");
            p["authorization_ref"] = json!("CESREES-2026-114");
        }),
        201,
        "authorization_recorded",
    );
    verified(&receipt_of(&v), &w.vkey);
    // Break-glass: permitted and flagged.
    let v = expect(
        case(&w.stranger, &|p| {
            p["emergency"] = json!({"justification": "patient unconscious in the emergency room"});
        }),
        201,
        "emergency_override",
    );
    assert_eq!(v["emergency"], true);
    assert_eq!(v["decision"], "permit");

    // Expiry.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    expect(
        case(&w.lab, &|p| p["consent_ids"] = json!([short_id])),
        403,
        "consent_expired",
    );
    let v = get(
        &w.server,
        &format!("/v1/consents/{short_id}"),
        s["citizen_secret"].as_str().unwrap(),
    )
    .json();
    assert_eq!(v["status"], "expired");

    // A refused consent cannot be withdrawn.
    post(
        &w.server,
        &format!("/v1/consents/{refused_id}/withdraw"),
        b"",
        r["citizen_secret"].as_str(),
    )
    .assert_error(409, "consent_not_given", "withdrawing a refusal");
}

#[test]
fn bad_consent_and_access_statements_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world(dir.path());
    let good = consent_payload(&w);
    // The whole store, raw, around the refused consents: nothing at all may be written.
    let data = w.server.data_dir.clone();
    w.server.stop();
    let stored = common::store_contents(&data);
    w.server = Server::start(&data);
    let consent_cases: Vec<(Change, u16, &str)> = vec![
        (
            Box::new(|p| p["subject_ref"] = json!("jean.dupont@example.fr")),
            422,
            "identifier_not_pseudonymous",
        ),
        (
            Box::new(|p| p["subject_ref"] = json!("1 85 05 78 006 084 36")),
            422,
            "identifier_not_pseudonymous",
        ),
        (
            Box::new(|p| p["subject_ref"] = json!("Jean Dupont de Toulouse")),
            422,
            "identifier_not_pseudonymous",
        ),
        (
            Box::new(|p| p["validity"] = json!({})),
            422,
            "endless_consent",
        ),
        (
            Box::new(|p| p["validity"] = json!({"duration": "P500Y"})),
            422,
            "endless_consent",
        ),
        (
            Box::new(|p| p["purposes"] = json!([])),
            422,
            "invalid_field",
        ),
        (
            Box::new(|p| p["expressed_by"] = json!({"role": "neighbour"})),
            422,
            "invalid_field",
        ),
        (
            Box::new(|p| p["decision"] = json!("maybe")),
            422,
            "invalid_field",
        ),
        (
            Box::new(|p| p["unexpected"] = json!(1)),
            422,
            "invalid_field",
        ),
        (
            Box::new(|p| p["recipients"] = json!([uuid::Uuid::new_v4()])),
            422,
            "unknown_recipient",
        ),
        (
            Box::new(|p| p["datasets"] = json!([uuid::Uuid::new_v4()])),
            422,
            "unknown_dataset",
        ),
        (
            Box::new(|p| p["issued_at"] = json!("2020-01-01T00:00:00Z")),
            422,
            "stale_statement",
        ),
    ];
    let size = w.server.size();
    // Every refused consent carries the good statement's nonce: it must stay usable.
    for (k, (change, status, code)) in consent_cases.iter().enumerate() {
        let mut p = good.clone();
        change(&mut p);
        post(
            &w.server,
            "/v1/consents",
            &w.chu.sign(CONSENT_TYPE, &p),
            None,
        )
        .assert_error(*status, code, &format!("consent case {k}"));
    }
    // The recipient must be an accessor, not just any participant.
    let mut p = good.clone();
    p["recipients"] = json!([w.auditor.id]);
    post(
        &w.server,
        "/v1/consents",
        &w.chu.sign(CONSENT_TYPE, &p),
        None,
    )
    .assert_error(422, "unknown_recipient", "an auditor as recipient");
    // Wrong role, wrong signature, wrong payload type, unknown signer.
    post(
        &w.server,
        "/v1/consents",
        &w.lab.sign(CONSENT_TYPE, &good),
        None,
    )
    .assert_error(403, "forbidden_role", "an accessor recording a consent");
    let mut env: Value = serde_json::from_slice(&w.chu.sign(CONSENT_TYPE, &good)).unwrap();
    env["signatures"][0]["sig"] = json!(BASE64_STANDARD.encode([7u8; 64]));
    post(&w.server, "/v1/consents", env.to_string().as_bytes(), None).assert_error(
        401,
        "bad_signature",
        "forged consent",
    );
    post(
        &w.server,
        "/v1/consents",
        &w.chu.sign(DEPOSIT_TYPE, &good),
        None,
    )
    .assert_error(400, "malformed_envelope", "deposit type");
    post(&w.server, "/v1/consents", b"{not json", None).assert_error(
        400,
        "malformed_envelope",
        "not JSON",
    );
    post(&w.server, "/v1/consents", &vec![b' '; 70_000], None).assert_error(
        413,
        "payload_too_large",
        "oversized",
    );
    assert_eq!(w.server.size(), size, "no rejected consent reached the log");
    w.server.stop();
    common::assert_same_store(&stored, &common::store_contents(&data), "refused consents");
    w.server = Server::start(&data);

    // Replays. The good statement's nonce, carried by every refused one, is still unused.
    let body = w.chu.sign(CONSENT_TYPE, &good);
    assert_eq!(post(&w.server, "/v1/consents", &body, None).status, 201);
    post(&w.server, "/v1/consents", &body, None).assert_error(409, "replayed", "replayed consent");
    let id = uuid::Uuid::new_v4().to_string();
    let good_access = access_payload(&w, &[&id]);
    let body = w.lab.sign(ACCESS_TYPE, &good_access);
    assert_eq!(post(&w.server, "/v1/accesses", &body, None).status, 403);
    w.server.stop();
    let stored = common::store_contents(&data);
    w.server = Server::start(&data);
    let size = w.server.size();
    post(&w.server, "/v1/accesses", &body, None).assert_error(409, "replayed", "replayed access");

    let access_cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("consent_ids");
            }),
            "invalid_field",
        ),
        (Box::new(|p| p["consent_ids"] = json!([])), "invalid_field"),
        (
            Box::new(|p| p["legal_basis"] = json!("contract")),
            "invalid_field",
        ),
        (Box::new(|p| p["action"] = json!("sell")), "invalid_field"),
        (
            Box::new(|p| p["dataset_id"] = json!("not-a-uuid")),
            "invalid_field",
        ),
        (
            Box::new(|p| p["issued_at"] = json!("2020-01-01T00:00:00Z")),
            "stale_statement",
        ),
    ];
    for (k, (change, code)) in access_cases.iter().enumerate() {
        let mut p = good_access.clone();
        p["nonce"] = json!(nonce());
        change(&mut p);
        post(
            &w.server,
            "/v1/accesses",
            &w.lab.sign(ACCESS_TYPE, &p),
            None,
        )
        .assert_error(422, code, &format!("access case {k}"));
    }
    let mut p = good_access.clone();
    p["nonce"] = json!(nonce());
    post(
        &w.server,
        "/v1/accesses",
        &w.chu.sign(ACCESS_TYPE, &p),
        None,
    )
    .assert_error(403, "forbidden_role", "a controller accessing");
    assert_eq!(w.server.size(), size, "no rejected access reached the log");
    w.server.stop();
    common::assert_same_store(&stored, &common::store_contents(&data), "refused accesses");
    w.server = Server::start(&data);

    // Unknown methods and malformed ids.
    let a = w
        .server
        .request("DELETE", &format!("/v1/consents/{id}"), &[], b"");
    a.assert_error(405, "method_not_allowed", "DELETE a consent");
    get(&w.server, "/v1/consents/not-a-uuid", "x").assert_error(
        400,
        "invalid_consent_id",
        "malformed id",
    );
    get(&w.server, "/v1/consents", &w.chu.token).assert_error(
        400,
        "invalid_query",
        "list without controller",
    );
}

/// `examples/consent_flow.rs` runs its whole story against a real server (cargo builds the
/// examples before it runs the tests).
#[test]
fn the_consent_flow_example_runs() {
    let exe = std::path::Path::new(common::binary())
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("consent_flow{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        // `cargo test` builds the examples; `cargo test --test consents` does not.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = std::process::Command::new(cargo)
            .args(["build", "--example", "consent_flow"])
            .status()
            .unwrap();
        assert!(built.success());
    }
    assert!(exe.exists(), "{} was not built", exe.display());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let out = std::process::Command::new(&exe)
        .args(["--url", &server.base, "--admin-token-file"])
        .arg(server.data_dir.join("admin-token"))
        .arg("--out")
        .arg(dir.path().join("citizen.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"deny\" (\"consent_withdrawn\")"),
        "{stdout}"
    );
    assert!(dir.path().join("citizen.json").exists());
}

/// Sixty accesses from four threads while the citizen withdraws: whatever the interleaving,
/// no permit comes after the withdrawal on the log and every access after it is denied. (The
/// race itself, a permit decided before the withdrawal and appended after it, is forced
/// deterministically in tests/races.rs.)
#[test]
fn no_permit_is_sequenced_after_a_withdrawal() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let c = record_consent(&w, &consent_payload(&w));
    let id = c["consent_id"].as_str().unwrap().to_owned();
    let secret = c["citizen_secret"].as_str().unwrap().to_owned();
    let bodies: Vec<Vec<Vec<u8>>> = (0..4)
        .map(|_| {
            (0..15)
                .map(|_| w.lab.sign(ACCESS_TYPE, &access_payload(&w, &[&id])))
                .collect()
        })
        .collect();
    let withdrawal_index = std::thread::scope(|s| {
        for batch in &bodies {
            let w = &w;
            s.spawn(move || {
                for body in batch {
                    let a = post(&w.server, "/v1/accesses", body, None);
                    assert!(matches!(a.status, 201 | 403), "{}", a.text());
                }
            });
        }
        let wd = post(
            &w.server,
            &format!("/v1/consents/{id}/withdraw"),
            b"",
            Some(&secret),
        );
        assert_eq!(wd.status, 201, "{}", wd.text());
        wd.json()["index"].as_u64().unwrap()
    });
    let list = get(&w.server, &format!("/v1/consents/{id}/accesses"), &secret).json();
    let accesses = list["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 60);
    for a in accesses {
        let index = a["index"].as_u64().unwrap();
        if index > withdrawal_index {
            assert_eq!(a["decision"], "deny", "{a}");
            assert_eq!(a["reason"], "consent_withdrawn");
        }
        if a["decision"] == "permit" {
            assert!(
                index < withdrawal_index,
                "a permit after the withdrawal: {a}"
            );
        }
    }
}

#[test]
fn a_consent_covers_only_datasets_of_its_own_controller() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let admin = w.server.admin_token();
    let deposit = |who: &Participant, payload: &Value| {
        post(
            &w.server,
            "/v1/deposits",
            &who.sign(DEPOSIT_TYPE, payload),
            None,
        )
    };
    // A registry that deposits but controls nothing: one dataset under the CHU's control, one
    // under its own.
    let registry = register(&w.server, &admin, 6, &["depositor"]);
    let mut for_chu = common::deposit_payload(b"registry extract for the CHU", "private");
    for_chu["controller"] = json!(w.chu.id);
    let a = deposit(&registry, &for_chu);
    assert_eq!(a.status, 201, "{}", a.text());
    let chu_dataset = a.json()["dataset_id"].as_str().unwrap().to_owned();
    assert!(verified(&receipt_of(&a.json()), &w.vkey).contains(&"statement matches entry"));
    let v = w.server.get(&format!("/v1/datasets/{chu_dataset}")).json();
    assert_eq!(v["controller"], json!(w.chu.id), "{v}");
    assert_eq!(v["depositor"], json!(registry.id), "{v}");
    let a = deposit(
        &registry,
        &common::deposit_payload(b"the registry's own data", "public"),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let registry_dataset = a.json()["dataset_id"].as_str().unwrap().to_owned();
    let v = w
        .server
        .get(&format!("/v1/datasets/{registry_dataset}"))
        .json();
    assert_eq!(v["controller"], json!(registry.id), "{v}");

    // Another controller may not record consent over the CHU's datasets, nor over the
    // registry's; nothing is written and the nonce stays usable.
    for (k, dataset) in [&w.dataset, &chu_dataset, &registry_dataset]
        .into_iter()
        .enumerate()
    {
        let size = w.server.size();
        let mut p = consent_payload(&w);
        p["datasets"] = json!([dataset]);
        let refused = post(
            &w.server,
            "/v1/consents",
            &w.other_controller.sign(CONSENT_TYPE, &p),
            None,
        );
        refused.assert_error(422, "dataset_not_controlled", &format!("dataset {k}"));
        assert!(
            refused.text().contains("payload.datasets[0]"),
            "{}",
            refused.text()
        );
        assert_eq!(w.server.size(), size);
        p["datasets"] = json!([]);
        let a = post(
            &w.server,
            "/v1/consents",
            &w.other_controller.sign(CONSENT_TYPE, &p),
            None,
        );
        assert_eq!(a.status, 201, "the same nonce, unused: {}", a.text());
    }

    // The CHU's consent covers the dataset deposited under its control, listed or not.
    let mut listed = consent_payload(&w);
    listed["datasets"] = json!([chu_dataset]);
    let listed = record_consent(&w, &listed)["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut all = consent_payload(&w);
    all["datasets"] = json!([]);
    let all = record_consent(&w, &all)["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for consent in [&listed, &all] {
        let mut p = access_payload(&w, &[consent]);
        p["dataset_id"] = json!(chu_dataset);
        let a = access(&w, &w.lab, &p);
        assert_eq!(a.status, 201, "{}", a.text());
        assert_eq!(a.json()["reason"], "consented");
    }
    // Another controller's consent for "all its datasets" covers none of the CHU's.
    let mut p = consent_payload(&w);
    p["datasets"] = json!([]);
    let a = post(
        &w.server,
        "/v1/consents",
        &w.other_controller.sign(CONSENT_TYPE, &p),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let foreign = a.json()["consent_id"].as_str().unwrap().to_owned();
    for dataset in [&w.dataset, &chu_dataset] {
        let mut p = access_payload(&w, &[&foreign]);
        p["dataset_id"] = json!(dataset);
        let a = access(&w, &w.lab, &p);
        assert_eq!(a.status, 403, "{}", a.text());
        assert_eq!(a.json()["reason"], "dataset_not_covered");
    }

    // The first version fixes the controller: a later version may repeat it, not change it.
    let size = w.server.size();
    let mut next = common::deposit_payload(b"registry extract, version 2", "private");
    next["dataset_id"] = json!(chu_dataset);
    next["controller"] = json!(w.other_controller.id);
    let refused = deposit(&registry, &next);
    refused.assert_error(422, "controller_mismatch", "another controller");
    assert!(refused.text().contains("payload.controller"));
    assert_eq!(w.server.size(), size);
    next["controller"] = json!(w.chu.id);
    let a = deposit(&registry, &next);
    assert_eq!(a.status, 201, "the same nonce, unused: {}", a.text());
    let mut third = common::deposit_payload(b"registry extract, version 3", "public");
    third["dataset_id"] = json!(chu_dataset);
    let a = deposit(&registry, &third);
    assert_eq!(a.status, 201, "{}", a.text());
    let v = w.server.get(&format!("/v1/datasets/{chu_dataset}")).json();
    let controllers: Vec<&Value> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["controller"])
        .collect();
    assert_eq!(controllers, [&json!(w.chu.id); 3], "{v}");
    verified(&receipt_of(&a.json()), &w.vkey);

    // Only a registered participant with the controller role can be named.
    for (who, name) in [
        (w.lab.id.clone(), "an accessor"),
        (uuid::Uuid::new_v4().to_string(), "nobody"),
    ] {
        let size = w.server.size();
        let mut p = common::deposit_payload(name.as_bytes(), "public");
        p["controller"] = json!(who);
        deposit(&registry, &p).assert_error(422, "unknown_controller", name);
        assert_eq!(w.server.size(), size);
    }
    // The same content under another controller is not a duplicate of the first deposit.
    let mut again = for_chu.clone();
    again["controller"] = json!(registry.id);
    again["nonce"] = json!(nonce());
    let size = w.server.size();
    deposit(&registry, &again).assert_error(409, "duplicate_content", "another controller");
    again["controller"] = json!(w.chu.id);
    let a = deposit(&registry, &again);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["duplicate"], true);
    assert_eq!(
        w.server.size(),
        size,
        "neither the refusal nor the duplicate wrote"
    );
}

/// Every file under `dir`, recursively: its path and raw bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

/// Erasure reaches every copy the server keeps: after a consent is erased and the server
/// stopped (`kill`: SIGKILL, no chance to clean up), no file of the data directory holds the
/// consent's statement, its subject reference, its salt, its data key or the KEK that wrapped
/// that key; another consent of the same key bucket still opens after a restart.
fn erasure_leaves_nothing_that_opens_the_record(kill: bool) {
    use datapole::log::{SledStore, StateStore};
    use datapole::receipt::PrivateSidecar;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut w = world(dir.path());
    let erased_subject = format!("hmac-sha256:erased-{}", nonce());
    let kept_subject = format!("hmac-sha256:kept-{}", nonce());
    let mut payload = consent_payload(&w);
    payload["subject_ref"] = json!(erased_subject);
    let c = record_consent(&w, &payload);
    let mut payload = consent_payload(&w);
    payload["subject_ref"] = json!(kept_subject);
    let kept = record_consent(&w, &payload);
    let index = c["index"].as_u64().unwrap();

    // What opens the record, read from the stopped server's store.
    w.server.stop();
    let (record, keys) = {
        let store = SledStore::open(&data.join("store")).unwrap();
        let record = store.sidecar(index).unwrap().expect("the consent's record");
        (record, store.record_keys(index).unwrap().expect("its keys"))
    };
    // Opening the store here wrote files under this process's umask: private again, as
    // `serve` requires.
    common::make_private(&data);
    let sidecar = PrivateSidecar::from_bytes(&record).unwrap();
    let statement = sidecar.statement.expect("a statement");
    let salt = BASE64_STANDARD.decode(&sidecar.salt).unwrap();
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("the stored record", record.clone()),
        ("the statement", statement.to_bytes().unwrap()),
        (
            "the statement's payload",
            statement.payload.as_bytes().to_vec(),
        ),
        ("the subject reference", erased_subject.as_bytes().to_vec()),
        ("the salt (base64)", sidecar.salt.as_bytes().to_vec()),
        ("the salt", salt),
        ("the data key", keys.data_key.to_vec()),
        ("the KEK", keys.kek.to_vec()),
    ];

    w.server = Server::start(&data);
    let id = c["consent_id"].as_str().unwrap();
    let e = post(
        &w.server,
        &format!("/v1/consents/{id}/erase"),
        b"",
        c["citizen_secret"].as_str(),
    );
    assert_eq!(e.status, 201, "{}", e.text());
    if kill {
        w.server.kill();
    } else {
        w.server.stop();
    }

    let files = files_under(&data);
    assert!(files.len() > 3, "{files:?}");
    for (what, needle) in &needles {
        for (path, bytes) in &files {
            assert!(
                !bytes.windows(needle.len()).any(|b| b == needle.as_slice()),
                "{what} is still in {}",
                path.display()
            );
        }
    }

    let server = Server::start(&data);
    let v = get(
        &server,
        &format!("/v1/consents/{}", kept["consent_id"].as_str().unwrap()),
        kept["citizen_secret"].as_str().unwrap(),
    );
    assert_eq!(v.status, 200, "{}", v.text());
    let v = v.json();
    assert_eq!(v["status"], "given", "{v}");
    assert!(v["record"].to_string().contains(&kept_subject), "{v}");
    let v = get(
        &server,
        &format!("/v1/consents/{id}"),
        c["citizen_secret"].as_str().unwrap(),
    )
    .json();
    assert_eq!(v["status"], "erased");
    assert!(v.get("record").is_none(), "{v}");
}

#[test]
fn erasure_leaves_nothing_that_opens_the_record_after_a_stop() {
    erasure_leaves_nothing_that_opens_the_record(false);
}

#[test]
fn erasure_leaves_nothing_that_opens_the_record_after_a_kill() {
    erasure_leaves_nothing_that_opens_the_record(true);
}

/// Erasures under SIGKILL: clients record consents and erase every other one while the
/// server is killed at random moments (so also between an erasure's key-file writes and its
/// sled batch) and restarted on the same data directory. After every restart each
/// acknowledged consent still reads with its record, each acknowledged erasure holds, and a
/// consent whose erasure got no answer is either erased or intact.
#[test]
fn erasures_under_sigkill_lose_no_acknowledged_record() {
    use rand::Rng;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    /// A consent with an acknowledged record, and what became of its erasure.
    struct Acked {
        id: String,
        secret: String,
        /// `Some(true)`: erasure acknowledged; `Some(false)`: erasure sent, no answer.
        erased: Option<bool>,
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut w = world(dir.path());
    let acked: Mutex<Vec<Acked>> = Mutex::new(Vec::new());
    let counter = AtomicU64::new(0);
    let mut rng = rand::thread_rng();
    let json_type = [("content-type", "application/json")];
    for cycle in 0..6 {
        let run_for = std::time::Duration::from_millis(rng.gen_range(150..600));
        std::thread::scope(|s| {
            for _ in 0..3 {
                let (w, acked, counter) = (&w, &acked, &counter);
                s.spawn(move || loop {
                    let body = w.chu.sign(CONSENT_TYPE, &consent_payload(w));
                    let Ok(a) = w
                        .server
                        .try_request("POST", "/v1/consents", &json_type, &body)
                    else {
                        break;
                    };
                    assert_eq!(a.status, 201, "{}", a.text());
                    let v = a.json();
                    let mut consent = Acked {
                        id: v["consent_id"].as_str().unwrap().to_owned(),
                        secret: v["citizen_secret"].as_str().unwrap().to_owned(),
                        erased: None,
                    };
                    if counter.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
                        let bearer = format!("Bearer {}", consent.secret);
                        let path = format!("/v1/consents/{}/erase", consent.id);
                        let answer =
                            w.server
                                .try_request("POST", &path, &[("authorization", &bearer)], b"");
                        consent.erased = Some(matches!(&answer, Ok(a) if a.status == 201));
                        if let Ok(a) = &answer {
                            assert_eq!(a.status, 201, "{}", a.text());
                        }
                        let stop = answer.is_err();
                        acked.lock().unwrap().push(consent);
                        if stop {
                            break;
                        }
                    } else {
                        acked.lock().unwrap().push(consent);
                    }
                });
            }
            std::thread::sleep(run_for);
            w.server.kill();
        });
        w.server = Server::start(&data);
        let acked = acked.lock().unwrap();
        let erased = acked.iter().filter(|c| c.erased == Some(true)).count();
        assert!(acked.len() > 2 * cycle, "cycle {cycle}: too little traffic");
        for c in acked.iter() {
            let v = get(&w.server, &format!("/v1/consents/{}", c.id), &c.secret);
            assert_eq!(v.status, 200, "cycle {cycle}: {}", v.text());
            let v = v.json();
            let has_record = v.get("record").is_some();
            match c.erased {
                Some(true) => assert!(v["status"] == "erased" && !has_record, "{v}"),
                None => assert!(v["status"] == "given" && has_record, "cycle {cycle}: {v}"),
                Some(false) => assert_eq!(v["status"] == "erased", !has_record, "{v}"),
            }
        }
        eprintln!("cycle {cycle}: {} consents, {erased} erased", acked.len());
    }
}

/// The leak scan finds a secret wherever it sits in a base64 text, not only at the start of a
/// group of three bytes; and finds nothing in a text without it.
#[test]
fn the_leak_scan_finds_base64_at_every_alignment() {
    let secret = b"hmac-sha256:9c1185a5c5e9fc54";
    for prefix in 0..6 {
        for suffix in 0..3 {
            let data = [vec![b'p'; prefix], secret.to_vec(), vec![b's'; suffix]].concat();
            for text in [
                BASE64_STANDARD.encode(&data),
                BASE64_URL_SAFE_NO_PAD.encode(&data),
            ] {
                assert!(
                    common::leaked(text.as_bytes(), secret).is_some(),
                    "{prefix} bytes before, {suffix} after: {text}"
                );
            }
        }
    }
    let other = BASE64_STANDARD.encode(b"nothing to see here, nothing at all");
    assert_eq!(common::leaked(other.as_bytes(), secret), None);
}
