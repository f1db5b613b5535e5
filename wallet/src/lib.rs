//! # vouch-wallet
//!
//! The agent side of Vouch: key files, credential signing and delegation, presentations, and the
//! `vouch` command line that drives them.
pub mod keyfile;
