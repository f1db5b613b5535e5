//! DID and DID URL parsing: never a panic, and whatever parses prints back to itself and parses
//! again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::did::{Did, DidUrl, key};
use vouch_core::did_vouch as vouch;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(did) = Did::parse(text) {
        assert_eq!(did.as_str(), text);
        assert_eq!(Did::parse(did.as_str()).as_ref(), Ok(&did));
        assert_eq!(
            format!("did:{}:{}", did.method(), did.method_specific_id()),
            text
        );
        // Method-specific readers refuse what is not theirs without panicking.
        let _ = key::key_of(&did);
        let _ = vouch::check_did(&did);
    }
    if let Ok(url) = DidUrl::parse(text) {
        assert_eq!(url.as_str(), text);
        assert!(text.starts_with(url.did().as_str()));
        let _ = url.fragment();
    }
});
