//! The catch-up protocol's messages from any peer, decoded as the node decodes them (CBOR, by
//! cbor4ii's serde, as libp2p's request-response codec does), then every operation and status
//! list in them read as the node reads them: nothing panics, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::did::vouch::Operation;
use vouch_core::status::StatusListCredential;
use vouch_core::sync::{SyncRequest, SyncResponse};

fuzz_target!(|data: &[u8]| {
    let _ = cbor4ii::serde::from_slice::<SyncRequest>(data);
    match cbor4ii::serde::from_slice::<SyncResponse>(data) {
        Ok(SyncResponse::Operations(operations)) => {
            for json in operations {
                if let Ok(operation) = Operation::from_json(json.as_bytes()) {
                    let _ = operation.genesis_did();
                }
            }
        }
        Ok(SyncResponse::StatusList(json)) => {
            if let Ok(raw) = serde_json::from_str::<serde_json::Value>(&json) {
                let _ = StatusListCredential::parse(&raw);
            }
        }
        Ok(SyncResponse::StatusLists(entries)) => {
            for entry in entries {
                let _ = chrono::DateTime::parse_from_rfc3339(&entry.valid_from);
            }
        }
        _ => {}
    }
});
