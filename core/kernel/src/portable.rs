//! The portable kernel: safe Rust, double-width products through `Wide`. The fallback on
//! every CPU and the reference every other kernel is tested against.

use crate::AddMul;
use crate::limbs::{Word, mac};

/// The kernel in safe Rust.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl AddMul for Portable {
    #[inline(always)]
    fn addmul_1(self, t: &mut [Word], a: &[Word], b: Word) -> Word {
        let mut carry = 0;
        for (limb, &a_j) in t.iter_mut().zip(a) {
            (*limb, carry) = mac(*limb, a_j, b, carry);
        }
        carry
    }
}
