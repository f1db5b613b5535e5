//! The node's HTTP API: every route's request and answer as a type ([`public`] for anyone,
//! [`admin`] for the operator), and the clients that speak it, [`NodeClient`] and
//! [`AdminClient`]. The node serves these types and the clients read them, so a field renamed
//! on one side fails to build on the other. Errors are [`crate::Problem`]s with an
//! [`crate::ErrorCode`].

pub mod admin;
pub mod client;
pub mod public;

pub use client::{AdminClient, NodeClient, NodeError};
