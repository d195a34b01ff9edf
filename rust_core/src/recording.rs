//! The recording format: one message per line, `<receive_ts_ns> <raw message>`, as written by
//! `tradecore record` and found in `../shared/data/binance/`. Bare message lines (no timestamp,
//! as in the Bybit file) are accepted too. Blank lines are skipped.

use crate::error::{Error, Result};

/// One line of a recording.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number, counted from the `first_line` given to `lines`.
    pub number: u64,
    /// Receive time in nanoseconds, when the line carries one.
    pub recv_ts_ns: Option<i64>,
    pub message: &'a [u8],
}

/// Splits `data` (complete lines) into recording lines. A line that is neither
/// `<digits> <message>` nor a bare JSON message yields an error for that line only.
pub fn lines(data: &[u8], first_line: u64) -> impl Iterator<Item = (u64, Result<Line<'_>>)> {
    let mut number = first_line.saturating_sub(1);
    data.split(|&b| b == b'\n').filter_map(move |raw| {
        number += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        Some((number, parse_line(number, raw)))
    })
}

fn parse_line(number: u64, raw: &[u8]) -> Result<Line<'_>> {
    match raw.first() {
        Some(b'{' | b'[') => Ok(Line { number, recv_ts_ns: None, message: raw }),
        Some(b'0'..=b'9') => {
            let space = raw.iter().position(|&b| b == b' ');
            let digits = space.map_or(raw, |i| &raw[..i]);
            let ts = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<i64>().ok());
            match (space, ts) {
                (Some(i), Some(ts)) => Ok(Line { number, recv_ts_ns: Some(ts), message: &raw[i + 1..] }),
                _ => Err(Error::invalid("recv_ts_ns", 0, "expected '<receive_ts_ns> <message>'")),
            }
        }
        _ => Err(Error::MalformedJson { offset: 0, expected: "'<receive_ts_ns> <message>' or a JSON message" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prefixed_bare_and_blank_lines() {
        let data = b"123 {\"a\":1}\n{\"b\":2}\r\n\n  \nxyz\n99x {}\n";
        let got: Vec<_> = lines(data, 10).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (10, Ok(Line { number: 10, recv_ts_ns: Some(123), message: b"{\"a\":1}" })));
        assert_eq!(got[1], (11, Ok(Line { number: 11, recv_ts_ns: None, message: b"{\"b\":2}" })));
        assert_eq!(got[2].0, 14);
        assert!(got[2].1.is_err());
        assert!(got[3].1.is_err());
    }
}
