//! Status codes: the ABI's own (`KOPPELTAAL_OK`, 1000-1099, and the 800 it shares with the
//! core), an error's code as a status, and the static message and name of any status.

use std::ffi::{CStr, c_char};

use koppeltaal_host::HostError;

/// Success.
pub const KOPPELTAAL_OK: i32 = 0;
/// The output buffer is too small; the length it needs has been written.
pub const KOPPELTAAL_BUFFER_TOO_SMALL: i32 = 800;
/// A pointer argument that may not be NULL was NULL.
pub const KOPPELTAAL_NULL_ARGUMENT: i32 = 1000;
/// A string argument is not valid UTF-8.
pub const KOPPELTAAL_INVALID_UTF8: i32 = 1001;
/// An argument is out of range (for example an unknown algorithm name).
pub const KOPPELTAAL_INVALID_ARGUMENT: i32 = 1002;
/// An internal error was caught before it could cross the boundary (a bug: please report it).
pub const KOPPELTAAL_PANIC: i32 = 1003;
/// The call is not possible in the verifier's present state (for example switching the replay
/// store after launches were verified).
pub const KOPPELTAAL_INVALID_STATE: i32 = 1004;

pub(crate) fn status(error: impl Into<HostError>) -> i32 {
    i32::from(error.into().code())
}

/// A static, NUL-terminated description of `status` (never NULL; "unknown status" for a code
/// no function returns). Thread-safe; allocates nothing.
#[unsafe(no_mangle)]
pub extern "C" fn koppeltaal_status_message(status: i32) -> *const c_char {
    let message: &'static CStr = match status {
        KOPPELTAAL_OK => c"success",
        KOPPELTAAL_NULL_ARGUMENT => c"a pointer argument that may not be NULL was NULL",
        KOPPELTAAL_INVALID_UTF8 => c"a string argument is not valid UTF-8",
        KOPPELTAAL_INVALID_ARGUMENT => c"an argument is out of range",
        KOPPELTAAL_PANIC => c"internal error (a bug: please report it)",
        KOPPELTAAL_INVALID_STATE => c"not possible in the verifier's present state",
        _ => u16::try_from(status)
            .ok()
            .and_then(HostError::summary_c_of)
            .unwrap_or(c"unknown status"),
    };
    message.as_ptr()
}

/// A static, NUL-terminated name of `status`, stable across releases as the code is: the
/// error's variant name (`"Replayed"` for 600, `"ReplayStoreUnavailable"` for 913), or for the
/// ABI's own codes `"Ok"`, `"NullArgument"`, `"InvalidUtf8"`, `"InvalidArgument"`, `"Panic"`,
/// `"InvalidState"`. `"Unknown"` for a code no function returns (never NULL). Thread-safe;
/// allocates nothing.
#[unsafe(no_mangle)]
pub extern "C" fn koppeltaal_status_name(status: i32) -> *const c_char {
    let name: &'static CStr = match status {
        KOPPELTAAL_OK => c"Ok",
        KOPPELTAAL_NULL_ARGUMENT => c"NullArgument",
        KOPPELTAAL_INVALID_UTF8 => c"InvalidUtf8",
        KOPPELTAAL_INVALID_ARGUMENT => c"InvalidArgument",
        KOPPELTAAL_PANIC => c"Panic",
        KOPPELTAAL_INVALID_STATE => c"InvalidState",
        _ => u16::try_from(status)
            .ok()
            .and_then(HostError::name_c_of)
            .unwrap_or(c"Unknown"),
    };
    name.as_ptr()
}
