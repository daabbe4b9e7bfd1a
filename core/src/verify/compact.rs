//! Splitting a compact JWS (RFC 7515 §7.1) into its segments, before anything is decoded.

use crate::error::Error;

/// The three segments of a compact JWS, still base64url-encoded, borrowed from the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compact<'t> {
    /// The encoded JOSE header.
    pub header: &'t [u8],
    /// The encoded claims.
    pub payload: &'t [u8],
    /// The encoded signature.
    pub signature: &'t [u8],
    /// `header '.' payload`: the bytes the signature covers.
    pub signing_input: &'t [u8],
}

impl<'t> Compact<'t> {
    /// Splits `token` into its segments.
    ///
    /// The length is checked first, so an oversized token costs nothing more to refuse. A
    /// token with four dots is a JWE-wrapped launch and gets its own error. An empty signature
    /// is left for the caller to refuse after the header, so that an `alg: none` token is
    /// reported as such.
    ///
    /// ```
    /// use koppeltaal_core::{Compact, Error};
    /// let parts = Compact::split(b"aGVhZA.Ym9keQ.c2ln", 8192).unwrap();
    /// assert_eq!(parts.signing_input, b"aGVhZA.Ym9keQ");
    /// assert_eq!(Compact::split(b"a.b.c.d.e", 8192), Err(Error::EncryptedToken));
    /// ```
    pub fn split(token: &'t [u8], max_len: usize) -> Result<Compact<'t>, Error> {
        if token.len() > max_len {
            return Err(Error::TokenTooLarge);
        }
        // `memchr` finds the dots a vector at a time (a byte loop was 6.2 k instructions of
        // a launch's 1,000-odd bytes); five dots are enough to tell every outcome apart.
        let mut dots = [0usize; 2];
        let mut count = 0usize;
        for index in memchr::memchr_iter(b'.', token).take(5) {
            if let Some(slot) = dots.get_mut(count) {
                *slot = index;
            }
            count += 1;
        }
        match count {
            2 => {}
            4 => return Err(Error::EncryptedToken),
            _ => return Err(Error::MalformedToken),
        }
        let [first, second] = dots;
        let (signing_input, signature) = (&token[..second], &token[second + 1..]);
        let (header, payload) = (&token[..first], &token[first + 1..second]);
        if header.is_empty() || payload.is_empty() {
            return Err(Error::MalformedToken);
        }
        Ok(Compact {
            header,
            payload,
            signature,
            signing_input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_counts() {
        assert_eq!(Compact::split(b"abc", 100), Err(Error::MalformedToken));
        assert_eq!(Compact::split(b"a.b", 100), Err(Error::MalformedToken));
        assert_eq!(Compact::split(b"a.b.c.d", 100), Err(Error::MalformedToken));
        assert_eq!(
            Compact::split(b"a.b.c.d.e", 100),
            Err(Error::EncryptedToken)
        );
        assert_eq!(
            Compact::split(b"a.b.c.d.e.f", 100),
            Err(Error::MalformedToken)
        );
        assert_eq!(Compact::split(b"....", 100), Err(Error::EncryptedToken));
    }

    #[test]
    fn empty_segments() {
        assert_eq!(Compact::split(b".b.c", 100), Err(Error::MalformedToken));
        assert_eq!(Compact::split(b"a..c", 100), Err(Error::MalformedToken));
        assert_eq!(
            Compact::split(b"a.b.", 100).map(|parts| parts.signature),
            Ok(&b""[..])
        );
    }

    #[test]
    fn size_limit_is_inclusive() {
        assert!(Compact::split(b"a.b.c", 5).is_ok());
        assert_eq!(Compact::split(b"a.b.c", 4), Err(Error::TokenTooLarge));
    }
}
