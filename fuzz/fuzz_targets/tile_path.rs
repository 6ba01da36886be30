//! Tile path parsing must never panic, and every accepted path must be canonical: it prints
//! back exactly as given.
#![no_main]

use datapole::log::tiles::TilePath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(path) = TilePath::parse(s) {
            assert_eq!(path.path(), format!("tile/{s}"));
            assert!((1..=256).contains(&path.width));
        }
    }
});
