//! Integration tests of vouch-core: the published W3C vectors and end-to-end flows.

mod adversarial;
mod common;
mod exchange;
mod fixtures;
mod flows;
mod http_signature;
mod interop;
mod jwt;
mod oauth;
mod schema;
mod signed_request;
mod vectors_did_key;
mod vectors_eddsa;
mod web_bot_auth_message;
