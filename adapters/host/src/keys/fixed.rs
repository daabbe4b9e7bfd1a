//! Where a receiver gets an issuer's keys: the [`KeySource`] trait, and [`StaticKeys`] given
//! once from files or configuration.

use std::collections::HashMap;
use std::sync::Arc;

use koppeltaal_core::{Error, KeySet};

use super::{IssuerKeys, RemoteKeys};
use crate::error::HostError;

/// Where a receiver gets an issuer's keys.
pub trait KeySource: Send + Sync {
    /// The keys of `issuer` that may include `kid` ([`Error::WrongIssuer`] for an issuer not
    /// trusted).
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<IssuerKeys>, HostError>;
}

impl<T: KeySource + ?Sized> KeySource for Arc<T> {
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<IssuerKeys>, HostError> {
        (**self).keys_for(issuer, kid)
    }
}

impl KeySource for RemoteKeys {
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<IssuerKeys>, HostError> {
        RemoteKeys::keys_for(self, issuer, kid)
    }
}

/// Keys given once, from files or configuration: no network.
#[derive(Default)]
pub struct StaticKeys {
    issuers: HashMap<String, Arc<IssuerKeys>>,
}

impl StaticKeys {
    /// No issuers yet.
    pub fn new() -> StaticKeys {
        StaticKeys::default()
    }

    /// Trusts `issuer` with the keys of a JWKS document.
    pub fn with_jwks(self, issuer: &str, jwks: &[u8]) -> Result<StaticKeys, HostError> {
        Ok(self.with_key_set(issuer, Arc::new(KeySet::from_jwks(jwks)?)))
    }

    /// Trusts `issuer` with `keys` (replacing keys it was trusted with before).
    pub fn with_key_set(mut self, issuer: &str, keys: Arc<IssuerKeys>) -> StaticKeys {
        self.issuers.insert(issuer.to_owned(), keys);
        self
    }
}

impl KeySource for StaticKeys {
    fn keys_for(&self, issuer: &str, _: &str) -> Result<Arc<IssuerKeys>, HostError> {
        self.issuers
            .get(issuer)
            .cloned()
            .ok_or(HostError::Core(Error::WrongIssuer))
    }
}
