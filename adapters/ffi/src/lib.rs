//! The C ABI of koppeltaal-rs.
//!
//! Opaque handles, pointer and length pairs, a status code from every function (the core's
//! and the host's stable error codes, plus the ABI's own 1000-1099), static messages for the
//! codes, and no panic across the boundary: every entry point catches one and returns
//! [`KOPPELTAAL_PANIC`]. The header `include/koppeltaal.h` is generated from this crate by
//! cbindgen (starting at this file, following the `mod` lines); a test fails when it is stale.
//!
//! This is the one crate of the project with `unsafe` code: dereferencing the pointers C hands
//! in. Each such place checks for NULL first and says what it relies on.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

// One module per concept. The order of these lines is the header's: cbindgen writes the
// constants and the functions of one module after the other, so the ABI's own codes come before
// the generated ones, and the verifier's functions before the status functions before the
// producer's. (The comments keep rustfmt from sorting the lines.)
//
// No panic across the boundary.
mod panic;
// Reading what C hands in, writing into the buffers it hands out.
mod arguments;
// The launch verifier handle and its functions.
mod verifier;
// The ABI's own status codes, an error as a status, the message and name of any status.
mod status;
// The core's and the host's status codes as constants (generated).
mod codes;
// Keys, JWKS documents, client assertions, launch tokens and encrypted launches.
mod producer;

pub use codes::*;
pub use producer::*;
pub use status::*;
pub use verifier::*;
