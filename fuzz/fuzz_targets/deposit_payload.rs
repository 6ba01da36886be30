//! Statement payload parsing and validation (the deposit schema, freshness, nonces) must
//! never panic, whatever the bytes.
//!
//! The body is `datapole::fuzz::deposit_payload`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::deposit_payload(data));
