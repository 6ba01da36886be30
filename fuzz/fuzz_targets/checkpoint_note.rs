//! Signed-note and checkpoint parsing and verification must never panic, and a note that
//! verifies must be a well-formed checkpoint.
#![no_main]

use datapole::verify::verify_checkpoint;
use libfuzzer_sys::fuzz_target;

/// The key of the reference vectors' signed note (tests/vectors/tlog-reference.json).
const VKEY: &str =
    "example.org/datapole-test+816ccf32+AXymrZO9RE+y5v6VJW+Fz2KMtLpbMFQFxHhqKPeuhbFd";

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = verify_checkpoint(text, VKEY) {
            assert_eq!(cp.key_name, "example.org/datapole-test");
        }
        // Also as a verifier key.
        let _ = verify_checkpoint(
            "a\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
            text,
        );
    }
    let _ = signed_note::Note::from_bytes(data);
    let _ = tlog_tiles::Checkpoint::from_bytes(data);
});
