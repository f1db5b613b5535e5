//! # vouch-testnet
//!
//! A local consortium of real `vouch-node` processes on loopback, each with its own data folder,
//! for demos, end-to-end checks and propagation measurements. The binary `vouch-testnet` is the
//! interface: `up`, `down`, `measure`.
