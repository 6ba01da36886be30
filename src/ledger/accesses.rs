//! Access decisions: an accessor's signed access statement is decided by
//! [`crate::decision::decide`] over the consents the log holds, and the decision, permit or
//! deny, is recorded as an entry. A permit on the consent basis is appended only if none of
//! its consents was withdrawn or erased in the meantime: the sequencer checks it when it
//! sequences the entry, and a lost race decides again on the newer tree. And the listing of
//! the decisions that cited a consent, for whoever may read the consent.

use std::collections::HashMap;

use base64::prelude::*;
use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::consents::{record_at, UnreadableEntry};
use super::statements::parse_payload;
use super::{encode, keys, random32, refused, test_hooks, Ledger, View, Written};
use crate::consent::{time, RecordKind, RecordLeaf};
use crate::decision::{decide, AccessFacts, AccessRecord, Reason, Verdict};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::log::{AppendError, AppendRequest};
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
    /// The archived bytes downloaded under those accesses, oldest first (at most 1,000;
    /// absent when there is none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<DownloadView>,
}

/// A download under an access that cited the consent: its `download` custody entry.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DownloadView {
    /// The entry's index.
    pub index: u64,
    /// When it was logged (before the first byte left).
    pub time: String,
    /// Who downloaded.
    pub by: Uuid,
    /// Under which access decision.
    pub access: Option<Uuid>,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The byte range, if not the whole object.
    pub range: Option<String>,
    /// The entry's receipt.
    pub receipt: Receipt,
}

/// An access decision as the store holds it.
pub(super) struct ReadAccess {
    pub(super) leaf: RecordLeaf,
    pub(super) record: AccessRecord,
    pub(super) payload: AccessPayload,
}

/// Why a listed access decision cannot be read: reported apart, and the listing goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Unreadable {
    /// The listed entry is not an access record.
    #[error("entry {0} is not an access record")]
    NotAnAccess(u64),
    /// Its off-log record is missing or does not parse.
    #[error("access entry {0} has no readable record")]
    NoRecord(u64),
    /// The accessor's statement in the record cannot be read.
    #[error("access entry {0}: the signed statement cannot be read")]
    Statement(u64),
}

/// The access decision committed by entry `index`; `Ok(Err(why))` when the store holds
/// something that cannot be read.
pub(super) fn read_access(
    view: &View,
    index: u64,
) -> Result<Result<ReadAccess, Unreadable>, Error> {
    let leaf = match record_at(view, index) {
        Ok(leaf) if leaf.kind == RecordKind::Access => leaf,
        Ok(_) => return Ok(Err(Unreadable::NotAnAccess(index))),
        Err(e) if e.is_internal() => return Ok(Err(Unreadable::NotAnAccess(index))),
        Err(e) => return Err(e),
    };
    let sidecar = match view.sidecar(index) {
        Ok(sidecar) => sidecar,
        Err(e) if e.is_internal() => None,
        Err(e) => return Err(e),
    };
    let Some(record) = sidecar
        .and_then(|s| s.document)
        .and_then(|d| BASE64_STANDARD.decode(d).ok())
        .and_then(|d| AccessRecord::from_bytes(&d).ok())
    else {
        return Ok(Err(Unreadable::NoRecord(index)));
    };
    let Some(payload) = record
        .statement
        .check()
        .ok()
        .and_then(|(p, _)| AccessPayload::from_statement_bytes(&p).ok())
    else {
        return Ok(Err(Unreadable::Statement(index)));
    };
    Ok(Ok(ReadAccess {
        leaf,
        record,
        payload,
    }))
}

/// What a deny says, in words.
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

impl Ledger {
    /// `POST /v1/accesses`: decides an accessor's signed access statement and records the
    /// decision. A deny is recorded too, and answered as an [`AccessDecided`] with `error`.
    pub async fn decide_access(&self, body: &[u8]) -> Result<(AccessDecided, Written), Error> {
        let view = self.view();
        let signed = self.verify_statement(&view, body, ACCESS_TYPE, Role::Accessor)?;
        let payload: AccessPayload = parse_payload(&signed.payload)?;
        let access =
            Access::try_from(&payload).map_err(|e| Error::invalid_fields(e.under("payload")))?;
        let accessor = signed.signer.id;
        let nonce_key = self.check_fresh(accessor, &access.freshness)?;
        let dataset_controller = self
            .published_dataset(&view, payload.dataset_id)?
            .map(|d| d.controller());
        drop(view);
        let access_id = Uuid::new_v4();
        let mut hooks = test_hooks::Decision::start();
        for attempt in 1..=DECISION_RETRIES {
            // Everything below this size is seen by the decision (and recorded with it).
            let latest = self.view();
            let view = latest.narrowed(hooks.view_size(latest.size()));
            let evaluated_at_size = view.size();
            let now = Utc::now();
            let mut consents = HashMap::new();
            for id in &access.consent_ids {
                if let Some(loaded) = super::consents::load(&view, *id)? {
                    consents.insert(*id, loaded.facts());
                }
            }
            drop(view);
            drop(latest);
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
            let document = record.to_bytes().map_err(encode)?;
            let salt = random32();
            let leaf = RecordLeaf::new(
                RecordKind::Access,
                access_id,
                accessor,
                now,
                &salt,
                &document,
            );
            let bytes = leaf.to_bytes().map_err(encode)?;
            let sidecar = PrivateSidecar::document(&salt, &document);
            // A permit that relied on consents holds only if none ended before it is
            // sequenced.
            let absent =
                if decision.verdict == Verdict::Permit && decision.reason == Reason::Consented {
                    access
                        .consent_ids
                        .iter()
                        .flat_map(|c| [keys::consent_withdrawn(*c), keys::consent_erased(*c)])
                        .collect()
                } else {
                    Vec::new()
                };
            if !absent.is_empty() {
                hooks.before_permit_append(attempt).await;
            }
            let request = AppendRequest {
                entry: bytes.clone(),
                unique: vec![nonce_key.key.clone(), keys::record_id(access_id)],
                index: vec![nonce_key.expiry.clone()],
                listed: access
                    .consent_ids
                    .iter()
                    .map(|c| keys::consent_accesses(*c))
                    .collect(),
                sidecar: Some(sidecar.to_bytes().map_err(encode)?),
                absent,
                ..AppendRequest::default()
            };
            let settled = match self.append(request).await {
                Ok(s) => s,
                Err(AppendError::Conflict(index))
                    if matches!(
                        keys::Taken::of(index),
                        keys::Taken::Withdrawn | keys::Taken::Erased
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(refused(e)),
            };
            let index = settled.written.index;
            tracing::info!(
                access = %access_id,
                index,
                decision = ?decision.verdict,
                reason = decision.reason.code(),
                emergency = record.emergency,
                "access decided"
            );
            let receipt = self.written_receipt(
                index,
                &Entry::Record(leaf),
                &bytes,
                Some(&sidecar),
                &settled.against,
            )?;
            let permit = decision.verdict == Verdict::Permit;
            return Ok((
                AccessDecided {
                    decision: decision.verdict,
                    reason: decision.reason,
                    consent_id: decision.consent_id,
                    emergency: record.emergency,
                    access_id,
                    index,
                    receipt,
                    error: (!permit).then(|| DenyError {
                        code: decision.reason.code(),
                        message: format!(
                            "access denied: {}",
                            message(decision.reason, decision.consent_id)
                        ),
                    }),
                },
                settled.written,
            ));
        }
        Err(Error::new(
            Code::Conflict,
            "the consents this access relies on keep changing; retry",
        ))
    }

    /// `GET /v1/consents/{id}/accesses`: the access decisions that cited consent `id`, oldest
    /// first, after entry `after`, at most `limit`, for whoever may read the consent (its
    /// citizen, its controller, an auditor). An entry the store cannot read is listed apart.
    pub fn accesses_of(
        &self,
        token: Option<&str>,
        id: Uuid,
        after: Option<u64>,
        limit: usize,
    ) -> Result<AccessList, Error> {
        let view = self.view();
        let consent = self.authorize_and_load(&view, token, id, true)?;
        let id = consent.leaf.id;
        let page = view.page(&keys::consent_accesses(id), after, limit)?;
        let mut names: HashMap<Uuid, String> = HashMap::new();
        let mut accesses = Vec::new();
        let mut unreadable = Vec::new();
        for &index in &page.leaves {
            let ReadAccess {
                leaf,
                record,
                payload,
            } = match read_access(&view, index)? {
                Ok(read) => read,
                Err(why) => {
                    unreadable.push(UnreadableEntry::new(index, why.to_string()));
                    continue;
                }
            };
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(record.accessor) {
                e.insert(
                    self.participant(&view, record.accessor)?
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
                receipt: self.receipt_at(&view, index, |_| true)?,
            });
        }
        let mut downloads = Vec::new();
        for &index in &view
            .page(&keys::consent_downloads(id), None, super::MAX_PAGE)?
            .leaves
        {
            if let Some(Ok(crate::entry::Entry::Custody(crate::custody::CustodyLeaf::Download(
                d,
            )))) = view.entry(index)?.map(|s| s.entry)
            {
                downloads.push(DownloadView {
                    index,
                    time: d.time,
                    by: d.by,
                    access: d.access,
                    dataset_id: d.dataset_id,
                    version: d.version,
                    range: d.range,
                    receipt: self.receipt_at(&view, index, |_| false)?,
                });
            }
        }
        Ok(AccessList {
            consent_id: id,
            accesses,
            unreadable,
            truncated: page.truncated,
            downloads,
        })
    }
}
