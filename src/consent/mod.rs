//! A consent's life on the log: a series of events (given or refused, withdrawn, erased),
//! never an overwritten row; and access decisions that reference it.
//!
//! Every such event is a [`RecordLeaf`] on the public log: a type, a random id, the issuing
//! participant, a time and a salted commitment, nothing else. What the commitment opens (the
//! controller's signed statement, or an [`EventDocument`] or access record the log wrote) is
//! kept off the log, with its salt, and handed to the citizen in receipts. Pure types and
//! functions; no I/O.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::statement::consent::ConsentDecision;

/// The kinds of committed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A consent given or refused.
    Consent,
    /// A consent withdrawn.
    Withdrawal,
    /// A consent's off-log record erased.
    Erasure,
    /// An access decision, permit or deny.
    Access,
}

impl RecordKind {
    /// The name used in leaves and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Consent => "consent",
            RecordKind::Withdrawal => "withdrawal",
            RecordKind::Erasure => "erasure",
            RecordKind::Access => "access",
        }
    }
}

/// The public log entry of a consent, consent event or access decision: compact JSON, fields
/// in this order, and no personal data: `commitment` is SHA-256(salt || committed bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `consent`, `withdrawal`, `erasure` or `access`.
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// The record's id (random UUID).
    pub id: Uuid,
    /// The participant whose register this is: the controller (consents and their events) or
    /// the accessor (accesses).
    pub issuer: Uuid,
    /// When the log recorded it (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// SHA-256(salt || committed bytes), lower-case hex.
    pub commitment: String,
}

impl RecordLeaf {
    /// A leaf committing to `committed` with `salt`.
    pub fn new(
        kind: RecordKind,
        id: Uuid,
        issuer: Uuid,
        at: DateTime<Utc>,
        salt: &[u8; 32],
        committed: &[u8],
    ) -> Self {
        Self {
            v: 1,
            kind,
            id,
            issuer,
            time: time(at),
            commitment: crate::field::hex(&crate::statement::commitment(salt, committed)),
        }
    }

    /// The entry's bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a record entry", self)
    }

    /// The recorded time.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The log's times: RFC 3339, UTC, milliseconds.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Who initiated a consent event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// The citizen, with the secret of their receipt.
    Subject,
    /// The controller, with a signed statement.
    Controller,
}

/// What a citizen-initiated withdrawal or erasure commits to (the log writes it: the citizen
/// has no key, only the secret of their receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDocument {
    /// Format version: 1.
    pub v: u8,
    /// `withdrawal` or `erasure`.
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// The event's id (its leaf's id).
    pub id: Uuid,
    /// The consent it ends.
    pub consent_id: Uuid,
    /// `subject`.
    pub initiated_by: Initiator,
    /// When the log recorded it.
    pub time: String,
}

impl EventDocument {
    /// The committed bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a record document", self)
    }

    /// Reads committed bytes back with the strict reader ([`crate::json`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }
}

/// A consent's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Given and in force.
    Given,
    /// Refused.
    Refused,
    /// Withdrawn.
    Withdrawn,
    /// Past its validity.
    Expired,
    /// Its off-log record was erased.
    Erased,
    /// Its off-log record is in the store but cannot be read (a store fault, or a record
    /// written before statements were parsed strictly): no access is permitted on it, and the
    /// citizen and the controller can still withdraw or erase it.
    Unreadable,
}

/// What a consent's events say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// Given or refused; `None` when the record cannot be read (or is erased).
    pub decision: Option<ConsentDecision>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When it was erased, if it was.
    pub erased_at: Option<DateTime<Utc>>,
}

impl Lifecycle {
    /// The status at `now`: erased, withdrawn, unreadable, refused and expired take
    /// precedence in that order over given.
    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        if self.erased_at.is_some_and(|t| t <= now) {
            Status::Erased
        } else if self.withdrawn_at.is_some_and(|t| t <= now) {
            Status::Withdrawn
        } else {
            match self.decision {
                None => Status::Unreadable,
                Some(ConsentDecision::Refused) => Status::Refused,
                Some(ConsentDecision::Given) if now >= self.expires_at => Status::Expired,
                Some(ConsentDecision::Given) => Status::Given,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn status_follows_the_events() {
        let mut l = Lifecycle {
            decision: Some(ConsentDecision::Given),
            expires_at: t("2027-01-01T00:00:00Z"),
            withdrawn_at: None,
            erased_at: None,
        };
        assert_eq!(l.status_at(t("2026-12-01T00:00:00Z")), Status::Given);
        assert_eq!(l.status_at(t("2027-01-01T00:00:00Z")), Status::Expired);
        l.withdrawn_at = Some(t("2026-12-15T00:00:00Z"));
        assert_eq!(l.status_at(t("2026-12-01T00:00:00Z")), Status::Given);
        assert_eq!(l.status_at(t("2026-12-15T00:00:00Z")), Status::Withdrawn);
        assert_eq!(l.status_at(t("2028-01-01T00:00:00Z")), Status::Withdrawn);
        l.erased_at = Some(t("2026-12-20T00:00:00Z"));
        assert_eq!(l.status_at(t("2026-12-21T00:00:00Z")), Status::Erased);
        let unreadable = Lifecycle {
            decision: None,
            withdrawn_at: None,
            erased_at: None,
            ..l
        };
        assert_eq!(
            unreadable.status_at(t("2026-12-01T00:00:00Z")),
            Status::Unreadable
        );
        let refused = Lifecycle {
            decision: Some(ConsentDecision::Refused),
            withdrawn_at: None,
            erased_at: None,
            ..l
        };
        assert_eq!(
            refused.status_at(t("2026-12-01T00:00:00Z")),
            Status::Refused
        );
    }

    #[test]
    fn leaves_hold_nothing_but_a_commitment() {
        let at = t("2026-11-28T10:00:00Z");
        let leaf = RecordLeaf::new(
            RecordKind::Consent,
            Uuid::nil(),
            Uuid::nil(),
            at,
            &[1; 32],
            b"statement",
        );
        let bytes = leaf.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"v":1,"type":"consent","id":"00000000-"#),
            "{text}"
        );
        assert!(text.contains(r#""time":"2026-11-28T10:00:00.000Z""#));
        assert_eq!(crate::json::from_slice::<RecordLeaf>(&bytes).unwrap(), leaf);
    }
}
