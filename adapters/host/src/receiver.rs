//! The module side of an HTI launch: the form post comes in, a verified launch (or a
//! refusal a user can read) goes out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use koppeltaal_core::{Error, HtiLaunch, KeySet, Policy, Unverified};

use crate::clock::Clock;
use crate::error::HostError;
use crate::introspect::Introspector;
use crate::remote_keys::{HostKeySet, RemoteKeys};
use crate::replay_store::ReplayStore;

/// The largest launch form body read: a maximal token, percent-encoded, with room to spare.
pub const MAX_FORM_BODY: usize = 3 * 8192 + 1024;

/// Where a receiver gets an issuer's keys.
pub trait KeySource: Send + Sync {
    /// The keys of `issuer` that may include `kid` ([`Error::WrongIssuer`] for an issuer not
    /// trusted).
    fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<HostKeySet>, HostError>;
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
    pub fn with_jwks(mut self, issuer: &str, jwks: &[u8]) -> Result<StaticKeys, HostError> {
        self.issuers
            .insert(issuer.to_owned(), Arc::new(KeySet::from_jwks(jwks)?));
        Ok(self)
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
                Error::Expired
                | Error::NotYetValid
                | Error::IssuedInFuture
                | Error::LifetimeTooLong
                | Error::ExpiresBeforeIssued,
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
/// store shared by all of them.
pub struct LaunchReceiver {
    policy: Policy,
    check: Check,
    replay: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
}

impl LaunchReceiver {
    /// Verifies signatures itself, with keys from `keys`.
    pub fn with_keys(
        policy: Policy,
        keys: Arc<dyn KeySource>,
        replay: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
    ) -> LaunchReceiver {
        LaunchReceiver {
            policy,
            check: Check::Keys(keys),
            replay,
            clock,
        }
    }

    /// Lets the authorization server vouch for each token (RFC 7662), then checks the claims
    /// against the policy itself.
    pub fn with_introspection(
        policy: Policy,
        introspector: Arc<Introspector>,
        replay: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
    ) -> LaunchReceiver {
        LaunchReceiver {
            policy,
            check: Check::Introspection(introspector),
            replay,
            clock,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Receives an `application/x-www-form-urlencoded` launch body: exactly one `token` field
    /// (other fields are ignored).
    pub fn receive_form(&self, body: &[u8]) -> Result<HtiLaunch, LaunchError> {
        self.receive_token(&form_token(body)?)
    }

    /// Receives the launch token itself.
    pub fn receive_token(&self, token: &str) -> Result<HtiLaunch, LaunchError> {
        let now = self.clock.now();
        let mut scratch = vec![0u8; Unverified::scratch_len(self.policy.max_token_len())];
        let unverified = Unverified::parse(token.as_bytes(), &self.policy, &mut scratch)?;
        let launch = match &self.check {
            Check::Keys(source) => {
                let keys = source.keys_for(unverified.issuer()?, unverified.header().key_id())?;
                unverified.verify(keys.keys(), now)?
            }
            Check::Introspection(introspector) => {
                if !introspector.introspect(token)?.active {
                    return Err(HostError::Inactive.into());
                }
                unverified.accept_introspected(now)?
            }
        };
        self.replay.check_and_record(
            launch.replay_key(),
            self.policy.forget_after(launch.expires_at()),
            now,
        )?;
        Ok(launch)
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
