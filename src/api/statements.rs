//! The statement boundary shared by every participant write: read the DSSE envelope, find the
//! signer, verify the signature and the signer's role, all before anything is queued; and the
//! participant-token authentication of reads.

use actix_web::{web, HttpRequest};
use uuid::Uuid;

use super::participants::{cached_participant, token_key};
use super::{bearer, read_json_body, AppState, MAX_BODY_BYTES};
use crate::error::{Code, Error};
use crate::json::{self, JsonErrorKind};
use crate::log::store::{Index, IndexKey};
use crate::log::AppendError;
use crate::participant::{ParticipantLeaf, Role};
use crate::statement::dsse::{DsseError, Envelope};
use crate::statement::Freshness;

/// A statement whose signature and signer's role were checked.
pub struct Signed {
    /// The envelope as received.
    pub envelope: Envelope,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signer's registration.
    pub signer: ParticipantLeaf,
}

/// Reads and verifies a DSSE envelope of `payload_type` signed by a participant with `role`.
pub async fn read_statement(
    state: &AppState,
    req: &HttpRequest,
    body: web::Payload,
    payload_type: &str,
    role: Role,
) -> Result<Signed, Error> {
    let body = read_json_body(req, body, MAX_BODY_BYTES).await?;
    // The strict reader: a key twice (`payload`, say) is refused, not read as its last value.
    let envelope: Envelope = json::from_slice(&body)
        .map_err(|e| Error::new(Code::MalformedEnvelope, format!("not a DSSE envelope: {e}")))?;
    let keyid = match envelope.check() {
        Ok((_, keyid)) => keyid.to_owned(),
        Err(e) => return Err(Error::new(Code::MalformedEnvelope, e.to_string())),
    };
    if envelope.payload_type != payload_type {
        return Err(Error::new(
            Code::MalformedEnvelope,
            format!(
                "payloadType {:?}: this endpoint takes {payload_type}",
                envelope.payload_type
            ),
        ));
    }
    let unknown = || {
        Error::new(
            Code::UnknownParticipant,
            format!("keyid {keyid:?} is not a registered participant"),
        )
    };
    let id = Uuid::parse_str(&keyid).map_err(|_| unknown())?;
    if id.to_string() != keyid {
        // Receipts compare keyids as text: only the spelling registration returned is accepted.
        return Err(Error::new(
            Code::UnknownParticipant,
            format!("keyid {keyid:?} must be the participant id exactly as registered ({id})"),
        ));
    }
    let cached = cached_participant(state, id)?.ok_or_else(unknown)?;
    let key = cached.key.ok_or_else(unknown)?;
    let signer = cached.leaf.clone();
    let payload = envelope.verify(&key).map_err(|e| match e {
        DsseError::BadSignature(_) => Error::new(
            Code::BadSignature,
            format!("the signature does not verify with the key registered for {id}"),
        ),
        DsseError::Malformed(m) => Error::new(Code::MalformedEnvelope, m),
    })?;
    if !signer.roles.contains(&role) {
        return Err(Error::new(
            Code::ForbiddenRole,
            format!(
                "participant {id} lacks the {} role this statement needs",
                role.as_str()
            ),
        ));
    }
    Ok(Signed {
        envelope,
        payload,
        signer,
    })
}

/// Checks a statement's freshness: 422 `stale_statement` if `issued_at` is off the server
/// clock by more than five minutes, 409 `replayed` if `signer` already used the nonce. Returns
/// the nonce's index key, to be taken (unique) by the statement's entry.
pub fn check_fresh(
    state: &AppState,
    signer: Uuid,
    freshness: &Freshness,
) -> Result<IndexKey, Error> {
    freshness
        .check(chrono::Utc::now())
        .map_err(|e| Error::new(Code::StaleStatement, e.to_string()))?;
    let key = IndexKey::new(
        Index::Nonce,
        [signer.as_bytes(), freshness.nonce.as_bytes()].concat(),
    );
    if state.log.store().lookup(&key)?.is_some() {
        return Err(AppendError::Conflict(Index::Nonce).into());
    }
    Ok(key)
}

/// Parses a statement payload into `T` with the strict reader every later reader of the
/// statement uses ([`crate::json`]): 422 `invalid_payload` when it is not JSON or not a JSON
/// object, 422 `invalid_field` naming the path (`payload.<path>: <reason>`) for a key
/// repeated at any depth, a number beyond 2^53−1, nesting too deep, or a field that does not
/// fit `T`.
pub fn parse_payload<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Error> {
    let not_an_object = || Error::new(Code::InvalidPayload, "the payload must be a JSON object");
    json::from_slice(payload).map_err(|e| match e.kind {
        JsonErrorKind::Syntax => Error::new(
            Code::InvalidPayload,
            format!("the payload is not JSON: {e}"),
        ),
        // Rare, so read again: structs also read from arrays, whose errors have a path.
        JsonErrorKind::Shape if json::value(payload).is_ok_and(|v| !v.is_object()) => {
            not_an_object()
        }
        _ => Error::invalid_field(e.at("payload")),
    })
}

/// The participant a request's `Authorization: Bearer <participant token>` names, if the
/// request has one; 401 if it has one that is not a participant token.
pub fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Option<ParticipantLeaf>, Error> {
    if req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .is_none()
    {
        return Ok(None);
    }
    let token = bearer(req)?;
    let wrong = || Error::new(Code::Unauthorized, "unknown participant token");
    let index = state
        .log
        .store()
        .lookup(&token_key(token))?
        .ok_or_else(wrong)?;
    if index >= state.log.latest().size {
        return Err(wrong());
    }
    let data = state.entry(index)?;
    ParticipantLeaf::from_bytes(&data)
        .map(Some)
        .ok_or_else(wrong)
}
