//! No panic across the boundary: every entry point runs its body in [`guarded`], which turns
//! a panic into [`KOPPELTAAL_PANIC`] and an error into its status code.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::{KOPPELTAAL_OK, KOPPELTAAL_PANIC};

/// Runs `body`, turning a panic into [`KOPPELTAAL_PANIC`] and an error into its code.
pub(crate) fn guarded(body: impl FnOnce() -> Result<(), i32>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => KOPPELTAAL_OK,
        Ok(Err(code)) => code,
        Err(_) => KOPPELTAAL_PANIC,
    }
}
