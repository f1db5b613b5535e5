//! Gossip messages from any peer, read as the node reads them: on the DID operations topic an
//! operation, on the status lists topic a status list credential. Nothing panics; a list that
//! reads writes back to JSON that reads to the same list (its date to the millisecond, as
//! written).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::did_vouch::{DidLog, Operation};
use vouch_core::status::StatusListCredential;

fuzz_target!(|data: &[u8]| {
    if let Ok(operation) = Operation::from_json(data)
        && operation.did.is_none()
    {
        let _ = DidLog::new(operation);
    }
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(list) = StatusListCredential::parse(&raw) {
        let again = StatusListCredential::parse(&list.to_json()).expect("what reads writes back");
        assert_eq!(
            (&again.id, &again.issuer, again.purpose, &again.list),
            (&list.id, &list.issuer, list.purpose, &list.list)
        );
        assert_eq!(
            again.valid_from.timestamp_millis(),
            list.valid_from.timestamp_millis()
        );
    }
});
