//! Reading the JSON objects of tokens and key sets without an allocator.
//!
//! Two passes. [`check_object`] first walks the whole document once, iteratively: it enforces
//! RFC 8259 exactly (UTF-8, escapes, number grammar, no trailing data), bounds the nesting depth
//! and the number of top-level members. Then [`parse_object`] extracts the members a caller
//! cares about through `serde-json-core`, which does the typed walking.
//!
//! Why the first pass is hand-written: `serde-json-core` skips unknown values by recursion with
//! no depth limit (a nested-array bomb in an ignored claim would exhaust the stack of a small
//! device) and skips unknown scalars by scanning to the next delimiter (so `"x": garbage` would
//! pass). Its string unescaping also rejects surrogate pairs; strings are therefore handed to
//! visitors still escaped and unescaped here ([`JsonStr`]).

use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
pub(crate) fn check_object(input: &[u8], max_members: usize) -> Result<(), Fault> {
    if core::str::from_utf8(input).is_err() {
        return Err(Fault::Invalid);
    }
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
                true => Ok(()),
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
            0x00..=0x1f => return Err(Fault::Invalid),
            _ => pos += 1,
        }
    }
}

/// Skips a number or literal starting at `pos`.
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

/// What the typed pass learned besides the values: the precise error a visitor found, and the
/// time member whose number `serde-json-core` may fail on after the visitor returned.
pub(crate) struct Walk {
    part: Part,
    error: Option<Error>,
    numeric: Option<&'static str>,
}

impl Walk {
    fn fail<E: de::Error>(&mut self, error: Error) -> E {
        self.error.get_or_insert(error);
        E::custom("")
    }
}

/// An object whose members are read into `self`.
pub(crate) trait Members<'de> {
    /// Names of the members this object reads; index `i` is passed to [`Members::member`].
    const NAMES: &'static [&'static str];

    /// Reads the value of member `NAMES[index]`.
    fn member<A: MapAccess<'de>>(
        &mut self,
        index: usize,
        value: Value<'_, 'de, A>,
    ) -> Result<(), A::Error>;
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
    check_object(json, max_members).map_err(|fault| fault.at(part))?;
    let mut walk = Walk {
        part,
        error: None,
        numeric: None,
    };
    let mut deserializer = serde_json_core::de::Deserializer::new(json, None);
    let seen = ObjectSeed {
        target,
        walk: &mut walk,
        name: part.as_str(),
    }
    .deserialize(&mut deserializer)
    .and_then(|seen| deserializer.end().map(|_| seen));
    seen.map_err(|_| match (walk.error, walk.numeric) {
        (Some(error), _) => error,
        // The structural pass has accepted the document, so the only thing `serde-json-core`
        // can stumble on is a time member that is not a plain unsigned integer.
        (None, Some(name)) => Error::InvalidNumericDate(name),
        (None, None) => Error::InvalidJson(part),
    })
}

/// Reads one object into `target`; `name` is the member holding it, for a type error.
struct ObjectSeed<'w, T> {
    target: &'w mut T,
    walk: &'w mut Walk,
    name: &'static str,
}

impl<'de, T: Members<'de>> DeserializeSeed<'de> for ObjectSeed<'_, T> {
    type Value = u64;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_ignored_any(self)
    }
}

impl<'de, T: Members<'de>> Visitor<'de> for ObjectSeed<'_, T> {
    type Value = u64;

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<u64, E> {
        Err(self.walk.fail(Error::InvalidMemberType(self.name)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Err(self.walk.fail(Error::InvalidMemberType(self.name)))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, _: S) -> Result<u64, S::Error> {
        Err(self.walk.fail(Error::InvalidMemberType(self.name)))
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<u64, M::Error> {
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(KeySeed {
            names: T::NAMES,
            walk: &mut *self.walk,
        })? {
            self.walk.numeric = None;
            let Some(index) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let name = T::NAMES[index];
            if seen & (1 << index) != 0 {
                return Err(self.walk.fail(Error::DuplicateMember(name)));
            }
            seen |= 1 << index;
            let value = Value {
                map: &mut map,
                walk: &mut *self.walk,
                name,
                marker: PhantomData,
            };
            self.target.member(index, value)?;
        }
        Ok(seen)
    }
}

/// Identifies a member name (after unescaping) among `names`.
struct KeySeed<'w> {
    names: &'static [&'static str],
    walk: &'w mut Walk,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, raw: &str) -> Result<Self::Value, E> {
        // A member name is almost never escaped: one scan for a backslash, then plain
        // comparisons, rather than a scan for each name (about 4 k instructions a launch).
        if !raw.contains('\\') {
            return Ok(self.names.iter().position(|name| *name == raw));
        }
        let key = JsonStr(raw);
        for (index, name) in self.names.iter().enumerate() {
            match key.eq_str(name) {
                Ok(true) => return Ok(Some(index)),
                Ok(false) => {}
                Err(BadEscape) => {
                    let part = self.walk.part;
                    return Err(self.walk.fail(Error::InvalidJson(part)));
                }
            }
        }
        Ok(None)
    }
}

/// The value of one member, to be read in one of the ways below.
pub(crate) struct Value<'a, 'de, A> {
    map: &'a mut A,
    walk: &'a mut Walk,
    name: &'static str,
    marker: PhantomData<&'de ()>,
}

impl<'de, A: MapAccess<'de>> Value<'_, 'de, A> {
    /// A string, unescaped into `out`.
    pub(crate) fn text<const N: usize>(
        self,
        out: &mut heapless::String<N>,
    ) -> Result<(), A::Error> {
        let (name, part) = (self.name, self.walk.part);
        let walk = &mut *self.walk;
        let raw = borrowed_str(self.map, walk, name)?;
        match raw.unescape_into(out) {
            Ok(true) => Ok(()),
            Ok(false) => Err(walk.fail(Error::ValueTooLong(name))),
            Err(BadEscape) => Err(walk.fail(Error::InvalidJson(part))),
        }
    }

    /// A string, still escaped and borrowed from the document.
    pub(crate) fn borrowed_str(self) -> Result<JsonStr<'de>, A::Error> {
        borrowed_str(self.map, self.walk, self.name)
    }

    /// An unsigned integer number of seconds (a NumericDate, RFC 7519 §2, restricted to
    /// integers as a JWT in the wild never needs fractions).
    pub(crate) fn numeric_date(self) -> Result<u64, A::Error> {
        self.walk.numeric = Some(self.name);
        self.map.next_value::<u64>()
    }

    /// A string or an array of strings (as `aud` may be); `each` sees every string, and the
    /// first error it returns ends the read.
    pub(crate) fn strings(
        self,
        mut each: impl FnMut(JsonStr<'de>) -> Result<(), Error>,
    ) -> Result<(), A::Error> {
        let mut verdict = Ok(());
        let right_shape = self.map.next_value_seed(StringsSeed {
            each: &mut |raw| {
                if verdict.is_ok() {
                    verdict = each(raw);
                }
            },
        })?;
        match (right_shape, verdict) {
            (false, _) => Err(self.walk.fail(Error::InvalidMemberType(self.name))),
            (true, Err(error)) => Err(self.walk.fail(error)),
            (true, Ok(())) => Ok(()),
        }
    }

    /// An array of objects, each read into a fresh `T` and handed to `each` with the bitmask
    /// of its members seen.
    pub(crate) fn objects<T: Members<'de> + Default>(
        self,
        mut each: impl FnMut(T, u64) -> Result<(), Error>,
    ) -> Result<(), A::Error> {
        let name = self.name;
        let walk = &mut *self.walk;
        let right_shape = self.map.next_value_seed(ObjectsSeed {
            walk: &mut *walk,
            name,
            each: &mut each,
            marker: PhantomData::<T>,
        })?;
        if right_shape {
            Ok(())
        } else {
            Err(walk.fail(Error::InvalidMemberType(name)))
        }
    }

    /// Skips the value, whatever it is.
    pub(crate) fn skip(self) -> Result<(), A::Error> {
        self.map.next_value::<IgnoredAny>().map(|_| ())
    }
}

fn borrowed_str<'de, A: MapAccess<'de>>(
    map: &mut A,
    walk: &mut Walk,
    name: &'static str,
) -> Result<JsonStr<'de>, A::Error> {
    match map.next_value_seed(ShapeSeed)? {
        Shape::Str(raw) => Ok(raw),
        Shape::Other => Err(walk.fail(Error::InvalidMemberType(name))),
    }
}

/// The JSON type of a value, with a string's raw text.
enum Shape<'de> {
    Str(JsonStr<'de>),
    Other,
}

/// Reads any value and reports its shape. `deserialize_ignored_any` is the one entry point of
/// `serde-json-core` that dispatches on the value's first byte, so it serves as the
/// `deserialize_any` it lacks.
struct ShapeSeed;

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Shape<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_ignored_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Shape<'de>;

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, raw: &'de str) -> Result<Self::Value, E> {
        Ok(Shape::Str(JsonStr(raw)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Shape::Other)
    }
}

/// Reads a string or an array of strings; the value is whether the shape was right.
struct StringsSeed<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(JsonStr<'de>)> DeserializeSeed<'de> for StringsSeed<'_, F> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_ignored_any(self)
    }
}

impl<'de, F: FnMut(JsonStr<'de>)> Visitor<'de> for StringsSeed<'_, F> {
    type Value = bool;

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("a string or an array of strings")
    }

    fn visit_borrowed_str<E: de::Error>(self, raw: &'de str) -> Result<bool, E> {
        (self.each)(JsonStr(raw));
        Ok(true)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<bool, S::Error> {
        let mut all_strings = true;
        while let Some(element) = seq.next_element_seed(ShapeSeed)? {
            match element {
                Shape::Str(raw) if all_strings => (self.each)(raw),
                _ => all_strings = false,
            }
        }
        Ok(all_strings)
    }
}

/// Reads an array of objects; the value is whether the outer shape was an array.
struct ObjectsSeed<'w, F, T> {
    walk: &'w mut Walk,
    name: &'static str,
    each: &'w mut F,
    marker: PhantomData<T>,
}

impl<'de, T, F> DeserializeSeed<'de> for ObjectsSeed<'_, F, T>
where
    T: Members<'de> + Default,
    F: FnMut(T, u64) -> Result<(), Error>,
{
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_ignored_any(self)
    }
}

impl<'de, T, F> Visitor<'de> for ObjectsSeed<'_, F, T>
where
    T: Members<'de> + Default,
    F: FnMut(T, u64) -> Result<(), Error>,
{
    type Value = bool;

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("an array of objects")
    }

    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<bool, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<bool, S::Error> {
        loop {
            let mut item = T::default();
            let seed = ObjectSeed {
                target: &mut item,
                walk: &mut *self.walk,
                name: self.name,
            };
            let Some(seen) = seq.next_element_seed(seed)? else {
                return Ok(true);
            };
            if let Err(error) = (self.each)(item, seen) {
                return Err(self.walk.fail(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<(), Fault> {
        check_object(json.as_bytes(), MAX_MEMBERS)
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
        assert_eq!(check_object(b"{\"a\":\"\xff\"}", 4), Err(Fault::Invalid));
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
            check_object(br#"{"a":1,"b":2,"c":{"x":1,"y":2,"z":3}}"#, 3),
            Ok(())
        );
        assert_eq!(
            check_object(br#"{"a":1,"b":2,"c":3,"d":4}"#, 3),
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
