//! A witness's `add-checkpoint` body (c2sp.org/tlog-witness) and a cosignature/v1 verifier
//! key, from anyone on the network: parsing and deciding must never panic, a parsed request
//! must re-encode to what was parsed, and nothing unsigned by the trusted log is accepted.
//!
//! The body is `datapole::fuzz::witness_request`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::witness_request(data));
