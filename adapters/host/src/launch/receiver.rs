//! The module side of an HTI launch: the form post comes in, a verified launch (or a
//! refusal a user can read) goes out.

use std::sync::Arc;

use koppeltaal_core::{Error, HtiLaunch, Policy, Unverified};

use super::{LaunchError, form_token};

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::jwe::SharedDecrypter;
use crate::keys::KeySource;
#[cfg(doc)]
use crate::keys::{RemoteKeys, StaticKeys};
use crate::oauth::Introspector;
use crate::random::os_rng;
use crate::replay::{MemoryReplayStore, ReplayStore};

enum Check {
    Keys(Arc<dyn KeySource>),
    Introspection(Introspector),
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
    pub fn introspection(mut self, introspector: Introspector) -> Self {
        self.check = Some(Check::Introspection(introspector));
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
