//! The capability exchange's messages (a verifier's request, a decision): reading any JSON never
//! panics, and what reads keeps its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::exchange::{CapabilityRequest, Decision, MAX_DECISIONS};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(request) = CapabilityRequest::parse(&value) {
        assert!(!request.capabilities.is_empty() && request.capabilities.len() <= MAX_DECISIONS);
        assert_eq!(request.capabilities.len(), request.requests.len());
    }
    if let Ok(decision) = Decision::parse(&value) {
        assert!(!decision.decided.is_empty() && decision.decided.len() <= MAX_DECISIONS);
    }
});
