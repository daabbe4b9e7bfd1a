//! `launch` and `assertion`: tokens a portal or a client signs.

use std::path::PathBuf;

use clap::Args;
use koppeltaal_host::jwe::{
    ContentEncryption, KeyManagement, encrypt_launch, recipient_public_key,
};
use koppeltaal_host::random::{new_jti, os_rng};
use koppeltaal_host::{Clock, LaunchToken, PrivateKey, SystemClock};

use super::auth_server::ClientArgs;
use crate::Failure;
use crate::flags::{parse_content_encryption, parse_key_management};

/// Arguments of `launch`.
#[derive(Args)]
pub(crate) struct LaunchArgs {
    /// The portal's private key (PEM).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// `iss`: the portal.
    #[arg(long)]
    pub(crate) issuer: String,
    /// `aud`: the module, e.g. Device/42.
    #[arg(long)]
    pub(crate) audience: String,
    /// `sub`: the person launching, e.g. Practitioner/123.
    #[arg(long)]
    pub(crate) sub: String,
    /// `resource`: the Task, e.g. Task/11.
    #[arg(long)]
    pub(crate) resource: String,
    /// `definition`: the ActivityDefinition's canonical URL.
    #[arg(long)]
    pub(crate) definition: String,
    /// `patient`, when `sub` is not the patient.
    #[arg(long)]
    pub(crate) patient: Option<String>,
    /// `intent`, a FHIR RequestIntent code such as `plan`.
    #[arg(long)]
    pub(crate) intent: Option<String>,
    /// `idp_hint` (Koppeltaal): the identity provider the module should send the user to.
    #[arg(long)]
    pub(crate) idp_hint: Option<String>,
    /// Seconds until `exp` (at most 300).
    #[arg(long, default_value_t = LaunchToken::DEFAULT_LIFETIME)]
    pub(crate) lifetime: u64,
    /// Print this many launches (each with its own jti), one per line: for load tests.
    #[arg(long, default_value_t = 1)]
    pub(crate) count: usize,
    /// Issue at this time (Unix seconds) instead of now: for reproducible test data.
    #[arg(long)]
    pub(crate) now: Option<u64>,
    /// Encrypt the launch (HTI:jwe) to this module key: its JWKS (the `use: enc` key) or a
    /// PEM public key.
    #[arg(long, value_name = "FILE")]
    pub(crate) encrypt_to: Option<PathBuf>,
    /// With --encrypt-to: RSA-OAEP or RSA-OAEP-256 (default: the JWK's `alg`, else
    /// RSA-OAEP-256). Portals today send RSA-OAEP.
    #[arg(long, requires = "encrypt_to", value_parser = parse_key_management)]
    pub(crate) key_alg: Option<KeyManagement>,
    /// With --encrypt-to: the content encryption, A128CBC-HS256, A192CBC-HS384,
    /// A256CBC-HS512, A128GCM, A192GCM or A256GCM. Portals today send A128CBC-HS256.
    #[arg(long, requires = "encrypt_to", default_value = "A256GCM", value_parser = parse_content_encryption)]
    pub(crate) enc: ContentEncryption,
}

/// Arguments of `assertion`.
#[derive(Args)]
pub(crate) struct AssertionArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The token endpoint (`aud`).
    #[arg(long)]
    pub(crate) token_endpoint: String,
}

/// Prints `args.count` launches, each with its own `jti`, encrypted when asked.
pub(crate) fn launch(args: LaunchArgs) -> Result<(), Failure> {
    let recipient = args
        .encrypt_to
        .map(|path| recipient_public_key(&std::fs::read(path)?, args.key_alg))
        .transpose()?;
    let signer = PrivateKey::read_pem_file(args.key)?.signer()?;
    let mut launch = LaunchToken::new(
        &args.issuer,
        &args.audience,
        &args.sub,
        &args.resource,
        &args.definition,
        args.now.unwrap_or_else(|| SystemClock.now()),
    )?
    .with_lifetime(args.lifetime)?;
    if let Some(patient) = &args.patient {
        launch = launch.with_patient(patient)?;
    }
    if let Some(intent) = &args.intent {
        launch = launch.with_intent(intent)?;
    }
    if let Some(idp_hint) = &args.idp_hint {
        launch = launch.with_idp_hint(idp_hint)?;
    }
    for _ in 0..args.count {
        let token = launch
            .with_token_id(&new_jti())?
            .sign_to_string(signer.as_ref(), &mut os_rng())?;
        match &recipient {
            Some(recipient) => println!("{}", encrypt_launch(&token, recipient, args.enc)?),
            None => println!("{token}"),
        }
    }
    Ok(())
}

/// Prints a client assertion for the token endpoint.
pub(crate) fn assertion(args: AssertionArgs) -> Result<(), Failure> {
    let client = args
        .client
        .builder()?
        .token_endpoint(&args.token_endpoint)
        .build()?;
    println!("{}", client.client_assertion(&args.token_endpoint)?);
    Ok(())
}
