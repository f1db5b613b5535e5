//! # vouch-node
//!
//! The consortium node (DESIGN §2): `store` (the only module that touches RocksDB), `net` (the only
//! one that touches libp2p), `api` (the only one that knows HTTP), issuance, status lists, the DID
//! registry, consortium membership and the audit log. This crate is a skeleton in the foundation
//! issue; the node issue fills it.
