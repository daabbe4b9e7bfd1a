//! The 32-bit Arm kernel for cores with `UMAAL` (Cortex-M4, M7, M33 with the DSP extension;
//! Armv6 and later A-profile cores), selected at compile time by the `umaal` feature.
//!
//! Hand-written because the compiler, although it does use `UMAAL` for the portable kernel's
//! multiply-accumulate, spends six or seven instructions per limb around it (a load and store
//! per word, index arithmetic, a compare per limb). This loop moves two limbs of each operand
//! with one `LDM` and stores two with one `STM`: three and a half instructions per limb
//! (instruction counts in BENCHMARKS.md, measured in QEMU).

use core::arch::asm;

use crate::AddMul;
use crate::limbs::Word;

/// The kernel; the `umaal` feature asserts the target has the instruction (the assembler
/// refuses it for a core without).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArmUmaal;

impl AddMul for ArmUmaal {
    #[inline(always)]
    fn addmul_1(self, t: &mut [Word], a: &[Word], b: Word) -> Word {
        let len = a.len();
        assert!(
            t.len() >= len,
            "the accumulator is shorter than the operand"
        );
        let mut carry: Word = 0;
        // SAFETY: the code reads `a[..len]` and reads and writes `t[..len]`, in bounds by the
        // assertion above: each pointer starts at its slice and advances 4 bytes per limb,
        // `len / 2` pairs then `len % 2` single limbs. UMAAL computes t + carry + a·b, which
        // cannot overflow 64 bits. It touches no stack and no other memory; every register it
        // changes is declared (r4, r5, r8, r10 explicitly: LDM/STM need ascending lists).
        unsafe {
            asm!(
                "cmp {pairs}, #0",
                "beq 3f",
                "2:",
                "ldm {ap}!, {{r4, r5}}",
                "ldm {tp}, {{r8, r10}}",
                "umaal r8, {carry}, r4, {b}",
                "umaal r10, {carry}, r5, {b}",
                "stm {tp}!, {{r8, r10}}",
                "subs {pairs}, {pairs}, #1",
                "bne 2b",
                "3:",
                "cmp {single}, #0",
                "beq 4f",
                "ldr r4, [{ap}]",
                "ldr r8, [{tp}]",
                "umaal r8, {carry}, r4, {b}",
                "str r8, [{tp}]",
                "4:",
                ap = inout(reg) a.as_ptr() => _,
                tp = inout(reg) t.as_mut_ptr() => _,
                b = in(reg) b,
                carry = inout(reg) carry,
                pairs = inout(reg) len / 2 => _,
                single = in(reg) len % 2,
                out("r4") _,
                out("r5") _,
                out("r8") _,
                out("r10") _,
                options(nostack),
            );
        }
        carry
    }
}
