//! The launches `probe` sends, each with what HTI 2.0 requires the module to do with it.
//!
//! Every launch starts as a valid one (fresh `jti`, `iat` now, five minutes to live) and one
//! mutation breaks exactly one rule; the clause says which.

use serde_json::{Map, Value, json};

use super::forge::Signing;
use crate::findings::Severity;

/// What the module must do with a launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Accepted,
    Refused,
}

/// How a case's token is made.
#[derive(Clone, Copy)]
pub(crate) enum Make {
    /// A fresh valid launch, then this mutation (which says how to sign).
    Fresh(Mutation),
    /// The very token of the first case, sent again.
    RepeatFirst,
}

/// Edits the header and claims of a valid launch; returns how to sign the result.
pub(crate) type Mutation =
    fn(&Setting<'_>, &mut Map<String, Value>, &mut Map<String, Value>) -> Signing;

/// What mutations may need to know.
pub(crate) struct Setting<'a> {
    pub(crate) now: u64,
    pub(crate) stranger_key_id: &'a str,
    pub(crate) stranger_jwk: &'a Value,
    /// Where the probe serves the stranger's JWKS (for the `jku` case).
    pub(crate) bait_url: &'a str,
}

/// One line of the probe.
pub(crate) struct Case {
    pub(crate) check: &'static str,
    pub(crate) expect: Expect,
    pub(crate) severity: Severity,
    pub(crate) clause: &'static str,
    pub(crate) make: Make,
}

const AUDIENCE_CLAUSE: &str = "HTI 2.0 ② aud: the module MUST validate the aud field";
const KEY_CLAUSE: &str =
    "HTI 2.0 ② iss: the module MUST validate the message with the public key associated with iss";
const ASYMMETRIC_CLAUSE: &str =
    "HTI 2.0 ② security: the JWT MUST be signed with an asymmetric key; HS* is not allowed";

/// The battery, in the order it is sent. The first case must be the valid launch that
/// `RepeatFirst` repeats.
pub(crate) const BATTERY: &[Case] = &[
    Case {
        check: "a valid launch is accepted",
        expect: Expect::Accepted,
        severity: Severity::Must,
        clause: "HTI 2.0 ③: a valid launch form-posted in the token field is processed",
        make: Make::Fresh(|_, _, _| Signing::Portal),
    },
    Case {
        check: "the same launch again is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② jti: a subsequent message with an identical jti MUST be rejected",
        make: Make::RepeatFirst,
    },
    Case {
        check: "a launch with patient and intent is accepted",
        expect: Expect::Accepted,
        severity: Severity::Must,
        clause: "HTI 2.0 ① claims: patient and intent are optional claims of a valid launch",
        make: Make::Fresh(|_, _, claims| {
            claims.insert("patient".into(), json!("Patient/koppeltaal-probe"));
            claims.insert("intent".into(), json!("plan"));
            Signing::Portal
        }),
    },
    Case {
        check: "an expired launch is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② exp: the JWT MUST NOT be accepted on or after exp",
        make: Make::Fresh(|setting, _, claims| {
            set_times(claims, setting.now - 900, setting.now - 600);
            Signing::Portal
        }),
    },
    Case {
        check: "a launch issued in the future is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② iat: the module MUST validate iat not to be in the future",
        // Lives 60 s and expires in 300: only a check of iat itself refuses it.
        make: Make::Fresh(|setting, _, claims| {
            set_times(claims, setting.now + 240, setting.now + 300);
            Signing::Portal
        }),
    },
    Case {
        check: "a launch living 15 minutes is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② exp: limited to 5 minutes; a value exceeding it MUST be rejected",
        make: Make::Fresh(|setting, _, claims| {
            set_times(claims, setting.now, setting.now + 900);
            Signing::Portal
        }),
    },
    Case {
        check: "a launch without exp is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② exp: MUST be validated by the module (and limited to 5 minutes)",
        make: Make::Fresh(|_, _, claims| {
            claims.remove("exp");
            Signing::Portal
        }),
    },
    Case {
        check: "a launch without iat is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② iat: MUST be validated by the module not to be in the future",
        make: Make::Fresh(|_, _, claims| {
            claims.remove("iat");
            Signing::Portal
        }),
    },
    Case {
        check: "a launch not valid before a future nbf is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "RFC 7519 §4.1.5 nbf: the JWT MUST NOT be accepted before nbf",
        make: Make::Fresh(|setting, _, claims| {
            claims.insert("nbf".into(), json!(setting.now + 240));
            Signing::Portal
        }),
    },
    Case {
        check: "a launch for another module is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: AUDIENCE_CLAUSE,
        make: Make::Fresh(|_, _, claims| {
            claims.insert("aud".into(), json!("Device/koppeltaal-probe-other-module"));
            Signing::Portal
        }),
    },
    Case {
        check: "a launch from an unknown issuer is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 checklist: the issuer (iss) MUST be known to the system",
        make: Make::Fresh(|_, _, claims| {
            claims.insert(
                "iss".into(),
                json!("https://unknown-issuer.koppeltaal-probe.invalid"),
            );
            Signing::Portal
        }),
    },
    Case {
        check: "a launch without jti is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: "HTI 2.0 ② jti: MUST be treated as a NONCE and stored for replay detection",
        make: Make::Fresh(|_, _, claims| {
            claims.remove("jti");
            Signing::Portal
        }),
    },
    Case {
        check: "alg none (unsigned) is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: ASYMMETRIC_CLAUSE,
        make: Make::Fresh(|_, header, _| {
            header.insert("alg".into(), json!("none"));
            Signing::Unsigned
        }),
    },
    Case {
        check: "HS256 keyed with the portal's public key is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: ASYMMETRIC_CLAUSE,
        make: Make::Fresh(|_, header, _| {
            header.insert("alg".into(), json!("HS256"));
            Signing::HmacWithPublicKey
        }),
    },
    Case {
        check: "an altered signature is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: KEY_CLAUSE,
        make: Make::Fresh(|_, _, _| Signing::Altered),
    },
    Case {
        check: "another key under an unknown kid is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: KEY_CLAUSE,
        make: Make::Fresh(|setting, header, _| {
            header.insert("kid".into(), json!(setting.stranger_key_id));
            Signing::Stranger
        }),
    },
    Case {
        check: "a stranger's key embedded in the header (jwk) is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: KEY_CLAUSE,
        // Under the portal's own kid: only a module that trusts the header's key accepts it.
        make: Make::Fresh(|setting, header, _| {
            header.insert("jwk".into(), setting.stranger_jwk.clone());
            Signing::Stranger
        }),
    },
    Case {
        check: "a stranger's key named by URL in the header (jku) is refused",
        expect: Expect::Refused,
        severity: Severity::Must,
        clause: KEY_CLAUSE,
        make: Make::Fresh(|setting, header, _| {
            header.insert("jku".into(), json!(setting.bait_url));
            Signing::Stranger
        }),
    },
    Case {
        check: "a launch without kid is refused",
        expect: Expect::Refused,
        severity: Severity::Should,
        clause: "HTI 2.0 ② iss: a portal publishing a JWKS MUST send a kid; a module should not guess the key",
        make: Make::Fresh(|_, header, _| {
            header.remove("kid");
            Signing::Portal
        }),
    },
];

fn set_times(claims: &mut Map<String, Value>, iat: u64, exp: u64) {
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
}

/// What `--profile koppeltaal` adds: launches Koppeltaal's portals may send that HTI 2.0 alone
/// does not make. A case whose severity is a note is reported, never counted as a failure.
pub(crate) const KOPPELTAAL: &[Case] = &[
    Case {
        check: "a launch with Koppeltaal's idp_hint is accepted",
        expect: Expect::Accepted,
        severity: Severity::Must,
        clause: "Koppeltaal: a launch may carry idp_hint, the identity provider to send the user to",
        make: Make::Fresh(|_, _, claims| {
            claims.insert("idp_hint".into(), json!("https://idp.example.org"));
            Signing::Portal
        }),
    },
    Case {
        check: "a launch signed RS384 by the portal's key is accepted",
        expect: Expect::Accepted,
        severity: Severity::Note,
        clause: "Koppeltaal: its auth service takes RS384, ES384 and RS512; a module taking RS512 only refuses portals that sign RS384",
        make: Make::Fresh(|_, header, _| {
            header.insert("alg".into(), json!("RS384"));
            Signing::PortalRs384
        }),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_case_is_the_valid_launch_the_replay_repeats() {
        assert!(matches!(BATTERY[0].make, Make::Fresh(_)));
        assert_eq!(BATTERY[0].expect, Expect::Accepted);
        assert!(matches!(BATTERY[1].make, Make::RepeatFirst));
        let repeats = BATTERY
            .iter()
            .filter(|case| matches!(case.make, Make::RepeatFirst))
            .count();
        assert_eq!(repeats, 1);
    }

    #[test]
    fn each_mutation_changes_what_it_says() {
        let stranger = json!({"kty": "EC"});
        let setting = Setting {
            now: 1_700_000_000,
            stranger_key_id: "stranger",
            stranger_jwk: &stranger,
            bait_url: "http://127.0.0.1:9/jwks.json",
        };
        let mut differing = 0;
        for case in BATTERY {
            let Make::Fresh(mutation) = case.make else {
                continue;
            };
            let mut header =
                Map::from_iter([("alg".into(), json!("RS512")), ("kid".into(), json!("k"))]);
            let mut claims = Map::from_iter([
                ("jti".into(), json!("j")),
                ("iat".into(), json!(1)),
                ("exp".into(), json!(2)),
            ]);
            let (header0, claims0) = (header.clone(), claims.clone());
            let signing = mutation(&setting, &mut header, &mut claims);
            if header != header0 || claims != claims0 || signing != Signing::Portal {
                differing += 1;
            }
        }
        // Every case but the valid launch breaks something.
        assert_eq!(differing, BATTERY.len() - 2);
    }
}
