//! The module side of an HTI launch: the form post comes in, a verified launch (or a
//! refusal a user can read) goes out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use koppeltaal_core::{Error, HtiLaunch, KeySet, Policy, Unverified};

use crate::clock::{Clock, SystemClock};
use crate::encryption::SharedDecrypter;
use crate::error::HostError;
use crate::introspect::Introspector;
use crate::random::os_rng;
use crate::remote_keys::{HostKeySet, RemoteKeys};
use crate::replay_store::{MemoryReplayStore, ReplayStore};

/// The largest launch form body read: a maximal token, percent-encoded, with room to spare.
pub const MAX_FORM_BODY: usize = 3 * 8192 + 1024;

/// Where a receiver gets an issuer's keys.
pub trait KeySource: Send + Sync {
    /// The keys of `issuer` that may include `kid` ([`Error::WrongIssuer`] for an issuer not
    /// trusted).
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<HostKeySet>, HostError>;
}

impl<T: KeySource + ?Sized> KeySource for Arc<T> {
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<HostKeySet>, HostError> {
        (**self).keys_for(issuer, kid)
    }
}

impl KeySource for RemoteKeys {
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<HostKeySet>, HostError> {
        RemoteKeys::keys_for(self, issuer, kid)
    }
}

/// Keys given once, from files or configuration: no network.
#[derive(Default)]
pub struct StaticKeys {
    issuers: HashMap<String, Arc<HostKeySet>>,
}

impl StaticKeys {
    /// No issuers yet.
    pub fn new() -> StaticKeys {
        StaticKeys::default()
    }

    /// Trusts `issuer` with the keys of a JWKS document.
    pub fn with_jwks(self, issuer: &str, jwks: &[u8]) -> Result<StaticKeys, HostError> {
        Ok(self.with_key_set(issuer, Arc::new(KeySet::from_jwks(jwks)?)))
    }

    /// Trusts `issuer` with `keys` (replacing keys it was trusted with before).
    pub fn with_key_set(mut self, issuer: &str, keys: Arc<HostKeySet>) -> StaticKeys {
        self.issuers.insert(issuer.to_owned(), keys);
        self
    }
}

impl KeySource for StaticKeys {
    fn keys_for(&self, issuer: &str, _: &str) -> Result<Arc<HostKeySet>, HostError> {
        self.issuers
            .get(issuer)
            .cloned()
            .ok_or(HostError::Core(Error::WrongIssuer))
    }
}

enum Check {
    Keys(Arc<dyn KeySource>),
    Introspection(Arc<Introspector>),
}

/// A refused launch: the reason as data, a code to quote, and a sentence for the person who
/// clicked the link (HTI 2.0 asks for a human-understandable message with moderate technical
/// detail, and a logged code the message can refer to).
#[derive(Debug)]
pub struct LaunchError {
    error: HostError,
}

impl LaunchError {
    /// The code to log and to show beside [`user_message`](Self::user_message).
    pub fn code(&self) -> u16 {
        self.error.code()
    }

    /// The error's name, for logs.
    pub fn name(&self) -> &'static str {
        self.error.name()
    }

    /// The underlying error.
    pub fn error(&self) -> &HostError {
        &self.error
    }

    /// Whether the fault is on this side (keys or replay store unreachable): the launch may
    /// succeed if retried, and a server should answer 503 rather than 4xx.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self.error,
            HostError::Unreachable(_)
                | HostError::Timeout
                | HostError::Status { .. }
                | HostError::InvalidResponse(_)
                | HostError::TooManyRedirects
                | HostError::ResponseTooLarge { .. }
                | HostError::ReplayStoreUnavailable(_)
                | HostError::TooManyPendingLaunches
                | HostError::Core(Error::ReplayStoreFull)
        )
    }

    /// One short sentence for the user, without technical detail.
    pub fn user_message(&self) -> &'static str {
        match &self.error {
            HostError::Core(Error::Replayed) => {
                "This launch link has already been used. Please start the module again from your portal."
            }
            HostError::Core(
                Error::Expired { .. }
                | Error::NotYetValid { .. }
                | Error::IssuedInFuture { .. }
                | Error::LifetimeTooLong { .. }
                | Error::ExpiresBeforeIssued
                | Error::ReplayWindowClosed { .. },
            )
            | HostError::Inactive => {
                "This launch link is not valid at this time. Please start the module again from your portal."
            }
            HostError::Core(Error::WrongAudience) => {
                "This launch was meant for a different module."
            }
            _ if self.is_temporary() => {
                "The launch could not be checked just now. Please try again in a moment."
            }
            _ => {
                "This launch could not be verified. Please start the module again from your portal."
            }
        }
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.error.name(),
            self.error.code(),
            self.error
        )
    }
}

impl std::error::Error for LaunchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<E: Into<HostError>> From<E> for LaunchError {
    fn from(error: E) -> Self {
        LaunchError {
            error: error.into(),
        }
    }
}

/// The entry point of a module: verifies launches from any number of threads, with one replay
/// store shared by all of them. Cheap to clone (the clones share everything).
///
/// For each launch, in this order, stopping at the first refusal: the form and the header
/// (see the core), the issuer (one of [`LaunchReceiverBuilder::issuer`] when given, and one the
/// key source knows), then either the signature with the issuer's keys and every claim, or,
/// in introspection mode, every claim checked locally first and only then the authorization
/// server asked; the clock is read again after any network call; the `jti` is recorded last.
///
/// ```no_run
/// use koppeltaal_core::Policy;
/// use koppeltaal_host::{LaunchReceiver, StaticKeys};
/// let keys = StaticKeys::new().with_jwks("https://portal.example.org", br#"{"keys":[]}"#)?;
/// let receiver = LaunchReceiver::builder(Policy::new("Device/42")?).keys(keys).build()?;
/// match receiver.receive_form(b"token=eyJ...") {
///     Ok(launch) => println!("launch of {}", launch.resource()),
///     Err(refusal) => eprintln!("{} (code {})", refusal.user_message(), refusal.code()),
/// }
/// # Ok::<(), koppeltaal_host::HostError>(())
/// ```
#[derive(Clone)]
pub struct LaunchReceiver {
    inner: Arc<Receiver>,
}

struct Receiver {
    policy: Policy,
    check: Check,
    issuers: Vec<String>,
    decrypters: Vec<SharedDecrypter>,
    replay: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
}

/// Configures a [`LaunchReceiver`]: a policy, where signatures are checked (keys, or
/// introspection), and optionally the replay store (default: in memory, 65 536 launches), the
/// clock (default: the system's) and an issuer allow-list.
pub struct LaunchReceiverBuilder {
    policy: Policy,
    check: Option<Check>,
    issuers: Vec<String>,
    decrypters: Vec<SharedDecrypter>,
    replay: Option<Arc<dyn ReplayStore>>,
    clock: Arc<dyn Clock>,
}

impl LaunchReceiverBuilder {
    /// Verifies signatures itself, with the issuers' keys from `keys` ([`RemoteKeys`],
    /// [`StaticKeys`], or your own).
    pub fn keys(mut self, keys: impl KeySource + 'static) -> Self {
        self.check = Some(Check::Keys(Arc::new(keys)));
        self
    }

    /// Lets the authorization server vouch for each token (RFC 7662) instead of checking its
    /// signature here; every claim is still checked here, before and after. Needs at least
    /// one [`issuer`](Self::issuer).
    pub fn introspection(mut self, introspector: impl Into<Arc<Introspector>>) -> Self {
        self.check = Some(Check::Introspection(introspector.into()));
        self
    }

    /// Trusts launches from `issuer` only (repeatable): checked before keys are looked up or
    /// a server is asked. Required with introspection; with keys, the key source decides
    /// unless issuers are given here too.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuers.push(issuer.to_owned());
        self
    }

    /// Decrypts encrypted launches (HTI:jwe) with `key` (repeatable: a JWE's `kid` selects a
    /// key, and without one each is tried). Without any, an encrypted launch is refused
    /// (`EncryptedToken`, 102). What decrypts is the signed launch, checked exactly as a plain
    /// one; every decryption failure is `DecryptionFailed` (410), whatever its cause.
    pub fn decryption_key(mut self, key: SharedDecrypter) -> Self {
        self.decrypters.push(key);
        self
    }

    /// Where accepted launches are remembered (by default a [`MemoryReplayStore`] of 65 536).
    pub fn replay(mut self, store: impl ReplayStore + 'static) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// The clock (by default [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The receiver; [`Error::InvalidConfiguration`] without keys or introspection, or with
    /// introspection but no issuer.
    pub fn build(self) -> Result<LaunchReceiver, HostError> {
        let check = self.check.ok_or(Error::InvalidConfiguration)?;
        if matches!(check, Check::Introspection(_)) && self.issuers.is_empty() {
            return Err(Error::InvalidConfiguration.into());
        }
        Ok(LaunchReceiver {
            inner: Arc::new(Receiver {
                policy: self.policy,
                check,
                issuers: self.issuers,
                decrypters: self.decrypters,
                replay: self
                    .replay
                    .unwrap_or_else(|| Arc::new(MemoryReplayStore::new(1 << 16))),
                clock: self.clock,
            }),
        })
    }
}

impl LaunchReceiver {
    /// A receiver applying `policy`; say where signatures are checked, then
    /// [`build`](LaunchReceiverBuilder::build).
    pub fn builder(policy: Policy) -> LaunchReceiverBuilder {
        LaunchReceiverBuilder {
            policy,
            check: None,
            issuers: Vec::new(),
            decrypters: Vec::new(),
            replay: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Receives an `application/x-www-form-urlencoded` launch body: exactly one `token` field
    /// (other fields are ignored).
    pub fn receive_form(&self, body: &[u8]) -> Result<HtiLaunch, LaunchError> {
        self.receive_token(&form_token(body)?)
    }

    /// Receives the launch token itself: [`check_token`](Self::check_token), then
    /// [`CheckedLaunch::record`].
    pub fn receive_token(&self, token: &str) -> Result<HtiLaunch, LaunchError> {
        self.check_token(token.as_bytes())?.record()
    }

    /// Every check of a launch but the replay record: the launch is not used up yet. For a
    /// caller that must do something that can fail between checking and accepting (write the
    /// claims somewhere, say): only [`CheckedLaunch::record`] makes the launch count.
    pub fn check_token(&self, token: &[u8]) -> Result<CheckedLaunch, LaunchError> {
        self.check(token, None)
    }

    /// [`check_token`](Self::check_token) at `now` (Unix seconds) instead of the receiver's
    /// clock: for a caller that keeps time itself (a C program, a replayed test vector). The
    /// receiver's clock is then not read at all.
    pub fn check_token_at(&self, token: &[u8], now: u64) -> Result<CheckedLaunch, LaunchError> {
        self.check(token, Some(now))
    }

    fn check(&self, token: &[u8], at: Option<u64>) -> Result<CheckedLaunch, LaunchError> {
        let receiver = &*self.inner;
        let decrypted;
        let token = match receiver.decrypt(token)? {
            Some(signed) => {
                decrypted = signed;
                &decrypted[..]
            }
            None => token,
        };
        let now = || at.unwrap_or_else(|| receiver.clock.now());
        let mut scratch = vec![0u8; Unverified::scratch_len(receiver.policy.max_token_len())];
        let unverified = Unverified::parse(token, &receiver.policy, &mut scratch)?;
        let issuer = unverified.issuer()?;
        if !receiver.issuers.is_empty() && !receiver.issuers.iter().any(|trusted| trusted == issuer)
        {
            return Err(Error::WrongIssuer.into());
        }
        let (launch, now) = match &receiver.check {
            Check::Keys(source) => {
                let keys = source.keys_for(issuer, unverified.header().key_id())?;
                // Read after the (possibly slow) key fetch, not before.
                let now = now();
                (unverified.verify(keys.keys(), now)?, now)
            }
            Check::Introspection(introspector) => {
                // Everything that can be refused without the server is refused first.
                unverified.check_claims(now())?;
                // A token that parsed is base64url and dots: ASCII.
                let token = std::str::from_utf8(token).map_err(|_| Error::MalformedToken)?;
                if !introspector.introspect(token)?.active {
                    return Err(HostError::Inactive.into());
                }
                let now = now();
                (unverified.accept_introspected(now)?, now)
            }
        };
        Ok(CheckedLaunch {
            forget_at: receiver.policy.forget_after(launch.expires_at()),
            launch,
            now,
            replay: Arc::clone(&receiver.replay),
        })
    }
}

impl Receiver {
    /// The signed launch inside an encrypted one, when `token` is encrypted (five segments)
    /// and this receiver has decryption keys; `None` for any other token.
    fn decrypt(&self, token: &[u8]) -> Result<Option<Vec<u8>>, LaunchError> {
        let dots = token.iter().filter(|byte| **byte == b'.').count();
        if dots != 4 || self.decrypters.is_empty() {
            return Ok(None);
        }
        let mut scratch = [0u8; 1024];
        let jwe =
            koppeltaal_core::Jwe::parse(token, self.policy.max_encrypted_len(), &mut scratch)?;
        let mut plaintext = vec![0u8; jwe.ciphertext_len().min(token.len())];
        let keys: Vec<&dyn koppeltaal_core::KeyUnwrapper> = self
            .decrypters
            .iter()
            .map(|key| key.as_ref() as &dyn koppeltaal_core::KeyUnwrapper)
            .collect();
        let signed = jwe.decrypt(&keys, &mut os_rng(), &mut plaintext)?;
        Ok(Some(signed.to_vec()))
    }
}

/// A launch that passed every check but has not been recorded against replay yet: it can
/// still be presented again. [`record`](Self::record) it to accept it; drop it to refuse it
/// without using it up.
#[must_use = "a checked launch is accepted only once it is recorded"]
pub struct CheckedLaunch {
    launch: HtiLaunch,
    forget_at: u64,
    now: u64,
    replay: Arc<dyn ReplayStore>,
}

impl CheckedLaunch {
    /// The launch, checked but not yet accepted.
    pub fn launch(&self) -> &HtiLaunch {
        &self.launch
    }

    /// Records the launch in the replay store and accepts it; `Replayed` when another
    /// presentation of it was recorded first.
    pub fn record(self) -> Result<HtiLaunch, LaunchError> {
        self.replay
            .check_and_record(self.launch.replay_key(), self.forget_at, self.now)?;
        Ok(self.launch)
    }
}

/// The single `token` field of a launch form.
pub fn form_token(body: &[u8]) -> Result<String, HostError> {
    if body.len() > MAX_FORM_BODY {
        return Err(HostError::BadForm("body too large"));
    }
    let mut tokens = form_urlencoded::parse(body).filter(|(name, _)| name == "token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) => Ok(token.into_owned()),
        (None, _) => Err(HostError::BadForm("no `token` field")),
        (Some(_), Some(_)) => Err(HostError::BadForm("more than one `token` field")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies() {
        assert_eq!(form_token(b"token=a.b.c").unwrap(), "a.b.c");
        assert_eq!(form_token(b"x=1&token=a%2Eb.c&y").unwrap(), "a.b.c");
        assert!(matches!(form_token(b"x=1"), Err(HostError::BadForm(_))));
        assert!(matches!(
            form_token(b"token=a&token=b"),
            Err(HostError::BadForm(_))
        ));
        assert!(matches!(
            form_token(&vec![b'a'; MAX_FORM_BODY + 1]),
            Err(HostError::BadForm(_))
        ));
        assert_eq!(form_token(b"token=").unwrap(), "");
        assert_eq!(form_token(b"token=%FF%FE").unwrap(), "\u{fffd}\u{fffd}");
    }
}
