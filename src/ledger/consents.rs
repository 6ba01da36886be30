//! A consent's life: a controller's signed consent statement is recorded with a citizen's
//! secret (shown once); with that secret, and nothing else, the citizen reads the consent,
//! withdraws it and erases its off-log record. The controller that recorded a consent reads it
//! with its participant token and withdraws or erases it with a signed statement; auditors
//! read every consent.
//!
//! A wrong secret, an unknown id and a participant who may not read the consent all get the
//! same 401, after the same reads: the answer does not tell a consent id's holder anything the
//! public log does not. Authorization is decided from the indexes before anything of the
//! consent is read.

use base64::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::statements::parse_payload;
use super::{encode, keys, random32, refused, Ledger, View, Written};
use crate::consent::{time, EventDocument, Initiator, Lifecycle, RecordKind, RecordLeaf, Status};
use crate::decision::{ConsentFacts, ConsentTerms};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::field::{invalid, join};
use crate::log::{AppendError, AppendRequest};
use crate::participant::{ParticipantLeaf, Role};
use crate::receipt::{PrivateSidecar, Receipt};
use crate::statement::consent::{
    Consent, ConsentActionPayload, ConsentDecision, ConsentError, ConsentPayload, CONSENT_TYPE,
    ERASURE_TYPE, WITHDRAWAL_TYPE,
};
use crate::statement::dsse::Envelope;

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

/// An entry a listing could not read: reported apart, and the listing goes on.
#[derive(Serialize, schemars::JsonSchema)]
pub struct UnreadableEntry {
    /// The entry's index.
    pub index: u64,
    /// What could not be read.
    pub message: String,
}

impl UnreadableEntry {
    /// Entry `index`, unreadable because of `message`.
    pub fn new(index: u64, message: impl Into<String>) -> Self {
        Self {
            index,
            message: message.into(),
        }
    }
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
            terms: self.payload().map(|p| ConsentTerms {
                issuer: self.leaf.issuer,
                datasets: p.datasets.clone(),
                purposes: p.purposes.iter().map(|p| p.code.clone()).collect(),
                recipients: p.recipients.clone(),
            }),
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

/// Who presents a consent operation.
pub enum Credential<'a> {
    /// A bearer token: the citizen's secret, or (for reads) a participant token. `None`: the
    /// request had no well-formed one.
    Token(Option<&'a str>),
    /// A controller's signed withdrawal or erasure statement (the request body).
    Statement(&'a [u8]),
}

/// Who is reading or acting on a consent.
pub enum Reader {
    /// The citizen, with the receipt's secret.
    Citizen,
    /// A participant: the controller that recorded it, or an auditor.
    Participant(ParticipantLeaf),
}

/// The most events a consent has: itself, a withdrawal and an erasure (each unique).
const MAX_EVENTS: usize = 3;

/// The one answer to every failed consent read: unknown id, missing or wrong secret, or a
/// participant who may not read it.
fn unreadable() -> Error {
    Error::new(
        Code::Unauthorized,
        "no consent with this id is readable with these credentials",
    )
}

/// The record entry at published `index`, which an index says is one.
pub(super) fn record_at(view: &View, index: u64) -> Result<RecordLeaf, Error> {
    match view.entry(index)?.map(|s| s.entry) {
        Some(Ok(Entry::Record(leaf))) => Ok(leaf),
        _ => Err(Error::corrupt(format!(
            "entry {index} is not a consent or access record"
        ))),
    }
}

/// What consent entry `index`'s off-log record holds.
fn record_of(view: &View, index: u64) -> Result<Record, Error> {
    let Some(sidecar) = view.sidecar(index)? else {
        return Ok(Record::Erased);
    };
    let payload = match sidecar.statement.as_ref().map(|e| e.check()) {
        None => Err("it holds no signed statement".to_owned()),
        Some(Err(e)) => Err(e.to_string()),
        Some(Ok((p, _))) => ConsentPayload::from_statement_bytes(&p).map_err(|e| e.at("payload")),
    };
    Ok(match payload {
        Ok(payload) => Record::Open(sidecar, Box::new(payload)),
        Err(why) => Record::Unreadable(format!(
            "consent entry {index}: the signed statement in the store cannot be read ({why})"
        )),
    })
}

/// The life a consent's record and events give it.
fn lifecycle(
    record: &Record,
    recorded_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    erased_at: Option<DateTime<Utc>>,
) -> Lifecycle {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    match record {
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
    }
}

/// Loads consent `id` as `view` shows it; `None` if there is none. A record the store holds
/// but cannot read is [`Record::Unreadable`], never an error.
pub fn load(view: &View, id: Uuid) -> Result<Option<Loaded>, Error> {
    let Some(index) = view.lookup(&keys::record_id(id))? else {
        return Ok(None);
    };
    let leaf = record_at(view, index)?;
    if leaf.kind != RecordKind::Consent {
        return Ok(None);
    }
    let recorded_at = leaf.at();
    let mut record = record_of(view, index)?;
    let mut events = Vec::new();
    let (mut withdrawn_at, mut erased_at) = (None, None);
    for event_index in view
        .page(&keys::consent_events(id), None, MAX_EVENTS)?
        .leaves
    {
        let event = record_at(view, event_index)?;
        let initiated_by = match event.kind {
            RecordKind::Consent => None,
            _ => Some(match view.sidecar(event_index)?.and_then(|s| s.statement) {
                Some(_) => Initiator::Controller,
                None => Initiator::Subject,
            }),
        };
        match event.kind {
            RecordKind::Withdrawal => withdrawn_at = event.at(),
            RecordKind::Erasure => erased_at = event.at(),
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
    let lifecycle = lifecycle(&record, recorded_at, expires_at, withdrawn_at, erased_at);
    Ok(Some(Loaded {
        index,
        leaf,
        record,
        events,
        lifecycle,
    }))
}

impl Ledger {
    /// Whether `controller` recorded consent `id`, from the indexes alone (two lookups, no
    /// record read): the consent's leaf index, then the controller's key for that leaf.
    fn controls(&self, view: &View, controller: Uuid, id: Uuid) -> Result<bool, Error> {
        let Some(index) = view.lookup(&keys::record_id(id))? else {
            return Ok(false);
        };
        Ok(view.lookup(&keys::controller_consent_at(controller, index))? == Some(index))
    }

    /// Authorizes a request on consent `id` before anything of the consent is read: the
    /// citizen's secret, or (if `participants`) the participant token of its controller or
    /// of an auditor, decided from the indexes alone.
    fn authorize(
        &self,
        view: &View,
        token: Option<&str>,
        id: Uuid,
        participants: bool,
    ) -> Result<Reader, Error> {
        let token = token.ok_or_else(unreadable)?;
        if view.lookup(&keys::consent_secret(id, token))?.is_some() {
            return Ok(Reader::Citizen);
        }
        if !participants {
            return Err(unreadable());
        }
        // The caller's own registration: a participant record, not the consent's.
        let participant = self
            .participant_by_token(view, token)?
            .ok_or_else(unreadable)?;
        if participant.roles.contains(&Role::Auditor) || self.controls(view, participant.id, id)? {
            Ok(Reader::Participant(participant))
        } else {
            Err(unreadable())
        }
    }

    /// [`Ledger::authorize`], then the consent: the same 401 if there is none.
    pub(super) fn authorize_and_load(
        &self,
        view: &View,
        token: Option<&str>,
        id: Uuid,
        participants: bool,
    ) -> Result<Loaded, Error> {
        self.authorize(view, token, id, participants)?;
        load(view, id)?.ok_or_else(unreadable)
    }

    /// `POST /v1/consents`: records a controller's signed consent statement.
    pub async fn record_consent(&self, body: &[u8]) -> Result<(CitizenReceipt, Written), Error> {
        let view = self.view();
        let signed = self.verify_statement(&view, body, CONSENT_TYPE, Role::Controller)?;
        let payload: ConsentPayload = parse_payload(&signed.payload)?;
        let now = Utc::now();
        let consent = Consent::check(&payload, now).map_err(consent_refusal)?;
        let controller = signed.signer.id;
        let nonce_key = self.check_fresh(controller, &consent.freshness)?;
        // Every recipient and dataset the log cannot take is reported at once; the answer's
        // code is the first problem's.
        let mut problems: Vec<(Code, crate::field::InvalidField)> = Vec::new();
        for (k, recipient) in payload.recipients.iter().enumerate() {
            if !self.has_role(&view, *recipient, Role::Accessor)? {
                problems.push((
                    Code::UnknownRecipient,
                    invalid(
                        format!("payload.recipients[{k}]"),
                        format!("{recipient} is not a registered accessor"),
                    ),
                ));
            }
        }
        for (k, dataset) in payload.datasets.iter().enumerate() {
            let at = format!("payload.datasets[{k}]");
            match self.published_dataset(&view, *dataset)? {
                None => problems.push((
                    Code::UnknownDataset,
                    invalid(at, format!("no dataset {dataset} on the log")),
                )),
                // A controller's consent covers only its own datasets (fixed by their first
                // version).
                Some(first) if first.controller() != controller => problems.push((
                    Code::DatasetNotControlled,
                    invalid(
                        at,
                        format!(
                            "dataset {dataset}'s controller is {}, not this controller: a \
                             consent may cover only its controller's own datasets",
                            first.controller()
                        ),
                    ),
                )),
                Some(_) => {}
            }
        }
        if let Some((code, _)) = problems.first() {
            return Err(Error::with_problems(
                *code,
                problems.into_iter().map(|(_, p)| p),
            ));
        }
        drop(view);
        let id = Uuid::new_v4();
        let salt = random32();
        let citizen_secret = BASE64_URL_SAFE_NO_PAD.encode(random32());
        let statement = signed.envelope.to_bytes().map_err(encode)?;
        let leaf = RecordLeaf::new(RecordKind::Consent, id, controller, now, &salt, &statement);
        let recorded_at = leaf.at().unwrap_or(now);
        let sidecar = PrivateSidecar::statement(&salt, signed.envelope);
        let bytes = leaf.to_bytes().map_err(encode)?;
        let settled = self
            .append(AppendRequest {
                entry: bytes.clone(),
                unique: vec![nonce_key.key, keys::record_id(id)],
                index: vec![keys::consent_secret(id, &citizen_secret), nonce_key.expiry],
                listed: vec![
                    keys::consent_events(id),
                    keys::controller_consents(controller),
                ],
                sidecar: Some(sidecar.to_bytes().map_err(encode)?),
                ..AppendRequest::default()
            })
            .await
            .map_err(refused)?;
        let index = settled.written.index;
        tracing::info!(consent = %id, index, "consent recorded");
        let receipt = self.written_receipt(
            index,
            &Entry::Record(leaf),
            &bytes,
            Some(&sidecar),
            &settled.against,
        )?;
        let status = match payload.decision {
            ConsentDecision::Given => Status::Given,
            ConsentDecision::Refused => Status::Refused,
        };
        let expires_at = consent
            .validity
            .expires_at(recorded_at)
            .unwrap_or(recorded_at);
        Ok((
            CitizenReceipt {
                consent_id: id,
                index,
                status,
                expires_at: time(expires_at),
                record: payload,
                citizen_secret,
                receipt,
            },
            settled.written,
        ))
    }

    /// `GET /v1/consents/{id}`, with the citizen's secret or the token of the consent's
    /// controller or of an auditor.
    pub fn consent(&self, token: Option<&str>, id: Uuid) -> Result<ConsentView, Error> {
        let view = self.view();
        let loaded = self.authorize_and_load(&view, token, id, true)?;
        let mut events = Vec::with_capacity(loaded.events.len());
        for (index, event, initiated_by) in &loaded.events {
            events.push(ConsentEvent {
                kind: event.kind,
                id: event.id,
                index: *index,
                time: event.time.clone(),
                initiated_by: *initiated_by,
                receipt: self.receipt_at(&view, *index, |_| true)?,
            });
        }
        let controller_name = self
            .participant(&view, loaded.leaf.issuer)?
            .map(|(_, p)| p.name)
            .unwrap_or_default();
        let expires_at = loaded
            .payload()
            .zip(loaded.leaf.at())
            .and_then(|(p, at)| p.expires_at(at))
            .map(time);
        let (record, unreadable) = match loaded.record {
            Record::Open(_, p) => (Some(*p), None),
            Record::Unreadable(why) => (None, Some(why)),
            Record::Erased => (None, None),
        };
        Ok(ConsentView {
            consent_id: loaded.leaf.id,
            index: loaded.index,
            controller: loaded.leaf.issuer,
            controller_name,
            status: loaded.lifecycle.status_at(Utc::now()),
            recorded_at: loaded.leaf.time,
            expires_at,
            record,
            unreadable,
            events,
        })
    }

    /// A controller's signed withdrawal or erasure of consent `id`: checked, fresh, about
    /// this consent, by its controller. Returns the statement, its nonce key and the consent.
    fn controller_statement(
        &self,
        view: &View,
        body: &[u8],
        id: Uuid,
        kind: RecordKind,
    ) -> Result<(Envelope, super::statements::Nonce, Loaded), Error> {
        let payload_type = match kind {
            RecordKind::Withdrawal => WITHDRAWAL_TYPE,
            _ => ERASURE_TYPE,
        };
        let signed = self.verify_statement(view, body, payload_type, Role::Controller)?;
        let payload: ConsentActionPayload = parse_payload(&signed.payload)?;
        let freshness = payload
            .check()
            .map_err(|e| Error::invalid_fields(e.under("payload")))?;
        if payload.consent_id != id {
            return Err(Error::new(
                Code::ConsentMismatch,
                format!(
                    "payload.consent_id: {} is not the consent in the path ({id})",
                    payload.consent_id
                ),
            )
            .about("payload.consent_id"));
        }
        let nonce = self.check_fresh(signed.signer.id, &freshness)?;
        // Authorized from the indexes before the consent is read; another controller's
        // consent and no consent get the same answer.
        let not_found = || {
            Error::new(
                Code::ConsentNotFound,
                format!("no consent {id} recorded by this controller"),
            )
        };
        if !self.controls(view, signed.signer.id, id)? {
            return Err(not_found());
        }
        let loaded = load(view, id)?.ok_or_else(not_found)?;
        Ok((signed.envelope, nonce, loaded))
    }

    /// `POST /v1/consents/{id}/withdraw` and `.../erase`: appends the withdrawal or erasure
    /// (`kind`) of consent `id`, by its citizen (with the secret) or its controller (with a
    /// signed statement).
    pub async fn end_consent(
        &self,
        credential: Credential<'_>,
        id: Uuid,
        kind: RecordKind,
    ) -> Result<(ConsentEventRecorded, Written), Error> {
        let view = self.view();
        let (statement, nonce, loaded) = match credential {
            Credential::Token(token) => (
                None,
                None,
                self.authorize_and_load(&view, token, id, false)?,
            ),
            Credential::Statement(body) => {
                let (envelope, nonce, loaded) = self.controller_statement(&view, body, id, kind)?;
                (Some(envelope), Some(nonce), loaded)
            }
        };
        drop(view);
        let now = Utc::now();
        let already_withdrawn = || {
            Error::new(
                Code::AlreadyWithdrawn,
                format!("consent {id} was already withdrawn"),
            )
        };
        let already_erased = || Error::new(Code::AlreadyErased, format!("consent {id} was erased"));
        match (kind, loaded.lifecycle.status_at(now)) {
            (_, Status::Erased) => return Err(already_erased()),
            (RecordKind::Withdrawal, Status::Withdrawn) => return Err(already_withdrawn()),
            (RecordKind::Withdrawal, Status::Refused) => {
                return Err(Error::new(
                    Code::ConsentNotGiven,
                    format!("consent {id} was refused: there is nothing to withdraw"),
                ))
            }
            _ => {}
        }
        let event_id = Uuid::new_v4();
        let salt = random32();
        let initiated_by = match statement {
            Some(_) => Initiator::Controller,
            None => Initiator::Subject,
        };
        let (committed, sidecar) = match statement {
            Some(envelope) => (
                envelope.to_bytes().map_err(encode)?,
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
                .to_bytes()
                .map_err(encode)?;
                let sidecar = PrivateSidecar::document(&salt, &doc);
                (doc, sidecar)
            }
        };
        let leaf = RecordLeaf::new(kind, event_id, loaded.leaf.issuer, now, &salt, &committed);
        let bytes = leaf.to_bytes().map_err(encode)?;
        let withdrawal = kind == RecordKind::Withdrawal;
        let mut unique = vec![
            if withdrawal {
                keys::consent_withdrawn(id)
            } else {
                keys::consent_erased(id)
            },
            keys::record_id(event_id),
        ];
        let expiry = nonce.as_ref().map(|n| n.expiry.clone());
        unique.extend(nonce.map(|n| n.key));
        let request = AppendRequest {
            entry: bytes.clone(),
            unique,
            index: expiry.into_iter().collect(),
            // A withdrawal racing an erasure loses: an erased consent is not withdrawn.
            absent: if withdrawal {
                vec![keys::consent_erased(id)]
            } else {
                Vec::new()
            },
            listed: vec![keys::consent_events(id)],
            sidecar: Some(sidecar.to_bytes().map_err(encode)?),
            erase_sidecars: if withdrawal {
                Vec::new()
            } else {
                vec![loaded.index]
            },
        };
        let settled = match self.append(request).await {
            Ok(s) => s,
            Err(AppendError::Conflict(index)) => {
                return Err(match keys::Taken::of(index) {
                    keys::Taken::Withdrawn => already_withdrawn(),
                    keys::Taken::Erased => already_erased(),
                    _ => refused(AppendError::Conflict(index)),
                })
            }
            Err(e) => return Err(refused(e)),
        };
        let index = settled.written.index;
        tracing::info!(consent = %id, event = kind.as_str(), index, ?initiated_by, "consent event recorded");
        let receipt = self.written_receipt(
            index,
            &Entry::Record(leaf),
            &bytes,
            Some(&sidecar),
            &settled.against,
        )?;
        Ok((
            ConsentEventRecorded {
                consent_id: id,
                kind,
                event_id,
                index,
                status: if withdrawal {
                    Status::Withdrawn
                } else {
                    Status::Erased
                },
                initiated_by,
                receipt,
            },
            settled.written,
        ))
    }

    /// `GET /v1/consents?controller=`: one page of a controller's consents, for that
    /// controller or an auditor (`reader`, from its participant token).
    pub fn consents_of(
        &self,
        token: &str,
        controller: Uuid,
        after: Option<u64>,
        limit: usize,
    ) -> Result<ConsentList, Error> {
        let view = self.view();
        let reader = self.authenticate(&view, token)?;
        if reader.id != controller && !reader.roles.contains(&Role::Auditor) {
            return Err(Error::new(
                Code::ForbiddenRole,
                "only the controller itself and auditors list its consents",
            ));
        }
        let now = Utc::now();
        let page = view.page(&keys::controller_consents(controller), after, limit)?;
        let mut consents = Vec::new();
        let mut unreadable = Vec::new();
        for &index in &page.leaves {
            let loaded = record_at(&view, index).and_then(|leaf| load(&view, leaf.id));
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
                Err(e) if e.is_internal() => {
                    unreadable.push(UnreadableEntry::new(index, e.message()))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ConsentList {
            controller,
            consents,
            unreadable,
            truncated: page.truncated,
        })
    }
}

/// The answer to a consent statement with these problems: `identifier_not_pseudonymous` or
/// `endless_consent` when that is its only problem, else `invalid_field` listing them all
/// (those two included, at `payload.subject_ref` and `payload.validity`).
fn consent_refusal(problems: Vec<ConsentError>) -> Error {
    let as_field = |e: &ConsentError| match e {
        ConsentError::Invalid(f) => invalid(join("payload", &f.field), f.reason.clone()),
        ConsentError::NotPseudonymous(_) => invalid("payload.subject_ref", e.to_string()),
        ConsentError::Endless(m) => invalid("payload.validity", m.clone()),
    };
    match problems.as_slice() {
        [only @ ConsentError::NotPseudonymous(_)] => {
            Error::with_problems(Code::IdentifierNotPseudonymous, [as_field(only)])
        }
        [only @ ConsentError::Endless(_)] => {
            Error::with_problems(Code::EndlessConsent, [as_field(only)])
        }
        all => Error::invalid_fields(all.iter().map(as_field)),
    }
}
