//! DSSE envelope parsing (with the strict reader the API uses), shape checks and signature
//! verification must never panic.
//!
//! The body is `datapole::fuzz::dsse_envelope`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::dsse_envelope(data));
