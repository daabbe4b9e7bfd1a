//! `cargo xtask test [ARGS]`: the README's test command.
//!
//! The suite talks to real peers: Redis servers, sentinels and a cluster (Debian
//! `redis-server`, `redis-sentinel`, `redis-tools`), panva's
//! oidc-provider (npm, from `tests/oidc/package-lock.json`), and OpenSSL (Debian
//! `libssl-dev`, through josekit). This installs each one that is missing and may be
//! installed here (Debian packages as root or with password-less sudo; npm packages from the
//! lockfile), then runs `cargo test --workspace --locked ARGS`. When every peer is present it
//! sets `KOPPELTAAL_REQUIRE_PEERS=1`, so a test that cannot reach its peer fails instead of
//! skipping; otherwise those tests skip, each saying loudly why.
//!
//! `cargo xtask peers` only installs the peers.
//!
//! `cargo xtask api [--bless]`: the public API of the published library crates, as
//! `cargo public-api` lists it (blanket, auto-trait and derived impls left out), compared with
//! the listing committed under `api/`, so that no change to it goes unnoticed; `--bless`
//! rewrites the listings after an intended change.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Debian packages the suite needs, with the command each provides (or a file it installs).
const DEBIAN_PEERS: &[(&str, Probe)] = &[
    ("pkg-config", Probe::Command("pkg-config")),
    ("libssl-dev", Probe::File("/usr/include/openssl/ssl.h")),
    ("redis-server", Probe::Command("redis-server")),
    ("redis-sentinel", Probe::Command("redis-sentinel")),
    ("redis-tools", Probe::Command("redis-cli")),
];

/// How to tell whether a Debian package is already there without asking dpkg (which a
/// non-Debian machine lacks).
enum Probe {
    Command(&'static str),
    File(&'static str),
}

impl Probe {
    fn present(&self) -> bool {
        match self {
            Probe::Command(name) => on_path(name),
            Probe::File(path) => Path::new(path).exists(),
        }
    }
}

fn main() -> ExitCode {
    let mut arguments = env::args().skip(1);
    let task = arguments.next();
    let rest: Vec<String> = arguments.collect();
    match task.as_deref() {
        Some("test") => test(&rest),
        Some("api") => api(rest.iter().any(|argument| argument == "--bless")),
        Some("peers") => {
            if provision() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask test [ARGS for cargo test]   install the suite's peers, run it\n       \
                 cargo xtask peers                        only install the peers\n       \
                 cargo xtask api [--bless]                compare the public API with api/*.txt"
            );
            ExitCode::from(2)
        }
    }
}

fn test(arguments: &[String]) -> ExitCode {
    let complete = provision();
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(workspace_root())
        .args(["test", "--workspace", "--locked"])
        .args(arguments);
    if complete {
        cargo.env("KOPPELTAAL_REQUIRE_PEERS", "1");
    }
    match cargo.status() {
        Ok(status) if status.success() => {
            if !complete {
                eprintln!(
                    "\nxtask: the suite passed, BUT with tests skipped for the missing peers listed above"
                );
            }
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("xtask: could not run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The crates whose public API is listed under `api/`.
const API_CRATES: &[&str] = &["koppeltaal-core", "koppeltaal-host", "koppeltaal-gateway"];

fn api(bless: bool) -> ExitCode {
    let root = workspace_root();
    let mut changed = Vec::new();
    for krate in API_CRATES {
        let output = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args(["public-api", "--package", krate, "--all-features", "-sss"])
            .output();
        let listing = match output {
            Ok(output) if output.status.success() => output.stdout,
            Ok(output) => {
                eprintln!(
                    "xtask: cargo public-api failed for {krate} (it needs `cargo install \
                     cargo-public-api --locked` and a nightly toolchain):\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("xtask: could not run cargo public-api: {error}");
                return ExitCode::FAILURE;
            }
        };
        let path = root.join("api").join(format!("{krate}.txt"));
        let committed = std::fs::read(&path).unwrap_or_default();
        if committed == listing {
            continue;
        }
        if bless {
            if let Err(error) = std::fs::write(&path, &listing) {
                eprintln!("xtask: {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("xtask: {} rewritten", path.display());
            continue;
        }
        let now = root.join("target").join(format!("{krate}.api.txt"));
        let _ = std::fs::create_dir_all(root.join("target"));
        let _ = std::fs::write(&now, &listing);
        let _ = Command::new("diff").arg("-u").arg(&path).arg(&now).status();
        changed.push(*krate);
    }
    if changed.is_empty() {
        eprintln!("xtask: the public API is as listed in api/");
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "xtask: the public API of {changed:?} differs from api/ (above). If that is intended, \
         run `cargo xtask api --bless` and commit the listings with the change."
    );
    ExitCode::FAILURE
}

/// Installs what is missing; true when every peer is present afterwards.
fn provision() -> bool {
    let debian = install_debian_packages();
    let npm = install_npm_packages();
    debian && npm
}

fn install_debian_packages() -> bool {
    let missing: Vec<&str> = DEBIAN_PEERS
        .iter()
        .filter(|(_, probe)| !probe.present())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let Some(privilege) = privilege() else {
        loud(&format!(
            "missing Debian packages {missing:?}, and this user can neither install them (not root, \
             no password-less sudo) nor would apt-get be there: install them yourself \
             (`sudo apt-get install {}`); tests that need them skip or fail to build",
            missing.join(" ")
        ));
        return false;
    };
    eprintln!("xtask: installing Debian packages {missing:?}");
    let apt = |arguments: &[&str]| {
        let mut command = Command::new(privilege.first().copied().unwrap_or("apt-get"));
        command
            .args(privilege.iter().skip(1))
            .args(arguments)
            .env("DEBIAN_FRONTEND", "noninteractive");
        command.status().is_ok_and(|status| status.success())
    };
    let installed = apt(&["update", "-qq"])
        && apt(&[
            &["install", "-y", "-qq", "--no-install-recommends"][..],
            &missing[..],
        ]
        .concat());
    let present = DEBIAN_PEERS.iter().all(|(_, probe)| probe.present());
    if !installed || !present {
        loud(&format!("installing {missing:?} with apt-get failed"));
    }
    present
}

/// The command prefix that runs apt-get with the right to install: nothing as root, `sudo -n`
/// when it needs no password; None when neither works or there is no apt-get.
fn privilege() -> Option<Vec<&'static str>> {
    if !on_path("apt-get") {
        return None;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0");
    if root {
        return Some(vec!["apt-get"]);
    }
    let sudo = Command::new("sudo")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|status| status.success());
    sudo.then(|| vec!["sudo", "-n", "apt-get"])
}

fn install_npm_packages() -> bool {
    let directory = workspace_root().join("tests/oidc");
    let marker = directory.join("node_modules/.package-lock.json");
    let lockfile = directory.join("package-lock.json");
    let up_to_date = match (marker.metadata(), lockfile.metadata()) {
        (Ok(installed), Ok(locked)) => match (installed.modified(), locked.modified()) {
            (Ok(installed), Ok(locked)) => installed >= locked,
            _ => false,
        },
        _ => false,
    };
    if up_to_date {
        return true;
    }
    if !on_path("npm") {
        loud("npm is missing (Node.js 20): the tests against the real OAuth server will fail");
        return false;
    }
    eprintln!("xtask: installing oidc-provider from tests/oidc/package-lock.json (npm ci)");
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&directory)
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        loud(
            "`npm ci --prefix tests/oidc` failed: the tests against the real OAuth server will fail",
        );
    }
    installed
}

fn on_path(name: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|directory| directory.join(name).is_file()))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
        .to_path_buf()
}

fn loud(message: &str) {
    eprintln!("\n!!! xtask: {message}\n");
}
