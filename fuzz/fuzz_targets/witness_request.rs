//! A witness's `add-checkpoint` body (c2sp.org/tlog-witness) and a cosignature/v1 verifier
//! key, from anyone on the network: parsing and deciding must never panic, a parsed request
//! must re-encode to what was parsed, and nothing unsigned by the trusted log is accepted.
#![no_main]

use datapole::witness::cosignature::CosignatureVerifier;
use datapole::witness::state::{MemoryWitnessStore, WitnessStore};
use datapole::witness::{check, AddCheckpoint, Record, TrustedLogs};
use libfuzzer_sys::fuzz_target;
use tlog_tiles::Hash;

/// The log key of tests/vectors/witness-cosignature.json.
const LOG_VKEY: &str =
    "example.com/datapole-test-log+c2cd3dd2+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = AddCheckpoint::parse(data) {
        assert_eq!(AddCheckpoint::parse(&request.to_bytes()).as_ref(), Ok(&request));
        let mut logs = TrustedLogs::new();
        logs.add(LOG_VKEY).unwrap();
        for record in [
            None,
            Some(Record {
                size: 3,
                root: Hash([7; 32]),
            }),
        ] {
            if let Ok(accepted) = check(&request, &logs, record) {
                // Only the trusted log's checkpoints, and only consistent ones.
                assert_eq!(accepted.origin, "example.com/datapole-test-log");
                assert!(accepted.size >= record.map_or(0, |r| r.size));
            }
        }
        let store = MemoryWitnessStore::default();
        assert!(store.record("x").unwrap().is_none());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CosignatureVerifier::from_vkey(text);
    }
});
