//! `koppeltaal probe` against real launch endpoints on loopback: our own `serve` passes every
//! line; stub modules wrong in known ways (tests/src/faulty_module.rs, signatures checked with
//! jsonwebtoken) are caught on exactly their faults.

mod common;

use common::{AUDIENCE, ISSUER, Portal, Serve, koppeltaal, stderr, stdout};
use koppeltaal_tests::faulty_module::{self, Faults};

/// The checks of the battery (the text of each line's third column).
const CHECKS: [&str; 19] = [
    "a valid launch is accepted",
    "the same launch again is refused",
    "a launch with patient and intent is accepted",
    "an expired launch is refused",
    "a launch issued in the future is refused",
    "a launch living 15 minutes is refused",
    "a launch without exp is refused",
    "a launch without iat is refused",
    "a launch not valid before a future nbf is refused",
    "a launch for another module is refused",
    "a launch from an unknown issuer is refused",
    "a launch without jti is refused",
    "alg none (unsigned) is refused",
    "HS256 keyed with the portal's public key is refused",
    "an altered signature is refused",
    "another key under an unknown kid is refused",
    "a stranger's key embedded in the header (jwk) is refused",
    "a stranger's key named by URL in the header (jku) is refused",
    "a launch without kid is refused",
];
const JKU_FETCHED: &str = "the module fetched the key URL (jku) a token named";
const SERVER_ERRORS: &str = "refusals are answered as errors the user can read";

struct Probe {
    status: Option<i32>,
    stdout: String,
}

impl Probe {
    fn run(portal: &Portal, launch_url: &str, extra: &[&str]) -> Probe {
        let key = portal.key();
        let mut args = vec![
            "probe",
            "--launch-url",
            launch_url,
            "--key",
            &key,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
        ];
        args.extend_from_slice(extra);
        let output = koppeltaal(&args);
        assert!(stderr(&output).is_empty(), "{}", stderr(&output));
        Probe {
            status: output.status.code(),
            stdout: stdout(&output),
        }
    }

    /// The result column (`pass`, `FAIL`, `inconclusive`) of the line for `check`.
    fn result(&self, check: &str) -> &str {
        let line = self
            .stdout
            .lines()
            .find(|line| line.contains(check))
            .unwrap_or_else(|| panic!("no line for {check:?} in\n{}", self.stdout));
        line.split_whitespace().next().unwrap()
    }

    /// The checks whose line says FAIL.
    fn failed(&self) -> Vec<&'static str> {
        CHECKS
            .iter()
            .chain([&JKU_FETCHED, &SERVER_ERRORS])
            .copied()
            .filter(|check| self.stdout.contains(check) && self.result(check) == "FAIL")
            .collect()
    }
}

fn probe_faulty(faults: Faults, extra: &[&str]) -> Probe {
    let portal = Portal::new();
    let pem = std::fs::read_to_string(portal.key()).unwrap();
    let module = faulty_module::start(&pem, ISSUER, AUDIENCE, faults);
    Probe::run(&portal, &module.url("/launch"), extra)
}

#[test]
fn our_own_serve_passes_every_line() {
    let portal = Portal::new();
    let jwks = portal.jwks();
    let serve = Serve::start(&["--jwks", &jwks, "--issuer", ISSUER, "--audience", AUDIENCE]);
    let probe = Probe::run(&portal, &format!("{}/launch", serve.base), &[]);
    for check in CHECKS {
        assert_eq!(probe.result(check), "pass", "{check}\n{}", probe.stdout);
    }
    assert!(!probe.stdout.contains(JKU_FETCHED));
    assert!(
        probe
            .stdout
            .ends_with("conformant: every MUST holds (0 SHOULD not met)"),
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(0));
}

#[test]
fn a_correct_stub_module_passes_too() {
    let probe = probe_faulty(Faults::default(), &[]);
    assert_eq!(probe.failed(), Vec::<&str>::new(), "{}", probe.stdout);
    assert_eq!(probe.status, Some(0));
}

#[test]
fn a_module_that_forgets_jti_fails_on_the_replay_only() {
    let faults = Faults {
        forgets_jti: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(
        probe.failed(),
        vec!["the same launch again is refused"],
        "{}",
        probe.stdout
    );
    assert!(
        probe
            .stdout
            .contains("HTI 2.0 ② jti: a subsequent message with an identical jti MUST be rejected")
    );
    assert!(
        probe
            .stdout
            .ends_with("not conformant: 1 MUST broken, 0 SHOULD not met"),
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(1));
}

#[test]
fn a_module_that_ignores_exp_fails_on_the_expired_launch_only() {
    let faults = Faults {
        ignores_exp: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(
        probe.failed(),
        vec!["an expired launch is refused"],
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(1));
}

#[test]
fn a_module_that_accepts_hs256_fails_on_the_confusion_only() {
    let faults = Faults {
        accepts_hs256: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(
        probe.failed(),
        vec!["HS256 keyed with the portal's public key is refused"],
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(1));
}

#[test]
fn a_module_that_accepts_everything_fails_every_refusal() {
    let faults = Faults {
        accepts_everything: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    let refusals: Vec<&str> = CHECKS
        .iter()
        .copied()
        .filter(|check| check.ends_with("is refused"))
        .collect();
    assert_eq!(probe.failed(), refusals, "{}", probe.stdout);
    assert!(
        probe
            .stdout
            .ends_with("not conformant: 16 MUST broken, 1 SHOULD not met"),
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(1));
}

#[test]
fn a_module_that_fetches_jku_is_reported_even_though_it_refuses() {
    let faults = Faults {
        fetches_jku: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(
        probe.result("a stranger's key named by URL in the header (jku) is refused"),
        "pass"
    );
    assert_eq!(probe.failed(), vec![JKU_FETCHED], "{}", probe.stdout);
    assert_eq!(probe.status, Some(1));
}

#[test]
fn a_module_that_refuses_everything_makes_the_refusals_inconclusive() {
    let faults = Faults {
        refuses_everything: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(probe.failed(), vec!["a valid launch is accepted"]);
    assert_eq!(
        probe.result("a launch with patient and intent is accepted"),
        "inconclusive"
    );
    assert_eq!(probe.result("an expired launch is refused"), "inconclusive");
    assert!(
        probe
            .stdout
            .contains("not conformant: 1 MUST broken, 0 SHOULD not met"),
        "{}",
        probe.stdout
    );
    assert!(
        probe
            .stdout
            .contains("the module refused the valid launch: its refusals prove nothing")
    );
    assert_eq!(probe.status, Some(1));
}

#[test]
fn refusals_by_server_errors_are_a_should() {
    let faults = Faults {
        refuses_with_500: true,
        ..Faults::default()
    };
    let probe = probe_faulty(faults, &[]);
    assert_eq!(
        probe.failed(),
        vec!["refusals are answered as errors the user can read"],
        "{}",
        probe.stdout
    );
    assert!(
        probe
            .stdout
            .contains("conformant: every MUST holds (1 SHOULD not met)"),
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(0));
}

#[test]
fn accept_status_and_accept_pattern_say_what_acceptance_looks_like() {
    let redirecting = Faults {
        redirects_on_success: true,
        ..Faults::default()
    };
    assert_eq!(probe_faulty(redirecting, &[]).status, Some(1));
    let probe = probe_faulty(redirecting, &["--accept-status", "303"]);
    assert_eq!(probe.failed(), Vec::<&str>::new(), "{}", probe.stdout);
    assert!(probe.stdout.contains("303 (accepted)"));
    assert_eq!(probe.status, Some(0));

    let error_page = Faults {
        refuses_with_200: true,
        ..Faults::default()
    };
    assert_eq!(probe_faulty(error_page, &[]).status, Some(1));
    let probe = probe_faulty(error_page, &["--accept-pattern", "^welcome$"]);
    assert_eq!(probe.failed(), Vec::<&str>::new(), "{}", probe.stdout);
    assert_eq!(probe.status, Some(0));
}

#[test]
fn usage_errors_and_unreachable_modules() {
    let portal = Portal::new();
    let key = portal.key();
    let missing = koppeltaal(&["probe", "--key", &key]);
    assert_eq!(missing.status.code(), Some(2));
    let bad_status = koppeltaal(&[
        "probe",
        "--launch-url",
        "http://127.0.0.1:9/launch",
        "--key",
        &key,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--accept-status",
        "7xx",
    ]);
    assert_eq!(bad_status.status.code(), Some(2));
    let insecure = koppeltaal(&[
        "probe",
        "--launch-url",
        "http://module.example.org/launch",
        "--key",
        &key,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
    ]);
    assert_eq!(insecure.status.code(), Some(1));
    assert!(
        stderr(&insecure).starts_with("error: InsecureUrl (900)"),
        "{}",
        stderr(&insecure)
    );

    let dead = koppeltaal_tests::http_stub::dead_url("/launch");
    let probe = Probe::run(&portal, &dead, &["--timeout", "2"]);
    assert_eq!(probe.result("a valid launch is accepted"), "FAIL");
    assert!(probe.stdout.contains("no answer"), "{}", probe.stdout);
    assert_eq!(probe.status, Some(1));
}

#[test]
fn the_koppeltaal_profile_adds_its_launches_and_reports_rs384_as_a_note() {
    let portal = Portal::new();
    let jwks = portal.jwks();
    let idp_hint = "a launch with Koppeltaal's idp_hint is accepted";
    let rs384 = "a launch signed RS384 by the portal's key is accepted";
    // RS512 only (serve's default): the RS384 launch is refused, a note, not a failure.
    let serve = Serve::start(&["--jwks", &jwks, "--issuer", ISSUER, "--audience", AUDIENCE]);
    let probe = Probe::run(
        &portal,
        &format!("{}/launch", serve.base),
        &["--profile", "koppeltaal"],
    );
    assert_eq!(probe.result(idp_hint), "pass", "{}", probe.stdout);
    assert_eq!(probe.result(rs384), "FAIL", "{}", probe.stdout);
    assert!(
        probe
            .stdout
            .lines()
            .any(|line| line.contains(rs384) && line.split_whitespace().nth(1) == Some("note")),
        "{}",
        probe.stdout
    );
    assert_eq!(probe.status, Some(0), "a note does not fail the probe");
    assert!(
        probe.stdout.contains(": 21 launches as"),
        "{}",
        probe.stdout
    );
    // A module that takes RS384 too (its JWKS not binding the key to RS512) passes it;
    // without the profile neither line is sent.
    let mut unbound: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&jwks).unwrap()).unwrap();
    unbound["keys"][0].as_object_mut().unwrap().remove("alg");
    let unbound_path = format!("{jwks}.unbound");
    std::fs::write(&unbound_path, unbound.to_string()).unwrap();
    let wider = Serve::start(&[
        "--jwks",
        &unbound_path,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--alg",
        "RS384",
    ]);
    let probe = Probe::run(
        &portal,
        &format!("{}/launch", wider.base),
        &["--profile", "koppeltaal"],
    );
    assert_eq!(probe.result(rs384), "pass", "{}", probe.stdout);
    let plain = Probe::run(&portal, &format!("{}/launch", wider.base), &[]);
    assert!(!plain.stdout.contains(idp_hint) && !plain.stdout.contains(rs384));
}
