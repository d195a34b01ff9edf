//! Binance spot, USD-M and COIN-M: depth diffs (`depthUpdate`), REST depth snapshots, and
//! `trade` / `aggTrade` events, bare or inside the combined-stream wrapper.
//!
//! How the markets differ on the wire (and how a message of the wrong one is recognised):
//! - spot diffs have no `pu`; futures diffs chain by `pu` (the previous diff's `u`);
//! - COIN-M diffs carry the pair in `ps` and COIN-M snapshots carry `symbol` and `pair`.

use super::{Depth, DepthHeader, DepthKind, Levels, Ticker, Trade, TradeEvent, Venue, read_levels};
use crate::error::{Error, Result};
use crate::json::Cursor;

/// What surrounds the event: the combined-stream name, if wrapped, and where the event ends.
#[derive(Debug, Default)]
struct Envelope<'a> {
    stream: Option<&'a [u8]>,
    event_end: usize,
}

/// Walks a message, unwrapping `{"stream":..,"data":{..}}`: `member` sees the event's own keys
/// whether the message is wrapped or bare, and must consume each value.
fn walk<'a>(raw: &'a [u8], mut member: impl FnMut(&mut Cursor<'a>, &'a [u8]) -> Result<()>) -> Result<Envelope<'a>> {
    let mut c = Cursor::new(raw);
    let mut env = Envelope::default();
    let mut wrapped = false;
    let end = c.object(|c, key| match key {
        b"stream" if c.peek() == Some(b'"') => {
            env.stream = Some(c.string()?);
            Ok(())
        }
        b"data" if c.peek() == Some(b'{') && !wrapped => {
            wrapped = true;
            env.event_end = c.object(&mut member)?;
            Ok(())
        }
        _ => member(c, key),
    })?;
    if !wrapped {
        env.event_end = end;
    }
    c.finish()?;
    Ok(env)
}

/// A scalar field seen during the walk: where its value starts (typed afterwards, and only if
/// the message kind needs it, so other events are never rejected for their own field types).
type At = Option<usize>;

#[derive(Debug, Default)]
struct DepthFields<'a> {
    event: Option<&'a [u8]>,
    symbol: Option<(&'a [u8], usize)>,
    snapshot_symbol: Option<(&'a [u8], usize)>,
    first: At,
    last: At,
    prev: At,
    last_update_id: At,
    event_time: At,
    pair: At,
    transaction_time: At,
    bybit_key: At,
    bids: bool,
    asks: bool,
}

fn walk_depth<'a>(raw: &'a [u8], levels: &mut Levels) -> Result<(DepthFields<'a>, Envelope<'a>)> {
    let mut f = DepthFields::default();
    let env = walk(raw, |c, key| {
        let at = c.peek().map(|_| c.pos());
        match key {
            b"b" | b"bids" if c.peek() == Some(b'[') => {
                f.bids = true;
                return read_levels(c, if key == b"b" { "b" } else { "bids" }, &mut levels.bids);
            }
            b"a" | b"asks" if c.peek() == Some(b'[') => {
                f.asks = true;
                return read_levels(c, if key == b"a" { "a" } else { "asks" }, &mut levels.asks);
            }
            b"e" if c.peek() == Some(b'"') => {
                f.event = Some(c.string()?);
                return Ok(());
            }
            b"s" | b"symbol" if c.peek() == Some(b'"') => {
                let value = Some((c.string()?, at.unwrap_or(0)));
                if key == b"s" {
                    f.symbol = value
                } else {
                    f.snapshot_symbol = value
                }
                return Ok(());
            }
            b"U" => f.first = at,
            b"u" => f.last = at,
            b"pu" => f.prev = at,
            b"lastUpdateId" => f.last_update_id = at,
            b"E" => f.event_time = at,
            b"T" => f.transaction_time = at,
            b"ps" | b"pair" => f.pair = at,
            b"topic" | b"retCode" => f.bybit_key = at,
            _ => {}
        }
        c.skip_value()
    })?;
    Ok((f, env))
}

fn u64_at(raw: &[u8], at: usize, field: &'static str) -> Result<u64> {
    Cursor::at(raw, at).u64(field)
}

fn check_symbol(expected: &str, found: (&[u8], usize)) -> Result<()> {
    if found.0.eq_ignore_ascii_case(expected.as_bytes()) {
        Ok(())
    } else {
        Err(Error::WrongSymbol {
            expected: expected.to_owned(),
            found: String::from_utf8_lossy(found.0).into_owned(),
            offset: found.1,
        })
    }
}

fn wrong_venue(venue: Venue, detail: &str, offset: usize) -> Error {
    Error::WrongVenue { venue: venue.name(), detail: detail.to_owned(), offset }
}

/// `btcusdt@depth20@100ms` is a partial-depth stream: top-N snapshots shaped like diffs (futures)
/// or like REST snapshots (spot). Only the name tells them apart, and they must not touch a book.
fn is_partial_depth_stream(stream: &[u8]) -> bool {
    memchr::memmem::find(stream, b"@depth").is_some_and(|i| stream.get(i + 6).is_some_and(u8::is_ascii_digit))
}

pub(super) fn parse_depth(venue: Venue, symbol: &str, raw: &[u8], levels: &mut Levels) -> Result<Depth> {
    let (f, env) = walk_depth(raw, levels)?;
    if let Some(at) = f.bybit_key {
        return Err(wrong_venue(venue, "it has a 'topic'/'retCode' field: a Bybit v5 message", at));
    }
    if env.stream.is_some_and(is_partial_depth_stream) {
        return Ok(Depth::Other);
    }
    let event_time_ms = match f.event_time {
        Some(at) => Some(Cursor::at(raw, at).i64("E")?),
        None => None,
    };
    if let Some(at) = f.last_update_id {
        // REST snapshot: {"lastUpdateId":..,"bids":[..],"asks":[..]} (+ E, T; COIN-M: symbol, pair)
        let id = u64_at(raw, at, "lastUpdateId")?;
        if !f.bids {
            return Err(Error::MissingField { field: "bids", offset: env.event_end });
        }
        if !f.asks {
            return Err(Error::MissingField { field: "asks", offset: env.event_end });
        }
        if let Some(found) = f.snapshot_symbol {
            check_symbol(symbol, found)?;
        }
        if let Some(at) = f.pair
            && venue != Venue::BinanceCoinm
        {
            return Err(wrong_venue(venue, "the snapshot has a 'pair' field: a COIN-M snapshot", at));
        }
        // Futures REST snapshots carry the transaction time `T`; spot's never do.
        if let Some(at) = f.transaction_time
            && venue == Venue::BinanceSpot
        {
            return Err(wrong_venue(venue, "the snapshot has a 'T' field: a futures snapshot", at));
        }
        return Ok(Depth::Book(DepthHeader {
            kind: DepthKind::Snapshot,
            first_id: id,
            last_id: id,
            prev_id: None,
            event_time_ms,
        }));
    }
    if f.event != Some(b"depthUpdate".as_slice()) {
        return Ok(Depth::Other);
    }
    let end = env.event_end;
    let symbol_field = f.symbol.ok_or(Error::MissingField { field: "s", offset: end })?;
    check_symbol(symbol, symbol_field)?;
    match (venue, f.pair) {
        (Venue::BinanceCoinm, None) => {
            return Err(wrong_venue(venue, "the depthUpdate has no 'ps' (pair): not a COIN-M message", end));
        }
        (Venue::BinanceSpot | Venue::BinanceUsdm, Some(at)) => {
            return Err(wrong_venue(venue, "the depthUpdate has a 'ps' (pair) field: a COIN-M message", at));
        }
        _ => {}
    }
    let prev_id = match (venue.is_binance_futures(), f.prev) {
        (true, Some(at)) => Some(u64_at(raw, at, "pu")?),
        (true, None) => {
            return Err(wrong_venue(venue, "the depthUpdate has no 'pu': a spot message", end));
        }
        (false, Some(at)) => {
            return Err(wrong_venue(venue, "the depthUpdate has a 'pu' field: a futures message", at));
        }
        (false, None) => None,
    };
    let first_at = f.first.ok_or(Error::MissingField { field: "U", offset: end })?;
    let last_at = f.last.ok_or(Error::MissingField { field: "u", offset: end })?;
    let first_id = u64_at(raw, first_at, "U")?;
    let last_id = u64_at(raw, last_at, "u")?;
    if first_id > last_id {
        return Err(Error::invalid(
            "U",
            first_at,
            format!("first update id {first_id} is after last update id {last_id}"),
        ));
    }
    if !f.bids {
        return Err(Error::MissingField { field: "b", offset: end });
    }
    if !f.asks {
        return Err(Error::MissingField { field: "a", offset: end });
    }
    Ok(Depth::Book(DepthHeader { kind: DepthKind::Diff, first_id, last_id, prev_id, event_time_ms }))
}

pub(super) fn depth_symbol(raw: &[u8]) -> Result<Option<String>> {
    let mut scratch = Levels::default();
    let (f, _) = walk_depth(raw, &mut scratch)?;
    let found = if f.event == Some(b"depthUpdate".as_slice()) { f.symbol } else { f.snapshot_symbol };
    Ok(found.map(|(s, _)| String::from_utf8_lossy(s).to_ascii_uppercase()))
}

#[derive(Debug, Default)]
struct TradeFields<'a> {
    event: Option<&'a [u8]>,
    symbol: Option<&'a [u8]>,
    time: At,
    price: At,
    qty: At,
    buyer_maker: At,
    id: At,
    kind: Option<&'a [u8]>,
}

/// The trades of a Binance message; `None` when it is a Bybit message (it has a `topic`).
pub(super) fn parse_trades(raw: &[u8], on_trade: &mut impl FnMut(TradeEvent<'_>)) -> Result<Option<usize>> {
    let mut f = TradeFields::default();
    let mut bybit = false;
    let env = walk(raw, |c, key| {
        let at = c.peek().map(|_| c.pos());
        match key {
            b"e" if c.peek() == Some(b'"') => {
                f.event = Some(c.string()?);
                return Ok(());
            }
            b"s" if c.peek() == Some(b'"') => {
                f.symbol = Some(c.string()?);
                return Ok(());
            }
            b"X" if c.peek() == Some(b'"') => {
                f.kind = Some(c.string()?);
                return Ok(());
            }
            b"T" => f.time = at,
            b"p" => f.price = at,
            b"q" => f.qty = at,
            b"m" => f.buyer_maker = at,
            b"t" | b"a" => f.id = at,
            b"topic" | b"retCode" | b"op" => bybit = true,
            _ => {}
        }
        c.skip_value()
    })?;
    if bybit {
        return Ok(None);
    }
    if !matches!(f.event, Some(b"trade" | b"aggTrade")) {
        return Ok(Some(0));
    }
    let end = env.event_end;
    let need = |at: At, field: &'static str| at.ok_or(Error::MissingField { field, offset: end });
    let ts_ms = Cursor::at(raw, need(f.time, "T")?).i64("T")?;
    let price = Cursor::at(raw, need(f.price, "p")?).float("p")?;
    let qty = Cursor::at(raw, need(f.qty, "q")?).float("q")?;
    let buyer_maker = Cursor::at(raw, need(f.buyer_maker, "m")?).bool()?;
    let symbol = f.symbol.ok_or(Error::MissingField { field: "s", offset: end })?;
    if price <= 0.0 {
        return Err(Error::invalid("p", f.price.unwrap_or(0), "price must be positive"));
    }
    let id = match f.id {
        Some(at) => Some(u64_at(raw, at, if f.event == Some(b"trade") { "t" } else { "a" })?),
        None => None,
    };
    // Binance's `m` says the buyer was the maker, i.e. the aggressor sold.
    let trade = Trade { ts_ms, price, qty, taker_buy: !buyer_maker };
    on_trade(TradeEvent { symbol, id, exec: None, trade, on_tape: f.kind.is_none_or(|k| k == b"MARKET") });
    Ok(Some(1))
}

/// A `bookTicker` event: the exchange's own best bid and ask after update `u`.
pub(super) fn parse_ticker(raw: &[u8]) -> Result<Ticker> {
    let (mut id, mut bid, mut ask, mut time) = (None, None, None, None);
    let env = walk(raw, |c, key| {
        match key {
            b"u" => id = Some(c.u64("u")?),
            b"b" => bid = Some(c.decimal(|| "b".to_owned())?),
            b"a" => ask = Some(c.decimal(|| "a".to_owned())?),
            b"E" => time = Some(c.i64("E")?),
            _ => c.skip_value()?,
        }
        Ok(())
    })?;
    let missing = |field| Error::MissingField { field, offset: env.event_end };
    Ok(Ticker {
        update_id: id.ok_or(missing("u"))?,
        bid: bid.ok_or(missing("b"))?,
        ask: ask.ok_or(missing("a"))?,
        event_time_ms: time,
    })
}

/// The REST trade list (`/api/v3/historicalTrades`, `/fapi/v1/historicalTrades`, ...):
/// `[{"id":..,"price":"..","qty":"..","time":..,"isBuyerMaker":..}, ...]`, each with its id.
pub(super) fn parse_rest_trades(raw: &[u8], on_trade: &mut impl FnMut(u64, Trade)) -> Result<usize> {
    let mut c = Cursor::new(raw);
    let mut count = 0;
    c.array(|c, i| {
        let (mut id, mut ts, mut price, mut qty, mut buyer_maker) = (None, None, None, None, None);
        let end = c.object(|c, key| {
            match key {
                b"id" => id = Some(c.u64("id")?),
                b"time" => ts = Some(c.i64("time")?),
                b"price" => price = Some((c.pos(), c.float("price")?)),
                b"qty" => qty = Some(c.float("qty")?),
                b"isBuyerMaker" => buyer_maker = Some(c.bool()?),
                _ => c.skip_value()?,
            }
            Ok(())
        })?;
        let missing = |field| Error::MissingField { field, offset: end };
        let (at, price) = price.ok_or(missing("price"))?;
        if price <= 0.0 {
            return Err(Error::invalid(format!("[{i}].price"), at, "price must be positive"));
        }
        let trade = Trade {
            ts_ms: ts.ok_or(missing("time"))?,
            price,
            qty: qty.ok_or(missing("qty"))?,
            taker_buy: !buyer_maker.ok_or(missing("isBuyerMaker"))?,
        };
        on_trade(id.ok_or(missing("id"))?, trade);
        count += 1;
        Ok(())
    })?;
    c.finish()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const USDM_DIFF: &str = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":10,"u":20,"pu":9,"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","3.330"]]}}"#;

    fn parse(venue: Venue, raw: &str) -> Result<(Depth, Levels)> {
        let mut levels = Levels::default();
        parse_depth(venue, "BTCUSDT", raw.as_bytes(), &mut levels).map(|d| (d, levels))
    }

    #[test]
    fn wrapped_and_bare_diffs_parse_the_same() {
        let (wrapped, lw) = parse(Venue::BinanceUsdm, USDM_DIFF).unwrap();
        let start = USDM_DIFF.find(r#"{"e""#).unwrap();
        let bare = &USDM_DIFF[start..USDM_DIFF.len() - 1];
        let (plain, lp) = parse(Venue::BinanceUsdm, bare).unwrap();
        assert_eq!(wrapped, plain);
        assert_eq!(lw.bids, lp.bids);
        assert_eq!(lw.asks, lp.asks);
        let Depth::Book(h) = wrapped else { panic!("not a depth message") };
        assert_eq!((h.first_id, h.last_id, h.prev_id, h.kind), (10, 20, Some(9), DepthKind::Diff));
        assert_eq!(h.event_time_ms, Some(1_723_161_256_299));
        assert_eq!(lw.bids.len(), 2);
        assert_eq!(lw.bids[1].qty.0, 0);
    }

    #[rstest]
    #[case::book_ticker(r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}"#)]
    #[case::trade(r#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":5,"p":"61800.30","q":"0.006","X":"MARKET","m":false}"#)]
    #[case::subscribe_ack(r#"{"result":null,"id":1}"#)]
    #[case::partial_depth(r#"{"stream":"btcusdt@depth20@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}"#)]
    fn other_messages_are_recognised(#[case] raw: &str) {
        assert_eq!(parse(Venue::BinanceUsdm, raw).unwrap().0, Depth::Other);
    }

    #[test]
    fn spot_snapshot() {
        let raw = r#"{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],"asks":[]}"#;
        let (d, levels) = parse(Venue::BinanceSpot, raw).unwrap();
        let Depth::Book(h) = d else { panic!("not a depth message") };
        assert_eq!((h.kind, h.last_id), (DepthKind::Snapshot, 50_093_239_218));
        assert_eq!(levels.bids[0].price.to_f64(), 61837.63);
    }

    #[rstest]
    #[case::missing_u(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"pu":9,"b":[],"a":[]}"#,
        "missing field 'u'"
    )]
    #[case::missing_bids(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"pu":9,"a":[]}"#,
        "missing field 'b'"
    )]
    #[case::negative_qty(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"pu":9,"b":[["1.0","-2"]],"a":[]}"#,
        "'b[0] quantity' at byte 79"
    )]
    #[case::non_numeric(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"pu":9,"b":[],"a":[["abc","1"]]}"#,
        "'a[0] price'"
    )]
    #[case::string_id(r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":"10","u":11,"pu":9,"b":[],"a":[]}"#, "'U'")]
    #[case::reversed_ids(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":12,"u":11,"pu":9,"b":[],"a":[]}"#,
        "is after last update id"
    )]
    #[case::wrong_symbol(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"ETHUSDT","U":10,"u":11,"pu":9,"b":[],"a":[]}"#,
        "expected 'BTCUSDT', got 'ETHUSDT'"
    )]
    #[case::spot_on_futures(r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":11,"b":[],"a":[]}"#, "no 'pu'")]
    #[case::coinm_on_usdm(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","ps":"BTCUSD","U":10,"u":11,"pu":9,"b":[],"a":[]}"#,
        "COIN-M"
    )]
    #[case::bybit(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":3}}"#,
        "Bybit"
    )]
    #[case::truncated(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"pu":9,"b":[["1.0","#,
        "malformed JSON at byte 78"
    )]
    #[case::short_level(
        r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"pu":9,"b":[["1.0"]],"a":[]}"#,
        "needs a price and a quantity"
    )]
    fn bad_messages_say_what_and_where(#[case] raw: &str, #[case] needle: &str) {
        let err = parse(Venue::BinanceUsdm, raw).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }

    #[test]
    fn futures_messages_on_a_spot_book() {
        let err = parse(Venue::BinanceSpot, USDM_DIFF).unwrap_err();
        assert!(matches!(err, Error::WrongVenue { .. }), "{err}");
        let futures_snapshot = r#"{"lastUpdateId":5,"E":1,"T":1,"bids":[],"asks":[]}"#;
        let err = parse(Venue::BinanceSpot, futures_snapshot).unwrap_err();
        assert!(err.to_string().contains("a futures snapshot"), "{err}");
        assert!(parse(Venue::BinanceUsdm, futures_snapshot).is_ok());
    }

    #[test]
    fn trades_and_agg_trades() {
        let mut got = vec![];
        let raw = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1723161256322,"s":"BTCUSDT","t":5,"p":"61800.30","q":"0.006","X":"MARKET","m":true}}"#;
        assert_eq!(parse_trades(raw, &mut |e: TradeEvent| got.push((e.symbol.to_vec(), e.trade))).unwrap(), Some(1));
        let agg = br#"{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1.5","q":"2","f":1,"l":2,"T":7,"m":false}"#;
        assert_eq!(parse_trades(agg, &mut |e: TradeEvent| got.push((e.symbol.to_vec(), e.trade))).unwrap(), Some(1));
        let insurance =
            br#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":5,"p":"1","q":"1","X":"INSURANCE_FUND","m":true}"#;
        let mut off_tape = None;
        assert_eq!(parse_trades(insurance, &mut |e: TradeEvent| off_tape = Some((e.id, e.on_tape))).unwrap(), Some(1));
        assert_eq!(off_tape, Some((Some(5), false)));
        assert_eq!(got[0].1, Trade { ts_ms: 1_723_161_256_322, price: 61800.3, qty: 0.006, taker_buy: false });
        assert_eq!(got[1].1, Trade { ts_ms: 7, price: 1.5, qty: 2.0, taker_buy: true });
    }
}
