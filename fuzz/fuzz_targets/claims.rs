//! The JSON reader of the core (`hazmat::read_claims`: a launch's claims as read before any
//! check) against `serde_json` on any bytes: the same verdict, the same values, the same error.
//!
//! The oracle below restates what the reader must do, over `serde_json`'s parse: RFC 8259
//! exactly, at most 16 levels deep and 64 members at the top; a known claim twice is
//! `DuplicateMember`; strings unescaped and bounded by the `capacity` constants; `iat`, `exp`
//! and `nbf` unsigned integers written as digits only; `aud` a string or an array of strings;
//! everything else skipped unread. Inputs where the two parsers legitimately differ are left
//! out of the comparison (never out of the run): a lone surrogate escape, which `serde_json`
//! refuses wherever it is and the reader only where it unescapes.
#![no_main]

use koppeltaal_core::hazmat::{ClaimValue, read_claims};
use koppeltaal_core::{Error, Part, capacity};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

const AUDIENCE: &str = "Device/42";
const MAX_DEPTH: usize = 16;
const MAX_MEMBERS: usize = 64;

/// The claims the reader knows, in its order, with the capacity of each string claim.
const CLAIMS: [(&str, Kind); 15] = [
    ("iss", Kind::Text(capacity::ISSUER)),
    ("aud", Kind::Audience),
    ("sub", Kind::Text(capacity::PERSON)),
    ("iat", Kind::Date),
    ("exp", Kind::Date),
    ("nbf", Kind::Date),
    ("jti", Kind::Text(capacity::TOKEN_ID)),
    ("resource", Kind::Text(capacity::RESOURCE)),
    ("definition", Kind::Text(capacity::DEFINITION)),
    ("patient", Kind::Text(capacity::PERSON)),
    ("intent", Kind::Text(capacity::INTENT)),
    ("idp_hint", Kind::Text(capacity::IDP_HINT)),
    ("nonce", Kind::Text(capacity::NONCE)),
    ("azp", Kind::Text(capacity::AUTHORIZED_PARTY)),
    ("fhirUser", Kind::Text(capacity::FHIR_USER)),
];

#[derive(Clone, Copy)]
enum Kind {
    Text(usize),
    Date,
    Audience,
}

#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Text(String),
    Date(u64),
    Audience { count: u16, matches: bool },
}

/// What the reader must return: its claims in order, or an error.
#[derive(Debug)]
enum Expected {
    Claims(Vec<(&'static str, Claim)>),
    Error(Error),
    /// Refused as JSON: `InvalidJson`, `JsonTooDeep` or `TooManyMembers`, whichever the
    /// reader meets first.
    NotJson,
}

/// The top-level members in document order, duplicates kept, values unparsed.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Members<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'de>, M::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A lone surrogate: the one place where the two parsers may differ. `None` ends the
/// comparison for this input.
struct Skip;

fn is_surrogate_error(error: &serde_json::Error) -> bool {
    let message = error.to_string();
    message.contains("surrogate") || message.contains("hex escape")
}

fn string(raw: &RawValue) -> Result<String, Skip> {
    serde_json::from_str::<String>(raw.get()).map_err(|_| Skip)
}

/// Deepest nesting and number of top-level members of a document `serde_json` accepted.
fn shape(text: &str) -> (usize, usize) {
    let (mut depth, mut deepest, mut members) = (0usize, 0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth -= 1,
            b':' if depth == 1 => members += 1,
            _ => {}
        }
    }
    (deepest, members)
}

fn expected(data: &[u8]) -> Result<Expected, Skip> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(Expected::NotJson);
    };
    let members = match serde_json::from_str::<Members>(text) {
        Ok(members) => members,
        Err(error) if is_surrogate_error(&error) => return Err(Skip),
        Err(_) => return Ok(Expected::NotJson),
    };
    let (deepest, count) = shape(text);
    if deepest > MAX_DEPTH || count > MAX_MEMBERS {
        return Ok(Expected::NotJson);
    }
    let mut claims: Vec<(usize, Claim)> = Vec::new();
    for (name, raw) in &members.0 {
        let Some(index) = CLAIMS.iter().position(|(known, _)| known == name) else {
            continue;
        };
        let (name, kind) = CLAIMS[index];
        if claims.iter().any(|(seen, _)| *seen == index) {
            return Ok(Expected::Error(Error::DuplicateMember(name)));
        }
        let claim = match kind {
            Kind::Text(_) if !raw.get().starts_with('"') => {
                return Ok(Expected::Error(Error::InvalidMemberType(name)));
            }
            Kind::Text(capacity) => {
                let value = string(raw)?;
                if value.len() > capacity {
                    return Ok(Expected::Error(Error::ValueTooLong(name)));
                }
                Claim::Text(value)
            }
            Kind::Date => {
                let digits = raw.get();
                match digits.bytes().all(|byte| byte.is_ascii_digit()) {
                    true => match digits.parse::<u64>() {
                        Ok(seconds) => Claim::Date(seconds),
                        Err(_) => return Ok(Expected::Error(Error::InvalidNumericDate(name))),
                    },
                    false => return Ok(Expected::Error(Error::InvalidNumericDate(name))),
                }
            }
            Kind::Audience => {
                let values: Vec<&RawValue> = match raw.get().as_bytes().first() {
                    Some(b'"') => vec![raw],
                    Some(b'[') => serde_json::from_str(raw.get()).map_err(|_| Skip)?,
                    _ => return Ok(Expected::Error(Error::InvalidMemberType(name))),
                };
                if !values.iter().all(|value| value.get().starts_with('"')) {
                    return Ok(Expected::Error(Error::InvalidMemberType(name)));
                }
                let mut matches = false;
                for value in &values {
                    matches |= string(value)? == AUDIENCE;
                }
                let count = u16::try_from(values.len()).unwrap_or(u16::MAX);
                Claim::Audience { count, matches }
            }
        };
        claims.push((index, claim));
    }
    claims.sort_by_key(|(index, _)| *index);
    Ok(Expected::Claims(
        claims
            .into_iter()
            .map(|(index, claim)| (CLAIMS[index].0, claim))
            .collect(),
    ))
}

fuzz_target!(|data: &[u8]| {
    let mut read = Vec::new();
    let verdict = read_claims(data, AUDIENCE, |name, value| {
        read.push((
            name,
            match value {
                ClaimValue::Text(text) => Claim::Text(text.to_owned()),
                ClaimValue::Date(seconds) => Claim::Date(seconds),
                ClaimValue::Audience { count, matches } => Claim::Audience { count, matches },
            },
        ))
    });
    let Ok(expected) = expected(data) else {
        return;
    };
    match (&expected, verdict) {
        (Expected::Claims(claims), Ok(())) => assert_eq!(*claims, read, "{data:?}"),
        (Expected::Error(error), Err(got)) => assert_eq!(*error, got, "{data:?}"),
        (
            Expected::NotJson,
            Err(
                Error::InvalidJson(Part::Payload)
                | Error::JsonTooDeep(Part::Payload)
                | Error::TooManyMembers(Part::Payload),
            ),
        ) => {}
        (expected, got) => panic!("expected {expected:?}, read {got:?} ({read:?}) from {data:?}"),
    }
});
