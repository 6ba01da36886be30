//! One tagged type for every entry the log holds. An entry is compact JSON that starts with
//! `"v":1,"type":...`; its `type` says which of the three formats it is, and it is read as
//! that one, once: a registration ([`ParticipantLeaf`], `participant`), a deposit
//! ([`DepositLeaf`], `deposit`) or a record of a consent's life or of an access decision
//! ([`RecordLeaf`], `consent`, `withdrawal`, `erasure`, `access`). The ledger, receipts,
//! `datapole verify` and `datapole audit` read entries through [`Entry::from_bytes`]; nothing
//! guesses an entry's type by trying one format after another. Pure code.

use uuid::Uuid;

use crate::consent::RecordLeaf;
use crate::json::{self, EncodeError, JsonError};
use crate::participant::{ParticipantLeaf, PARTICIPANT_TYPE};
use crate::statement::deposit::{DepositLeaf, DEPOSIT_LEAF_TYPE};

/// The entry format version this code reads and writes.
pub const ENTRY_VERSION: u64 = 1;

/// Every `type` a record entry may have.
pub const RECORD_TYPES: [&str; 4] = ["consent", "withdrawal", "erasure", "access"];

/// An entry of the log, read as the format its `type` names.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A participant's registration.
    Participant(ParticipantLeaf),
    /// A dataset deposit (one version of a dataset).
    Deposit(DepositLeaf),
    /// A consent, its withdrawal or erasure, or an access decision.
    Record(RecordLeaf),
}

/// Why bytes are not an entry this code reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not strict JSON, or not the shape its `type` names.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// Not a JSON object.
    #[error("an entry is a JSON object")]
    NotAnObject,
    /// A `v` other than 1, or none.
    #[error("entry format version {0}: this reader knows version {ENTRY_VERSION}")]
    Version(String),
    /// A `type` no format has, or none.
    #[error("entry type {0}: not participant, deposit, consent, withdrawal, erasure or access")]
    Type(String),
}

impl Entry {
    /// Reads an entry: strict JSON, then the one format its `type` names.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let value = json::value(bytes)?;
        let object = value.as_object().ok_or(EntryError::NotAnObject)?;
        match object.get("v") {
            Some(v) if v.as_u64() == Some(ENTRY_VERSION) => {}
            other => {
                return Err(EntryError::Version(
                    other.map_or_else(|| "missing".into(), |v| v.to_string()),
                ))
            }
        }
        let kind = match object.get("type") {
            Some(serde_json::Value::String(t)) => t.clone(),
            other => {
                return Err(EntryError::Type(
                    other.map_or_else(|| "missing".into(), |v| v.to_string()),
                ))
            }
        };
        Ok(match kind.as_str() {
            PARTICIPANT_TYPE => Entry::Participant(json::from_value(value)?),
            DEPOSIT_LEAF_TYPE => Entry::Deposit(json::from_value(value)?),
            t if RECORD_TYPES.contains(&t) => Entry::Record(json::from_value(value)?),
            other => return Err(EntryError::Type(format!("{other:?}"))),
        })
    }

    /// The entry's bytes: compact JSON, fields in the order of its format.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Entry::Participant(l) => l.to_bytes(),
            Entry::Deposit(l) => l.to_bytes(),
            Entry::Record(l) => l.to_bytes(),
        }
    }

    /// The entry's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Entry::Participant(_) => PARTICIPANT_TYPE,
            Entry::Deposit(_) => DEPOSIT_LEAF_TYPE,
            Entry::Record(l) => l.kind.as_str(),
        }
    }

    /// The participant whose private record this entry may hide, who may open it: a
    /// deposit's depositor, a record's issuer (the controller of a consent, the accessor of
    /// an access). `None` for a registration, which is all public.
    pub fn owner(&self) -> Option<Uuid> {
        match self {
            Entry::Participant(_) => None,
            Entry::Deposit(l) => Some(l.depositor),
            Entry::Record(l) => Some(l.issuer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_read_as_its_own_format() {
        let participant = br#"{"v":1,"type":"participant","id":"00000000-0000-0000-0000-000000000001","name":"n","roles":["depositor"],"public_key":"AA==","registered_at":"2026-11-28T10:00:00.000Z"}"#;
        assert!(matches!(
            Entry::from_bytes(participant),
            Ok(Entry::Participant(_))
        ));
        let record = br#"{"v":1,"type":"withdrawal","id":"00000000-0000-0000-0000-000000000001","issuer":"00000000-0000-0000-0000-000000000002","time":"2026-11-28T10:00:00.000Z","commitment":"00"}"#;
        let entry = Entry::from_bytes(record).unwrap();
        assert_eq!(entry.type_name(), "withdrawal");
        assert_eq!(entry.to_bytes().unwrap(), record.to_vec());
    }

    #[test]
    fn no_type_no_version_or_another_shape_is_refused() {
        for (bytes, want) in [
            (&br#"{"v":1}"#[..], "type"),
            (br#"{"type":"deposit"}"#, "version"),
            (br#"{"v":2,"type":"deposit"}"#, "version"),
            (br#"{"v":1,"type":"note"}"#, "type"),
            (br#"[1]"#, "object"),
            // A record's fields under the participant type: read as a participant, refused.
            (
                br#"{"v":1,"type":"participant","id":"00000000-0000-0000-0000-000000000001","issuer":"00000000-0000-0000-0000-000000000002","time":"t","commitment":"00"}"#,
                "unknown field",
            ),
            (br#"{"v":1,"v":1,"type":"deposit"}"#, "duplicate"),
        ] {
            let e = Entry::from_bytes(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(bytes));
        }
    }
}
