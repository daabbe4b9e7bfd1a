//! What a command that failed reports: `error: <Name> (<code>): <message>`, exit status 1.

use koppeltaal_host::HostError;

/// A failure: printed as `error: <Name> (<code>): <message>`, exit status 1.
pub(crate) struct Failure {
    pub(crate) name: &'static str,
    pub(crate) code: u16,
    pub(crate) message: String,
}

impl From<HostError> for Failure {
    fn from(error: HostError) -> Self {
        Failure {
            name: error.name(),
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl From<koppeltaal_core::Error> for Failure {
    fn from(error: koppeltaal_core::Error) -> Self {
        HostError::Core(error).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        HostError::Io(error).into()
    }
}
