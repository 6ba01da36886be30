//! One tagged type for every entry the log holds. An entry is compact JSON that starts with
//! `"v":1,"type":...`; its `type` says which of the three formats it is, and it is read as
//! that one, once: a registration ([`ParticipantLeaf`], `participant`), a change of a
//! registered participant ([`ParticipantChangeLeaf`], `participant_roles`,
//! `participant_token`), a deposit
//! ([`DepositLeaf`], `deposit`) or a record of a consent's life or of an access decision
//! ([`RecordLeaf`], `consent`, `withdrawal`, `erasure`, `access`) or a custody event of the
//! archive ([`CustodyLeaf`], `storage`, `fixity`, `fixity_failure`, `repair`, `download`,
//! `legal_hold`, `disposal`). The ledger, receipts,
//! `datapole verify` and `datapole audit` read entries through [`Entry::from_bytes`]; nothing
//! guesses an entry's type by trying one format after another. Pure code.

use uuid::Uuid;

use crate::consent::RecordLeaf;
use crate::custody::{CustodyKind, CustodyLeaf};
use crate::json::{self, EncodeError, JsonError};
use crate::participant::{ChangeKind, ParticipantChangeLeaf, ParticipantLeaf, PARTICIPANT_TYPE};
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
    /// A change of a registered participant: its roles, or its API token reissued.
    ParticipantChange(ParticipantChangeLeaf),
    /// A dataset deposit (one version of a dataset).
    Deposit(DepositLeaf),
    /// A consent, its withdrawal or erasure, or an access decision.
    Record(RecordLeaf),
    /// A custody event of an archived dataset version.
    Custody(CustodyLeaf),
}

/// Why bytes are not an entry this code reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not strict JSON.
    #[error("not JSON: {0}")]
    Json(JsonError),
    /// Not a JSON object with a string `type`.
    #[error("no entry type")]
    NoType,
    /// A `type` no format has.
    #[error("unknown entry type {0:?}")]
    UnknownType(String),
    /// The format its `type` names, but another version or shape.
    #[error("malformed {kind} entry: {reason}")]
    Malformed {
        /// `participant`, `deposit`, `record` or `custody`.
        kind: &'static str,
        /// What does not fit.
        reason: String,
    },
}

impl Entry {
    /// Reads an entry: strict JSON, then the one format its `type` names, version 1.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let value = json::value(bytes).map_err(EntryError::Json)?;
        let kind = match value.get("type") {
            Some(serde_json::Value::String(t)) => t.clone(),
            _ => return Err(EntryError::NoType),
        };
        let format = match kind.as_str() {
            PARTICIPANT_TYPE => "participant",
            t if ChangeKind::from_name(t).is_some() => "participant change",
            DEPOSIT_LEAF_TYPE => "deposit",
            t if RECORD_TYPES.contains(&t) => "record",
            t if CustodyKind::from_name(t).is_some() => "custody",
            other => return Err(EntryError::UnknownType(other.to_owned())),
        };
        let malformed = |reason: String| EntryError::Malformed {
            kind: format,
            reason,
        };
        match value.get("v") {
            Some(v) if v.as_u64() == Some(ENTRY_VERSION) => {}
            Some(v) => return Err(malformed(format!("format version {v}"))),
            None => return Err(malformed("no format version".into())),
        }
        let shape = |e: JsonError| malformed(e.to_string());
        Ok(match format {
            "participant" => Entry::Participant(json::from_value(value).map_err(shape)?),
            "participant change" => {
                Entry::ParticipantChange(json::from_value(value).map_err(shape)?)
            }
            "deposit" => Entry::Deposit(json::from_value(value).map_err(shape)?),
            "record" => Entry::Record(json::from_value(value).map_err(shape)?),
            _ => {
                // `format` is "custody" only for a name `from_name` knows.
                let custody = CustodyKind::from_name(&kind)
                    .unwrap_or_else(|| unreachable!("{kind} was matched as a custody type"));
                Entry::Custody(CustodyLeaf::from_value(custody, value).map_err(shape)?)
            }
        })
    }

    /// The entry's bytes: compact JSON, fields in the order of its format.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Entry::Participant(l) => l.to_bytes(),
            Entry::ParticipantChange(l) => l.to_bytes(),
            Entry::Deposit(l) => l.to_bytes(),
            Entry::Record(l) => l.to_bytes(),
            Entry::Custody(l) => l.to_bytes(),
        }
    }

    /// The entry's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Entry::Participant(_) => PARTICIPANT_TYPE,
            Entry::ParticipantChange(l) => l.kind.as_str(),
            Entry::Deposit(_) => DEPOSIT_LEAF_TYPE,
            Entry::Record(l) => l.kind.as_str(),
            Entry::Custody(l) => l.kind().as_str(),
        }
    }

    /// The participant whose private record this entry may hide, who may open it: a
    /// deposit's depositor, a record's issuer (the controller of a consent, the accessor of
    /// an access). `None` for a registration, a change of one, or a custody event, which are all public (a
    /// storage entry's off-log record is the object's key, which no receipt opens).
    pub fn owner(&self) -> Option<Uuid> {
        match self {
            Entry::Participant(_) | Entry::ParticipantChange(_) | Entry::Custody(_) => None,
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
            (&br#"{"v":1}"#[..], "no entry type"),
            (br#"{"type":"deposit"}"#, "version"),
            (br#"{"v":2,"type":"deposit"}"#, "version"),
            (br#"{"v":1,"type":"note"}"#, "unknown entry type"),
            (br#"[1]"#, "no entry type"),
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
