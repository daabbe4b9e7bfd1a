//! The claims of an HTI launch token (HTI 2.0), as read from the payload and as checked.

use heapless::String;

use crate::capacity;
use crate::codec::json::{self, Members, Value};
use crate::error::{Error, Part};
use crate::verify::policy::{Policy, RequiredClaims};

/// The payload members as read, before any check. Strings are unescaped into fixed storage.
///
/// Filled in place ([`parse_into`](ClaimsRecord::parse_into)) so that a verifier can keep one
/// record and reuse it, rather than move 1.7 KiB through the stack per token.
#[derive(Default)]
pub(crate) struct ClaimsRecord {
    /// Whether one of the `aud` values is the policy's audience (compared while reading).
    pub(crate) audience_matches: bool,
    pub(crate) seen: u64,
    pub(crate) iss: String<{ capacity::ISSUER }>,
    pub(crate) sub: String<{ capacity::PERSON }>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) nbf: u64,
    pub(crate) jti: String<{ capacity::TOKEN_ID }>,
    pub(crate) resource: String<{ capacity::RESOURCE }>,
    pub(crate) definition: String<{ capacity::DEFINITION }>,
    pub(crate) patient: String<{ capacity::PERSON }>,
    pub(crate) intent: String<{ capacity::INTENT }>,
    pub(crate) idp_hint: String<{ capacity::IDP_HINT }>,
    /// How many values `aud` has (1 for a string).
    pub(crate) audience_count: u16,
    pub(crate) nonce: String<{ capacity::NONCE }>,
    pub(crate) azp: String<{ capacity::AUTHORIZED_PARTY }>,
    pub(crate) fhir_user: String<{ capacity::FHIR_USER }>,
}

/// A record being filled, with the audience the policy expects.
struct ClaimsReader<'r, 'p> {
    record: &'r mut ClaimsRecord,
    expected_audience: &'p str,
}

/// Indexes into [`ClaimsRecord::NAMES`].
pub(crate) mod claim {
    pub(crate) const ISS: usize = 0;
    pub(crate) const AUD: usize = 1;
    pub(crate) const SUB: usize = 2;
    pub(crate) const IAT: usize = 3;
    pub(crate) const EXP: usize = 4;
    pub(crate) const NBF: usize = 5;
    pub(crate) const JTI: usize = 6;
    pub(crate) const RESOURCE: usize = 7;
    pub(crate) const DEFINITION: usize = 8;
    pub(crate) const PATIENT: usize = 9;
    pub(crate) const INTENT: usize = 10;
    pub(crate) const IDP_HINT: usize = 11;
    pub(crate) const NONCE: usize = 12;
    pub(crate) const AZP: usize = 13;
    pub(crate) const FHIR_USER: usize = 14;
}

impl<'de> Members<'de> for ClaimsReader<'_, '_> {
    const NAMES: &'static [&'static str] = ClaimsRecord::NAMES;

    fn member(&mut self, index: usize, value: Value<'_, 'de>) -> Result<(), Error> {
        let record = &mut *self.record;
        match index {
            claim::ISS => value.text(&mut record.iss),
            claim::AUD => {
                let (expected, matches) = (self.expected_audience, &mut record.audience_matches);
                let count = &mut record.audience_count;
                value.strings(|audience| {
                    *count = count.saturating_add(1);
                    *matches |= audience
                        .eq_str(expected)
                        .map_err(|_| Error::InvalidJson(Part::Payload))?;
                    Ok(())
                })
            }
            claim::SUB => value.text(&mut record.sub),
            claim::IAT => value.numeric_date().map(|iat| record.iat = iat),
            claim::EXP => value.numeric_date().map(|exp| record.exp = exp),
            claim::NBF => value.numeric_date().map(|nbf| record.nbf = nbf),
            claim::JTI => value.text(&mut record.jti),
            claim::RESOURCE => value.text(&mut record.resource),
            claim::DEFINITION => value.text(&mut record.definition),
            claim::PATIENT => value.text(&mut record.patient),
            claim::INTENT => value.text(&mut record.intent),
            claim::IDP_HINT => value.text(&mut record.idp_hint),
            claim::NONCE => value.text(&mut record.nonce),
            claim::AZP => value.text(&mut record.azp),
            _ => value.text(&mut record.fhir_user),
        }
    }
}

impl ClaimsRecord {
    /// The claims read, in the order of the bits of `seen`.
    pub(crate) const NAMES: &'static [&'static str] = &[
        "iss",
        "aud",
        "sub",
        "iat",
        "exp",
        "nbf",
        "jti",
        "resource",
        "definition",
        "patient",
        "intent",
        "idp_hint",
        "nonce",
        "azp",
        "fhirUser",
    ];

    /// Reads a decoded payload into this record (whatever it held before is cleared first),
    /// comparing `aud` with the policy's audience on the way.
    pub(crate) fn parse_into(&mut self, json: &[u8], policy: &Policy) -> Result<(), Error> {
        self.clear();
        let mut reader = ClaimsReader {
            record: self,
            expected_audience: policy.audience(),
        };
        let seen = json::parse_object(json, Part::Payload, json::MAX_MEMBERS, &mut reader)?;
        self.seen = seen;
        Ok(())
    }

    /// Empties the record in place (no 1.7 KiB temporary, as `*self = default()` may make).
    fn clear(&mut self) {
        self.audience_matches = false;
        self.seen = 0;
        (self.iat, self.exp, self.nbf) = (0, 0, 0);
        self.iss.clear();
        self.sub.clear();
        self.jti.clear();
        self.resource.clear();
        self.definition.clear();
        self.patient.clear();
        self.intent.clear();
        self.idp_hint.clear();
        self.audience_count = 0;
        self.nonce.clear();
        self.azp.clear();
        self.fhir_user.clear();
    }

    pub(crate) fn has(&self, index: usize) -> bool {
        self.seen & (1 << index) != 0
    }

    /// The issuer, needed before the signature can be checked (it selects the keys).
    pub(crate) fn issuer(&self) -> Result<&str, Error> {
        if self.has(claim::ISS) {
            Ok(&self.iss)
        } else {
            Err(Error::MissingClaim("iss"))
        }
    }

    /// Every check of an HTI launch's claims, in order: required claims present, then
    /// non-empty; audience; times (see [`Policy::check_times`]); person references; intent.
    pub(crate) fn check_launch(&self, policy: &Policy, now: u64) -> Result<(), Error> {
        let required = policy.required();
        self.check_present(&[
            (claim::AUD, true),
            (claim::EXP, true),
            (claim::IAT, true),
            (claim::JTI, true),
            (claim::SUB, required.contains(RequiredClaims::SUB)),
            (claim::RESOURCE, required.contains(RequiredClaims::RESOURCE)),
            (
                claim::DEFINITION,
                required.contains(RequiredClaims::DEFINITION),
            ),
            (claim::PATIENT, required.contains(RequiredClaims::PATIENT)),
            (claim::INTENT, required.contains(RequiredClaims::INTENT)),
        ])?;
        self.check_audience_and_times(policy, now)?;
        for (index, reference) in [(claim::SUB, &self.sub), (claim::PATIENT, &self.patient)] {
            if self.has(index) && !is_person_reference(reference) {
                return Err(Error::BadPersonReference(ClaimsRecord::NAMES[index]));
            }
        }
        if self.has(claim::INTENT) && !is_request_intent(&self.intent) {
            return Err(Error::InvalidIntent);
        }
        Ok(())
    }

    /// The checks of a JWT access token (RFC 9068, as Koppeltaal's auth server and SMART
    /// servers issue them): `aud`, `exp` and `iat` present, strings non-empty, audience,
    /// times. `sub` is whatever the server puts there (often a client id), so it is not read
    /// as a person reference.
    pub(crate) fn check_access_token(&self, policy: &Policy, now: u64) -> Result<(), Error> {
        self.check_present(&[(claim::AUD, true), (claim::EXP, true), (claim::IAT, true)])?;
        self.check_audience_and_times(policy, now)
    }

    /// The checks of an OpenID Connect id_token (Core §3.1.3.7), as a SHOF launch's token
    /// response carries it: `iss`, `aud`, `sub`, `exp`, `iat` present, strings non-empty; `iss`
    /// exactly `issuer`; `aud` contains the client id (the policy's audience); when `aud` has
    /// several values, or `azp` is present, `azp` is the client id; times within the policy;
    /// `nonce` equal to `nonce` when one is expected; `fhirUser`, when present, a reference to
    /// a person.
    pub(crate) fn check_id_token(
        &self,
        policy: &Policy,
        issuer: &str,
        nonce: Option<&str>,
        now: u64,
    ) -> Result<(), Error> {
        self.check_present(&[
            (claim::ISS, true),
            (claim::AUD, true),
            (claim::SUB, true),
            (claim::EXP, true),
            (claim::IAT, true),
        ])?;
        for (index, text) in [
            (claim::NONCE, self.nonce.as_str()),
            (claim::AZP, self.azp.as_str()),
            (claim::FHIR_USER, self.fhir_user.as_str()),
        ] {
            if self.has(index) && text.is_empty() {
                return Err(Error::EmptyClaim(ClaimsRecord::NAMES[index]));
            }
        }
        if self.iss != issuer {
            return Err(Error::WrongIssuer);
        }
        if !self.audience_matches {
            return Err(Error::WrongAudience);
        }
        let azp_needed = self.audience_count > 1 || self.has(claim::AZP);
        if azp_needed && self.azp != policy.audience() {
            return Err(Error::WrongAuthorizedParty);
        }
        let nbf = self.has(claim::NBF).then_some(self.nbf);
        policy.check_times(self.iat, self.exp, nbf, now)?;
        if let Some(expected) = nonce {
            if !self.has(claim::NONCE) {
                return Err(Error::MissingClaim("nonce"));
            }
            if self.nonce != expected {
                return Err(Error::NonceMismatch);
            }
        }
        if self.has(claim::FHIR_USER) && !is_fhir_person(&self.fhir_user) {
            return Err(Error::BadPersonReference("fhirUser"));
        }
        Ok(())
    }

    fn check_present(&self, demands: &[(usize, bool)]) -> Result<(), Error> {
        for &(index, demanded) in demands {
            if demanded && !self.has(index) {
                return Err(Error::MissingClaim(ClaimsRecord::NAMES[index]));
            }
        }
        let texts = [
            (claim::JTI, self.jti.as_str()),
            (claim::SUB, self.sub.as_str()),
            (claim::RESOURCE, self.resource.as_str()),
            (claim::DEFINITION, self.definition.as_str()),
            (claim::PATIENT, self.patient.as_str()),
            (claim::INTENT, self.intent.as_str()),
            (claim::IDP_HINT, self.idp_hint.as_str()),
        ];
        for (index, text) in texts {
            if self.has(index) && text.is_empty() {
                return Err(Error::EmptyClaim(ClaimsRecord::NAMES[index]));
            }
        }
        Ok(())
    }

    fn check_audience_and_times(&self, policy: &Policy, now: u64) -> Result<(), Error> {
        if !self.audience_matches {
            return Err(Error::WrongAudience);
        }
        let nbf = self.has(claim::NBF).then_some(self.nbf);
        policy.check_times(self.iat, self.exp, nbf, now)
    }
}

/// One claim of a payload as the launch reader stored it (feature `hazmat`).
#[cfg(feature = "hazmat")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimValue<'a> {
    /// A string claim, unescaped.
    Text(&'a str),
    /// `iat`, `exp` or `nbf`.
    Date(u64),
    /// `aud`: how many values it had (1 for a string) and whether one was the audience.
    Audience {
        /// Number of values.
        count: u16,
        /// Whether one of them equals the audience asked for.
        matches: bool,
    },
}

/// Reads `json` as the claims of a launch, exactly as [`LaunchVerifier`](crate::LaunchVerifier)
/// does before any check, and hands each claim read to `each`, in the order of
/// `iss aud sub iat exp nbf jti resource definition patient intent idp_hint nonce azp fhirUser`.
/// Feature `hazmat`: for differential testing of the JSON reader (the `claims` fuzz target),
/// never for accepting a token.
///
/// ```
/// use koppeltaal_core::hazmat::{read_claims, ClaimValue};
/// let mut claims = Vec::new();
/// read_claims(br#"{"aud":["a","Device/42"],"i\u0061t":1,"x":[{}]}"#, "Device/42",
///     |name, value| claims.push((name, format!("{value:?}"))))?;
/// assert_eq!(claims, [("aud", "Audience { count: 2, matches: true }".to_string()),
///                     ("iat", "Date(1)".to_string())]);
/// # Ok::<(), koppeltaal_core::Error>(())
/// ```
#[cfg(feature = "hazmat")]
pub fn read_claims(
    json: &[u8],
    audience: &str,
    mut each: impl FnMut(&'static str, ClaimValue<'_>),
) -> Result<(), Error> {
    let policy = Policy::new(audience)?;
    let mut record = ClaimsRecord::default();
    record.parse_into(json, &policy)?;
    for (index, name) in ClaimsRecord::NAMES.iter().enumerate() {
        if !record.has(index) {
            continue;
        }
        let value = match index {
            claim::AUD => ClaimValue::Audience {
                count: record.audience_count,
                matches: record.audience_matches,
            },
            claim::IAT => ClaimValue::Date(record.iat),
            claim::EXP => ClaimValue::Date(record.exp),
            claim::NBF => ClaimValue::Date(record.nbf),
            claim::ISS => ClaimValue::Text(&record.iss),
            claim::SUB => ClaimValue::Text(&record.sub),
            claim::JTI => ClaimValue::Text(&record.jti),
            claim::RESOURCE => ClaimValue::Text(&record.resource),
            claim::DEFINITION => ClaimValue::Text(&record.definition),
            claim::PATIENT => ClaimValue::Text(&record.patient),
            claim::INTENT => ClaimValue::Text(&record.intent),
            claim::IDP_HINT => ClaimValue::Text(&record.idp_hint),
            claim::NONCE => ClaimValue::Text(&record.nonce),
            claim::AZP => ClaimValue::Text(&record.azp),
            _ => ClaimValue::Text(&record.fhir_user),
        };
        each(name, value);
    }
    Ok(())
}

/// The FHIR resource types that identify a person.
const PERSON_TYPES: [&str; 4] = ["Patient", "Practitioner", "RelatedPerson", "Person"];

/// The codes of FHIR R4 `RequestIntent`.
const REQUEST_INTENTS: [&str; 9] = [
    "proposal",
    "plan",
    "directive",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];

/// Whether `code` is a FHIR R4 RequestIntent code.
pub(crate) fn is_request_intent(code: &str) -> bool {
    REQUEST_INTENTS.contains(&code)
}

/// Whether `reference` is `<PersonType>/<id>`, the id a FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
///
/// ```text
/// Practitioner/a5e58253   yes
/// Patient/                no (empty id)
/// Task/11                 no (not a person)
/// ```
pub(crate) fn is_person_reference(reference: &str) -> bool {
    let Some((kind, id)) = reference.split_once('/') else {
        return false;
    };
    PERSON_TYPES.contains(&kind)
        && (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
}

/// Whether `reference` is a FHIR reference to a person: `<PersonType>/<id>`, possibly at the
/// end of an absolute URL (`https://fhir.example.org/fhir/Patient/1`), as `fhirUser` may be.
pub(crate) fn is_fhir_person(reference: &str) -> bool {
    if is_person_reference(reference) {
        return true;
    }
    let Some(rest) = reference
        .strip_prefix("https://")
        .or_else(|| reference.strip_prefix("http://"))
    else {
        return false;
    };
    let mut segments = rest.rsplitn(3, '/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(id), Some(kind), Some(base)) if !base.is_empty() => {
            is_person_reference(&rest[rest.len() - id.len() - kind.len() - 1..])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_users() {
        assert!(is_fhir_person("Patient/1"));
        assert!(is_fhir_person(
            "https://fhir.example.org/fhir/Practitioner/a5e58253"
        ));
        assert!(!is_fhir_person("https://fhir.example.org/fhir/Task/1"));
        assert!(!is_fhir_person("fhir/Patient/1"));
        assert!(!is_fhir_person("Patient"));
        assert!(!is_fhir_person("https://Patient/"));
    }

    #[test]
    fn person_references() {
        for ok in [
            "Practitioner/a5e58253",
            "Patient/1",
            "RelatedPerson/x-y.z",
            "Person/A",
        ] {
            assert!(is_person_reference(ok), "{ok}");
        }
        let longest = std::format!("Patient/{}", "a".repeat(64));
        assert!(is_person_reference(&longest));
        let too_long = std::format!("Patient/{}", "a".repeat(65));
        for bad in [
            "Patient/",
            "Task/11",
            "Patient",
            "patient/1",
            "Patient/1/2",
            "Patient/a b",
            &too_long,
        ] {
            assert!(!is_person_reference(bad), "{bad}");
        }
    }

    fn parse(json: &str) -> Result<ClaimsRecord, Error> {
        let policy = Policy::new("Device/42").unwrap();
        let mut record = ClaimsRecord::default();
        record.parse_into(json.as_bytes(), &policy)?;
        Ok(record)
    }

    extern crate std;

    #[test]
    fn audience_as_string_or_array() {
        assert!(parse(r#"{"aud":"Device/42"}"#).unwrap().audience_matches);
        assert!(
            parse(r#"{"aud":["x","Device/42"]}"#)
                .unwrap()
                .audience_matches
        );
        assert!(parse(r#"{"aud":"Device\/42"}"#).unwrap().audience_matches);
        assert!(
            !parse(r#"{"aud":["x","Device/4"]}"#)
                .unwrap()
                .audience_matches
        );
        assert!(!parse(r#"{"aud":[]}"#).unwrap().audience_matches);
        assert_eq!(
            parse(r#"{"aud":["x",5]}"#).err(),
            Some(Error::InvalidMemberType("aud"))
        );
        assert_eq!(
            parse(r#"{"aud":{"a":1}}"#).err(),
            Some(Error::InvalidMemberType("aud"))
        );
        assert_eq!(
            parse(r#"{"aud":null}"#).err(),
            Some(Error::InvalidMemberType("aud"))
        );
    }

    #[test]
    fn skips_unknown_values_of_any_shape_and_whitespace() {
        let json = "\r\n{ \"x\" : { \"y\" : [ \"]}\\\"\\\\\" , { } , [ ] , -1.5e+3 , true , null ] } ,\n\t\"z\":\"\\u005d\" , \"iss\" : \"a\" , \"w\":[[{\"v\":[]}]] , \"jti\":\"b\" ,\"exp\": 7 } ";
        let record = parse(json).unwrap();
        assert_eq!((record.iss.as_str(), record.jti.as_str()), ("a", "b"));
        assert_eq!(record.exp, 7);
        assert_eq!(
            record.seen,
            1 << claim::ISS | 1 << claim::JTI | 1 << claim::EXP
        );
    }

    #[test]
    fn numeric_dates_must_be_plain_unsigned_integers() {
        assert_eq!(parse(r#"{"exp":1700000300}"#).unwrap().exp, 1_700_000_300);
        assert_eq!(
            parse(r#"{"exp":18446744073709551615}"#).unwrap().exp,
            u64::MAX
        );
        for bad in [
            "1.5",
            "1e3",
            "1E3",
            "-1",
            "-0",
            "18446744073709551616",
            "\"1700000300\"",
            "true",
            "null",
            "[1]",
            "{}",
        ] {
            let json = std::format!(r#"{{"exp":{bad},"iss":"x"}}"#);
            assert_eq!(
                parse(&json).err(),
                Some(Error::InvalidNumericDate("exp")),
                "{bad}"
            );
        }
        assert_eq!(
            parse(r#"{"iss":"x","iat":0.0}"#).err(),
            Some(Error::InvalidNumericDate("iat"))
        );
        assert_eq!(
            parse(r#"{"nbf":2.5e9}"#).err(),
            Some(Error::InvalidNumericDate("nbf"))
        );
    }

    #[test]
    fn duplicates_types_and_lengths() {
        assert_eq!(
            parse(r#"{"exp":1,"exp":2}"#).err(),
            Some(Error::DuplicateMember("exp"))
        );
        assert_eq!(
            parse(r#"{"exp":1,"\u0065xp":2}"#).err(),
            Some(Error::DuplicateMember("exp"))
        );
        assert_eq!(
            parse(r#"{"aud":"a","aud":"b"}"#).err(),
            Some(Error::DuplicateMember("aud"))
        );
        assert_eq!(
            parse(r#"{"x":1,"x":2}"#).err(),
            None,
            "unread members are not compared"
        );
        assert_eq!(
            parse(r#"{"iss":5}"#).err(),
            Some(Error::InvalidMemberType("iss"))
        );
        assert_eq!(
            parse(r#"{"intent":["plan"]}"#).err(),
            Some(Error::InvalidMemberType("intent"))
        );
        let long = std::format!(r#"{{"jti":"{}"}}"#, "a".repeat(capacity::TOKEN_ID + 1));
        assert_eq!(parse(&long).err(), Some(Error::ValueTooLong("jti")));
        assert_eq!(
            parse(r#"{"sub":"\ud800"}"#).err(),
            Some(Error::InvalidJson(Part::Payload))
        );
    }
}
