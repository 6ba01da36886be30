//! The participant registry: `POST /v1/participants` (operator only) appends a `participant`
//! entry; `GET /v1/participants/{id}` returns the public record.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::*;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use uuid::Uuid;

use super::{parse_json, read_json_body, AppState, MAX_BODY_BYTES};
use crate::error::{Code, Error};
use crate::log::store::{Index, IndexKey};
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

/// A new API token: `dpt_` and 32 random bytes in base64url.
fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("dpt_{}", BASE64_URL_SAFE_NO_PAD.encode(raw))
}

/// The index key under which a token's hash is kept.
pub fn token_key(token: &str) -> IndexKey {
    IndexKey::new(Index::ApiToken, Sha256::digest(token.as_bytes()).to_vec())
}

/// `POST /v1/participants`.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let body = read_json_body(&req, payload, MAX_BODY_BYTES).await?;
    let request: RegistrationRequest = parse_json(&body)?;
    let registration =
        Registration::try_from(request).map_err(|e| Error::invalid_field(e.to_string()))?;
    let id = Uuid::new_v4();
    let leaf = ParticipantLeaf::new(&registration, id, chrono::Utc::now());
    let token = new_token();
    let appended = state
        .log
        .append(AppendRequest {
            entry: leaf.to_bytes(),
            unique: vec![
                IndexKey::new(Index::ParticipantKey, registration.public_key.to_bytes()),
                IndexKey::new(Index::ParticipantId, id.as_bytes().to_vec()),
            ],
            index: vec![token_key(&token)],
            ..AppendRequest::default()
        })
        .await?;
    tracing::info!(participant = %id, index = appended.index, "participant registered");
    let (checkpoint, witnessed) = state.after_append(&appended).await;
    Ok(
        HttpResponse::build(AppState::write_status(witnessed)).json(Registered {
            participant_id: id,
            index: appended.index,
            checkpoint: checkpoint.note.clone(),
            api_token: token,
        }),
    )
}

/// Published registrations by participant id, with their parsed keys; bounded.
#[derive(Default)]
pub struct Cache(std::sync::RwLock<std::collections::HashMap<Uuid, Arc<Cached>>>);

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

/// Participant `id`'s published registration, parsed.
pub fn cached_participant(state: &AppState, id: Uuid) -> Result<Option<Arc<Cached>>, Error> {
    if let Some(c) = state
        .participants
        .0
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
    {
        return Ok(Some(c.clone()));
    }
    let Some((index, leaf)) = read_participant(state, id)? else {
        return Ok(None);
    };
    let key = crate::participant::parse_public_key(&leaf.public_key).ok();
    let cached = Arc::new(Cached { index, leaf, key });
    let mut map = state
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

/// The registration of participant `id`: its leaf index and record.
pub fn lookup_participant(
    state: &AppState,
    id: Uuid,
) -> Result<Option<(u64, ParticipantLeaf)>, Error> {
    Ok(cached_participant(state, id)?.map(|c| (c.index, c.leaf.clone())))
}

/// Reads participant `id`'s registration from the store, if published.
fn read_participant(state: &AppState, id: Uuid) -> Result<Option<(u64, ParticipantLeaf)>, Error> {
    let Some(index) = state
        .log
        .store()
        .lookup(&IndexKey::new(Index::ParticipantId, id.as_bytes().to_vec()))?
    else {
        return Ok(None);
    };
    if index >= state.log.latest().size {
        return Ok(None);
    }
    let data = state.entry(index)?;
    let leaf = ParticipantLeaf::from_bytes(&data).ok_or_else(|| {
        Error::from(crate::log::StoreError::Corrupt(format!(
            "entry {index} is not a participant record"
        )))
    })?;
    Ok(Some((index, leaf)))
}

/// `GET /v1/participants/{id}`.
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let id = super::parse_uuid(Code::InvalidParticipantId, &id)?;
    let (index, leaf) = lookup_participant(&state, id)?
        .ok_or_else(|| Error::new(Code::ParticipantNotFound, format!("no participant {id}")))?;
    Ok(HttpResponse::Ok().json(ParticipantView {
        participant_id: leaf.id,
        name: leaf.name,
        roles: leaf.roles,
        public_key: leaf.public_key,
        registered_at: leaf.registered_at,
        index,
    }))
}
