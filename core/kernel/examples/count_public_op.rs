//! Runs `COUNT` RSA-2048 public operations (`x^65537 mod n`, as a verification does; `R² mod n` is computed once, before them) on the
//! kernel named by the first argument, for counting instructions under an emulator: run it
//! with `COUNT` = 0 and 10 and divide the difference by 10 (BENCHMARKS.md, "AArch64").
//!
//! ```text
//! cargo build --release -p koppeltaal-kernel --example count_public_op --target aarch64-unknown-linux-gnu
//! qemu-aarch64 -L /usr/aarch64-linux-gnu -one-insn-per-tb -d nochain,exec -D trace.log \
//!     target/aarch64-unknown-linux-gnu/release/examples/count_public_op arm64 10
//! grep -c Trace trace.log
//! ```

use koppeltaal_kernel::{Kernel, Modulus, WORD_BITS, Word, with_kernel};

const LIMBS: usize = 2048 / WORD_BITS;

fn main() {
    let mut arguments = std::env::args().skip(1);
    let name = arguments.next().unwrap_or_else(|| "portable".into());
    let count: usize = arguments
        .next()
        .map_or(1, |count| count.parse().expect("a count"));
    let kernel = Kernel::available()
        .find(|kernel| kernel.name() == name)
        .unwrap_or_else(|| panic!("no kernel {name} on this CPU"));
    // An odd 2048-bit modulus and a base below it, from a fixed xorshift sequence: Montgomery
    // arithmetic costs the same for every odd modulus of the size.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as Word
    };
    let mut n = [0 as Word; LIMBS];
    n.iter_mut().for_each(|limb| *limb = next());
    n[0] |= 1;
    n[LIMBS - 1] |= 1 << (WORD_BITS - 1);
    let mut base = n;
    base[LIMBS - 1] >>= 1;
    let modulus = Modulus::new(&n).expect("an odd modulus");
    let checksum = with_kernel(kernel, || {
        let mut wide = [0 as Word; 2 * LIMBS];
        let mut r2 = [0 as Word; LIMBS];
        modulus.r_squared(&mut r2, &mut wide);
        let mut checksum = 0 as Word;
        for _ in 0..count {
            let (mut x, mut scratch) = (base, r2);
            modulus.pow_assign(&mut x, 65537, &mut scratch, &mut wide);
            checksum ^= x[0];
        }
        checksum
    })
    .expect("available");
    println!("{count} public operations on {kernel}: {checksum:x}");
}
