//! The 64-bit Arm kernel (AArch64, every core: `mul`, `umulh` and the carry flag are in the
//! base instruction set, so nothing is detected).
//!
//! Hand-written to take two limbs per iteration: one `ldp` of the operand, one `ldp` and one
//! `stp` of the accumulator, and one carry chain through `adds`/`adcs` across the pair, where
//! the compiler's code for the portable `u128` multiply-accumulate loads, stores and propagates
//! the carry one limb at a time: 7.5 instructions per limb in the loop. An RSA-2048 public
//! operation takes 255 k instructions here against 392 k on the portable kernel (QEMU,
//! BENCHMARKS.md). No timing on AArch64 hardware has been made (none was available).

use core::arch::asm;

use crate::AddMul;
use crate::limbs::Word;

/// The kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arm64;

impl AddMul for Arm64 {
    #[inline(always)]
    fn addmul_1(self, t: &mut [Word], a: &[Word], b: Word) -> Word {
        let len = a.len();
        assert!(
            t.len() >= len,
            "the accumulator is shorter than the operand"
        );
        let mut carry: Word = 0;
        // SAFETY: AArch64 always has these instructions. The code reads `a[..len]` and reads
        // and writes `t[..len]`, in bounds by the assertion above: each pointer starts at its
        // slice and advances 8 bytes per limb, `len / 2` pairs then `len % 2` single limbs.
        // The carry cannot overflow: the pair's `t + a·b + carry` is below 2^192, so its top
        // word fits 64 bits. It touches no stack and no other memory; every register it
        // changes is declared.
        unsafe {
            asm!(
                "cbz {pairs}, 3f",
                "2:",
                "ldp {a0}, {a1}, [{ap}], #16",
                "ldp {t0}, {t1}, [{tp}]",
                "mul {l0}, {a0}, {b}",
                "umulh {h0}, {a0}, {b}",
                "mul {l1}, {a1}, {b}",
                "umulh {h1}, {a1}, {b}",
                // (l0, l1, h1) = a0·b + a1·b·2^64 + carry
                "adds {l0}, {l0}, {carry}",
                "adcs {l1}, {l1}, {h0}",
                "adc {carry}, {h1}, xzr",
                // (t0, t1, carry) += (l0, l1)
                "adds {t0}, {t0}, {l0}",
                "adcs {t1}, {t1}, {l1}",
                "adc {carry}, {carry}, xzr",
                "stp {t0}, {t1}, [{tp}], #16",
                "subs {pairs}, {pairs}, #1",
                "b.ne 2b",
                "3:",
                "cbz {single}, 4f",
                "ldr {a0}, [{ap}]",
                "ldr {t0}, [{tp}]",
                "mul {l0}, {a0}, {b}",
                "umulh {h0}, {a0}, {b}",
                "adds {l0}, {l0}, {carry}",
                "adc {h0}, {h0}, xzr",
                "adds {t0}, {t0}, {l0}",
                "adc {carry}, {h0}, xzr",
                "str {t0}, [{tp}]",
                "4:",
                ap = inout(reg) a.as_ptr() => _,
                tp = inout(reg) t.as_mut_ptr() => _,
                b = in(reg) b,
                carry = inout(reg) carry,
                pairs = inout(reg) len / 2 => _,
                single = in(reg) len % 2,
                a0 = out(reg) _,
                a1 = out(reg) _,
                t0 = out(reg) _,
                t1 = out(reg) _,
                l0 = out(reg) _,
                l1 = out(reg) _,
                h0 = out(reg) _,
                h1 = out(reg) _,
                options(nostack),
            );
        }
        carry
    }
}
