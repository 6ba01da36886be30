//! Tile path parsing must never panic, and every accepted path must be canonical: it prints
//! back exactly as given.
//!
//! The body is `datapole::fuzz::tile_path`, which `cargo test` also runs on every committed seed
//! (tests/fuzz_seeds.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| datapole::fuzz::tile_path(data));
