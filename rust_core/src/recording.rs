//! The recording format: one message per line, `<receive_ts_ns> <raw message>`, as written by
//! `tradecore record` and found in `../shared/data/binance/`. Bare message lines (no timestamp,
//! as in the Bybit file) are accepted too. Blank lines are skipped.

use crate::error::{Error, Result};
use crate::venues::{Trade, Venue, depth_symbol, parse_trades};

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
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
    ends.filter_map(move |end| {
        let raw = data.get(start..end).unwrap_or_default();
        start = end + 1;
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

/// A line that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub error: Error,
}

/// Bad lines met while replaying: all are counted, the first ones keep their details.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorLog {
    pub count: u64,
    pub first: Vec<LineError>,
}

impl ErrorLog {
    /// How many bad lines keep their details; the rest are only counted.
    pub const DETAILS: usize = 1_000;

    pub fn record(&mut self, error: LineError) {
        self.count += 1;
        if self.first.len() < Self::DETAILS {
            self.first.push(error);
        }
    }
}

/// The trades of a recording, column by column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TradeColumns {
    pub ts_ms: Vec<i64>,
    pub price: Vec<f64>,
    pub qty: Vec<f64>,
    pub taker_buy: Vec<bool>,
    /// Every symbol that traded in the data read, in order of first appearance.
    pub symbols: Vec<String>,
}

impl TradeColumns {
    fn push(&mut self, t: Trade) {
        self.ts_ms.push(t.ts_ms);
        self.price.push(t.price);
        self.qty.push(t.qty);
        self.taker_buy.push(t.taker_buy);
    }

    pub fn len(&self) -> usize {
        self.ts_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts_ms.is_empty()
    }

    fn note_symbol(&mut self, symbol: &[u8]) {
        let known = self.symbols.last().is_some_and(|s| s.as_bytes().eq_ignore_ascii_case(symbol))
            || self.symbols.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(symbol));
        if !known {
            self.symbols.push(String::from_utf8_lossy(symbol).to_ascii_uppercase());
        }
    }
}

/// Reads the trades (Binance `trade`/`aggTrade`, Bybit `publicTrade`) of recording lines into
/// `out`, keeping only `symbol`'s when one is given. Other messages are skipped. Bad lines are
/// logged in `errors`, or returned at once with `stop_on_error`.
pub fn read_trades(
    data: &[u8],
    first_line: u64,
    symbol: Option<&str>,
    stop_on_error: bool,
    out: &mut TradeColumns,
    errors: &mut ErrorLog,
) -> Result<(), LineError> {
    for (number, line) in lines(data, first_line) {
        let found = line.and_then(|line| {
            parse_trades(line.message, |sym, trade| {
                out.note_symbol(sym);
                if symbol.is_none_or(|want| sym.eq_ignore_ascii_case(want.as_bytes())) {
                    out.push(trade);
                }
            })
        });
        if let Err(error) = found {
            let error = LineError { line: number, error };
            if stop_on_error {
                return Err(error);
            }
            errors.record(error);
        }
    }
    Ok(())
}

/// The symbol of the first depth message of `venue` in `data`, to name a book's instrument
/// when the caller did not.
pub fn first_depth_symbol(venue: Venue, data: &[u8]) -> Option<String> {
    lines(data, 1).find_map(|(_, line)| depth_symbol(venue, line.ok()?.message).ok().flatten())
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

    #[test]
    fn reads_trades_of_one_symbol_and_logs_bad_lines() {
        let data = br#"1 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":5,"s":"BTCUSDT","t":1,"p":"10.5","q":"2","m":true}}
2 {"e":"trade","E":1,"T":6,"s":"ETHUSDT","t":1,"p":"1","q":"1","m":false}
3 {"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}
4 {"e":"trade","T":7,"s":"BTCUSDT","p":"oops","q":"1","m":false}
"#;
        let (mut out, mut errors) = (TradeColumns::default(), ErrorLog::default());
        read_trades(data, 1, Some("btcusdt"), false, &mut out, &mut errors).unwrap();
        assert_eq!((out.ts_ms.clone(), out.price.clone(), out.taker_buy.clone()), (vec![5], vec![10.5], vec![false]));
        assert_eq!(out.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!((errors.count, errors.first[0].line), (1, 4));
        let err = read_trades(data, 1, None, true, &mut out, &mut errors).unwrap_err();
        assert_eq!(err.line, 4);
    }
}
