//! Which kernel runs: the fastest this CPU has, found once; or, for tests and benchmarks, one
//! chosen for the current thread.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// A kernel: an implementation of the limb-level arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// Safe Rust, on every CPU: the fallback and the reference.
    Portable,
    /// x86-64 with BMI2 and ADX (`mulx`, `adcx`, `adox`).
    X86Adx,
    /// x86-64 with AVX-512 IFMA (52-bit digits, eight per register) for RSA exponentiation,
    /// and BMI2/ADX for the rest.
    X86Ifma,
    /// 64-bit Arm (AArch64): every such CPU.
    Arm64,
    /// 32-bit Arm with `UMAAL` (Cortex-M4/M7/M33, Armv6+ A-profile), feature `umaal`.
    ArmUmaal,
}

/// Every kernel, fastest first.
const ALL: [Kernel; 5] = [
    Kernel::X86Ifma,
    Kernel::X86Adx,
    Kernel::Arm64,
    Kernel::ArmUmaal,
    Kernel::Portable,
];

/// 0: not yet detected; otherwise the index in `ALL` plus one.
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Kernel {
    /// A short name: `portable`, `x86-adx`, `x86-ifma`, `arm64`, `arm-umaal`.
    pub const fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::X86Adx => "x86-adx",
            Kernel::X86Ifma => "x86-ifma",
            Kernel::Arm64 => "arm64",
            Kernel::ArmUmaal => "arm-umaal",
        }
    }

    /// Whether this CPU can run the kernel (with `std`: detected at run time; without:
    /// known from the compile-time target features).
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::X86Adx => crate::x86_64_adx::X86Adx::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Kernel::X86Ifma => {
                crate::x86_64_ifma::X86Ifma::detect().is_some()
                    && crate::x86_64_adx::X86Adx::detect().is_some()
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::X86Adx | Kernel::X86Ifma => false,
            // Miri runs no assembly.
            Kernel::Arm64 => cfg!(all(target_arch = "aarch64", not(miri))),
            Kernel::ArmUmaal => cfg!(all(target_arch = "arm", feature = "umaal")),
        }
    }

    /// The kernels this CPU can run, fastest first (`Portable` always, last).
    pub fn available() -> impl Iterator<Item = Kernel> {
        ALL.into_iter().filter(|kernel| kernel.is_available())
    }

    /// The fastest kernel this CPU can run; the detection runs once per process.
    pub fn fastest() -> Kernel {
        match DETECTED.load(Ordering::Relaxed) {
            0 => {
                let fastest = Kernel::available().next().unwrap_or(Kernel::Portable);
                let index = ALL
                    .iter()
                    .position(|k| *k == fastest)
                    .unwrap_or(ALL.len() - 1);
                DETECTED.store(index as u8 + 1, Ordering::Relaxed);
                fastest
            }
            index => ALL[usize::from(index - 1).min(ALL.len() - 1)],
        }
    }

    /// The kernel this thread uses: the one [`with_kernel`] chose, else [`fastest`](Self::fastest).
    pub fn current() -> Kernel {
        #[cfg(feature = "std")]
        if let Some(chosen) = CHOSEN.with(core::cell::Cell::get) {
            return chosen;
        }
        Kernel::fastest()
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel this CPU cannot run was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable(pub Kernel);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} kernel is not available on this CPU", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Unavailable {}

#[cfg(feature = "std")]
std::thread_local! {
    static CHOSEN: core::cell::Cell<Option<Kernel>> = const { core::cell::Cell::new(None) };
}

/// Runs `f` with `kernel` doing this thread's arithmetic (for tests that must cover every
/// kernel, and benchmarks that compare them); other threads are not affected.
///
/// ```
/// use koppeltaal_kernel::{Kernel, with_kernel};
/// for kernel in Kernel::available() {
///     assert_eq!(with_kernel(kernel, Kernel::current), Ok(kernel));
/// }
/// ```
#[cfg(feature = "std")]
pub fn with_kernel<T>(kernel: Kernel, f: impl FnOnce() -> T) -> Result<T, Unavailable> {
    if !kernel.is_available() {
        return Err(Unavailable(kernel));
    }
    struct Restore(Option<Kernel>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHOSEN.with(|chosen| chosen.set(self.0));
        }
    }
    let _restore = Restore(CHOSEN.with(|chosen| chosen.replace(Some(kernel))));
    Ok(f())
}
