//! Writing a compact JWS: the header, the claims of a token being produced, the signature;
//! into a caller's buffer (or, with the `alloc` feature, a `String`), the JSON escaped and
//! base64url-encoded on the fly.

use embedded_io::Write;
use rand_core::CryptoRng;

#[cfg(feature = "alloc")]
use crate::codec::json_writer::Counter;
use crate::codec::json_writer::{Base64UrlWriter, JsonObject, put, sink_error};
use crate::error::Error;
use crate::produce::jws_signer::JwsSigner;
use crate::verify::key_selection::MAX_SIGNATURE_LEN;

/// A UUID version 4 (RFC 9562 §5.4) in its 36-character text form: a fresh `jti`.
pub fn uuid_v4(rng: &mut dyn CryptoRng) -> heapless::String<36> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = heapless::String::new();
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            let _ = text.push('-');
        }
        let _ = text.push(char::from(HEX[usize::from(byte >> 4)]));
        let _ = text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

/// The claims of a token being produced.
pub(crate) trait Claims {
    fn write<W: Write>(&self, claims: &mut JsonObject<'_, W>, jti: &str) -> Result<(), Error>;
    fn token_id(&self) -> Option<&str>;
}

fn header<W: Write>(out: &mut W, signer: &dyn JwsSigner) -> Result<(), Error> {
    let mut header = JsonObject::begin(out)?;
    header.string("alg", signer.algorithm().as_str())?;
    header.string("kid", signer.key_id())?;
    header.string("typ", "JWT")?;
    header.end()
}

fn segment<W: Write>(
    out: &mut W,
    json: impl FnOnce(&mut Base64UrlWriter<'_, W>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut encoder = Base64UrlWriter::new(out);
    json(&mut encoder)?;
    encoder.finish()
}

fn claims_segment<W: Write, C: Claims>(out: &mut W, claims: &C, jti: &str) -> Result<(), Error> {
    segment(out, |encoder| {
        let mut object = JsonObject::begin(encoder)?;
        claims.write(&mut object, jti)?;
        object.end()
    })
}

/// Writes the signed compact JWS of `claims` into `out`.
pub(crate) fn sign_compact<'o, C: Claims>(
    claims: &C,
    signer: &dyn JwsSigner,
    rng: &mut dyn CryptoRng,
    out: &'o mut [u8],
) -> Result<&'o str, Error> {
    let random_jti = uuid_v4(rng);
    let jti = claims.token_id().unwrap_or(&random_jti);
    let capacity = out.len();
    let mut cursor: &mut [u8] = out;
    segment(&mut cursor, |encoder| header(encoder, signer))?;
    put(&mut cursor, b".")?;
    claims_segment(&mut cursor, claims, jti)?;
    let signing_input_len = capacity - cursor.len();

    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let len = signer.sign(&out[..signing_input_len], rng, &mut signature)?;
    let signature = signature.get(..len).ok_or(Error::SigningFailed)?;
    let mut cursor: &mut [u8] = &mut out[signing_input_len..];
    let remaining = cursor.len();
    put(&mut cursor, b".")?;
    segment(&mut cursor, |encoder| {
        encoder.write_all(signature).map_err(sink_error)
    })?;
    let total = signing_input_len + remaining - cursor.len();
    // Only ASCII was written.
    core::str::from_utf8(&out[..total]).map_err(|_| Error::WriteFailed)
}

/// [`sign_compact`] into a `String` of exactly the right size.
#[cfg(feature = "alloc")]
pub(crate) fn sign_to_string<C: Claims>(
    claims: &C,
    signer: &dyn JwsSigner,
    rng: &mut dyn CryptoRng,
) -> Result<alloc::string::String, Error> {
    let (mut header_len, mut claims_len) = (Counter::default(), Counter::default());
    header(&mut header_len, signer)?;
    // A UUID is what `sign_compact` would generate; a caller's jti is measured as is.
    let jti = claims
        .token_id()
        .unwrap_or("00000000-0000-4000-8000-000000000000");
    {
        let mut object = JsonObject::begin(&mut claims_len)?;
        claims.write(&mut object, jti)?;
        object.end()?;
    }
    let encoded = |len: usize| (len * 4).div_ceil(3);
    let len = encoded(header_len.0) + 1 + encoded(claims_len.0) + 1 + encoded(MAX_SIGNATURE_LEN);
    let mut buffer = alloc::vec![0u8; len];
    let token = sign_compact(claims, signer, rng, &mut buffer)?;
    Ok(alloc::string::String::from(token))
}

pub(crate) fn require_text(name: &'static str, value: &str, capacity: usize) -> Result<(), Error> {
    if value.is_empty() {
        Err(Error::EmptyClaim(name))
    } else if value.len() > capacity {
        Err(Error::ValueTooLong(name))
    } else {
        Ok(())
    }
}

pub(crate) fn check_lifetime(seconds: u64, max: u64) -> Result<u64, Error> {
    if (1..=max).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(Error::InvalidConfiguration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes, for tests only.
    struct Counting(u8);

    impl rand_core::TryRng for Counting {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.next_byte()))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.next_byte()))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.iter_mut().for_each(|byte| *byte = self.next_byte());
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counting {}

    impl Counting {
        fn next_byte(&mut self) -> u8 {
            self.0 = self.0.wrapping_add(0x11);
            self.0
        }
    }

    #[test]
    fn uuids_are_version_4_variant_1() {
        let id = uuid_v4(&mut Counting(0));
        assert_eq!(id.as_str(), "11223344-5566-4788-99aa-bbccddeeff10");
        let id = uuid_v4(&mut Counting(0x80));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
