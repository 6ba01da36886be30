//! Consent and access payload parsing and validation (pseudonymity heuristics, ISO 8601
//! durations and validity arithmetic, legal-basis references) must never panic, whatever the
//! bytes; and a consent that checks has an end.
//!
//! The body is `datapole::fuzz::consent_access`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::consent_access(data));
