//! The strict JSON reader (src/json.rs) must never panic, and what it accepts must read the
//! same to every reader: serde_json's own reading of the bytes is the same value, the value
//! written back out reads back the same, and each statement type that reads it strictly reads
//! it with serde_json alone too, to an equal value that re-serialises and re-reads equal.
//!
//! The body is `datapole::fuzz::strict_json`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::strict_json(data));
