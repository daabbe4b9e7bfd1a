//! Encodings: canonical base64url, strict JSON reading, JSON and base64url writing.

pub(crate) mod base64url;
pub(crate) mod json;
pub(crate) mod json_writer;
mod scan;
