//! Receipts: one self-contained JSON document (`"format": "datapole.receipt.v1"`) that proves
//! an entry's inclusion offline, with nothing but the log's public key; and the same proof as
//! a c2sp.org/tlog-proof@v1 text. Plain data: built by the API, checked by [`crate::verify`].

use base64::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::statement::dsse::Envelope;

/// The receipt format tag.
pub const RECEIPT_FORMAT: &str = "datapole.receipt.v1";

/// A receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// `datapole.receipt.v1`.
    pub format: String,
    /// The log that issued it.
    pub log: ReceiptLog,
    /// The entry's index.
    pub index: u64,
    /// The entry's bytes (the leaf data), standard base64.
    pub leaf: String,
    /// The inclusion proof of the entry in the checkpoint's tree.
    pub inclusion: ReceiptInclusion,
    /// The signed checkpoint (c2sp.org/tlog-checkpoint note text).
    pub checkpoint: String,
    /// The signed statement of a private entry (public entries carry theirs in the leaf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Envelope>,
    /// What opens a private entry's commitment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<Opening>,
    /// The statement signer's registered key, to check the statement's signature offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<ReceiptSigner>,
    /// On a log with witnesses: whether `checkpoint` carries the cosignatures of the log's
    /// witness quorum (c2sp.org/tlog-cosignature lines after the log's signature). Absent on
    /// a log without witnesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessed: Option<bool>,
}

/// The issuing log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLog {
    /// The checkpoint origin.
    pub origin: String,
    /// The log's signed-note verifier key.
    pub vkey: String,
}

/// An inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptInclusion {
    /// The size of the tree the proof is for (the checkpoint's size).
    pub tree_size: u64,
    /// The audit path, leaf to root, standard base64.
    pub hashes: Vec<String>,
}

/// The opening of a private entry's commitment: commitment = SHA-256(salt || committed bytes),
/// where the committed bytes are the receipt's `statement` (its compact JSON), or `document`
/// for a record the log wrote (a citizen's withdrawal or erasure, an access decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The 32-byte salt, standard base64.
    pub salt: String,
    /// The committed document's exact bytes, standard base64 (when there is no statement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// The participant who signed the entry's statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSigner {
    /// Its participant id (the statement's keyid), in the lower-case hyphenated form.
    pub participant_id: String,
    /// Its registered Ed25519 public key, standard base64.
    pub public_key: String,
}

/// What the store keeps beside a private entry, off the log: the salt, and the statement or
/// document the entry commits to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateSidecar {
    /// The salt, standard base64.
    pub salt: String,
    /// The signed statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Envelope>,
    /// The committed document, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl PrivateSidecar {
    /// The sidecar of a signed statement.
    pub fn statement(salt: &[u8; 32], statement: Envelope) -> Self {
        Self {
            salt: BASE64_STANDARD.encode(salt),
            statement: Some(statement),
            document: None,
        }
    }

    /// The sidecar of a document the log wrote.
    pub fn document(salt: &[u8; 32], document: &[u8]) -> Self {
        Self {
            salt: BASE64_STANDARD.encode(salt),
            statement: None,
            document: Some(BASE64_STANDARD.encode(document)),
        }
    }

    /// Reads stored bytes back (with the strict reader, [`crate::json`]).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        crate::json::from_slice(bytes).ok()
    }

    /// The sidecar's stored bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("an off-log record", self)
    }
}

impl Receipt {
    /// The same proof as a c2sp.org/tlog-proof@v1 text; the leaf travels as the extra data.
    pub fn to_tlog_proof(&self) -> String {
        let mut out = String::from("c2sp.org/tlog-proof@v1\n");
        out.push_str(&format!("extra {}\n", self.leaf));
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion.hashes {
            out.push_str(h);
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// The leaf bytes, if the `leaf` field is base64.
    pub fn leaf_bytes(&self) -> Option<Vec<u8>> {
        BASE64_STANDARD.decode(&self.leaf).ok()
    }
}

/// A parsed c2sp.org/tlog-proof@v1 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The extra data, if any.
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: u64,
    /// The inclusion proof.
    pub hashes: Vec<[u8; 32]>,
    /// The checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Parses the text form strictly; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("c2sp.org/tlog-proof@v1\n")?;
        let (mut line, mut rest) = rest.split_once('\n')?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(BASE64_STANDARD.decode(e).ok()?);
            (line, rest) = rest.split_once('\n')?;
        }
        let index = line.strip_prefix("index ")?;
        if index.is_empty() || (index.len() > 1 && index.starts_with('0')) {
            return None;
        }
        let index: u64 = index.parse().ok()?;
        let (proof, checkpoint) = rest.split_once("\n\n").map_or_else(
            || rest.strip_prefix('\n').map(|c| ("", c)),
            |(p, c)| Some((p, c)),
        )?;
        let hashes = if proof.is_empty() {
            Vec::new()
        } else {
            proof
                .split('\n')
                .map(|l| BASE64_STANDARD.decode(l).ok()?.try_into().ok())
                .collect::<Option<Vec<[u8; 32]>>>()?
        };
        Some(Self {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }
}
