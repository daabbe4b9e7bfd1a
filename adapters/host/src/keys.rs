//! Keys: this application's own ([`PrivateKey`]: generated or read from PEM, its signers and
//! the JWKS to publish) and other parties' public keys, by issuer ([`RemoteKeys`] fetched
//! from JWKS URLs, [`StaticKeys`] from configuration, or your own [`KeySource`]).

mod fixed;
mod private;
mod remote;

pub use fixed::{KeySource, StaticKeys};
pub use private::{PemFormat, PrivateKey, SharedSigner, jwks_document};
pub use remote::{IssuerKeys, KeyCacheOptions, MAX_KEYS_PER_ISSUER, RemoteKeys, RemoteKeysBuilder};
