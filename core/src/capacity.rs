//! The fixed capacities of the strings a verified token carries.
//!
//! A longer value is refused with [`Error::ValueTooLong`](crate::Error::ValueTooLong) naming
//! the member, never truncated. The figures leave generous room over what Koppeltaal uses
//! (URLs for issuers and definitions, `Type/id` references, UUID `jti`s, thumbprint `kid`s).

/// `iss`: the issuer URL or identifier.
pub const ISSUER: usize = 256;
/// `aud`: the module's audience (`Device/<id>` in Koppeltaal).
pub const AUDIENCE: usize = 256;
/// `sub` and `patient`: FHIR person references (`Type/id`, the id at most 64 characters).
pub const PERSON: usize = 128;
/// `jti`: the token's unique identifier.
pub const TOKEN_ID: usize = 128;
/// `resource`: the FHIR Task reference.
pub const RESOURCE: usize = 256;
/// `definition`: the canonical URL of the ActivityDefinition.
pub const DEFINITION: usize = 512;
/// `intent`: a FHIR RequestIntent code.
pub const INTENT: usize = 32;
/// `idp_hint`: which identity provider the module should send the user to (Koppeltaal; an
/// identifier or a URL).
pub const IDP_HINT: usize = 256;
/// `nonce` of an id_token: the value the client sent.
pub const NONCE: usize = 128;
/// `azp` of an id_token: the client id it was issued to.
pub const AUTHORIZED_PARTY: usize = 128;
/// `fhirUser` of an id_token: a FHIR reference to the person, relative or absolute.
pub const FHIR_USER: usize = 256;
/// `kid`: a key id.
pub const KEY_ID: usize = 128;
/// `typ`: the header's media type.
pub const TYPE: usize = 64;
