//! Whether a peer program the suite talks to is installed, and the loud skip when it is not.

use std::env;

/// Whether `program` is an executable file on `PATH`.
pub fn installed(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|path| {
        env::split_paths(&path).any(|directory| directory.join(program).is_file())
    })
}

/// Says on stderr, where `cargo test` shows it, that the calling test skips because `peer`
/// is missing and how to install it; panics instead when `KOPPELTAAL_REQUIRE_PEERS` is set
/// (CI, and `cargo xtask test` once it has installed every peer).
pub fn missing(peer: &str, how_to_install: &str) {
    let message = format!("{peer} is not installed: install {how_to_install}");
    if env::var_os("KOPPELTAAL_REQUIRE_PEERS").is_some() {
        panic!("{message} (KOPPELTAAL_REQUIRE_PEERS is set: no test may skip)");
    }
    eprintln!(
        "\n!!! SKIPPED {}: {message}\n",
        std::thread::current().name().unwrap_or("a test")
    );
}
