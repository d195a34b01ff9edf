//! Bybit v5: `orderbook.{depth}.{symbol}` snapshot/delta stream messages, the REST
//! `/v5/market/orderbook` response (for resyncs), and `publicTrade.{symbol}` messages.
//!
//! Stream: `{"topic":..,"type":"snapshot"|"delta","ts":..,"data":{"s":..,"b":[..],"a":[..],"u":..,"seq":..}}`.
//! REST:   `{"retCode":0,"retMsg":"OK","result":{"s":..,"b":[..],"a":[..],"ts":..,"u":..},"time":..}`.
//! Bybit documents that a message with `u == 1` is a fresh snapshot after a service restart.

use super::{Depth, DepthHeader, DepthKind, Levels, Trade, TradeEvent, read_levels};
use crate::error::{Error, Result};
use crate::json::Cursor;

type At = Option<usize>;

#[derive(Debug, Default)]
struct DepthFields<'a> {
    topic: Option<(&'a [u8], usize)>,
    kind: Option<(&'a [u8], usize)>,
    ts: At,
    ret_code: At,
    body_end: Option<usize>,
    symbol: Option<(&'a [u8], usize)>,
    update_id: At,
    bids: bool,
    asks: bool,
    binance_key: At,
}

fn walk_depth<'a>(raw: &'a [u8], levels: &mut Levels) -> Result<DepthFields<'a>> {
    let mut f = DepthFields::default();
    let mut c = Cursor::new(raw);
    c.object(|c, key| {
        let at = c.peek().map(|_| c.pos());
        match key {
            b"topic" | b"type" if c.peek() == Some(b'"') => {
                let value = Some((c.string()?, at.unwrap_or(0)));
                if key == b"topic" {
                    f.topic = value
                } else {
                    f.kind = value
                }
                Ok(())
            }
            // The book itself: `data` on the stream, `result` in the REST response.
            b"data" | b"result" if c.peek() == Some(b'{') && f.body_end.is_none() => {
                let end = c.object(|c, key| {
                    let at = c.peek().map(|_| c.pos());
                    match key {
                        b"b" if c.peek() == Some(b'[') => {
                            f.bids = true;
                            read_levels(c, "b", &mut levels.bids)
                        }
                        b"a" if c.peek() == Some(b'[') => {
                            f.asks = true;
                            read_levels(c, "a", &mut levels.asks)
                        }
                        b"s" if c.peek() == Some(b'"') => {
                            f.symbol = Some((c.string()?, at.unwrap_or(0)));
                            Ok(())
                        }
                        b"u" => {
                            f.update_id = at;
                            c.skip_value()
                        }
                        _ => c.skip_value(),
                    }
                })?;
                f.body_end = Some(end);
                Ok(())
            }
            b"ts" => {
                f.ts = at;
                c.skip_value()
            }
            b"retCode" => {
                f.ret_code = at;
                c.skip_value()
            }
            b"e" | b"stream" | b"lastUpdateId" => {
                f.binance_key = at;
                c.skip_value()
            }
            _ => c.skip_value(),
        }
    })?;
    c.finish()?;
    Ok(f)
}

fn check_symbol(expected: &str, found: &[u8], offset: usize) -> Result<()> {
    if found.eq_ignore_ascii_case(expected.as_bytes()) {
        Ok(())
    } else {
        Err(Error::WrongSymbol {
            expected: expected.to_owned(),
            found: String::from_utf8_lossy(found).into_owned(),
            offset,
        })
    }
}

/// The symbol named by an `orderbook.{depth}.{symbol}` topic.
fn topic_symbol(topic: &[u8]) -> Option<&[u8]> {
    topic.strip_prefix(b"orderbook.").and_then(|rest| rest.iter().position(|&b| b == b'.').map(|i| &rest[i + 1..]))
}

pub(super) fn parse_depth(symbol: &str, raw: &[u8], levels: &mut Levels) -> Result<Depth> {
    let f = walk_depth(raw, levels)?;
    if let Some(at) = f.binance_key {
        return Err(Error::WrongVenue {
            venue: "bybit",
            detail: "it has an 'e'/'stream'/'lastUpdateId' field: a Binance message".to_owned(),
            offset: at,
        });
    }
    let end = raw.len();
    let kind = match (f.topic, f.ret_code) {
        (Some((topic, at)), _) => {
            let Some(topic_sym) = topic_symbol(topic) else { return Ok(Depth::Other) };
            check_symbol(symbol, topic_sym, at)?;
            let (kind, kind_at) = f.kind.ok_or(Error::MissingField { field: "type", offset: end })?;
            match kind {
                b"snapshot" => DepthKind::Snapshot,
                b"delta" => DepthKind::Diff,
                _ => return Err(Error::invalid("type", kind_at, "expected 'snapshot' or 'delta'")),
            }
        }
        (None, Some(at)) => {
            let code = Cursor::at(raw, at).i64("retCode")?;
            if code != 0 {
                return Err(Error::invalid("retCode", at, format!("the REST call failed with retCode {code}")));
            }
            DepthKind::Snapshot
        }
        // Control acks ({"op":"subscribe",..}), pongs and other envelopes.
        (None, None) => return Ok(Depth::Other),
    };
    let body_end = f.body_end.ok_or(Error::MissingField { field: "data", offset: end })?;
    let (found, at) = f.symbol.ok_or(Error::MissingField { field: "s", offset: body_end })?;
    check_symbol(symbol, found, at)?;
    if !f.bids {
        return Err(Error::MissingField { field: "b", offset: body_end });
    }
    if !f.asks {
        return Err(Error::MissingField { field: "a", offset: body_end });
    }
    let id_at = f.update_id.ok_or(Error::MissingField { field: "u", offset: body_end })?;
    let id = Cursor::at(raw, id_at).u64("u")?;
    let event_time_ms = match f.ts {
        Some(at) => Some(Cursor::at(raw, at).i64("ts")?),
        None => None,
    };
    // Bybit: "u == 1" means the service restarted and this is a new snapshot.
    let kind = if id == 1 { DepthKind::Snapshot } else { kind };
    Ok(Depth::Book(DepthHeader { kind, first_id: id, last_id: id, prev_id: None, event_time_ms }))
}

pub(super) fn depth_symbol(raw: &[u8]) -> Result<Option<String>> {
    let mut scratch = Levels::default();
    let f = walk_depth(raw, &mut scratch)?;
    let from_topic = f.topic.and_then(|(t, _)| topic_symbol(t));
    let found = if f.topic.is_some() { from_topic } else { f.ret_code.and(f.symbol.map(|(s, _)| s)) };
    Ok(found.map(|s| String::from_utf8_lossy(s).to_ascii_uppercase()))
}

pub(super) fn parse_trades(raw: &[u8], on_trade: &mut impl FnMut(TradeEvent<'_>)) -> Result<usize> {
    let mut c = Cursor::new(raw);
    let mut topic: Option<&[u8]> = None;
    let mut data_at: At = None;
    c.object(|c, key| {
        match key {
            b"topic" if c.peek() == Some(b'"') => {
                topic = Some(c.string()?);
                return Ok(());
            }
            b"data" => data_at = c.peek().map(|_| c.pos()),
            _ => {}
        }
        c.skip_value()
    })?;
    c.finish()?;
    let (Some(topic), Some(data_at)) = (topic, data_at) else { return Ok(0) };
    if !topic.starts_with(b"publicTrade.") {
        return Ok(0);
    }
    // data: [{"T":ms,"s":sym,"S":"Buy"|"Sell","v":qty,"p":price,...}, ...]
    let mut c = Cursor::at(raw, data_at);
    let mut count = 0;
    c.array(|c, i| {
        let start = c.pos();
        let (mut ts, mut price, mut qty, mut side, mut symbol) = (None, None, None, None, None);
        let end = c.object(|c, key| {
            match key {
                b"T" => ts = Some(c.i64("T")?),
                b"p" => price = Some(c.float("p")?),
                b"v" => qty = Some(c.float("v")?),
                b"S" => {
                    let at = c.pos();
                    side = Some(match c.string()? {
                        b"Buy" => true,
                        b"Sell" => false,
                        _ => return Err(Error::invalid(format!("data[{i}].S"), at, "expected 'Buy' or 'Sell'")),
                    })
                }
                b"s" => symbol = Some(c.string()?),
                _ => c.skip_value()?,
            }
            Ok(())
        })?;
        let missing = |field| Error::MissingField { field, offset: end };
        let trade = Trade {
            ts_ms: ts.ok_or(missing("T"))?,
            price: price.ok_or(missing("p"))?,
            qty: qty.ok_or(missing("v"))?,
            taker_buy: side.ok_or(missing("S"))?,
        };
        if trade.price <= 0.0 {
            return Err(Error::invalid(format!("data[{i}].p"), start, "price must be positive"));
        }
        // Bybit's trade ids (`i`) are UUIDs: no sequence to check.
        on_trade(TradeEvent { symbol: symbol.ok_or(missing("s"))?, id: None, trade, on_tape: true });
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(raw: &str) -> Result<(Depth, Levels)> {
        let mut levels = Levels::default();
        parse_depth("XRPUSDT", raw.as_bytes(), &mut levels).map(|d| (d, levels))
    }

    #[test]
    fn stream_snapshot_delta_and_rest() {
        let snap = r#"{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":1733011200691,"data":{"s":"XRPUSDT","b":[["1.9531","6203"]],"a":[["1.9532","10"]],"u":20254868,"seq":130020238980},"cts":1733011200589}"#;
        let (d, levels) = parse(snap).unwrap();
        assert_eq!(
            d,
            Depth::Book(DepthHeader {
                kind: DepthKind::Snapshot,
                first_id: 20_254_868,
                last_id: 20_254_868,
                prev_id: None,
                event_time_ms: Some(1_733_011_200_691)
            })
        );
        assert_eq!(levels.len(), 2);
        let delta = snap.replace("\"snapshot\"", "\"delta\"");
        assert!(matches!(parse(&delta).unwrap().0, Depth::Book(DepthHeader { kind: DepthKind::Diff, .. })));
        let restart = delta.replace("20254868", "1");
        assert!(matches!(parse(&restart).unwrap().0, Depth::Book(DepthHeader { kind: DepthKind::Snapshot, .. })));
        let rest = r#"{"retCode":0,"retMsg":"OK","result":{"s":"XRPUSDT","a":[["1.9532","10"]],"b":[["1.9531","6203"]],"ts":1,"u":42,"seq":7,"cts":1},"retExtInfo":{},"time":2}"#;
        assert!(matches!(
            parse(rest).unwrap().0,
            Depth::Book(DepthHeader { kind: DepthKind::Snapshot, last_id: 42, .. })
        ));
    }

    #[rstest]
    #[case(r#"{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}"#)]
    #[case(r#"{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1,"data":[]}"#)]
    #[case(r#"{"topic":"tickers.XRPUSDT","type":"snapshot","ts":1,"data":{"symbol":"XRPUSDT"}}"#)]
    fn other_messages(#[case] raw: &str) {
        assert_eq!(parse(raw).unwrap().0, Depth::Other);
    }

    #[rstest]
    #[case(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":2}}"#,
        "expected 'XRPUSDT', got 'BTCUSDT'"
    )]
    #[case(
        r#"{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[],"a":[]}}"#,
        "missing field 'u'"
    )]
    #[case(
        r#"{"topic":"orderbook.50.XRPUSDT","type":"weird","ts":1,"data":{"s":"XRPUSDT","b":[],"a":[],"u":2}}"#,
        "'type'"
    )]
    #[case(r#"{"retCode":10001,"retMsg":"params error","result":{},"time":1}"#, "retCode 10001")]
    #[case(r#"{"e":"depthUpdate","E":1,"s":"XRPUSDT","U":1,"u":2,"b":[],"a":[]}"#, "Binance message")]
    fn bad_messages(#[case] raw: &str, #[case] needle: &str) {
        let err = parse(raw).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }

    #[test]
    fn public_trades() {
        let raw = br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950","BT":false},{"T":1672304486866,"s":"BTCUSDT","S":"Sell","v":"2","p":"16578.00","i":"x","BT":false}]}"#;
        let mut got = vec![];
        assert_eq!(parse_trades(raw, &mut |e: TradeEvent| got.push(e.trade)).unwrap(), 2);
        assert_eq!(got[0], Trade { ts_ms: 1_672_304_486_865, price: 16578.5, qty: 0.001, taker_buy: true });
        assert!(!got[1].taker_buy);
    }
}
