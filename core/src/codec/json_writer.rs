//! Writing JSON and base64url into any `embedded_io::Write`, without an allocator.

use base64ct::{Base64UrlUnpadded, Encoding};
use embedded_io::{ErrorKind, ErrorType, Write};

use crate::error::Error;

/// Maps a sink's error: a full buffer is [`Error::BufferTooSmall`], anything else
/// [`Error::WriteFailed`].
pub(crate) fn sink_error<E: embedded_io::Error>(error: E) -> Error {
    match error.kind() {
        ErrorKind::WriteZero | ErrorKind::OutOfMemory => Error::BufferTooSmall,
        _ => Error::WriteFailed,
    }
}

pub(crate) fn put<W: Write>(out: &mut W, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).map_err(sink_error)
}

/// Writes `text` as a JSON string (RFC 8259 §7): quotes, backslashes and control characters
/// escaped, everything else as UTF-8.
pub(crate) fn json_string<W: Write>(out: &mut W, text: &str) -> Result<(), Error> {
    put(out, b"\"")?;
    let mut rest = text.as_bytes();
    while let Some(index) = rest
        .iter()
        .position(|byte| matches!(byte, b'"' | b'\\' | 0x00..=0x1f))
    {
        put(out, &rest[..index])?;
        let escaped: &[u8] = match rest[index] {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(control >> 4)],
                    HEX[usize::from(control & 0xf)],
                ];
                put(out, &code)?;
                rest = &rest[index + 1..];
                continue;
            }
        };
        put(out, escaped)?;
        rest = &rest[index + 1..];
    }
    put(out, rest)?;
    put(out, b"\"")
}

/// Writes one JSON object member by member, with no whitespace.
pub(crate) struct JsonObject<'w, W> {
    out: &'w mut W,
    first: bool,
}

impl<'w, W: Write> JsonObject<'w, W> {
    pub(crate) fn begin(out: &'w mut W) -> Result<Self, Error> {
        put(out, b"{")?;
        Ok(JsonObject { out, first: true })
    }

    fn name(&mut self, name: &str) -> Result<(), Error> {
        if !self.first {
            put(self.out, b",")?;
        }
        self.first = false;
        json_string(self.out, name)?;
        put(self.out, b":")
    }

    pub(crate) fn string(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.name(name)?;
        json_string(self.out, value)
    }

    pub(crate) fn number(&mut self, name: &str, value: u64) -> Result<(), Error> {
        self.name(name)?;
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = value;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        put(self.out, &digits[start..])
    }

    /// A string member holding the base64url encoding of `bytes`.
    pub(crate) fn base64url(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.name(name)?;
        put(self.out, b"\"")?;
        let mut encoder = Base64UrlWriter::new(&mut *self.out);
        encoder.write_all(bytes).map_err(sink_error)?;
        encoder.finish()?;
        put(self.out, b"\"")
    }

    pub(crate) fn end(self) -> Result<(), Error> {
        put(self.out, b"}")
    }
}

/// Encodes everything written to it as unpadded base64url into `out`; call
/// [`finish`](Self::finish) to write the last partial group.
pub(crate) struct Base64UrlWriter<'w, W> {
    out: &'w mut W,
    pending: [u8; 3],
    pending_len: usize,
}

impl<'w, W: Write> Base64UrlWriter<'w, W> {
    pub(crate) fn new(out: &'w mut W) -> Self {
        Base64UrlWriter {
            out,
            pending: [0; 3],
            pending_len: 0,
        }
    }

    fn encode(&mut self, group: &[u8]) -> Result<(), W::Error> {
        let mut encoded = [0u8; 64];
        // `group` is at most 48 bytes here, which encode to at most 64 characters.
        let text = Base64UrlUnpadded::encode(group, &mut encoded).unwrap_or_default();
        self.out.write_all(text.as_bytes())
    }

    /// Writes the final one or two bytes, if any.
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        let pending = self.pending;
        self.encode(&pending[..self.pending_len])
            .map_err(sink_error)
    }
}

impl<W: Write> ErrorType for Base64UrlWriter<'_, W> {
    type Error = W::Error;
}

impl<W: Write> Write for Base64UrlWriter<'_, W> {
    fn write(&mut self, mut buf: &[u8]) -> Result<usize, Self::Error> {
        let written = buf.len();
        if self.pending_len > 0 {
            let take = (3 - self.pending_len).min(buf.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&buf[..take]);
            self.pending_len += take;
            buf = &buf[take..];
            if self.pending_len < 3 {
                return Ok(written);
            }
            let group = self.pending;
            self.encode(&group)?;
            self.pending_len = 0;
        }
        let mut chunks = buf.chunks_exact(48);
        for chunk in &mut chunks {
            self.encode(chunk)?;
        }
        let rest = chunks.remainder();
        let whole = rest.len() / 3 * 3;
        self.encode(&rest[..whole])?;
        self.pending[..rest.len() - whole].copy_from_slice(&rest[whole..]);
        self.pending_len = rest.len() - whole;
        Ok(written)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.out.flush()
    }
}

/// Counts what is written to it: how long an output will be, before writing it.
#[cfg(feature = "alloc")]
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

#[cfg(feature = "alloc")]
impl ErrorType for Counter {
    type Error = core::convert::Infallible;
}

#[cfg(feature = "alloc")]
impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Feeds what is written to it into a hash.
pub(crate) struct Hasher<D>(pub(crate) D);

impl<D> ErrorType for Hasher<D> {
    type Error = core::convert::Infallible;
}

impl<D: sha2::Digest> Write for Hasher<D> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut &mut [u8]) -> Result<(), Error>) -> heapless::String<512> {
        let mut buffer = [0u8; 512];
        let mut out: &mut [u8] = &mut buffer;
        f(&mut out).unwrap();
        let len = 512 - out.len();
        heapless::String::try_from(core::str::from_utf8(&buffer[..len]).unwrap()).unwrap()
    }

    #[test]
    fn escapes_what_json_requires() {
        let text = written(|out| json_string(out, "a\"b\\c\nd\te\u{1}f/é😀"));
        assert_eq!(text.as_str(), r#""a\"b\\c\nd\te\u0001f/é😀""#);
    }

    #[test]
    fn objects_and_numbers() {
        let text = written(|out| {
            let mut object = JsonObject::begin(out)?;
            object.string("iss", "x")?;
            object.number("iat", 0)?;
            object.number("exp", u64::MAX)?;
            object.base64url("n", &[0xfb, 0xff])?;
            object.end()
        });
        assert_eq!(
            text.as_str(),
            r#"{"iss":"x","iat":0,"exp":18446744073709551615,"n":"-_8"}"#
        );
    }

    #[test]
    fn base64url_writer_matches_one_shot_encoding_for_any_split() {
        let data: [u8; 200] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        for split in [0, 1, 2, 3, 47, 48, 49, 100, 199, 200] {
            let text = written(|out| {
                let mut encoder = Base64UrlWriter::new(out);
                encoder.write_all(&data[..split]).map_err(sink_error)?;
                encoder.write_all(&data[split..]).map_err(sink_error)?;
                encoder.finish()
            });
            let mut expected = [0u8; 300];
            let expected = Base64UrlUnpadded::encode(&data, &mut expected).unwrap();
            assert_eq!(text.as_str(), expected, "split at {split}");
        }
    }

    #[test]
    fn a_full_buffer_is_buffer_too_small() {
        let mut buffer = [0u8; 4];
        let mut out: &mut [u8] = &mut buffer;
        assert_eq!(
            json_string(&mut out, "too long"),
            Err(Error::BufferTooSmall)
        );
    }
}
