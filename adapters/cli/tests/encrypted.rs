//! Encrypted launches (HTI:jwe) from the command line: a module publishes its encryption key
//! (`jwks --use enc`), a portal encrypts to it (`launch --encrypt-to`), and `verify` and
//! `serve` decrypt with `--decryption-key`.

mod common;

use common::{AUDIENCE, ISSUER, Portal, Scratch, Serve, koppeltaal, stderr, stdout};
use serde_json::Value;

struct Module {
    scratch: Scratch,
}

impl Module {
    fn new() -> Module {
        let scratch = Scratch::new();
        assert!(
            koppeltaal(&["keygen", "--out", &scratch.path("module.pem")])
                .status
                .success()
        );
        let jwks = koppeltaal(&["jwks", "--key", &scratch.path("module.pem"), "--use", "enc"]);
        assert!(jwks.status.success(), "{}", stderr(&jwks));
        std::fs::write(scratch.path("module-enc.jwks"), jwks.stdout).unwrap();
        Module { scratch }
    }

    fn key(&self) -> String {
        self.scratch.path("module.pem")
    }

    fn jwks(&self) -> String {
        self.scratch.path("module-enc.jwks")
    }
}

fn header(token: &str) -> Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_portal_encrypts_and_verify_decrypts() {
    let (portal, module) = (Portal::new(), Module::new());
    let published: Value =
        serde_json::from_str(&std::fs::read_to_string(module.jwks()).unwrap()).unwrap();
    let key = &published["keys"][0];
    assert_eq!(
        (key["use"].as_str(), key["alg"].as_str()),
        (Some("enc"), Some("RSA-OAEP-256"))
    );

    // What portals send today, and the defaults.
    let today = portal.launch(&[
        "--encrypt-to",
        &module.jwks(),
        "--key-alg",
        "RSA-OAEP",
        "--enc",
        "A128CBC-HS256",
    ]);
    assert_eq!(today.split('.').count(), 5);
    let h = header(&today);
    assert_eq!(
        (h["alg"].as_str(), h["enc"].as_str(), h["cty"].as_str()),
        (Some("RSA-OAEP"), Some("A128CBC-HS256"), Some("JWT"))
    );
    let default = portal.launch(&["--encrypt-to", &module.jwks()]);
    let h = header(&default);
    assert_eq!(
        (h["alg"].as_str(), h["enc"].as_str()),
        (Some("RSA-OAEP-256"), Some("A256GCM"))
    );
    assert_eq!(h["kid"], key["kid"]);

    for token in [&today, &default] {
        let output = portal.verify(token, &["--decryption-key", &module.key()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let claims: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(claims["resource"], "Task/11");
    }
    let without = portal.verify(&today, &[]);
    assert!(
        stderr(&without).starts_with("error: EncryptedToken (102)"),
        "{}",
        stderr(&without)
    );
    let mut tampered = today.clone().into_bytes();
    let at = tampered.len() - 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let refused = portal.verify(&tampered, &["--decryption-key", &module.key()]);
    assert!(
        stderr(&refused).starts_with("error: DecryptionFailed (410)"),
        "{}",
        stderr(&refused)
    );
    let bad_enc = koppeltaal(&[
        "launch",
        "--key",
        &portal.key(),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--sub",
        "Patient/1",
        "--resource",
        "Task/1",
        "--definition",
        "https://m/AD/1",
        "--encrypt-to",
        &module.jwks(),
        "--enc",
        "A128KW",
    ]);
    assert_eq!(bad_enc.status.code(), Some(2), "a usage error");
}

#[test]
fn a_kid_that_fits_no_key_is_409_and_every_failure_to_decrypt_is_410() {
    let (portal, module, other) = (Portal::new(), Module::new(), Module::new());
    let code = |output: &std::process::Output| {
        let text = stderr(output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        text.split(['(', ')'])
            .nth(1)
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    // The JWE names the module's key; only another key is configured.
    let named = portal.launch(&["--encrypt-to", &module.jwks()]);
    assert!(header(&named)["kid"].is_string());
    let with_other = ["--decryption-key", &other.key()];
    assert_eq!(code(&portal.verify(&named, &with_other)), 409);
    // No kid (as portals often send): every configured key is tried, and the wrong one fails
    // like any other decryption failure.
    let mut published: Value =
        serde_json::from_str(&std::fs::read_to_string(module.jwks()).unwrap()).unwrap();
    published["keys"][0].as_object_mut().unwrap().remove("kid");
    let anonymous = module.scratch.path("anonymous.jwks");
    std::fs::write(&anonymous, published.to_string()).unwrap();
    let unnamed = portal.launch(&["--encrypt-to", &anonymous]);
    assert!(
        header(&unnamed).get("kid").is_none(),
        "{}",
        header(&unnamed)
    );
    assert_eq!(code(&portal.verify(&unnamed, &with_other)), 410);
    let both = [
        "--decryption-key",
        &other.key(),
        "--decryption-key",
        &module.key(),
    ];
    let output = portal.verify(&unnamed, &both);
    assert!(output.status.success(), "{}", stderr(&output));
    // Without any decryption key, an encrypted launch is not read at all.
    assert_eq!(code(&portal.verify(&unnamed, &[])), 102);
}

#[test]
fn serve_decrypts_encrypted_launches() {
    let (portal, module) = (Portal::new(), Module::new());
    let jwks = portal.jwks();
    let key = module.key();
    let serve = Serve::start(&[
        "--jwks",
        &jwks,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--decryption-key",
        &key,
    ]);
    let token = portal.launch(&[
        "--encrypt-to",
        &module.jwks(),
        "--key-alg",
        "RSA-OAEP",
        "--enc",
        "A128CBC-HS256",
    ]);
    let body = format!("token={token}");
    let (status, page) = serve.post(body.as_bytes());
    assert_eq!(status, 200, "{page}");
    let (status, page) = serve.post(body.as_bytes());
    assert_eq!(status, 403);
    assert!(page.contains("code 600"), "{page}");
    // A plain launch still works beside encrypted ones.
    let (status, _) = serve.post(format!("token={}", portal.launch(&[])).as_bytes());
    assert_eq!(status, 200);
}
