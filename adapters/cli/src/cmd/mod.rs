//! The small commands, one module each (or one per pair that belong together).

pub(crate) mod auth_server;
pub(crate) mod demo;
pub(crate) mod keys;
pub(crate) mod launch;
pub(crate) mod oauth;
pub(crate) mod verify;
