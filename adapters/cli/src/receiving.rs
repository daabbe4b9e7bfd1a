//! What `verify` and `serve` share: a launch receiver's policy, key source, decryption keys
//! and introspector, from their flags.

use std::path::PathBuf;
use std::sync::Arc;

use koppeltaal_core::AlgorithmSet;
use koppeltaal_host::keys::KeySource;
use koppeltaal_host::launch::LaunchReceiverBuilder;
use koppeltaal_host::oauth::{IntrospectionAuth, Introspector, TokenClient};
use koppeltaal_host::{Algorithm, Clock, Policy, PrivateKey, RemoteKeys, StaticKeys};

use crate::Failure;

/// The policy for `audience`: RS512 and `algorithms`, with `leeway`.
pub(crate) fn policy(
    audience: &str,
    algorithms: &[Algorithm],
    leeway: u64,
) -> Result<Policy, Failure> {
    let allowed = algorithms
        .iter()
        .fold(AlgorithmSet::only(Algorithm::RS512), |set, alg| {
            set.with(*alg)
        });
    Ok(Policy::new(audience)?
        .with_algorithms(allowed)
        .with_leeway(leeway))
}

/// Adds the decryption keys in `paths` (PEM) to `builder`.
pub(crate) fn with_decryption_keys(
    mut builder: LaunchReceiverBuilder,
    paths: &[PathBuf],
) -> Result<LaunchReceiverBuilder, Failure> {
    for path in paths {
        builder = builder.decryption_key(PrivateKey::read_pem_file(path)?.decrypter()?);
    }
    Ok(builder)
}

/// Keys from a JWKS file or URL.
pub(crate) fn key_source(
    issuer: &str,
    jwks: Option<&PathBuf>,
    jwks_url: Option<&str>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn KeySource>, Failure> {
    Ok(match (jwks, jwks_url) {
        (Some(path), _) => Arc::new(StaticKeys::new().with_jwks(issuer, &std::fs::read(path)?)?),
        (None, Some(url)) => Arc::new(
            RemoteKeys::builder()
                .clock(clock)
                .issuer(issuer, url)
                .build()?,
        ),
        (None, None) => unreachable!("clap requires one of them"),
    })
}

/// An introspector for `client`'s auth server: at `endpoint`, or else at the endpoint the
/// server advertises; the assertions addressed to the token endpoint.
pub(crate) fn introspector(
    client: TokenClient,
    endpoint: Option<&str>,
) -> Result<Introspector, Failure> {
    Ok(match endpoint {
        Some(endpoint) => {
            let http = client.http().clone();
            let auth = IntrospectionAuth::ClientAssertion {
                client,
                audience: None,
            };
            Introspector::new(endpoint, auth, http)?
        }
        None => Introspector::for_client(&client)?,
    })
}
