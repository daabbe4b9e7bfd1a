//! The x86-64 kernel for CPUs with BMI2 (`mulx`) and ADX (`adcx`, `adox`): Intel since
//! Broadwell, AMD since Zen.
//!
//! Hand-written because no compiler emits this from portable code: `mulx` multiplies without
//! touching the flags, so one `adcx` chain (carry flag) adds the products' low words into the
//! accumulator while an independent `adox` chain (overflow flag) adds the high words of the
//! previous limb. Two carry chains of latency one run side by side: about 4 instructions per
//! limb where the portable kernel's `u128` code takes about 9 (measured in BENCHMARKS.md).

use core::arch::asm;

use crate::AddMul;
use crate::limbs::Word;

/// Proof that this CPU has BMI2 and ADX: only [`X86Adx::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X86Adx(());

impl X86Adx {
    /// The kernel, if this CPU can run it: detected at run time with `std`, else known at
    /// compile time from the target features.
    pub(crate) fn detect() -> Option<X86Adx> {
        // Miri runs no assembly: the portable kernel is what it checks.
        if cfg!(miri) {
            return None;
        }
        #[cfg(feature = "std")]
        let present = std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("adx");
        #[cfg(not(feature = "std"))]
        let present = cfg!(all(target_feature = "bmi2", target_feature = "adx"));
        present.then_some(X86Adx(()))
    }
}

impl AddMul for X86Adx {
    #[inline(always)]
    fn addmul_1(self, t: &mut [Word], a: &[Word], b: Word) -> Word {
        let len = a.len();
        assert!(
            t.len() >= len,
            "the accumulator is shorter than the operand"
        );
        let carry: Word;
        // SAFETY: `self` exists only if the CPU has BMI2 and ADX (`detect`), so every
        // instruction is implemented. The code reads `a[..len]` and reads and writes
        // `t[..len]`, which the assertion above keeps in bounds: it starts at each slice's
        // pointer and advances 8 bytes per limb, `len % 4` single limbs then `len / 4`
        // blocks of four. It touches no stack (nostack) and no memory but these; every
        // register it changes is declared as an output.
        unsafe {
            asm!(
                // hi = 0, and clear CF and OF: the two carry chains start empty.
                "xor {hi:e}, {hi:e}",
                // Single limbs first (rcx = len % 4), then blocks of four (rcx = len / 4).
                // The loop counters move with lea and are tested with jrcxz: neither touches
                // the flags, which carry the two chains across iterations.
                "jrcxz 3f",
                "2:",
                "mulx {t1}, {lo}, qword ptr [{ap}]",
                "adcx {lo}, qword ptr [{tp}]",
                "adox {lo}, {hi}",
                "mov qword ptr [{tp}], {lo}",
                "mov {hi}, {t1}",
                "lea {ap}, [{ap} + 8]",
                "lea {tp}, [{tp} + 8]",
                "lea rcx, [rcx - 1]",
                "jrcxz 3f",
                "jmp 2b",
                "3:",
                "mov rcx, {blocks}",
                "jrcxz 5f",
                "4:",
                "mulx {t1}, {lo}, qword ptr [{ap}]",
                "adcx {lo}, qword ptr [{tp}]",
                "adox {lo}, {hi}",
                "mov qword ptr [{tp}], {lo}",
                "mulx {hi}, {lo}, qword ptr [{ap} + 8]",
                "adcx {lo}, qword ptr [{tp} + 8]",
                "adox {lo}, {t1}",
                "mov qword ptr [{tp} + 8], {lo}",
                "mulx {t1}, {lo}, qword ptr [{ap} + 16]",
                "adcx {lo}, qword ptr [{tp} + 16]",
                "adox {lo}, {hi}",
                "mov qword ptr [{tp} + 16], {lo}",
                "mulx {hi}, {lo}, qword ptr [{ap} + 24]",
                "adcx {lo}, qword ptr [{tp} + 24]",
                "adox {lo}, {t1}",
                "mov qword ptr [{tp} + 24], {lo}",
                "lea {ap}, [{ap} + 32]",
                "lea {tp}, [{tp} + 32]",
                "lea rcx, [rcx - 1]",
                "jrcxz 5f",
                "jmp 4b",
                "5:",
                // The carry out: the last high word plus both pending carries. It cannot
                // overflow: t + a·b < 2^(64·(len+1)).
                "mov {lo}, 0",
                "adcx {hi}, {lo}",
                "adox {hi}, {lo}",
                ap = inout(reg) a.as_ptr() => _,
                tp = inout(reg) t.as_mut_ptr() => _,
                blocks = in(reg) len / 4,
                lo = out(reg) _,
                t1 = out(reg) _,
                hi = out(reg) carry,
                in("rdx") b,
                inout("rcx") len % 4 => _,
                options(nostack),
            );
        }
        carry
    }
}
