//! [`LaunchError`]: one refusal type for every launch flow (a launch token, an encrypted
//! launch, a SHOF launch), with what kind of refusal it is and a sentence for the user.

use std::fmt;

use koppeltaal_core::Error;

use crate::error::HostError;

/// A refused launch: the reason as data, a code to quote, and a sentence for the person who
/// clicked the link (HTI 2.0 asks for a human-understandable message with moderate technical
/// detail, and a logged code the message can refer to).
///
/// ```
/// use koppeltaal_host::{HostError, LaunchError, LaunchErrorKind};
/// let refusal = LaunchError::from(koppeltaal_host::core::Error::Replayed);
/// assert_eq!(refusal.kind(), LaunchErrorKind::Replayed);
/// assert_eq!((refusal.code(), refusal.name()), (600, "Replayed"));
/// assert!(matches!(refusal.reason(), HostError::Core(_)));
/// ```
#[derive(Debug)]
pub struct LaunchError {
    reason: HostError,
}

/// What a refusal means for the person launching, and so what a module tells them and how it
/// answers (a page in their language, a status code). Every [`LaunchError`] is one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LaunchErrorKind {
    /// The launch was accepted before: start again from the portal.
    Replayed,
    /// Expired, not yet valid, or no longer active at the authorization server.
    NotValidNow,
    /// Addressed to another module (audience).
    OtherModule,
    /// A fault on this side (keys, authorization server or replay store unreachable, too
    /// many launches at once): the same launch may pass in a moment; answer 503, not 4xx.
    Temporary,
    /// Too many launches that cost this side work (decryption, a SHOF exchange) came from
    /// one client: wait, then start again. A server answers 429.
    Throttled,
    /// A SHOF launch this browser did not begin, or that took too long: start again.
    StartAgain,
    /// Anything else the launch got wrong: it cannot be verified.
    NotVerified,
}

impl LaunchError {
    /// The kind of refusal: what to tell the user, and whether to answer 503.
    pub fn kind(&self) -> LaunchErrorKind {
        match &self.reason {
            HostError::Core(Error::Replayed) => LaunchErrorKind::Replayed,
            HostError::Core(
                Error::Expired { .. }
                | Error::NotYetValid { .. }
                | Error::IssuedInFuture { .. }
                | Error::LifetimeTooLong { .. }
                | Error::ExpiresBeforeIssued
                | Error::ReplayWindowClosed { .. },
            )
            | HostError::Inactive => LaunchErrorKind::NotValidNow,
            HostError::Core(Error::WrongAudience) => LaunchErrorKind::OtherModule,
            HostError::UnknownState => LaunchErrorKind::StartAgain,
            HostError::Throttled => LaunchErrorKind::Throttled,
            HostError::Unreachable(_)
            | HostError::Timeout
            | HostError::Status { .. }
            | HostError::InvalidResponse(_)
            | HostError::TooManyRedirects
            | HostError::ResponseTooLarge { .. }
            | HostError::ReplayStoreUnavailable(_)
            | HostError::TooManyPendingLaunches
            | HostError::OutboxFull
            | HostError::Core(Error::ReplayStoreFull) => LaunchErrorKind::Temporary,
            _ => LaunchErrorKind::NotVerified,
        }
    }

    /// The code to log and to show beside [`user_message`](Self::user_message).
    pub fn code(&self) -> u16 {
        self.reason.code()
    }

    /// The error's name, for logs.
    pub fn name(&self) -> &'static str {
        self.reason.name()
    }

    /// Why the launch was refused, in full.
    pub fn reason(&self) -> &HostError {
        &self.reason
    }

    /// Why the launch was refused, owned.
    pub fn into_reason(self) -> HostError {
        self.reason
    }

    /// Whether the fault is on this side ([`LaunchErrorKind::Temporary`]): the launch may
    /// succeed if retried, and a server should answer 503 rather than 4xx.
    pub fn is_temporary(&self) -> bool {
        self.kind() == LaunchErrorKind::Temporary
    }

    /// One short English sentence for the user, without technical detail.
    pub fn user_message(&self) -> &'static str {
        match self.kind() {
            LaunchErrorKind::Replayed => {
                "This launch link has already been used. Please start the module again from your portal."
            }
            LaunchErrorKind::NotValidNow => {
                "This launch link is not valid at this time. Please start the module again from your portal."
            }
            LaunchErrorKind::OtherModule => "This launch was meant for a different module.",
            LaunchErrorKind::Temporary => {
                "The launch could not be checked just now. Please try again in a moment."
            }
            LaunchErrorKind::Throttled => {
                "Too many launches came from your connection just now. Please wait a minute and start the module again."
            }
            LaunchErrorKind::StartAgain => {
                "This launch could not be completed in this browser, or took too long. Please start the module again from your portal."
            }
            LaunchErrorKind::NotVerified => {
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
            self.reason.name(),
            self.reason.code(),
            self.reason
        )
    }
}

impl std::error::Error for LaunchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

impl<E: Into<HostError>> From<E> for LaunchError {
    fn from(error: E) -> Self {
        LaunchError {
            reason: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason's kind, against what `is_temporary` and the user messages said before
    /// kinds existed (Throttled and UnknownState had the generic message then; the gateway
    /// showed these sentences).
    #[test]
    fn every_reason_has_the_kind_its_answer_needs() {
        use LaunchErrorKind::*;
        let cases: Vec<(HostError, LaunchErrorKind)> = vec![
            (Error::Replayed.into(), Replayed),
            (Error::Expired { exp: 1, now: 2 }.into(), NotValidNow),
            (Error::NotYetValid { nbf: 2, now: 1 }.into(), NotValidNow),
            (Error::IssuedInFuture { iat: 2, now: 1 }.into(), NotValidNow),
            (Error::ExpiresBeforeIssued.into(), NotValidNow),
            (HostError::Inactive, NotValidNow),
            (Error::WrongAudience.into(), OtherModule),
            (HostError::Unreachable("x".into()), Temporary),
            (HostError::Timeout, Temporary),
            (
                HostError::Status {
                    status: 500,
                    body: String::new(),
                },
                Temporary,
            ),
            (HostError::InvalidResponse("x".into()), Temporary),
            (HostError::TooManyRedirects, Temporary),
            (HostError::ResponseTooLarge { limit: 1 }, Temporary),
            (HostError::ReplayStoreUnavailable("x".into()), Temporary),
            (HostError::TooManyPendingLaunches, Temporary),
            (HostError::OutboxFull, Temporary),
            (Error::ReplayStoreFull.into(), Temporary),
            (HostError::Throttled, Throttled),
            (HostError::UnknownState, StartAgain),
            (Error::BadSignature.into(), NotVerified),
            (Error::WrongIssuer.into(), NotVerified),
            (Error::MalformedToken.into(), NotVerified),
            (HostError::BadForm("x"), NotVerified),
            (HostError::InsecureUrl("x".into()), NotVerified),
        ];
        for (reason, kind) in cases {
            let error = LaunchError::from(reason);
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(error.is_temporary(), kind == Temporary, "{error}");
            assert!(!error.user_message().is_empty());
        }
    }
}
