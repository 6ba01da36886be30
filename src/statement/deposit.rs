//! Dataset deposits: the signed payload a depositor sends
//! (`application/vnd.datapole.deposit.v1+json`), its checked form, and the log entry
//! (`"v":1,"type":"deposit"`) the log stores: the whole envelope for a public deposit, only a
//! salted commitment to it for a private one.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::dsse::Envelope;
use super::Freshness;
use crate::field::{self, invalid, InvalidField, Problems};

/// The payload type of deposit statements.
pub const DEPOSIT_TYPE: &str = "application/vnd.datapole.deposit.v1+json";
/// The entry type of deposits.
pub const DEPOSIT_LEAF_TYPE: &str = "deposit";

/// Who may see a deposit's statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The whole signed statement is on the public log.
    Public,
    /// Only a salted commitment to the statement is on the log; the statement and salt go to
    /// the depositor's receipt and to authorised readers.
    Private,
}

/// The deposit statement's payload, as signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositPayload {
    /// SHA-256 of the dataset's content, hex.
    pub sha256: String,
    /// The dataset's size in bytes.
    pub size: u64,
    /// Its media type, e.g. `text/csv`.
    pub media_type: String,
    /// Its title (1 to 500 characters).
    pub title: String,
    /// A description (at most 10,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its licence (an SPDX identifier or a URL, at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `public` or `private`.
    pub visibility: Visibility,
    /// How long to keep it: an ISO 8601 duration (`P10Y`) or a date (`2036-12-31`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    /// To deposit a new version of a dataset the depositor owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<Uuid>,
    /// The dataset's controller, whose consents may cover it: a registered participant with
    /// the controller role. Named in the first version (default: the depositor) and fixed from
    /// then on; a later version may repeat it, not change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<Uuid>,
    /// Free-form metadata (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the statement was signed (RFC 3339); within 5 minutes of the server clock.
    pub issued_at: String,
    /// A value never used before by this participant (16 to 128 characters).
    pub nonce: String,
}

impl DepositPayload {
    /// Reads a signed deposit payload with the strict reader ([`crate::json`]) that the API,
    /// the verifiers and the monitor share: a repeated key at any depth (`metadata`
    /// included) or a number beyond 2^53−1 is refused, the JSON path named.
    pub fn from_statement_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }
}

/// A checked deposit statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Deposit {
    /// Content digest.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
    /// Visibility.
    pub visibility: Visibility,
    /// The dataset to add a version to, if any.
    pub dataset_id: Option<Uuid>,
    /// The controller the statement names, if any.
    pub controller: Option<Uuid>,
    /// Issue time and nonce.
    pub freshness: Freshness,
}

fn media_type(value: &str) -> Result<(), InvalidField> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let essence = value.split(';').next().unwrap_or("");
    let ok = value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && essence
            .trim()
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "media_type",
            "must be a media type such as text/csv",
        ))
    }
}

/// An ISO 8601 duration (`P1Y2M3W4DT5H6M7S`, at least one part) or a calendar date.
fn retention(value: &str) -> Result<(), InvalidField> {
    if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
        || field::IsoDuration::parse(value).is_some()
    {
        return Ok(());
    }
    Err(invalid(
        "retention",
        "must be an ISO 8601 duration (e.g. P10Y) or a date (YYYY-MM-DD)",
    ))
}

impl TryFrom<&DepositPayload> for Deposit {
    type Error = Problems;

    /// Every problem of the payload is reported.
    fn try_from(p: &DepositPayload) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let sha256 = problems.check(field::sha256_hex("sha256", &p.sha256));
        problems.check(media_type(&p.media_type));
        problems.check(field::text("title", &p.title, 500));
        if let Some(d) = &p.description {
            problems.check(field::long_text("description", d, 10_000));
        }
        if let Some(l) = &p.license {
            problems.check(field::text("license", l, 200));
        }
        if let Some(r) = &p.retention {
            problems.check(retention(r));
        }
        let freshness = match Freshness::parse(&p.issued_at, &p.nonce) {
            Ok(f) => Some(f),
            Err(more) => {
                for m in more {
                    problems.push(m);
                }
                None
            }
        };
        let (Some(sha256), Some(freshness)) = (sha256, freshness) else {
            return Err(problems);
        };
        problems.finish()?;
        Ok(Self {
            sha256,
            size: p.size,
            visibility: p.visibility,
            dataset_id: p.dataset_id,
            controller: p.controller,
            freshness,
        })
    }
}

/// Where a deposit goes: which dataset and version, by whom, under which controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The dataset (UUID v7, assigned by the log at its first version).
    pub dataset_id: Uuid,
    /// The version number: 1, 2, ...
    pub version: u64,
    /// The depositor's participant id.
    pub depositor: Uuid,
    /// The dataset's controller (the depositor unless the first version named another).
    pub controller: Uuid,
}

/// The log entry of a deposit. Public: `statement` is the whole envelope. Private:
/// `commitment` is SHA-256(salt || envelope bytes), hex; title and metadata are not on the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositLeaf {
    /// Entry format version: 1.
    pub v: u8,
    /// Entry type: `deposit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The dataset (UUID v7, assigned by the log at its first version).
    pub dataset_id: Uuid,
    /// The version number: 1, 2, ...
    pub version: u64,
    /// The depositor's participant id.
    pub depositor: Uuid,
    /// The dataset's controller when it is not the depositor: named by the first version's
    /// statement and repeated in every version's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<Uuid>,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `public` or `private`.
    pub visibility: Visibility,
    /// When the log accepted it (RFC 3339, UTC, milliseconds).
    pub deposited_at: String,
    /// The signed statement (public deposits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Envelope>,
    /// SHA-256(salt || envelope bytes), hex (private deposits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

impl DepositLeaf {
    /// The leaf for a checked deposit, as version `place.version` of its dataset.
    pub fn new(
        deposit: &Deposit,
        envelope: &Envelope,
        salt: &[u8; 32],
        place: Placement,
        at: DateTime<Utc>,
    ) -> Result<Self, crate::json::EncodeError> {
        let Placement {
            dataset_id,
            version,
            depositor,
            controller,
        } = place;
        let (statement, commitment) = match deposit.visibility {
            Visibility::Public => (Some(envelope.clone()), None),
            Visibility::Private => (None, Some(field::hex(&commitment(salt, envelope)?))),
        };
        Ok(Self {
            v: 1,
            kind: DEPOSIT_LEAF_TYPE.into(),
            dataset_id,
            version,
            depositor,
            controller: (controller != depositor).then_some(controller),
            sha256: field::hex(&deposit.sha256),
            size: deposit.size,
            visibility: deposit.visibility,
            deposited_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            statement,
            commitment,
        })
    }

    /// The entry's bytes: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::json::EncodeError> {
        crate::json::to_vec("a deposit entry", self)
    }

    /// The dataset's controller: the one the entry names, else the depositor.
    pub fn controller(&self) -> Uuid {
        self.controller.unwrap_or(self.depositor)
    }
}

/// The commitment of a private statement: SHA-256(salt || envelope bytes).
pub fn commitment(salt: &[u8], envelope: &Envelope) -> Result<[u8; 32], crate::json::EncodeError> {
    Ok(super::commitment(salt, &envelope.to_bytes()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_accepts_durations_and_dates() {
        for ok in [
            "P10Y",
            "P1Y2M3W4D",
            "PT5H",
            "P1DT12H30M5S",
            "2036-12-31",
            "P0D",
        ] {
            assert!(retention(ok).is_ok(), "{ok}");
        }
        // Durations are checked by field::IsoDuration (its own tests); dates here.
        for bad in ["", "2036-13-01", "2036-02-30", "31/12/2036", "P1.5Y"] {
            assert!(retention(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn payloads_are_read_strictly() {
        let text = |metadata: &str, size: &str| {
            format!(
                r#"{{"sha256":"{}","size":{size},"media_type":"text/csv","title":"t","visibility":"public","issued_at":"2026-11-28T10:00:00Z","nonce":"abcdefghijklmnop","metadata":{metadata}}}"#,
                "ab".repeat(32)
            )
        };
        let ok = text(r#"{"a":{"x":1,"y":2.5}}"#, "9007199254740991");
        let p = DepositPayload::from_statement_bytes(ok.as_bytes()).unwrap();
        assert_eq!(p.size, (1 << 53) - 1);
        // A key twice inside metadata: serde_json's map keeps the last, the strict reader
        // refuses it and names where.
        let twice = text(r#"{"a":{"x":1,"x":2}}"#, "1");
        assert!(serde_json::from_slice::<DepositPayload>(twice.as_bytes()).is_ok());
        let e = DepositPayload::from_statement_bytes(twice.as_bytes()).unwrap_err();
        assert_eq!(e.path, "metadata.a");
        let big = text("{}", "9007199254740992");
        assert!(serde_json::from_slice::<DepositPayload>(big.as_bytes()).is_ok());
        let e = DepositPayload::from_statement_bytes(big.as_bytes()).unwrap_err();
        assert_eq!(e.path, "size");
    }

    #[test]
    fn media_types_are_checked() {
        for ok in [
            "text/csv",
            "application/vnd.apache.parquet",
            "text/plain; charset=utf-8",
        ] {
            assert!(media_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "csv", "text/", "/csv", "te xt/csv", "text/csv\n"] {
            assert!(media_type(bad).is_err(), "{bad}");
        }
    }
}
