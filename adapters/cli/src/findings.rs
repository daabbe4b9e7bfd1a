//! What `probe` and `lint` report: a severity and the rule, with the clause it comes from.

use std::fmt;

/// How binding a rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// A MUST (or MUST NOT) of HTI 2.0, Koppeltaal or an RFC they build on: the exit status
    /// is 1 when one is broken.
    Must,
    /// A SHOULD: reported, not failing.
    Should,
    /// Worth knowing, not a rule (for example: the token has expired since it was made).
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Must => "MUST",
            Severity::Should => "SHOULD",
            Severity::Note => "note",
        })
    }
}

/// Which rules `lint` and `probe` apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Profile {
    /// HTI 2.0 and the RFCs it builds on.
    Hti,
    /// HTI 2.0, and what Koppeltaal adds (its authentication service's demands, its claims).
    Koppeltaal,
}

/// One deviation `lint` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    /// Where the rule comes from, e.g. `HTI 2.0 ② exp`.
    pub(crate) clause: &'static str,
    /// What is wrong, with the values involved.
    pub(crate) message: String,
}

impl Finding {
    pub(crate) fn new(
        severity: Severity,
        clause: &'static str,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            clause,
            message: message.into(),
        }
    }
}

/// Prints `findings` one per line, most binding first, then a summary; returns whether no
/// MUST is broken.
pub(crate) fn report(subject: &str, findings: &mut [Finding]) -> bool {
    findings.sort_by_key(|finding| finding.severity);
    for finding in findings.iter() {
        println!(
            "{:<6}  {}: {}",
            finding.severity, finding.clause, finding.message
        );
    }
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let (musts, shoulds) = (count(Severity::Must), count(Severity::Should));
    if musts == 0 {
        println!("{subject}: no MUST broken ({shoulds} SHOULD not met)");
    } else {
        println!("{subject}: {musts} MUST broken, {shoulds} SHOULD not met");
    }
    musts == 0
}
