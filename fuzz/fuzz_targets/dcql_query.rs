//! DCQL queries (the capability exchange's request): reading any JSON never panics, and what a
//! query that reads selects is only among the credentials given, each presented once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::dcql::Query;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    // `[query, credential, ...]`, or a lone query over no credentials.
    let (raw, credentials) = match &value {
        serde_json::Value::Array(items) if !items.is_empty() => (&items[0], &items[1..]),
        other => (other, &[][..]),
    };
    let Ok(query) = Query::parse(raw) else {
        return;
    };
    if let Ok(Ok(selection)) = query.select(credentials) {
        assert!(selection.present.iter().all(|i| *i < credentials.len()));
        assert!(selection.present.windows(2).all(|w| w[0] < w[1]));
        for chosen in selection.answers.values() {
            assert!(!chosen.is_empty());
            assert!(chosen.iter().all(|i| selection.present.contains(i)));
        }
    }
});
