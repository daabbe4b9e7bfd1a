//! Who a command calls the authorization server as (a client id and its key), and where it
//! finds the server: a token endpoint, or a FHIR server to discover it (and the introspection
//! endpoint) from.

use std::path::PathBuf;

use clap::Args;
use koppeltaal_host::{
    PrivateKey,
    oauth::{TokenClient, TokenClientBuilder},
};

use crate::Failure;

/// `--key FILE --client-id ID`: the client.
#[derive(Args, Clone, Debug)]
pub(crate) struct ClientArgs {
    /// The client's private key (PEM).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The client id (`iss` and `sub` of its client assertions).
    #[arg(long)]
    pub(crate) client_id: String,
}

impl ClientArgs {
    /// A token client builder for this client, its assertions signed with its key.
    pub(crate) fn builder(&self) -> Result<TokenClientBuilder, Failure> {
        let signer = PrivateKey::read_pem_file(&self.key)?.signer()?;
        Ok(TokenClient::builder(&self.client_id, signer))
    }
}

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
    /// A token client builder for `client`, at this server.
    pub(crate) fn client_builder(
        &self,
        client: &ClientArgs,
    ) -> Result<TokenClientBuilder, Failure> {
        let builder = client.builder()?;
        Ok(match (&self.token_endpoint, &self.fhir_base) {
            (Some(endpoint), _) => builder.token_endpoint(endpoint),
            (None, Some(base)) => builder.fhir_base(base),
            (None, None) => unreachable!("clap requires one of them"),
        })
    }

    /// The token client for `client`, at this server.
    pub(crate) fn client(&self, client: &ClientArgs) -> Result<TokenClient, Failure> {
        Ok(self.client_builder(client)?.build()?)
    }
}
