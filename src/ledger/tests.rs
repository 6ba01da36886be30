//! The ledger's rules, each checked on the in-memory store without a server: what is
//! accepted, what is refused with which code, and that a refusal writes nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::prelude::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use uuid::Uuid;

use super::consents::Credential;
use super::keys;
use super::Ledger;
use crate::consent::{RecordKind, Status};
use crate::decision::{Reason, Verdict};
use crate::entry::Entry;
use crate::error::Code;
use crate::log::{LogSigner, MemoryStore, Sequencer, SequencerConfig, Store};
use crate::participant::{RegistrationRequest, Role};
use crate::statement::access::ACCESS_TYPE;
use crate::statement::consent::{CONSENT_TYPE, WITHDRAWAL_TYPE};
use crate::statement::deposit::DEPOSIT_TYPE;
use crate::statement::dsse::Envelope;

/// A ledger on a memory store, and a participant of each role.
struct World {
    ledger: Ledger,
    store: Arc<MemoryStore>,
    hospital: Who,
    controller: Who,
    lab: Who,
    auditor: Who,
}

/// A registered participant.
struct Who {
    id: Uuid,
    key: SigningKey,
    token: String,
}

/// The code of a refusal (the answers need no `Debug`).
trait Refusal {
    fn refusal(self) -> Code;
}

impl<T> Refusal for Result<T, crate::error::Error> {
    fn refusal(self) -> Code {
        match self {
            Ok(_) => panic!("accepted; a refusal was expected"),
            Err(e) => e.code(),
        }
    }
}

static NONCES: AtomicU64 = AtomicU64::new(0);

fn nonce() -> String {
    format!(
        "ledger-test-nonce-{:08}",
        NONCES.fetch_add(1, Ordering::Relaxed)
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn sha_hex(data: &[u8]) -> String {
    use sha2::Digest;
    crate::field::hex(&sha2::Sha256::digest(data))
}

impl Who {
    fn sign(&self, payload_type: &str, payload: &Value) -> Vec<u8> {
        Envelope::sign(
            payload_type,
            payload.to_string().as_bytes(),
            &self.id.to_string(),
            &self.key,
        )
        .to_bytes()
        .unwrap()
    }
}

async fn world() -> World {
    world_with(None).await
}

async fn world_with(archive: Option<Arc<crate::archive::Archive>>) -> World {
    let (skey, _) = LogSigner::generate("test.example/log").unwrap();
    let signer = LogSigner::from_skey(&skey, None).unwrap();
    let store = Arc::new(MemoryStore::new());
    let (log, _thread) =
        Sequencer::start(store.clone(), signer, SequencerConfig::default()).unwrap();
    let mut ledger = Ledger::new(log);
    if let Some(a) = archive {
        ledger = ledger.with_archive(a);
    }
    let mut next = 1u8;
    let mut who = |roles: Vec<Role>| {
        let key = SigningKey::from_bytes(&[next; 32]);
        next += 1;
        let request = RegistrationRequest {
            name: format!("participant {next}"),
            roles,
            public_key: BASE64_STANDARD.encode(key.verifying_key().as_bytes()),
        };
        (key, request)
    };
    let mut register = Vec::new();
    for roles in [
        vec![Role::Depositor, Role::Controller],
        vec![Role::Controller],
        vec![Role::Accessor],
        vec![Role::Auditor],
    ] {
        let (key, request) = who(roles);
        let (registered, _) = ledger.register(request).await.unwrap();
        register.push(Who {
            id: registered.participant_id,
            key,
            token: registered.api_token,
        });
    }
    let mut it = register.into_iter();
    World {
        ledger,
        store,
        hospital: it.next().unwrap(),
        controller: it.next().unwrap(),
        lab: it.next().unwrap(),
        auditor: it.next().unwrap(),
    }
}

fn deposit_payload(content: &[u8], visibility: &str) -> Value {
    json!({
        "sha256": sha_hex(content),
        "size": content.len(),
        "media_type": "text/csv",
        "title": "a dataset",
        "visibility": visibility,
        "issued_at": now(),
        "nonce": nonce(),
    })
}

fn consent_payload(dataset: Uuid, recipient: Uuid) -> Value {
    json!({
        "subject_ref": format!("hmac-sha256:{}", &sha_hex(nonce().as_bytes())[..32]),
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {"url": "https://chu.example/notice", "sha256": sha_hex(b"notice"),
                   "version": "3", "language": "fr-FR"},
        "purposes": [{"code": "cohort-2027", "text": "Étude de cohorte"}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health"],
        "special_category": true,
        "datasets": [dataset],
        "recipients": [recipient],
        "jurisdiction": "FR",
        "storage_location": "FR",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/withdraw",
        "decision": "given",
        "issued_at": now(),
        "nonce": nonce(),
    })
}

fn access_payload(dataset: Uuid, consent: Uuid, purpose: &str) -> Value {
    json!({
        "dataset_id": dataset,
        "action": "query",
        "purpose": {"code": purpose},
        "legal_basis": "consent",
        "consent_ids": [consent],
        "issued_at": now(),
        "nonce": nonce(),
    })
}

/// The store's size now (entries written, published or not).
fn size(w: &World) -> u64 {
    w.store.checkpoint().unwrap().unwrap().size
}

/// Asserts the refusal's code and that it wrote nothing.
async fn refused<T, F>(w: &World, code: Code, write: F)
where
    F: std::future::Future<Output = Result<T, crate::error::Error>>,
{
    let before = size(w);
    match write.await {
        Ok(_) => panic!("accepted; expected {code}"),
        Err(e) => assert_eq!(e.code(), code, "{e}"),
    }
    assert_eq!(size(w), before, "a refused write changed the log");
}

/// A public dataset of the hospital, controlled by `controller`.
async fn dataset(w: &World, content: &[u8], controller: Option<Uuid>) -> Uuid {
    let mut p = deposit_payload(content, "public");
    if let Some(c) = controller {
        p["controller"] = json!(c);
    }
    let (accepted, written) = w
        .ledger
        .deposit(&w.hospital.sign(DEPOSIT_TYPE, &p))
        .await
        .unwrap();
    assert!(written.is_some());
    accepted.dataset_id
}

#[tokio::test]
async fn a_registration_is_an_entry_and_a_key_registers_once() {
    let w = world().await;
    let view = w.ledger.view();
    let (index, leaf) = w.ledger.participant(&view, w.lab.id).unwrap().unwrap();
    assert!(matches!(
        view.entry(index).unwrap().unwrap().entry,
        Ok(Entry::Participant(_))
    ));
    assert_eq!(leaf.roles, vec![Role::Accessor]);
    assert_eq!(
        w.ledger.authenticate(&view, &w.lab.token).unwrap().id,
        w.lab.id
    );
    assert_eq!(
        w.ledger.authenticate(&view, "dpt_wrong").refusal(),
        Code::Unauthorized
    );
    let again = RegistrationRequest {
        name: "again".into(),
        roles: vec![Role::Depositor],
        public_key: BASE64_STANDARD.encode(w.lab.key.verifying_key().as_bytes()),
    };
    refused(&w, Code::DuplicateKey, w.ledger.register(again)).await;
    let bad = RegistrationRequest {
        name: "".into(),
        roles: vec![Role::Depositor],
        public_key: "AA==".into(),
    };
    refused(&w, Code::InvalidField, w.ledger.register(bad)).await;
}

#[tokio::test]
async fn versions_follow_and_a_duplicate_answers_with_the_existing_entry() {
    let w = world().await;
    let first = w
        .ledger
        .deposit(
            &w.hospital
                .sign(DEPOSIT_TYPE, &deposit_payload(b"v1", "private")),
        )
        .await
        .unwrap()
        .0;
    assert_eq!(first.version, 1);
    assert!(!first.duplicate);
    // The depositor's receipt opens its private statement, built without a read-back.
    assert!(first.receipt.statement.is_some() && first.receipt.opening.is_some());
    let mut p = deposit_payload(b"v2", "private");
    p["dataset_id"] = json!(first.dataset_id);
    let second = w
        .ledger
        .deposit(&w.hospital.sign(DEPOSIT_TYPE, &p))
        .await
        .unwrap()
        .0;
    assert_eq!((second.dataset_id, second.version), (first.dataset_id, 2));
    // The same content again: the existing entry, no new one, and no opening for a replay.
    let before = size(&w);
    let (again, written) = w
        .ledger
        .deposit(
            &w.hospital
                .sign(DEPOSIT_TYPE, &deposit_payload(b"v1", "private")),
        )
        .await
        .unwrap();
    assert!(again.duplicate && written.is_none());
    assert_eq!(again.index, first.index);
    assert!(again.receipt.opening.is_none());
    assert_eq!(size(&w), before);
    let listed = w.ledger.dataset(first.dataset_id, None, 1).unwrap();
    assert_eq!(listed.versions.len(), 1);
    assert!(listed.truncated);
    let rest = w.ledger.dataset(first.dataset_id, Some(1), 10).unwrap();
    assert_eq!(rest.versions[0].version, 2);
    assert!(!rest.truncated);
}

#[tokio::test]
async fn deposits_are_refused_by_rule() {
    let w = world().await;
    let mine = dataset(&w, b"mine", None).await;
    // A statement replayed.
    let signed = w
        .hospital
        .sign(DEPOSIT_TYPE, &deposit_payload(b"once", "public"));
    w.ledger.deposit(&signed).await.unwrap();
    refused(&w, Code::Replayed, w.ledger.deposit(&signed)).await;
    // Stale.
    let mut p = deposit_payload(b"stale", "public");
    p["issued_at"] = json!("2020-01-01T00:00:00Z");
    refused(
        &w,
        Code::StaleStatement,
        w.ledger.deposit(&w.hospital.sign(DEPOSIT_TYPE, &p)),
    )
    .await;
    // Signed by a participant without the depositor role.
    let p = deposit_payload(b"lab", "public");
    refused(
        &w,
        Code::ForbiddenRole,
        w.ledger.deposit(&w.lab.sign(DEPOSIT_TYPE, &p)),
    )
    .await;
    // Signed with another key than the one registered for the keyid.
    let forged = Envelope::sign(
        DEPOSIT_TYPE,
        deposit_payload(b"forged", "public").to_string().as_bytes(),
        &w.hospital.id.to_string(),
        &w.lab.key,
    )
    .to_bytes()
    .unwrap();
    refused(&w, Code::BadSignature, w.ledger.deposit(&forged)).await;
    // Another endpoint's statement type.
    let p = deposit_payload(b"type", "public");
    refused(
        &w,
        Code::MalformedEnvelope,
        w.ledger.deposit(&w.hospital.sign(CONSENT_TYPE, &p)),
    )
    .await;
    // Rules on the deposit's place: each case changes a fresh payload.
    type Change = Box<dyn Fn(&mut Value)>;
    let (controller, lab) = (w.controller.id, w.lab.id);
    let cases: Vec<(&str, Change, Code)> = vec![
        (
            "a version of a dataset that does not exist",
            Box::new(|p| p["dataset_id"] = json!(Uuid::new_v4())),
            Code::DatasetNotFound,
        ),
        (
            "the controller is fixed by the first version",
            Box::new(move |p| {
                p["dataset_id"] = json!(mine);
                p["controller"] = json!(controller);
            }),
            Code::ControllerMismatch,
        ),
        (
            "a controller must be a registered controller",
            Box::new(move |p| p["controller"] = json!(lab)),
            Code::UnknownController,
        ),
        (
            "the same content under another controller is not the same deposit",
            Box::new(move |p| {
                p["sha256"] = json!(sha_hex(b"mine"));
                p["size"] = json!(4);
                p["controller"] = json!(controller);
            }),
            Code::DuplicateContent,
        ),
    ];
    for (case, change, code) in cases {
        let mut p = deposit_payload(case.as_bytes(), "public");
        change(&mut p);
        let before = size(&w);
        let answer = w.ledger.deposit(&w.hospital.sign(DEPOSIT_TYPE, &p)).await;
        assert_eq!(answer.refusal(), code, "{case}");
        assert_eq!(size(&w), before, "{case}: a refused write changed the log");
    }
    // A payload with a key twice is refused with its path.
    let twice = br#"{"sha256":"00","sha256":"11"}"#;
    let env = Envelope::sign(
        DEPOSIT_TYPE,
        twice,
        &w.hospital.id.to_string(),
        &w.hospital.key,
    )
    .to_bytes()
    .unwrap();
    refused(&w, Code::InvalidField, w.ledger.deposit(&env)).await;
}

#[tokio::test]
async fn a_consent_lives_and_ends_by_its_citizen_or_its_controller() {
    let w = world().await;
    let ds = dataset(&w, b"cohort", Some(w.controller.id)).await;
    // A consent may cover only its controller's datasets, for registered accessors.
    let theirs = consent_payload(ds, w.lab.id);
    refused(
        &w,
        Code::DatasetNotControlled,
        w.ledger
            .record_consent(&w.hospital.sign(CONSENT_TYPE, &theirs)),
    )
    .await;
    let p = consent_payload(ds, w.auditor.id);
    refused(
        &w,
        Code::UnknownRecipient,
        w.ledger
            .record_consent(&w.controller.sign(CONSENT_TYPE, &p)),
    )
    .await;
    let p = consent_payload(Uuid::new_v4(), w.lab.id);
    refused(
        &w,
        Code::UnknownDataset,
        w.ledger
            .record_consent(&w.controller.sign(CONSENT_TYPE, &p)),
    )
    .await;
    let mut p = consent_payload(ds, w.lab.id);
    p["subject_ref"] = json!("jean.dupont@example.fr");
    refused(
        &w,
        Code::IdentifierNotPseudonymous,
        w.ledger
            .record_consent(&w.controller.sign(CONSENT_TYPE, &p)),
    )
    .await;

    let (receipt, _) = w
        .ledger
        .record_consent(
            &w.controller
                .sign(CONSENT_TYPE, &consent_payload(ds, w.lab.id)),
        )
        .await
        .unwrap();
    assert_eq!(receipt.status, Status::Given);
    let id = receipt.consent_id;
    let secret = receipt.citizen_secret.clone();
    // Read by its citizen, its controller and an auditor; by nobody else, one answer for all.
    for token in [&secret, &w.controller.token, &w.auditor.token] {
        assert_eq!(
            w.ledger.consent(Some(token), id).unwrap().status,
            Status::Given
        );
    }
    for token in [
        Some("wrong"),
        Some(w.lab.token.as_str()),
        Some(w.hospital.token.as_str()),
        None,
    ] {
        assert_eq!(w.ledger.consent(token, id).refusal(), Code::Unauthorized);
    }
    assert_eq!(
        w.ledger.consent(Some(&secret), Uuid::new_v4()).refusal(),
        Code::Unauthorized
    );
    // Another controller's withdrawal statement: the same answer as no consent at all.
    let stmt = json!({"consent_id": id, "issued_at": now(), "nonce": nonce()});
    refused(
        &w,
        Code::ConsentNotFound,
        w.ledger.end_consent(
            Credential::Statement(&w.hospital.sign(WITHDRAWAL_TYPE, &stmt)),
            id,
            RecordKind::Withdrawal,
        ),
    )
    .await;
    // A statement about another consent than the path's.
    let stmt = json!({"consent_id": Uuid::new_v4(), "issued_at": now(), "nonce": nonce()});
    refused(
        &w,
        Code::ConsentMismatch,
        w.ledger.end_consent(
            Credential::Statement(&w.controller.sign(WITHDRAWAL_TYPE, &stmt)),
            id,
            RecordKind::Withdrawal,
        ),
    )
    .await;
    // The citizen withdraws, once.
    let (withdrawn, _) = w
        .ledger
        .end_consent(Credential::Token(Some(&secret)), id, RecordKind::Withdrawal)
        .await
        .unwrap();
    assert_eq!(withdrawn.status, Status::Withdrawn);
    refused(
        &w,
        Code::AlreadyWithdrawn,
        w.ledger
            .end_consent(Credential::Token(Some(&secret)), id, RecordKind::Withdrawal),
    )
    .await;
    // The controller erases it; nothing can end it again, and its record is gone.
    let stmt = json!({"consent_id": id, "issued_at": now(), "nonce": nonce()});
    let erase = w
        .controller
        .sign(crate::statement::consent::ERASURE_TYPE, &stmt);
    let (erased, _) = w
        .ledger
        .end_consent(Credential::Statement(&erase), id, RecordKind::Erasure)
        .await
        .unwrap();
    assert_eq!(erased.status, Status::Erased);
    refused(
        &w,
        Code::AlreadyErased,
        w.ledger
            .end_consent(Credential::Token(Some(&secret)), id, RecordKind::Erasure),
    )
    .await;
    let view = w.ledger.consent(Some(&secret), id).unwrap();
    assert_eq!(view.status, Status::Erased);
    assert!(view.record.is_none());
    assert_eq!(view.events.len(), 3);
    // The controller's listing shows it with its status now.
    let list = w
        .ledger
        .consents_of(&w.controller.token, w.controller.id, None, 10)
        .unwrap();
    assert_eq!(list.consents.len(), 1);
    assert_eq!(list.consents[0].status, Status::Erased);
    assert_eq!(
        w.ledger
            .consents_of(&w.lab.token, w.controller.id, None, 10)
            .refusal(),
        Code::ForbiddenRole
    );
}

#[tokio::test]
async fn a_refused_consent_cannot_be_withdrawn() {
    let w = world().await;
    let ds = dataset(&w, b"refused", Some(w.controller.id)).await;
    let mut p = consent_payload(ds, w.lab.id);
    p["decision"] = json!("refused");
    let (receipt, _) = w
        .ledger
        .record_consent(&w.controller.sign(CONSENT_TYPE, &p))
        .await
        .unwrap();
    assert_eq!(receipt.status, Status::Refused);
    refused(
        &w,
        Code::ConsentNotGiven,
        w.ledger.end_consent(
            Credential::Token(Some(&receipt.citizen_secret)),
            receipt.consent_id,
            RecordKind::Withdrawal,
        ),
    )
    .await;
}

#[tokio::test]
async fn an_access_is_decided_on_the_consents_and_recorded_permit_or_deny() {
    let w = world().await;
    let ds = dataset(&w, b"decided", Some(w.controller.id)).await;
    let (consent, _) = w
        .ledger
        .record_consent(
            &w.controller
                .sign(CONSENT_TYPE, &consent_payload(ds, w.lab.id)),
        )
        .await
        .unwrap();
    let id = consent.consent_id;
    let decide = |purpose: &str| w.lab.sign(ACCESS_TYPE, &access_payload(ds, id, purpose));

    let (permit, written) = w
        .ledger
        .decide_access(&decide("cohort-2027"))
        .await
        .unwrap();
    assert_eq!(
        (permit.decision, permit.reason),
        (Verdict::Permit, Reason::Consented)
    );
    assert!(permit.error.is_none());
    assert_eq!(written.index, permit.index);
    // A deny is an entry too, with its reason.
    let before = size(&w);
    let (deny, _) = w.ledger.decide_access(&decide("marketing")).await.unwrap();
    assert_eq!(
        (deny.decision, deny.reason),
        (Verdict::Deny, Reason::PurposeNotConsented)
    );
    assert_eq!(deny.error.as_ref().unwrap().code, "purpose_not_consented");
    assert_eq!(size(&w), before + 1);
    // After the withdrawal, the same access is denied.
    w.ledger
        .end_consent(
            Credential::Token(Some(&consent.citizen_secret)),
            id,
            RecordKind::Withdrawal,
        )
        .await
        .unwrap();
    let (after, _) = w
        .ledger
        .decide_access(&decide("cohort-2027"))
        .await
        .unwrap();
    assert_eq!(after.reason, Reason::ConsentWithdrawn);
    // Only accessors decide; a controller's statement is refused and writes nothing.
    let p = access_payload(ds, id, "cohort-2027");
    refused(
        &w,
        Code::ForbiddenRole,
        w.ledger.decide_access(&w.controller.sign(ACCESS_TYPE, &p)),
    )
    .await;
    // The citizen sees every decision that cited the consent, each with its receipt.
    let list = w
        .ledger
        .accesses_of(Some(&consent.citizen_secret), id, None, 10)
        .unwrap();
    assert_eq!(list.accesses.len(), 3);
    assert!(list.accesses.iter().all(|a| a.receipt.opening.is_some()));
    let page = w
        .ledger
        .accesses_of(Some(&consent.citizen_secret), id, None, 2)
        .unwrap();
    assert!(page.truncated);
    let rest = w
        .ledger
        .accesses_of(
            Some(&consent.citizen_secret),
            id,
            Some(page.accesses[1].index),
            2,
        )
        .unwrap();
    assert_eq!(rest.accesses.len(), 1);
    assert_eq!(
        w.ledger.accesses_of(Some("wrong"), id, None, 10).refusal(),
        Code::Unauthorized
    );
}

#[tokio::test]
async fn a_receipt_opens_only_for_its_owner_and_auditors() {
    let w = world().await;
    let (accepted, _) = w
        .ledger
        .deposit(
            &w.hospital
                .sign(DEPOSIT_TYPE, &deposit_payload(b"secret", "private")),
        )
        .await
        .unwrap();
    let view = w.ledger.view();
    let reader = |token: &str| Some(w.ledger.authenticate(&view, token).unwrap());
    let index = accepted.index;
    let anyone = w.ledger.receipt(index, None).unwrap();
    assert!(anyone.statement.is_none() && anyone.opening.is_none() && anyone.signer.is_none());
    let lab = w
        .ledger
        .receipt(index, reader(&w.lab.token).as_ref())
        .unwrap();
    assert!(lab.opening.is_none());
    for token in [&w.hospital.token, &w.auditor.token] {
        let opened = w.ledger.receipt(index, reader(token).as_ref()).unwrap();
        assert!(opened.statement.is_some() && opened.opening.is_some());
        // The receipt read back is the one the deposit answered with, proof aside.
        assert_eq!(opened.leaf, accepted.receipt.leaf);
        assert_eq!(opened.statement, accepted.receipt.statement);
    }
    assert_eq!(
        w.ledger.receipt(view.size(), None).refusal(),
        Code::EntryNotFound
    );
}

#[tokio::test]
async fn a_view_sees_nothing_beyond_its_checkpoint() {
    let w = world().await;
    let view = w.ledger.view();
    let seen = view.size();
    dataset(&w, b"later", None).await;
    // The older view still ends where it began; a new one sees the deposit.
    assert!(view.bytes(seen).unwrap().is_none());
    assert!(view.entry(seen).unwrap().is_none());
    assert!(w.ledger.view().bytes(seen).unwrap().is_some());
    let narrowed = w.ledger.view().narrowed(1);
    assert_eq!(narrowed.size(), 1);
    assert!(narrowed.bytes(1).unwrap().is_none());
}

/// Nonces are kept only while a replay of their statement could still be fresh: pruning at a
/// time past the window (and its margin) hands their keys to the next batch, which removes
/// them with their expiry keys; a pruning within the window removes nothing.
#[tokio::test]
async fn stale_nonces_are_forgotten_with_the_next_batch() {
    let w = world().await;
    let a = dataset(&w, b"pruned nonce", None).await;
    let nonces = |w: &World| {
        w.store
            .scan(keys::NONCE, &[], None, usize::MAX)
            .unwrap()
            .len()
    };
    let expiries = |w: &World| {
        w.store
            .scan(keys::NONCE_EXPIRY, &[], None, usize::MAX)
            .unwrap()
    };
    assert_eq!(nonces(&w), 1);
    let listed = expiries(&w);
    assert_eq!(listed.len(), 1);
    let (expires, key) = keys::expired_nonce(&listed[0].0).unwrap();
    assert_eq!(w.store.lookup(&key).unwrap(), Some(listed[0].1));
    let now = chrono::Utc::now();
    assert!(expires as i64 <= (now + chrono::Duration::minutes(5)).timestamp() + 1);

    // Within the window (and its margin): nothing goes.
    assert_eq!(w.ledger.prune_nonces(now, 100).unwrap(), 0);
    assert_eq!(
        w.ledger
            .prune_nonces(now + chrono::Duration::minutes(14), 100)
            .unwrap(),
        0
    );
    // Past it: the nonce goes with the next batch, not before.
    let later = now + chrono::Duration::minutes(16);
    assert_eq!(w.ledger.prune_nonces(later, 100).unwrap(), 1);
    assert_eq!(nonces(&w), 1, "still there until a batch takes it");
    let before = size(&w);
    let b = dataset(&w, b"next batch", Some(w.controller.id)).await;
    assert_ne!(a, b);
    assert_eq!(before + 1, size(&w));
    // The first deposit's nonce and expiry keys are gone; the new deposit's are there.
    let left = expiries(&w);
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].0, listed[0].0);
    assert_eq!(w.store.lookup(&key).unwrap(), None);
    assert_eq!(nonces(&w), 1);
}

/// An archive over two directory locations under `dir`.
fn archive_in(dir: &std::path::Path) -> Arc<crate::archive::Archive> {
    let locations = [
        ("disk1".to_owned(), dir.join("disk1")),
        ("disk2".to_owned(), dir.join("disk2")),
    ];
    Arc::new(
        crate::archive::Archive::open_dirs(
            dir,
            &locations,
            crate::archive::vault::Limits::default(),
        )
        .unwrap(),
    )
}

/// Uploads `content` through the ledger's archive path; answers the storage entry's index
/// and the object id.
async fn archived(w: &World, content: &[u8], visibility: &str) -> (u64, uuid::Uuid, Uuid, u64) {
    let body = w
        .hospital
        .sign(DEPOSIT_TYPE, &deposit_payload(content, visibility));
    let opened = w.ledger.open_upload(&w.hospital.token, &body).unwrap();
    let handle = w
        .ledger
        .upload(&w.hospital.token, opened.upload_id)
        .unwrap();
    let mut session = handle.try_lock_owned().unwrap();
    session.append(content).unwrap();
    session.sync().unwrap();
    let (done, _) = w.ledger.complete_upload(session).await.unwrap();
    (
        done.object.custody.index,
        done.object.object_id,
        done.deposit.dataset_id,
        done.deposit.version,
    )
}

#[tokio::test]
async fn a_private_object_s_key_goes_with_its_disposal() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(Some(archive_in(dir.path()))).await;
    let (storage, object, dataset, version) =
        archived(&w, b"private bytes to archive", "private").await;
    let key = w
        .store
        .sidecar(storage)
        .unwrap()
        .expect("the object's key, sealed beside its entry");
    assert!(crate::archive::ObjectKey::from_bytes(&key).is_ok());
    for disk in ["disk1", "disk2"] {
        assert!(dir
            .path()
            .join(disk)
            .join("objects")
            .join(object.to_string())
            .exists());
    }
    let hospital = w
        .ledger
        .authenticate(&w.ledger.view(), &w.hospital.token)
        .unwrap();
    w.ledger
        .dispose(
            super::archive::Disposer::Depositor(&hospital),
            dataset,
            version,
        )
        .await
        .unwrap();
    assert!(
        w.store.sidecar(storage).unwrap().is_none(),
        "the key is destroyed"
    );
    for disk in ["disk1", "disk2"] {
        assert!(!dir
            .path()
            .join(disk)
            .join("objects")
            .join(object.to_string())
            .exists());
    }
}

#[tokio::test]
async fn start_up_commits_a_logged_object_and_discards_an_unlogged_one_left_in_incoming() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_in(dir.path());
    let w = world_with(Some(archive.clone())).await;
    let (_, object, dataset, version) = archived(&w, b"logged bytes", "public").await;
    // As if the crash came between the storage entry and the commit: the copies are back in
    // incoming/ and not committed.
    for disk in ["disk1", "disk2"] {
        let root = dir.path().join(disk);
        let committed = root.join("objects").join(object.to_string());
        let mut perms = std::fs::metadata(&committed).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&committed, perms).unwrap();
        std::fs::rename(&committed, root.join("incoming").join(object.to_string())).unwrap();
        std::fs::remove_file(root.join("objects").join(format!("{object}.lock"))).unwrap();
    }
    // And an object whose entry never made it to the log.
    let stray = crate::archive::ObjectId::new();
    for loc in archive.locations() {
        loc.write_incoming(stray, &mut &b"never logged"[..])
            .unwrap();
    }
    w.ledger.reconcile_archive().unwrap();
    for loc in archive.locations() {
        assert_eq!(loc.incoming().unwrap(), Vec::new(), "{}", loc.name());
        assert_eq!(
            loc.objects().unwrap(),
            vec![crate::archive::ObjectId::from(object)],
            "{}",
            loc.name()
        );
    }
    let download = w
        .ledger
        .download(&w.hospital.token, dataset, version, None, None)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut { download.reader }, &mut bytes).unwrap();
    assert_eq!(bytes, b"logged bytes");
}

#[tokio::test]
async fn the_retention_policy_disposes_of_what_has_expired_and_is_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with(Some(archive_in(dir.path()))).await;
    let mut expiring = deposit_payload(b"kept one day", "public");
    expiring["retention"] = json!("P1D");
    let body = w.hospital.sign(DEPOSIT_TYPE, &expiring);
    let opened = w.ledger.open_upload(&w.hospital.token, &body).unwrap();
    let handle = w
        .ledger
        .upload(&w.hospital.token, opened.upload_id)
        .unwrap();
    let mut session = handle.try_lock_owned().unwrap();
    session.append(b"kept one day").unwrap();
    let (done, _) = w.ledger.complete_upload(session).await.unwrap();
    let (_, _, forever, _) = archived(&w, b"no retention period", "public").await;
    let now = chrono::Utc::now();
    assert_eq!(w.ledger.dispose_expired(now).await.unwrap(), 0, "not yet");
    let later = now + chrono::Duration::days(2);
    w.ledger
        .legal_hold(done.deposit.dataset_id, 1, true, "case 1")
        .await
        .unwrap();
    assert_eq!(w.ledger.dispose_expired(later).await.unwrap(), 0, "held");
    w.ledger
        .legal_hold(done.deposit.dataset_id, 1, false, "case 1")
        .await
        .unwrap();
    assert_eq!(w.ledger.dispose_expired(later).await.unwrap(), 1);
    assert!(w
        .ledger
        .stored(done.deposit.dataset_id, 1)
        .unwrap()
        .unwrap()
        .disposed
        .is_some());
    assert!(w
        .ledger
        .stored(forever, 1)
        .unwrap()
        .unwrap()
        .disposed
        .is_none());
}
