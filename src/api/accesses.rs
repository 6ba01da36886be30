//! Access decisions: `POST /v1/accesses` (an accessor's signed access statement). The log
//! decides with [`crate::decision::decide`] over the consents it holds, records the decision,
//! permit or deny, as a committed entry, and answers 201 (permit) or 403 (deny) with the
//! access receipt. A permit on the consent basis is appended only if none of its consents was
//! withdrawn or erased in the meantime: the sequencer checks it when it sequences the entry.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::*;
use chrono::Utc;
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use super::consents::load_at;
use super::deposits::published_dataset;
use super::participants::lookup_participant;
use super::receipts::build_receipt;
use super::statements::{check_fresh, parse_payload, read_statement};
use super::test_hooks;
use super::{Against, AppState, UnreadableEntry};
use crate::consent::{time, AccessRecord, RecordKind, RecordLeaf};
use crate::decision::{decide, AccessFacts, Reason, Verdict};
use crate::error::{Code, Error};
use crate::log::sequencer::AppendError;
use crate::log::store::{Index, IndexKey};
use crate::log::AppendRequest;
use crate::participant::Role;
use crate::receipt::{PrivateSidecar, Receipt};
use crate::statement::access::{Access, AccessPayload, Action, LegalBasis, ACCESS_TYPE};

/// How many times a decision is taken again when a consent it relied on ended meanwhile.
const DECISION_RETRIES: usize = 8;

/// The answer to `POST /v1/accesses`: 201 for a permit, 403 for a deny.
#[derive(Serialize, schemars::JsonSchema)]
pub struct AccessDecided {
    /// `permit` or `deny`.
    pub decision: Verdict,
    /// Why.
    pub reason: Reason,
    /// The consent the reason is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// True for a break-glass access (permitted, and flagged).
    pub emergency: bool,
    /// The access record's id.
    pub access_id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// The access receipt, with the record its entry commits to.
    pub receipt: Receipt,
    /// For a deny: the error, in the API's usual shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DenyError>,
}

/// The error part of a deny.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DenyError {
    /// The reason's code.
    pub code: &'static str,
    /// What it means.
    pub message: String,
}

/// One access decision, as the citizen sees it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct AccessView {
    /// The access record's id.
    pub access_id: Uuid,
    /// Its entry's index.
    pub index: u64,
    /// When it was decided.
    pub time: String,
    /// The accessor's participant id.
    pub accessor: Uuid,
    /// The accessor's organisation.
    pub accessor_name: String,
    /// The dataset.
    pub dataset_id: Uuid,
    /// The action.
    pub action: Action,
    /// The purpose code.
    pub purpose: String,
    /// The legal basis.
    pub legal_basis: LegalBasis,
    /// `permit` or `deny`.
    pub decision: Verdict,
    /// Why.
    pub reason: Reason,
    /// True for a break-glass access.
    pub emergency: bool,
    /// The emergency's justification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The access receipt.
    pub receipt: Receipt,
}

/// `GET /v1/consents/{id}/accesses`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct AccessList {
    /// The consent.
    pub consent_id: Uuid,
    /// Every access decision that referenced it, oldest first, after the `after` entry if
    /// given (at most `limit`, 1,000 by default and at most).
    pub accesses: Vec<AccessView>,
    /// Entries of this page the store could not read: listed apart, the listing goes on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableEntry>,
    /// True when there are more: ask again with `after` = the last index of this page.
    pub truncated: bool,
}

/// The access decision committed by entry `index`: its leaf, its record and the accessor's
/// statement; `Ok(Err(why))` when the store holds something that cannot be read.
#[allow(clippy::type_complexity)]
fn read_access(
    state: &AppState,
    index: u64,
) -> Result<Result<(RecordLeaf, AccessRecord, AccessPayload), String>, Error> {
    let Some(leaf) =
        RecordLeaf::from_bytes(&state.entry(index)?).filter(|l| l.kind == RecordKind::Access)
    else {
        return Ok(Err(format!("entry {index} is not an access record")));
    };
    let Some(record) = state
        .log
        .store()
        .sidecar(index)?
        .and_then(|b| PrivateSidecar::from_bytes(&b))
        .and_then(|s| s.document)
        .and_then(|d| BASE64_STANDARD.decode(d).ok())
        .and_then(|d| AccessRecord::from_bytes(&d).ok())
    else {
        return Ok(Err(format!("access entry {index} has no readable record")));
    };
    let Some(payload) = record
        .statement
        .check()
        .ok()
        .and_then(|(p, _)| AccessPayload::from_statement_bytes(&p).ok())
    else {
        return Ok(Err(format!(
            "access entry {index}: the signed statement cannot be read"
        )));
    };
    Ok(Ok((leaf, record, payload)))
}

/// The access decisions that referenced consent `id`, oldest first, from entry `after` on
/// (exclusive), at most `limit`: one seek and one page. An entry the store cannot read is
/// listed apart in `unreadable`.
pub fn of_consent(
    state: &AppState,
    id: Uuid,
    after: Option<u64>,
    limit: usize,
) -> Result<AccessList, Error> {
    let (found, truncated) = super::page(state, Index::ConsentAccess, id.as_bytes(), after, limit)?;
    // Read after the page: its checkpoints include every entry the page lists.
    let basis = state.receipt_basis();
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let mut accesses = Vec::new();
    let mut unreadable = Vec::new();
    for &index in &found {
        let (leaf, record, payload) = match read_access(state, index)? {
            Ok(read) => read,
            Err(why) => {
                unreadable.push(UnreadableEntry::new(index, why));
                continue;
            }
        };
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(record.accessor) {
            e.insert(
                lookup_participant(state, record.accessor)?
                    .map(|(_, p)| p.name)
                    .unwrap_or_default(),
            );
        }
        accesses.push(AccessView {
            access_id: leaf.id,
            index,
            time: leaf.time,
            accessor: record.accessor,
            accessor_name: names.get(&record.accessor).cloned().unwrap_or_default(),
            dataset_id: payload.dataset_id,
            action: payload.action,
            purpose: payload.purpose.code,
            legal_basis: payload.legal_basis,
            decision: record.decision,
            reason: record.reason,
            emergency: record.emergency,
            justification: payload.emergency.map(|e| e.justification),
            receipt: build_receipt(state, index, basis.against(index), true)?,
        });
    }
    Ok(AccessList {
        consent_id: id,
        accesses,
        unreadable,
        truncated,
    })
}

fn message(reason: Reason, consent: Option<Uuid>) -> String {
    let c = consent.map(|c| c.to_string()).unwrap_or_default();
    match reason {
        Reason::UnknownConsent => format!("consent {c} is not on the log"),
        Reason::ConsentRefused => format!("consent {c} was refused"),
        Reason::ConsentWithdrawn => format!("consent {c} was withdrawn"),
        Reason::ConsentErased => format!("consent {c} was erased"),
        Reason::ConsentExpired => format!("consent {c} has expired"),
        Reason::DatasetNotCovered => format!("consent {c} does not cover this dataset"),
        Reason::PurposeNotConsented => format!("consent {c} does not include this purpose"),
        Reason::RecipientNotAllowed => {
            format!("consent {c} does not list this accessor among its recipients")
        }
        Reason::ConsentUnreadable => format!("consent {c}'s record cannot be read"),
        Reason::Consented | Reason::AuthorizationRecorded | Reason::EmergencyOverride => {
            String::new()
        }
    }
}

/// `POST /v1/accesses`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let signed = read_statement(&state, &req, body, ACCESS_TYPE, Role::Accessor).await?;
    let payload: AccessPayload = parse_payload(&signed.payload)?;
    let access =
        Access::try_from(&payload).map_err(|e| Error::invalid_field(format!("payload.{e}")))?;
    let accessor = signed.signer.id;
    let nonce_key = check_fresh(&state, accessor, &access.freshness)?;
    let dataset_controller = published_dataset(&state, payload.dataset_id)?.map(|d| d.controller());
    let access_id = Uuid::new_v4();
    let mut hooks = test_hooks::Decision::start();
    for attempt in 1..=DECISION_RETRIES {
        // Everything below this size is seen by the decision (and recorded with it).
        let evaluated_at_size = hooks.view_size(state.log.latest().size);
        let now = Utc::now();
        let mut consents = HashMap::new();
        for id in &access.consent_ids {
            if let Some(loaded) = load_at(&state, *id, evaluated_at_size)? {
                consents.insert(*id, loaded.facts());
            }
        }
        let facts = AccessFacts {
            accessor,
            dataset_id: payload.dataset_id,
            dataset_controller,
            purpose: &payload.purpose.code,
            legal_basis: payload.legal_basis,
            consent_ids: &access.consent_ids,
            emergency: payload.emergency.is_some(),
        };
        let decision = decide(&facts, &consents, now);
        let record = AccessRecord {
            v: 1,
            id: access_id,
            accessor,
            statement: signed.envelope.clone(),
            decision: decision.verdict,
            reason: decision.reason,
            consent_id: decision.consent_id,
            emergency: payload.emergency.is_some(),
            overridden: decision.overridden,
            evaluated_at_size,
            decided_at: time(now),
        };
        let document = record.to_bytes();
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let leaf = RecordLeaf::new(
            RecordKind::Access,
            access_id,
            accessor,
            now,
            &salt,
            &document,
        );
        // A permit that relied on consents holds only if none ended before it is sequenced.
        let absent = if decision.verdict == Verdict::Permit && decision.reason == Reason::Consented
        {
            access
                .consent_ids
                .iter()
                .flat_map(|c| {
                    [Index::ConsentWithdrawn, Index::ConsentErased]
                        .map(|i| IndexKey::new(i, c.as_bytes().to_vec()))
                })
                .collect()
        } else {
            Vec::new()
        };
        if !absent.is_empty() {
            hooks.before_permit_append(attempt).await;
        }
        let request = AppendRequest {
            entry: leaf.to_bytes(),
            unique: vec![
                nonce_key.clone(),
                IndexKey::new(Index::RecordId, access_id.as_bytes().to_vec()),
            ],
            listed: access
                .consent_ids
                .iter()
                .map(|c| IndexKey::new(Index::ConsentAccess, c.as_bytes().to_vec()))
                .collect(),
            sidecar: Some(PrivateSidecar::document(&salt, &document).to_bytes()),
            absent,
            ..AppendRequest::default()
        };
        let appended = match state.log.append(request).await {
            Ok(a) => a,
            Err(AppendError::Conflict(Index::ConsentWithdrawn | Index::ConsentErased)) => continue,
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            access = %access_id,
            index = appended.index,
            decision = ?decision.verdict,
            reason = decision.reason.code(),
            emergency = record.emergency,
            "access decided"
        );
        let (checkpoint, witnessed) = state.after_append(&appended).await;
        let against = Against {
            checkpoint: &checkpoint,
            witnessed,
        };
        let receipt = build_receipt(&state, appended.index, against, true)?;
        let permit = decision.verdict == Verdict::Permit;
        let answer = AccessDecided {
            decision: decision.verdict,
            reason: decision.reason,
            consent_id: decision.consent_id,
            emergency: record.emergency,
            access_id,
            index: appended.index,
            receipt,
            error: (!permit).then(|| DenyError {
                code: decision.reason.code(),
                message: format!(
                    "access denied: {}",
                    message(decision.reason, decision.consent_id)
                ),
            }),
        };
        return Ok(if permit {
            HttpResponse::build(AppState::write_status(witnessed)).json(answer)
        } else {
            HttpResponse::build(StatusCode::FORBIDDEN).json(answer)
        });
    }
    Err(Error::new(
        Code::Conflict,
        "the consents this access relies on keep changing; retry",
    ))
}
