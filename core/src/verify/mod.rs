//! Verification, in the order the checks run: the compact form, the header, the claims and
//! the policy they are judged by, the key selected by `kid`, the launch (and access-token)
//! profile, and the replay guard that records an accepted launch last.

pub(crate) mod access_token;
pub(crate) mod claims;
pub(crate) mod compact;
pub(crate) mod header;
pub(crate) mod id_token;
pub(crate) mod key_selection;
pub(crate) mod launch;
pub(crate) mod policy;
pub(crate) mod replay_guard;
