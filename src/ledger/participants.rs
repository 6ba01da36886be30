//! The participant registry: registration appends a `participant` entry (the operator
//! decides who registers; the API checks its token), and every signed statement and receipt
//! reads its signer's published record, parsed once and cached (a registration never
//! changes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::prelude::*;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use uuid::Uuid;

use super::{encode, keys, refused, Ledger, View, Written};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::log::AppendRequest;
use crate::participant::{ParticipantLeaf, Registration, RegistrationRequest, Role};

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
}

/// Published registrations by participant id, with their parsed keys; bounded.
#[derive(Default)]
pub struct Cache(RwLock<HashMap<Uuid, Arc<Cached>>>);

/// A published registration.
pub struct Cached {
    /// Its entry's index.
    pub index: u64,
    /// The record.
    pub leaf: ParticipantLeaf,
    /// Its key, parsed (`None` if the record's key does not parse, which registration refuses).
    pub key: Option<VerifyingKey>,
}

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
    /// read).
    pub fn cached_participant(&self, view: &View, id: Uuid) -> Result<Option<Arc<Cached>>, Error> {
        if let Some(c) = self
            .participants
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(Some(c.clone()));
        }
        let Some(index) = view.lookup(&keys::participant_id(id))? else {
            return Ok(None);
        };
        let leaf = registration_at(view, index)?;
        let key = crate::participant::parse_public_key(&leaf.public_key).ok();
        let cached = Arc::new(Cached { index, leaf, key });
        let mut map = self
            .participants
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(id, cached.clone());
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
        let (index, leaf) = self
            .participant(&view, id)?
            .ok_or_else(|| Error::new(Code::ParticipantNotFound, format!("no participant {id}")))?;
        Ok(ParticipantView {
            participant_id: leaf.id,
            name: leaf.name,
            roles: leaf.roles,
            public_key: leaf.public_key,
            registered_at: leaf.registered_at,
            index,
        })
    }

    /// The participant whose API token this is, if it is a published participant's.
    pub fn participant_by_token(
        &self,
        view: &View,
        token: &str,
    ) -> Result<Option<ParticipantLeaf>, Error> {
        match view.lookup(&keys::api_token(token))? {
            None => Ok(None),
            Some(index) => registration_at(view, index).map(Some),
        }
    }

    /// The participant a request's bearer token names; 401 `unauthorized` when it names
    /// none.
    pub fn authenticate(&self, view: &View, token: &str) -> Result<ParticipantLeaf, Error> {
        self.participant_by_token(view, token)?
            .ok_or_else(|| Error::new(Code::Unauthorized, "unknown participant token"))
    }
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
