//! Producing what a portal or a client sends: generating keys, public JWKS documents, client
//! assertions, signed launch tokens and encrypted (HTI:jwe) launches.

use std::ffi::c_char;

use koppeltaal_core::{ClientAssertion, ContentEncryption, KeyManagement, LaunchToken};
use koppeltaal_host::{
    Clock, PrivateKey, SystemClock,
    jwe::{encrypt_launch, recipient_public_key},
    keys::jwks_document,
    random::os_rng,
};

use crate::arguments::{algorithm, optional_text, text, write_out};
use crate::panic::guarded;
use crate::status::status;

/// Generates a private key for `algorithm` (`"RS512"`, `"ES256"`, ...; RSA of `rsa_bits`: 2048,
/// 3072 or 4096) and writes it as PKCS#8 PEM. A buffer of 4096 bytes fits every key. (A
/// too-small buffer loses the key generated: call again with a larger one.)
///
/// # Safety
/// `algorithm` is NUL-terminated; `out` points to `cap` writable bytes; `len` is writable.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_generate_key(
    algorithm_name: *const c_char,
    rsa_bits: u32,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promise, forwarded.
        let alg = algorithm(unsafe { text(algorithm_name)? })?;
        let key = match alg.is_rsa() {
            true => PrivateKey::generate_rsa(alg, rsa_bits as usize),
            false => PrivateKey::generate(alg),
        }
        .map_err(status)?;
        let pem = key
            .to_pem(koppeltaal_host::keys::PemFormat::Pkcs8)
            .map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, pem.as_bytes()) }
    })
}

/// Writes the public JWKS (thumbprint kid) of a PEM private key (PKCS#8, PKCS#1 or SEC1).
///
/// # Safety
/// `pem` is NUL-terminated; `out` points to `cap` writable bytes; `len` is writable.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_jwks_from_pem(
    pem: *const c_char,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promise, forwarded.
        let key = PrivateKey::from_pem(unsafe { text(pem)? }).map_err(status)?;
        let jwks = jwks_document(&[&key]).map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, jwks.as_bytes()) }
    })
}

/// Writes a SMART Backend Services client assertion signed with a PEM private key (RS512 for
/// RSA keys, the curve's algorithm for EC keys), issued at `now_unix` (0: the system clock),
/// valid 120 s, with a fresh random `jti`.
///
/// # Safety
/// Strings are NUL-terminated; `out` points to `cap` writable bytes; `len` is writable.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_client_assertion(
    pem: *const c_char,
    client_id: *const c_char,
    token_endpoint: *const c_char,
    now_unix: u64,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (pem, client_id, endpoint) =
            unsafe { (text(pem)?, text(client_id)?, text(token_endpoint)?) };
        let signer = PrivateKey::from_pem(pem)
            .and_then(|key| key.signer())
            .map_err(status)?;
        let now = if now_unix == 0 {
            SystemClock.now()
        } else {
            now_unix
        };
        let jti = koppeltaal_host::random::new_jti();
        let token = ClientAssertion::new(client_id, endpoint, now)
            .and_then(|assertion| assertion.with_token_id(&jti))
            .and_then(|assertion| assertion.sign_to_string(signer.as_ref(), &mut os_rng()))
            .map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, token.as_bytes()) }
    })
}

/// Encrypts a signed launch (`signed`, a compact JWS) to a module (HTI:jwe), as a portal does:
/// `recipient` is the module's JWKS (its `use: enc` RSA key) or a PEM public key;
/// `key_algorithm` is `"RSA-OAEP"` or `"RSA-OAEP-256"` (NULL: the JWK's `alg`, else
/// RSA-OAEP-256); `content_encryption` one of `"A128CBC-HS256"`, `"A192CBC-HS384"`,
/// `"A256CBC-HS512"`, `"A128GCM"`, `"A192GCM"`, `"A256GCM"` (NULL: A256GCM). Writes the compact
/// JWE.
///
/// # Safety
/// `signed`, `recipient` are NUL-terminated, the algorithm names NULL or NUL-terminated; `out`
/// points to `cap` writable bytes; `len` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_encrypt_launch(
    signed: *const c_char,
    recipient: *const c_char,
    key_algorithm: *const c_char,
    content_encryption: *const c_char,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (signed, recipient, key_algorithm, content_encryption) = unsafe {
            (
                text(signed)?,
                text(recipient)?,
                optional_text(key_algorithm)?,
                optional_text(content_encryption)?,
            )
        };
        let alg = key_algorithm
            .map(KeyManagement::from_jose)
            .transpose()
            .map_err(status)?;
        let enc = content_encryption
            .map(ContentEncryption::from_jose)
            .transpose()
            .map_err(status)?
            .unwrap_or(ContentEncryption::A256Gcm);
        let recipient = recipient_public_key(recipient.as_bytes(), alg).map_err(status)?;
        let token = encrypt_launch(signed, &recipient, enc).map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, token.as_bytes()) }
    })
}

/// Writes an HTI launch token signed with a PEM private key. `patient` and `intent` may be
/// NULL. Issued at `now_unix` (0: the system clock), valid `lifetime` seconds (1 to 300).
///
/// # Safety
/// Strings are NUL-terminated (`patient`, `intent` may be NULL); `out` points to `cap`
/// writable bytes; `len` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_launch_token(
    pem: *const c_char,
    issuer: *const c_char,
    audience: *const c_char,
    subject: *const c_char,
    resource: *const c_char,
    definition: *const c_char,
    patient: *const c_char,
    intent: *const c_char,
    now_unix: u64,
    lifetime: u64,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (pem, issuer, audience, subject, resource, definition, patient, intent) = unsafe {
            (
                text(pem)?,
                text(issuer)?,
                text(audience)?,
                text(subject)?,
                text(resource)?,
                text(definition)?,
                optional_text(patient)?,
                optional_text(intent)?,
            )
        };
        let signer = PrivateKey::from_pem(pem)
            .and_then(|key| key.signer())
            .map_err(status)?;
        let now = if now_unix == 0 {
            SystemClock.now()
        } else {
            now_unix
        };
        let mut launch = LaunchToken::new(issuer, audience, subject, resource, definition, now)
            .and_then(|launch| launch.with_lifetime(lifetime))
            .map_err(status)?;
        if let Some(patient) = patient {
            launch = launch.with_patient(patient).map_err(status)?;
        }
        if let Some(intent) = intent {
            launch = launch.with_intent(intent).map_err(status)?;
        }
        let jti = koppeltaal_host::random::new_jti();
        let token = launch
            .with_token_id(&jti)
            .and_then(|launch| launch.sign_to_string(signer.as_ref(), &mut os_rng()))
            .map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, token.as_bytes()) }
    })
}
