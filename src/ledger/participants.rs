//! The participant registry: registration appends a `participant` entry (the operator
//! decides who registers; the API checks its token); the operator's changes append
//! `participant_roles` (roles added or removed) and `participant_token` (a new API token,
//! the previous one revoked). Every signed statement, token check and receipt reads its
//! participant's published state: the registration, parsed once and cached, and the changes
//! after it, followed forward by their numbers (one index lookup per read finds none new).
//!
//! A change takes effect with its entry: the entry takes the unique key of its number
//! (`keys::participant_change`), so two changes racing from the same state cannot both be
//! written (the loser is rebuilt on the new state); the roles a statement is checked against
//! and the token a request is authenticated with are those of the published state, so the
//! old token stops working when the reissue's checkpoint is published, before the operator
//! gets the new one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::prelude::*;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use uuid::Uuid;

use super::{encode, keys, refused, Ledger, View, Written};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::log::{AppendError, AppendRequest};
use crate::participant::{
    ChangeKind, ParticipantChangeLeaf, ParticipantLeaf, ParticipantState, Registration,
    RegistrationRequest, Role, RolesChange, RolesConflict, RolesRequest,
};
use crate::receipt::Receipt;

/// The answer to a registration.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Registered {
    /// The id the log assigned.
    pub participant_id: Uuid,
    /// The registration entry's index in the log.
    pub index: u64,
    /// The signed checkpoint that includes it.
    pub checkpoint: String,
    /// The participant's API token: shown once, stored only as a hash.
    pub api_token: String,
}

/// A participant's public record.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ParticipantView {
    /// The participant's id.
    pub participant_id: Uuid,
    /// The organisation's name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its Ed25519 public key (standard base64).
    pub public_key: String,
    /// When it was registered (RFC 3339).
    pub registered_at: String,
    /// The index of its registration entry in the log.
    pub index: u64,
    /// The indexes of the entries that changed it since (roles, token), in log order.
    pub changes: Vec<u64>,
}

/// The answer to a change of a participant's roles.
#[derive(Serialize, schemars::JsonSchema)]
pub struct RolesChanged {
    /// The participant's id.
    pub participant_id: Uuid,
    /// The change's number among the participant's changes.
    pub seq: u64,
    /// Roles added, sorted.
    pub added: Vec<Role>,
    /// Roles removed, sorted.
    pub removed: Vec<Role>,
    /// The participant's roles now, sorted (possibly none).
    pub roles: Vec<Role>,
    /// The change entry's index in the log.
    pub index: u64,
    /// The change entry's receipt.
    pub receipt: Receipt,
}

/// The answer to the reissue of a participant's API token.
#[derive(Serialize, schemars::JsonSchema)]
pub struct TokenReissued {
    /// The participant's id.
    pub participant_id: Uuid,
    /// The change's number among the participant's changes.
    pub seq: u64,
    /// The new token's number (the registration's was 0).
    pub token: u64,
    /// The new API token: shown once, stored only as a hash, never logged. The previous one
    /// no longer works.
    pub api_token: String,
    /// The change entry's index in the log.
    pub index: u64,
    /// The change entry's receipt.
    pub receipt: Receipt,
}

/// Published registrations by participant id, with their parsed keys; bounded.
#[derive(Default)]
pub struct Cache(RwLock<HashMap<Uuid, Arc<Cached>>>);

/// A published registration, with the changes after it.
#[derive(Clone)]
pub struct Cached {
    /// Its entry's index.
    pub index: u64,
    /// The record, with the participant's current roles (changes included).
    pub leaf: ParticipantLeaf,
    /// Its key, parsed (`None` if the record's key does not parse, which registration refuses).
    pub key: Option<VerifyingKey>,
    /// The registry's state of the participant: its latest change, roles and token.
    pub state: ParticipantState,
    /// The indexes of its changes, in log order.
    pub changes: Vec<u64>,
}

/// How many times a change lost to a concurrent change of the same participant is rebuilt
/// on the new state before the caller is told to retry.
const CHANGE_RETRIES: u32 = 8;

/// The most registrations kept parsed; past it the cache starts over.
const CACHE_MAX: usize = 100_000;

/// A new API token: `dpt_` and 32 random bytes in base64url.
fn new_token() -> String {
    format!("dpt_{}", BASE64_URL_SAFE_NO_PAD.encode(super::random32()))
}

impl Ledger {
    /// Registers a participant (the caller has checked the operator's token): appends its
    /// `participant` entry with a new id and API token, shown once.
    pub async fn register(
        &self,
        request: RegistrationRequest,
    ) -> Result<(Registered, Written), Error> {
        let registration = Registration::try_from(request).map_err(Error::invalid_fields)?;
        let id = Uuid::new_v4();
        let leaf = ParticipantLeaf::new(&registration, id, chrono::Utc::now());
        let token = new_token();
        let bytes = leaf.to_bytes().map_err(encode)?;
        let settled = self
            .append(AppendRequest {
                entry: bytes,
                unique: vec![
                    keys::participant_key(registration.public_key.as_bytes()),
                    keys::participant_id(id),
                ],
                index: vec![keys::api_token(&token)],
                ..AppendRequest::default()
            })
            .await
            .map_err(refused)?;
        tracing::info!(participant = %id, index = settled.written.index, "participant registered");
        Ok((
            Registered {
                participant_id: id,
                index: settled.written.index,
                checkpoint: settled.against.checkpoint.note.clone(),
                api_token: token,
            },
            settled.written,
        ))
    }

    /// Participant `id`'s published registration, parsed (from the cache after the first
    /// read), and its published changes: its state as of `view`.
    pub fn cached_participant(&self, view: &View, id: Uuid) -> Result<Option<Arc<Cached>>, Error> {
        let cached = self
            .participants
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        let cached = match cached {
            Some(c) => c,
            None => {
                let Some(index) = view.lookup(&keys::participant_id(id))? else {
                    return Ok(None);
                };
                let leaf = registration_at(view, index)?;
                let key = crate::participant::parse_public_key(&leaf.public_key).ok();
                let state = ParticipantState::registered(&leaf, index);
                Arc::new(Cached {
                    index,
                    leaf,
                    key,
                    state,
                    changes: Vec::new(),
                })
            }
        };
        let cached = follow(view, cached)?;
        let mut map = self
            .participants
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        // A reader with an older view must not set the cache back.
        let newer = map.get(&id).is_none_or(|c| c.state.seq < cached.state.seq);
        if newer {
            map.insert(id, cached.clone());
        }
        Ok(Some(cached))
    }

    /// Participant `id`'s published registration: its entry's index and record.
    pub fn participant(
        &self,
        view: &View,
        id: Uuid,
    ) -> Result<Option<(u64, ParticipantLeaf)>, Error> {
        Ok(self
            .cached_participant(view, id)?
            .map(|c| (c.index, c.leaf.clone())))
    }

    /// Whether `id` is a published participant with `role`.
    pub(super) fn has_role(&self, view: &View, id: Uuid, role: Role) -> Result<bool, Error> {
        Ok(self
            .cached_participant(view, id)?
            .is_some_and(|c| c.leaf.roles.contains(&role)))
    }

    /// `GET /v1/participants/{id}`.
    pub fn participant_view(&self, id: Uuid) -> Result<ParticipantView, Error> {
        let view = self.view();
        let c = self
            .cached_participant(&view, id)?
            .ok_or_else(|| not_found(id))?;
        let (index, leaf, changes) = (c.index, c.leaf.clone(), c.changes.clone());
        Ok(ParticipantView {
            participant_id: leaf.id,
            name: leaf.name,
            roles: leaf.roles,
            public_key: leaf.public_key,
            registered_at: leaf.registered_at,
            index,
            changes,
        })
    }

    /// The participant whose API token this is, if it is a published participant's current
    /// token (a token a reissue replaced names none).
    pub fn participant_by_token(
        &self,
        view: &View,
        token: &str,
    ) -> Result<Option<ParticipantLeaf>, Error> {
        let Some(index) = view.lookup(&keys::api_token(token))? else {
            return Ok(None);
        };
        let id = match view.entry(index)?.map(|s| s.entry) {
            Some(Ok(Entry::Participant(leaf))) => leaf.id,
            Some(Ok(Entry::ParticipantChange(leaf))) if leaf.kind == ChangeKind::Token => {
                leaf.participant
            }
            _ => {
                return Err(Error::corrupt(format!(
                    "entry {index} issued no participant token"
                )))
            }
        };
        let cached = self
            .cached_participant(view, id)?
            .ok_or_else(|| Error::corrupt(format!("entry {index} names no participant")))?;
        Ok((cached.state.token_entry == index).then(|| cached.leaf.clone()))
    }

    /// The participant a request's bearer token names; 401 `unauthorized` when it names
    /// none.
    pub fn authenticate(&self, view: &View, token: &str) -> Result<ParticipantLeaf, Error> {
        self.participant_by_token(view, token)?
            .ok_or_else(|| Error::new(Code::Unauthorized, "unknown participant token"))
    }
}

impl Ledger {
    /// Adds and removes roles of participant `id` (the caller has checked the operator's
    /// token): appends its `participant_roles` entry, which records the change and the roles
    /// after it. 422 `invalid_field` for an empty change, a role twice or both added and
    /// removed; 404 for no such participant; 409 `role_already_held` / `role_not_held` when
    /// the change does not fit the roles it holds. Nothing is written on a refusal.
    pub async fn change_roles(
        &self,
        id: Uuid,
        request: RolesRequest,
    ) -> Result<(RolesChanged, Written), Error> {
        let change = RolesChange::try_from(request).map_err(Error::invalid_fields)?;
        let (leaf, bytes, settled) = self
            .append_change(id, |state| {
                state
                    .roles_change(id, &change, chrono::Utc::now())
                    .map(|leaf| (leaf, Vec::new()))
                    .map_err(|e| match e {
                        RolesConflict::AlreadyHeld(_) => {
                            Error::new(Code::RoleAlreadyHeld, e.to_string())
                        }
                        RolesConflict::NotHeld(_) => Error::new(Code::RoleNotHeld, e.to_string()),
                    })
            })
            .await?;
        tracing::info!(participant = %id, index = settled.written.index, roles = ?leaf.roles, "participant roles changed");
        let receipt = self.written_receipt(
            settled.written.index,
            &Entry::ParticipantChange(leaf.clone()),
            &bytes,
            None,
            &settled.against,
        )?;
        Ok((
            RolesChanged {
                participant_id: id,
                seq: leaf.seq,
                added: leaf.added,
                removed: leaf.removed,
                roles: leaf.roles,
                index: settled.written.index,
                receipt,
            },
            settled.written,
        ))
    }

    /// Issues participant `id` a new API token (the caller has checked the operator's
    /// token): appends its `participant_token` entry, which records that a token was issued
    /// and its number, never the token. The previous token stops working with the entry.
    pub async fn reissue_token(&self, id: Uuid) -> Result<(TokenReissued, Written), Error> {
        let token = new_token();
        let (leaf, bytes, settled) = self
            .append_change(id, |state| {
                let leaf = state.token_change(id, chrono::Utc::now());
                Ok((leaf, vec![keys::api_token(&token)]))
            })
            .await?;
        tracing::info!(participant = %id, index = settled.written.index, token = leaf.token, "participant token reissued");
        let receipt = self.written_receipt(
            settled.written.index,
            &Entry::ParticipantChange(leaf.clone()),
            &bytes,
            None,
            &settled.against,
        )?;
        Ok((
            TokenReissued {
                participant_id: id,
                seq: leaf.seq,
                token: leaf.token,
                api_token: token,
                index: settled.written.index,
                receipt,
            },
            settled.written,
        ))
    }

    /// Builds participant `id`'s next change on its published state with `build` (the entry
    /// and the further index keys it takes) and appends it; rebuilt on the new state when a
    /// concurrent change took its number.
    async fn append_change(
        &self,
        id: Uuid,
        build: impl Fn(
            &ParticipantState,
        ) -> Result<(ParticipantChangeLeaf, Vec<crate::log::IndexKey>), Error>,
    ) -> Result<(ParticipantChangeLeaf, Vec<u8>, super::Settled), Error> {
        for attempt in 1..=CHANGE_RETRIES {
            let state = {
                let view = self.view();
                self.cached_participant(&view, id)?
                    .ok_or_else(|| not_found(id))?
                    .state
                    .clone()
            };
            let (leaf, index) = build(&state)?;
            let bytes = leaf.to_bytes().map_err(encode)?;
            let request = AppendRequest {
                entry: bytes.clone(),
                unique: vec![keys::participant_change(id, leaf.seq)],
                index,
                ..AppendRequest::default()
            };
            match self.append(request).await {
                Ok(settled) => return Ok((leaf, bytes, settled)),
                Err(AppendError::Conflict(i))
                    if keys::Taken::of(i) == keys::Taken::ParticipantChange =>
                {
                    // The winner is written but may not be published yet: give it a moment.
                    tracing::debug!(participant = %id, attempt, "a concurrent change won; rebuilding");
                    tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(refused(e)),
            }
        }
        Err(Error::new(
            Code::Conflict,
            "this participant keeps changing concurrently; retry",
        ))
    }
}

fn not_found(id: Uuid) -> Error {
    Error::new(Code::ParticipantNotFound, format!("no participant {id}"))
}

/// `cached` with the changes `view` publishes after its state, if any.
fn follow(view: &View, cached: Arc<Cached>) -> Result<Arc<Cached>, Error> {
    let id = cached.leaf.id;
    let mut next: Option<Cached> = None;
    loop {
        let current = next.as_ref().unwrap_or(&*cached);
        let Some(index) = view.lookup(&keys::participant_change(id, current.state.seq + 1))? else {
            break;
        };
        let leaf = match view.entry(index)?.map(|s| s.entry) {
            Some(Ok(Entry::ParticipantChange(leaf))) if leaf.participant == id => leaf,
            _ => {
                return Err(Error::corrupt(format!(
                    "entry {index} is not a change of participant {id}"
                )))
            }
        };
        let state = current.state.after(&leaf, index).map_err(|e| {
            Error::corrupt(format!("change of participant {id} at entry {index}: {e}"))
        })?;
        let mut updated = current.clone();
        updated.leaf.roles = state.roles.clone();
        updated.state = state;
        updated.changes.push(index);
        next = Some(updated);
    }
    Ok(next.map_or(cached, Arc::new))
}

/// The registration at published entry `index`, which an index says is one.
fn registration_at(view: &View, index: u64) -> Result<ParticipantLeaf, Error> {
    match view.entry(index)?.map(|s| s.entry) {
        Some(Ok(Entry::Participant(leaf))) => Ok(leaf),
        _ => Err(Error::corrupt(format!(
            "entry {index} is not a participant record"
        ))),
    }
}
