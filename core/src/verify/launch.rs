//! The HTI launch profile: from a token to a verified [`HtiLaunch`].

use heapless::String;

use crate::capacity;
use crate::codec::base64url;
use crate::error::{Error, Part};
use crate::jose::algorithm::Algorithm;
use crate::jose::jwk::{Jwk, KeySet};
use crate::verify::access_token::AccessTokenClaims;
use crate::verify::claims::{ClaimsRecord, claim};
use crate::verify::compact::Compact;
use crate::verify::header::Header;
use crate::verify::id_token::{IdTokenClaims, IdTokenExpectations};
use crate::verify::key_selection::{self, MAX_SIGNATURE_LEN};
use crate::verify::policy::Policy;
use crate::verify::replay_guard::{ReplayKey, ReplayStore};

/// A verified HTI launch: every string in fixed-capacity storage, nothing borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtiLaunch {
    iss: String<{ capacity::ISSUER }>,
    aud: String<{ capacity::AUDIENCE }>,
    sub: String<{ capacity::PERSON }>,
    iat: u64,
    exp: u64,
    jti: String<{ capacity::TOKEN_ID }>,
    resource: String<{ capacity::RESOURCE }>,
    definition: String<{ capacity::DEFINITION }>,
    patient: Option<String<{ capacity::PERSON }>>,
    intent: Option<String<{ capacity::INTENT }>>,
    idp_hint: Option<String<{ capacity::IDP_HINT }>>,
    alg: Algorithm,
    kid: String<{ capacity::KEY_ID }>,
}

impl HtiLaunch {
    /// `iss`: the portal that launched.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The audience the token was accepted for: the policy's (the token's `aud` contains it).
    pub fn audience(&self) -> &str {
        &self.aud
    }

    /// `sub`: the person launching, `<Type>/<id>`. Empty only when the policy did not require
    /// it and the token lacks it.
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// `iat`, Unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.iat
    }

    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }

    /// `jti`: the token's unique identifier.
    pub fn token_id(&self) -> &str {
        &self.jti
    }

    /// `resource`: the FHIR Task, e.g. `Task/11`. Empty only when the policy did not require
    /// it and the token lacks it.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// `definition`: the canonical URL of the ActivityDefinition. Empty only when the policy
    /// did not require it and the token lacks it.
    pub fn definition(&self) -> &str {
        &self.definition
    }

    /// `patient`: the patient, when `sub` is someone else.
    pub fn patient(&self) -> Option<&str> {
        self.patient.as_deref()
    }

    /// `intent`: the FHIR RequestIntent.
    pub fn intent(&self) -> Option<&str> {
        self.intent.as_deref()
    }

    /// `idp_hint` (Koppeltaal): which identity provider the module should send the user to,
    /// when the portal says.
    pub fn idp_hint(&self) -> Option<&str> {
        self.idp_hint.as_deref()
    }

    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` of the key that verified it.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// What a replay guard remembers of this launch.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey::new(&self.iss, &self.jti)
    }
}

/// Longest encoded header remembered between tokens: a Koppeltaal header
/// (`{"alg":"RS512","kid":...,"typ":"JWT"}`) with a 43-character `kid` is about 100 characters.
const REMEMBERED_HEADER: usize = 160;

/// What a token holds once split, decoded and parsed: the checked header, the claims as read
/// and the decoded signature. Kept in one place and filled in place, so that a
/// [`LaunchVerifier`] reuses one instead of moving 2.4 KiB through the stack per token (on a
/// device that is most of the stack).
struct ParsedToken {
    header: Header,
    /// The encoded header `header` was read from, while it is the last one that passed: a
    /// portal signs every launch with the same header, so the next token's is compared with
    /// it before being decoded, checked and read again (about 2 k instructions a launch,
    /// `count_verify`). Empty when `header` did not come from a header that passed.
    header_source: heapless::Vec<u8, REMEMBERED_HEADER>,
    claims: ClaimsRecord,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl ParsedToken {
    fn new() -> ParsedToken {
        ParsedToken {
            header: Header::unset(),
            header_source: heapless::Vec::new(),
            claims: ClaimsRecord::default(),
            signature: [0; MAX_SIGNATURE_LEN],
            signature_len: 0,
        }
    }

    /// Splits, decodes and parses `token` into `self`, checking its header against `policy`;
    /// returns the signing input. On an error `self` holds whatever was read, and nothing in
    /// it may be used. `policy` must be the same at every call on one `ParsedToken` (its
    /// owner's): the header remembered passed that policy.
    fn parse<'t>(
        &mut self,
        token: &'t [u8],
        policy: &Policy,
        scratch: &mut [u8],
    ) -> Result<&'t [u8], Error> {
        let compact = Compact::split(token, policy.max_token_len())?;
        if self.header_source != compact.header {
            self.header_source.clear();
            self.header = Header::parse(
                base64url::decode(Part::Header, compact.header, scratch)?,
                policy,
            )?;
            // A header longer than any a portal sends is simply not remembered.
            let _ = self.header_source.extend_from_slice(compact.header);
        }
        if compact.signature.is_empty() {
            return Err(Error::MissingSignature);
        }
        self.signature_len =
            match base64url::decode(Part::Signature, compact.signature, &mut self.signature) {
                Ok(decoded) => decoded.len(),
                Err(Error::TokenTooLarge) => return Err(Error::InvalidSignatureLength),
                Err(other) => return Err(other),
            };
        let payload = base64url::decode(Part::Payload, compact.payload, scratch)?;
        self.claims.parse_into(payload, policy)?;
        Ok(compact.signing_input)
    }

    #[inline(never)]
    fn verify_signature(&self, keys: &[Jwk], signing_input: &[u8]) -> Result<(), Error> {
        key_selection::verify(
            keys,
            self.header.key_id(),
            self.header.algorithm(),
            signing_input,
            &self.signature[..self.signature_len],
        )
    }

    fn replay_key(&self) -> ReplayKey {
        ReplayKey::new(&self.claims.iss, &self.claims.jti)
    }

    /// The launch, copied out of the record (call after every check has passed).
    fn launch(&self, policy: &Policy) -> HtiLaunch {
        let claims = &self.claims;
        HtiLaunch {
            iss: claims.iss.clone(),
            // The token's `aud` contains the policy's audience, and both have one capacity.
            aud: String::try_from(policy.audience()).unwrap_or_default(),
            sub: claims.sub.clone(),
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti.clone(),
            resource: claims.resource.clone(),
            definition: claims.definition.clone(),
            patient: claims.has(claim::PATIENT).then(|| claims.patient.clone()),
            intent: claims.has(claim::INTENT).then(|| claims.intent.clone()),
            idp_hint: claims.has(claim::IDP_HINT).then(|| claims.idp_hint.clone()),
            alg: self.header.algorithm(),
            kid: String::try_from(self.header.key_id()).unwrap_or_default(),
        }
    }
}

/// A token that has been split, decoded and parsed, and whose header passed its checks, but
/// whose signature and claims have not been checked yet.
///
/// The two steps exist so that a host can pick the issuer's keys between them (the issuer is
/// in the payload): `parse`, look up [`issuer`](Self::issuer), then [`verify`](Self::verify).
/// Nothing it holds may be trusted before `verify` succeeds.
pub struct Unverified<'t, 'p> {
    policy: &'p Policy,
    parsed: ParsedToken,
    signing_input: &'t [u8],
}

impl<'t, 'p> Unverified<'t, 'p> {
    /// The scratch length [`parse`](Self::parse) needs for tokens of up to `max_token_len` bytes.
    pub const fn scratch_len(max_token_len: usize) -> usize {
        max_token_len / 4 * 3 + 2
    }

    /// Splits, decodes and parses `token`, and checks its header against `policy`.
    ///
    /// `scratch` holds the decoded header and then the decoded payload, one at a time; a
    /// segment that does not fit is [`Error::TokenTooLarge`]. Size it with
    /// [`scratch_len`](Self::scratch_len).
    pub fn parse(
        token: &'t [u8],
        policy: &'p Policy,
        scratch: &mut [u8],
    ) -> Result<Unverified<'t, 'p>, Error> {
        let mut parsed = ParsedToken::new();
        let signing_input = parsed.parse(token, policy, scratch)?;
        Ok(Unverified {
            policy,
            parsed,
            signing_input,
        })
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.parsed.header
    }

    /// The claimed (not yet verified) issuer; [`Error::MissingClaim`] when absent.
    pub fn issuer(&self) -> Result<&str, Error> {
        self.parsed.claims.issuer()
    }

    /// Checks the signature with the key of `keys` named by the header's `kid`, then every
    /// claim at `now` (Unix seconds). Does not consult a replay guard.
    pub fn verify(self, keys: &[Jwk], now: u64) -> Result<HtiLaunch, Error> {
        self.parsed.verify_signature(keys, self.signing_input)?;
        self.accept_introspected(now)
    }

    /// Checks every claim at `now` as [`verify`](Self::verify) would, without the signature,
    /// and keeps the token: for a host that will ask an authorization server about it
    /// (introspection), so that a launch that is misaddressed, expired or incomplete is
    /// refused before any network call. Passing it proves nothing about who made the token.
    pub fn check_claims(&self, now: u64) -> Result<(), Error> {
        self.parsed.claims.check_launch(self.policy, now)
    }

    /// Accepts a launch that an authorization server has just declared active through token
    /// introspection (RFC 7662), which is how a module may verify without holding the portal's
    /// keys. The signature is **not** checked here (that is what the server did); every claim
    /// is, against this policy, as [`verify`](Self::verify) would.
    ///
    /// Call it only with the very token the server answered `"active": true` for.
    pub fn accept_introspected(self, now: u64) -> Result<HtiLaunch, Error> {
        self.parsed.claims.check_launch(self.policy, now)?;
        Ok(self.parsed.launch(self.policy))
    }

    /// Checks the signature, then the claims of an OpenID Connect id_token: `iss` is
    /// `expected.issuer`, `aud` contains the client id (the policy's audience) and `azp`, when
    /// needed, is it; `exp`, `iat` (`nbf`) within the policy's leeway and maximum lifetime;
    /// `nonce` as sent; `fhirUser`, when present, a person. The policy's `typ` rule applies to
    /// the header as for any token.
    ///
    /// ```
    /// use koppeltaal_core::{Error, IdTokenExpectations, Policy, Unverified};
    /// let policy = Policy::new("my-client-id")?.with_max_lifetime(3600);
    /// let mut scratch = [0u8; 1024];
    /// let token = b"eyJhbGciOiJSUzUxMiIsImtpZCI6ImsifQ.e30.c2ln";
    /// let expected = IdTokenExpectations { issuer: "https://auth.example.org", nonce: Some("n-0S6") };
    /// let outcome = Unverified::parse(token, &policy, &mut scratch)?.verify_id_token(&[], &expected, 1_700_000_000);
    /// assert_eq!(outcome.err(), Some(Error::UnknownKeyId));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn verify_id_token(
        self,
        keys: &[Jwk],
        expected: &IdTokenExpectations<'_>,
        now: u64,
    ) -> Result<IdTokenClaims, Error> {
        self.parsed.verify_signature(keys, self.signing_input)?;
        let claims = &self.parsed.claims;
        claims.check_id_token(self.policy, expected.issuer, expected.nonce, now)?;
        Ok(IdTokenClaims {
            iss: claims.iss.clone(),
            sub: claims.sub.clone(),
            aud: String::try_from(self.policy.audience()).unwrap_or_default(),
            azp: claims.has(claim::AZP).then(|| claims.azp.clone()),
            iat: claims.iat,
            exp: claims.exp,
            nonce: claims.has(claim::NONCE).then(|| claims.nonce.clone()),
            fhir_user: claims
                .has(claim::FHIR_USER)
                .then(|| claims.fhir_user.clone()),
            alg: self.parsed.header.algorithm(),
            kid: String::try_from(self.parsed.header.key_id()).unwrap_or_default(),
        })
    }

    /// Checks the signature, then the claims of a JWT access token (RFC 9068): audience,
    /// `exp`, `iat`, `nbf`, within the policy's leeway and maximum lifetime. For a resource
    /// server that receives bearer tokens; HTI launch claims are not required.
    pub fn verify_access_token(self, keys: &[Jwk], now: u64) -> Result<AccessTokenClaims, Error> {
        self.parsed.verify_signature(keys, self.signing_input)?;
        let claims = &self.parsed.claims;
        claims.check_access_token(self.policy, now)?;
        Ok(AccessTokenClaims {
            sub: claims.has(claim::SUB).then(|| claims.sub.clone()),
            jti: claims.has(claim::JTI).then(|| claims.jti.clone()),
            iss: claims.iss.clone(),
            aud: String::try_from(self.policy.audience()).unwrap_or_default(),
            iat: claims.iat,
            exp: claims.exp,
            alg: self.parsed.header.algorithm(),
            kid: String::try_from(self.parsed.header.key_id()).unwrap_or_default(),
        })
    }
}

/// Where a verifier finds the keys of a token's issuer.
pub trait KeySource {
    /// The keys published by `issuer`, or `None` when the issuer is not trusted.
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]>;
}

/// One trusted issuer and its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedIssuer<const N: usize> {
    issuer: String<{ capacity::ISSUER }>,
    keys: KeySet<N>,
}

impl<const N: usize> TrustedIssuer<N> {
    /// Trusts `issuer` (compared exactly: `https://a/` and `https://a` differ) with `keys`.
    ///
    /// An empty issuer, or one longer than [`capacity::ISSUER`], is
    /// [`Error::InvalidConfiguration`].
    pub fn new(issuer: &str, keys: KeySet<N>) -> Result<TrustedIssuer<N>, Error> {
        let mut owned = String::new();
        if issuer.is_empty() || owned.push_str(issuer).is_err() {
            return Err(Error::InvalidConfiguration);
        }
        Ok(TrustedIssuer {
            issuer: owned,
            keys,
        })
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuer's keys.
    pub fn keys(&self) -> &KeySet<N> {
        &self.keys
    }

    /// Replaces the keys (after a JWKS refresh).
    pub fn set_keys(&mut self, keys: KeySet<N>) {
        self.keys = keys;
    }
}

impl<const N: usize> KeySource for TrustedIssuer<N> {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        (self.issuer == issuer).then(|| self.keys.keys())
    }
}

impl<const N: usize> KeySource for [TrustedIssuer<N>] {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        self.iter().find_map(|trusted| trusted.keys_for(issuer))
    }
}

impl<const N: usize, const M: usize> KeySource for [TrustedIssuer<N>; M] {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        self.as_slice().keys_for(issuer)
    }
}

impl<const N: usize, const M: usize> KeySource for heapless::Vec<TrustedIssuer<N>, M> {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        self.as_slice().keys_for(issuer)
    }
}

impl<T: KeySource + ?Sized> KeySource for &T {
    fn keys_for(&self, issuer: &str) -> Option<&[Jwk]> {
        (**self).keys_for(issuer)
    }
}

/// The scratch a [`LaunchVerifier`] keeps by default: enough for 8 KiB tokens.
pub const DEFAULT_SCRATCH: usize = Unverified::scratch_len(Policy::DEFAULT_MAX_TOKEN_LEN);

/// Verifies HTI launches end to end with no allocator: trusted issuers and their keys, a
/// policy, a replay guard, and a decoding buffer of `SCRATCH` bytes.
///
/// [`verify`](Self::verify) checks, in this order, stopping at the first failure:
/// 1. the compact form: length, three segments;
/// 2. the header: canonical base64url, JSON, `alg` (never `none`/HMAC, implemented, allowed),
///    no `crit`, no embedded key, `typ`, `kid`; then the signature segment: present,
///    canonical base64url;
/// 3. the payload: canonical base64url, JSON, member types, no duplicate claims, string
///    capacities;
/// 4. the issuer: trusted (it selects the keys);
/// 5. the signature, with the key named by `kid`;
/// 6. the claims: required ones present and non-empty, audience, times, person references,
///    intent;
/// 7. replay: the token is recorded only now, after everything else passed.
///
/// ```
/// use koppeltaal_core::{Error, KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
/// let portal = TrustedIssuer::new("https://portal.example.org", KeySet::<4>::new())?;
/// let mut verifier = LaunchVerifier::<_, _>::new(portal, Policy::new("Device/42")?, ReplayGuard::<64>::new());
/// assert_eq!(verifier.verify(b"not a token", 1_700_000_000).err(), Some(Error::MalformedToken));
/// # Ok::<(), Error>(())
/// ```
pub struct LaunchVerifier<K, G, const SCRATCH: usize = DEFAULT_SCRATCH> {
    issuers: K,
    policy: Policy,
    replay: G,
    scratch: [u8; SCRATCH],
    /// The token being verified, parsed in place.
    parsed: ParsedToken,
}

impl<K: KeySource, G: ReplayStore, const SCRATCH: usize> LaunchVerifier<K, G, SCRATCH> {
    /// A verifier trusting `issuers`, applying `policy`, remembering tokens in `replay`.
    pub fn new(issuers: K, policy: Policy, replay: G) -> LaunchVerifier<K, G, SCRATCH> {
        LaunchVerifier {
            issuers,
            policy,
            replay,
            scratch: [0; SCRATCH],
            parsed: ParsedToken::new(),
        }
    }

    /// Verifies `token` at `now` (Unix seconds) and records it against replay: the two steps
    /// [`check`](Self::check) and [`record`](Self::record) in one call.
    ///
    /// The token is parsed into storage the verifier keeps, and the launch is copied out only
    /// once every check has passed.
    pub fn verify(&mut self, token: &[u8], now: u64) -> Result<HtiLaunch, Error> {
        self.check_in_place(token, now)?;
        let forget_at = self.policy.forget_after(self.parsed.claims.exp);
        self.replay
            .check_and_record(self.parsed.replay_key(), forget_at, now)?;
        Ok(self.parsed.launch(&self.policy))
    }

    /// Decrypts an encrypted launch (HTI:jwe, five segments) with one of `keys`, then verifies
    /// and records the signed launch inside exactly as [`verify`](Self::verify) does: one
    /// pipeline. A plain (three-segment) launch is verified as it is. `plaintext` holds the
    /// decrypted token (as long as the ciphertext; [`Policy::max_token_len`] bytes suffice);
    /// `rng` stands in for a key that fails to unwrap (see [`Jwe::decrypt`](crate::Jwe::decrypt)).
    ///
    /// The encrypted token may be at most [`Policy::max_encrypted_len`] bytes; decryption
    /// failures are [`Error::DecryptionFailed`] whatever their cause.
    #[cfg(feature = "jwe")]
    pub fn verify_encrypted(
        &mut self,
        token: &[u8],
        keys: &[&dyn crate::KeyUnwrapper],
        rng: &mut dyn rand_core::CryptoRng,
        plaintext: &mut [u8],
        now: u64,
    ) -> Result<HtiLaunch, Error> {
        if token.iter().filter(|byte| **byte == b'.').count() != 4 {
            return self.verify(token, now);
        }
        let jwe = crate::Jwe::parse(token, self.policy.max_encrypted_len(), &mut self.scratch)?;
        let inner = jwe.decrypt(keys, rng, plaintext)?;
        self.verify(inner, now)
    }

    /// Every check of [`verify`](Self::verify) but the replay record: the launch is not used
    /// up, and may be presented again. For a caller that must do something that can fail
    /// between checking and accepting; [`record`](Self::record) then accepts it.
    pub fn check(&mut self, token: &[u8], now: u64) -> Result<HtiLaunch, Error> {
        self.check_in_place(token, now)?;
        Ok(self.parsed.launch(&self.policy))
    }

    /// Records a launch that [`check`](Self::check) returned, at `now`: from then on it is
    /// [`Error::Replayed`]. Fails as the replay store does ([`Error::Replayed`] when another
    /// presentation was recorded first, [`Error::ReplayStoreFull`], ...).
    pub fn record(&mut self, launch: &HtiLaunch, now: u64) -> Result<(), Error> {
        let forget_at = self.policy.forget_after(launch.expires_at());
        self.replay
            .check_and_record(launch.replay_key(), forget_at, now)
    }

    /// Parses and checks `token` into `self.parsed`.
    fn check_in_place(&mut self, token: &[u8], now: u64) -> Result<(), Error> {
        let parsed = &mut self.parsed;
        let signing_input = parsed.parse(token, &self.policy, &mut self.scratch)?;
        let keys = self
            .issuers
            .keys_for(parsed.claims.issuer()?)
            .ok_or(Error::WrongIssuer)?;
        parsed.verify_signature(keys, signing_input)?;
        parsed.claims.check_launch(&self.policy, now)
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> &K {
        &self.issuers
    }

    /// The trusted issuers, to replace keys after a rotation.
    pub fn issuers_mut(&mut self) -> &mut K {
        &mut self.issuers
    }

    /// The replay guard.
    pub fn replay_guard(&self) -> &G {
        &self.replay
    }

    /// The replay guard, mutably (to clear it, or to share its state elsewhere).
    pub fn replay_guard_mut(&mut self) -> &mut G {
        &mut self.replay
    }
}
