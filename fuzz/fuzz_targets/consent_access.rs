//! Consent and access payload parsing and validation (pseudonymity heuristics, ISO 8601
//! durations and validity arithmetic, legal-basis references) must never panic, whatever the
//! bytes; and a consent that checks has an end.
#![no_main]

use datapole::api::statements::parse_payload;
use datapole::field::IsoDuration;
use datapole::statement::access::{Access, AccessPayload};
use datapole::statement::consent::{direct_identifier, Consent, ConsentPayload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    if let Ok(payload) = parse_payload::<ConsentPayload>(data) {
        if let Ok(consent) = Consent::check(&payload, now) {
            let end = consent.validity.expires_at(now);
            assert!(end.is_some_and(|t| t > now), "a checked consent must end after now");
        }
    }
    if let Ok(payload) = parse_payload::<AccessPayload>(data) {
        let _ = Access::try_from(&payload);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = direct_identifier(text);
        if let Some(d) = IsoDuration::parse(text) {
            let _ = d.after(now);
        }
    }
});
