//! The access decision: one pure function, [`decide`], over the records the log holds.
//!
//! For an access on the consent basis, every referenced consent must exist, list the accessor
//! among its recipients, be in force (not refused, withdrawn, erased or expired at decision
//! time), cover the dataset and include the purpose; the first failure denies, with a precise
//! reason. Other legal bases are recorded as given, with their reference (the log
//! does not verify permits or contracts). A break-glass access is permitted and flagged, with
//! the reason it would otherwise have been denied.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod record;

pub use record::AccessRecord;

use crate::consent::{Lifecycle, Status};
use crate::statement::access::LegalBasis;

/// Permit or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The access may proceed.
    Permit,
    /// It may not.
    Deny,
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Every referenced consent allows it.
    Consented,
    /// A non-consent legal basis, recorded with its reference (not verified by the log).
    AuthorizationRecorded,
    /// A break-glass access that would otherwise have been denied.
    EmergencyOverride,
    /// A referenced consent does not exist.
    UnknownConsent,
    /// A referenced consent was refused.
    ConsentRefused,
    /// A referenced consent was withdrawn.
    ConsentWithdrawn,
    /// A referenced consent was erased.
    ConsentErased,
    /// A referenced consent has expired.
    ConsentExpired,
    /// A referenced consent does not cover the dataset.
    DatasetNotCovered,
    /// A referenced consent does not include the purpose.
    PurposeNotConsented,
    /// A referenced consent does not list the accessor among its recipients.
    RecipientNotAllowed,
    /// A referenced consent's record cannot be read: nothing is permitted on it.
    ConsentUnreadable,
}

impl Reason {
    /// The reason's code, as in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Consented => "consented",
            Reason::AuthorizationRecorded => "authorization_recorded",
            Reason::EmergencyOverride => "emergency_override",
            Reason::UnknownConsent => "unknown_consent",
            Reason::ConsentRefused => "consent_refused",
            Reason::ConsentWithdrawn => "consent_withdrawn",
            Reason::ConsentErased => "consent_erased",
            Reason::ConsentExpired => "consent_expired",
            Reason::DatasetNotCovered => "dataset_not_covered",
            Reason::PurposeNotConsented => "purpose_not_consented",
            Reason::RecipientNotAllowed => "recipient_not_allowed",
            Reason::ConsentUnreadable => "consent_unreadable",
        }
    }
}

impl Reason {
    /// Every reason, permits first, then denials in the order of the reference
    /// (`docs/reference/errors.md`).
    pub const ALL: &'static [Reason] = &[
        Reason::Consented,
        Reason::AuthorizationRecorded,
        Reason::EmergencyOverride,
        Reason::UnknownConsent,
        Reason::ConsentRefused,
        Reason::ConsentWithdrawn,
        Reason::ConsentErased,
        Reason::ConsentExpired,
        Reason::DatasetNotCovered,
        Reason::PurposeNotConsented,
        Reason::RecipientNotAllowed,
        Reason::ConsentUnreadable,
    ];

    /// The verdict of a decision with this reason (an emergency override is a permit; the
    /// reason it overrode is kept apart, in [`Decision::overridden`]).
    pub fn verdict(self) -> Verdict {
        match self {
            Reason::Consented | Reason::AuthorizationRecorded | Reason::EmergencyOverride => {
                Verdict::Permit
            }
            Reason::UnknownConsent
            | Reason::ConsentRefused
            | Reason::ConsentWithdrawn
            | Reason::ConsentErased
            | Reason::ConsentExpired
            | Reason::DatasetNotCovered
            | Reason::PurposeNotConsented
            | Reason::RecipientNotAllowed
            | Reason::ConsentUnreadable => Verdict::Deny,
        }
    }

    /// What the reason means (one paragraph of the reference).
    pub fn when(self) -> &'static str {
        match self {
            Reason::Consented => "The `consent` basis: every cited consent is on the log, lists the accessor among its recipients, is in force, covers the dataset and includes the purpose code",
            Reason::AuthorizationRecorded => "The `permit`, `public_interest` or `contract` basis: the log records the reference, it does not check it",
            Reason::EmergencyOverride => "An `emergency` access that a cited consent would have denied: permitted and flagged, with the `consent_id` that failed; its record keeps the reason it overrode (`overridden`)",
            Reason::UnknownConsent => "A cited consent is not a consent on the log",
            Reason::ConsentRefused => "A cited consent was refused",
            Reason::ConsentWithdrawn => "A cited consent was withdrawn",
            Reason::ConsentErased => "A cited consent was erased",
            Reason::ConsentExpired => "A cited consent is past its validity",
            Reason::DatasetNotCovered => "A cited consent does not cover the dataset: the dataset's controller is not the consent's controller, or the dataset is not in the consent's `datasets` (an empty list covers every dataset of its controller)",
            Reason::PurposeNotConsented => "A cited consent does not include the purpose code",
            Reason::RecipientNotAllowed => "A cited consent does not list the accessor among its recipients (checked before its status, dataset and purpose, so an accessor it does not name learns nothing more)",
            Reason::ConsentUnreadable => "A cited consent's record is in the store but cannot be read (status `unreadable`)",
        }
    }
}

/// What a consent allows, from its (off-log) record. `None` once the record is erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentTerms {
    /// The controller that recorded it.
    pub issuer: Uuid,
    /// The datasets covered, all of this controller's; empty means every dataset whose
    /// controller it is.
    pub datasets: Vec<Uuid>,
    /// The purpose codes.
    pub purposes: Vec<String>,
    /// The participants allowed to access.
    pub recipients: Vec<Uuid>,
}

/// A consent as the decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFacts {
    /// Its events.
    pub lifecycle: Lifecycle,
    /// Its terms, unless erased.
    pub terms: Option<ConsentTerms>,
}

/// The access asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFacts<'a> {
    /// The accessor's participant id.
    pub accessor: Uuid,
    /// The dataset.
    pub dataset_id: Uuid,
    /// The dataset's controller (its depositor, or the controller its first version named),
    /// if the dataset is on the log.
    pub dataset_controller: Option<Uuid>,
    /// The purpose code.
    pub purpose: &'a str,
    /// The legal basis.
    pub legal_basis: LegalBasis,
    /// The consents relied on.
    pub consent_ids: &'a [Uuid],
    /// A break-glass access.
    pub emergency: bool,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Permit or deny.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// The consent the reason is about.
    pub consent_id: Option<Uuid>,
    /// For an emergency access that would otherwise have been denied: why.
    pub overridden: Option<Reason>,
}

/// Checks one consent for `access`; the reason it fails, if it does.
///
/// An accessor the consent does not name learns nothing more than that: the recipient check
/// comes before the status, dataset and purpose checks, so deny reasons cannot be used to
/// probe a consent's terms. (An erased consent's terms are gone, recipients included.)
fn check_consent(
    access: &AccessFacts,
    consent: &ConsentFacts,
    now: DateTime<Utc>,
) -> Option<Reason> {
    let status = consent.lifecycle.status_at(now);
    if status == Status::Erased {
        return Some(Reason::ConsentErased);
    }
    let Some(terms) = &consent.terms else {
        return Some(Reason::ConsentUnreadable);
    };
    if !terms.recipients.contains(&access.accessor) {
        return Some(Reason::RecipientNotAllowed);
    }
    match status {
        Status::Withdrawn => return Some(Reason::ConsentWithdrawn),
        Status::Refused => return Some(Reason::ConsentRefused),
        Status::Expired => return Some(Reason::ConsentExpired),
        Status::Unreadable => return Some(Reason::ConsentUnreadable),
        Status::Given | Status::Erased => {}
    }
    // A consent covers only datasets of its own controller, whatever it lists: a controller
    // cannot grant access to another's dataset.
    let covered = access.dataset_controller == Some(terms.issuer)
        && (terms.datasets.is_empty() || terms.datasets.contains(&access.dataset_id));
    if !covered {
        return Some(Reason::DatasetNotCovered);
    }
    if !terms.purposes.iter().any(|p| p == access.purpose) {
        return Some(Reason::PurposeNotConsented);
    }
    None
}

/// Decides `access` at time `now`, given the referenced consents the log knows (a referenced
/// id missing from `consents` is unknown).
pub fn decide(
    access: &AccessFacts,
    consents: &HashMap<Uuid, ConsentFacts>,
    now: DateTime<Utc>,
) -> Decision {
    let failure = match access.legal_basis {
        LegalBasis::Consent => access.consent_ids.iter().find_map(|id| {
            let reason = match consents.get(id) {
                None => Some(Reason::UnknownConsent),
                Some(c) => check_consent(access, c, now),
            };
            reason.map(|r| (r, *id))
        }),
        LegalBasis::Permit | LegalBasis::PublicInterest | LegalBasis::Contract => None,
    };
    let granted = match access.legal_basis {
        LegalBasis::Consent => Reason::Consented,
        _ => Reason::AuthorizationRecorded,
    };
    match failure {
        None => Decision {
            verdict: Verdict::Permit,
            reason: granted,
            consent_id: None,
            overridden: None,
        },
        Some((reason, id)) if access.emergency => Decision {
            verdict: Verdict::Permit,
            reason: Reason::EmergencyOverride,
            consent_id: Some(id),
            overridden: Some(reason),
        },
        Some((reason, id)) => Decision {
            verdict: Verdict::Deny,
            reason,
            consent_id: Some(id),
            overridden: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::consent::ConsentDecision;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NOW: &str = "2026-12-01T12:00:00Z";

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    const CONTROLLER: u8 = 1;
    const ACCESSOR: u8 = 2;
    const DATASET: u8 = 3;
    const CONSENT: u8 = 9;

    fn consent() -> ConsentFacts {
        ConsentFacts {
            lifecycle: Lifecycle {
                decision: Some(ConsentDecision::Given),
                expires_at: t("2027-01-01T00:00:00Z"),
                withdrawn_at: None,
                erased_at: None,
            },
            terms: Some(ConsentTerms {
                issuer: id(CONTROLLER),
                datasets: vec![id(DATASET)],
                purposes: vec!["cohort-2027".into(), "registry".into()],
                recipients: vec![id(ACCESSOR)],
            }),
        }
    }

    fn access(consent_ids: &[Uuid]) -> AccessFacts<'_> {
        AccessFacts {
            accessor: id(ACCESSOR),
            dataset_id: id(DATASET),
            dataset_controller: Some(id(CONTROLLER)),
            purpose: "cohort-2027",
            legal_basis: LegalBasis::Consent,
            consent_ids,
            emergency: false,
        }
    }

    type Change = fn(&mut ConsentFacts, &mut AccessFacts);

    /// Every rule, one row each: what changes from a permitted access, and the outcome.
    #[test]
    fn every_rule_decides() {
        let rows: &[(&str, Change, Verdict, Reason)] = &[
            ("in force", |_, _| {}, Verdict::Permit, Reason::Consented),
            (
                "second purpose",
                |_, a| a.purpose = "registry",
                Verdict::Permit,
                Reason::Consented,
            ),
            (
                "any dataset of the controller",
                |c, a| {
                    c.terms.as_mut().unwrap().datasets.clear();
                    a.dataset_id = id(77);
                },
                Verdict::Permit,
                Reason::Consented,
            ),
            (
                "any dataset, but another controller's",
                |c, a| {
                    c.terms.as_mut().unwrap().datasets.clear();
                    a.dataset_controller = Some(id(55));
                },
                Verdict::Deny,
                Reason::DatasetNotCovered,
            ),
            (
                "any dataset, but one not on the log",
                |c, a| {
                    c.terms.as_mut().unwrap().datasets.clear();
                    a.dataset_controller = None;
                },
                Verdict::Deny,
                Reason::DatasetNotCovered,
            ),
            (
                "a listed dataset of another controller",
                |_, a| a.dataset_controller = Some(id(55)),
                Verdict::Deny,
                Reason::DatasetNotCovered,
            ),
            (
                "a listed dataset not on the log",
                |_, a| a.dataset_controller = None,
                Verdict::Deny,
                Reason::DatasetNotCovered,
            ),
            (
                "unreadable record",
                |c, _| {
                    c.lifecycle.decision = None;
                    c.terms = None;
                },
                Verdict::Deny,
                Reason::ConsentUnreadable,
            ),
            (
                "dataset not listed",
                |_, a| a.dataset_id = id(4),
                Verdict::Deny,
                Reason::DatasetNotCovered,
            ),
            (
                "purpose",
                |_, a| a.purpose = "marketing",
                Verdict::Deny,
                Reason::PurposeNotConsented,
            ),
            (
                "recipient",
                |_, a| a.accessor = id(5),
                Verdict::Deny,
                Reason::RecipientNotAllowed,
            ),
            (
                "no recipients listed",
                |c, _| c.terms.as_mut().unwrap().recipients.clear(),
                Verdict::Deny,
                Reason::RecipientNotAllowed,
            ),
            (
                "refused",
                |c, _| c.lifecycle.decision = Some(ConsentDecision::Refused),
                Verdict::Deny,
                Reason::ConsentRefused,
            ),
            (
                "expired",
                |c, _| c.lifecycle.expires_at = t(NOW),
                Verdict::Deny,
                Reason::ConsentExpired,
            ),
            (
                "withdrawn",
                |c, _| c.lifecycle.withdrawn_at = Some(t("2026-12-01T11:59:59Z")),
                Verdict::Deny,
                Reason::ConsentWithdrawn,
            ),
            (
                "withdrawn after the decision time",
                |c, _| c.lifecycle.withdrawn_at = Some(t("2026-12-02T00:00:00Z")),
                Verdict::Permit,
                Reason::Consented,
            ),
            (
                "erased",
                |c, _| {
                    c.lifecycle.erased_at = Some(t("2026-12-01T00:00:00Z"));
                    c.terms = None;
                },
                Verdict::Deny,
                Reason::ConsentErased,
            ),
            (
                "withdrawn outranks other failures",
                |c, a| {
                    c.lifecycle.withdrawn_at = Some(t("2026-11-30T00:00:00Z"));
                    a.purpose = "marketing";
                },
                Verdict::Deny,
                Reason::ConsentWithdrawn,
            ),
            (
                "a stranger learns nothing of a withdrawn consent's terms",
                |c, a| {
                    c.lifecycle.withdrawn_at = Some(t("2026-11-30T00:00:00Z"));
                    a.accessor = id(5);
                    a.purpose = "marketing";
                    a.dataset_id = id(4);
                },
                Verdict::Deny,
                Reason::RecipientNotAllowed,
            ),
            (
                "a stranger learns nothing of the dataset or purpose",
                |_, a| {
                    a.accessor = id(5);
                    a.dataset_id = id(4);
                },
                Verdict::Deny,
                Reason::RecipientNotAllowed,
            ),
            (
                "emergency overrides",
                |c, a| {
                    c.lifecycle.withdrawn_at = Some(t("2026-11-30T00:00:00Z"));
                    a.emergency = true;
                },
                Verdict::Permit,
                Reason::EmergencyOverride,
            ),
            (
                "emergency on a good consent",
                |_, a| a.emergency = true,
                Verdict::Permit,
                Reason::Consented,
            ),
            (
                "permit basis",
                |c, a| {
                    a.legal_basis = LegalBasis::Permit;
                    c.lifecycle.withdrawn_at = Some(t("2026-11-30T00:00:00Z"));
                },
                Verdict::Permit,
                Reason::AuthorizationRecorded,
            ),
            (
                "public interest basis",
                |_, a| a.legal_basis = LegalBasis::PublicInterest,
                Verdict::Permit,
                Reason::AuthorizationRecorded,
            ),
            (
                "contract basis",
                |_, a| a.legal_basis = LegalBasis::Contract,
                Verdict::Permit,
                Reason::AuthorizationRecorded,
            ),
        ];
        let ids = [id(CONSENT)];
        for (name, change, verdict, reason) in rows {
            let mut c = consent();
            let mut a = access(&ids);
            change(&mut c, &mut a);
            let consents = HashMap::from([(id(CONSENT), c)]);
            let d = decide(&a, &consents, t(NOW));
            assert_eq!((d.verdict, d.reason), (*verdict, *reason), "{name}");
            if *verdict == Verdict::Deny {
                assert_eq!(d.consent_id, Some(id(CONSENT)), "{name}");
            }
            if *reason == Reason::EmergencyOverride {
                assert_eq!(d.overridden, Some(Reason::ConsentWithdrawn), "{name}");
            }
        }
    }

    #[test]
    fn every_referenced_consent_must_allow() {
        let good = consent();
        let mut withdrawn = consent();
        withdrawn.lifecycle.withdrawn_at = Some(t("2026-11-30T00:00:00Z"));
        let consents = HashMap::from([(id(10), good), (id(11), withdrawn)]);
        let d = decide(&access(&[id(10), id(11)]), &consents, t(NOW));
        assert_eq!(
            (d.verdict, d.reason, d.consent_id),
            (Verdict::Deny, Reason::ConsentWithdrawn, Some(id(11)))
        );
        let d = decide(&access(&[id(10), id(12)]), &consents, t(NOW));
        assert_eq!(
            (d.verdict, d.reason, d.consent_id),
            (Verdict::Deny, Reason::UnknownConsent, Some(id(12)))
        );
        let d = decide(&access(&[id(10)]), &consents, t(NOW));
        assert_eq!(d.verdict, Verdict::Permit);
    }

    #[test]
    fn reason_codes_match_their_json() {
        for &r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
    }
}

#[cfg(test)]
mod every_reason {
    use super::*;

    /// Every string the JSON Schema derived from [`Reason`] allows: one per variant, whatever
    /// this file lists by hand.
    fn schema_codes() -> Vec<String> {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("const", serde_json::Value::String(s)) => out.push(s.clone()),
                            ("enum", serde_json::Value::Array(items)) => out
                                .extend(items.iter().filter_map(|i| i.as_str().map(str::to_owned))),
                            _ => walk(v, out),
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(schemars::schema_for!(Reason).as_value(), &mut out);
        out
    }

    #[test]
    fn all_holds_every_reason_exactly_once() {
        let mut listed: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
        listed.sort_unstable();
        let before = listed.len();
        listed.dedup();
        assert_eq!(
            listed.len(),
            before,
            "a reason is listed twice in Reason::ALL"
        );
        let mut variants = schema_codes();
        variants.sort_unstable();
        assert_eq!(
            listed, variants,
            "Reason::ALL and the variants of Reason differ"
        );
    }

    #[test]
    fn every_reason_has_its_json_code_and_a_meaning_permits_first() {
        for &r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
            assert!(!r.when().is_empty(), "{} is undocumented", r.code());
        }
        // Permits first, then denials: the reference lists them in this order.
        assert!(
            Reason::ALL
                .windows(2)
                .all(|w| (w[0].verdict(), w[1].verdict()) != (Verdict::Deny, Verdict::Permit)),
            "a permit reason after a deny reason in Reason::ALL"
        );
    }
}
