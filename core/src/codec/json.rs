//! Reading the JSON objects of tokens and key sets without an allocator.
//!
//! Two passes. [`check_object`] first walks the whole document once, iteratively: it enforces
//! RFC 8259 exactly (UTF-8, escapes, number grammar, no trailing data), bounds the nesting depth
//! and the number of top-level members. Then [`parse_object`] walks the same text again, now
//! known to be well-formed, and hands the members a caller cares about to it ([`Members`]);
//! everything else is skipped unread.
//!
//! Both passes are hand-written. `serde-json-core`, which did the second until issue 33, skips
//! unknown values by recursion with no depth limit (a nested-array bomb in an ignored claim
//! would exhaust the stack of a small device), skips unknown scalars by scanning to the next
//! delimiter (so `"x": garbage` would pass) and rejects surrogate pairs when unescaping; and the
//! walk through its visitors, over bytes already checked, cost more than the check itself.
//! Strings are handed to readers still escaped and unescaped here ([`JsonStr`]).

use crate::codec::scan::string_stop;
use crate::error::{Error, Part};

/// Deepest nesting of objects and arrays accepted anywhere in a document.
pub(crate) const MAX_DEPTH: usize = 16;

/// Most members accepted in the top-level object of a header or claims set.
pub(crate) const MAX_MEMBERS: usize = 64;

/// Why a document failed the structural pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Invalid,
    TooDeep,
    TooManyMembers,
}

impl Fault {
    pub(crate) const fn at(self, part: Part) -> Error {
        match self {
            Fault::Invalid => Error::InvalidJson(part),
            Fault::TooDeep => Error::JsonTooDeep(part),
            Fault::TooManyMembers => Error::TooManyMembers(part),
        }
    }
}

/// What the structural pass expects next.
#[derive(Clone, Copy)]
enum Expect {
    Value,
    KeyOrEnd,
    Key,
    ValueOrEnd,
    CommaOrEnd,
}

/// Checks that `input` is exactly one JSON object (RFC 8259) nested at most [`MAX_DEPTH`]
/// deep, with at most `max_members` members at its top level.
/// Returns the document as text.
pub(crate) fn check_object(input: &[u8], max_members: usize) -> Result<&str, Fault> {
    let Ok(text) = core::str::from_utf8(input) else {
        return Err(Fault::Invalid);
    };
    let mut pos = skip_whitespace(input, 0);
    if input.get(pos) != Some(&b'{') {
        return Err(Fault::Invalid);
    }
    // One bit per open container: 1 = object, 0 = array.
    let mut containers: u32 = 0;
    let mut depth = 0usize;
    let mut top_members = 0usize;
    let mut expect = Expect::Value;
    loop {
        pos = skip_whitespace(input, pos);
        let byte = *input.get(pos).ok_or(Fault::Invalid)?;
        expect = match (expect, byte) {
            (Expect::Value | Expect::ValueOrEnd, b'{')
            | (Expect::Value | Expect::ValueOrEnd, b'[') => {
                if depth == MAX_DEPTH {
                    return Err(Fault::TooDeep);
                }
                containers = (containers << 1) | u32::from(byte == b'{');
                depth += 1;
                pos += 1;
                if byte == b'{' {
                    Expect::KeyOrEnd
                } else {
                    Expect::ValueOrEnd
                }
            }
            (Expect::KeyOrEnd | Expect::Key, b'"') => {
                if depth == 1 {
                    top_members += 1;
                    if top_members > max_members {
                        return Err(Fault::TooManyMembers);
                    }
                }
                pos = skip_string(input, pos)?;
                pos = skip_whitespace(input, pos);
                if input.get(pos) != Some(&b':') {
                    return Err(Fault::Invalid);
                }
                pos += 1;
                Expect::Value
            }
            (Expect::KeyOrEnd, b'}') | (Expect::ValueOrEnd, b']') => {
                close(&mut containers, &mut depth, &mut pos);
                Expect::CommaOrEnd
            }
            (Expect::CommaOrEnd, b',') => {
                pos += 1;
                if containers & 1 == 1 {
                    Expect::Key
                } else {
                    Expect::Value
                }
            }
            (Expect::CommaOrEnd, b'}') if containers & 1 == 1 => {
                close(&mut containers, &mut depth, &mut pos);
                Expect::CommaOrEnd
            }
            (Expect::CommaOrEnd, b']') if containers & 1 == 0 => {
                close(&mut containers, &mut depth, &mut pos);
                Expect::CommaOrEnd
            }
            (Expect::Value | Expect::ValueOrEnd, _) => {
                pos = skip_scalar(input, pos)?;
                Expect::CommaOrEnd
            }
            _ => return Err(Fault::Invalid),
        };
        if depth == 0 {
            return match skip_whitespace(input, pos) == input.len() {
                true => Ok(text),
                false => Err(Fault::Invalid),
            };
        }
    }
}

fn close(containers: &mut u32, depth: &mut usize, pos: &mut usize) {
    *containers >>= 1;
    *depth -= 1;
    *pos += 1;
}

fn skip_whitespace(input: &[u8], mut pos: usize) -> usize {
    while matches!(input.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Skips a string starting at the quote at `pos`; returns the position after its closing quote.
fn skip_string(input: &[u8], pos: usize) -> Result<usize, Fault> {
    let mut pos = pos + 1;
    loop {
        let rest = input.get(pos..).ok_or(Fault::Invalid)?;
        pos += string_stop(rest).ok_or(Fault::Invalid)?;
        match *input.get(pos).ok_or(Fault::Invalid)? {
            b'"' => return Ok(pos + 1),
            b'\\' => {
                pos += 1;
                match *input.get(pos).ok_or(Fault::Invalid)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => pos += 1,
                    b'u' => {
                        let digits = input.get(pos + 1..pos + 5).ok_or(Fault::Invalid)?;
                        if !digits.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Fault::Invalid);
                        }
                        pos += 5;
                    }
                    _ => return Err(Fault::Invalid),
                }
            }
            _ => return Err(Fault::Invalid),
        }
    }
}

/// Skips a number, literal or string starting at `pos`.
fn skip_scalar(input: &[u8], pos: usize) -> Result<usize, Fault> {
    let rest = &input[pos..];
    for literal in [&b"true"[..], b"false", b"null"] {
        if rest.starts_with(literal) {
            return Ok(pos + literal.len());
        }
    }
    if rest.first() == Some(&b'"') {
        return skip_string(input, pos);
    }
    skip_number(input, pos)
}

fn skip_number(input: &[u8], mut pos: usize) -> Result<usize, Fault> {
    let digits = |input: &[u8], mut pos: usize| -> Result<usize, Fault> {
        let start = pos;
        while input.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            Err(Fault::Invalid)
        } else {
            Ok(pos)
        }
    };
    if input.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match input.get(pos) {
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => pos = digits(input, pos)?,
        _ => return Err(Fault::Invalid),
    }
    if input.get(pos) == Some(&b'.') {
        pos = digits(input, pos + 1)?;
    }
    if matches!(input.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(input.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = digits(input, pos)?;
    }
    Ok(pos)
}

/// A JSON string as it appears between its quotes, escapes still in place.
///
/// Only ever built from text that passed [`check_object`], so its escapes are well-formed;
/// what can still fail is a `\u` escape naming a lone surrogate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonStr<'a>(pub(crate) &'a str);

/// An escape that does not stand for a Unicode scalar value (a lone surrogate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadEscape;

impl<'a> JsonStr<'a> {
    /// The unescaped characters.
    pub(crate) fn chars(self) -> Unescaped<'a> {
        Unescaped { rest: self.0 }
    }

    /// Whether the unescaped text equals `text`.
    pub(crate) fn eq_str(self, text: &str) -> Result<bool, BadEscape> {
        if !self.0.contains('\\') {
            return Ok(self.0 == text);
        }
        let mut expected = text.chars();
        for ch in self.chars() {
            if expected.next() != Some(ch?) {
                return Ok(false);
            }
        }
        Ok(expected.next().is_none())
    }

    /// Unescapes into `out`; `Ok(false)` when it does not fit.
    pub(crate) fn unescape_into<const N: usize>(
        self,
        out: &mut heapless::String<N>,
    ) -> Result<bool, BadEscape> {
        out.clear();
        if !self.0.contains('\\') {
            return Ok(out.push_str(self.0).is_ok());
        }
        for ch in self.chars() {
            if out.push(ch?).is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Iterator over the characters of a [`JsonStr`].
pub(crate) struct Unescaped<'a> {
    rest: &'a str,
}

impl Iterator for Unescaped<'_> {
    type Item = Result<char, BadEscape>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chars = self.rest.chars();
        let first = chars.next()?;
        if first != '\\' {
            self.rest = chars.as_str();
            return Some(Ok(first));
        }
        let escape = chars.next()?;
        self.rest = chars.as_str();
        let simple = match escape {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return Some(self.unicode_escape()),
            other => other, // '"', '\\' and '/' stand for themselves.
        };
        Some(Ok(simple))
    }
}

impl Unescaped<'_> {
    fn take_hex4(&mut self) -> Option<u32> {
        let digits = self.rest.get(..4)?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.rest = &self.rest[4..];
        Some(value)
    }

    /// After `\u`: one escape, or a surrogate pair written as two.
    fn unicode_escape(&mut self) -> Result<char, BadEscape> {
        let first = self.take_hex4().ok_or(BadEscape)?;
        let scalar = match first {
            0xd800..=0xdbff => {
                let low = self
                    .rest
                    .strip_prefix("\\u")
                    .and_then(|rest| {
                        self.rest = rest;
                        self.take_hex4()
                    })
                    .filter(|low| (0xdc00..=0xdfff).contains(low))
                    .ok_or(BadEscape)?;
                0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(BadEscape),
            other => other,
        };
        char::from_u32(scalar).ok_or(BadEscape)
    }
}

// ---- typed extraction ------------------------------------------------------------------------

/// An object whose members are read into `self`.
pub(crate) trait Members<'de> {
    /// Names of the members this object reads; index `i` is passed to [`Members::member`].
    const NAMES: &'static [&'static str];

    /// Reads the value of member `NAMES[index]`.
    fn member(&mut self, index: usize, value: Value<'_, 'de>) -> Result<(), Error>;
}

/// Checks `json` structurally, then reads its members into `target`. Returns the bitmask of
/// the members seen (bit `i` for `NAMES[i]`).
///
/// Any member named in `NAMES` that appears twice is [`Error::DuplicateMember`]: RFC 7515 §4 and
/// RFC 7519 §4 allow a parser to reject duplicates, and doing so leaves no room for two parsers
/// to read different values from one signed token. Other members are skipped unread, so their
/// duplicates cannot be read ambiguously.
pub(crate) fn parse_object<'de, T: Members<'de>>(
    json: &'de [u8],
    part: Part,
    max_members: usize,
    target: &mut T,
) -> Result<u64, Error> {
    let text = check_object(json, max_members).map_err(|fault| fault.at(part))?;
    let mut cursor = Cursor { text, pos: 0, part };
    read_object(&mut cursor, target, part.as_str())
}

/// A position in a document that [`check_object`] accepted.
///
/// Hand-written rather than `serde-json-core` (which did this pass until issue 33): the
/// structure is already known to be valid, so reading it needs no grammar checks, and walking
/// the same bytes a second time through serde's visitors cost about a third of the work around
/// the signature of a launch (`count_verify` under callgrind, BENCHMARKS.md). Every step still
/// fails closed, with [`Error::InvalidJson`], should the text not be what the check let through.
struct Cursor<'de> {
    text: &'de str,
    pos: usize,
    part: Part,
}

impl<'de> Cursor<'de> {
    /// The next byte that is not whitespace, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        self.pos = skip_whitespace(bytes, self.pos);
        bytes.get(self.pos).copied()
    }

    /// Consumes the next non-whitespace byte, which must be `expected`.
    fn eat(&mut self, expected: u8) -> Result<(), Error> {
        match self.peek() == Some(expected) {
            true => {
                self.pos += 1;
                Ok(())
            }
            false => Err(self.invalid()),
        }
    }

    fn invalid(&self) -> Error {
        Error::InvalidJson(self.part)
    }

    /// The string whose opening quote is next, escapes still in place.
    fn string(&mut self) -> Result<JsonStr<'de>, Error> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = string_end(self.text.as_bytes(), start).ok_or(self.invalid())?;
        self.pos = end + 1;
        // Both ends are ASCII quotes, so this is a char boundary of the checked text.
        let raw = self.text.get(start..end).ok_or(self.invalid())?;
        Ok(JsonStr(raw))
    }

    /// Skips the next value, whatever it is; containers are skipped by counting, not recursion.
    fn skip_value(&mut self) -> Result<(), Error> {
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        loop {
            let byte = self.peek().ok_or(self.invalid())?;
            match byte {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1).ok_or(self.invalid())?;
                    self.pos += 1;
                }
                b',' | b':' if depth > 0 => self.pos += 1,
                _ => {
                    // A number or a literal: up to the next delimiter or whitespace.
                    let scalar = bytes.get(self.pos..).unwrap_or_default();
                    let length = scalar
                        .iter()
                        .position(|byte| {
                            matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                        })
                        .unwrap_or(scalar.len());
                    if length == 0 {
                        return Err(self.invalid());
                    }
                    self.pos += length;
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// After a value of an array: whether another element follows (`,`) or the array ends.
    fn array_continues(&mut self) -> Result<bool, Error> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.invalid()),
        }
    }

    /// Just after `[`: whether the array has a first element.
    fn array_starts(&mut self) -> bool {
        if self.peek() == Some(b']') {
            self.pos += 1;
            return false;
        }
        true
    }
}

/// The index of the quote that closes a string whose text starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        // The text passed `check_object`: what stops a run here is `"` or `\\`.
        pos += string_stop(bytes.get(pos..)?)?;
        match *bytes.get(pos)? {
            b'"' => return Some(pos),
            // The byte after a backslash never ends the string; the rest of a `\u` escape is
            // hex digits, read as ordinary bytes.
            _ => pos += 2,
        }
    }
}

/// Reads the object that comes next into `target`; anything else is
/// [`Error::InvalidMemberType`]`(name)`, `name` being the member that holds it.
fn read_object<'de, T: Members<'de>>(
    cursor: &mut Cursor<'de>,
    target: &mut T,
    name: &'static str,
) -> Result<u64, Error> {
    if cursor.peek() != Some(b'{') {
        return Err(Error::InvalidMemberType(name));
    }
    cursor.pos += 1;
    let mut seen = 0u64;
    if cursor.peek() == Some(b'}') {
        cursor.pos += 1;
        return Ok(seen);
    }
    loop {
        let key = cursor.string()?;
        cursor.eat(b':')?;
        match identify(key, T::NAMES).map_err(|BadEscape| cursor.invalid())? {
            None => cursor.skip_value()?,
            Some(index) => {
                let name = *T::NAMES.get(index).ok_or(cursor.invalid())?;
                if seen & (1 << index) != 0 {
                    return Err(Error::DuplicateMember(name));
                }
                seen |= 1 << index;
                target.member(
                    index,
                    Value {
                        cursor: &mut *cursor,
                        name,
                    },
                )?;
            }
        }
        match cursor.peek() {
            Some(b',') => cursor.pos += 1,
            Some(b'}') => {
                cursor.pos += 1;
                return Ok(seen);
            }
            _ => return Err(cursor.invalid()),
        }
    }
}

/// Which of `names` a member name is, after unescaping.
fn identify(key: JsonStr<'_>, names: &[&str]) -> Result<Option<usize>, BadEscape> {
    // A member name is almost never escaped: one scan for a backslash, then plain
    // comparisons, rather than a scan for each name (about 4 k instructions a launch).
    if !key.0.contains('\\') {
        return Ok(names.iter().position(|name| *name == key.0));
    }
    for (index, name) in names.iter().enumerate() {
        if key.eq_str(name)? {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// The value of one member, to be read in one of the ways below (each consumes it).
pub(crate) struct Value<'c, 'de> {
    cursor: &'c mut Cursor<'de>,
    name: &'static str,
}

impl<'de> Value<'_, 'de> {
    /// A string, unescaped into `out`.
    pub(crate) fn text<const N: usize>(self, out: &mut heapless::String<N>) -> Result<(), Error> {
        let (name, part) = (self.name, self.cursor.part);
        match self.borrowed_str()?.unescape_into(out) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::ValueTooLong(name)),
            Err(BadEscape) => Err(Error::InvalidJson(part)),
        }
    }

    /// A string, still escaped and borrowed from the document.
    pub(crate) fn borrowed_str(self) -> Result<JsonStr<'de>, Error> {
        match self.cursor.peek() {
            Some(b'"') => self.cursor.string(),
            _ => Err(Error::InvalidMemberType(self.name)),
        }
    }

    /// An unsigned integer number of seconds (a NumericDate, RFC 7519 §2, restricted to
    /// integers as a JWT in the wild never needs fractions). Anything else, a number too
    /// large for 64 bits included, is [`Error::InvalidNumericDate`].
    pub(crate) fn numeric_date(self) -> Result<u64, Error> {
        let fault = Error::InvalidNumericDate(self.name);
        self.cursor.peek().ok_or(fault)?;
        let bytes = self.cursor.text.as_bytes();
        let digits = bytes.get(self.cursor.pos..).unwrap_or_default();
        let length = digits
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if length == 0 || matches!(digits.get(length), Some(b'.' | b'e' | b'E')) {
            return Err(fault);
        }
        let mut seconds = 0u64;
        for digit in &digits[..length] {
            seconds = seconds
                .checked_mul(10)
                .and_then(|tens| tens.checked_add(u64::from(digit - b'0')))
                .ok_or(fault)?;
        }
        self.cursor.pos += length;
        Ok(seconds)
    }

    /// A string or an array of strings (as `aud` may be); `each` sees every string until it
    /// returns an error, which the read then returns. Any other shape, or an array holding
    /// anything but strings, is [`Error::InvalidMemberType`] (checked first).
    pub(crate) fn strings(
        self,
        mut each: impl FnMut(JsonStr<'de>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let wrong_type = Error::InvalidMemberType(self.name);
        let cursor = self.cursor;
        match cursor.peek() {
            Some(b'"') => return each(cursor.string()?),
            Some(b'[') => cursor.pos += 1,
            _ => return Err(wrong_type),
        }
        let mut verdict = Ok(());
        let mut all_strings = true;
        let mut more = cursor.array_starts();
        while more {
            if cursor.peek() == Some(b'"') {
                let raw = cursor.string()?;
                if all_strings && verdict.is_ok() {
                    verdict = each(raw);
                }
            } else {
                all_strings = false;
                cursor.skip_value()?;
            }
            more = cursor.array_continues()?;
        }
        match all_strings {
            true => verdict,
            false => Err(wrong_type),
        }
    }

    /// An array of objects, each read into a fresh `T` and handed to `each` with the bitmask
    /// of its members seen.
    pub(crate) fn objects<T: Members<'de> + Default>(
        self,
        mut each: impl FnMut(T, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let name = self.name;
        let cursor = self.cursor;
        if cursor.peek() != Some(b'[') {
            return Err(Error::InvalidMemberType(name));
        }
        cursor.pos += 1;
        let mut more = cursor.array_starts();
        while more {
            let mut item = T::default();
            let seen = read_object(cursor, &mut item, name)?;
            each(item, seen)?;
            more = cursor.array_continues()?;
        }
        Ok(())
    }

    /// Skips the value, whatever it is.
    pub(crate) fn skip(self) -> Result<(), Error> {
        self.cursor.skip_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<(), Fault> {
        check_object(json.as_bytes(), MAX_MEMBERS).map(|_| ())
    }

    #[test]
    fn accepts_rfc8259_objects() {
        for ok in [
            "{}",
            " { } ",
            r#"{"a":1,"b":[true,false,null,-0.5e+3,"x\"\\\/\b\f\n\r\t\u00e9"],"c":{"d":{}}}"#,
            r#"{"a":[],"b":[[]],"c":"é","d":0,"e":-0,"f":1E9}"#,
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_rfc8259_refuses() {
        for bad in [
            "",
            "[]",
            "1",
            "\"x\"",
            "{",
            "}",
            "{,}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":garbage}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"line\nbreak\"}",
            r#"{"a":1}x"#,
            r#"{"a":1}{}"#,
            r#"{1:2}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{'a':1}"#,
        ] {
            assert_eq!(check(bad), Err(Fault::Invalid), "{bad:?}");
        }
        assert_eq!(
            check_object(b"{\"a\":\"\xff\"}", 4).map(|_| ()),
            Err(Fault::Invalid)
        );
    }

    #[test]
    fn bounds_depth_without_recursion() {
        let mut deep = heapless::String::<4096>::new();
        deep.push_str("{\"a\":").unwrap();
        for _ in 0..2000 {
            deep.push('[').unwrap();
        }
        assert_eq!(check(&deep), Err(Fault::TooDeep));
        let at_limit = "{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}";
        assert_eq!(check(at_limit), Ok(()));
        let over = "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}";
        assert_eq!(check(over), Err(Fault::TooDeep));
    }

    #[test]
    fn bounds_top_level_members() {
        assert_eq!(
            check_object(br#"{"a":1,"b":2,"c":{"x":1,"y":2,"z":3}}"#, 3).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            check_object(br#"{"a":1,"b":2,"c":3,"d":4}"#, 3).map(|_| ()),
            Err(Fault::TooManyMembers)
        );
    }

    #[test]
    fn unescapes_including_surrogate_pairs() {
        let mut out = heapless::String::<32>::new();
        assert_eq!(
            JsonStr(r"a\u00e9\ud83d\ude00\/\n").unescape_into(&mut out),
            Ok(true)
        );
        assert_eq!(out.as_str(), "aé😀/\n");
        assert_eq!(JsonStr(r"\ud83d").unescape_into(&mut out), Err(BadEscape));
        assert_eq!(JsonStr(r"\ude00x").unescape_into(&mut out), Err(BadEscape));
        assert_eq!(
            JsonStr(r"\ud83d\u0041").unescape_into(&mut out),
            Err(BadEscape)
        );
        let mut tiny = heapless::String::<2>::new();
        assert_eq!(JsonStr("abc").unescape_into(&mut tiny), Ok(false));
        assert_eq!(JsonStr(r"\u0065xp").eq_str("exp"), Ok(true));
        assert_eq!(JsonStr(r"\u0065xp").eq_str("ex"), Ok(false));
        assert_eq!(JsonStr("ex").eq_str("exp"), Ok(false));
    }
}
