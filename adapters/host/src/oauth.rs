//! The authorization server: access tokens by SMART Backend Services `client_credentials`
//! ([`TokenClient`]), RFC 7662 introspection ([`Introspector`]), and the SMART configuration
//! that names its endpoints ([`SmartConfiguration`]).

mod discovery;
mod introspect;
mod token;

pub use discovery::SmartConfiguration;
pub use introspect::{Introspection, IntrospectionAuth, Introspector};
pub(crate) use token::error_response;
pub use token::{AccessToken, JWT_BEARER, TokenClient, TokenClientBuilder};
