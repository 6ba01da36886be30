//! The participant registry's records: who may write to the log, with which key and roles.
//!
//! A registration request becomes a [`Registration`] at the edge (names, roles and Ed25519 keys
//! are checked once, here), and a [`ParticipantLeaf`]: the compact JSON entry the log stores
//! (`"v":1,"type":"participant"`). Pure types and functions; no I/O.

use base64::prelude::*;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::VerifyingKey;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::field::{self, invalid, Problems};

/// The longest participant name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// What a participant may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Deposits datasets for notarization.
    Depositor,
    /// Records consents (a data controller: hospital, public body).
    Controller,
    /// Accesses data under a consent or legal basis.
    Accessor,
    /// Audits the log.
    Auditor,
}

impl Role {
    /// The role's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Depositor => "depositor",
            Role::Controller => "controller",
            Role::Accessor => "accessor",
            Role::Auditor => "auditor",
        }
    }
}

/// The body of `POST /v1/participants`, as sent.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// The organisation's name, 1 to 200 characters.
    pub name: String,
    /// Its roles: at least one, each at most once.
    pub roles: Vec<Role>,
    /// Its Ed25519 public key, 32 bytes in standard base64.
    pub public_key: String,
}

/// A checked registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The name, trimmed.
    pub name: String,
    /// The roles, sorted.
    pub roles: Vec<Role>,
    /// The participant's key.
    pub public_key: VerifyingKey,
}

impl TryFrom<RegistrationRequest> for Registration {
    type Error = Problems;

    /// Every problem of the request is reported.
    fn try_from(r: RegistrationRequest) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let name = problems.check(field::text("name", &r.name, MAX_NAME_CHARS));
        if r.roles.is_empty() {
            problems.push(invalid("roles", "must name at least one role"));
        }
        let mut roles = r.roles;
        roles.sort();
        let count = roles.len();
        roles.dedup();
        if roles.len() != count {
            problems.push(invalid("roles", "must not repeat a role"));
        }
        let public_key = problems.check(
            parse_public_key(&r.public_key).map_err(|e| invalid("public_key", e.to_string())),
        );
        match (name, public_key) {
            (Some(name), Some(public_key)) if problems.is_empty() => Ok(Self {
                name,
                roles,
                public_key,
            }),
            _ => Err(problems),
        }
    }
}

/// Why a text is not an Ed25519 public key a participant may hold. The messages are
/// predicates, to follow the name of what was read (`public_key is not standard base64 (…)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Not standard base64.
    #[error("is not standard base64 ({0})")]
    NotBase64(base64::DecodeError),
    /// Base64 of another length than 32 bytes (the length decoded).
    #[error("must be 32 bytes, not {0}")]
    Length(usize),
    /// 32 bytes that are not a point of the curve.
    #[error("is not an Ed25519 public key")]
    NotAKey,
    /// A point of small order, which any signature might verify with.
    #[error("is a weak (small-order) Ed25519 key")]
    Weak,
}

/// Parses a standard-base64 Ed25519 public key, refusing points of small order.
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, PublicKeyError> {
    let raw = BASE64_STANDARD
        .decode(s)
        .map_err(PublicKeyError::NotBase64)?;
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|v: Vec<u8>| PublicKeyError::Length(v.len()))?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| PublicKeyError::NotAKey)?;
    if key.is_weak() {
        return Err(PublicKeyError::Weak);
    }
    Ok(key)
}

/// The log entry that registers a participant: compact JSON, fields in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// Entry type: `participant`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The participant id the log assigned.
    pub id: Uuid,
    /// The organisation's name.
    pub name: String,
    /// Its roles, sorted.
    pub roles: Vec<Role>,
    /// Its Ed25519 public key, standard base64.
    pub public_key: String,
    /// When the log registered it (RFC 3339, UTC, milliseconds).
    pub registered_at: String,
}

/// The entry type of participant registrations.
pub const PARTICIPANT_TYPE: &str = "participant";

impl ParticipantLeaf {
    /// The leaf for `registration`, given the id and time the log assigned.
    pub fn new(registration: &Registration, id: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            v: 1,
            kind: PARTICIPANT_TYPE.into(),
            id,
            name: registration.name.clone(),
            roles: registration.roles.clone(),
            public_key: BASE64_STANDARD.encode(registration.public_key.as_bytes()),
            registered_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// The entry's bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a participant entry", self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        let k = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        BASE64_STANDARD.encode(k.verifying_key().as_bytes())
    }

    fn request(name: &str, roles: Vec<Role>, public_key: String) -> RegistrationRequest {
        RegistrationRequest {
            name: name.into(),
            roles,
            public_key,
        }
    }

    #[test]
    fn a_good_registration_parses_and_round_trips() {
        let r = Registration::try_from(request(
            " CHU de Toulouse ",
            vec![Role::Controller, Role::Accessor],
            key(),
        ))
        .unwrap();
        assert_eq!(r.name, "CHU de Toulouse");
        assert_eq!(r.roles, vec![Role::Controller, Role::Accessor]);
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let leaf = ParticipantLeaf::new(&r, Uuid::nil(), at);
        let bytes = leaf.to_bytes().unwrap();
        assert!(bytes.starts_with(br#"{"v":1,"type":"participant","id":"00000000-"#));
        assert!(String::from_utf8_lossy(&bytes)
            .contains(r#""registered_at":"2026-11-28T10:00:00.000Z""#));
        assert_eq!(
            crate::json::from_slice::<ParticipantLeaf>(&bytes).unwrap(),
            leaf
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (request("", vec![Role::Auditor], key()), "name"),
            (request("a\u{7}b", vec![Role::Auditor], key()), "name"),
            (
                request(&"x".repeat(201), vec![Role::Auditor], key()),
                "name",
            ),
            (request("A", vec![], key()), "roles"),
            (
                request("A", vec![Role::Auditor, Role::Auditor], key()),
                "roles",
            ),
            (
                request("A", vec![Role::Auditor], "not base64!".into()),
                "public_key",
            ),
            (
                request("A", vec![Role::Auditor], BASE64_STANDARD.encode([1u8; 31])),
                "public_key",
            ),
            // The identity point: small order.
            (
                request(
                    "A",
                    vec![Role::Auditor],
                    BASE64_STANDARD.encode({
                        let mut k = [0u8; 32];
                        k[0] = 1;
                        k
                    }),
                ),
                "public_key",
            ),
        ];
        for (req, field) in cases {
            assert_eq!(
                Registration::try_from(req)
                    .unwrap_err()
                    .first()
                    .unwrap()
                    .field,
                field
            );
        }
    }

    #[test]
    fn key_errors_read_as_predicates_of_the_field() {
        let reason = |k: &str| {
            Registration::try_from(request("A", vec![Role::Auditor], k.into()))
                .unwrap_err()
                .to_string()
        };
        let decode = BASE64_STANDARD.decode("not base64!").unwrap_err();
        assert_eq!(
            reason("not base64!"),
            format!("public_key: is not standard base64 ({decode})")
        );
        assert_eq!(
            reason(&BASE64_STANDARD.encode([1u8; 31])),
            "public_key: must be 32 bytes, not 31"
        );
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            reason(&BASE64_STANDARD.encode(identity)),
            "public_key: is a weak (small-order) Ed25519 key"
        );
        assert_eq!(
            PublicKeyError::NotAKey.to_string(),
            "is not an Ed25519 public key"
        );
    }
}
