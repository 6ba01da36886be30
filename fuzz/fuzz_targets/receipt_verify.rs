//! Receipt verification (JSON receipts and c2sp.org/tlog-proof texts) must never panic, and
//! must never accept what it cannot check.
//!
//! The body is `datapole::fuzz::receipt_verify`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::receipt_verify(data));
