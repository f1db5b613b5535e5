//! did:vouch operations and logs from any peer: reading and verification never panic; an
//! operation that reads writes back to the same operation with the same hash; a log that verifies
//! writes back to a log that verifies the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::did_vouch::{DidLog, Operation, VersionSelector};

fuzz_target!(|data: &[u8]| {
    if let Ok(operation) = Operation::from_json(data) {
        let again = Operation::from_json(operation.to_json().as_bytes())
            .expect("what reads, writes back readable");
        assert_eq!(again, operation);
        assert_eq!(again.hash(), operation.hash());
        let _ = operation.genesis_did();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(log) = DidLog::from_jsonl(text) {
        let again = DidLog::from_jsonl(&log.to_jsonl()).expect("a verified log writes back valid");
        assert_eq!(again, log);
        for selector in [
            VersionSelector::Latest,
            VersionSelector::Id(1),
            VersionSelector::Id(u64::MAX),
        ] {
            let _ = log.resolve(selector);
        }
    }
});
