//! Encrypted launches (HTI:jwe) against an independent implementation, josekit (OpenSSL), in
//! both directions and for every `alg` x `enc` pair; and the attack cases that need a JWE we
//! would never produce ourselves (RSA1_5, `dir`, `zip`, a JWE inside a JWE, an unsigned
//! launch), made with josekit and received through `LaunchReceiver`.

use josekit::jwe::{self, JweHeader};
use koppeltaal_core::{Algorithm, ContentEncryption, KeyManagement, LaunchToken, Policy};
use koppeltaal_host::{
    LaunchReceiver, PrivateKey, StaticKeys,
    clock::FixedClock,
    jwe::{encrypt_launch, jwks_encryption_document, recipient_public_key},
    keys::{PemFormat, jwks_document},
    random::os_rng,
};
use koppeltaal_tests::{AUDIENCE, ISSUER, now};

struct Parties {
    portal: PrivateKey,
    module: PrivateKey,
}

impl Parties {
    fn new() -> Parties {
        Parties {
            portal: PrivateKey::generate(Algorithm::RS512).unwrap(),
            module: PrivateKey::generate(Algorithm::RS512).unwrap(),
        }
    }

    fn signed(&self) -> String {
        LaunchToken::new(
            ISSUER,
            AUDIENCE,
            "Patient/1",
            "Task/11",
            "https://m.example/AD/1",
            now(),
        )
        .unwrap()
        .sign_to_string(self.portal.signer().unwrap().as_ref(), &mut os_rng())
        .unwrap()
    }

    fn receiver(&self) -> LaunchReceiver {
        let jwks = jwks_document(&[&self.portal]).unwrap();
        LaunchReceiver::builder(Policy::new(AUDIENCE).unwrap())
            .keys(
                StaticKeys::new()
                    .with_jwks(ISSUER, jwks.as_bytes())
                    .unwrap(),
            )
            .decryption_key(self.module.decrypter().unwrap())
            .clock(FixedClock::new(now()))
            .build()
            .unwrap()
    }

    fn module_private_pem(&self) -> String {
        self.module.to_pem(PemFormat::Pkcs8).unwrap()
    }

    fn module_public_pem(&self) -> Vec<u8> {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(&self.module_private_pem()).unwrap();
        private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
            .into_bytes()
    }
}

fn josekit_alg(alg: KeyManagement) -> &'static josekit::jwe::alg::rsaes::RsaesJweAlgorithm {
    match alg {
        KeyManagement::RsaOaep => &jwe::RSA_OAEP,
        _ => &jwe::RSA_OAEP_256,
    }
}

const ALGS: [KeyManagement; 2] = [KeyManagement::RsaOaep, KeyManagement::RsaOaep256];

/// josekit encrypts `payload` to the module with `alg`, `enc` and header `extra` members.
fn josekit_encrypt(
    parties: &Parties,
    payload: &[u8],
    alg: &josekit::jwe::alg::rsaes::RsaesJweAlgorithm,
    enc: &str,
    cty: Option<&str>,
) -> String {
    let mut header = JweHeader::new();
    header.set_content_encryption(enc);
    if let Some(cty) = cty {
        header.set_content_type(cty);
    }
    let encrypter = alg.encrypter_from_pem(parties.module_public_pem()).unwrap();
    jwe::serialize_compact(payload, &header, &encrypter).unwrap()
}

#[test]
fn launches_josekit_encrypts_are_received() {
    let parties = Parties::new();
    let receiver = parties.receiver();
    let mut checked = 0;
    for alg in ALGS {
        for enc in ContentEncryption::ALL {
            let token = josekit_encrypt(
                &parties,
                parties.signed().as_bytes(),
                josekit_alg(alg),
                enc.as_str(),
                Some("JWT"),
            );
            let launch = receiver
                .receive_token(&token)
                .unwrap_or_else(|refusal| panic!("{alg:?} {enc:?}: {refusal}"));
            assert_eq!(launch.resource(), "Task/11");
            assert_eq!(
                receiver.receive_token(&token).unwrap_err().name(),
                "Replayed"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn launches_we_encrypt_are_decrypted_by_josekit() {
    let parties = Parties::new();
    let module_jwks =
        jwks_encryption_document(&[&parties.module], KeyManagement::RsaOaep256).unwrap();
    let mut checked = 0;
    for alg in ALGS {
        let recipient = recipient_public_key(module_jwks.as_bytes(), Some(alg)).unwrap();
        let decrypter = josekit_alg(alg)
            .decrypter_from_pem(parties.module_private_pem())
            .unwrap();
        for enc in ContentEncryption::ALL {
            let signed = parties.signed();
            let token = encrypt_launch(&signed, &recipient, enc).unwrap();
            let (payload, header) = jwe::deserialize_compact(&token, &decrypter)
                .unwrap_or_else(|error| panic!("josekit refused {alg:?} {enc:?}: {error}"));
            assert_eq!(payload, signed.as_bytes());
            assert_eq!(header.content_encryption(), Some(enc.as_str()));
            assert_eq!(header.content_type(), Some("JWT"));
            assert_eq!(
                header.key_id(),
                Some(parties.module.key_id().unwrap().as_str())
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn what_portals_send_today_without_a_kid_is_received() {
    // RSA-OAEP, A128CBC-HS256, cty JWT, no kid: the header the reference portal writes.
    let parties = Parties::new();
    let token = josekit_encrypt(
        &parties,
        parties.signed().as_bytes(),
        &jwe::RSA_OAEP,
        "A128CBC-HS256",
        Some("JWT"),
    );
    let header: serde_json::Value =
        serde_json::from_slice(&base64_decode(token.split('.').next().unwrap())).unwrap();
    assert!(header.get("kid").is_none(), "{header}");
    assert!(parties.receiver().receive_token(&token).is_ok());
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

#[test]
fn hostile_envelopes_are_refused_each_with_its_error() {
    let parties = Parties::new();
    let receiver = parties.receiver();
    let refused = |token: &str| receiver.receive_token(token).unwrap_err().name();
    let signed = parties.signed();

    #[allow(deprecated)] // what an attacker or an old portal would send
    let rsa1_5 = josekit_encrypt(
        &parties,
        signed.as_bytes(),
        &jwe::RSA1_5,
        "A128CBC-HS256",
        Some("JWT"),
    );
    assert_eq!(refused(&rsa1_5), "ForbiddenKeyManagement");

    let oaep512 = josekit_encrypt(
        &parties,
        signed.as_bytes(),
        &jwe::RSA_OAEP_512,
        "A128GCM",
        Some("JWT"),
    );
    assert_eq!(refused(&oaep512), "UnsupportedKeyManagement");

    let no_cty = josekit_encrypt(&parties, signed.as_bytes(), &jwe::RSA_OAEP, "A128GCM", None);
    assert_eq!(refused(&no_cty), "UnexpectedContentType");

    // A JWE inside a JWE (both to this module): the inner one is not a signed token.
    let inner = josekit_encrypt(
        &parties,
        signed.as_bytes(),
        &jwe::RSA_OAEP,
        "A128GCM",
        Some("JWT"),
    );
    let nested = josekit_encrypt(
        &parties,
        inner.as_bytes(),
        &jwe::RSA_OAEP,
        "A128GCM",
        Some("JWT"),
    );
    assert_eq!(refused(&nested), "NotSignedInside");

    // Bare claims encrypted, no signature at all.
    let claims = br#"{"iss":"https://portal.example.org","aud":"Device/42"}"#;
    let bare = josekit_encrypt(&parties, claims, &jwe::RSA_OAEP, "A128GCM", Some("JWT"));
    assert_eq!(refused(&bare), "NotSignedInside");

    // An unsigned launch (alg none) inside: refused by the same checks as a plain one.
    let payload = signed.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let wrapped = josekit_encrypt(
        &parties,
        unsigned.as_bytes(),
        &jwe::RSA_OAEP,
        "A128GCM",
        Some("JWT"),
    );
    assert_eq!(refused(&wrapped), "ForbiddenAlgorithm");

    // Encrypted to someone else.
    let stranger = Parties::new();
    let elsewhere = josekit_encrypt(
        &stranger,
        signed.as_bytes(),
        &jwe::RSA_OAEP,
        "A128GCM",
        Some("JWT"),
    );
    assert_eq!(refused(&elsewhere), "DecryptionFailed");

    // `zip` (compressed content) and `dir`, written by hand: josekit refuses to make them to
    // an RSA key.
    let header = |json: &str| {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::encode_string(json.as_bytes())
    };
    let zip = format!(
        "{}.AAAA.AAAA.AAAA.AAAA",
        header(r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","zip":"DEF"}"#)
    );
    assert_eq!(refused(&zip), "CompressedContent");
    let dir = format!(
        "{}.AAAA.AAAA.AAAA.AAAA",
        header(r#"{"alg":"dir","enc":"A128GCM","cty":"JWT"}"#)
    );
    assert_eq!(refused(&dir), "ForbiddenKeyManagement");

    // Oversized: longer than the largest launch could encrypt to.
    let huge = format!(
        "{}.{}.AAAA.AAAA.AAAA",
        header(r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT"}"#),
        "A".repeat(20_000)
    );
    assert_eq!(refused(&huge), "TokenTooLarge");
}

#[test]
fn the_module_publishes_its_encryption_key_with_use_and_alg() {
    let parties = Parties::new();
    let jwks: serde_json::Value = serde_json::from_str(
        &jwks_encryption_document(&[&parties.module], KeyManagement::RsaOaep).unwrap(),
    )
    .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["use"].as_str(), key["alg"].as_str()),
        (Some("enc"), Some("RSA-OAEP"))
    );
    assert_eq!(key["kid"], parties.module.key_id().unwrap());
    // josekit reads it and encrypts to it; we decrypt.
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let encrypter = jwe::RSA_OAEP.encrypter_from_jwk(&jwk).unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    header.set_content_type("JWT");
    header.set_key_id(key["kid"].as_str().unwrap());
    let token = jwe::serialize_compact(parties.signed().as_bytes(), &header, &encrypter).unwrap();
    assert!(parties.receiver().receive_token(&token).is_ok());
    // A PEM public key works as a recipient too.
    let recipient = recipient_public_key(&parties.module_public_pem(), None).unwrap();
    let ours = encrypt_launch(
        &parties.signed(),
        &recipient,
        ContentEncryption::A128CbcHs256,
    )
    .unwrap();
    assert!(parties.receiver().receive_token(&ours).is_ok());
}
