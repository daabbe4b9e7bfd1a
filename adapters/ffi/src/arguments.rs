//! The arguments C hands in and the buffers it hands out: reading pointer and length pairs,
//! NUL-terminated strings and algorithm names, each checked for NULL first, and writing a
//! result into a caller's buffer.

use std::ffi::{CStr, c_char};

use koppeltaal_core::Algorithm;

use crate::status::{
    KOPPELTAAL_BUFFER_TOO_SMALL, KOPPELTAAL_INVALID_UTF8, KOPPELTAAL_NULL_ARGUMENT, status,
};

/// # Safety
/// `pointer` is NULL or points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(pointer: *const u8, len: usize) -> Result<&'a [u8], i32> {
    if pointer.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(KOPPELTAAL_NULL_ARGUMENT)
        };
    }
    // SAFETY: not NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(pointer, len) })
}

/// # Safety
/// `pointer` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn text<'a>(pointer: *const c_char) -> Result<&'a str, i32> {
    if pointer.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string.
    let c_str = unsafe { CStr::from_ptr(pointer) };
    c_str.to_str().map_err(|_| KOPPELTAAL_INVALID_UTF8)
}

/// A string argument that may be NULL (absent).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(pointer: *const c_char) -> Result<Option<&'a str>, i32> {
    if pointer.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { text(pointer) }.map(Some)
    }
}

/// Writes `data` to `out` (capacity `cap`) and its length to `*len`; too small a buffer is
/// [`KOPPELTAAL_BUFFER_TOO_SMALL`] with `*len` set to the length needed.
///
/// # Safety
/// `len` is NULL or writable; `out` is NULL or points to `cap` writable bytes.
pub(crate) unsafe fn write_out(
    out: *mut u8,
    cap: usize,
    len: *mut usize,
    data: &[u8],
) -> Result<(), i32> {
    if len.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL; the caller promises it is writable.
    unsafe { *len = data.len() };
    if data.len() > cap {
        return Err(KOPPELTAAL_BUFFER_TOO_SMALL);
    }
    if data.is_empty() {
        return Ok(());
    }
    if out.is_null() {
        return Err(KOPPELTAAL_NULL_ARGUMENT);
    }
    // SAFETY: not NULL, at least `cap >= data.len()` writable bytes, and `data` is ours, so the
    // regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), out, data.len()) };
    Ok(())
}

pub(crate) fn algorithm(name: &str) -> Result<Algorithm, i32> {
    Algorithm::from_jose(name).map_err(status)
}
