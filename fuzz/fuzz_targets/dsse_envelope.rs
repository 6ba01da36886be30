//! DSSE envelope parsing (with the strict reader the API uses), shape checks and signature
//! verification must never panic.
#![no_main]

use datapole::statement::dsse::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    if let Ok(envelope) = datapole::json::from_slice::<Envelope>(data) {
        let _ = envelope.check();
        let verified = envelope.verify(&key);
        // Canonical bytes parse back to the same envelope.
        let again: Envelope =
            datapole::json::from_slice(&envelope.to_bytes()).expect("canonical bytes parse");
        assert_eq!(again, envelope);
        assert_eq!(again.verify(&key).is_ok(), verified.is_ok());
    }
});
