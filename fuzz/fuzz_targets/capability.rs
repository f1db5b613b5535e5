//! Capabilities, action and resource patterns, and requests: parsing never panics, attenuation is
//! reflexive for whatever parses, and evaluation of a request never panics.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use vouch_core::capability::{Action, Capability, Request, ResourcePattern};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(action) = Action::parse(text) {
                assert!(action.is_subset_of(&action));
            }
            if let Ok(resource) = ResourcePattern::parse(text) {
                assert!(resource.is_subset_of(&resource));
            }
        }
        return;
    };
    // `[capability, capability, request]`, or a lone capability.
    let items: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let capabilities: Vec<Capability> = items
        .iter()
        .filter_map(|item| Capability::from_json(item).ok())
        .collect();
    for capability in &capabilities {
        if capability.constraints.unknown.is_empty() {
            assert!(
                capability.is_subset_of(capability).is_ok(),
                "{capability:?}"
            );
        }
        for other in &capabilities {
            let _ = capability.is_subset_of(other);
        }
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    for item in &items {
        if let Ok(request) = Request::from_json(item) {
            let _ = request.permitted_by(&capabilities, now, 0);
            let _ =
                request.permitted_by_chain([capabilities.as_slice(), capabilities.as_slice()], now);
        }
    }
});
