//! An independent FHIR R4 validator for the resources we produce: the `fhir.resources`
//! package (PyPI, pinned with hashes in `tests/fhir/requirements.txt`), installed on first use
//! into `target/fhir-validator`, a Python virtual environment of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The virtual environment's Python, installed once per process; None (after a loud skip, or
/// a panic under `KOPPELTAAL_REQUIRE_PEERS`) when Python or the packages cannot be installed.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(install).as_deref()
}

fn install() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let environment = root.join("../target/fhir-validator");
    let python = environment.join("bin/python");
    let marker = environment.join("installed");
    if marker.exists() {
        return Some(python);
    }
    let run = |command: &mut Command| {
        command
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let installed = run(Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&environment))
        && run(Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--require-hashes", "-r"])
            .arg(root.join("fhir/requirements.txt")));
    if !installed {
        crate::peers::missing(
            "fhir.resources (the FHIR validator)",
            "Python 3 with venv and pip, and PyPI reachable (tests/fhir/requirements.txt)",
        );
        return None;
    }
    let _ = std::fs::write(&marker, b"");
    Some(python)
}

/// Each resource checked against the FHIR R4 model: `Ok(true)` when all are valid,
/// `Err(errors)` with the validator's words for each that is not, `Ok(false)` when the
/// validator is not installed (the test has then said it skips this check).
pub fn validate(resources: &[Value]) -> Result<bool, String> {
    let Some(python) = python() else {
        return Ok(false);
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir/validate.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    let mut input = String::new();
    for resource in resources {
        input.push_str(&resource.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(input.as_bytes())
        .map_err(|error| error.to_string())?;
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|error| error.to_string())?;
    let verdicts = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() && verdicts.lines().count() == resources.len() {
        Ok(true)
    } else {
        Err(verdicts)
    }
}
