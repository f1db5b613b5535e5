//! One module per command of `vouch`, each its arguments' (`cli`) effect.

pub(crate) mod agent;
pub(crate) mod audit;
pub(crate) mod credential;
pub(crate) mod did;
pub(crate) mod key;
pub(crate) mod presentation;
pub(crate) mod wallet;
