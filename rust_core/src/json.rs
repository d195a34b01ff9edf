//! A strict, allocation-free JSON cursor over raw bytes.
//!
//! Venue parsers walk a message once with it: known fields are read straight into typed values,
//! unknown ones are validated and skipped. Every error carries the byte offset where it was
//! found. Nesting is bounded so hostile input cannot exhaust the stack.

use crate::decimal::{DecimalError, Fixed};
use crate::error::{Error, Result};

const MAX_DEPTH: u32 = 64;

#[derive(Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A cursor positioned at `pos`, to read a value whose offset was recorded earlier.
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos: pos.min(buf.len()) }
    }

    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The whole buffer and the position, for specialised fast paths that parse bytes directly
    /// and then `skip_to` the end of what they consumed.
    #[inline]
    pub(crate) fn raw(&self) -> (&'a [u8], usize) {
        (self.buf, self.pos)
    }

    #[inline]
    pub(crate) fn skip_to(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    #[inline]
    fn fail<T>(&self, expected: &'static str) -> Result<T> {
        Err(Error::MalformedJson { offset: self.pos, expected })
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn eat(&mut self, byte: u8, expected: &'static str) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(expected)
        }
    }

    /// Requires that nothing but whitespace follows.
    pub fn finish(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("end of message"),
        }
    }

    /// Walks an object, calling `member` with each key; `member` must consume the value.
    /// Returns the offset just past the closing brace.
    #[inline]
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Result<()>) -> Result<usize> {
        self.eat(b'{', "'{'")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(self.pos);
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.fail("a string key");
            }
            let key = self.string()?;
            self.eat(b':', "':'")?;
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(self.pos);
                }
                _ => return self.fail("',' or '}'"),
            }
        }
    }

    /// Walks an array, calling `element` with each index; `element` must consume the value.
    #[inline]
    pub fn array(&mut self, mut element: impl FnMut(&mut Self, usize) -> Result<()>) -> Result<()> {
        self.eat(b'[', "'['")?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            element(self, index)?;
            index += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.fail("',' or ']'"),
            }
        }
    }

    /// A string's raw contents (escapes validated, not decoded).
    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8]> {
        self.eat(b'"', "'\"'")?;
        let start = self.pos;
        loop {
            let Some(&b) = self.buf.get(self.pos) else { return self.fail("closing '\"'") };
            match b {
                b'"' => {
                    let s = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Ok(s);
                }
                b'\\' => self.escape()?,
                0..=0x1f => return self.fail("no control characters in strings"),
                _ => self.pos += 1,
            }
        }
    }

    fn escape(&mut self) -> Result<()> {
        self.pos += 1;
        match self.buf.get(self.pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
            Some(b'u') => {
                self.pos += 1;
                for _ in 0..4 {
                    match self.buf.get(self.pos) {
                        Some(h) if h.is_ascii_hexdigit() => self.pos += 1,
                        _ => return self.fail("four hex digits after \\u"),
                    }
                }
            }
            _ => return self.fail("a valid escape"),
        }
        Ok(())
    }

    /// A JSON boolean.
    pub fn bool(&mut self) -> Result<bool> {
        self.peek();
        if self.buf[self.pos..].starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if self.buf[self.pos..].starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            self.fail("true or false")
        }
    }

    /// A non-negative JSON integer (update ids, timestamps). `field` names it in errors.
    #[inline]
    pub fn u64(&mut self, field: &'static str) -> Result<u64> {
        self.skip_ws();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&b) = self.buf.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            value = match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                Some(v) => v,
                None => return Err(Error::invalid(field, start, "integer too large")),
            };
            self.pos += 1;
        }
        if self.pos == start || matches!(self.buf.get(self.pos), Some(b'.' | b'e' | b'E' | b'-')) {
            // Not an unsigned integer: say what it is if it is valid JSON at all.
            self.pos = start;
            self.skip_value()?;
            return Err(Error::invalid(field, start, "expected a non-negative integer"));
        }
        if self.buf[start] == b'0' && self.pos - start > 1 {
            return Err(Error::MalformedJson { offset: start, expected: "no leading zeros" });
        }
        Ok(value)
    }

    /// A JSON integer that may be negative (trade timestamps are never negative, but be exact).
    pub fn i64(&mut self, field: &'static str) -> Result<i64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let magnitude = self.u64(field)?;
        let value = i64::try_from(magnitude).map_err(|_| Error::invalid(field, start, "integer too large"))?;
        Ok(if negative { -value } else { value })
    }

    /// A decimal sent as a string (`"61800.30"`) or a bare JSON number, parsed exactly.
    /// `field` names it in errors and is only called on error.
    #[inline]
    pub fn decimal(&mut self, field: impl Fn() -> String) -> Result<Fixed> {
        let (text, at) = self.decimal_text(&field)?;
        Fixed::parse(text).map_err(|e| decimal_error(&field, at, e))
    }

    /// A price or quantity as `f64`, correctly rounded. Exact decimals take the fixed-point fast
    /// path; values beyond its precision or range fall back to the standard float parser.
    pub fn float(&mut self, field: &'static str) -> Result<f64> {
        let name = || field.to_owned();
        let (text, at) = self.decimal_text(&name)?;
        match Fixed::parse(text) {
            Ok(v) => Ok(v.to_f64()),
            Err(DecimalError::TooPrecise | DecimalError::TooLarge) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| Error::invalid(field, at, "not a finite number")),
            Err(e) => Err(decimal_error(&name, at, e)),
        }
    }

    /// The text of a decimal (string contents or bare number token) and its offset.
    #[inline]
    fn decimal_text(&mut self, field: &impl Fn() -> String) -> Result<(&'a [u8], usize)> {
        let start = match self.peek() {
            Some(b'"') => {
                let at = self.pos + 1;
                return Ok((self.string()?, at));
            }
            Some(_) => self.pos,
            None => return self.fail("a number"),
        };
        while let Some(&b) = self.buf.get(self.pos) {
            if !matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E') {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            // Some other JSON value (object, null, ...): validate it so the error is accurate.
            self.skip_value()?;
            return Err(Error::invalid(field(), start, "expected a decimal string or number"));
        }
        Ok((&self.buf[start..self.pos], start))
    }

    /// Validates and skips any JSON value.
    pub fn skip_value(&mut self) -> Result<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.fail("nesting no deeper than 64 levels");
        }
        match self.peek() {
            Some(b'{') => self.object(|c, _| c.skip_nested(depth + 1)).map(|_| ()),
            Some(b'[') => self.array(|c, _| c.skip_nested(depth + 1)),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("a JSON value"),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        if self.buf[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("true, false or null")
        }
    }

    /// Validates a JSON number: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
    fn number(&mut self) -> Result<()> {
        if self.buf.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.buf.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail("a digit"),
        }
        if self.buf.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.need_digits()?;
        }
        if matches!(self.buf.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.buf.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.need_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.buf.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn need_digits(&mut self) -> Result<()> {
        let start = self.pos;
        self.digits();
        if self.pos == start { self.fail("a digit") } else { Ok(()) }
    }
}

fn decimal_error(field: &impl Fn() -> String, offset: usize, e: DecimalError) -> Error {
    Error::InvalidValue { field: field(), offset, reason: e.reason().to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn skip(text: &str) -> Result<()> {
        let mut c = Cursor::new(text.as_bytes());
        c.skip_value()?;
        c.finish()
    }

    #[test]
    fn accepts_valid_json() {
        for ok in [r#"{"a":[1,-2.5e+3,"x\"y\u00e9",true,false,null,{}],"b":[]}"#, " 0 ", "[[[]]]"] {
            assert_eq!(skip(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_json_with_offset() {
        for (bad, offset) in [
            (r#"{"a":1,}"#, 7),
            (r#"{"a" 1}"#, 5),
            (r#"[1 2]"#, 3),
            (r#"{"a":01}"#, 6),
            (r#"{"a":"x"#, 7),
            (r#"{"a":tru}"#, 5),
            ("\"\u{1}\"", 1),
            (r#"{} x"#, 3),
            (r#"-"#, 1),
            (r#"1."#, 2),
        ] {
            match skip(bad) {
                Err(Error::MalformedJson { offset: got, .. }) => assert_eq!(got, offset, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn bounded_nesting() {
        let deep = "[".repeat(100_000);
        assert!(matches!(skip(&deep), Err(Error::MalformedJson { .. })));
    }

    #[test]
    fn integers_are_checked() {
        let mut c = Cursor::new(b"18446744073709551616");
        assert!(matches!(c.u64("u"), Err(Error::InvalidValue { .. })));
        let mut c = Cursor::new(b"1.5");
        assert!(matches!(c.u64("u"), Err(Error::InvalidValue { .. })));
        let mut c = Cursor::new(b"-7");
        assert_eq!(c.i64("T"), Ok(-7));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut c = Cursor::new(&bytes);
            let _ = c.skip_value();
        }

        #[test]
        fn never_panics_on_json_alphabet(text in "[\\[\\]{}\",:0-9.eE+\\-a-z\\\\ ]{0,48}") {
            let mut c = Cursor::new(text.as_bytes());
            let _ = c.skip_value();
        }
    }
}
