//! Statement payload parsing and validation (the deposit schema, freshness, nonces) must
//! never panic, whatever the bytes.
#![no_main]

use datapole::api::statements::parse_payload;
use datapole::statement::deposit::{Deposit, DepositPayload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = parse_payload::<DepositPayload>(data) {
        if let Ok(deposit) = Deposit::try_from(&payload) {
            let _ = deposit.freshness.check(chrono_now());
        }
    }
});

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}
