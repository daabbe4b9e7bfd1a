//! The launch verifier, `koppeltaal_verifier`: creating and freeing one, configuring it
//! (issuers, algorithms, decryption keys, leeway, lifetime, replay store) and verifying launches
//! with it.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use koppeltaal_core::{Error, KeySet, Policy};
use koppeltaal_host::{
    HostError, LaunchReceiver, PrivateKey, StaticKeys,
    jwe::SharedDecrypter,
    keys::IssuerKeys,
    replay::{
        MemoryReplayStore, RedisCredentials, RedisOptions, RedisReplayStore, RedisTls, ReplayStore,
    },
};

use crate::arguments::{algorithm, bytes, optional_text, text, write_out};
use crate::panic::guarded;
use crate::status::{
    KOPPELTAAL_BUFFER_TOO_SMALL, KOPPELTAAL_INVALID_ARGUMENT, KOPPELTAAL_INVALID_STATE,
    KOPPELTAAL_NULL_ARGUMENT, status,
};

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
    issuers: Vec<(String, Arc<IssuerKeys>)>,
    decrypters: Vec<SharedDecrypter>,
    replay: Arc<dyn ReplayStore>,
    /// Built from the fields above, again after every change.
    receiver: LaunchReceiver,
}

impl Settings {
    fn new(
        policy: Policy,
        issuers: Vec<(String, Arc<IssuerKeys>)>,
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

/// # Safety
/// `verifier` is NULL or a pointer from `koppeltaal_verifier_new` not yet freed.
unsafe fn verifier_ref<'a>(
    verifier: *const koppeltaal_verifier,
) -> Result<&'a koppeltaal_verifier, i32> {
    // SAFETY: NULL is checked; otherwise the caller promises a live verifier.
    unsafe { verifier.as_ref() }.ok_or(KOPPELTAAL_NULL_ARGUMENT)
}

fn keys(jwks: &[u8]) -> Result<Arc<IssuerKeys>, i32> {
    KeySet::from_jwks(jwks).map(Arc::new).map_err(status)
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
            .and_then(|key| key.decrypter())
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

/// Remembers accepted launches in Redis instead of in this verifier, so that verifiers in
/// other processes sharing it refuse a launch replayed to them. `url` is any form the host's
/// store takes: `redis://[user:password@]host:port[/db]`, `rediss://` (TLS, system roots),
/// `redis+sentinel://s1:26379,s2:26379/MASTER[/db]`, `redis+cluster://n1:7000,n2:7001`
/// (`rediss+...` likewise). Keys are prefixed with `prefix` (NULL: `koppeltaal:replay:`). When
/// Redis is unreachable, launches are refused with status 913. Connects lazily: an
/// unreachable Redis shows at the first verify. For a private CA, a client certificate, a
/// password file or replica acknowledgements, use `koppeltaal_verifier_use_redis_with`.
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
        verifier.replace_replay(Arc::new(store))
    })
}

/// Settings of `koppeltaal_verifier_use_redis_with`. Zero-initialise it, set `struct_size` to
/// `sizeof(koppeltaal_redis_options)`, then the members wanted: later versions add members at
/// the end, and read only as many bytes as `struct_size` says.
#[repr(C)]
pub struct koppeltaal_redis_options {
    /// `sizeof(koppeltaal_redis_options)` as the caller compiled it.
    pub struct_size: u32,
    /// Accept a launch only once this many replicas acknowledged its record (Redis `WAIT`); 0:
    /// do not wait. Fewer in time: 913, and the launch stays recorded.
    pub min_replicas: u32,
    /// How long to wait for them, in milliseconds (0: 500).
    pub replica_timeout_ms: u32,
    /// Connect and check now (1), so that a wrong CA, password or server fails this call with
    /// 913 and a detail, rather than the first verify; 0: connect lazily.
    pub check_now: u32,
    /// Key prefix (NULL: `koppeltaal:replay:`).
    pub prefix: *const c_char,
    /// A CA certificate file (PEM) to trust instead of the system's roots (NULL: system).
    pub ca_file: *const c_char,
    /// A client certificate file (PEM), for servers that require one (NULL: none).
    pub cert_file: *const c_char,
    /// Its private key file (PEM).
    pub key_file: *const c_char,
    /// A file whose first line is the password, for the URL's user (NULL: the URL's).
    pub password_file: *const c_char,
}

/// `koppeltaal_verifier_use_redis` with TLS files, a password file and replica
/// acknowledgements (`options`, see `koppeltaal_redis_options`). On failure, a line naming the
/// cause (never a password) is written to `detail` (`*detail_len` bytes, not NUL-terminated;
/// truncated to `detail_cap`) when `detail_len` is not NULL: `KOPPELTAAL_INVALID_URL` for the
/// URL, 909 for TLS files that do not parse, 910 for files that cannot be read, 913 (with
/// `check_now`) when Redis cannot be used: "TLS: the server's certificate is not trusted",
/// "authentication refused: wrong user name or password", ...
///
/// # Safety
/// `verifier` is live; `url` is NUL-terminated; `options` points to a `koppeltaal_redis_options`
/// of at least `options->struct_size` bytes whose strings are NULL or NUL-terminated;
/// `detail_len` is NULL or writable, `detail` NULL or `detail_cap` writable bytes. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn koppeltaal_verifier_use_redis_with(
    verifier: *mut koppeltaal_verifier,
    url: *const c_char,
    options: *const koppeltaal_redis_options,
    detail: *mut u8,
    detail_cap: usize,
    detail_len: *mut usize,
) -> i32 {
    guarded(|| {
        // SAFETY: the caller's promises, forwarded.
        let (verifier, url) = unsafe { (verifier_ref(verifier)?, text(url)?) };
        if options.is_null() {
            return Err(KOPPELTAAL_NULL_ARGUMENT);
        }
        // SAFETY: not NULL; the caller promises `struct_size` readable bytes, and this version
        // reads no member beyond what that covers.
        let options = unsafe { &*options };
        if (options.struct_size as usize) < size_of::<koppeltaal_redis_options>() {
            return Err(KOPPELTAAL_INVALID_ARGUMENT);
        }
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (prefix, ca, cert, key, password) = unsafe {
            (
                optional_text(options.prefix)?,
                optional_text(options.ca_file)?,
                optional_text(options.cert_file)?,
                optional_text(options.key_file)?,
                optional_text(options.password_file)?,
            )
        };
        let built = (|| {
            let mut redis = RedisOptions {
                tls: RedisTls::from_files(
                    ca.map(Path::new),
                    cert.map(Path::new),
                    key.map(Path::new),
                )
                .map_err(explained)?,
                credentials: password
                    .map(|path| RedisCredentials::from_password_file(None, path).map_err(explained))
                    .transpose()?,
                min_replicas: options.min_replicas,
                ..RedisOptions::default()
            };
            if options.replica_timeout_ms != 0 {
                redis.replica_timeout =
                    Duration::from_millis(u64::from(options.replica_timeout_ms));
            }
            if let Some(prefix) = prefix {
                redis.prefix = prefix.to_owned();
            }
            let store = RedisReplayStore::new(url, redis).map_err(explained)?;
            if options.check_now != 0 {
                store.check().map_err(explained)?;
            }
            Ok(store)
        })();
        match built {
            Ok(store) => verifier.replace_replay(Arc::new(store)),
            Err((code, why)) => {
                if !detail_len.is_null() {
                    let shown = &why.as_bytes()[..why.len().min(detail_cap)];
                    // SAFETY: the caller's promises for `detail`, `detail_cap`, `detail_len`.
                    let _ = unsafe { write_out(detail, detail_cap, detail_len, shown) };
                }
                Err(code)
            }
        }
    })
}

/// A host error as its status code and its message.
fn explained(error: HostError) -> (i32, String) {
    (i32::from(error.code()), error.to_string())
}

impl koppeltaal_verifier {
    /// Switches the replay store, before the first verify only.
    fn replace_replay(&self, store: Arc<dyn ReplayStore>) -> Result<(), i32> {
        let mut settings = self.settings.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock: no verification can start meanwhile.
        if self.used.load(Ordering::SeqCst) {
            return Err(KOPPELTAAL_INVALID_STATE);
        }
        settings.replay = store;
        settings.rebuild()
    }
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
        let json = koppeltaal_host::launch::launch_json(checked.launch()).to_string();
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
