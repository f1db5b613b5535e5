//! # vouch-testnet
//!
//! Starts N real `vouch-node` processes on loopback, forms them into a consortium and measures
//! propagation (DESIGN §2, §10). The node it drives arrives with the network issue; until then this
//! crate only reserves its place in the workspace.
