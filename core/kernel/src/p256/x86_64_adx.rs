//! P-256 field multiplication for x86-64 CPUs with BMI2 (`mulx`) and ADX (`adcx`, `adox`).
//!
//! Hand-written because it is what makes ES256 verification fast (BENCHMARKS.md): the
//! compiler's `u128` code for the same Montgomery product takes about 2,400 instructions per
//! point doubling, mostly moves between registers and the stack. Here the whole product stays
//! in twelve registers: four rounds of one row `a·b_i` (two carry chains, `adcx` for the low
//! words and `adox` for the high words) and one reduction step. The reduction needs no
//! multiplication, because `-p⁻¹ mod 2^64 = 1` (so `m` is the accumulator's low limb) and
//! `m·p = m·2^256 - m·2^224 + m·2^192 + m·2^96 - m` is made of shifts of `m`: the low limb
//! cancels, `m·2^96` adds at limbs 1 and 2, and `m·(2^64 - 2^32 + 1)` at limbs 3 and 4.

use core::arch::asm;

/// `a·b·R⁻¹ mod p` (`R = 2^256`) for `a, b < p`, fully reduced.
///
/// # Safety
///
/// The CPU must implement BMI2 and ADX.
#[inline(always)]
pub(crate) unsafe fn mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let (r0, r1, r2, r3): (u64, u64, u64, u64);
    // SAFETY: the caller guarantees BMI2 and ADX. The code reads the 32 bytes behind each
    // reference and nothing else; it touches no stack (nostack) and every register it changes
    // is an output or declared clobbered (`a`'s register holds a constant at the end).
    unsafe {
        asm!(
            // Round 0: t0..t4 = a·b0; then add m·p for m = t0 (t5 takes the carry).
            "mov rdx, qword ptr [{b}]",
            "mulx {t1}, {t0}, qword ptr [{a}]",
            "mulx {t2}, {lo}, qword ptr [{a} + 8]",
            "add {t1}, {lo}",
            "mulx {t3}, {lo}, qword ptr [{a} + 16]",
            "adc {t2}, {lo}",
            "mulx {t4}, {lo}, qword ptr [{a} + 24]",
            "adc {t3}, {lo}",
            "adc {t4}, 0",
            "mov {t5:e}, 0",
            // lo = m << 32, hi = m >> 32: m·2^96. s, t0 = m·(2^64 - 2^32 + 1).
            "mov {lo}, {t0}",
            "shl {lo}, 32",
            "mov {hi}, {t0}",
            "shr {hi}, 32",
            "mov {s}, {t0}",
            "sub {s}, {lo}",
            "sbb {t0}, {hi}",
            "add {t1}, {lo}",
            "adc {t2}, {hi}",
            "adc {t3}, {s}",
            "adc {t4}, {t0}",
            "adc {t5}, 0",
            // Round 1: the accumulator (rotated one register) += a·b1, then reduce.
            "mov rdx, qword ptr [{b} + 8]",
            "xor {lo:e}, {lo:e}",
            "mulx {hi}, {lo}, qword ptr [{a}]",
            "adcx {t1}, {lo}",
            "adox {t2}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 8]",
            "adcx {t2}, {lo}",
            "adox {t3}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 16]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 24]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "mov {lo:e}, 0",
            "mov {t0:e}, 0",
            "adcx {t5}, {lo}",
            "adox {t0}, {lo}",
            "adcx {t0}, {lo}",
            "mov {lo}, {t1}",
            "shl {lo}, 32",
            "mov {hi}, {t1}",
            "shr {hi}, 32",
            "mov {s}, {t1}",
            "sub {s}, {lo}",
            "sbb {t1}, {hi}",
            "add {t2}, {lo}",
            "adc {t3}, {hi}",
            "adc {t4}, {s}",
            "adc {t5}, {t1}",
            "adc {t0}, 0",
            // Round 2: the accumulator (rotated one register) += a·b2, then reduce.
            "mov rdx, qword ptr [{b} + 16]",
            "xor {lo:e}, {lo:e}",
            "mulx {hi}, {lo}, qword ptr [{a}]",
            "adcx {t2}, {lo}",
            "adox {t3}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 8]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 16]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 24]",
            "adcx {t5}, {lo}",
            "adox {t0}, {hi}",
            "mov {lo:e}, 0",
            "mov {t1:e}, 0",
            "adcx {t0}, {lo}",
            "adox {t1}, {lo}",
            "adcx {t1}, {lo}",
            "mov {lo}, {t2}",
            "shl {lo}, 32",
            "mov {hi}, {t2}",
            "shr {hi}, 32",
            "mov {s}, {t2}",
            "sub {s}, {lo}",
            "sbb {t2}, {hi}",
            "add {t3}, {lo}",
            "adc {t4}, {hi}",
            "adc {t5}, {s}",
            "adc {t0}, {t2}",
            "adc {t1}, 0",
            // Round 3: the accumulator (rotated one register) += a·b3, then reduce.
            "mov rdx, qword ptr [{b} + 24]",
            "xor {lo:e}, {lo:e}",
            "mulx {hi}, {lo}, qword ptr [{a}]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 8]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 16]",
            "adcx {t5}, {lo}",
            "adox {t0}, {hi}",
            "mulx {hi}, {lo}, qword ptr [{a} + 24]",
            "adcx {t0}, {lo}",
            "adox {t1}, {hi}",
            "mov {lo:e}, 0",
            "mov {t2:e}, 0",
            "adcx {t1}, {lo}",
            "adox {t2}, {lo}",
            "adcx {t2}, {lo}",
            "mov {lo}, {t3}",
            "shl {lo}, 32",
            "mov {hi}, {t3}",
            "shr {hi}, 32",
            "mov {s}, {t3}",
            "sub {s}, {lo}",
            "sbb {t3}, {hi}",
            "add {t4}, {lo}",
            "adc {t5}, {hi}",
            "adc {t0}, {s}",
            "adc {t1}, {t3}",
            "adc {t2}, 0",
            // The accumulator r0..r3 + r4·2^256 is below 2p: subtract p once (p0 = 2^64 - 1,
            // p1 = 2^32 - 1, p2 = 0, p3 = 2^64 - 2^32 + 1) and keep the difference unless it
            // borrowed.
            "mov {lo}, {t4}",
            "mov {hi}, {t5}",
            "mov {s}, {t0}",
            "mov {t3}, {t1}",
            "mov edx, 0xffffffff",
            "mov {a}, 0xffffffff00000001",
            "sub {lo}, -1",
            "sbb {hi}, rdx",
            "sbb {s}, 0",
            "sbb {t3}, {a}",
            "sbb {t2}, 0",
            "cmovnc {t4}, {lo}",
            "cmovnc {t5}, {hi}",
            "cmovnc {t0}, {s}",
            "cmovnc {t1}, {t3}",
            a = inout(reg) a.as_ptr() => _,
            b = in(reg) b.as_ptr(),
            t0 = out(reg) r2,
            t1 = out(reg) r3,
            t2 = out(reg) _,
            t3 = out(reg) _,
            t4 = out(reg) r0,
            t5 = out(reg) r1,
            lo = out(reg) _,
            hi = out(reg) _,
            s = out(reg) _,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a²·R⁻¹ mod p` for `a < p`, fully reduced: the six cross products once, doubled, plus the
/// four squares (10 `mulx` where `mul` takes 16), then the same reduction steps.
///
/// # Safety
///
/// The CPU must implement BMI2 and ADX.
#[inline(always)]
pub(crate) unsafe fn square(a: &[u64; 4]) -> [u64; 4] {
    let (r0, r1, r2, r3): (u64, u64, u64, u64);
    // SAFETY: as for `mul`: the caller guarantees BMI2 and ADX; the code reads the 32 bytes
    // behind `a` and nothing else, touches no stack, and declares every register it changes.
    unsafe {
        asm!(
            // Cross products a_i·a_j (i < j) into t1..t6.
            "mov rdx, qword ptr [{a}]",
            "mulx {t2}, {t1}, qword ptr [{a} + 8]",
            "mulx {t3}, {lo}, qword ptr [{a} + 16]",
            "add {t2}, {lo}",
            "mulx {t4}, {lo}, qword ptr [{a} + 24]",
            "adc {t3}, {lo}",
            "adc {t4}, 0",
            "mov rdx, qword ptr [{a} + 8]",
            "mulx {hi}, {lo}, qword ptr [{a} + 16]",
            "mulx {t5}, {s}, qword ptr [{a} + 24]",
            "add {t3}, {lo}",
            "adc {t4}, {hi}",
            "adc {t5}, 0",
            "add {t4}, {s}",
            "adc {t5}, 0",
            "mov rdx, qword ptr [{a} + 16]",
            "mulx {t6}, {lo}, qword ptr [{a} + 24]",
            "add {t5}, {lo}",
            "adc {t6}, 0",
            // Double them (t7 takes the bit shifted out), then add the squares a_i² at 2i, 2i+1.
            "xor {t7:e}, {t7:e}",
            "add {t1}, {t1}",
            "adc {t2}, {t2}",
            "adc {t3}, {t3}",
            "adc {t4}, {t4}",
            "adc {t5}, {t5}",
            "adc {t6}, {t6}",
            "adc {t7}, {t7}",
            "mov rdx, qword ptr [{a}]",
            "mulx {hi}, {t0}, rdx",
            "add {t1}, {hi}",
            "mov rdx, qword ptr [{a} + 8]",
            "mulx {hi}, {lo}, rdx",
            "adc {t2}, {lo}",
            "adc {t3}, {hi}",
            "mov rdx, qword ptr [{a} + 16]",
            "mulx {hi}, {lo}, rdx",
            "adc {t4}, {lo}",
            "adc {t5}, {hi}",
            "mov rdx, qword ptr [{a} + 24]",
            "mulx {hi}, {lo}, rdx",
            "adc {t6}, {lo}",
            "adc {t7}, {hi}",
            // Four reduction steps on the low half (as in `mul`): each leaves four limbs, rotated.
            "mov {lo}, {t0}",
            "shl {lo}, 32",
            "mov {hi}, {t0}",
            "shr {hi}, 32",
            "mov {s}, {t0}",
            "sub {s}, {lo}",
            "sbb {t0}, {hi}",
            "add {t1}, {lo}",
            "adc {t2}, {hi}",
            "adc {t3}, {s}",
            "adc {t0}, 0",
            "mov {lo}, {t1}",
            "shl {lo}, 32",
            "mov {hi}, {t1}",
            "shr {hi}, 32",
            "mov {s}, {t1}",
            "sub {s}, {lo}",
            "sbb {t1}, {hi}",
            "add {t2}, {lo}",
            "adc {t3}, {hi}",
            "adc {t0}, {s}",
            "adc {t1}, 0",
            "mov {lo}, {t2}",
            "shl {lo}, 32",
            "mov {hi}, {t2}",
            "shr {hi}, 32",
            "mov {s}, {t2}",
            "sub {s}, {lo}",
            "sbb {t2}, {hi}",
            "add {t3}, {lo}",
            "adc {t0}, {hi}",
            "adc {t1}, {s}",
            "adc {t2}, 0",
            "mov {lo}, {t3}",
            "shl {lo}, 32",
            "mov {hi}, {t3}",
            "shr {hi}, 32",
            "mov {s}, {t3}",
            "sub {s}, {lo}",
            "sbb {t3}, {hi}",
            "add {t0}, {lo}",
            "adc {t1}, {hi}",
            "adc {t2}, {s}",
            "adc {t3}, 0",
            // Add the high half; lo takes the carry. The sum is below 2p.
            "mov {lo:e}, 0",
            "add {t0}, {t4}",
            "adc {t1}, {t5}",
            "adc {t2}, {t6}",
            "adc {t3}, {t7}",
            "adc {lo}, 0",
            // Subtract p once unless that borrows (p as in `mul`).
            "mov {t4}, {t0}",
            "mov {t5}, {t1}",
            "mov {t6}, {t2}",
            "mov {t7}, {t3}",
            "mov edx, 0xffffffff",
            "mov {hi}, 0xffffffff00000001",
            "sub {t4}, -1",
            "sbb {t5}, rdx",
            "sbb {t6}, 0",
            "sbb {t7}, {hi}",
            "sbb {lo}, 0",
            "cmovnc {t0}, {t4}",
            "cmovnc {t1}, {t5}",
            "cmovnc {t2}, {t6}",
            "cmovnc {t3}, {t7}",
            a = in(reg) a.as_ptr(),
            t0 = out(reg) r0,
            t1 = out(reg) r1,
            t2 = out(reg) r2,
            t3 = out(reg) r3,
            t4 = out(reg) _,
            t5 = out(reg) _,
            t6 = out(reg) _,
            t7 = out(reg) _,
            lo = out(reg) _,
            hi = out(reg) _,
            s = out(reg) _,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

#[cfg(test)]
mod tests {
    use crate::p256::FieldPrime;
    use crate::p256::mont4::{Params, Residue, sub4};
    use crate::x86_64_adx::X86Adx;

    #[test]
    fn agrees_with_the_portable_multiplication_and_squaring() {
        if X86Adx::detect().is_none() {
            std::eprintln!("SKIPPED: this CPU has no BMI2/ADX; the portable code is all that runs");
            return;
        }
        let p = [
            FieldPrime::M[0],
            FieldPrime::M[1],
            FieldPrime::M[2],
            FieldPrime::M[3],
        ];
        let minus = |k: u64| sub4(&p, &[k, 0, 0, 0]).0;
        let mut values = std::vec![
            [0, 0, 0, 0],
            [1, 0, 0, 0],
            [2, 0, 0, 0],
            minus(1),
            minus(2),
            [u64::MAX, 0, 0, 0],
            [0, u64::MAX, u64::MAX, 0],
            [u64::MAX, u64::MAX, u64::MAX, 0xffff_fffe_ffff_ffff],
            [0, 0, 0, 1 << 63],
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        while values.len() < 400 {
            let value: [u64; 4] = core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            });
            if crate::p256::mont4::less_than(&value, &p) {
                values.push(value);
            }
        }
        for a in &values {
            for b in values.iter().step_by(7) {
                let portable = Residue::<FieldPrime>::from_montgomery_limbs(*a)
                    .mul(&Residue::from_montgomery_limbs(*b))
                    .montgomery_limbs();
                // SAFETY: detected above.
                let adx = unsafe { super::mul(a, b) };
                assert_eq!(adx, portable, "{a:x?} · {b:x?}");
            }
            let portable = Residue::<FieldPrime>::from_montgomery_limbs(*a)
                .square()
                .montgomery_limbs();
            // SAFETY: detected above.
            let adx = unsafe { super::square(a) };
            assert_eq!(adx, portable, "{a:x?}²");
        }
    }
}
