//! The one error type of the crate.

use core::ffi::CStr;
use core::fmt;

use crate::jose::algorithm::Algorithm;

/// A part of a compact JWS (or JWE), named in errors about its encoding or its JSON.
#[non_exhaustive]
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
    /// A JWE's second segment: the encrypted content key.
    EncryptedKey,
    /// A JWE's third segment: the initialization vector.
    InitializationVector,
    /// A JWE's fourth segment: the ciphertext.
    Ciphertext,
    /// A JWE's fifth segment: the authentication tag.
    AuthenticationTag,
}

impl Part {
    /// The lower-case name used in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
            Part::KeySet => "key set",
            Part::EncryptedKey => "encrypted key",
            Part::InitializationVector => "initialization vector",
            Part::Ciphertext => "ciphertext",
            Part::AuthenticationTag => "authentication tag",
        }
    }
}

/// Declares [`Error`] from one table: each variant written once with its code and summary,
/// and its code, name, summary, C-string summary, [`Error::CODES`] and `Display` generated
/// from that line.
macro_rules! error_table {
    (
        $(
            $(#[$meta:meta])*
            $variant:ident
            $( ( $field:ty ) )?
            $( { $( $(#[$field_meta:meta])* $name:ident : $name_ty:ty ),* $(,)? } )?
            = $code:literal, $summary:literal;
        )*
    ) => {
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
            $(
                $(#[$meta])*
                $variant $( ($field) )? $( { $( $(#[$field_meta])* $name: $name_ty ),* } )?,
            )*
        }

        impl Error {
            /// Every code, ascending: what a caller mapping codes (a log parser, a C wrapper)
            /// can meet.
            pub const CODES: &'static [u16] = &[$($code),*];

            /// The stable numeric code of this error.
            ///
            /// ```
            /// use koppeltaal_core::Error;
            /// assert_eq!(Error::Replayed.code(), 600);
            /// ```
            pub const fn code(&self) -> u16 {
                match self {
                    $( error_table!(@pattern $variant $( ($field) )? $( { $($name)* } )?) => $code, )*
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
                    $( error_table!(@pattern $variant $( ($field) )? $( { $($name)* } )?) => stringify!($variant), )*
                }
            }

            /// The name of the variant with `code` (`None` for a code that is not one of
            /// [`Error::CODES`]).
            ///
            /// ```
            /// use koppeltaal_core::Error;
            /// assert_eq!(Error::name_of(600), Some("Replayed"));
            /// ```
            pub const fn name_of(code: u16) -> Option<&'static str> {
                match code {
                    $( $code => Some(stringify!($variant)), )*
                    _ => None,
                }
            }

            /// The one-line description of this error, without the details it carries.
            pub const fn summary(&self) -> &'static str {
                match self {
                    $( error_table!(@pattern $variant $( ($field) )? $( { $($name)* } )?) => $summary, )*
                }
            }

            /// A one-line description of the error with `code`, without the details a value of
            /// the error may carry (which member, which size): for tables and the C ABI, which
            /// can only hand out static strings. `None` for a code that is not one of
            /// [`Error::CODES`].
            ///
            /// ```
            /// use koppeltaal_core::Error;
            /// assert_eq!(Error::summary_of(503), Some("token has expired"));
            /// assert_eq!(Error::summary_of(42), None);
            /// ```
            pub const fn summary_of(code: u16) -> Option<&'static str> {
                match code {
                    $( $code => Some($summary), )*
                    _ => None,
                }
            }

            /// [`summary_of`](Self::summary_of) as a NUL-terminated C string, for a C ABI
            /// that hands out static messages.
            ///
            /// ```
            /// use koppeltaal_core::Error;
            /// assert_eq!(Error::summary_c_of(600), Some(c"token has been used before"));
            /// ```
            pub const fn summary_c_of(code: u16) -> Option<&'static CStr> {
                match code {
                    $( $code => Some(const { c_string(concat!($summary, "\0")) }), )*
                    _ => None,
                }
            }

            /// [`name_of`](Self::name_of) as a NUL-terminated C string, for a C ABI.
            ///
            /// ```
            /// use koppeltaal_core::Error;
            /// assert_eq!(Error::name_c_of(600), Some(c"Replayed"));
            /// ```
            pub const fn name_c_of(code: u16) -> Option<&'static CStr> {
                match code {
                    $( $code => Some(const { c_string(concat!(stringify!($variant), "\0")) }), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for Error {
            /// The summary, then the details the error carries in parentheses, e.g.
            /// `token has expired (exp 1700000300, now 1700000400)`.
            #[allow(unused_assignments)]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                $( error_table!(@display self f $variant $summary $( ($field) )? $( { $($name)* } )?); )*
                Ok(())
            }
        }
    };
    (@pattern $variant:ident) => { Error::$variant };
    (@pattern $variant:ident ($field:ty)) => { Error::$variant(_) };
    (@pattern $variant:ident { $($name:ident)* }) => { Error::$variant { .. } };
    (@display $self:ident $f:ident $variant:ident $summary:literal) => {
        if let Error::$variant = $self {
            return $f.write_str($summary);
        }
    };
    (@display $self:ident $f:ident $variant:ident $summary:literal ($field:ty)) => {
        if let Error::$variant(value) = $self {
            $f.write_str($summary)?;
            $f.write_str(" (")?;
            Detail::write(value, $f)?;
            return $f.write_str(")");
        }
    };
    (@display $self:ident $f:ident $variant:ident $summary:literal { $($name:ident)* }) => {
        if let Error::$variant { $($name),* } = $self {
            $f.write_str($summary)?;
            let mut separator = " (";
            $(
                $f.write_str(separator)?;
                $f.write_str(stringify!($name))?;
                $f.write_str(" ")?;
                Detail::write($name, $f)?;
                separator = ", ";
            )*
            return $f.write_str(")");
        }
    };
}

/// A NUL-terminated literal as a `CStr`, at compile time.
const fn c_string(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c_string) => c_string,
        Err(_) => panic!("an error summary contains a NUL byte"),
    }
}

/// How a value an error carries is written in its message.
trait Detail {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Detail for Part {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Detail for Algorithm {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Detail for &'static str {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{self}`")
    }
}

impl Detail for u16 {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Detail for u64 {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

error_table! {
    // ---- 1xx: the compact serialization -------------------------------------------------------
    /// The token is longer than the configured maximum length.
    TokenTooLarge = 100, "token is longer than the configured maximum";
    /// The token is not three dot-separated segments, or its header or payload segment is empty.
    MalformedToken = 101, "token is not a compact JWS of three dot-separated segments";
    /// The token has five segments (four dots): a JWE-encrypted launch (HTI:jwe), and this
    /// verifier has no decryption key (or is not asked to decrypt).
    EncryptedToken = 102, "token is an encrypted (JWE) launch";
    /// A segment is not canonical unpadded base64url: padding, a byte outside the alphabet
    /// (whitespace included), an impossible length or non-zero trailing bits.
    InvalidBase64(Part) = 103, "a token segment is not canonical unpadded base64url";
    /// The signature segment is empty.
    MissingSignature = 104, "token has no signature";
    /// An encrypted token decrypted, but what it carried is not a signed compact JWS (three
    /// segments): for example a JWE inside a JWE.
    NotSignedInside = 105, "the decrypted content is not a signed compact JWS";

    // ---- 2xx: JSON ----------------------------------------------------------------------------
    /// The header, payload or key set is not a well-formed JSON object (RFC 8259) in UTF-8.
    InvalidJson(Part) = 200, "header, payload or key set is not a well-formed JSON object";
    /// The JSON nests objects and arrays deeper than the parser allows.
    JsonTooDeep(Part) = 201, "JSON nests too deeply";
    /// A member the verifier reads appears twice in the same object.
    DuplicateMember(&'static str) = 202, "a member appears more than once";
    /// A member has the wrong JSON type (for example `"iss": 5`).
    InvalidMemberType(&'static str) = 203, "a member has the wrong JSON type";
    /// A time claim is not an integer number of seconds in `0..=u64::MAX` (negative,
    /// fractional, exponent form, a string, or too large).
    InvalidNumericDate(&'static str) = 204, "a time claim is not a whole, non-negative number of seconds";
    /// A string member is longer than the fixed capacity reserved for it.
    ValueTooLong(&'static str) = 205, "a value is longer than this verifier accepts";
    /// An object has more members than the parser accepts.
    TooManyMembers(Part) = 206, "an object has too many members";

    // ---- 3xx: the JOSE header -----------------------------------------------------------------
    /// `alg` is `none` (in any letter case) or an HMAC algorithm (`HS256`, `HS384`, `HS512`):
    /// never acceptable for a launch, and never implemented here.
    ForbiddenAlgorithm = 300, "algorithm `none` or HMAC is never accepted for this token";
    /// `alg` names an algorithm this crate does not implement (or whose cargo feature is off).
    UnsupportedAlgorithm = 301, "algorithm is not supported";
    /// `alg` is implemented but not in the policy's allowed set.
    AlgorithmNotAllowed(Algorithm) = 302, "algorithm is not allowed by the policy";
    /// The header has no `kid`; keys are selected by `kid` only.
    MissingKeyId = 303, "header has no `kid`";
    /// The header carries `jwk`, `jku`, `x5u` or `x5c`: keys come only from configuration,
    /// and a token that points at its own key is refused outright.
    EmbeddedKey = 304, "header carries its own key (`jwk`, `jku`, `x5u` or `x5c`)";
    /// The header has a `crit` member: no JWS extension is understood, so none may be critical.
    UnsupportedCritical = 305, "header lists critical extensions (`crit`)";
    /// `typ` is present and is not `JWT` (or the value the policy expects).
    UnexpectedType = 306, "header `typ` is not the expected type";
    /// The header has no `alg`.
    MissingAlgorithm = 307, "header has no `alg`";
    /// An encrypted token's `alg` is `RSA1_5` (a padding oracle by design) or `dir` (a shared
    /// symmetric key): never accepted.
    ForbiddenKeyManagement = 308, "key management `RSA1_5` or `dir` is never accepted";
    /// An encrypted token's `alg` names a key management algorithm not implemented here (only
    /// `RSA-OAEP` and `RSA-OAEP-256` are).
    UnsupportedKeyManagement = 309, "key management algorithm is not supported";
    /// An encrypted token's `enc` is absent or names a content encryption not implemented here.
    UnsupportedContentEncryption = 310, "content encryption (`enc`) is missing or not supported";
    /// An encrypted token's header has `zip`: compressed content is refused.
    CompressedContent = 311, "encrypted content is compressed (`zip`)";
    /// An encrypted token's `cty` is absent or not `JWT`: its content must be a signed token.
    UnexpectedContentType = 312, "encrypted content is not a JWT (`cty`)";

    // ---- 4xx: keys and signature --------------------------------------------------------------
    /// The token's issuer is not one the verifier holds keys for.
    WrongIssuer = 400, "issuer is not trusted";
    /// No key in the issuer's key set has the token's `kid`.
    UnknownKeyId = 401, "no key of the issuer has this `kid`";
    /// A key with the token's `kid` exists but may not verify this token: its `use` is not
    /// `sig`, its `key_ops` lack `verify`, or its type or `alg` disagrees with the token's `alg`.
    KeyNotUsable = 402, "the key with this `kid` may not verify this token";
    /// The key is an RSA key shorter than 2048 bits (its size is given).
    KeyTooSmall {
        /// The modulus length in bits.
        bits: u16,
    } = 403, "RSA key is smaller than 2048 bits";
    /// The key is an RSA key longer than 4096 bits (its size is given, saturated at `u16::MAX`).
    KeyTooLarge {
        /// The modulus length in bits.
        bits: u16,
    } = 404, "RSA key is larger than 4096 bits";
    /// The key's parameters are malformed: an even modulus, an unusable
    /// public exponent, a missing parameter, or a key type this crate does not know.
    InvalidKey = 405, "key parameters are malformed";
    /// The signature's length differs from the length the algorithm and key require.
    InvalidSignatureLength = 406, "signature has the wrong length";
    /// The signature's integers are out of range: an RSA signature not smaller than the
    /// modulus, or an ECDSA `r` or `s` that is zero or not smaller than the group order.
    SignatureOutOfRange = 407, "signature value is out of range for the key";
    /// The signature does not verify.
    BadSignature = 408, "signature does not verify";
    /// No configured decryption key fits an encrypted token: none has its `kid`, or none
    /// supports its `alg`.
    UnknownDecryptionKey = 409, "no decryption key fits this token";
    /// An encrypted token could not be decrypted. One error for every cause (a wrong key, OAEP
    /// padding, the tag, CBC padding, a length), so that a refusal reveals nothing.
    DecryptionFailed = 410, "the token could not be decrypted";

    // ---- 5xx: claims --------------------------------------------------------------------------
    /// A required claim is absent.
    MissingClaim(&'static str) = 500, "a required claim is missing";
    /// A required string claim is present but empty.
    EmptyClaim(&'static str) = 501, "a required claim is empty";
    /// `aud` does not contain the configured audience.
    WrongAudience = 502, "token is meant for another audience";
    /// The token has expired: `now >= exp + leeway`.
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The time it was checked at.
        now: u64,
    } = 503, "token has expired";
    /// The token's `nbf` lies in the future: `now + leeway < nbf`.
    NotYetValid {
        /// The token's `nbf`.
        nbf: u64,
        /// The time it was checked at.
        now: u64,
    } = 504, "token is not valid yet (`nbf`)";
    /// The token was issued in the future: `iat > now + leeway`.
    IssuedInFuture {
        /// The token's `iat`.
        iat: u64,
        /// The time it was checked at.
        now: u64,
    } = 505, "token was issued in the future (`iat`)";
    /// The token lives longer than allowed: `exp - iat` exceeds the maximum lifetime.
    LifetimeTooLong {
        /// `exp - iat`, in seconds.
        lifetime: u64,
        /// The maximum the policy allows, in seconds.
        max: u64,
    } = 506, "token lifetime exceeds the maximum";
    /// `exp` is not after `iat`.
    ExpiresBeforeIssued = 507, "`exp` is not after `iat`";
    /// `sub` or `patient` is not a FHIR person reference `<Type>/<id>` with Type one of
    /// Patient, Practitioner, RelatedPerson or Person.
    BadPersonReference(&'static str) = 508, "`sub` or `patient` is not a FHIR person reference";
    /// `intent` is not a FHIR RequestIntent code.
    InvalidIntent = 509, "`intent` is not a FHIR RequestIntent code";
    /// An id_token's `azp` is not the client id: it is present, or `aud` names several
    /// parties, and it does not name this client (OpenID Connect Core §3.1.3.7).
    WrongAuthorizedParty = 510, "the id_token was issued to another client (`azp`)";
    /// An id_token's `nonce` is not the one this client sent with the authorization request.
    NonceMismatch = 511, "the id_token's `nonce` is not the one sent";

    // ---- 6xx: replay --------------------------------------------------------------------------
    /// A token with the same issuer and `jti` has been accepted before and has not expired.
    Replayed = 600, "token has been used before";
    /// The replay guard holds as many unexpired tokens as it can; the token is refused rather
    /// than forgetting one that may still be replayed.
    ReplayStoreFull = 601, "replay guard is full of unexpired tokens";
    /// The replay guard's clock (the latest time it has been given) has passed the time until
    /// which it would remember this token: it may already have forgotten it, so the token is
    /// refused. Met by a request that read the clock long before it reached the guard, or
    /// after the wall clock stepped back.
    ReplayWindowClosed {
        /// Until when the token would have been remembered.
        forget_at: u64,
        /// The guard's latest time.
        high_water: u64,
    } = 602, "token's replay-protection window has closed";

    // ---- 7xx: key sets and configuration ------------------------------------------------------
    /// The document is JSON but not a JWKS (no `keys` array, or a key that is not an object).
    InvalidKeySet = 700, "document is not a JWKS";
    /// The key set has more keys than the capacity of the `KeySet`.
    TooManyKeys = 701, "key set has more keys than its capacity";
    /// A configuration value is out of range (for example an empty audience).
    InvalidConfiguration = 702, "configuration value is out of range";

    // ---- 8xx: producing tokens and documents --------------------------------------------------
    /// The output buffer is too small for what is being written.
    BufferTooSmall = 800, "output buffer is too small";
    /// The output sink refused a write for a reason other than being full.
    WriteFailed = 801, "output could not be written";
    /// The signer (a software key, an HSM, a secure element) failed to sign.
    SigningFailed = 802, "the signer failed to sign";
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_ascending() {
        assert!(Error::CODES.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn every_code_has_a_summary_and_a_c_string() {
        for code in Error::CODES {
            let summary = Error::summary_of(*code).unwrap();
            assert!(!summary.is_empty(), "{code}");
            let c_string = Error::summary_c_of(*code).unwrap();
            assert_eq!(c_string.to_bytes(), summary.as_bytes(), "{code}");
            let name = Error::name_c_of(*code).unwrap();
            assert_eq!(
                name.to_bytes(),
                Error::name_of(*code).unwrap().as_bytes(),
                "{code}"
            );
        }
        assert_eq!(Error::summary_of(99), None);
        assert_eq!(Error::summary_c_of(99), None);
    }

    #[test]
    fn messages_carry_the_details() {
        use core::fmt::Write;
        let cases: [(Error, &str); 5] = [
            (Error::Replayed, "token has been used before"),
            (
                Error::InvalidBase64(Part::Header),
                "a token segment is not canonical unpadded base64url (header)",
            ),
            (
                Error::DuplicateMember("iss"),
                "a member appears more than once (`iss`)",
            ),
            (
                Error::Expired {
                    exp: 1_700_000_300,
                    now: 1_700_000_400,
                },
                "token has expired (exp 1700000300, now 1700000400)",
            ),
            (
                Error::AlgorithmNotAllowed(Algorithm::ES256),
                "algorithm is not allowed by the policy (ES256)",
            ),
        ];
        for (error, expected) in cases {
            let mut message = heapless::String::<128>::new();
            write!(message, "{error}").unwrap();
            assert_eq!(message, expected);
            assert_eq!(error.summary(), Error::summary_of(error.code()).unwrap());
        }
        assert_eq!(Error::KeyTooSmall { bits: 1024 }.name(), "KeyTooSmall");
    }
}
