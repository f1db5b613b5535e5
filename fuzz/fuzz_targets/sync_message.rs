//! The anti-entropy protocol's messages from any peer, decoded as the node decodes them (CBOR, by
//! cbor4ii's serde, as libp2p's request-response codec does); then what they carry read as the
//! node reads it: reconciliation messages by negentropy, as responder and as initiator, over a
//! small set; ids split with their bound; items read as operations and status lists. Nothing
//! panics, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use vouch_core::did_vouch::Operation;
use vouch_core::status::StatusListCredential;
use vouch_core::sync::{MAX_FETCH_IDS, SyncRequest, SyncResponse, split_ids};

fn storage() -> NegentropyStorageVector {
    let mut storage = NegentropyStorageVector::new();
    for i in 0..40u8 {
        let _ = storage.insert(u64::from(i) * 1000, Id::from_byte_array([i; 32]));
    }
    let _ = storage.seal();
    storage
}

fn reconcile(message: &[u8]) {
    if let Ok(mut responder) = Negentropy::owned(storage(), 32 * 1024) {
        let _ = responder.reconcile(message);
    }
    if let Ok(mut initiator) = Negentropy::owned(storage(), 32 * 1024) {
        initiator.set_initiator();
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let _ = initiator.reconcile_with_ids(message, &mut have, &mut need);
    }
}

fuzz_target!(|data: &[u8]| {
    reconcile(data);
    match cbor4ii::serde::from_slice::<SyncRequest>(data) {
        Ok(SyncRequest::Reconcile { message, .. }) => reconcile(&message),
        Ok(SyncRequest::Fetch { ids, .. }) => {
            let _ = split_ids(&ids, MAX_FETCH_IDS);
        }
        Err(_) => {}
    }
    match cbor4ii::serde::from_slice::<SyncResponse>(data) {
        Ok(SyncResponse::Reconcile(message)) => reconcile(&message),
        Ok(SyncResponse::Items(items)) => {
            for json in items {
                if let Ok(operation) = Operation::from_json(json.as_bytes()) {
                    let _ = operation.genesis_did();
                }
                if let Ok(raw) = serde_json::from_str::<serde_json::Value>(&json) {
                    let _ = StatusListCredential::parse(&raw);
                }
            }
        }
        _ => {}
    }
});
