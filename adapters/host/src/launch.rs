//! The module side of an HTI launch: the form post comes in, a verified launch (or a
//! [`LaunchError`] a user can read) goes out.

mod error;
mod form;
mod json;
mod receiver;

pub use error::{LaunchError, LaunchErrorKind};
pub use form::{MAX_FORM_BODY, form_token};
pub use json::launch_json;
pub use receiver::{CheckedLaunch, LaunchReceiver, LaunchReceiverBuilder};
