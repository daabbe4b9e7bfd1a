//! The one error type of the crate.

use core::fmt;

use crate::algorithm::Algorithm;

/// A part of a compact JWS, named in errors about its encoding or its JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The first segment: the JOSE header.
    Header,
    /// The second segment: the claims.
    Payload,
    /// The third segment: the signature.
    Signature,
    /// A JWKS document (not part of a token, but parsed by the same code).
    KeySet,
}

impl Part {
    /// The lower-case name used in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
            Part::KeySet => "key set",
        }
    }
}

/// Every way verifying a token, or loading the keys to verify it with, can fail.
///
/// Each variant has a stable numeric [`code`](Error::code) (grouped by hundreds: 1xx token form,
/// 2xx JSON, 3xx header, 4xx keys and signature, 5xx claims, 6xx replay, 7xx key sets and
/// configuration, 8xx producing tokens) that log
/// lines, user-facing pages and the C ABI quote. Codes are never reused or renumbered.
///
/// When several checks would fail, the one reported is the first in the order the verifier
/// makes them (see the crate documentation), so a forged token is reported as a signature
/// failure and never as, say, an expired one.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    // ---- 1xx: the compact serialization -------------------------------------------------------
    /// The token is longer than the configured maximum length.
    TokenTooLarge,
    /// The token is not three dot-separated segments, or its header or payload segment is empty.
    MalformedToken,
    /// The token has five segments (four dots): a JWE-encrypted launch (HTI:jwe), which this
    /// verifier does not decrypt.
    EncryptedToken,
    /// A segment is not canonical unpadded base64url: padding, a byte outside the alphabet
    /// (whitespace included), an impossible length or non-zero trailing bits.
    InvalidBase64(Part),
    /// The signature segment is empty.
    MissingSignature,

    // ---- 2xx: JSON ----------------------------------------------------------------------------
    /// The header, payload or key set is not a well-formed JSON object (RFC 8259) in UTF-8.
    InvalidJson(Part),
    /// The JSON nests objects and arrays deeper than the parser allows.
    JsonTooDeep(Part),
    /// A member the verifier reads appears twice in the same object.
    DuplicateMember(&'static str),
    /// A member has the wrong JSON type (for example `"iss": 5`).
    InvalidMemberType(&'static str),
    /// A time claim is not an integer number of seconds in `0..=u64::MAX` (negative,
    /// fractional, exponent form, a string, or too large).
    InvalidNumericDate(&'static str),
    /// A string member is longer than the fixed capacity reserved for it.
    ValueTooLong(&'static str),
    /// An object has more members than the parser accepts.
    TooManyMembers(Part),

    // ---- 3xx: the JOSE header -----------------------------------------------------------------
    /// `alg` is `none` (in any letter case) or an HMAC algorithm (`HS256`, `HS384`, `HS512`):
    /// never acceptable for a launch, and never implemented here.
    ForbiddenAlgorithm,
    /// `alg` names an algorithm this crate does not implement (or whose cargo feature is off).
    UnsupportedAlgorithm,
    /// `alg` is implemented but not in the policy's allowed set.
    AlgorithmNotAllowed(Algorithm),
    /// The header has no `kid`; keys are selected by `kid` only.
    MissingKeyId,
    /// The header carries `jwk`, `jku`, `x5u` or `x5c`: keys come only from configuration,
    /// and a token that points at its own key is refused outright.
    EmbeddedKey,
    /// The header has a `crit` member: no JWS extension is understood, so none may be critical.
    UnsupportedCritical,
    /// `typ` is present and is not `JWT` (or the value the policy expects).
    UnexpectedType,
    /// The header has no `alg`.
    MissingAlgorithm,

    // ---- 4xx: keys and signature --------------------------------------------------------------
    /// The token's issuer is not one the verifier holds keys for.
    WrongIssuer,
    /// No key in the issuer's key set has the token's `kid`.
    UnknownKeyId,
    /// A key with the token's `kid` exists but may not verify this token: its `use` is not
    /// `sig`, its `key_ops` lack `verify`, or its type or `alg` disagrees with the token's `alg`.
    KeyNotUsable,
    /// The key is an RSA key shorter than 2048 bits (its size is given).
    KeyTooSmall {
        /// The modulus length in bits.
        bits: u16,
    },
    /// The key is an RSA key longer than 4096 bits (its size is given, saturated at `u16::MAX`).
    KeyTooLarge {
        /// The modulus length in bits.
        bits: u16,
    },
    /// The key's parameters are malformed: an even modulus, an unusable
    /// public exponent, a missing parameter, or a key type this crate does not know.
    InvalidKey,
    /// The signature's length differs from the length the algorithm and key require.
    InvalidSignatureLength,
    /// The signature's integers are out of range: an RSA signature not smaller than the
    /// modulus, or an ECDSA `r` or `s` that is zero or not smaller than the group order.
    SignatureOutOfRange,
    /// The signature does not verify.
    BadSignature,

    // ---- 5xx: claims --------------------------------------------------------------------------
    /// A required claim is absent.
    MissingClaim(&'static str),
    /// A required string claim is present but empty.
    EmptyClaim(&'static str),
    /// `aud` does not contain the configured audience.
    WrongAudience,
    /// The token has expired: `now >= exp + leeway`.
    Expired,
    /// The token's `nbf` lies in the future: `now + leeway < nbf`.
    NotYetValid,
    /// The token was issued in the future: `iat > now + leeway`.
    IssuedInFuture,
    /// The token lives longer than allowed: `exp - iat` exceeds the maximum lifetime.
    LifetimeTooLong,
    /// `exp` is not after `iat`.
    ExpiresBeforeIssued,
    /// `sub` or `patient` is not a FHIR person reference `<Type>/<id>` with Type one of
    /// Patient, Practitioner, RelatedPerson or Person.
    BadPersonReference(&'static str),
    /// `intent` is not a FHIR RequestIntent code.
    InvalidIntent,

    // ---- 6xx: replay --------------------------------------------------------------------------
    /// A token with the same issuer and `jti` has been accepted before and has not expired.
    Replayed,
    /// The replay guard holds as many unexpired tokens as it can; the token is refused rather
    /// than forgetting one that may still be replayed.
    ReplayStoreFull,

    // ---- 7xx: key sets and configuration ------------------------------------------------------
    /// The document is JSON but not a JWKS (no `keys` array, or a key that is not an object).
    InvalidKeySet,
    /// The key set has more keys than the capacity of the `KeySet`.
    TooManyKeys,
    /// A configuration value is out of range (for example an empty audience).
    InvalidConfiguration,

    // ---- 8xx: producing tokens and documents --------------------------------------------------
    /// The output buffer is too small for what is being written.
    BufferTooSmall,
    /// The output sink refused a write for a reason other than being full.
    WriteFailed,
    /// The signer (a software key, an HSM, a secure element) failed to sign.
    SigningFailed,
}

impl Error {
    /// Every code, ascending: what a caller mapping codes (a log parser, a C wrapper) can meet.
    pub const CODES: &'static [u16] = &[
        100, 101, 102, 103, 104, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305,
        306, 307, 400, 401, 402, 403, 404, 405, 406, 407, 408, 500, 501, 502, 503, 504, 505, 506,
        507, 508, 509, 600, 601, 700, 701, 702, 800, 801, 802,
    ];

    /// A one-line description of the error with `code`, without the details a value of the
    /// error may carry (which member, which size): for tables and the C ABI, which can only
    /// hand out static strings. `None` for a code that is not one of [`Error::CODES`].
    ///
    /// ```
    /// use koppeltaal_core::Error;
    /// assert_eq!(Error::summary_of(503), Some("token has expired"));
    /// assert_eq!(Error::summary_of(42), None);
    /// ```
    pub const fn summary_of(code: u16) -> Option<&'static str> {
        match code {
            100 => Some("token is longer than the configured maximum"),
            101 => Some("token is not a compact JWS of three dot-separated segments"),
            102 => Some("token is an encrypted (JWE) launch"),
            103 => Some("a token segment is not canonical unpadded base64url"),
            104 => Some("token has no signature"),
            200 => Some("header, payload or key set is not a well-formed JSON object"),
            201 => Some("JSON nests too deeply"),
            202 => Some("a member appears more than once"),
            203 => Some("a member has the wrong JSON type"),
            204 => Some("a time claim is not a whole, non-negative number of seconds"),
            205 => Some("a value is longer than this verifier accepts"),
            206 => Some("an object has too many members"),
            300 => Some("algorithm `none` or HMAC is never accepted for this token"),
            301 => Some("algorithm is not supported"),
            302 => Some("algorithm is not allowed by the policy"),
            303 => Some("header has no `kid`"),
            304 => Some("header carries its own key (`jwk`, `jku`, `x5u` or `x5c`)"),
            305 => Some("header lists critical extensions (`crit`)"),
            306 => Some("header `typ` is not the expected type"),
            307 => Some("header has no `alg`"),
            400 => Some("issuer is not trusted"),
            401 => Some("no key of the issuer has this `kid`"),
            402 => Some("the key with this `kid` may not verify this token"),
            403 => Some("RSA key is smaller than 2048 bits"),
            404 => Some("RSA key is larger than 4096 bits"),
            405 => Some("key parameters are malformed"),
            406 => Some("signature has the wrong length"),
            407 => Some("signature value is out of range for the key"),
            408 => Some("signature does not verify"),
            500 => Some("a required claim is missing"),
            501 => Some("a required claim is empty"),
            502 => Some("token is meant for another audience"),
            503 => Some("token has expired"),
            504 => Some("token is not valid yet (`nbf`)"),
            505 => Some("token was issued in the future (`iat`)"),
            506 => Some("token lifetime exceeds the maximum"),
            507 => Some("`exp` is not after `iat`"),
            508 => Some("`sub` or `patient` is not a FHIR person reference"),
            509 => Some("`intent` is not a FHIR RequestIntent code"),
            600 => Some("token has been used before"),
            601 => Some("replay guard is full of unexpired tokens"),
            700 => Some("document is not a JWKS"),
            701 => Some("key set has more keys than its capacity"),
            702 => Some("configuration value is out of range"),
            800 => Some("output buffer is too small"),
            801 => Some("output could not be written"),
            802 => Some("the signer failed to sign"),
            _ => None,
        }
    }

    /// The stable numeric code of this error.
    ///
    /// ```
    /// use koppeltaal_core::Error;
    /// assert_eq!(Error::Replayed.code(), 600);
    /// ```
    pub const fn code(&self) -> u16 {
        match self {
            Error::TokenTooLarge => 100,
            Error::MalformedToken => 101,
            Error::EncryptedToken => 102,
            Error::InvalidBase64(_) => 103,
            Error::MissingSignature => 104,

            Error::InvalidJson(_) => 200,
            Error::JsonTooDeep(_) => 201,
            Error::DuplicateMember(_) => 202,
            Error::InvalidMemberType(_) => 203,
            Error::InvalidNumericDate(_) => 204,
            Error::ValueTooLong(_) => 205,
            Error::TooManyMembers(_) => 206,

            Error::ForbiddenAlgorithm => 300,
            Error::UnsupportedAlgorithm => 301,
            Error::AlgorithmNotAllowed(_) => 302,
            Error::MissingKeyId => 303,
            Error::EmbeddedKey => 304,
            Error::UnsupportedCritical => 305,
            Error::UnexpectedType => 306,
            Error::MissingAlgorithm => 307,

            Error::WrongIssuer => 400,
            Error::UnknownKeyId => 401,
            Error::KeyNotUsable => 402,
            Error::KeyTooSmall { .. } => 403,
            Error::KeyTooLarge { .. } => 404,
            Error::InvalidKey => 405,
            Error::InvalidSignatureLength => 406,
            Error::SignatureOutOfRange => 407,
            Error::BadSignature => 408,

            Error::MissingClaim(_) => 500,
            Error::EmptyClaim(_) => 501,
            Error::WrongAudience => 502,
            Error::Expired => 503,
            Error::NotYetValid => 504,
            Error::IssuedInFuture => 505,
            Error::LifetimeTooLong => 506,
            Error::ExpiresBeforeIssued => 507,
            Error::BadPersonReference(_) => 508,
            Error::InvalidIntent => 509,

            Error::Replayed => 600,
            Error::ReplayStoreFull => 601,

            Error::InvalidKeySet => 700,
            Error::TooManyKeys => 701,
            Error::InvalidConfiguration => 702,

            Error::BufferTooSmall => 800,
            Error::WriteFailed => 801,
            Error::SigningFailed => 802,
        }
    }

    /// The variant's name, as printed by tools (`error: <name> (<code>): <message>`).
    ///
    /// ```
    /// use koppeltaal_core::Error;
    /// assert_eq!(Error::KeyTooSmall { bits: 1024 }.name(), "KeyTooSmall");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Error::TokenTooLarge => "TokenTooLarge",
            Error::MalformedToken => "MalformedToken",
            Error::EncryptedToken => "EncryptedToken",
            Error::InvalidBase64(_) => "InvalidBase64",
            Error::MissingSignature => "MissingSignature",
            Error::InvalidJson(_) => "InvalidJson",
            Error::JsonTooDeep(_) => "JsonTooDeep",
            Error::DuplicateMember(_) => "DuplicateMember",
            Error::InvalidMemberType(_) => "InvalidMemberType",
            Error::InvalidNumericDate(_) => "InvalidNumericDate",
            Error::ValueTooLong(_) => "ValueTooLong",
            Error::TooManyMembers(_) => "TooManyMembers",
            Error::ForbiddenAlgorithm => "ForbiddenAlgorithm",
            Error::UnsupportedAlgorithm => "UnsupportedAlgorithm",
            Error::AlgorithmNotAllowed(_) => "AlgorithmNotAllowed",
            Error::MissingKeyId => "MissingKeyId",
            Error::EmbeddedKey => "EmbeddedKey",
            Error::UnsupportedCritical => "UnsupportedCritical",
            Error::UnexpectedType => "UnexpectedType",
            Error::MissingAlgorithm => "MissingAlgorithm",
            Error::WrongIssuer => "WrongIssuer",
            Error::UnknownKeyId => "UnknownKeyId",
            Error::KeyNotUsable => "KeyNotUsable",
            Error::KeyTooSmall { .. } => "KeyTooSmall",
            Error::KeyTooLarge { .. } => "KeyTooLarge",
            Error::InvalidKey => "InvalidKey",
            Error::InvalidSignatureLength => "InvalidSignatureLength",
            Error::SignatureOutOfRange => "SignatureOutOfRange",
            Error::BadSignature => "BadSignature",
            Error::MissingClaim(_) => "MissingClaim",
            Error::EmptyClaim(_) => "EmptyClaim",
            Error::WrongAudience => "WrongAudience",
            Error::Expired => "Expired",
            Error::NotYetValid => "NotYetValid",
            Error::IssuedInFuture => "IssuedInFuture",
            Error::LifetimeTooLong => "LifetimeTooLong",
            Error::ExpiresBeforeIssued => "ExpiresBeforeIssued",
            Error::BadPersonReference(_) => "BadPersonReference",
            Error::InvalidIntent => "InvalidIntent",
            Error::Replayed => "Replayed",
            Error::ReplayStoreFull => "ReplayStoreFull",
            Error::InvalidKeySet => "InvalidKeySet",
            Error::TooManyKeys => "TooManyKeys",
            Error::InvalidConfiguration => "InvalidConfiguration",
            Error::BufferTooSmall => "BufferTooSmall",
            Error::WriteFailed => "WriteFailed",
            Error::SigningFailed => "SigningFailed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TokenTooLarge => f.write_str("token is longer than the configured maximum"),
            Error::MalformedToken => {
                f.write_str("token is not a compact JWS of three dot-separated segments")
            }
            Error::EncryptedToken => f.write_str("token is an encrypted (JWE) launch"),
            Error::InvalidBase64(part) => {
                write!(f, "{} is not canonical unpadded base64url", part.as_str())
            }
            Error::MissingSignature => f.write_str("token has no signature"),
            Error::InvalidJson(part) => {
                write!(f, "{} is not a well-formed JSON object", part.as_str())
            }
            Error::JsonTooDeep(part) => write!(f, "{} nests JSON too deeply", part.as_str()),
            Error::DuplicateMember(name) => write!(f, "member `{name}` appears more than once"),
            Error::InvalidMemberType(name) => write!(f, "member `{name}` has the wrong JSON type"),
            Error::InvalidNumericDate(name) => {
                write!(f, "`{name}` is not a whole, non-negative number of seconds")
            }
            Error::ValueTooLong(name) => write!(f, "`{name}` is longer than this verifier accepts"),
            Error::TooManyMembers(part) => write!(f, "{} has too many members", part.as_str()),
            Error::ForbiddenAlgorithm => {
                f.write_str("algorithm `none` or HMAC is never accepted for this token")
            }
            Error::UnsupportedAlgorithm => f.write_str("algorithm is not supported"),
            Error::AlgorithmNotAllowed(alg) => {
                write!(f, "algorithm {} is not allowed by the policy", alg.as_str())
            }
            Error::MissingKeyId => f.write_str("header has no `kid`"),
            Error::EmbeddedKey => {
                f.write_str("header carries its own key (`jwk`, `jku`, `x5u` or `x5c`)")
            }
            Error::UnsupportedCritical => f.write_str("header lists critical extensions (`crit`)"),
            Error::UnexpectedType => f.write_str("header `typ` is not the expected type"),
            Error::MissingAlgorithm => f.write_str("header has no `alg`"),
            Error::WrongIssuer => f.write_str("issuer is not trusted"),
            Error::UnknownKeyId => f.write_str("no key of the issuer has this `kid`"),
            Error::KeyNotUsable => f.write_str("the key with this `kid` may not verify this token"),
            Error::KeyTooSmall { bits } => {
                write!(f, "RSA key of {bits} bits is smaller than 2048 bits")
            }
            Error::KeyTooLarge { bits } => {
                write!(f, "RSA key of {bits} bits is larger than 4096 bits")
            }
            Error::InvalidKey => f.write_str("key parameters are malformed"),
            Error::InvalidSignatureLength => f.write_str("signature has the wrong length"),
            Error::SignatureOutOfRange => {
                f.write_str("signature value is out of range for the key")
            }
            Error::BadSignature => f.write_str("signature does not verify"),
            Error::MissingClaim(name) => write!(f, "required claim `{name}` is missing"),
            Error::EmptyClaim(name) => write!(f, "required claim `{name}` is empty"),
            Error::WrongAudience => f.write_str("token is meant for another audience"),
            Error::Expired => f.write_str("token has expired"),
            Error::NotYetValid => f.write_str("token is not valid yet (`nbf`)"),
            Error::IssuedInFuture => f.write_str("token was issued in the future (`iat`)"),
            Error::LifetimeTooLong => f.write_str("token lifetime exceeds the maximum"),
            Error::ExpiresBeforeIssued => f.write_str("`exp` is not after `iat`"),
            Error::BadPersonReference(name) => {
                write!(f, "`{name}` is not a FHIR person reference")
            }
            Error::InvalidIntent => f.write_str("`intent` is not a FHIR RequestIntent code"),
            Error::Replayed => f.write_str("token has been used before"),
            Error::ReplayStoreFull => f.write_str("replay guard is full of unexpired tokens"),
            Error::InvalidKeySet => f.write_str("document is not a JWKS"),
            Error::TooManyKeys => f.write_str("key set has more keys than its capacity"),
            Error::InvalidConfiguration => f.write_str("configuration value is out of range"),
            Error::BufferTooSmall => f.write_str("output buffer is too small"),
            Error::WriteFailed => f.write_str("output could not be written"),
            Error::SigningFailed => f.write_str("the signer failed to sign"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant. The match below has no wildcard, so adding a variant
    /// without adding it here (and to `CODES`) does not compile.
    fn every_variant() -> [Error; 47] {
        let all = [
            Error::TokenTooLarge,
            Error::MalformedToken,
            Error::EncryptedToken,
            Error::InvalidBase64(Part::Header),
            Error::MissingSignature,
            Error::InvalidJson(Part::Payload),
            Error::JsonTooDeep(Part::Payload),
            Error::DuplicateMember("exp"),
            Error::InvalidMemberType("iss"),
            Error::InvalidNumericDate("exp"),
            Error::ValueTooLong("jti"),
            Error::TooManyMembers(Part::Payload),
            Error::ForbiddenAlgorithm,
            Error::UnsupportedAlgorithm,
            Error::AlgorithmNotAllowed(Algorithm::RS256),
            Error::MissingKeyId,
            Error::EmbeddedKey,
            Error::UnsupportedCritical,
            Error::UnexpectedType,
            Error::MissingAlgorithm,
            Error::WrongIssuer,
            Error::UnknownKeyId,
            Error::KeyNotUsable,
            Error::KeyTooSmall { bits: 1024 },
            Error::KeyTooLarge { bits: 8192 },
            Error::InvalidKey,
            Error::InvalidSignatureLength,
            Error::SignatureOutOfRange,
            Error::BadSignature,
            Error::MissingClaim("sub"),
            Error::EmptyClaim("jti"),
            Error::WrongAudience,
            Error::Expired,
            Error::NotYetValid,
            Error::IssuedInFuture,
            Error::LifetimeTooLong,
            Error::ExpiresBeforeIssued,
            Error::BadPersonReference("sub"),
            Error::InvalidIntent,
            Error::Replayed,
            Error::ReplayStoreFull,
            Error::InvalidKeySet,
            Error::TooManyKeys,
            Error::InvalidConfiguration,
            Error::BufferTooSmall,
            Error::WriteFailed,
            Error::SigningFailed,
        ];
        for error in all {
            match error {
                Error::TokenTooLarge
                | Error::MalformedToken
                | Error::EncryptedToken
                | Error::InvalidBase64(_)
                | Error::MissingSignature
                | Error::InvalidJson(_)
                | Error::JsonTooDeep(_)
                | Error::DuplicateMember(_)
                | Error::InvalidMemberType(_)
                | Error::InvalidNumericDate(_)
                | Error::ValueTooLong(_)
                | Error::TooManyMembers(_)
                | Error::ForbiddenAlgorithm
                | Error::UnsupportedAlgorithm
                | Error::AlgorithmNotAllowed(_)
                | Error::MissingKeyId
                | Error::EmbeddedKey
                | Error::UnsupportedCritical
                | Error::UnexpectedType
                | Error::MissingAlgorithm
                | Error::WrongIssuer
                | Error::UnknownKeyId
                | Error::KeyNotUsable
                | Error::KeyTooSmall { .. }
                | Error::KeyTooLarge { .. }
                | Error::InvalidKey
                | Error::InvalidSignatureLength
                | Error::SignatureOutOfRange
                | Error::BadSignature
                | Error::MissingClaim(_)
                | Error::EmptyClaim(_)
                | Error::WrongAudience
                | Error::Expired
                | Error::NotYetValid
                | Error::IssuedInFuture
                | Error::LifetimeTooLong
                | Error::ExpiresBeforeIssued
                | Error::BadPersonReference(_)
                | Error::InvalidIntent
                | Error::Replayed
                | Error::ReplayStoreFull
                | Error::InvalidKeySet
                | Error::TooManyKeys
                | Error::InvalidConfiguration
                | Error::BufferTooSmall
                | Error::WriteFailed
                | Error::SigningFailed => {}
            }
        }
        all
    }

    #[test]
    fn codes_are_unique_ascending_and_listed() {
        let codes = every_variant().map(|error| error.code());
        assert_eq!(&codes[..], Error::CODES);
        assert!(Error::CODES.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn every_code_has_a_summary() {
        for code in Error::CODES {
            assert!(
                Error::summary_of(*code).is_some_and(|summary| !summary.is_empty()),
                "{code}"
            );
        }
    }

    #[test]
    fn names_are_unique_and_messages_are_nonempty() {
        use core::fmt::Write;
        let all = every_variant();
        for (index, error) in all.iter().enumerate() {
            assert!(
                all[..index]
                    .iter()
                    .all(|other| other.name() != error.name())
            );
            let mut message = heapless::String::<128>::new();
            write!(message, "{error}").unwrap();
            assert!(!message.is_empty(), "{}", error.name());
        }
    }
}
