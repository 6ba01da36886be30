//! The off-log record of an access decision: what its `access` entry commits to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Reason, Verdict};
use crate::statement::dsse::Envelope;

/// The off-log record of an access decision, which its leaf commits to: the accessor's signed
/// statement and the log's decision, with what an auditor needs to replay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRecord {
    /// Format version: 1.
    pub v: u8,
    /// The access id (its leaf's id).
    pub id: Uuid,
    /// The accessor's participant id.
    pub accessor: Uuid,
    /// The accessor's signed access statement.
    pub statement: Envelope,
    /// `permit` or `deny`.
    pub decision: Verdict,
    /// Why.
    pub reason: Reason,
    /// The consent the reason is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// True for a break-glass access.
    pub emergency: bool,
    /// What would have been denied without the emergency, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Reason>,
    /// The tree size the decision was evaluated at: every consent event below it was seen.
    pub evaluated_at_size: u64,
    /// The time the decision was evaluated at.
    pub decided_at: String,
}

impl AccessRecord {
    /// The committed bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a record document", self)
    }

    /// Reads committed bytes back with the strict reader ([`crate::json`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }
}
