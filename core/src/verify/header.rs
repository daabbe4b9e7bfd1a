//! The JOSE header (RFC 7515 §4) of a signed token.

use heapless::String;

use crate::capacity;
use crate::codec::json::{self, Members, Value};
use crate::error::{Error, Part};
use crate::jose::algorithm::Algorithm;
use crate::verify::policy::Policy;

/// The header of a token, after its checks have passed: an allowed algorithm, a key id, and
/// nothing that points at a key or demands an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    alg: Algorithm,
    kid: String<{ capacity::KEY_ID }>,
}

impl Header {
    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id that selects the verification key.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// A placeholder for storage that a parse overwrites before anything reads it.
    pub(crate) fn unset() -> Header {
        Header {
            alg: Algorithm::RS512,
            kid: String::new(),
        }
    }

    /// Parses a decoded header and checks it against `policy`.
    ///
    /// Checks, in this order: well-formed JSON and member types; `alg` present, neither `none`
    /// nor HMAC, implemented; no `crit`; no `jwk`, `jku`, `x5u` or `x5c`; `alg` allowed by the
    /// policy; `typ` as the policy expects; `kid` present.
    pub(crate) fn parse(json: &[u8], policy: &Policy) -> Result<Header, Error> {
        let mut record = HeaderRecord::default();
        let seen = json::parse_object(json, Part::Header, json::MAX_MEMBERS, &mut record)?;
        let has = |name: &str| {
            HeaderRecord::NAMES
                .iter()
                .position(|n| *n == name)
                .is_some_and(|i| seen & (1 << i) != 0)
        };

        let alg = record.alg.ok_or(Error::MissingAlgorithm)??;
        if has("crit") {
            return Err(Error::UnsupportedCritical);
        }
        if ["jwk", "jku", "x5u", "x5c"].into_iter().any(has) {
            return Err(Error::EmbeddedKey);
        }
        if !alg.is_compiled_in() {
            return Err(Error::UnsupportedAlgorithm);
        }
        if !policy.algorithms().contains(alg) {
            return Err(Error::AlgorithmNotAllowed(alg));
        }
        if !policy.accepts_type(has("typ").then_some(record.typ.as_str())) {
            return Err(Error::UnexpectedType);
        }
        if !has("kid") {
            return Err(Error::MissingKeyId);
        }
        Ok(Header {
            alg,
            kid: record.kid,
        })
    }
}

/// The header members as read, before any check.
#[derive(Default)]
struct HeaderRecord {
    /// `None` when absent; the inner result is the name's verdict.
    alg: Option<Result<Algorithm, Error>>,
    kid: String<{ capacity::KEY_ID }>,
    typ: String<{ capacity::TYPE }>,
}

impl<'de> Members<'de> for HeaderRecord {
    const NAMES: &'static [&'static str] =
        &["alg", "kid", "typ", "crit", "jwk", "jku", "x5u", "x5c"];

    fn member(&mut self, index: usize, value: Value<'_, 'de>) -> Result<(), Error> {
        match index {
            0 => {
                let raw = value.borrowed_str()?;
                // Longer than any algorithm name: cannot be one.
                let mut name = String::<16>::new();
                self.alg = Some(match raw.unescape_into(&mut name) {
                    Ok(true) => Algorithm::from_jose(&name),
                    Ok(false) | Err(_) => Err(Error::UnsupportedAlgorithm),
                });
                Ok(())
            }
            1 => value.text(&mut self.kid),
            2 => value.text(&mut self.typ),
            _ => value.skip(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::algorithm::AlgorithmSet;

    fn policy() -> Policy {
        Policy::new("Device/1").unwrap()
    }

    fn parse(json: &str) -> Result<Header, Error> {
        Header::parse(json.as_bytes(), &policy())
    }

    #[test]
    fn accepts_a_koppeltaal_header() {
        let header = parse(r#"{"alg":"RS512","kid":"abc","typ":"JWT"}"#).unwrap();
        assert_eq!(header.algorithm(), Algorithm::RS512);
        assert_eq!(header.key_id(), "abc");
        assert!(
            parse(r#"{"kid":"abc","alg":"RS512"}"#).is_ok(),
            "typ is optional"
        );
        assert!(parse(r#"{"kid":"abc","alg":"RS\u003512","typ":"jwt"}"#).is_ok());
    }

    #[test]
    fn refuses_each_header_fault_specifically() {
        let cases: &[(&str, Error)] = &[
            (r#"{"kid":"a"}"#, Error::MissingAlgorithm),
            (r#"{"alg":"none","kid":"a"}"#, Error::ForbiddenAlgorithm),
            (r#"{"alg":"NoNe","kid":"a"}"#, Error::ForbiddenAlgorithm),
            (r#"{"alg":"HS512","kid":"a"}"#, Error::ForbiddenAlgorithm),
            (r#"{"alg":"PS256","kid":"a"}"#, Error::UnsupportedAlgorithm),
            (
                r#"{"alg":"RS512RS512RS512RS512","kid":"a"}"#,
                Error::UnsupportedAlgorithm,
            ),
            (r#"{"alg":5,"kid":"a"}"#, Error::InvalidMemberType("alg")),
            (
                r#"{"alg":"RS512","kid":"a","crit":["exp"]}"#,
                Error::UnsupportedCritical,
            ),
            (
                r#"{"alg":"RS512","kid":"a","jku":"https://evil"}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RS512","kid":"a","x5c":["MII"]}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RS512","kid":"a","jwk":{"kty":"RSA"}}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RS512","kid":"a","x5u":"https://evil"}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RS256","kid":"a"}"#,
                Error::AlgorithmNotAllowed(Algorithm::RS256),
            ),
            (
                r#"{"alg":"RS512","kid":"a","typ":"at+jwt"}"#,
                Error::UnexpectedType,
            ),
            (r#"{"alg":"RS512"}"#, Error::MissingKeyId),
            (
                r#"{"alg":"RS512","kid":"a","kid":"b"}"#,
                Error::DuplicateMember("kid"),
            ),
            (
                r#"{"alg":"RS512","alg":"RS512","kid":"a"}"#,
                Error::DuplicateMember("alg"),
            ),
            (
                r#"{"alg":"RS512","kid":7}"#,
                Error::InvalidMemberType("kid"),
            ),
            (
                r#"{"alg":"RS512","kid":"a""#,
                Error::InvalidJson(Part::Header),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).as_ref().err(), Some(expected), "{json}");
        }
    }

    #[test]
    fn policy_can_widen_algorithms() {
        let policy = policy().with_algorithms(AlgorithmSet::only(Algorithm::RS256));
        assert!(Header::parse(br#"{"alg":"RS256","kid":"a"}"#, &policy).is_ok());
    }
}
