//! The libp2p network: the only module that names libp2p.
//!
//! A node's libp2p identity is its node key, so the Noise handshake authenticates the same key that
//! its org's DID document lists.

use libp2p::identity;
use vouch_core::key::KeyPair;

/// The libp2p identity of a node key.
pub fn identity_of(key: &KeyPair) -> identity::Keypair {
    let mut seed = key.seed();
    identity::Keypair::ed25519_from_bytes(&mut seed[..])
        .expect("a 32-byte Ed25519 seed is always a valid libp2p key")
}

/// The peer id of a node key, as text.
pub fn peer_id_of(key: &KeyPair) -> String {
    identity_of(key).public().to_peer_id().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_id_is_the_node_key() {
        let key = KeyPair::from_seed(&[3; 32]);
        let public = identity_of(&key).public();
        let ed = public.try_into_ed25519().unwrap();
        assert_eq!(&ed.to_bytes(), key.public().as_bytes());
        assert!(peer_id_of(&key).starts_with("12D3KooW"));
    }
}
