//! Signed-note and checkpoint parsing and verification must never panic, and a note that
//! verifies must be a well-formed checkpoint.
//!
//! The body is `datapole::fuzz::checkpoint_note`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::checkpoint_note(data));
