//! Receipt verification (JSON receipts and c2sp.org/tlog-proof texts) must never panic, and
//! must never accept what it cannot check.
#![no_main]

use datapole::receipt::{Receipt, TlogProof};
use datapole::verify::receipt::verify_receipt;
use libfuzzer_sys::fuzz_target;

/// The key of the seed receipts' log (fuzz/corpus/receipt_verify).
const VKEY: &str = "datapole.localhost/log+d57d8ff6+AQ9o/3F+wkwJcH6xZdoFdNucP5QHmQ2dhpYQF1y8QzDI";

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = datapole::json::from_slice::<Receipt>(data) {
        let pinned = verify_receipt(&receipt, Some(VKEY));
        let own = verify_receipt(&receipt, None);
        // A receipt valid under the pinned key names that key, so it is valid on its own too.
        if pinned.ok() {
            assert!(own.ok());
            assert_eq!(receipt.log.vkey, VKEY);
        }
        let text = receipt.to_tlog_proof();
        if let Some(proof) = TlogProof::parse(&text) {
            assert_eq!(proof.index, receipt.index);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TlogProof::parse(text);
    }
});
