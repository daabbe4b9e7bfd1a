//! A gateway's firmware: verifies HTI launches with `koppeltaal-core` and no heap, reports
//! each verdict and the stack it took over semihosting, and exits with a status saying
//! whether every verdict was the expected one.
//!
//! `cargo run --release` (in this folder) builds it for a Cortex-M4F and runs it in QEMU.

#![no_std]
#![no_main]

use core::ptr::{addr_of, addr_of_mut};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use koppeltaal_core::{
    AlgorithmSet, Error, Jwk, KeySet, KeySource, LaunchVerifier, Policy, ReplayGuard,
};

/// The firmware checks launches as if it were this time (Unix seconds).
const NOW: u64 = 1_700_000_060;
const ISSUER: &str = "https://portal.example.org";
const AUDIENCE: &str = "Device/42";
/// Tokens up to 2 KiB; the decoding buffer is sized for that.
const MAX_TOKEN: usize = 2048;
const SCRATCH: usize = MAX_TOKEN / 4 * 3 + 2;

/// The portal this gateway trusts, with its keys in a `static`.
struct Portal(&'static KeySet<8>);

impl KeySource for Portal {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        (issuer == ISSUER).then(|| self.0.keys())
    }
}

type Verifier = LaunchVerifier<Portal, &'static mut ReplayGuard<256>, SCRATCH>;

/// A launch and what must become of it in this build.
struct Case {
    label: &'static str,
    token: &'static [u8],
    expected: Result<(), Error>,
}

fn cases() -> [Case; 8] {
    let rs = |outcome: Result<(), Error>| {
        if cfg!(feature = "rs") {
            outcome
        } else {
            Err(Error::UnsupportedAlgorithm)
        }
    };
    let es = if cfg!(feature = "es256") {
        Ok(())
    } else {
        Err(Error::UnsupportedAlgorithm)
    };
    [
        Case {
            label: "valid RS512, RSA-2048",
            token: include_bytes!("../data/rs512-2048.jwt"),
            expected: rs(Ok(())),
        },
        Case {
            label: "valid RS512, RSA-4096",
            token: include_bytes!("../data/rs512-4096.jwt"),
            expected: rs(Ok(())),
        },
        Case {
            label: "valid ES256",
            token: include_bytes!("../data/es256.jwt"),
            expected: es,
        },
        Case {
            label: "the first one again",
            token: include_bytes!("../data/rs512-2048.jwt"),
            expected: rs(Err(Error::Replayed)),
        },
        Case {
            label: "tampered",
            token: include_bytes!("../data/tampered.jwt"),
            expected: rs(Err(Error::BadSignature)),
        },
        Case {
            label: "expired",
            token: include_bytes!("../data/expired.jwt"),
            expected: rs(Err(Error::Expired {
                exp: 1_699_990_300,
                now: NOW,
            })),
        },
        Case {
            label: "for another module",
            token: include_bytes!("../data/wrong-audience.jwt"),
            expected: rs(Err(Error::WrongAudience)),
        },
        Case {
            label: "valid RS512, encrypted",
            token: include_bytes!("../data/encrypted.jwe"),
            expected: if cfg!(feature = "jwe") {
                rs(Ok(()))
            } else {
                Err(Error::EncryptedToken)
            },
        },
    ]
}

/// The secure element that holds the gateway's RSA decryption key, simulated: the test data's
/// "encrypted" content key is the key itself (`data/generate.sh`), so what is measured is the
/// core's part (parsing, content decryption, the launch inside).
#[cfg(feature = "jwe")]
struct SecureElement;

#[cfg(feature = "jwe")]
impl koppeltaal_core::KeyUnwrapper for SecureElement {
    fn key_id(&self) -> Option<&str> {
        Some("secure-element")
    }
    fn supports(&self, _: koppeltaal_core::KeyManagement) -> bool {
        true
    }
    fn unwrap_key(
        &self,
        _: koppeltaal_core::KeyManagement,
        encrypted_key: &[u8],
        key: &mut [u8],
        _: &mut dyn rand_core::CryptoRng,
    ) -> Result<(), Error> {
        if encrypted_key.len() != key.len() {
            return Err(Error::DecryptionFailed);
        }
        key.copy_from_slice(encrypted_key);
        Ok(())
    }
}

/// Stands in for the device's hardware random number generator (used only to replace a key
/// that failed to unwrap). Not random: a real gateway reads its TRNG here.
#[cfg(feature = "jwe")]
struct NotARealRng(u32);

#[cfg(feature = "jwe")]
impl rand_core::TryRng for NotARealRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        Ok(self.0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.try_next_u32()?) << 32 | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, bytes: &mut [u8]) -> Result<(), Self::Error> {
        for byte in bytes {
            *byte = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

#[cfg(feature = "jwe")]
impl rand_core::TryCryptoRng for NotARealRng {}

/// Verifies one launch, plain or (with the `jwe` feature) encrypted. Inlined into `main`, so
/// that, as for a plain `verify` call, the launch returned lives in `main`'s frame and the stack
/// measured is what verifying takes below it.
#[inline(always)]
fn verify(verifier: &mut Verifier, token: &[u8]) -> Result<(), Error> {
    #[cfg(feature = "jwe")]
    {
        static mut PLAINTEXT: [u8; MAX_TOKEN] = [0; MAX_TOKEN];
        // SAFETY: the one place that touches PLAINTEXT, on the one thread of this firmware.
        let plaintext = unsafe { &mut *addr_of_mut!(PLAINTEXT) };
        let mut rng = NotARealRng(0x2545_f491);
        verifier
            .verify_encrypted(token, &[&SecureElement], &mut rng, plaintext, NOW)
            .map(|_| ())
    }
    #[cfg(not(feature = "jwe"))]
    verifier.verify(token, NOW).map(|_| ())
}

// ---- measuring the stack: paint the free RAM, then find the highest word overwritten --------

const PAINT: u32 = 0xC0FF_EE11;

unsafe extern "C" {
    /// End of the static data (.data and .bss): where the stack may grow down to.
    static mut __sheap: u32;
    /// Top of RAM: where the stack starts.
    static _stack_start: u32;
}

fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}

fn stack_floor() -> usize {
    addr_of_mut!(__sheap) as usize
}

/// Fills the unused stack with a pattern (leaving what the caller's frames use).
#[inline(never)]
fn paint_stack() {
    let below_us = cortex_m::register::msp::read() as usize - 256;
    let mut address = stack_floor();
    while address < below_us {
        // SAFETY: between the end of static data and below the current stack pointer nothing
        // lives; this is RAM the stack may later grow into.
        unsafe { core::ptr::write_volatile(address as *mut u32, PAINT) };
        address += 4;
    }
}

/// The deepest the stack has reached since `paint_stack`, in bytes.
#[inline(never)]
fn stack_used() -> usize {
    let mut address = stack_floor();
    // SAFETY: reads of RAM between static data and the top of the stack.
    while address < stack_top()
        && unsafe { core::ptr::read_volatile(address as *const u32) } == PAINT
    {
        address += 4;
    }
    stack_top() - address
}

/// Loads the keys into their static and builds the verifier; a function of its own so that its
/// temporaries are gone from the stack before verifying starts.
#[inline(never)]
fn setup(keys: &'static mut KeySet<8>, guard: &'static mut ReplayGuard<256>) -> Verifier {
    if let Err(error) = keys.load(include_bytes!("../data/portal.jwks")) {
        exit_with("the key set does not load", error);
    }
    let policy = match Policy::new(AUDIENCE) {
        Ok(policy) => policy
            .with_algorithms(AlgorithmSet::HTI)
            .with_max_token_len(MAX_TOKEN),
        Err(error) => exit_with("policy", error),
    };
    LaunchVerifier::new(Portal(keys), policy, guard)
}

#[entry]
fn main() -> ! {
    // Statics of `#[entry]` are handed out as `&'static mut` by cortex-m-rt: link-time RAM,
    // zero-initialised (.bss), nothing on the stack.
    static mut KEYS: KeySet<8> = KeySet::new();
    static mut GUARD: ReplayGuard<256> = ReplayGuard::new();

    hprintln!(
        "koppeltaal-core on a Cortex-M4 (QEMU mps2-an386, 64 KiB RAM), checking launches at {}",
        NOW
    );
    paint_stack();
    let mut verifier = setup(KEYS, GUARD);
    hprintln!(
        "setup: 8-key JWKS loaded; peak stack {} bytes",
        stack_used()
    );

    let systick = start_systick();
    let mut failures = 0;
    let mut deepest = 0;
    for case in cases() {
        paint_stack();
        let start = SYST::get_current();
        let outcome = verify(&mut verifier, case.token);
        let ticks = start.wrapping_sub(SYST::get_current()) & 0x00ff_ffff;
        let used = stack_used();
        deepest = deepest.max(used);
        let as_expected = if outcome == case.expected {
            "as expected"
        } else {
            "WRONG"
        };
        failures += usize::from(outcome != case.expected);
        match outcome {
            Ok(()) => {
                hprintln!(
                    "{:<24} accepted ({}); peak stack {} bytes",
                    case.label,
                    as_expected,
                    used
                );
                hprintln!("check {}: {} SysTick ticks", case.label, ticks);
            }
            Err(error) => hprintln!(
                "{:<24} refused {} ({}) ({}); peak stack {} bytes",
                case.label,
                error.name(),
                error.code(),
                as_expected,
                used
            ),
        }
    }
    hprintln!("deepest verification: {} bytes of stack", deepest);
    calibrate(systick);
    if failures == 0 {
        hprintln!("all verdicts as expected");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("{} verdicts not as expected", failures);
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {}
}

/// Starts SysTick counting the processor clock (25 MHz on mps2-an386), 24 bits, down. Each
/// accepted launch's line is followed by the ticks its verification took: under QEMU with
/// `-icount shift=3`, where every instruction takes 8 ns of virtual time, one tick is five
/// instructions (report.sh prints them so, after `calibrate`).
fn start_systick() -> SYST {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        exit_with("SysTick", Error::InvalidKey);
    };
    let mut systick = peripherals.SYST;
    systick.set_clock_source(SystClkSource::Core);
    systick.set_reload(0x00ff_ffff);
    systick.clear_current();
    systick.enable_counter();
    systick
}

/// Times a loop of exactly 2,000,000 instructions (1,000,000 × `subs`, `bne`): the ratio
/// that turns ticks into instructions.
#[inline(never)]
fn calibrate(mut systick: SYST) {
    let start = SYST::get_current();
    // SAFETY: a countdown in one register; it touches no memory and no stack.
    unsafe {
        core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) 1_000_000u32 => _, options(nomem, nostack));
    }
    let ticks = start.wrapping_sub(SYST::get_current()) & 0x00ff_ffff;
    hprintln!("calibration 2000000 instructions: {} SysTick ticks", ticks);
    systick.disable_counter();
}

fn exit_with(what: &str, error: Error) -> ! {
    hprintln!("{}: {} ({})", what, error.name(), error.code());
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    hprintln!("panic");
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
