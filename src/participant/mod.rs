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

/// The entry type of a change of a participant's roles.
pub const ROLES_CHANGE_TYPE: &str = "participant_roles";
/// The entry type of the reissue of a participant's API token.
pub const TOKEN_CHANGE_TYPE: &str = "participant_token";

/// Which change of a registered participant an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChangeKind {
    /// Roles added or removed (`participant_roles`).
    #[serde(rename = "participant_roles")]
    Roles,
    /// A new API token issued, the previous one revoked (`participant_token`).
    #[serde(rename = "participant_token")]
    Token,
}

impl ChangeKind {
    /// The entry type, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Roles => ROLES_CHANGE_TYPE,
            ChangeKind::Token => TOKEN_CHANGE_TYPE,
        }
    }

    /// The kind an entry type names, if it is a change's.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            ROLES_CHANGE_TYPE => Some(ChangeKind::Roles),
            TOKEN_CHANGE_TYPE => Some(ChangeKind::Token),
            _ => None,
        }
    }
}

/// The log entry that changes a registered participant: its roles (`participant_roles`) or
/// its API token (`participant_token`). Compact JSON, fields in this order.
///
/// The entry never carries a token nor anything derived from one (no hash: a token is 32
/// random bytes, but a hash on a public log would still let anyone test a guessed or leaked
/// token offline). It records only that a new token was issued: `token` counts the
/// participant's tokens (0 is the one registration issued), and the log stores the token's
/// hash off the log, in its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantChangeLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// Entry type: `participant_roles` or `participant_token`.
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    /// The participant changed.
    pub participant: Uuid,
    /// The change's number among this participant's changes: 1, 2, ... with no gap (its
    /// registration is 0).
    pub seq: u64,
    /// Roles added by this change, sorted (empty for a token reissue).
    pub added: Vec<Role>,
    /// Roles removed by this change, sorted (empty for a token reissue).
    pub removed: Vec<Role>,
    /// The participant's roles after the change, sorted (possibly none).
    pub roles: Vec<Role>,
    /// The number of the participant's current token after the change: 0 for the token its
    /// registration issued, one more at each reissue.
    pub token: u64,
    /// When the log recorded the change (RFC 3339, UTC, milliseconds).
    pub at: String,
}

impl ParticipantChangeLeaf {
    /// The entry's bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a participant change entry", self)
    }
}

/// The body of `POST /v1/participants/{id}/roles`, as sent: roles to add and roles to
/// remove (either may be left out, not both).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    /// Roles to add: each one the participant does not hold, at most once.
    #[serde(default)]
    pub add: Vec<Role>,
    /// Roles to remove: each one the participant holds, at most once.
    #[serde(default)]
    pub remove: Vec<Role>,
}

/// A checked change of roles: sorted, no role twice, none both added and removed, not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolesChange {
    /// Roles to add, sorted.
    pub add: Vec<Role>,
    /// Roles to remove, sorted.
    pub remove: Vec<Role>,
}

impl TryFrom<RolesRequest> for RolesChange {
    type Error = Problems;

    /// Every problem of the request is reported.
    fn try_from(r: RolesRequest) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let mut sorted = |field: &str, mut roles: Vec<Role>| {
            roles.sort();
            let count = roles.len();
            roles.dedup();
            if roles.len() != count {
                problems.push(invalid(field, "must not repeat a role"));
            }
            roles
        };
        let add = sorted("add", r.add);
        let remove = sorted("remove", r.remove);
        if add.is_empty() && remove.is_empty() {
            problems.push(invalid(
                "add",
                "add and remove are both empty: name at least one role to change",
            ));
        }
        for both in add.iter().filter(|r| remove.contains(r)) {
            problems.push(invalid(
                "remove",
                format!("{} is both added and removed", both.as_str()),
            ));
        }
        problems.finish()?;
        Ok(Self { add, remove })
    }
}

/// Why a change of roles does not fit the roles a participant holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolesConflict {
    /// A role to add is already held.
    #[error("the participant already has the {} role", .0.as_str())]
    AlreadyHeld(Role),
    /// A role to remove is not held.
    #[error("the participant does not have the {} role", .0.as_str())]
    NotHeld(Role),
}

impl RolesChange {
    /// The roles after this change of `current` (sorted), or why it does not apply.
    pub fn apply(&self, current: &[Role]) -> Result<Vec<Role>, RolesConflict> {
        if let Some(&held) = self.add.iter().find(|r| current.contains(r)) {
            return Err(RolesConflict::AlreadyHeld(held));
        }
        if let Some(&lacking) = self.remove.iter().find(|r| !current.contains(r)) {
            return Err(RolesConflict::NotHeld(lacking));
        }
        let mut roles: Vec<Role> = current
            .iter()
            .filter(|r| !self.remove.contains(r))
            .chain(&self.add)
            .copied()
            .collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }
}

/// A participant as its registration and the changes after it leave it: the registry's
/// state, folded entry by entry (the ledger, `datapole audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantState {
    /// The number of its latest change (0: none since its registration).
    pub seq: u64,
    /// Its roles now, sorted.
    pub roles: Vec<Role>,
    /// The number of its current token (0: the one registration issued).
    pub token: u64,
    /// The entry that issued its current token (its registration, or the latest
    /// `participant_token`).
    pub token_entry: u64,
}

/// Why a change entry does not follow the participant's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeProblem {
    /// Its `seq` is not the next number.
    #[error("change number {got} follows change {latest}: expected {}", latest + 1)]
    Seq {
        /// The latest change's number.
        latest: u64,
        /// The entry's.
        got: u64,
    },
    /// Its added or removed roles do not fit the roles held.
    #[error("{0}")]
    Roles(RolesConflict),
    /// Its added and removed roles are not sorted sets, are empty, or overlap.
    #[error("added and removed roles are not a change")]
    NotAChange,
    /// Its `roles` are not the roles before it with its changes made.
    #[error("roles {got:?} are not the result of the change ({want:?})")]
    Result {
        /// What the entry says.
        got: Vec<Role>,
        /// What the change makes of the roles held.
        want: Vec<Role>,
    },
    /// Its `token` number is not the current one (roles) or the next one (reissue).
    #[error("token number {got}, expected {want}")]
    Token {
        /// What the entry says.
        got: u64,
        /// What it should say.
        want: u64,
    },
    /// Its time is not an RFC 3339 time.
    #[error("at is not an RFC 3339 time")]
    Time,
}

impl ParticipantState {
    /// The state a registration at entry `index` starts.
    pub fn registered(leaf: &ParticipantLeaf, index: u64) -> Self {
        Self {
            seq: 0,
            roles: leaf.roles.clone(),
            token: 0,
            token_entry: index,
        }
    }

    /// The state after change `leaf`, at entry `index`, or why it does not follow this one.
    pub fn after(&self, leaf: &ParticipantChangeLeaf, index: u64) -> Result<Self, ChangeProblem> {
        if leaf.seq != self.seq + 1 {
            return Err(ChangeProblem::Seq {
                latest: self.seq,
                got: leaf.seq,
            });
        }
        DateTime::parse_from_rfc3339(&leaf.at).map_err(|_| ChangeProblem::Time)?;
        let mut next = Self {
            seq: leaf.seq,
            ..self.clone()
        };
        match leaf.kind {
            ChangeKind::Roles => {
                let change = RolesChange::try_from(RolesRequest {
                    add: leaf.added.clone(),
                    remove: leaf.removed.clone(),
                })
                .ok()
                .filter(|c| c.add == leaf.added && c.remove == leaf.removed)
                .ok_or(ChangeProblem::NotAChange)?;
                let want = change.apply(&self.roles).map_err(ChangeProblem::Roles)?;
                if leaf.token != self.token {
                    return Err(ChangeProblem::Token {
                        got: leaf.token,
                        want: self.token,
                    });
                }
                next.roles = want;
            }
            ChangeKind::Token => {
                if !leaf.added.is_empty() || !leaf.removed.is_empty() {
                    return Err(ChangeProblem::NotAChange);
                }
                if leaf.token != self.token + 1 {
                    return Err(ChangeProblem::Token {
                        got: leaf.token,
                        want: self.token + 1,
                    });
                }
                next.token = leaf.token;
                next.token_entry = index;
            }
        }
        if leaf.roles != next.roles {
            return Err(ChangeProblem::Result {
                got: leaf.roles.clone(),
                want: next.roles,
            });
        }
        Ok(next)
    }

    /// The entry of change `change` of `participant`'s roles at `at`, the next change.
    pub fn roles_change(
        &self,
        participant: Uuid,
        change: &RolesChange,
        at: DateTime<Utc>,
    ) -> Result<ParticipantChangeLeaf, RolesConflict> {
        let roles = change.apply(&self.roles)?;
        Ok(self.next_change(
            participant,
            ChangeKind::Roles,
            change,
            roles,
            self.token,
            at,
        ))
    }

    /// The entry of the reissue of `participant`'s token at `at`, the next change.
    pub fn token_change(&self, participant: Uuid, at: DateTime<Utc>) -> ParticipantChangeLeaf {
        let none = RolesChange {
            add: Vec::new(),
            remove: Vec::new(),
        };
        let roles = self.roles.clone();
        self.next_change(
            participant,
            ChangeKind::Token,
            &none,
            roles,
            self.token + 1,
            at,
        )
    }

    fn next_change(
        &self,
        participant: Uuid,
        kind: ChangeKind,
        change: &RolesChange,
        roles: Vec<Role>,
        token: u64,
        at: DateTime<Utc>,
    ) -> ParticipantChangeLeaf {
        ParticipantChangeLeaf {
            v: 1,
            kind,
            participant,
            seq: self.seq + 1,
            added: change.add.clone(),
            removed: change.remove.clone(),
            roles,
            token,
            at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
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

    fn roles_request(add: Vec<Role>, remove: Vec<Role>) -> RolesRequest {
        RolesRequest { add, remove }
    }

    #[test]
    fn a_change_of_roles_is_checked_then_applied() {
        use Role::*;
        let bad = |add, remove| {
            RolesChange::try_from(roles_request(add, remove))
                .unwrap_err()
                .first()
                .unwrap()
                .clone()
        };
        assert_eq!(bad(vec![], vec![]).field, "add");
        assert_eq!(bad(vec![Auditor, Auditor], vec![]).field, "add");
        assert_eq!(bad(vec![], vec![Depositor, Depositor]).field, "remove");
        assert_eq!(bad(vec![Auditor], vec![Auditor]).field, "remove");
        let change =
            RolesChange::try_from(roles_request(vec![Auditor, Controller], vec![Depositor]))
                .unwrap();
        assert_eq!(change.add, vec![Controller, Auditor]);
        assert_eq!(change.apply(&[Depositor]), Ok(vec![Controller, Auditor]));
        assert_eq!(
            change.apply(&[Depositor, Auditor]),
            Err(RolesConflict::AlreadyHeld(Auditor))
        );
        assert_eq!(change.apply(&[]), Err(RolesConflict::NotHeld(Depositor)));
        // Every role may go.
        let none = RolesChange::try_from(roles_request(vec![], vec![Depositor])).unwrap();
        assert_eq!(none.apply(&[Depositor]), Ok(vec![]));
    }

    #[test]
    fn changes_fold_into_the_state_and_their_entries_round_trip() {
        let registration =
            Registration::try_from(request("A", vec![Role::Depositor], key())).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Uuid::nil();
        let state = ParticipantState::registered(&ParticipantLeaf::new(&registration, id, at), 4);
        assert_eq!((state.seq, state.token, state.token_entry), (0, 0, 4));
        let change =
            RolesChange::try_from(roles_request(vec![Role::Auditor], vec![Role::Depositor]))
                .unwrap();
        let leaf = state.roles_change(id, &change, at).unwrap();
        let bytes = leaf.to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"v":1,"type":"participant_roles","participant":"00000000-0000-0000-0000-000000000000","seq":1,"added":["auditor"],"removed":["depositor"],"roles":["auditor"],"token":0,"at":"2026-11-28T10:00:00.000Z"}"#
        );
        assert_eq!(
            crate::json::from_slice::<ParticipantChangeLeaf>(&bytes).unwrap(),
            leaf
        );
        let state = state.after(&leaf, 7).unwrap();
        assert_eq!(
            (state.seq, state.roles.clone(), state.token_entry),
            (1, vec![Role::Auditor], 4)
        );
        // The same entry twice is out of sequence.
        assert_eq!(
            state.after(&leaf, 8),
            Err(ChangeProblem::Seq { latest: 1, got: 1 })
        );
        let token = state.token_change(id, at);
        assert_eq!(
            (token.kind, token.seq, token.token),
            (ChangeKind::Token, 2, 1)
        );
        assert_eq!(token.roles, vec![Role::Auditor]);
        let state = state.after(&token, 9).unwrap();
        assert_eq!((state.token, state.token_entry), (1, 9));
    }
}
