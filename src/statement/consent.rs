//! Consent statements: what a controller signs to record a citizen's consent or refusal
//! (`application/vnd.datapole.consent.v1+json`), modelled on ISO/IEC TS 27560 consent records
//! (Kantara Consent Receipt v1.1) and the W3C Data Privacy Vocabulary; and the controller's
//! own withdrawal and erasure statements. None of it reaches the public log: the log holds a
//! salted commitment to the signed envelope.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Freshness;
use crate::field::{self, invalid, InvalidField, IsoDuration, Problems};

/// The payload type of consent statements.
pub const CONSENT_TYPE: &str = "application/vnd.datapole.consent.v1+json";
/// The payload type of a controller's withdrawal of a consent it recorded.
pub const WITHDRAWAL_TYPE: &str = "application/vnd.datapole.consent-withdrawal.v1+json";
/// The payload type of a controller's erasure of a consent it recorded.
pub const ERASURE_TYPE: &str = "application/vnd.datapole.consent-erasure.v1+json";

/// The longest a consent may be valid: a longer one is endless in all but name.
pub const MAX_VALIDITY_YEARS: i64 = 100;
/// The most purposes, data categories, datasets or recipients a consent lists.
pub const MAX_LIST: usize = 1000;

/// Who expressed the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpressedByRole {
    /// The person themself.
    #[serde(rename = "self")]
    Subject,
    /// A parent (for a minor).
    Parent,
    /// A legal guardian.
    Guardian,
    /// Another legal representative.
    Representative,
}

/// Who expressed the consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpressedBy {
    /// `self`, `parent`, `guardian` or `representative`.
    pub role: ExpressedByRole,
}

/// The notice the person was shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Where the notice is published (http or https URL).
    pub url: String,
    /// SHA-256 of the exact text shown, hex.
    pub sha256: String,
    /// The notice's version.
    pub version: String,
    /// Its language (a BCP 47 tag such as `fr` or `fr-FR`).
    pub language: String,
}

/// A purpose of processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// A short code (`a-z 0-9 - _ . :`, e.g. `dpv:ResearchAndDevelopment` or `cohort-2027`).
    pub code: String,
    /// The purpose as the person read it.
    pub text: String,
}

/// How long the consent is valid: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Valid until this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Valid for this ISO 8601 duration from the time the log records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// Whether the person gave or refused consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    /// Consent given.
    Given,
    /// Consent refused (recorded too).
    Refused,
}

/// The consent statement's payload, as signed by the controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentPayload {
    /// The controller's own pseudonym for the person (e.g. a keyed HMAC); never a national
    /// identifier, email or name. 16 to 256 characters of `A-Z a-z 0-9 - _ . ~ : + / =`.
    pub subject_ref: String,
    /// Who expressed the consent.
    pub expressed_by: ExpressedBy,
    /// How it was expressed (`web_form`, `paper_scanned`, `oral_witnessed`, ...).
    pub indication_method: String,
    /// The notice shown.
    pub notice: Notice,
    /// The purposes consented to (at least one; codes unique).
    pub purposes: Vec<Purpose>,
    /// The legal basis (`gdpr-6-1-a`, `gdpr-9-2-a`, ...).
    pub legal_basis: String,
    /// The categories of personal data concerned.
    pub data_categories: Vec<String>,
    /// True when they include special-category (GDPR article 9) data.
    pub special_category: bool,
    /// The datasets covered; empty means any dataset this controller deposited.
    #[serde(default)]
    pub datasets: Vec<Uuid>,
    /// The participants allowed to access the data. Only those listed are allowed.
    #[serde(default)]
    pub recipients: Vec<Uuid>,
    /// The jurisdiction (e.g. `FR`).
    pub jurisdiction: String,
    /// Where the data is stored (e.g. `FR, certified health-data host`).
    pub storage_location: String,
    /// How long the data is kept: an ISO 8601 duration.
    pub retention_period: String,
    /// How long the consent is valid.
    pub validity: Validity,
    /// How to withdraw (a URL or a text).
    pub withdrawal_method: String,
    /// `given` or `refused`.
    pub decision: ConsentDecision,
    /// When the statement was signed (RFC 3339); within 5 minutes of the server clock.
    pub issued_at: String,
    /// A value never used before by this participant (16 to 128 characters).
    pub nonce: String,
}

impl ConsentPayload {
    /// Reads a signed consent payload with the strict reader ([`crate::json`]) that the API
    /// and the verifiers share.
    pub fn from_statement_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }

    /// When a consent of this payload recorded at `recorded_at` expires; `None` if its
    /// validity is malformed (which [`Consent::check`] refuses).
    pub fn expires_at(&self, recorded_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (&self.validity.until, &self.validity.duration) {
            (Some(u), _) => DateTime::parse_from_rfc3339(u)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            (None, Some(d)) => IsoDuration::parse(d)?.after(recorded_at),
            (None, None) => None,
        }
    }
}

/// Why a consent statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// A field is malformed.
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// `subject_ref` looks like a direct identifier (an email, a French NIR, a name).
    #[error("subject_ref looks like {0}, not a pseudonym: send the controller's own pseudonym (e.g. a keyed HMAC of the identifier)")]
    NotPseudonymous(&'static str),
    /// The validity has no end, or one too far away.
    #[error("validity: {0}")]
    Endless(String),
}

/// A checked validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedValidity {
    /// Until a fixed time.
    Until(DateTime<Utc>),
    /// For a duration from the time the log records the consent.
    For(IsoDuration),
}

impl CheckedValidity {
    /// When a consent recorded at `recorded_at` expires; `None` if it never could (out of
    /// range, which checking refuses).
    pub fn expires_at(&self, recorded_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            CheckedValidity::Until(t) => Some(*t),
            CheckedValidity::For(d) => d.after(recorded_at),
        }
    }
}

/// A checked consent statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    /// The payload as signed.
    pub payload: ConsentPayload,
    /// Its validity.
    pub validity: CheckedValidity,
    /// Issue time and nonce.
    pub freshness: Freshness,
}

/// What a direct identifier `subject_ref` resembles, if any.
pub fn direct_identifier(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if let Some((local, domain)) = v.split_once('@') {
        if !local.is_empty() && domain.contains('.') && !domain.ends_with('.') {
            return Some("an email address");
        }
    }
    // A French NIR: 13 digits (15 with its key); Corsican departments are 2A and 2B. Spaces,
    // dots and dashes are often typed between the groups.
    let compact: String = v
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect::<String>()
        .to_ascii_uppercase();
    let nir = (compact.len() == 13 || compact.len() == 15)
        && compact
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || (i == 6 && (c == 'A' || c == 'B')))
        && compact.starts_with(['1', '2', '3', '4', '7', '8']);
    if nir {
        return Some("a French social security number (NIR)");
    }
    if v.contains(char::is_whitespace) {
        return Some("a name (it contains spaces)");
    }
    None
}

fn token(field: &str, value: &str, max: usize) -> Result<(), InvalidField> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be 1 to {max} characters of A-Z a-z 0-9 - _ . :"),
        ))
    }
}

fn url(field: &str, value: &str) -> Result<(), InvalidField> {
    let ok = value.len() <= 2000
        && (value.starts_with("https://") || value.starts_with("http://"))
        && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(field, "must be an http or https URL"))
    }
}

fn unique_ids(field: &str, ids: &[Uuid]) -> Result<(), InvalidField> {
    if ids.len() > MAX_LIST {
        return Err(invalid(field, format!("lists more than {MAX_LIST}")));
    }
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != ids.len() {
        return Err(invalid(field, "must not repeat an id"));
    }
    Ok(())
}

impl Consent {
    /// Checks a payload against the server clock `now` (for `validity.until`, which must be
    /// in the future). Every problem is reported, in the order of the fields.
    pub fn check(p: &ConsentPayload, now: DateTime<Utc>) -> Result<Self, Vec<ConsentError>> {
        let mut all: Vec<ConsentError> = Vec::new();
        let mut fields = Problems::new();
        let s = &p.subject_ref;
        if let Some(what) = direct_identifier(s) {
            all.push(ConsentError::NotPseudonymous(what));
        } else {
            let ok = (16..=256).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~:+/=".contains(&b));
            if !ok {
                fields.push(invalid(
                    "subject_ref",
                    "must be 16 to 256 characters of A-Z a-z 0-9 - _ . ~ : + / = (a pseudonym such as a keyed HMAC)",
                ));
            }
        }
        fields.check(token("indication_method", &p.indication_method, 64));
        fields.check(url("notice.url", &p.notice.url));
        fields.check(field::sha256_hex("notice.sha256", &p.notice.sha256));
        fields.check(field::text("notice.version", &p.notice.version, 64));
        let lang = &p.notice.language;
        let lang_ok = (2..=35).contains(&lang.len())
            && lang.split('-').all(|part| {
                (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            && lang.split('-').next().is_some_and(|primary| {
                (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic())
            });
        if !lang_ok {
            fields.push(invalid(
                "notice.language",
                "must be a BCP 47 language tag such as fr or fr-FR",
            ));
        }
        if p.purposes.is_empty() {
            fields.push(invalid("purposes", "must list at least one purpose"));
        }
        if p.purposes.len() > MAX_LIST {
            fields.push(invalid("purposes", format!("lists more than {MAX_LIST}")));
        }
        let mut codes: Vec<&str> = Vec::new();
        for (i, purpose) in p.purposes.iter().enumerate().take(MAX_LIST) {
            fields.check(token(&format!("purposes[{i}].code"), &purpose.code, 128));
            let text = format!("purposes[{i}].text");
            fields.check(field::long_text(&text, &purpose.text, 2000).and_then(|t| {
                if t.is_empty() {
                    Err(invalid(&text, "must not be empty"))
                } else {
                    Ok(t)
                }
            }));
            if codes.contains(&purpose.code.as_str()) {
                fields.push(invalid(
                    format!("purposes[{i}].code"),
                    "must not repeat a purpose code",
                ));
            }
            codes.push(&purpose.code);
        }
        fields.check(token("legal_basis", &p.legal_basis, 64));
        if p.special_category
            && p.decision == ConsentDecision::Given
            && !p.legal_basis.starts_with("gdpr-9-")
        {
            fields.push(invalid(
                "legal_basis",
                "special-category data needs a GDPR article 9 basis (e.g. gdpr-9-2-a)",
            ));
        }
        if p.data_categories.is_empty() {
            fields.push(invalid(
                "data_categories",
                "must list at least one category",
            ));
        }
        if p.data_categories.len() > MAX_LIST {
            fields.push(invalid(
                "data_categories",
                format!("lists more than {MAX_LIST}"),
            ));
        }
        for (i, c) in p.data_categories.iter().enumerate().take(MAX_LIST) {
            fields.check(field::text(&format!("data_categories[{i}]"), c, 200));
        }
        fields.check(unique_ids("datasets", &p.datasets));
        fields.check(unique_ids("recipients", &p.recipients));
        fields.check(field::text("jurisdiction", &p.jurisdiction, 64));
        fields.check(field::text("storage_location", &p.storage_location, 500));
        if IsoDuration::parse(&p.retention_period).is_none() {
            fields.push(invalid(
                "retention_period",
                "must be an ISO 8601 duration such as P5Y",
            ));
        }
        fields.check(field::text("withdrawal_method", &p.withdrawal_method, 2000));
        let freshness = match Freshness::parse(&p.issued_at, &p.nonce) {
            Ok(f) => Some(f),
            Err(problems) => {
                for problem in problems {
                    fields.push(problem);
                }
                None
            }
        };
        let horizon = now + Duration::days(365 * MAX_VALIDITY_YEARS + 25);
        let validity = match (&p.validity.until, &p.validity.duration) {
            (None, None) => {
                all.push(ConsentError::Endless(
                    "a consent must end: give until (RFC 3339) or duration (ISO 8601)".into(),
                ));
                None
            }
            (Some(_), Some(_)) => {
                fields.push(invalid("validity", "give until or duration, not both"));
                None
            }
            (Some(until), None) => match DateTime::parse_from_rfc3339(until) {
                Err(e) => {
                    fields.push(invalid(
                        "validity.until",
                        format!("is not an RFC 3339 time ({e})"),
                    ));
                    None
                }
                Ok(t) => {
                    let t = t.with_timezone(&Utc);
                    if t <= now {
                        fields.push(invalid("validity.until", "is in the past"));
                        None
                    } else if t > horizon {
                        all.push(ConsentError::Endless(format!(
                            "until is more than {MAX_VALIDITY_YEARS} years away"
                        )));
                        None
                    } else {
                        Some(CheckedValidity::Until(t))
                    }
                }
            },
            (None, Some(d)) => match IsoDuration::parse(d) {
                None => {
                    fields.push(invalid(
                        "validity.duration",
                        "must be an ISO 8601 duration such as P2Y",
                    ));
                    None
                }
                Some(d) if d.is_zero() => {
                    fields.push(invalid("validity.duration", "must not be zero"));
                    None
                }
                Some(d) => match d.after(now) {
                    Some(t) if t <= horizon => Some(CheckedValidity::For(d)),
                    _ => {
                        all.push(ConsentError::Endless(format!(
                            "duration is longer than {MAX_VALIDITY_YEARS} years"
                        )));
                        None
                    }
                },
            },
        };
        all.extend(fields.into_iter().map(ConsentError::Invalid));
        match (validity, freshness) {
            (Some(validity), Some(freshness)) if all.is_empty() => Ok(Self {
                payload: p.clone(),
                validity,
                freshness,
            }),
            _ => Err(all),
        }
    }
}

/// A controller's withdrawal or erasure of one of its consents (payload types
/// [`WITHDRAWAL_TYPE`] and [`ERASURE_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentActionPayload {
    /// The consent (it must be the one in the request path).
    pub consent_id: Uuid,
    /// Why (at most 2,000 characters; no personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the statement was signed (RFC 3339); within 5 minutes of the server clock.
    pub issued_at: String,
    /// A value never used before by this participant (16 to 128 characters).
    pub nonce: String,
}

impl ConsentActionPayload {
    /// Reads a signed withdrawal or erasure payload with the strict reader ([`crate::json`]).
    pub fn from_statement_bytes(bytes: &[u8]) -> Result<Self, crate::json::JsonError> {
        crate::json::from_slice(bytes)
    }

    /// Checks the fields, reporting every problem.
    pub fn check(&self) -> Result<Freshness, Problems> {
        let mut problems = Problems::new();
        if let Some(r) = &self.reason {
            problems.check(field::long_text("reason", r, 2000));
        }
        match Freshness::parse(&self.issued_at, &self.nonce) {
            Ok(f) if problems.is_empty() => Ok(f),
            Ok(_) => Err(problems),
            Err(more) => {
                for p in more {
                    problems.push(p);
                }
                Err(problems)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid payload, for tests here and in the decision module.
    pub(crate) fn payload() -> ConsentPayload {
        serde_json::from_value(serde_json::json!({
            "subject_ref": "hmac-sha256:3f6c1d0e9a7b5c2d",
            "expressed_by": {"role": "self"},
            "indication_method": "web_form",
            "notice": {"url": "https://chu.example/notice", "sha256": "ab".repeat(32),
                        "version": "3", "language": "fr-FR"},
            "purposes": [{"code": "cohort-2027", "text": "Étude de cohorte"}],
            "legal_basis": "gdpr-9-2-a",
            "data_categories": ["health"],
            "special_category": true,
            "datasets": [],
            "recipients": [],
            "jurisdiction": "FR",
            "storage_location": "FR",
            "retention_period": "P5Y",
            "validity": {"duration": "P2Y"},
            "withdrawal_method": "https://chu.example/withdraw",
            "decision": "given",
            "issued_at": "2026-11-28T10:00:00Z",
            "nonce": "abcdefghijklmnop"
        }))
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_good_consent_checks() {
        let c = Consent::check(&payload(), now()).unwrap();
        assert_eq!(
            c.validity.expires_at(now()).unwrap().to_rfc3339(),
            "2028-11-28T10:00:00+00:00"
        );
    }

    #[test]
    fn direct_identifiers_are_refused() {
        for id in [
            "jean.dupont@example.fr",
            "1 85 05 78 006 084 36",
            "185057800608436",
            "1850578006084",
            "285052A012345",
            "Jean Dupont",
        ] {
            let mut p = payload();
            p.subject_ref = id.into();
            assert!(
                matches!(
                    Consent::check(&p, now()).as_ref().map_err(Vec::as_slice),
                    Err([ConsentError::NotPseudonymous(_)])
                ),
                "{id}"
            );
        }
        for ok in [
            "hmac-sha256:3f6c1d0e9a7b5c2d",
            "urn:uuid:0f3c5d9e-1b2a-4c5d-8e9f-0a1b2c3d4e5f",
        ] {
            assert_eq!(direct_identifier(ok), None, "{ok}");
        }
    }

    #[test]
    fn every_problem_of_a_consent_is_reported_at_once() {
        let mut p = payload();
        p.subject_ref = "jean.dupont@example.fr".into();
        p.notice.language = "french".into();
        p.purposes[0].code = "a b".into();
        p.nonce = "short".into();
        p.validity = Validity {
            until: None,
            duration: None,
        };
        let all = Consent::check(&p, now()).unwrap_err();
        let fields: Vec<String> = all
            .iter()
            .map(|e| match e {
                ConsentError::Invalid(f) => f.field.clone(),
                ConsentError::NotPseudonymous(_) => "subject_ref".into(),
                ConsentError::Endless(_) => "validity".into(),
            })
            .collect();
        for expected in [
            "subject_ref",
            "notice.language",
            "purposes[0].code",
            "nonce",
            "validity",
        ] {
            assert!(fields.iter().any(|f| f == expected), "{expected}: {all:?}");
        }
        assert_eq!(all.len(), 5, "{all:?}");
    }

    #[test]
    fn endless_and_malformed_consents_are_refused() {
        let mut p = payload();
        p.validity = Validity {
            until: None,
            duration: None,
        };
        assert!(matches!(
            Consent::check(&p, now()).as_ref().map_err(Vec::as_slice),
            Err([ConsentError::Endless(_)])
        ));
        p.validity.duration = Some("P101Y".into());
        assert!(matches!(
            Consent::check(&p, now()).as_ref().map_err(Vec::as_slice),
            Err([ConsentError::Endless(_)])
        ));
        p.validity.duration = None;
        p.validity.until = Some("2200-01-01T00:00:00Z".into());
        assert!(matches!(
            Consent::check(&p, now()).as_ref().map_err(Vec::as_slice),
            Err([ConsentError::Endless(_)])
        ));

        let field_of =
            |p: &ConsentPayload| match Consent::check(p, now()).as_ref().map_err(Vec::as_slice) {
                Err([ConsentError::Invalid(e)]) => e.field.clone(),
                other => panic!("{other:?}"),
            };
        type Change = Box<dyn Fn(&mut ConsentPayload)>;
        let cases: Vec<(&str, Change)> = vec![
            ("subject_ref", Box::new(|p| p.subject_ref = "short".into())),
            (
                "validity.until",
                Box::new(|p| {
                    p.validity = Validity {
                        until: Some("2020-01-01T00:00:00Z".into()),
                        duration: None,
                    }
                }),
            ),
            (
                "validity",
                Box::new(|p| p.validity.until = Some("2027-01-01T00:00:00Z".into())),
            ),
            (
                "validity.duration",
                Box::new(|p| p.validity.duration = Some("P0D".into())),
            ),
            ("purposes", Box::new(|p| p.purposes.clear())),
            (
                "purposes[1].code",
                Box::new(|p| {
                    let first = p.purposes[0].clone();
                    p.purposes.push(first)
                }),
            ),
            (
                "purposes[0].code",
                Box::new(|p| p.purposes[0].code = "a b".into()),
            ),
            (
                "legal_basis",
                Box::new(|p| p.legal_basis = "gdpr-6-1-a".into()),
            ),
            ("notice.url", Box::new(|p| p.notice.url = "ftp://x".into())),
            ("notice.sha256", Box::new(|p| p.notice.sha256 = "00".into())),
            (
                "notice.language",
                Box::new(|p| p.notice.language = "french".into()),
            ),
            ("data_categories", Box::new(|p| p.data_categories.clear())),
            (
                "retention_period",
                Box::new(|p| p.retention_period = "5 years".into()),
            ),
            (
                "recipients",
                Box::new(|p| p.recipients = vec![Uuid::nil(), Uuid::nil()]),
            ),
            ("nonce", Box::new(|p| p.nonce = "x".into())),
        ];
        for (field, change) in cases {
            let mut p = payload();
            change(&mut p);
            assert_eq!(field_of(&p), field);
        }
    }
}
