//! Test data for the Cortex-M firmware (`adapters/cortex-m/data/generate.sh`): encrypts the
//! signed launch read from stdin as an HTI:jwe launch whose "encrypted" content key is the key
//! itself, in the clear, with the content encryption named on the command line.
//!
//! A device hands RSA-OAEP to its secure element; the firmware simulates that element by
//! reading the key back, so that what it measures is the core's part: parsing, content
//! decryption and the verification of the launch inside. Never use such an envelope for real.

use koppeltaal_core::{ContentEncryption, Error, KeyManagement, KeyWrapper, encrypt_token};

struct InTheClear;

impl KeyWrapper for InTheClear {
    fn key_id(&self) -> Option<&str> {
        Some("secure-element")
    }
    fn algorithm(&self) -> KeyManagement {
        KeyManagement::RsaOaep
    }
    fn wrap_key(&self, key: &[u8], _: &mut dyn rand_core::CryptoRng) -> Result<Vec<u8>, Error> {
        Ok(key.to_vec())
    }
}

fn main() {
    let mut signed = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut signed).expect("stdin");
    let enc = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "A128CBC-HS256".into());
    let enc = ContentEncryption::from_jose(&enc).expect("a content encryption name");
    let token = encrypt_token(signed.trim(), &InTheClear, enc, &mut rand::rng()).expect("encrypts");
    print!("{token}");
}
