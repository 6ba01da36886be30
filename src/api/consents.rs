//! Consents: `POST /v1/consents` (a controller's signed consent statement) answers with the
//! citizen's receipt and secret; with that secret, and nothing else, the citizen reads the
//! consent (`GET /v1/consents/{id}`), its accesses (`.../accesses`), withdraws it
//! (`.../withdraw`) and erases its off-log record (`.../erase`). The controller that recorded
//! a consent reads it with its participant token and withdraws or erases it with a signed
//! statement; auditors read every consent.
//!
//! A wrong secret, an unknown id and a participant who may not read the consent all get the
//! same 401: the answer does not tell a consent id's holder anything the public log does not.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::*;
use chrono::Utc;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::corrupt;
use super::deposits::published_dataset;
use super::log::Params;
use super::participants::{lookup_participant, token_key};
use super::receipts::{build_receipt, read_sidecar};
use super::statements::{check_fresh, parse_payload, read_statement};
use super::{bearer, off_reactor, Against, AppState, UnreadableEntry};
use crate::consent::{time, EventDocument, Initiator, Lifecycle, RecordKind, RecordLeaf, Status};
use crate::decision::{ConsentFacts, ConsentTerms};
use crate::error::{Code, Error};
use crate::log::sequencer::AppendError;
use crate::log::store::{Index, IndexKey};
use crate::log::AppendRequest;
use crate::participant::{ParticipantLeaf, Role};
use crate::receipt::{PrivateSidecar, Receipt};
use crate::statement::consent::{
    Consent, ConsentActionPayload, ConsentDecision, ConsentError, ConsentPayload, CONSENT_TYPE,
    ERASURE_TYPE, WITHDRAWAL_TYPE,
};
use crate::statement::dsse::Envelope;

/// The most accesses or consents a listing returns.
pub const MAX_LISTED: usize = 1000;

/// The citizen's receipt: the answer to `POST /v1/consents`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CitizenReceipt {
    /// The consent's id.
    pub consent_id: Uuid,
    /// Its entry's index in the log.
    pub index: u64,
    /// `given` or `refused`.
    pub status: Status,
    /// When the consent expires (RFC 3339).
    pub expires_at: String,
    /// The full consent record, as the controller signed it.
    pub record: ConsentPayload,
    /// The citizen's capability: `Authorization: Bearer <citizen_secret>` reads, withdraws
    /// and erases this consent. Shown once; the log keeps only its hash.
    pub citizen_secret: String,
    /// The log receipt, with the signed statement and the salt that open the entry's
    /// commitment: verifiable offline with `datapole verify`.
    pub receipt: Receipt,
}

/// One event of a consent's life.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsentEvent {
    /// `consent`, `withdrawal` or `erasure`.
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// The event's id.
    pub id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// When the log recorded it.
    pub time: String,
    /// Who initiated it (withdrawals and erasures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<Initiator>,
    /// Its receipt, opened while the off-log record exists.
    pub receipt: Receipt,
}

/// `GET /v1/consents/{id}`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsentView {
    /// The consent's id.
    pub consent_id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// The controller that recorded it.
    pub controller: Uuid,
    /// The controller's name.
    pub controller_name: String,
    /// The status now: `given`, `refused`, `withdrawn`, `expired`, `erased` or `unreadable`.
    pub status: Status,
    /// When the log recorded it.
    pub recorded_at: String,
    /// When it expires (absent once erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The full record (absent once erased, or when the store cannot read it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<ConsentPayload>,
    /// Why the record cannot be read, when the status is `unreadable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// Its events, in log order, each with its receipt.
    pub events: Vec<ConsentEvent>,
}

/// The answer to a withdrawal or an erasure.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsentEventRecorded {
    /// The consent.
    pub consent_id: Uuid,
    /// `withdrawal` or `erasure`.
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// The event's id.
    pub event_id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// The consent's status now.
    pub status: Status,
    /// Who initiated it.
    pub initiated_by: Initiator,
    /// The event's receipt, with what opens its commitment.
    pub receipt: Receipt,
}

/// A consent's off-log record, as the store holds it.
pub enum Record {
    /// Readable: the sidecar (statement and salt) and the payload.
    Open(PrivateSidecar, Box<ConsentPayload>),
    /// Erased.
    Erased,
    /// In the store but unreadable (a store fault, or a statement written before statements
    /// were parsed strictly): what is wrong. Nothing is permitted on it; it can still be
    /// withdrawn and erased.
    Unreadable(String),
}

/// A consent as loaded from the log and its off-log record.
pub struct Loaded {
    /// The consent entry's index.
    pub index: u64,
    /// Its leaf.
    pub leaf: RecordLeaf,
    /// Its record.
    pub record: Record,
    /// Its events (the consent itself first), with their indexes and who initiated them.
    pub events: Vec<(u64, RecordLeaf, Option<Initiator>)>,
    /// Its life so far.
    pub lifecycle: Lifecycle,
}

impl Loaded {
    /// The facts an access decision needs.
    pub fn facts(&self) -> ConsentFacts {
        ConsentFacts {
            lifecycle: self.lifecycle,
            terms: match &self.record {
                Record::Open(_, p) => Some(ConsentTerms {
                    issuer: self.leaf.issuer,
                    datasets: p.datasets.clone(),
                    purposes: p.purposes.iter().map(|p| p.code.clone()).collect(),
                    recipients: p.recipients.clone(),
                }),
                Record::Erased | Record::Unreadable(_) => None,
            },
        }
    }

    /// The record's payload, if it is readable.
    pub fn payload(&self) -> Option<&ConsentPayload> {
        match &self.record {
            Record::Open(_, p) => Some(p),
            Record::Erased | Record::Unreadable(_) => None,
        }
    }
}

fn read_record_leaf(state: &AppState, index: u64) -> Result<RecordLeaf, Error> {
    RecordLeaf::from_bytes(&state.entry(index)?)
        .ok_or_else(|| corrupt(format!("entry {index} is not a consent or access record")))
}

/// The most events a consent has: itself, a withdrawal and an erasure (each unique).
const MAX_EVENTS: usize = 3;

/// Loads consent `id` as the log's latest checkpoint shows it; `None` if there is none. A
/// record the store holds but cannot read is [`Record::Unreadable`], never an error.
pub fn load(state: &AppState, id: Uuid) -> Result<Option<Loaded>, Error> {
    load_at(state, id, state.log.latest().size)
}

/// [`load`] as the tree of `size` entries shows it: nothing at or beyond `size` is seen.
pub fn load_at(state: &AppState, id: Uuid, size: u64) -> Result<Option<Loaded>, Error> {
    let store = state.log.store();
    let Some(index) = store.lookup(&IndexKey::new(Index::RecordId, id.as_bytes().to_vec()))? else {
        return Ok(None);
    };
    if index >= size {
        return Ok(None);
    }
    let leaf = read_record_leaf(state, index)?;
    if leaf.kind != RecordKind::Consent {
        return Ok(None);
    }
    let recorded_at = leaf.at();
    let mut record = match read_sidecar(state, index)? {
        None => Record::Erased,
        Some(sidecar) => {
            let payload = match sidecar.statement.as_ref().map(|e| e.check()) {
                None => Err("it holds no signed statement".to_owned()),
                Some(Err(e)) => Err(e.to_string()),
                Some(Ok((p, _))) => {
                    ConsentPayload::from_statement_bytes(&p).map_err(|e| e.at("payload"))
                }
            };
            match payload {
                Ok(payload) => Record::Open(sidecar, Box::new(payload)),
                Err(why) => Record::Unreadable(format!(
                    "consent entry {index}: the signed statement in the store cannot be read \
                     ({why})"
                )),
            }
        }
    };
    let mut events = Vec::new();
    let (mut withdrawn_at, mut erased_at) = (None, None);
    for (_, event_index) in store.scan(Index::ConsentEvent, id.as_bytes(), None, MAX_EVENTS)? {
        if event_index >= size {
            continue;
        }
        let event = read_record_leaf(state, event_index)?;
        let at = event.at();
        let initiated_by = match event.kind {
            RecordKind::Consent => None,
            _ => Some(
                match read_sidecar(state, event_index)?.and_then(|s| s.statement) {
                    Some(_) => Initiator::Controller,
                    None => Initiator::Subject,
                },
            ),
        };
        match event.kind {
            RecordKind::Withdrawal => withdrawn_at = at,
            RecordKind::Erasure => erased_at = at,
            _ => {}
        }
        events.push((event_index, event, initiated_by));
    }
    let expires_at = match (&record, recorded_at) {
        (Record::Open(_, p), Some(at)) => p.expires_at(at),
        _ => None,
    };
    if matches!(record, Record::Open(..)) && expires_at.is_none() {
        record = Record::Unreadable(format!(
            "consent entry {index}: its time or validity cannot be read"
        ));
    }
    let epoch = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let lifecycle = match &record {
        Record::Open(_, p) => Lifecycle {
            decision: Some(p.decision),
            expires_at: expires_at.unwrap_or(epoch),
            withdrawn_at,
            erased_at,
        },
        // Erased: what the record said is gone, and the status is `erased` whatever it was.
        Record::Erased => Lifecycle {
            decision: None,
            expires_at: recorded_at.unwrap_or(epoch),
            withdrawn_at,
            erased_at: Some(erased_at.or(recorded_at).unwrap_or(epoch)),
        },
        Record::Unreadable(_) => Lifecycle {
            decision: None,
            expires_at: recorded_at.unwrap_or(epoch),
            withdrawn_at,
            erased_at,
        },
    };
    Ok(Some(Loaded {
        index,
        leaf,
        record,
        events,
        lifecycle,
    }))
}

/// The one answer to every failed consent read: unknown id, missing or wrong secret, or a
/// participant who may not read it.
fn unreadable() -> Error {
    Error::new(
        Code::Unauthorized,
        "no consent with this id is readable with these credentials",
    )
}

/// Who is reading or acting on a consent.
pub enum Reader {
    /// The citizen, with the receipt's secret.
    Citizen,
    /// A participant: the controller that recorded it, or an auditor.
    Participant(ParticipantLeaf),
}

fn secret_key(id: Uuid, secret: &str) -> IndexKey {
    IndexKey::new(
        Index::ConsentSecret,
        [id.as_bytes().as_slice(), &Sha256::digest(secret.as_bytes())].concat(),
    )
}

/// Whether `controller` recorded consent `id`, from the indexes alone (two lookups, no
/// record read): the consent's leaf index, then the controller's key for that leaf.
fn controls(state: &AppState, controller: Uuid, id: Uuid) -> Result<bool, Error> {
    let store = state.log.store();
    let size = state.log.latest().size;
    let Some(index) = store
        .lookup(&IndexKey::new(Index::RecordId, id.as_bytes().to_vec()))?
        .filter(|&i| i < size)
    else {
        return Ok(false);
    };
    let key = IndexKey::new(
        Index::ControllerConsent,
        [controller.as_bytes().as_slice(), &index.to_be_bytes()].concat(),
    );
    Ok(store.lookup(&key)? == Some(index))
}

/// Authorizes a request on consent `id` before anything of the consent is read: the
/// citizen's secret, or (if `participants`) the participant token of its controller or of an
/// auditor, decided from the indexes alone. An unknown consent, a wrong secret and a
/// participant who may not read it get the same 401, after the same reads.
fn authorize(
    state: &AppState,
    token: Option<&str>,
    id: Uuid,
    participants: bool,
) -> Result<Reader, Error> {
    let token = token.ok_or_else(unreadable)?;
    let store = state.log.store();
    let size = state.log.latest().size;
    if store
        .lookup(&secret_key(id, token))?
        .is_some_and(|i| i < size)
    {
        return Ok(Reader::Citizen);
    }
    if !participants {
        return Err(unreadable());
    }
    // The caller's own registration: a participant record, not the consent's.
    let participant = match store.lookup(&token_key(token))?.filter(|&i| i < size) {
        Some(i) => ParticipantLeaf::from_bytes(&state.entry(i)?),
        None => None,
    }
    .ok_or_else(unreadable)?;
    if participant.roles.contains(&Role::Auditor) || controls(state, participant.id, id)? {
        Ok(Reader::Participant(participant))
    } else {
        Err(unreadable())
    }
}

/// [`authorize`], then the consent: the same 401 if there is none.
fn authorize_and_load(
    state: &AppState,
    token: Option<&str>,
    id: Uuid,
    participants: bool,
) -> Result<Loaded, Error> {
    authorize(state, token, id, participants)?;
    load(state, id)?.ok_or_else(unreadable)
}

/// The request's bearer token, if it has a well-formed one.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    bearer(req).ok().map(str::to_owned)
}

fn parse_consent_id(id: &str) -> Result<Uuid, Error> {
    super::parse_uuid(Code::InvalidConsentId, id)
}

/// `POST /v1/consents`.
pub async fn record(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let signed = read_statement(&state, &req, body, CONSENT_TYPE, Role::Controller).await?;
    let payload: ConsentPayload = parse_payload(&signed.payload)?;
    let now = Utc::now();
    let consent = Consent::check(&payload, now).map_err(|e| match e {
        ConsentError::Invalid(f) => Error::invalid_field(format!("payload.{f}")),
        ConsentError::NotPseudonymous(_) => {
            Error::new(Code::IdentifierNotPseudonymous, format!("payload.{e}"))
        }
        ConsentError::Endless(_) => Error::new(Code::EndlessConsent, format!("payload.{e}")),
    })?;
    let controller = signed.signer.id;
    let nonce_key = check_fresh(&state, controller, &consent.freshness)?;
    for (k, recipient) in payload.recipients.iter().enumerate() {
        let known = lookup_participant(&state, *recipient)?
            .is_some_and(|(_, p)| p.roles.contains(&Role::Accessor));
        if !known {
            return Err(Error::new(
                Code::UnknownRecipient,
                format!("payload.recipients[{k}]: {recipient} is not a registered accessor"),
            ));
        }
    }
    for (k, dataset) in payload.datasets.iter().enumerate() {
        let Some(first) = published_dataset(&state, *dataset)? else {
            return Err(Error::new(
                Code::UnknownDataset,
                format!("payload.datasets[{k}]: no dataset {dataset} on the log"),
            ));
        };
        // A controller's consent covers only its own datasets (fixed by their first version).
        if first.controller() != controller {
            return Err(Error::new(
                Code::DatasetNotControlled,
                format!(
                    "payload.datasets[{k}]: dataset {dataset}'s controller is {}, not this \
                     controller: a consent may cover only its controller's own datasets",
                    first.controller()
                ),
            ));
        }
    }
    let id = Uuid::new_v4();
    let mut salt = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let citizen_secret = BASE64_URL_SAFE_NO_PAD.encode(secret);
    let leaf = RecordLeaf::new(
        RecordKind::Consent,
        id,
        controller,
        now,
        &salt,
        &signed.envelope.to_bytes(),
    );
    let recorded_at = leaf.at().unwrap_or(now);
    let appended = state
        .log
        .append(AppendRequest {
            entry: leaf.to_bytes(),
            unique: vec![
                nonce_key,
                IndexKey::new(Index::RecordId, id.as_bytes().to_vec()),
            ],
            index: vec![secret_key(id, &citizen_secret)],
            listed: vec![
                IndexKey::new(Index::ConsentEvent, id.as_bytes().to_vec()),
                IndexKey::new(Index::ControllerConsent, controller.as_bytes().to_vec()),
            ],
            sidecar: Some(PrivateSidecar::statement(&salt, signed.envelope.clone()).to_bytes()),
            ..AppendRequest::default()
        })
        .await?;
    tracing::info!(consent = %id, index = appended.index, "consent recorded");
    let (checkpoint, witnessed) = state.after_append(&appended).await;
    let against = Against {
        checkpoint: &checkpoint,
        witnessed,
    };
    let receipt = build_receipt(&state, appended.index, against, true)?;
    let status = match payload.decision {
        ConsentDecision::Given => Status::Given,
        ConsentDecision::Refused => Status::Refused,
    };
    Ok(
        HttpResponse::build(AppState::write_status(witnessed)).json(CitizenReceipt {
            consent_id: id,
            index: appended.index,
            status,
            expires_at: time(
                consent
                    .validity
                    .expires_at(recorded_at)
                    .unwrap_or(recorded_at),
            ),
            record: payload,
            citizen_secret,
            receipt,
        }),
    )
}

fn view(state: &AppState, loaded: Loaded) -> Result<ConsentView, Error> {
    let basis = state.receipt_basis();
    let mut events = Vec::with_capacity(loaded.events.len());
    for (index, event, initiated_by) in &loaded.events {
        events.push(ConsentEvent {
            kind: event.kind,
            id: event.id,
            index: *index,
            time: event.time.clone(),
            initiated_by: *initiated_by,
            receipt: build_receipt(state, *index, basis.against(*index), true)?,
        });
    }
    let controller_name = lookup_participant(state, loaded.leaf.issuer)?
        .map(|(_, p)| p.name)
        .unwrap_or_default();
    let recorded_at = loaded.leaf.at();
    let unreadable = match &loaded.record {
        Record::Unreadable(why) => Some(why.clone()),
        Record::Open(..) | Record::Erased => None,
    };
    Ok(ConsentView {
        consent_id: loaded.leaf.id,
        index: loaded.index,
        controller: loaded.leaf.issuer,
        controller_name,
        status: loaded.lifecycle.status_at(Utc::now()),
        recorded_at: loaded.leaf.time.clone(),
        expires_at: loaded
            .payload()
            .zip(recorded_at)
            .and_then(|(p, at)| p.expires_at(at))
            .map(time),
        record: match loaded.record {
            Record::Open(_, p) => Some(*p),
            Record::Erased | Record::Unreadable(_) => None,
        },
        unreadable,
        events,
    })
}

/// `GET /v1/consents/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    Params::new(query.into_inner(), &[])?;
    let id = parse_consent_id(&id)?;
    let token = bearer_token(&req);
    let view = off_reactor(&state, move |state| {
        view(
            state,
            authorize_and_load(state, token.as_deref(), id, true)?,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A controller's signed withdrawal or erasure of `loaded`, read from the request body.
async fn controller_statement(
    state: &AppState,
    req: &HttpRequest,
    body: web::Payload,
    id: Uuid,
    payload_type: &str,
) -> Result<(Envelope, IndexKey, Loaded), Error> {
    let signed = read_statement(state, req, body, payload_type, Role::Controller).await?;
    let payload: ConsentActionPayload = parse_payload(&signed.payload)?;
    let freshness = payload
        .check()
        .map_err(|e| Error::invalid_field(format!("payload.{e}")))?;
    if payload.consent_id != id {
        return Err(Error::new(
            Code::ConsentMismatch,
            format!(
                "payload.consent_id {} is not the consent in the path ({id})",
                payload.consent_id
            ),
        ));
    }
    let nonce = check_fresh(state, signed.signer.id, &freshness)?;
    // Authorized from the indexes before the consent is read; another controller's consent
    // and no consent get the same answer.
    let not_found = || {
        Error::new(
            Code::ConsentNotFound,
            format!("no consent {id} recorded by this controller"),
        )
    };
    if !controls(state, signed.signer.id, id)? {
        return Err(not_found());
    }
    let loaded = load(state, id)?.ok_or_else(not_found)?;
    Ok((signed.envelope, nonce, loaded))
}

/// Appends a withdrawal or erasure of consent `id`.
async fn end(
    state: &AppState,
    req: HttpRequest,
    body: web::Payload,
    id: Uuid,
    kind: RecordKind,
) -> Result<HttpResponse, Error> {
    let has_auth = req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION);
    let payload_type = if kind == RecordKind::Withdrawal {
        WITHDRAWAL_TYPE
    } else {
        ERASURE_TYPE
    };
    // The citizen sends the receipt's secret and nothing else; the controller a statement.
    let (statement, nonce, loaded) = if has_auth {
        let loaded = authorize_and_load(state, bearer_token(&req).as_deref(), id, false)?;
        (None, None, loaded)
    } else {
        let (envelope, nonce, loaded) =
            controller_statement(state, &req, body, id, payload_type).await?;
        (Some(envelope), Some(nonce), loaded)
    };
    let now = Utc::now();
    let status = loaded.lifecycle.status_at(now);
    let refuse = |code: Code, message: String| Err(Error::new(code, message));
    match (kind, status) {
        (_, Status::Erased) => {
            return refuse(Code::AlreadyErased, format!("consent {id} was erased"))
        }
        (RecordKind::Withdrawal, Status::Withdrawn) => {
            return refuse(
                Code::AlreadyWithdrawn,
                format!("consent {id} was already withdrawn"),
            )
        }
        (RecordKind::Withdrawal, Status::Refused) => {
            return refuse(
                Code::ConsentNotGiven,
                format!("consent {id} was refused: there is nothing to withdraw"),
            )
        }
        _ => {}
    }
    let event_id = Uuid::new_v4();
    let mut salt = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let initiated_by = if statement.is_some() {
        Initiator::Controller
    } else {
        Initiator::Subject
    };
    let (committed, sidecar) = match statement {
        Some(envelope) => (
            envelope.to_bytes(),
            PrivateSidecar::statement(&salt, envelope),
        ),
        None => {
            let doc = EventDocument {
                v: 1,
                kind,
                id: event_id,
                consent_id: id,
                initiated_by,
                time: time(now),
            }
            .to_bytes();
            let sidecar = PrivateSidecar::document(&salt, &doc);
            (doc, sidecar)
        }
    };
    let leaf = RecordLeaf::new(kind, event_id, loaded.leaf.issuer, now, &salt, &committed);
    let end_key = match kind {
        RecordKind::Withdrawal => Index::ConsentWithdrawn,
        _ => Index::ConsentErased,
    };
    let mut unique = vec![
        IndexKey::new(end_key, id.as_bytes().to_vec()),
        IndexKey::new(Index::RecordId, event_id.as_bytes().to_vec()),
    ];
    unique.extend(nonce);
    let request = AppendRequest {
        entry: leaf.to_bytes(),
        unique,
        // A withdrawal racing an erasure loses: an erased consent is not withdrawn.
        absent: if kind == RecordKind::Withdrawal {
            vec![IndexKey::new(Index::ConsentErased, id.as_bytes().to_vec())]
        } else {
            Vec::new()
        },
        listed: vec![IndexKey::new(Index::ConsentEvent, id.as_bytes().to_vec())],
        sidecar: Some(sidecar.to_bytes()),
        erase_sidecars: if kind == RecordKind::Erasure {
            vec![loaded.index]
        } else {
            Vec::new()
        },
        ..AppendRequest::default()
    };
    let appended = match state.log.append(request).await {
        Ok(a) => a,
        Err(AppendError::Conflict(Index::ConsentWithdrawn)) => {
            return refuse(
                Code::AlreadyWithdrawn,
                format!("consent {id} was already withdrawn"),
            )
        }
        Err(AppendError::Conflict(Index::ConsentErased)) => {
            return refuse(Code::AlreadyErased, format!("consent {id} was erased"))
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(consent = %id, event = kind.as_str(), index = appended.index, ?initiated_by, "consent event recorded");
    let (checkpoint, witnessed) = state.after_append(&appended).await;
    let against = Against {
        checkpoint: &checkpoint,
        witnessed,
    };
    let receipt = build_receipt(state, appended.index, against, true)?;
    Ok(
        HttpResponse::build(AppState::write_status(witnessed)).json(ConsentEventRecorded {
            consent_id: id,
            kind,
            event_id,
            index: appended.index,
            status: if kind == RecordKind::Withdrawal {
                Status::Withdrawn
            } else {
                Status::Erased
            },
            initiated_by,
            receipt,
        }),
    )
}

/// `POST /v1/consents/{id}/withdraw`.
pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let id = parse_consent_id(&id)?;
    end(&state, req, body, id, RecordKind::Withdrawal).await
}

/// `POST /v1/consents/{id}/erase`.
pub async fn erase(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let id = parse_consent_id(&id)?;
    end(&state, req, body, id, RecordKind::Erasure).await
}

/// A consent as listed for its controller or an auditor.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsentSummary {
    /// The consent's id.
    pub consent_id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// Its status now.
    pub status: Status,
    /// When the log recorded it.
    pub recorded_at: String,
}

/// `GET /v1/consents?controller=<id>[&after=<index>][&limit=<n>]`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsentList {
    /// The controller.
    pub controller: Uuid,
    /// Its consents, oldest first, after the `after` entry if given (at most `limit`, 1,000
    /// by default and at most).
    pub consents: Vec<ConsentSummary>,
    /// Entries of this page the store could not read: listed apart, the listing goes on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableEntry>,
    /// True when there are more: ask again with `after` = the last index of this page.
    pub truncated: bool,
}

/// `GET /v1/consents?controller=<id>[&after=<index>][&limit=<n>]`, with the participant token
/// of that controller or of an auditor: one seek and one page.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["controller", "after", "limit"])?;
    let controller = q
        .get("controller")
        .ok_or_else(|| Error::new(Code::InvalidQuery, "missing parameter controller"))
        .and_then(|c| super::parse_uuid(Code::InvalidQuery, c))?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_LISTED)?;
    let reader = super::statements::authenticate(&state, &req)?.ok_or_else(|| {
        Error::new(
            Code::Unauthorized,
            "listing consents needs a participant token",
        )
    })?;
    if reader.id != controller && !reader.roles.contains(&Role::Auditor) {
        return Err(Error::new(
            Code::ForbiddenRole,
            "only the controller itself and auditors list its consents",
        ));
    }
    let list = off_reactor(&state, move |state| {
        list_page(state, controller, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// One page of a controller's consents.
fn list_page(
    state: &AppState,
    controller: Uuid,
    after: Option<u64>,
    limit: usize,
) -> Result<ConsentList, Error> {
    let now = Utc::now();
    let (found, truncated) = super::page(
        state,
        Index::ControllerConsent,
        controller.as_bytes(),
        after,
        limit,
    )?;
    let mut consents = Vec::new();
    let mut unreadable = Vec::new();
    for &index in &found {
        let loaded = match read_record_leaf(state, index) {
            Ok(leaf) => load(state, leaf.id),
            Err(e) => Err(e),
        };
        match loaded {
            Ok(Some(loaded)) => consents.push(ConsentSummary {
                consent_id: loaded.leaf.id,
                index,
                status: loaded.lifecycle.status_at(now),
                recorded_at: loaded.leaf.time,
            }),
            Ok(None) => unreadable.push(UnreadableEntry::new(
                index,
                "the entry is not a published consent",
            )),
            Err(e) if e.is_internal() => unreadable.push(UnreadableEntry::new(index, e.message())),
            Err(e) => return Err(e),
        }
    }
    Ok(ConsentList {
        controller,
        consents,
        unreadable,
        truncated,
    })
}

/// `GET /v1/consents/{id}/accesses[?after=<index>][&limit=<n>]`.
pub async fn accesses(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["after", "limit"])?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_LISTED)?;
    let id = parse_consent_id(&id)?;
    let token = bearer_token(&req);
    let list = off_reactor(&state, move |state| {
        let loaded = authorize_and_load(state, token.as_deref(), id, true)?;
        super::accesses::of_consent(state, loaded.leaf.id, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}
