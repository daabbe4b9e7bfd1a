//! The big-number kernel of koppeltaal-rs: fixed-size, variable-time Montgomery arithmetic for
//! RSA public-key operations (signature verification, RSA-OAEP key wrapping) and ECDSA P-256
//! verification ([`p256`], 64-bit targets), with a portable kernel in safe Rust and, where the
//! CPU has them, faster ones (x86-64 BMI2/ADX and AVX-512 IFMA, AArch64, 32-bit Arm `UMAAL`).
//!
//! Every input here is public (modulus, exponent, signature), so variable time is fine; do
//! not use this crate with secrets.
//!
//! This is the only crate of the project allowed `unsafe` code, and only for the assembly:
//! each `unsafe` block says why it is sound. Its API is safe: a kernel that needs CPU
//! features can only be used once they have been found (at run time with the `std` feature,
//! else from the compile-time `target_feature`s).
//!
//! ```
//! use koppeltaal_kernel::{Kernel, Modulus, Word};
//! // 3^5 mod 1_000_003 with one-limb numbers (any size works; RSA uses 32 to 64 limbs).
//! let n: [Word; 1] = [1_000_003];
//! let modulus = Modulus::new(&n).expect("an odd modulus");
//! let (mut x, mut r2, mut wide) = ([3], [0], [0; 2]);
//! modulus.r_squared(&mut r2, &mut wide);
//! modulus.pow_assign(&mut x, 5, &mut r2, &mut wide);
//! assert_eq!(x, [243]);
//! assert!(Kernel::available().any(|kernel| kernel == Kernel::Portable));
//! ```

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(all(target_arch = "aarch64", not(miri)))]
mod aarch64;
#[cfg(all(target_arch = "arm", feature = "umaal"))]
mod arm_umaal;
mod limbs;
mod montgomery;
#[cfg(target_pointer_width = "64")]
pub mod p256;
// Unused by a UMAAL device build, which compiles that kernel alone.
#[cfg_attr(
    all(target_arch = "arm", feature = "umaal", not(feature = "std")),
    allow(dead_code)
)]
mod portable;
mod select;
#[cfg(target_arch = "x86_64")]
mod x86_64_adx;
#[cfg(target_arch = "x86_64")]
mod x86_64_ifma;

pub use limbs::{MAX_WORDS, WORD_BITS, WORD_BYTES, Wide, Word, from_be_bytes, ge, to_be_bytes};
pub use montgomery::Modulus;
#[cfg(feature = "std")]
pub use select::with_kernel;
pub use select::{Kernel, Unavailable};

/// The one primitive a kernel provides: `t[..a.len()] += a·b`, returning the word carried
/// out. Everything else (multiplication, squaring, reduction) is built on it, identically
/// for every kernel.
pub(crate) trait AddMul: Copy {
    /// `t[..a.len()] += a·b`; returns the carry out of the top word. `t` is at least as
    /// long as `a`.
    fn addmul_1(self, t: &mut [Word], a: &[Word], b: Word) -> Word;
}
