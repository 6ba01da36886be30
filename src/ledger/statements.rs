//! The statement boundary shared by every participant write: read the DSSE envelope with the
//! strict reader, find the signer, verify the signature and the signer's role, all before
//! anything is queued; then the payload and its freshness (time and nonce).

use uuid::Uuid;

use super::{keys, Ledger, View};
use crate::error::{Code, Error};
use crate::json;
use crate::log::IndexKey;
use crate::participant::{ParticipantLeaf, Role};
use crate::shape::{self, Document};
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

impl Ledger {
    /// Reads and verifies a DSSE envelope of `payload_type` signed by a published participant
    /// with `role`.
    pub fn verify_statement(
        &self,
        view: &View,
        body: &[u8],
        payload_type: &str,
        role: Role,
    ) -> Result<Signed, Error> {
        // The strict reader: a key twice (`payload`, say) is refused, not read as its last value.
        let envelope: Envelope = json::from_slice(body).map_err(|e| {
            Error::new(Code::MalformedEnvelope, format!("not a DSSE envelope: {e}"))
        })?;
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
            // Receipts compare keyids as text: only the spelling registration returned is
            // accepted.
            return Err(Error::new(
                Code::UnknownParticipant,
                format!("keyid {keyid:?} must be the participant id exactly as registered ({id})"),
            ));
        }
        let cached = self.cached_participant(view, id)?.ok_or_else(unknown)?;
        let key = cached.key.ok_or_else(unknown)?;
        let payload = envelope.verify(&key).map_err(|e| match e {
            DsseError::BadSignature(_) => Error::new(
                Code::BadSignature,
                format!("the signature does not verify with the key registered for {id}"),
            ),
            DsseError::Malformed(m) => Error::new(Code::MalformedEnvelope, m),
        })?;
        let signer = cached.leaf.clone();
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
    /// clock by more than five minutes, 409 `replayed` if `signer` already used the nonce
    /// (published or not). Returns the nonce's index keys for the statement's entry.
    pub(super) fn check_fresh(&self, signer: Uuid, freshness: &Freshness) -> Result<Nonce, Error> {
        self.check_fresh_at(signer, freshness, chrono::Utc::now())
    }

    /// [`Ledger::check_fresh`] as of `as_of` (when an upload session opened).
    pub(super) fn check_fresh_at(
        &self,
        signer: Uuid,
        freshness: &Freshness,
        as_of: chrono::DateTime<chrono::Utc>,
    ) -> Result<Nonce, Error> {
        freshness.check(as_of).map_err(|e| {
            Error::new(Code::StaleStatement, e.to_string()).about("payload.issued_at")
        })?;
        let key = keys::nonce(signer, &freshness.nonce);
        if self.taken(&key)?.is_some() {
            return Err(
                Error::new(Code::Replayed, "this participant already used this nonce")
                    .about("payload.nonce"),
            );
        }
        let expires = (freshness.issued_at + crate::statement::MAX_SKEW).timestamp();
        Ok(Nonce {
            key,
            expiry: keys::nonce_expiry(
                u64::try_from(expires).unwrap_or(0),
                signer,
                &freshness.nonce,
            ),
        })
    }
}

impl Ledger {
    /// Forgets the nonces whose statements went stale before `now` (with ten minutes of margin, for a clock set back),
    /// at most `limit` of them: a replay of such a statement is refused as stale, so its
    /// nonce key only costs room. The keys go with the next batch ([`crate::log::Sequencer::forget`]).
    /// Returns how many were handed over.
    pub fn prune_nonces(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<usize, Error> {
        let margin = chrono::Duration::minutes(10);
        let before = u64::try_from((now - margin).timestamp()).unwrap_or(0);
        let mut forget = Vec::new();
        for (key, _) in self
            .log
            .store()
            .scan(keys::NONCE_EXPIRY, &[], None, limit)?
        {
            match keys::expired_nonce(&key) {
                Some((expires, nonce)) if expires < before => {
                    forget.push(nonce);
                    forget.push(IndexKey::new(keys::NONCE_EXPIRY, key));
                }
                // In key order: the first not yet expired ends the scan.
                Some(_) => break,
                None => forget.push(IndexKey::new(keys::NONCE_EXPIRY, key)),
            }
        }
        let count = forget.len() / 2;
        self.log.forget(forget);
        Ok(count)
    }
}

/// A statement's nonce, as its entry takes it: the key that refuses a replay (unique), and the
/// key that says when it may go (kept beside; [`Ledger::prune_nonces`]).
#[derive(Debug, Clone)]
pub(super) struct Nonce {
    pub key: IndexKey,
    pub expiry: IndexKey,
}

/// Parses a statement payload into `T` with the strict reader every later reader of the
/// statement uses ([`crate::json`]): 422 `invalid_payload` when it is not JSON or not a JSON
/// object, 422 `invalid_field` for a key repeated at any depth, a number beyond 2^53−1,
/// nesting too deep, or fields that do not fit `T`, listing every such field at once
/// ([`crate::shape`]), each as `payload.<path>`.
pub fn parse_payload<T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static>(
    payload: &[u8],
) -> Result<T, Error> {
    json::from_slice(payload).map_err(|e| shape::refusal::<T>(payload, e, Document::Payload))
}
