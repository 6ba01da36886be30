//! Consent reads in process, over a counting twin of the store (the in-memory store, with
//! every entry and sidecar read recorded):
//! - a caller who may not read a consent is refused from the indexes alone: no read of the
//!   consent's entry, its events or its off-log record happens before the refusal, and the
//!   answer is the same whether the consent is absent, given, withdrawn or erased;
//! - entries the store holds but cannot read (a statement with a key twice, written before
//!   statements were parsed strictly) never make a reader answer 500: the consent reads as
//!   `unreadable`, the citizen can still withdraw it, and listings report such an entry apart
//!   and go on.

mod common;

use common::consent_payload;

use std::sync::{Arc, Mutex};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use base64::prelude::*;
use common::{nonce, sha_hex, test_key, test_signing_key};
use datapole::api::{routes, AppState};
use datapole::consent::{time, RecordKind, RecordLeaf};
use datapole::decision::AccessRecord;
use datapole::decision::{Reason, Verdict};
use datapole::ledger::{keys, Ledger};
use datapole::log::checkpoint::{LogSigner, SignedCheckpoint};
use datapole::log::sequencer::{AppendRequest, Sequencer, SequencerConfig};
use datapole::log::store::{Batch, Index, IndexKey, Store, StoreError};
use datapole::log::MemoryStore;
use datapole::receipt::PrivateSidecar;
use datapole::statement::consent::{CONSENT_TYPE, WITHDRAWAL_TYPE};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use tlog_tiles::Hash;
use uuid::Uuid;

/// The in-memory store, recording which entries and sidecars are read.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    entries: Mutex<Vec<u64>>,
    sidecars: Mutex<Vec<u64>>,
}

impl Counting {
    /// Forgets what was read so far.
    fn reset(&self) {
        self.entries.lock().unwrap().clear();
        self.sidecars.lock().unwrap().clear();
    }

    /// Whether entry `index` or its sidecar was read since the last reset.
    fn touched(&self, index: u64) -> bool {
        self.entries.lock().unwrap().contains(&index)
            || self.sidecars.lock().unwrap().contains(&index)
    }
}

impl Store for Counting {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.inner.checkpoint()
    }
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.inner.read_hashes(indexes)
    }
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.entries.lock().unwrap().extend(start..end);
        self.inner.entries(start, end)
    }
    fn lookup(&self, key: &IndexKey) -> Result<Option<u64>, StoreError> {
        self.inner.lookup(key)
    }
    fn scan(
        &self,
        index: Index,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        self.inner.scan(index, prefix, after, limit)
    }
    fn last(&self, index: Index, prefix: &[u8]) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.inner.last(index, prefix)
    }
    fn sidecar(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.sidecars.lock().unwrap().push(index);
        self.inner.sidecar(index)
    }
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta(name)
    }
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.put_meta(name, value)
    }
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        self.inner.commit(batch)
    }
}

const ADMIN: &str = "an-admin-token-of-at-least-32-characters";

struct Member {
    id: String,
    token: String,
    key: SigningKey,
}

impl Member {
    fn sign(&self, payload_type: &str, payload: &Value) -> Vec<u8> {
        Envelope::sign(
            payload_type,
            payload.to_string().as_bytes(),
            &self.id,
            &self.key,
        )
        .to_bytes()
        .unwrap()
    }
}

/// What every test here starts from: a log over the counting store, a controller that
/// deposited a dataset, another controller, an accessor and an auditor.
struct World<S> {
    app: S,
    store: Arc<Counting>,
    log: Sequencer,
    chu: Member,
    other: Member,
    lab: Member,
    auditor: Member,
    dataset: String,
}

async fn call<S>(app: &S, req: test::TestRequest) -> (StatusCode, Vec<(String, String)>, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.sort();
    let body = test::read_body(res).await;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, headers, json)
}

fn post(path: &str, body: Vec<u8>) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

fn get(path: &str, bearer: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {bearer}")))
}

async fn register<S>(app: &S, i: u64, roles: &[&str]) -> Member
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let body = json!({"name": format!("Org {i}"), "roles": roles,
        "public_key": BASE64_STANDARD.encode(test_key(i))});
    let (status, _, v) = call(
        app,
        post("/v1/participants", body.to_string().into_bytes())
            .insert_header(("authorization", format!("Bearer {ADMIN}"))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    Member {
        id: v["participant_id"].as_str().unwrap().to_owned(),
        token: v["api_token"].as_str().unwrap().to_owned(),
        key: test_signing_key(i),
    }
}

macro_rules! world {
    () => {{
        let store = Arc::new(Counting::default());
        let (skey, _) = LogSigner::generate("datapole.test/consent-reads").unwrap();
        let signer = LogSigner::from_skey(&skey, None).unwrap();
        let (log, _thread) =
            Sequencer::start(store.clone(), signer, SequencerConfig::default()).unwrap();
        let state = web::Data::new(AppState::new(Ledger::new(log.clone()), ADMIN));
        let app = test::init_service(App::new().app_data(state).configure(routes)).await;
        let chu = register(&app, 1, &["controller", "depositor"]).await;
        let other = register(&app, 2, &["controller"]).await;
        let lab = register(&app, 3, &["accessor"]).await;
        let auditor = register(&app, 4, &["auditor"]).await;
        let deposit = json!({"sha256": sha_hex(b"cohort"), "size": 6, "media_type": "text/csv",
            "title": "Cohort", "visibility": "private",
            "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": nonce()});
        let (status, _, v) = call(&app, post("/v1/deposits", chu.sign(DEPOSIT_TYPE, &deposit))).await;
        assert_eq!(status, 201, "{v}");
        let dataset = v["dataset_id"].as_str().unwrap().to_owned();
        World { app, store, log, chu, other, lab, auditor, dataset }
    }};
}

/// Records a consent through the API: (consent id, entry index, citizen secret).
async fn record<S>(w: &World<S>) -> (String, u64, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let payload = consent_payload(&w.dataset, &w.lab.id);
    let (status, _, v) = call(
        &w.app,
        post("/v1/consents", w.chu.sign(CONSENT_TYPE, &payload)),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    (
        v["consent_id"].as_str().unwrap().to_owned(),
        v["index"].as_u64().unwrap(),
        v["citizen_secret"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn an_unrelated_caller_is_refused_before_any_consent_record_is_read() {
    let w = world!();
    let (given, given_index, _) = record(&w).await;
    let (withdrawn, withdrawn_index, secret) = record(&w).await;
    let (status, _, v) = call(
        &w.app,
        post(&format!("/v1/consents/{withdrawn}/withdraw"), Vec::new())
            .insert_header(("authorization", format!("Bearer {secret}"))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (erased, erased_index, secret) = record(&w).await;
    let (status, _, v) = call(
        &w.app,
        post(&format!("/v1/consents/{erased}/erase"), Vec::new())
            .insert_header(("authorization", format!("Bearer {secret}"))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let absent = Uuid::new_v4().to_string();
    let consents = [
        (given.as_str(), Some(given_index)),
        (withdrawn.as_str(), Some(withdrawn_index)),
        (erased.as_str(), Some(erased_index)),
        (absent.as_str(), None),
    ];
    // Every consent's entries: itself and its events.
    let mut events = Vec::new();
    for (id, _) in &consents {
        let key = Uuid::parse_str(id).unwrap();
        for (_, index) in w
            .log
            .store()
            .scan(keys::CONSENT_EVENT, key.as_bytes(), None, 10)
            .unwrap()
        {
            events.push(index);
        }
    }
    assert_eq!(events.len(), 5, "3 consents, a withdrawal and an erasure");

    // Unrelated callers: another controller, the accessor the consents name, a wrong
    // secret, a token that is nobody's, no token at all.
    let callers: [Option<&str>; 5] = [
        Some(&w.other.token),
        Some(&w.lab.token),
        Some("not-a-secret-of-any-consent-xxxxxxxxxxxx"),
        Some("dp_unknown_token"),
        None,
    ];
    for caller in callers {
        for suffix in ["", "/accesses"] {
            let mut answers = Vec::new();
            for (id, _) in &consents {
                w.store.reset();
                let mut req = test::TestRequest::get().uri(&format!("/v1/consents/{id}{suffix}"));
                if let Some(token) = caller {
                    req = req.insert_header(("authorization", format!("Bearer {token}")));
                }
                let answer = call(&w.app, req).await;
                for &index in &events {
                    assert!(
                        !w.store.touched(index),
                        "{caller:?} on consent {id}{suffix}: entry or record {index} was read"
                    );
                }
                answers.push(answer);
            }
            assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED, "{:?}", answers[0]);
            assert_eq!(answers[0].2["error"]["code"], "unauthorized");
            for a in &answers[1..] {
                assert_eq!(a, &answers[0], "{caller:?}{suffix}: the answers differ");
            }
        }
    }

    // Another controller's signed withdrawal: the same answer for its target whatever its
    // state, and none of the consent's records read before the refusal.
    let mut answers = Vec::new();
    for (id, _) in &consents {
        let payload = json!({"consent_id": id, "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce()});
        w.store.reset();
        let (status, headers, body) = call(
            &w.app,
            post(
                &format!("/v1/consents/{id}/withdraw"),
                w.other.sign(WITHDRAWAL_TYPE, &payload),
            ),
        )
        .await;
        for &index in &events {
            assert!(!w.store.touched(index), "withdrawal of {id}: {index} read");
        }
        // The message names the consent id asked for; everything else must be equal.
        let body = body.to_string().replace(id, "<id>");
        answers.push((status, headers, body));
    }
    assert_eq!(answers[0].0, StatusCode::NOT_FOUND, "{:?}", answers[0]);
    for a in &answers[1..] {
        assert_eq!(a, &answers[0]);
    }

    // The controller itself and an auditor do read it (and so its records).
    for token in [&w.chu.token, &w.auditor.token] {
        let (status, _, v) = call(&w.app, get(&format!("/v1/consents/{given}"), token)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "given");
    }
}

/// Appends a consent entry whose off-log statement repeats a key, as a log that parsed
/// statements loosely could have written: (consent id, its index, the citizen secret).
async fn append_unreadable_consent<S>(w: &World<S>) -> (Uuid, u64, String) {
    let controller = Uuid::parse_str(&w.chu.id).unwrap();
    let mut payload = consent_payload(&w.dataset, &w.lab.id).to_string();
    // The same key twice: serde's typed readers refuse it.
    payload.insert_str(1, r#""legal_basis":"gdpr-6-1-a","#);
    let envelope = Envelope::sign(CONSENT_TYPE, payload.as_bytes(), &w.chu.id, &w.chu.key);
    let id = Uuid::new_v4();
    let salt = [7u8; 32];
    let secret = "a-citizen-secret-for-the-unreadable-consent";
    let leaf = RecordLeaf::new(
        RecordKind::Consent,
        id,
        controller,
        chrono::Utc::now(),
        &salt,
        &envelope.to_bytes().unwrap(),
    );
    let appended = w
        .log
        .append(AppendRequest {
            entry: leaf.to_bytes().unwrap(),
            unique: vec![keys::record_id(id)],
            index: vec![keys::consent_secret(id, secret)],
            listed: vec![
                keys::consent_events(id),
                keys::controller_consents(controller),
            ],
            sidecar: Some(
                PrivateSidecar::statement(&salt, envelope)
                    .to_bytes()
                    .unwrap(),
            ),
            ..AppendRequest::default()
        })
        .await
        .unwrap();
    (id, appended.index, secret.to_owned())
}

/// Appends an access record citing `consent` whose accessor statement repeats a key.
async fn append_unreadable_access<S>(w: &World<S>, consent: Uuid) -> u64 {
    let accessor = Uuid::parse_str(&w.lab.id).unwrap();
    let payload = format!(
        r#"{{"dataset_id":"{}","dataset_id":"{}","action":"query","purpose":{{"code":"cohort-2027"}},"legal_basis":"consent","consent_ids":["{consent}"],"issued_at":"{}","nonce":"{}"}}"#,
        w.dataset,
        Uuid::new_v4(),
        chrono::Utc::now().to_rfc3339(),
        nonce()
    );
    let statement = Envelope::sign(
        datapole::statement::access::ACCESS_TYPE,
        payload.as_bytes(),
        &w.lab.id,
        &w.lab.key,
    );
    let id = Uuid::new_v4();
    let now = chrono::Utc::now();
    let record = AccessRecord {
        v: 1,
        id,
        accessor,
        statement,
        decision: Verdict::Deny,
        reason: Reason::UnknownConsent,
        consent_id: Some(consent),
        emergency: false,
        overridden: None,
        evaluated_at_size: w.log.latest().size,
        decided_at: time(now),
    };
    let document = record.to_bytes().unwrap();
    let salt = [9u8; 32];
    let leaf = RecordLeaf::new(RecordKind::Access, id, accessor, now, &salt, &document);
    w.log
        .append(AppendRequest {
            entry: leaf.to_bytes().unwrap(),
            unique: vec![keys::record_id(id)],
            listed: vec![keys::consent_accesses(consent)],
            sidecar: Some(
                PrivateSidecar::document(&salt, &document)
                    .to_bytes()
                    .unwrap(),
            ),
            ..AppendRequest::default()
        })
        .await
        .unwrap()
        .index
}

#[actix_web::test]
async fn unreadable_records_are_reported_and_the_citizen_can_still_withdraw() {
    let w = world!();
    let (good, _, good_secret) = record(&w).await;
    let good_id = Uuid::parse_str(&good).unwrap();
    let (bad, bad_index, bad_secret) = append_unreadable_consent(&w).await;

    // The consent reads as unreadable, for the citizen, its controller and an auditor.
    for token in [bad_secret.as_str(), &w.chu.token, &w.auditor.token] {
        let (status, _, v) = call(&w.app, get(&format!("/v1/consents/{bad}"), token)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "unreadable", "{v}");
        assert!(v.get("record").is_none(), "{v}");
        assert!(v["unreadable"].as_str().unwrap().contains("cannot be read"));
        assert_eq!(v["events"].as_array().unwrap().len(), 1);
    }

    // No access is permitted on it: the decision says why.
    let access = json!({"dataset_id": w.dataset, "action": "query",
        "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
        "consent_ids": [bad.to_string()], "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce()});
    let (status, _, v) = call(
        &w.app,
        post(
            "/v1/accesses",
            w.lab
                .sign(datapole::statement::access::ACCESS_TYPE, &access),
        ),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["reason"], "consent_unreadable");

    // Accesses citing the good consent, one of them unreadable, between two readable ones.
    let cite = |consent: &str| {
        json!({"dataset_id": w.dataset, "action": "query",
            "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
            "consent_ids": [consent], "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce()})
    };
    let (status, _, v) = call(
        &w.app,
        post(
            "/v1/accesses",
            w.lab
                .sign(datapole::statement::access::ACCESS_TYPE, &cite(&good)),
        ),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let broken = append_unreadable_access(&w, good_id).await;
    let (status, _, v) = call(
        &w.app,
        post(
            "/v1/accesses",
            w.lab
                .sign(datapole::statement::access::ACCESS_TYPE, &cite(&good)),
        ),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    for token in [good_secret.as_str(), &w.chu.token, &w.auditor.token] {
        let (status, _, v) =
            call(&w.app, get(&format!("/v1/consents/{good}/accesses"), token)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["accesses"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(v["accesses"][0]["decision"], "permit");
        let unreadable = v["unreadable"].as_array().unwrap();
        assert_eq!(unreadable.len(), 1, "{v}");
        assert_eq!(unreadable[0]["index"], broken);
        assert_eq!(v["truncated"], false);
    }

    // The controller's listing goes on past the unreadable consent.
    let (status, _, v) = call(
        &w.app,
        get(
            &format!("/v1/consents?controller={}", w.chu.id),
            &w.chu.token,
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let listed: Vec<(&str, &str)> = v["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["consent_id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (good.as_str(), "given"),
            (bad.to_string().as_str(), "unreadable")
        ]
    );

    // The citizen withdraws it, then erases it: the one promise the receipt exists for.
    let (status, _, v) = call(
        &w.app,
        post(&format!("/v1/consents/{bad}/withdraw"), Vec::new())
            .insert_header(("authorization", format!("Bearer {bad_secret}"))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"], "withdrawn");
    let (_, _, v) = call(&w.app, get(&format!("/v1/consents/{bad}"), &bad_secret)).await;
    assert_eq!(v["status"], "withdrawn");
    let (status, _, v) = call(
        &w.app,
        post(&format!("/v1/consents/{bad}/erase"), Vec::new())
            .insert_header(("authorization", format!("Bearer {bad_secret}"))),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert!(w.log.store().sidecar(bad_index).unwrap().is_none());
}
