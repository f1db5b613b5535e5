//! # vouch-core
//!
//! Everything an agent, a node and a partner verifier share, as pure functions and types with no
//! I/O: identifiers ([`did`]), keys ([`key`]), Data Integrity proofs ([`proof`]).
//!
//! The crate never touches the network, the disk or the clock: time is an argument, DID documents
//! come through the [`did::DidResolver`] trait, and randomness only where a key or an identifier is
//! generated.

pub mod approval;
pub mod audit;
pub mod capability;
pub mod consortium;
pub mod credential;
pub mod datamodel;
pub mod dcql;
pub mod delegation;
pub mod did;
pub mod exchange;
pub mod hash;
pub mod key;
pub mod possession;
pub mod presentation;
pub mod proof;
pub mod report;
pub mod revocation;
pub mod status;
pub mod sync;
pub mod verify;
