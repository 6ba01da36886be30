//! Custody events: what the archive did with a dataset version's bytes, each an entry of the
//! public log, signed and receipted like every other. A dataset version's custody chain is
//! its `storage` entry (which object, where, encrypted or not, the digest of the stored bytes,
//! until when it is kept), then any `fixity_failure` and `repair`, `download` and `legal_hold`
//! entries, and at the end its `disposal` (the certificate of destruction). Every scrubber run
//! adds one `fixity` entry that commits, as an RFC 9162 Merkle tree ([`run`]), to every copy
//! it checked and the outcome, so that any one object's check is proved by a short path.
//!
//! Custody entries carry no personal data and nothing private: object ids are random, the
//! digest is of the stored bytes (ciphertext for a private dataset), and people appear only as
//! participant ids. Pure types and functions; no I/O.

pub mod run;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::json::{self, EncodeError, JsonError};

/// The kinds of custody entries, as their `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustodyKind {
    /// A dataset version's bytes were stored.
    Storage,
    /// A scrubber run checked every stored copy.
    Fixity,
    /// A stored copy failed its check.
    FixityFailure,
    /// A failed copy was rewritten from a good one.
    Repair,
    /// The bytes were handed out.
    Download,
    /// A legal hold was placed or lifted.
    LegalHold,
    /// Every copy and the object's key were destroyed.
    Disposal,
}

impl CustodyKind {
    /// Every kind, in the order of the chain.
    pub const ALL: [CustodyKind; 7] = [
        CustodyKind::Storage,
        CustodyKind::Fixity,
        CustodyKind::FixityFailure,
        CustodyKind::Repair,
        CustodyKind::Download,
        CustodyKind::LegalHold,
        CustodyKind::Disposal,
    ];

    /// The `type` of its entries.
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyKind::Storage => "storage",
            CustodyKind::Fixity => "fixity",
            CustodyKind::FixityFailure => "fixity_failure",
            CustodyKind::Repair => "repair",
            CustodyKind::Download => "download",
            CustodyKind::LegalHold => "legal_hold",
            CustodyKind::Disposal => "disposal",
        }
    }

    /// The kind whose entries have `type` = `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Which stored object, of which dataset version: every per-object custody entry starts so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectRef {
    /// The archived object (a random UUID, never derived from the content).
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
}

/// `storage`: a dataset version's bytes are archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `storage`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The index of the version's `deposit` entry, whose `sha256` and `size` are the
    /// plaintext's.
    pub deposit: u64,
    /// True when the stored bytes are an age (age-encryption.org/v1) file under the object's
    /// own key, which the log keeps off-log and destroys at disposal.
    pub encrypted: bool,
    /// The archive locations holding a copy, by name.
    pub locations: Vec<String>,
    /// SHA-256 of the stored bytes (the ciphertext when encrypted), lower-case hex: what every
    /// fixity check compares against.
    pub sha256: String,
    /// The stored bytes' size.
    pub size: u64,
    /// Nothing deletes the object before this time (RFC 3339); absent: no retention period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
    /// When the log recorded it (RFC 3339, UTC, milliseconds).
    pub time: String,
}

/// `fixity`: one scrubber run, committing to every copy it checked and the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixityLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `fixity`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The run's id.
    pub run: Uuid,
    /// When it started (RFC 3339).
    pub started: String,
    /// How many copies it checked: the leaves of its tree.
    pub checked: u64,
    /// How many were intact.
    pub intact: u64,
    /// How many were repaired during the run.
    pub repaired: u64,
    /// RFC 9162 tree hash over the run's check records ([`run::CheckRecord`]), in order,
    /// lower-case hex.
    pub root: String,
    /// When the log recorded it (the run's end).
    pub time: String,
}

/// `fixity_failure`: one stored copy did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixityFailureLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `fixity_failure`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The run that found it.
    pub run: Uuid,
    /// The location whose copy failed.
    pub location: String,
    /// `mismatch`, `missing` or `unreadable`.
    pub outcome: run::Outcome,
    /// SHA-256 of the bytes found (a mismatch), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_sha256: Option<String>,
    /// Size of the bytes found (a mismatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_size: Option<u64>,
    /// When the log recorded it.
    pub time: String,
}

/// `repair`: a failed copy rewritten from a good one, and checked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `repair`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The run that repaired it.
    pub run: Uuid,
    /// The location rewritten.
    pub location: String,
    /// The location the good copy came from.
    pub source: String,
    /// The failure entry it repairs.
    pub failure: u64,
    /// When the log recorded it.
    pub time: String,
}

/// `download`: the bytes handed out, to whom, under what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `download`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The participant who downloaded.
    pub by: Uuid,
    /// The access decision (its id) that permitted it; absent for the depositor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Uuid>,
    /// The byte range asked for (`bytes=a-b`), absent for the whole object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// When the log recorded it (before the first byte left).
    pub time: String,
}

/// `legal_hold`: a hold placed (`hold` true) or lifted. While held, nothing disposes of the
/// object, whatever its retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `legal_hold`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// True: placed; false: lifted.
    pub hold: bool,
    /// The reference of the decision (a case number; 1 to 200 characters, no personal data).
    pub reference: String,
    /// When the log recorded it.
    pub time: String,
}

/// `disposal`: every copy deleted and the object's key destroyed; a certificate of
/// destruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisposalLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// `disposal`.
    #[serde(rename = "type")]
    pub kind: CustodyKind,
    /// The archived object.
    pub object: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its version.
    pub version: u64,
    /// The object's `storage` entry.
    pub storage: u64,
    /// Who disposed of it: the depositor's participant id, or absent for the operator's
    /// retention policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Uuid>,
    /// The locations whose copies were deleted.
    pub locations: Vec<String>,
    /// SHA-256 of the stored bytes destroyed, hex (the storage entry's).
    pub sha256: String,
    /// When the log recorded it.
    pub time: String,
}

/// A custody entry, read as the format its `type` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustodyLeaf {
    /// `storage`.
    Storage(StorageLeaf),
    /// `fixity`.
    Fixity(FixityLeaf),
    /// `fixity_failure`.
    FixityFailure(FixityFailureLeaf),
    /// `repair`.
    Repair(RepairLeaf),
    /// `download`.
    Download(DownloadLeaf),
    /// `legal_hold`.
    LegalHold(LegalHoldLeaf),
    /// `disposal`.
    Disposal(DisposalLeaf),
}

impl CustodyLeaf {
    /// Reads a custody entry of kind `kind` from its JSON (already read strictly); the
    /// `type` field must name that kind.
    pub fn from_value(kind: CustodyKind, value: serde_json::Value) -> Result<Self, JsonError> {
        Ok(match kind {
            CustodyKind::Storage => CustodyLeaf::Storage(json::from_value(value)?),
            CustodyKind::Fixity => CustodyLeaf::Fixity(json::from_value(value)?),
            CustodyKind::FixityFailure => CustodyLeaf::FixityFailure(json::from_value(value)?),
            CustodyKind::Repair => CustodyLeaf::Repair(json::from_value(value)?),
            CustodyKind::Download => CustodyLeaf::Download(json::from_value(value)?),
            CustodyKind::LegalHold => CustodyLeaf::LegalHold(json::from_value(value)?),
            CustodyKind::Disposal => CustodyLeaf::Disposal(json::from_value(value)?),
        })
    }

    /// The kind its `type` field names (which [`crate::entry::Entry::from_bytes`] checks
    /// equals the kind it was read as).
    pub fn kind(&self) -> CustodyKind {
        match self {
            CustodyLeaf::Storage(l) => l.kind,
            CustodyLeaf::Fixity(l) => l.kind,
            CustodyLeaf::FixityFailure(l) => l.kind,
            CustodyLeaf::Repair(l) => l.kind,
            CustodyLeaf::Download(l) => l.kind,
            CustodyLeaf::LegalHold(l) => l.kind,
            CustodyLeaf::Disposal(l) => l.kind,
        }
    }

    /// The object and dataset version it is about; `None` for a fixity run, which is about
    /// every object.
    pub fn object(&self) -> Option<ObjectRef> {
        let r = |object, dataset_id, version| {
            Some(ObjectRef {
                object,
                dataset_id,
                version,
            })
        };
        match self {
            CustodyLeaf::Storage(l) => r(l.object, l.dataset_id, l.version),
            CustodyLeaf::Fixity(_) => None,
            CustodyLeaf::FixityFailure(l) => r(l.object, l.dataset_id, l.version),
            CustodyLeaf::Repair(l) => r(l.object, l.dataset_id, l.version),
            CustodyLeaf::Download(l) => r(l.object, l.dataset_id, l.version),
            CustodyLeaf::LegalHold(l) => r(l.object, l.dataset_id, l.version),
            CustodyLeaf::Disposal(l) => r(l.object, l.dataset_id, l.version),
        }
    }

    /// When the log recorded it.
    pub fn time(&self) -> &str {
        match self {
            CustodyLeaf::Storage(l) => &l.time,
            CustodyLeaf::Fixity(l) => &l.time,
            CustodyLeaf::FixityFailure(l) => &l.time,
            CustodyLeaf::Repair(l) => &l.time,
            CustodyLeaf::Download(l) => &l.time,
            CustodyLeaf::LegalHold(l) => &l.time,
            CustodyLeaf::Disposal(l) => &l.time,
        }
    }

    /// The entry's bytes: compact JSON, fields in the order of its format.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        const WHAT: &str = "a custody entry";
        match self {
            CustodyLeaf::Storage(l) => json::to_vec(WHAT, l),
            CustodyLeaf::Fixity(l) => json::to_vec(WHAT, l),
            CustodyLeaf::FixityFailure(l) => json::to_vec(WHAT, l),
            CustodyLeaf::Repair(l) => json::to_vec(WHAT, l),
            CustodyLeaf::Download(l) => json::to_vec(WHAT, l),
            CustodyLeaf::LegalHold(l) => json::to_vec(WHAT, l),
            CustodyLeaf::Disposal(l) => json::to_vec(WHAT, l),
        }
    }

    /// What is wrong with it beyond its shape, if anything: hex digests, times, a `type`
    /// that is its kind's. The log writes none of these wrong; the auditor and verifiers
    /// check them.
    pub fn problem(&self) -> Option<String> {
        let hex = |s: &str| {
            s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if parse_time(self.time()).is_none() {
            return Some("time is not an RFC 3339 time".into());
        }
        match self {
            CustodyLeaf::Storage(l) => {
                if !hex(&l.sha256) {
                    return Some("sha256 is not a lower-case hex SHA-256".into());
                }
                if l.locations.is_empty() {
                    return Some("no location".into());
                }
                if l.retain_until
                    .as_deref()
                    .is_some_and(|t| parse_time(t).is_none())
                {
                    return Some("retain_until is not an RFC 3339 time".into());
                }
            }
            CustodyLeaf::Fixity(l) => {
                if !hex(&l.root) {
                    return Some("root is not a lower-case hex SHA-256".into());
                }
                if l.intact > l.checked || l.repaired > l.checked - l.intact {
                    return Some("more intact or repaired copies than checked".into());
                }
                if parse_time(&l.started).is_none() {
                    return Some("started is not an RFC 3339 time".into());
                }
            }
            CustodyLeaf::FixityFailure(l) => {
                if l.outcome == run::Outcome::Intact {
                    return Some("a failure with outcome intact".into());
                }
                if l.found_sha256.as_deref().is_some_and(|h| !hex(h)) {
                    return Some("found_sha256 is not a lower-case hex SHA-256".into());
                }
            }
            CustodyLeaf::Disposal(l) => {
                if !hex(&l.sha256) {
                    return Some("sha256 is not a lower-case hex SHA-256".into());
                }
            }
            CustodyLeaf::LegalHold(l) => {
                if l.reference.trim().is_empty() || l.reference.chars().count() > 200 {
                    return Some("reference must be 1 to 200 characters".into());
                }
            }
            CustodyLeaf::Repair(_) | CustodyLeaf::Download(_) => {}
        }
        None
    }
}

/// An RFC 3339 time, in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_entry_round_trips_and_starts_with_version_and_type() {
        let leaf = CustodyLeaf::Storage(StorageLeaf {
            v: 1,
            kind: CustodyKind::Storage,
            object: Uuid::from_u128(1),
            dataset_id: Uuid::from_u128(2),
            version: 1,
            deposit: 7,
            encrypted: true,
            locations: vec!["disk1".into(), "disk2".into()],
            sha256: "ab".repeat(32),
            size: 10,
            retain_until: Some("2036-12-31T00:00:00.000Z".into()),
            time: "2026-11-30T10:00:00.000Z".into(),
        });
        let bytes = leaf.to_bytes().unwrap();
        assert!(bytes.starts_with(br#"{"v":1,"type":"storage","object":"#));
        let value = json::value(&bytes).unwrap();
        assert_eq!(
            CustodyLeaf::from_value(CustodyKind::Storage, value).unwrap(),
            leaf
        );
        assert_eq!(leaf.problem(), None);
    }

    #[test]
    fn kinds_have_distinct_names_that_read_back() {
        for k in CustodyKind::ALL {
            assert_eq!(CustodyKind::from_name(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
        }
    }

    #[test]
    fn problems_are_named() {
        let leaf = CustodyLeaf::Fixity(FixityLeaf {
            v: 1,
            kind: CustodyKind::Fixity,
            run: Uuid::from_u128(1),
            started: "2026-11-30T10:00:00.000Z".into(),
            checked: 2,
            intact: 3,
            repaired: 0,
            root: "00".repeat(32),
            time: "2026-11-30T10:00:01.000Z".into(),
        });
        assert_eq!(
            leaf.problem().unwrap(),
            "more intact or repaired copies than checked"
        );
    }
}
