//! The C ABI of koppeltaal-rs.
//!
//! Opaque handles, pointer and length pairs, a status code from every function (the core's
//! and the host's stable error codes, plus the ABI's own 1000-1099), static messages for the
//! codes, and no panic across the boundary: every entry point catches one and returns
//! [`KOPPELTAAL_PANIC`]. The header `include/koppeltaal.h` is generated from this file by
//! cbindgen; a test fails when it is stale.
//!
//! This is the one crate of the project with `unsafe` code: dereferencing the pointers C hands
//! in. Each such place checks for NULL first and says what it relies on.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use koppeltaal_core::{
    Algorithm, ClientAssertion, ContentEncryption, Error, KeyManagement, KeySet, LaunchToken,
    Policy,
};
use koppeltaal_host::{
    Clock, HostError, HostKeySet, LaunchReceiver, MemoryReplayStore, PrivateKey, RedisOptions,
    RedisReplayStore, ReplayStore, SharedDecrypter, StaticKeys, SystemClock, encrypt_launch,
    encryption_key, jwks_document, os_rng,
};

mod codes;
pub use codes::*;

/// Success.
pub const KOPPELTAAL_OK: i32 = 0;
/// The output buffer is too small; the length it needs has been written.
pub const KOPPELTAAL_BUFFER_TOO_SMALL: i32 = 800;
/// A pointer argument that may not be NULL was NULL.
pub const KOPPELTAAL_NULL_ARGUMENT: i32 = 1000;
/// A string argument is not valid UTF-8.
pub const KOPPELTAAL_INVALID_UTF8: i32 = 1001;
/// An argument is out of range (for example an unknown algorithm name).
pub const KOPPELTAAL_INVALID_ARGUMENT: i32 = 1002;
/// An internal error was caught before it could cross the boundary (a bug: please report it).
pub const KOPPELTAAL_PANIC: i32 = 1003;
/// The call is not possible in the verifier's present state (for example switching the replay
/// store after launches were verified).
pub const KOPPELTAAL_INVALID_STATE: i32 = 1004;

/// A launch verifier: trusted issuers with their keys, a policy (RS512 only, 60 s leeway,
/// 300 s maximum lifetime by default) and a replay store. A thin layer over the host's
/// `LaunchReceiver`: the checks, their order and the replay record are the same as in every
/// other adapter.
///
/// Thread safety: every function may be called on one verifier from any number of threads at
/// once. `koppeltaal_verify` calls run in parallel; configuration calls wait for them.
pub struct koppeltaal_verifier {
    settings: RwLock<Settings>,
    /// Whether a launch has been verified (the replay store can no longer be switched).
    used: AtomicBool,
}

struct Settings {
    policy: Policy,
    issuers: Vec<(String, Arc<HostKeySet>)>,
    decrypters: Vec<SharedDecrypter>,
    replay: Arc<dyn ReplayStore>,
    /// Built from the fields above, again after every change.
    receiver: LaunchReceiver,
}

impl Settings {
    fn new(
        policy: Policy,
        issuers: Vec<(String, Arc<HostKeySet>)>,
        replay: Arc<dyn ReplayStore>,
    ) -> Result<Settings, i32> {
        let mut settings = Settings {
            receiver: LaunchReceiver::builder(policy.clone())
                .keys(StaticKeys::new())
                .build()
                .map_err(status)?,
            policy,
            issuers,
            decrypters: Vec::new(),
            replay,
        };
        settings.rebuild()?;
        Ok(settings)
    }

    /// Builds the receiver from the settings, again after every change.
    fn rebuild(&mut self) -> Result<(), i32> {
        let keys = self
            .issuers
            .iter()
            .fold(StaticKeys::new(), |keys, (issuer, set)| {
                keys.with_key_set(issuer, Arc::clone(set))
            });
        let builder = self.decrypters.iter().fold(
            LaunchReceiver::builder(self.policy.clone()),
            |builder, key| builder.decryption_key(Arc::clone(key)),
        );
        self.receiver = builder
            .keys(keys)
            .replay(Arc::clone(&self.replay))
            .build()
            .map_err(status)?;
        Ok(())
    }
}

fn status(error: impl Into<HostError>) -> i32 {
    i32::from(error.into().code())
}

/// Runs `body`, turning a panic into [`KOPPELTAAL_PANIC`] and an error into its code.
fn guarded(body: impl FnOnce() -> Result<(), i32>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => KOPPELTAAL_OK,
        Ok(Err(code)) => code,
        Err(_) => KOPPELTAAL_PANIC,
    }
}

/// # Safety
/// `pointer` is NULL or points to `len` readable bytes that stay valid for `'a`.
unsafe fn bytes<'a>(pointer: *const u8, len: usize) -> Result<&'a [u8], i32> {
    if pointer.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(KOPPELTAAL_NULL_ARGUMENT)
        };
    }
    // SAFETY: not NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(pointer, len) })
}

/// # Safety
/// `pointer` is NULL or points to a NUL-terminated string valid for `'a`.
unsafe fn text<'a>(pointer: *const c_char) -> Result<&'a str, i32> {
    if pointer.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string.
    let c_str = unsafe { CStr::from_ptr(pointer) };
    c_str.to_str().map_err(|_| KOPPELTAAL_INVALID_UTF8)
}

/// A string argument that may be NULL (absent).
///
/// # Safety
/// As [`text`].
unsafe fn optional_text<'a>(pointer: *const c_char) -> Result<Option<&'a str>, i32> {
    if pointer.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { text(pointer) }.map(Some)
    }
}

/// Writes `data` to `out` (capacity `cap`) and its length to `*len`; too small a buffer is
/// [`KOPPELTAAL_BUFFER_TOO_SMALL`] with `*len` set to the length needed.
///
/// # Safety
/// `len` is NULL or writable; `out` is NULL or points to `cap` writable bytes.
unsafe fn write_out(out: *mut u8, cap: usize, len: *mut usize, data: &[u8]) -> Result<(), i32> {
    if len.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL; the caller promises it is writable.
    unsafe { *len = data.len() };
    if data.len() > cap {
        return Err(KOPPELTAAL_BUFFER_TOO_SMALL);
    }
    if data.is_empty() {
        return Ok(());
    }
    if out.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL, at least `cap >= data.len()` writable bytes, and `data` is ours, so the
    // regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), out, data.len()) };
    Ok(())
}

/// # Safety
/// `verifier` is NULL or a pointer from `koppeltaal_verifier_new` not yet freed.
unsafe fn verifier_ref<'a>(
    verifier: *const koppeltaal_verifier,
) -> Result<&'a koppeltaal_verifier, i32> {
    // SAFETY: NULL is checked; otherwise the caller promises a live verifier.
    unsafe { verifier.as_ref() }.ok_or(KOPPELTAAL_NULL_ARGUMENT)
}

fn keys(jwks: &[u8]) -> Result<Arc<HostKeySet>, i32> {
    KeySet::from_jwks(jwks).map(Arc::new).map_err(status)
}

fn algorithm(name: &str) -> Result<Algorithm, i32> {
    Algorithm::from_jose(name).map_err(status)
}

/// Creates a verifier trusting `issuer` with the keys of the JWKS document `jwks`, for tokens
/// addressed to `audience`, remembering up to `replay_capacity` unexpired launches (at least
/// 1). On success `*out` is the verifier, to be freed with `koppeltaal_verifier_free`; on
/// failure `*out` is NULL.
///
/// # Safety
/// `jwks` points to `jwks_len` readable bytes; `issuer` and `audience` are NUL-terminated;
/// `out` is writable. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_new(
    jwks: *const u8,
    jwks_len: usize,
    issuer: *const c_char,
    audience: *const c_char,
    replay_capacity: u32,
    out: *mut *mut koppeltaal_verifier,
) -> i32 {
    guarded(|| {
        if out.is_null() {
            return Err(KOPPELTAAL_NULL_ARGUMENT);
        }
        // SAFETY: not NULL; the caller promises it is writable.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: the caller's promises, forwarded.
        let (jwks, issuer, audience) =
            unsafe { (bytes(jwks, jwks_len)?, text(issuer)?, text(audience)?) };
        if issuer.is_empty() {
            return Err(status(Error::InvalidConfiguration));
        }
        let verifier = koppeltaal_verifier {
            settings: RwLock::new(Settings::new(
                Policy::new(audience).map_err(status)?,
                vec![(issuer.to_owned(), keys(jwks)?)],
                Arc::new(MemoryReplayStore::new(replay_capacity.max(1) as usize)),
            )?),
            used: AtomicBool::new(false),
        };
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(Box::new(verifier)) };
        Ok(())
    })
}

/// Frees a verifier. NULL is a no-op.
///
/// # Safety
/// `verifier` is NULL or from `koppeltaal_verifier_new`, not yet freed, and not in use by
/// another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_free(verifier: *mut koppeltaal_verifier) {
    if !verifier.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: from `Box::into_raw` in `koppeltaal_verifier_new`, freed once.
            drop(unsafe { Box::from_raw(verifier) });
        }));
    }
}

/// Trusts one more issuer, with the keys of `jwks` (replacing the keys of an issuer already
/// trusted).
///
/// # Safety
/// `verifier` is live; `issuer` is NUL-terminated; `jwks` points to `jwks_len` bytes.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_add_issuer(
    verifier: *mut koppeltaal_verifier,
    issuer: *const c_char,
    jwks: *const u8,
    jwks_len: usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, issuer, jwks) = unsafe {
            (
                verifier_ref(verifier)?,
                text(issuer)?,
                bytes(jwks, jwks_len)?,
            )
        };
        if issuer.is_empty() {
            return Err(status(Error::InvalidConfiguration));
        }
        let keys = keys(jwks)?;
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        settings.issuers.retain(|(trusted, _)| trusted != issuer);
        settings.issuers.push((issuer.to_owned(), keys));
        settings.rebuild()
    })
}

/// Accepts one more algorithm (`"RS256"`, `"ES256"`, ...; RS512 always is). `none` and HMAC
/// cannot be allowed: they give their own status.
///
/// # Safety
/// `verifier` is live; `algorithm` is NUL-terminated. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_allow_algorithm(
    verifier: *mut koppeltaal_verifier,
    algorithm_name: *const c_char,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, name) = unsafe { (verifier_ref(verifier)?, text(algorithm_name)?) };
        let alg = algorithm(name)?;
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        settings.policy = settings.policy.clone().allow(alg);
        settings.rebuild()
    })
}

/// Decrypts encrypted launches (HTI:jwe, RSA-OAEP or RSA-OAEP-256) with this RSA private key
/// (PEM), known by its RFC 7638 thumbprint `kid`; repeatable. Without one, an encrypted launch
/// is refused with status 102; with one, what decrypts is verified exactly as a plain launch,
/// and every decryption failure is status 410, whatever its cause.
///
/// # Safety
/// `verifier` is live; `pem` is NUL-terminated. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_add_decryption_key(
    verifier: *mut koppeltaal_verifier,
    pem: *const c_char,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, pem) = unsafe { (verifier_ref(verifier)?, text(pem)?) };
        let key = PrivateKey::from_pem(pem)
            .and_then(|key| key.decrypter(None))
            .map_err(status)?;
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        settings.decrypters.push(key);
        settings.rebuild()
    })
}

/// Sets the clock leeway in seconds (60 by default).
///
/// # Safety
/// `verifier` is live. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_set_leeway(
    verifier: *mut koppeltaal_verifier,
    seconds: u64,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promise, forwarded.
        let verifier = unsafe { verifier_ref(verifier)? };
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        settings.policy = settings.policy.clone().with_leeway(seconds);
        settings.rebuild()
    })
}

/// Sets the maximum lifetime `exp - iat` in seconds (300 by default).
///
/// # Safety
/// `verifier` is live. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_set_max_lifetime(
    verifier: *mut koppeltaal_verifier,
    seconds: u64,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promise, forwarded.
        let verifier = unsafe { verifier_ref(verifier)? };
        if seconds == 0 {
            return Err(KOPPELTAAL_INVALID_ARGUMENT);
        }
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        settings.policy = settings.policy.clone().with_max_lifetime(seconds);
        settings.rebuild()
    })
}

/// Remembers accepted launches in Redis (`redis://host:port/db`) instead of in this verifier,
/// so that verifiers in other processes sharing it refuse a launch replayed to them. Keys are
/// prefixed with `prefix` (NULL: `koppeltaal:replay:`). When Redis is unreachable, launches are
/// refused with status 913. Connects lazily: an unreachable Redis shows at the first verify.
///
/// Only before the first `koppeltaal_verify`: afterwards the launches already accepted live in
/// this verifier's memory, and switching would forget them, so the call is refused with
/// `KOPPELTAAL_INVALID_STATE` and nothing changes.
///
/// # Safety
/// `verifier` is live; `url` is NUL-terminated; `prefix` is NULL or NUL-terminated.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_use_redis(
    verifier: *mut koppeltaal_verifier,
    url: *const c_char,
    prefix: *const c_char,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, url, prefix) =
            unsafe { (verifier_ref(verifier)?, text(url)?, optional_text(prefix)?) };
        let mut options = RedisOptions::default();
        if let Some(prefix) = prefix {
            options.prefix = prefix.to_owned();
        }
        let store = RedisReplayStore::new(url, options).map_err(status)?;
        let mut settings = verifier.settings.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock: no verification can start meanwhile.
        if verifier.used.load(Ordering::SeqCst) {
            return Err(KOPPELTAAL_INVALID_STATE);
        }
        settings.replay = Arc::new(store);
        settings.rebuild()
    })
}

/// Verifies a launch token at `now_unix` (Unix seconds; 0 means the system clock) and, if it
/// is valid and new, records it against replay and writes its claims as a JSON object into
/// `claims_json` (`*claims_len` bytes, not NUL-terminated).
///
/// Every pointer and the capacity are checked before the token is: a call that cannot
/// deliver the claims (`claims_len` NULL, `claims_json` NULL with a non-zero capacity) fails
/// with `KOPPELTAAL_NULL_ARGUMENT` and leaves the launch unused. When `claims_cap` is too small
/// the status is `KOPPELTAAL_BUFFER_TOO_SMALL`, `*claims_len` says how much is needed, and the
/// token is **not** recorded: call again with a larger buffer.
///
/// # Safety
/// `verifier` is live; `token` points to `token_len` bytes; `claims_json` is NULL or points to
/// `claims_cap` writable bytes; `claims_len` is writable. Thread-safe: calls run in parallel,
/// and of concurrent calls with one token exactly one succeeds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verify(
    verifier: *mut koppeltaal_verifier,
    token: *const u8,
    token_len: usize,
    now_unix: u64,
    claims_json: *mut u8,
    claims_cap: usize,
    claims_len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, token) = unsafe { (verifier_ref(verifier)?, bytes(token, token_len)?) };
        if claims_len.is_null() || (claims_json.is_null() && claims_cap > 0) {
            return Err(KOPPELTAAL_NULL_ARGUMENT);
        }
        let receiver = {
            let settings = verifier.settings.read().unwrap_or_else(|e| e.into_inner());
            verifier.used.store(true, Ordering::SeqCst);
            settings.receiver.clone()
        };
        let checked = match now_unix {
            0 => receiver.check_token(token),
            now => receiver.check_token_at(token, now),
        }
        .map_err(|refusal| i32::from(refusal.code()))?;
        let json = koppeltaal_host::launch_json(checked.launch()).to_string();
        if json.len() > claims_cap {
            // SAFETY: checked not NULL above; the caller promises it is writable.
            unsafe { *claims_len = json.len() };
            return Err(KOPPELTAAL_BUFFER_TOO_SMALL);
        }
        checked
            .record()
            .map_err(|refusal| i32::from(refusal.code()))?;
        // SAFETY: the caller's promises, forwarded; the capacity was checked above.
        unsafe { write_out(claims_json, claims_cap, claims_len, json.as_bytes()) }
    })
}

/// A static, NUL-terminated description of `status` (never NULL; "unknown status" for a code
/// no function returns). Thread-safe; allocates nothing.
#[unsafe(no_mangle)]
pub extern "C" fn koppeltaal_status_message(status: i32) -> *const c_char {
    let message: &'static CStr = match status {
        KOPPELTAAL_OK => c"success",
        KOPPELTAAL_NULL_ARGUMENT => c"a pointer argument that may not be NULL was NULL",
        KOPPELTAAL_INVALID_UTF8 => c"a string argument is not valid UTF-8",
        KOPPELTAAL_INVALID_ARGUMENT => c"an argument is out of range",
        KOPPELTAAL_PANIC => c"internal error (a bug: please report it)",
        KOPPELTAAL_INVALID_STATE => c"not possible in the verifier's present state",
        _ => u16::try_from(status)
            .ok()
            .and_then(HostError::summary_c_of)
            .unwrap_or(c"unknown status"),
    };
    message.as_ptr()
}

/// A static, NUL-terminated name of `status`, stable across releases as the code is: the
/// error's variant name (`"Replayed"` for 600, `"ReplayStoreUnavailable"` for 913), or for the
/// ABI's own codes `"Ok"`, `"NullArgument"`, `"InvalidUtf8"`, `"InvalidArgument"`, `"Panic"`,
/// `"InvalidState"`. `"Unknown"` for a code no function returns (never NULL). Thread-safe;
/// allocates nothing.
#[unsafe(no_mangle)]
pub extern "C" fn koppeltaal_status_name(status: i32) -> *const c_char {
    let name: &'static CStr = match status {
        KOPPELTAAL_OK => c"Ok",
        KOPPELTAAL_NULL_ARGUMENT => c"NullArgument",
        KOPPELTAAL_INVALID_UTF8 => c"InvalidUtf8",
        KOPPELTAAL_INVALID_ARGUMENT => c"InvalidArgument",
        KOPPELTAAL_PANIC => c"Panic",
        KOPPELTAAL_INVALID_STATE => c"InvalidState",
        _ => u16::try_from(status)
            .ok()
            .and_then(HostError::name_c_of)
            .unwrap_or(c"Unknown"),
    };
    name.as_ptr()
}

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
        let key = PrivateKey::generate(alg, rsa_bits as usize).map_err(status)?;
        let pem = key
            .to_pem(koppeltaal_host::PemFormat::Pkcs8)
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
            .and_then(|key| key.signer(None))
            .map_err(status)?;
        let now = if now_unix == 0 {
            SystemClock.now()
        } else {
            now_unix
        };
        let jti = koppeltaal_host::new_jti();
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
        let recipient = encryption_key(recipient.as_bytes(), alg).map_err(status)?;
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
            .and_then(|key| key.signer(None))
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
        let jti = koppeltaal_host::new_jti();
        let token = launch
            .with_token_id(&jti)
            .and_then(|launch| launch.sign_to_string(signer.as_ref(), &mut os_rng()))
            .map_err(status)?;
        // SAFETY: the caller's promises, forwarded.
        unsafe { write_out(out, cap, len, token.as_bytes()) }
    })
}
