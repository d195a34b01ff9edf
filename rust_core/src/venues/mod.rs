//! Byte-level parsers for the venues' wire messages.
//!
//! Each parser walks a raw message once (see `json::Cursor`), validates it completely, checks it
//! belongs to the expected venue and symbol, and yields typed values: a depth header plus its
//! levels (written into caller-owned scratch vectors, so steady state allocates nothing), or trades.

mod binance;
mod bybit;

use std::fmt;
use std::str::FromStr;

use crate::decimal::Fixed;
use crate::error::{Error, Result};
use crate::json::Cursor;

/// A market whose wire format and sequencing rules tradecore knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Venue {
    BinanceSpot,
    BinanceUsdm,
    BinanceCoinm,
    Bybit,
}

impl Venue {
    pub const ALL: [Venue; 4] = [Venue::BinanceSpot, Venue::BinanceUsdm, Venue::BinanceCoinm, Venue::Bybit];

    pub fn name(self) -> &'static str {
        match self {
            Self::BinanceSpot => "binance-spot",
            Self::BinanceUsdm => "binance-usdm",
            Self::BinanceCoinm => "binance-coinm",
            Self::Bybit => "bybit",
        }
    }

    /// Binance's futures markets chain diffs by `pu`; spot chains them by `U == prev u + 1`.
    pub fn is_binance_futures(self) -> bool {
        matches!(self, Self::BinanceUsdm | Self::BinanceCoinm)
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Venue {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|v| v.name()).collect();
            Error::argument("venue", format!("unknown venue '{name}'; expected one of {}", known.join(", ")))
        })
    }
}

/// One price level as sent: a quantity of zero removes the level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub price: Fixed,
    pub qty: Fixed,
}

/// Scratch space the parser fills with a message's levels, reused across messages.
#[derive(Debug, Default, Clone)]
pub struct Levels {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

impl Levels {
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    pub fn len(&self) -> usize {
        self.bids.len() + self.asks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DepthKind {
    /// A full book: REST snapshot (Binance, Bybit) or a stream snapshot (Bybit).
    Snapshot,
    /// An incremental update.
    Diff,
}

/// The sequencing fields of a depth message. For snapshots `first_id == last_id` is the
/// snapshot's update id; Bybit sends one id per message (`first_id == last_id == u`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DepthHeader {
    pub kind: DepthKind,
    pub first_id: u64,
    pub last_id: u64,
    /// Binance futures' `pu`: the `u` of the previous diff.
    pub prev_id: Option<u64>,
    /// Exchange event time in milliseconds, when the message carries one.
    pub event_time_ms: Option<i64>,
}

/// What a message turned out to be.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Depth {
    Book(DepthHeader),
    /// A valid message of this venue that is not a depth update (trades, tickers, acks, ...).
    Other,
}

/// Parses a depth message (diff or snapshot) of `venue` for `symbol` (upper case), writing its
/// levels into `levels`. On error `levels` may hold partial data; the caller discards it.
pub fn parse_depth(venue: Venue, symbol: &str, raw: &[u8], levels: &mut Levels) -> Result<Depth> {
    levels.clear();
    match venue {
        Venue::Bybit => bybit::parse_depth(symbol, raw, levels),
        _ => binance::parse_depth(venue, symbol, raw, levels),
    }
}

/// The symbol of a depth message, if it names one (used to infer a book's symbol).
pub fn depth_symbol(venue: Venue, raw: &[u8]) -> Result<Option<String>> {
    match venue {
        Venue::Bybit => bybit::depth_symbol(raw),
        _ => binance::depth_symbol(raw),
    }
}

/// One executed trade.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Trade {
    /// Trade time, milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    pub price: f64,
    pub qty: f64,
    /// True when the aggressor (taker) bought.
    pub taker_buy: bool,
}

/// One trade as a message carries it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct TradeEvent<'a> {
    pub symbol: &'a [u8],
    /// Binance's trade id (`t`, or `a` for an aggTrade): consecutive per symbol, so a missing or
    /// repeated trade shows. Bybit's ids are not a sequence: `None`.
    pub id: Option<u64>,
    /// Bybit's execId (`i`) as 128 bits (see [`exec_id`]): no order, but an identity, so a trade
    /// seen twice (a repeated frame, REST overlapping the stream) shows. `None` on Binance.
    pub exec: Option<u128>,
    pub trade: Trade,
    /// False for Binance futures fills that are not market trades (`"X"` other than `"MARKET"`,
    /// e.g. insurance-fund or ADL fills): they take an id but are not part of the public tape
    /// that exchange klines are built from.
    pub on_tape: bool,
}

/// Parses the trades in one raw message: Binance `trade` / `aggTrade` events (bare or in the
/// combined-stream wrapper) or a Bybit v5 `publicTrade` message. Other messages yield nothing.
/// Returns the number of trades found.
pub fn parse_trade_events(raw: &[u8], mut on_trade: impl FnMut(TradeEvent<'_>)) -> Result<usize> {
    // One walk for Binance messages; it notices a Bybit message by its `topic` and hands over.
    match binance::parse_trades(raw, &mut on_trade)? {
        Some(count) => Ok(count),
        None => bybit::parse_trades(raw, &mut on_trade),
    }
}

/// The trades on the public tape in one raw message (see `parse_trade_events`): `on_trade`
/// receives the symbol and the trade. Returns how many there were.
pub fn parse_trades(raw: &[u8], mut on_trade: impl FnMut(&[u8], Trade)) -> Result<usize> {
    let mut count = 0;
    parse_trade_events(raw, |e| {
        if e.on_tape {
            count += 1;
            on_trade(e.symbol, e.trade);
        }
    })?;
    Ok(count)
}

/// A Binance REST trade list (`historicalTrades`), each trade with its id.
pub fn parse_rest_trades(raw: &[u8], mut on_trade: impl FnMut(u64, Trade)) -> Result<usize> {
    binance::parse_rest_trades(raw, &mut on_trade)
}

/// A Bybit v5 `GET /v5/market/recent-trade` answer, in the order sent (newest first): `on_trade`
/// receives each trade's symbol, execId (see [`exec_id`]) and the trade. A `retCode` other than
/// 0 is an error. Returns how many trades there were.
pub fn parse_recent_trades(raw: &[u8], mut on_trade: impl FnMut(&[u8], u128, Trade)) -> Result<usize> {
    bybit::parse_recent_trades(raw, &mut on_trade)
}

/// A Bybit execId as 128 bits, without allocating. A UUID (32 hex digits, with or without its
/// dashes, either case) is its own value; any other string (Bybit spot sends decimal ids) is
/// hashed to 128 bits by two independent 64-bit hashes. The same text always gives the same
/// value, on the stream and over REST. Hashed ids collide with odds of about n²/2¹²⁹ for n ids
/// compared at once: at most 8,192 remembered plus 200,000 held, below 10⁻²⁸ (not a defence
/// against a venue crafting collisions, which it has no reason to do).
pub fn exec_id(text: &[u8]) -> u128 {
    uuid_bits(text).unwrap_or_else(|| hash128(text))
}

fn uuid_bits(text: &[u8]) -> Option<u128> {
    let dashed = match text.len() {
        36 => true,
        32 => false,
        _ => return None,
    };
    let mut value: u128 = 0;
    for (i, &b) in text.iter().enumerate() {
        if dashed && matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | u128::from(digit);
    }
    Some(value)
}

/// FNV-1a and a multiply-rotate hash over the bytes, each finished by murmur3's fmix64 so every
/// input bit reaches every output bit.
fn hash128(bytes: &[u8]) -> u128 {
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325_u64, 0x9e37_79b1_85eb_ca87_u64 ^ bytes.len() as u64);
    for &byte in bytes {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b.rotate_left(23) ^ u64::from(byte)).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    }
    u128::from(fmix64(a ^ bytes.len() as u64)) << 64 | u128::from(fmix64(b))
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ h >> 33
}

/// The exchange's own best bid and ask after update `update_id` (a Binance `bookTicker`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ticker {
    pub update_id: u64,
    pub bid: Fixed,
    pub ask: Fixed,
    pub event_time_ms: Option<i64>,
}

pub fn parse_ticker(raw: &[u8]) -> Result<Ticker> {
    binance::parse_ticker(raw)
}

/// What a stream carries, told by its name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Depth,
    Trade,
    AggTrade,
    Ticker,
    Kline,
    Other,
}

/// The stream a message belongs to: its kind and its symbol as the name spells it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stream<'a> {
    pub kind: StreamKind,
    pub symbol: &'a [u8],
}

/// The stream of a message, from the Binance combined-stream name (`"stream":"btcusdt@trade"`)
/// or the Bybit topic (`"topic":"publicTrade.BTCUSDT"`); `None` for messages outside any stream
/// (subscription replies, pongs, REST bodies). Only the name is read when it leads the message,
/// as both venues send it; the caller's parser validates the rest.
pub fn stream_of(venue: Venue, raw: &[u8]) -> Result<Option<Stream<'_>>> {
    let key: &[u8] = if venue == Venue::Bybit { b"topic" } else { b"stream" };
    let name = match leading_string(raw, key) {
        Some(name) => Some(name),
        None => {
            let mut found = None;
            let mut c = Cursor::new(raw);
            c.object(|c, k| {
                if k == key && c.peek() == Some(b'"') {
                    found = Some(c.string()?);
                    Ok(())
                } else {
                    c.skip_value()
                }
            })?;
            c.finish()?;
            found
        }
    };
    Ok(name.map(|name| if venue == Venue::Bybit { bybit_stream(name) } else { binance_stream(name) }))
}

/// `{"<key>":"<value>"` at the very start of `raw`: the value, if it has no escapes.
fn leading_string<'a>(raw: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = raw.strip_prefix(b"{\"")?.strip_prefix(key)?.strip_prefix(b"\":\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then(|| &rest[..end])
}

/// `btcusdt@depth@100ms`, `btcusdt@trade`, `btcusdt@kline_1m`, ... (`@depth5` is partial depth).
fn binance_stream(name: &[u8]) -> Stream<'_> {
    let at = memchr::memchr(b'@', name).unwrap_or(name.len());
    let (symbol, rest) = (&name[..at], name.get(at + 1..).unwrap_or_default());
    let kind = match rest {
        b"depth" => StreamKind::Depth,
        _ if rest.starts_with(b"depth@") => StreamKind::Depth,
        b"trade" => StreamKind::Trade,
        b"aggTrade" => StreamKind::AggTrade,
        b"bookTicker" => StreamKind::Ticker,
        _ if rest.starts_with(b"kline_") => StreamKind::Kline,
        _ => StreamKind::Other,
    };
    Stream { kind, symbol }
}

/// `orderbook.50.XRPUSDT`, `publicTrade.XRPUSDT`, `kline.1.XRPUSDT`, ...
fn bybit_stream(name: &[u8]) -> Stream<'_> {
    let dot = memchr::memrchr(b'.', name).map_or(0, |i| i + 1);
    let kind = match name.split(|&b| b == b'.').next() {
        Some(b"orderbook") => StreamKind::Depth,
        Some(b"publicTrade") => StreamKind::Trade,
        Some(b"kline") => StreamKind::Kline,
        _ => StreamKind::Other,
    };
    Stream { kind, symbol: &name[dot..] }
}

/// Reads a `[[price, qty], ...]` array into `out`. `side` names the field in errors.
#[inline]
pub(crate) fn read_levels(c: &mut Cursor<'_>, side: &'static str, out: &mut Vec<Level>) -> Result<()> {
    out.clear();
    c.peek();
    let (buf, start) = c.raw();
    if let Some(end) = levels_fast(buf, start, out) {
        c.skip_to(end);
        return Ok(());
    }
    // Anything unusual (whitespace, bare numbers, a bad value): the general path, which also
    // produces the precise error.
    out.clear();
    c.array(|c, i| {
        let start = c.pos();
        let mut price = Fixed::ZERO;
        let mut qty = Fixed::ZERO;
        let mut count = 0;
        c.array(|c, j| {
            match j {
                0 => price = c.decimal(|| format!("{side}[{i}] price"))?,
                1 => qty = c.decimal(|| format!("{side}[{i}] quantity"))?,
                _ => c.skip_value()?,
            }
            count += 1;
            Ok(())
        })?;
        if count < 2 {
            return Err(Error::invalid(format!("{side}[{i}]"), start, "a level needs a price and a quantity"));
        }
        if price.is_zero() {
            return Err(Error::invalid(format!("{side}[{i}] price"), start, "price must be positive"));
        }
        out.push(Level { price, qty });
        Ok(())
    })
}

/// The shape every venue actually sends, `[["61800.30","3.330"],...]` without whitespace,
/// parsed in one pass with no re-scanning. Returns the offset after the closing `]`, or `None`
/// for anything else (the caller then takes the general path).
#[inline]
fn levels_fast(buf: &[u8], mut pos: usize, out: &mut Vec<Level>) -> Option<usize> {
    if buf.get(pos) != Some(&b'[') {
        return None;
    }
    pos += 1;
    if buf.get(pos) == Some(&b']') {
        return Some(pos + 1);
    }
    loop {
        if buf.get(pos..pos + 2) != Some(b"[\"".as_slice()) {
            return None;
        }
        let (price, next) = quoted_decimal(buf, pos + 2)?;
        if buf.get(next..next + 3) != Some(b"\",\"".as_slice()) || price.is_zero() {
            return None;
        }
        let (qty, next) = quoted_decimal(buf, next + 3)?;
        if buf.get(next..next + 2) != Some(b"\"]".as_slice()) {
            return None;
        }
        out.push(Level { price, qty });
        pos = next + 2;
        match buf.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => return Some(pos + 1),
            _ => return None,
        }
    }
}

/// A plain decimal ending at a `"`: returns its value and the offset of the quote. Same value as
/// `Fixed::parse`; shapes it does not take quickly (more than 11 integer digits, more than 9
/// decimals) return `None` and go to the general path. (An eight-bytes-at-a-time SWAR version was
/// measured slower on real prices, which are short.)
#[inline(always)]
fn quoted_decimal(buf: &[u8], start: usize) -> Option<(Fixed, usize)> {
    const SCALE: u64 = crate::decimal::SCALE;
    const POW10: [u64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
    let bytes = buf.get(start..)?;
    let digit = |i: usize| bytes.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9);
    // At most 11 integer digits: no overflow before the range check below.
    let mut i = 0;
    let mut int: u64 = 0;
    while let Some(d) = digit(i) {
        int = int * 10 + u64::from(d);
        i += 1;
        if i > 11 {
            return None;
        }
    }
    if i == 0 || int > u64::MAX / SCALE {
        return None;
    }
    let mut frac: u64 = 0;
    let mut decimals = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = digit(i) {
            frac = frac * 10 + u64::from(d);
            decimals += 1;
            i += 1;
            if decimals > 9 {
                return None;
            }
        }
        if decimals == 0 {
            return None;
        }
    }
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let value = (int * SCALE).checked_add(frac * POW10[9 - decimals])?;
    Some((Fixed(value), start + i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_general_level_paths_agree() {
        for text in [
            r#"[["61800.30","3.330"],["0.000000001","0"],["18446744073.709551615","1.0000000000"]]"#,
            r#"[]"#,
            r#"[ ["1.5" , "2"] ]"#,
            r#"[[1.5,2]]"#,
            r#"[["1.5","2","extra"]]"#,
        ] {
            let mut fast = vec![];
            let fast_end = levels_fast(text.as_bytes(), 0, &mut fast);
            let mut general = vec![];
            let mut c = Cursor::new(text.as_bytes());
            read_levels(&mut c, "b", &mut general).unwrap();
            if let Some(end) = fast_end {
                assert_eq!(end, text.len());
                assert_eq!(fast, general, "{text}");
            }
            assert_eq!(c.pos(), text.len());
        }
        for bad in [
            r#"[["0","1"]]"#,
            r#"[["1.","1"]]"#,
            r#"[["1","-1"]]"#,
            r#"[["18446744073.709551616","1"]]"#,
            r#"[["1","0.0000000001"]]"#,
        ] {
            let mut out = vec![];
            assert_eq!(levels_fast(bad.as_bytes(), 0, &mut out), None, "{bad}");
            assert!(read_levels(&mut Cursor::new(bad.as_bytes()), "b", &mut out).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn quoted_decimal_matches_fixed_parse(text in "[0-9]{0,12}(\\.[0-9]{0,12})?") {
            let quoted = format!("{text}\"],[\"1\",\"2\"]]");
            let fast = quoted_decimal(quoted.as_bytes(), 0).map(|(v, _)| v);
            let exact = Fixed::parse(text.as_bytes()).ok();
            match fast {
                // Where the fast path answers, it agrees exactly.
                Some(v) => proptest::prop_assert_eq!(Some(v), exact),
                // It only declines valid input of the rare long shapes, which the general path takes.
                None if exact.is_some() => {
                    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
                    proptest::prop_assert!(int.len() > 11 || frac.len() > 9, "{}", text);
                }
                None => {}
            }
        }
    }

    #[test]
    fn venue_names_round_trip() {
        for v in Venue::ALL {
            assert_eq!(v.name().parse::<Venue>(), Ok(v));
        }
        assert!(matches!("kraken".parse::<Venue>(), Err(Error::InvalidArgument { .. })));
    }
}
