//! Credential and presentation JSON from anyone: reading, verification and the report never panic,
//! and a credential that reads writes back to JSON that reads to the same credential.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use vouch_core::credential::{AgentCapabilityCredential, MAX_CREDENTIAL_BYTES};
use vouch_core::did::resolve::DidKeyResolver;
use vouch_core::{presentation, verify};

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_CREDENTIAL_BYTES {
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(credential) = AgentCapabilityCredential::from_json(&value) {
        let again = AgentCapabilityCredential::from_json(&credential.to_json())
            .expect("what reads, writes back readable");
        assert_eq!(again, credential);
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    // Fail-closed (trusts nothing) and proofs-only: between them, every check runs.
    for proofs_only in [false, true] {
        let mut verifier = verify::Verifier::new(&DidKeyResolver, now);
        verifier.danger_proofs_only = proofs_only;
        let (report, _) = verify::verify_credential(&value, &verifier);
        let _ = serde_json::to_string(&report);
        let _ = verify::verify_generic_credential(&value, &verifier);
        let _ = presentation::verify_presentation(&value, "c-1", "partner.example", &verifier);
    }
});
