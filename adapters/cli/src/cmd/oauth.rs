//! `token`, `introspect` and `fetch`: calls to the authorization and FHIR servers.

use std::path::PathBuf;

use clap::Args;
use koppeltaal_host::fhir::FhirClient;

use super::auth_server::{AuthServerArgs, ClientArgs};
use crate::Failure;
use crate::receiving::introspector;

/// Arguments of `token`.
#[derive(Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) server: AuthServerArgs,
    /// The scope to ask for (by default none: the server decides).
    #[arg(long)]
    pub(crate) scope: Option<String>,
}

/// Arguments of `introspect`.
#[derive(Args)]
pub(crate) struct IntrospectArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) server: AuthServerArgs,
    /// The introspection endpoint (default: the `introspection_endpoint` the server
    /// advertises in its `.well-known/smart-configuration`).
    #[arg(long)]
    pub(crate) endpoint: Option<String>,
    /// The token to introspect.
    pub(crate) token: String,
}

/// Arguments of `fetch`.
#[derive(Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The token endpoint.
    #[arg(long)]
    pub(crate) token_endpoint: String,
    /// The HTTP method.
    #[arg(long, default_value = "GET")]
    pub(crate) method: String,
    /// A file with the request body (FHIR JSON); `-` reads stdin.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// The URL.
    pub(crate) url: String,
}

/// Prints the token response.
pub(crate) fn token(args: TokenArgs) -> Result<(), Failure> {
    let mut builder = args.server.client_builder(&args.client)?;
    if let Some(scope) = &args.scope {
        builder = builder.scope(scope);
    }
    println!("{}", builder.build()?.request_token()?.response);
    Ok(())
}

/// Prints the introspection answer, `active` included.
pub(crate) fn introspect(args: IntrospectArgs) -> Result<(), Failure> {
    let client = args.server.client(&args.client)?;
    let introspector = introspector(client, args.endpoint.as_deref())?;
    let answer = introspector.introspect(&args.token)?;
    let mut object = answer.claims;
    object.insert("active".into(), answer.active.into());
    println!("{}", serde_json::Value::Object(object));
    Ok(())
}

/// Sends the request and prints the response body.
pub(crate) fn fetch(args: FetchArgs) -> Result<(), Failure> {
    let tokens = args
        .client
        .builder()?
        .token_endpoint(&args.token_endpoint)
        .build()?;
    let body = match args.data {
        Some(path) if path.as_os_str() == "-" => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)?;
            Some(body)
        }
        Some(path) => Some(std::fs::read(path)?),
        None => None,
    };
    let client = FhirClient::new(tokens);
    let response = client.send(
        &args.method.to_ascii_uppercase(),
        &args.url,
        body.as_deref(),
    )?;
    std::io::Write::write_all(&mut std::io::stdout(), &response.body)?;
    if !response.body.ends_with(b"\n") {
        println!();
    }
    Ok(())
}
