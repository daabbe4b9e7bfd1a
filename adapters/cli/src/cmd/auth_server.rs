//! Where a command finds the authorization server: a token endpoint, or a FHIR server to
//! discover it (and the introspection endpoint) from.

use std::path::Path;

use clap::Args;
use koppeltaal_host::{
    PrivateKey,
    oauth::{TokenClient, TokenClientBuilder},
};

use crate::Failure;

/// `--token-endpoint URL | --fhir-base URL`, one required.
#[derive(Args, Clone, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct AuthServerArgs {
    /// The auth server's token endpoint; also the `aud` of every client assertion (Koppeltaal
    /// checks the same `aud` at its introspection endpoint).
    #[arg(long)]
    pub(crate) token_endpoint: Option<String>,
    /// A FHIR base URL to discover the token and introspection endpoints from
    /// (`.well-known/smart-configuration`).
    #[arg(long)]
    pub(crate) fhir_base: Option<String>,
}

impl AuthServerArgs {
    /// A token client builder for `client_id`, signing with the PEM key at `key`.
    pub(crate) fn client_builder(
        &self,
        key: &Path,
        client_id: &str,
    ) -> Result<TokenClientBuilder, Failure> {
        let signer = PrivateKey::read_pem_file(key)?.signer()?;
        let builder = TokenClient::builder(client_id, signer);
        Ok(match (&self.token_endpoint, &self.fhir_base) {
            (Some(endpoint), _) => builder.token_endpoint(endpoint),
            (None, Some(base)) => builder.fhir_base(base),
            (None, None) => unreachable!("clap requires one of them"),
        })
    }

    /// The token client for `client_id`.
    pub(crate) fn client(&self, key: &Path, client_id: &str) -> Result<TokenClient, Failure> {
        Ok(self.client_builder(key, client_id)?.build()?)
    }
}
