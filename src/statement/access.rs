//! Access statements: what an accessor signs before using data
//! (`application/vnd.datapole.access.v1+json`): which dataset, which action, for which purpose,
//! under which legal basis. The log decides ([`crate::decision`]) and records the decision.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Freshness;
use crate::field::{self, invalid, Problems};

/// The payload type of access statements.
pub const ACCESS_TYPE: &str = "application/vnd.datapole.access.v1+json";
/// The most consents one access may reference.
pub const MAX_CONSENTS: usize = 100;

/// What the accessor does with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read records.
    Read,
    /// Run a query.
    Query,
    /// Export a copy.
    Export,
    /// Compute on the data without taking it out.
    Compute,
    /// Download the archived bytes (`GET /v1/datasets/{id}/versions/{v}/content`): the
    /// permit is checked again, consents included, when the download starts.
    Download,
}

/// The legal basis an access relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// The consents listed in `consent_ids`, checked by the log.
    Consent,
    /// A permit (e.g. from a data-access committee), named by `authorization_ref`.
    Permit,
    /// A task in the public interest, named by `authorization_ref`.
    PublicInterest,
    /// A contract, named by `authorization_ref`.
    Contract,
}

/// The purpose of an access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPurpose {
    /// The purpose code (as consented to, for a consent-based access).
    pub code: String,
}

/// A break-glass access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emergency {
    /// Why it cannot wait (1 to 2,000 characters; no personal data).
    pub justification: String,
}

/// The access statement's payload, as signed by the accessor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPayload {
    /// The dataset accessed.
    pub dataset_id: Uuid,
    /// `read`, `query`, `export`, `compute` or `download`.
    pub action: Action,
    /// The purpose.
    pub purpose: AccessPurpose,
    /// `consent`, `permit`, `public_interest` or `contract`.
    pub legal_basis: LegalBasis,
    /// The consents relied on (legal basis `consent` only; 1 to 100, no repeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_ids: Option<Vec<Uuid>>,
    /// The permit number or contract id (every other legal basis; 1 to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_ref: Option<String>,
    /// Present for a break-glass access: permitted, and flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<Emergency>,
    /// When the statement was signed (RFC 3339); within 5 minutes of the server clock.
    pub issued_at: String,
    /// A value never used before by this participant (16 to 128 characters).
    pub nonce: String,
}

impl AccessPayload {
    /// Reads a signed access payload with the strict reader ([`crate::json`]) that the API
    /// and the verifiers share.
    pub fn from_statement_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }
}

/// A checked access statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The payload as signed.
    pub payload: AccessPayload,
    /// The consents relied on (empty unless the legal basis is `consent`).
    pub consent_ids: Vec<Uuid>,
    /// Issue time and nonce.
    pub freshness: Freshness,
}

impl TryFrom<&AccessPayload> for Access {
    type Error = Problems;

    /// Every problem of the payload is reported.
    fn try_from(p: &AccessPayload) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let code = &p.purpose.code;
        if code.is_empty()
            || code.len() > 128
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            problems.push(invalid(
                "purpose.code",
                "must be 1 to 128 characters of A-Z a-z 0-9 - _ . :",
            ));
        }
        let consent_ids = (|| match (p.legal_basis, &p.consent_ids, &p.authorization_ref) {
            (LegalBasis::Consent, Some(ids), None) => {
                if ids.is_empty() || ids.len() > MAX_CONSENTS {
                    return Err(invalid(
                        "consent_ids",
                        format!("must list 1 to {MAX_CONSENTS} consents"),
                    ));
                }
                let mut sorted = ids.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != ids.len() {
                    return Err(invalid("consent_ids", "must not repeat a consent"));
                }
                Ok(ids.clone())
            }
            (LegalBasis::Consent, None, _) => Err(invalid(
                "consent_ids",
                "an access on the consent basis must list its consents",
            )),
            (LegalBasis::Consent, Some(_), Some(_)) => Err(invalid(
                "authorization_ref",
                "applies to the permit, public_interest and contract bases, not consent",
            )),
            (_, Some(_), _) => Err(invalid(
                "consent_ids",
                "apply only to the consent legal basis",
            )),
            (_, None, None) => Err(invalid(
                "authorization_ref",
                "this legal basis needs the permit number or contract id",
            )),
            (_, None, Some(r)) => {
                field::text("authorization_ref", r, 200)?;
                Ok(Vec::new())
            }
        })();
        let consent_ids = problems.check(consent_ids);
        if let Some(e) = &p.emergency {
            problems.check(field::text(
                "emergency.justification",
                &e.justification,
                2000,
            ));
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
        let (Some(consent_ids), Some(freshness)) = (consent_ids, freshness) else {
            return Err(problems);
        };
        problems.finish()?;
        Ok(Self {
            payload: p.clone(),
            consent_ids,
            freshness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(extra: serde_json::Value) -> AccessPayload {
        let mut v = serde_json::json!({
            "dataset_id": Uuid::nil(),
            "action": "read",
            "purpose": {"code": "cohort-2027"},
            "legal_basis": "consent",
            "consent_ids": [Uuid::nil()],
            "issued_at": "2026-11-28T10:00:00Z",
            "nonce": "abcdefghijklmnop"
        });
        for (k, x) in extra.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn legal_bases_need_their_references() {
        assert!(Access::try_from(&payload(serde_json::json!({}))).is_ok());
        let permit = payload(
            serde_json::json!({"legal_basis": "permit", "consent_ids": null,
            "authorization_ref": "CESREES-2026-114"}),
        );
        assert!(Access::try_from(&permit).unwrap().consent_ids.is_empty());
        let cases = [
            (serde_json::json!({"consent_ids": []}), "consent_ids"),
            (serde_json::json!({"consent_ids": null}), "consent_ids"),
            (
                serde_json::json!({"consent_ids": [Uuid::nil(), Uuid::nil()]}),
                "consent_ids",
            ),
            (
                serde_json::json!({"authorization_ref": "P-1"}),
                "authorization_ref",
            ),
            (
                serde_json::json!({"legal_basis": "contract", "consent_ids": null}),
                "authorization_ref",
            ),
            (
                serde_json::json!({"legal_basis": "contract", "authorization_ref": "C-1"}),
                "consent_ids",
            ),
            (
                serde_json::json!({"purpose": {"code": "no spaces"}}),
                "purpose.code",
            ),
            (
                serde_json::json!({"emergency": {"justification": " "}}),
                "emergency.justification",
            ),
        ];
        for (change, field) in cases {
            assert_eq!(
                Access::try_from(&payload(change.clone()))
                    .unwrap_err()
                    .first()
                    .unwrap()
                    .field,
                field,
                "{change}"
            );
        }
    }
}
