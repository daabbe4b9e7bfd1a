//! `keygen` and `jwks`: this application's own keys, and the JWKS to publish.

use std::path::PathBuf;

use clap::Args;
use koppeltaal_host::jwe::{KeyManagement, jwks_encryption_document};
use koppeltaal_host::keys::{PemFormat, jwks_document};
use koppeltaal_host::{Algorithm, PrivateKey};

use crate::Failure;
use crate::flags::{parse_algorithm, parse_key_management};

/// Arguments of `keygen`.
#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// The algorithm the key is for: RS256, RS384, RS512 (RSA) or ES256, ES384, ES512 (EC).
    #[arg(long, default_value = "RS512", value_parser = parse_algorithm)]
    pub(crate) alg: Algorithm,
    /// RSA modulus length: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048)]
    pub(crate) bits: usize,
    /// Where to write the key (must not exist; created readable by its owner only).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// Arguments of `jwks`.
#[derive(Args)]
pub(crate) struct JwksArgs {
    /// A PEM private key file (PKCS#8, PKCS#1 or SEC1); repeat for more keys.
    #[arg(long = "key", required = true)]
    pub(crate) keys: Vec<PathBuf>,
    /// What the keys are for: `sig` (verifying signatures; the default) or `enc` (a
    /// module's keys that portals encrypt launches to; RSA only).
    #[arg(long = "use", default_value = "sig", value_parser = ["sig", "enc"])]
    pub(crate) key_use: String,
    /// With `--use enc`: the key management algorithm published as `alg`.
    #[arg(long, default_value = "RSA-OAEP-256", value_parser = parse_key_management)]
    pub(crate) key_alg: KeyManagement,
}

/// Generates the key, writes it, prints its kid.
pub(crate) fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    let key = match args.alg.is_rsa() {
        true => PrivateKey::generate_rsa(args.alg, args.bits)?,
        false => PrivateKey::generate(args.alg)?,
    };
    key.write_pem_file(&args.out, PemFormat::Pkcs8)?;
    println!("{}", key.key_id()?);
    Ok(())
}

/// Prints the JWKS of the keys.
pub(crate) fn jwks(args: JwksArgs) -> Result<(), Failure> {
    let keys = args
        .keys
        .iter()
        .map(PrivateKey::read_pem_file)
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&PrivateKey> = keys.iter().collect();
    let document = match args.key_use.as_str() {
        "enc" => jwks_encryption_document(&refs, args.key_alg)?,
        _ => jwks_document(&refs)?,
    };
    println!("{document}");
    Ok(())
}
