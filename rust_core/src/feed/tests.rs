use super::*;
use crate::venues::{StreamKind, stream_of};
use rstest::rstest;

const SNAPSHOT: &str =
    r#"{"lastUpdateId":100,"E":1,"T":1,"bids":[["99.0","1"],["98.0","2"]],"asks":[["101.0","1"],["102.0","2"]]}"#;

fn diff(first: u64, last: u64, prev: u64, bid: &str, time_ms: i64) -> String {
    format!(
        r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":{time_ms},"T":{time_ms},"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":[["{bid}","3"]],"a":[]}}}}"#
    )
}

fn trade(id: u64, time_ms: i64, price: f64) -> String {
    format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{time_ms},"T":{time_ms},"s":"BTCUSDT","t":{id},"p":"{price}","q":"1","X":"MARKET","m":false}}}}"#
    )
}

fn rest_trades(trades: &[(u64, i64, f64)]) -> String {
    let items: Vec<String> = trades
        .iter()
        .map(|(id, t, p)| {
            format!(r#"{{"id":{id},"price":"{p}","qty":"1","quoteQty":"1","time":{t},"isBuyerMaker":false}}"#)
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn feed() -> Feed {
    let options = Options { timeframes: vec!["1m".parse().unwrap()], close_delay_ms: 1_000 };
    Feed::new(Venue::BinanceUsdm, &["BTCUSDT"], options).unwrap()
}

fn kind(f: u32) -> u32 {
    f & flags::KIND
}

#[test]
fn frames_are_routed_by_stream_name() {
    let mut feed = feed();
    assert_eq!(feed.on_frame(br#"{"result":null,"id":1}"#, 0).unwrap(), flags::CONTROL);
    let f = feed.on_frame(diff(90, 101, 89, "99.5", 1).as_bytes(), 0).unwrap();
    assert_eq!(kind(f), flags::DEPTH);
    assert_ne!(f & flags::RESYNC, 0, "no snapshot yet");
    assert_eq!(feed.apply_snapshot("btcusdt", SNAPSHOT.as_bytes(), 0).unwrap(), Status::Snapshot);
    assert!(feed.market("BTCUSDT").unwrap().book.synced());
    let f = feed.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    assert_eq!(f, flags::TRADE);
    let kline = br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline"}}"#;
    assert_eq!(feed.on_frame(kline, 0).unwrap(), flags::OTHER);
    let other = br#"{"stream":"ethusdt@trade","data":{"e":"trade"}}"#;
    assert_eq!(feed.on_frame(other, 0).unwrap(), flags::UNKNOWN_SYMBOL);
    let s = feed.stats();
    assert_eq!((s.frames, s.control, s.other, s.unknown_symbol, s.snapshots, s.malformed), (5, 1, 1, 1, 1, 0));
}

#[rstest]
#[case::truncated(r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1"#)]
#[case::html("<html><body>502</body></html>")]
#[case::types(r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":"x","T":1,"s":"BTCUSDT","U":"a","u":102,"pu":101,"b":"no","a":[]}}"#)]
#[case::bad_trade(
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":"x","p":"1","q":"1","m":false}}"#
)]
#[case::negative_qty(
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":9,"p":"1","q":"-1","m":false}}"#
)]
#[case::wrong_symbol(
    r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"ETHUSDT","t":9,"p":"1","q":"1","m":false}}"#
)]
#[case::ticker(r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":"x","b":"1","a":"2"}}"#)]
#[case::kline(r#"{"stream":"btcusdt@kline_1m","data":{"e":"kl"#)]
fn a_malformed_frame_is_an_error_and_changes_nothing(#[case] raw: &str) {
    let mut feed = feed();
    feed.apply_snapshot("BTCUSDT", SNAPSHOT.as_bytes(), 0).unwrap();
    feed.on_frame(diff(100, 101, 99, "99.5", 1).as_bytes(), 0).unwrap();
    feed.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    let before = feed.market("BTCUSDT").unwrap().clone();
    assert!(feed.on_frame(raw.as_bytes(), 0).is_err());
    let after = feed.market("BTCUSDT").unwrap();
    assert_eq!(after.book.last_update_id(), before.book.last_update_id());
    assert_eq!(after.book.best_bid().unwrap(), before.book.best_bid().unwrap());
    assert_eq!(after.candles.trade_count(), before.candles.trade_count());
    assert_eq!(after.gate.next_id(), before.gate.next_id());
    assert_eq!(feed.stats().malformed, 1);
    // The feed goes on.
    assert_eq!(kind(feed.on_frame(diff(102, 102, 101, "99.6", 2).as_bytes(), 0).unwrap()), flags::DEPTH);
    assert!(feed.market("BTCUSDT").unwrap().book.synced());
}

#[test]
fn a_gap_asks_for_a_snapshot_and_one_resyncs() {
    let mut feed = feed();
    feed.apply_snapshot("BTCUSDT", SNAPSHOT.as_bytes(), 0).unwrap();
    assert_eq!(feed.on_frame(diff(95, 105, 94, "99.5", 1).as_bytes(), 0).unwrap() & flags::RESYNC, 0);
    let f = feed.on_frame(diff(110, 112, 109, "99.7", 2).as_bytes(), 0).unwrap();
    assert_ne!(f & flags::RESYNC, 0);
    let snapshot = SNAPSHOT.replace("100", "111");
    assert_eq!(feed.apply_snapshot("BTCUSDT", snapshot.as_bytes(), 0).unwrap(), Status::Snapshot);
    let m = feed.market("BTCUSDT").unwrap();
    assert!(m.book.synced());
    assert_eq!(m.book.last_update_id(), Some(112), "the buffered diff bridged the snapshot");
    assert_eq!(feed.stats().snapshots, 2);
}

fn trades_closed(feed: &mut Feed) -> Vec<(i64, f64, f64)> {
    let mut out = vec![];
    for (_, _, bars) in feed.take_closed() {
        for k in 0..bars.open_time_ms.len() {
            out.push((bars.open_time_ms[k], bars.open[k], bars.volume[k]));
        }
    }
    out
}

#[test]
fn missing_trades_are_held_until_rest_fills_them() {
    let mut feed = feed();
    feed.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    feed.on_frame(trade(2, 2_000, 101.0).as_bytes(), 0).unwrap();
    // Trades 3 and 4 are lost on the wire; 5 is in the next minute.
    let f = feed.on_frame(trade(5, 61_000, 104.0).as_bytes(), 0).unwrap();
    assert_ne!(f & flags::TRADE_HOLE, 0);
    assert_eq!(f & flags::CANDLES, 0, "the minute must not close without trades 3 and 4");
    assert_eq!(feed.market("BTCUSDT").unwrap().gate.hole(), Some((3, 4)));
    let rest = rest_trades(&[(3, 30_000, 102.0), (4, 59_000, 103.0), (5, 61_000, 104.0)]);
    assert!(feed.fill_trades("BTCUSDT", rest.as_bytes()).unwrap());
    assert_eq!(trades_closed(&mut feed), vec![(0, 100.0, 4.0)]);
    let stats = feed.market("BTCUSDT").unwrap().gate.stats();
    assert_eq!((stats.backfilled, stats.holes, stats.lost), (2, 1, 0));
}

#[test]
fn bars_close_by_the_exchange_clock_unless_trades_may_be_missing() {
    let mut feed = feed();
    feed.apply_snapshot("BTCUSDT", SNAPSHOT.as_bytes(), 0).unwrap();
    feed.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    // 60.5 s: within the close delay, the bar stays open.
    let f = feed.on_frame(diff(100, 101, 99, "99.1", 60_500).as_bytes(), 0).unwrap();
    assert_eq!(f & flags::CANDLES, 0);
    feed.connection_lost();
    let f = feed.on_frame(diff(102, 102, 101, "99.2", 70_000).as_bytes(), 0).unwrap();
    assert_eq!(f & flags::CANDLES, 0, "after a reconnect, the next trade decides");
    let f = feed.on_frame(trade(2, 65_000, 101.0).as_bytes(), 0).unwrap();
    assert_ne!(f & flags::CANDLES, 0);
    assert_eq!(trades_closed(&mut feed), vec![(0, 100.0, 1.0)]);
    feed.on_frame(diff(103, 103, 102, "99.3", 121_000).as_bytes(), 0).unwrap();
    assert_eq!(trades_closed(&mut feed), vec![(60_000, 101.0, 1.0)], "closed by the clock");
}

#[test]
fn tickers_are_checked_against_the_book_at_the_same_update_id() {
    let mut feed = feed();
    feed.apply_snapshot("BTCUSDT", SNAPSHOT.as_bytes(), 0).unwrap();
    feed.on_frame(diff(100, 101, 99, "99.5", 1).as_bytes(), 0).unwrap();
    let ticker = |u: u64, bid: &str| {
        format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"e":"bookTicker","u":{u},"s":"BTCUSDT","b":"{bid}","B":"3","a":"101.00","A":"1","T":1,"E":1}}}}"#
        )
    };
    assert_eq!(feed.on_frame(ticker(101, "99.50").as_bytes(), 0).unwrap(), flags::TICKER);
    let f = feed.on_frame(ticker(101, "99.4").as_bytes(), 0).unwrap();
    assert_ne!(f & flags::TICKER_MISMATCH, 0);
    // A ticker ahead of the book waits for the diff with its id.
    assert_eq!(feed.on_frame(ticker(102, "99.60").as_bytes(), 0).unwrap(), flags::TICKER);
    assert_eq!(feed.on_frame(ticker(103, "99.00").as_bytes(), 0).unwrap(), flags::TICKER);
    assert_eq!(feed.on_frame(diff(102, 102, 101, "99.6", 2).as_bytes(), 0).unwrap(), flags::DEPTH);
    let f = feed.on_frame(diff(103, 103, 102, "99.7", 3).as_bytes(), 0).unwrap();
    assert_eq!(f, flags::DEPTH | flags::TICKER_MISMATCH, "the book's best bid is 99.7, the ticker says 99.0");
    let h = &feed.market("BTCUSDT").unwrap().health;
    assert_eq!((h.tickers_checked, h.tickers_mismatched), (4, 2));
}

#[test]
fn symbols_come_and_go() {
    let mut feed = feed();
    feed.add_symbol("ethusdt").unwrap();
    assert!(feed.add_symbol("ETHUSDT").is_err());
    let eth = br#"{"stream":"ethusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"ETHUSDT","t":1,"p":"1","q":"1","X":"MARKET","m":false}}"#;
    assert_eq!(feed.on_frame(eth, 0).unwrap(), flags::TRADE | flags::RESYNC | 1 << flags::SYMBOL_SHIFT);
    feed.remove_symbol("ETHUSDT").unwrap();
    assert_eq!(feed.on_frame(eth, 0).unwrap(), flags::UNKNOWN_SYMBOL);
    assert!(feed.market("ETHUSDT").is_err());
}

#[test]
fn bybit_topics_route_too() {
    let options = Options { timeframes: vec!["1m".parse().unwrap()], close_delay_ms: -1 };
    let mut feed = Feed::new(Venue::Bybit, &["XRPUSDT"], options).unwrap();
    let snap = br#"{"topic":"orderbook.50.XRPUSDT","type":"snapshot","ts":1,"data":{"s":"XRPUSDT","b":[["1.9531","6203"]],"a":[["1.9532","10"]],"u":5,"seq":1},"cts":1}"#;
    assert_eq!(feed.on_frame(snap, 0).unwrap(), flags::DEPTH);
    let trades = br#"{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"XRPUSDT","S":"Buy","v":"1","p":"1.95","i":"a"},{"T":2,"s":"XRPUSDT","S":"Sell","v":"2","p":"1.96","i":"b"}]}"#;
    assert_eq!(feed.on_frame(trades, 0).unwrap(), flags::TRADE);
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 2);
    assert_eq!(feed.on_frame(br#"{"success":true,"ret_msg":"pong","op":"ping"}"#, 0).unwrap(), flags::CONTROL);
}

#[rstest]
#[case::binance_depth(Venue::BinanceUsdm, r#"{"stream":"btcusdt@depth@0ms","data":{}}"#, Some((StreamKind::Depth, "btcusdt")))]
#[case::binance_partial(Venue::BinanceSpot, r#"{"stream":"btcusdt@depth20@100ms","data":{}}"#, Some((StreamKind::Other, "btcusdt")))]
#[case::binance_trade(Venue::BinanceSpot, r#"{"stream":"btcusdt@trade","data":{}}"#, Some((StreamKind::Trade, "btcusdt")))]
#[case::binance_agg(Venue::BinanceSpot, r#"{"stream":"btcusdt@aggTrade","data":{}}"#, Some((StreamKind::AggTrade, "btcusdt")))]
#[case::binance_ticker(Venue::BinanceCoinm, r#"{"stream":"btcusd_perp@bookTicker","data":{}}"#, Some((StreamKind::Ticker, "btcusd_perp")))]
#[case::binance_kline(Venue::BinanceSpot, r#"{"stream":"btcusdt@kline_1m","data":{}}"#, Some((StreamKind::Kline, "btcusdt")))]
#[case::stream_not_first(Venue::BinanceSpot, r#"{ "data":{"e":"trade"}, "stream":"btcusdt@trade"}"#, Some((StreamKind::Trade, "btcusdt")))]
#[case::reply(Venue::BinanceSpot, r#"{"result":null,"id":1}"#, None)]
#[case::bybit_book(Venue::Bybit, r#"{"topic":"orderbook.500.XRPUSDT","type":"delta"}"#, Some((StreamKind::Depth, "XRPUSDT")))]
#[case::bybit_trade(Venue::Bybit, r#"{"topic":"publicTrade.XRPUSDT","data":[]}"#, Some((StreamKind::Trade, "XRPUSDT")))]
#[case::bybit_kline(Venue::Bybit, r#"{"topic":"kline.1.XRPUSDT","data":[]}"#, Some((StreamKind::Kline, "XRPUSDT")))]
#[case::bybit_pong(Venue::Bybit, r#"{"success":true,"ret_msg":"pong","op":"ping"}"#, None)]
fn streams_are_told_by_name(#[case] venue: Venue, #[case] raw: &str, #[case] want: Option<(StreamKind, &str)>) {
    let got = stream_of(venue, raw.as_bytes()).unwrap().map(|s| (s.kind, std::str::from_utf8(s.symbol).unwrap()));
    assert_eq!(got, want);
}

#[test]
fn a_broken_frame_without_a_leading_name_is_an_error() {
    assert!(stream_of(Venue::BinanceSpot, br#"{"data":{"e":"trade"},"stream":"btc"#).is_err());
    assert!(stream_of(Venue::BinanceSpot, b"<html>").is_err());
}

#[test]
fn rest_trades_are_checked_before_any_is_used() {
    let mut feed = feed();
    feed.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    feed.on_frame(trade(3, 2_000, 100.0).as_bytes(), 0).unwrap();
    let bad = r#"[{"id":2,"price":"-1","qty":"1","time":1500,"isBuyerMaker":true}]"#;
    assert!(feed.fill_trades("BTCUSDT", bad.as_bytes()).is_err());
    let missing = r#"[{"id":2,"price":"1","time":1500,"isBuyerMaker":true}]"#;
    assert!(feed.fill_trades("BTCUSDT", missing.as_bytes()).is_err());
    assert_eq!(feed.market("BTCUSDT").unwrap().gate.hole(), Some((2, 2)));
    assert!(feed.fill_trades("BTCUSDT", rest_trades(&[(2, 1_500, 100.5)]).as_bytes()).unwrap());
    assert_eq!(feed.market("BTCUSDT").unwrap().candles.trade_count(), 3);
}

#[test]
fn a_recording_replays_with_its_snapshot_line() {
    let mut feed = feed();
    let data = format!(
        "5 {}\n6 {}\n7 {}\nnot a line\n8 {}\n",
        diff(95, 101, 94, "99.5", 1),
        SNAPSHOT,
        diff(102, 103, 101, "99.6", 2),
        trade(1, 1_000, 100.0)
    );
    let mut log = ErrorLog::default();
    assert_eq!(feed.replay(data.as_bytes(), 1, &mut log), 5);
    assert_eq!((log.count, log.first[0].line), (1, 4));
    let m = feed.market("BTCUSDT").unwrap();
    assert_eq!(m.book.last_update_id(), Some(103));
    assert_eq!(m.health.last_message_ns, Some(8));
    assert_eq!(feed.stats().snapshots, 1);
}

// -- Bybit: trades identified by execId, completed from `recent-trade` after a disconnect -----

fn bybit_feed() -> Feed {
    let options = Options { timeframes: vec!["1m".parse().unwrap()], close_delay_ms: 1_000 };
    Feed::new(Venue::Bybit, &["XRPUSDT"], options).unwrap()
}

fn exec(n: u64) -> String {
    format!("{:08x}-7c1d-4f7b-9e4a-{n:012x}", n * 2_654_435_761 % 0xffff_ffff)
}

/// One publicTrade message of `(n, ms, price)` trades.
fn bybit_trades(trades: &[(u64, i64, f64)]) -> String {
    let items: Vec<String> = trades
        .iter()
        .map(|(n, t, p)| {
            format!(
                r#"{{"T":{t},"s":"XRPUSDT","S":"Buy","v":"10","p":"{p}","L":"PlusTick","i":"{}","BT":false}}"#,
                exec(*n)
            )
        })
        .collect();
    let ts = trades.last().map_or(0, |t| t.1);
    format!(r#"{{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":{ts},"data":[{}]}}"#, items.join(","))
}

fn bybit_book(u: u64, ts: i64, kind: &str) -> String {
    format!(
        r#"{{"topic":"orderbook.500.XRPUSDT","type":"{kind}","ts":{ts},"data":{{"s":"XRPUSDT","b":[["1.95{u:02}","100"]],"a":[["1.99","100"]],"u":{u},"seq":{u}}},"cts":{ts}}}"#
    )
}

/// A `recent-trade` answer holding `(n, ms, price)` trades given oldest first (sent newest first).
fn recent(trades: &[(u64, i64, f64)]) -> String {
    let items: Vec<String> = trades
        .iter()
        .rev()
        .map(|(n, t, p)| {
            format!(r#"{{"execId":"{}","symbol":"XRPUSDT","price":"{p}","size":"10","side":"Buy","time":"{t}","isBlockTrade":false}}"#, exec(*n))
        })
        .collect();
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}]}},"retExtInfo":{{}},"time":1}}"#,
        items.join(",")
    )
}

fn bybit_stats(feed: &Feed) -> TradeStats {
    feed.market("XRPUSDT").unwrap().trade_stats()
}

#[test]
fn bybit_repeats_on_a_live_connection_are_dropped() {
    let mut feed = bybit_feed();
    let frame = bybit_trades(&[(1, 1_000, 1.95), (2, 1_500, 1.96)]);
    feed.on_frame(bybit_book(1, 500, "snapshot").as_bytes(), 0).unwrap();
    assert_eq!(feed.on_frame(frame.as_bytes(), 0).unwrap(), flags::TRADE);
    assert_eq!(feed.on_frame(frame.as_bytes(), 0).unwrap(), flags::TRADE);
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 2);
    assert_eq!(bybit_stats(&feed).duplicates, 2);
}

#[test]
fn bybit_trades_after_a_disconnect_wait_for_rest() {
    let mut feed = bybit_feed();
    feed.on_frame(bybit_book(1, 500, "snapshot").as_bytes(), 0).unwrap();
    feed.on_frame(bybit_trades(&[(1, 1_000, 1.95), (2, 2_000, 1.96)]).as_bytes(), 0).unwrap();
    feed.connection_lost();
    // Trades 3 (in the first minute) and 4 are missed; the new connection starts with 5.
    let f = feed.on_frame(bybit_book(2, 60_500, "snapshot").as_bytes(), 0).unwrap();
    assert_ne!(f & flags::TRADE_HOLE, 0, "a Bybit reconnect asks for a backfill");
    let f = feed.on_frame(bybit_trades(&[(5, 62_000, 1.99)]).as_bytes(), 0).unwrap();
    assert_ne!(f & flags::TRADE_HOLE, 0);
    let f = feed.on_frame(bybit_book(3, 70_000, "delta").as_bytes(), 0).unwrap();
    assert_eq!(f & flags::CANDLES, 0, "the first minute waits for its missing trade");
    assert!(feed.market("XRPUSDT").unwrap().exec.awaiting());
    // Two missed trades in one millisecond: the later one (newest first over REST) closes the bar.
    let answer = recent(&[
        (1, 1_000, 1.95),
        (2, 2_000, 1.96),
        (3, 59_000, 1.97),
        (30, 59_000, 1.965),
        (4, 61_000, 1.98),
        (5, 62_000, 1.99),
    ]);
    assert!(feed.fill_trades("XRPUSDT", answer.as_bytes()).unwrap());
    let closed = feed.take_closed();
    let bars = &closed[0].2;
    assert_eq!((bars.open_time_ms[0], bars.open[0], bars.close[0], bars.volume[0]), (0, 1.95, 1.965, 40.0));
    let m = feed.market("XRPUSDT").unwrap();
    assert_eq!(m.candles.trade_count(), 6);
    let s = bybit_stats(&feed);
    assert_eq!((s.backfilled, s.holes, s.unfilled, s.duplicates), (3, 1, 0, 0));
    // The stream catching up with what REST brought: repeats.
    feed.on_frame(bybit_trades(&[(5, 62_000, 1.99), (6, 63_000, 2.0)]).as_bytes(), 0).unwrap();
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 7);
    // Closes by the clock again.
    let f = feed.on_frame(bybit_book(4, 121_500, "delta").as_bytes(), 0).unwrap();
    assert_ne!(f & flags::CANDLES, 0);
    assert_eq!(trades_closed(&mut feed), vec![(60_000, 1.98, 30.0)]);
}

#[test]
fn bybit_rest_too_short_to_reach_back_is_counted() {
    let mut feed = bybit_feed();
    feed.on_frame(bybit_trades(&[(1, 1_000, 1.95)]).as_bytes(), 0).unwrap();
    feed.connection_lost();
    feed.on_frame(bybit_trades(&[(9, 9_000, 1.99)]).as_bytes(), 0).unwrap();
    // Trades 2..7 are beyond the window.
    assert!(feed.fill_trades("XRPUSDT", recent(&[(8, 8_000, 1.98), (9, 9_000, 1.99)]).as_bytes()).unwrap());
    let s = bybit_stats(&feed);
    assert_eq!((s.unfilled, s.backfilled), (1, 1));
    assert!(!feed.market("XRPUSDT").unwrap().exec.awaiting());
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 3);
}

#[test]
fn bybit_an_answer_older_than_the_new_connection_asks_for_another() {
    let mut feed = bybit_feed();
    feed.on_frame(bybit_trades(&[(1, 1_000, 1.95)]).as_bytes(), 0).unwrap();
    feed.connection_lost();
    feed.on_frame(bybit_trades(&[(3, 3_000, 1.97)]).as_bytes(), 0).unwrap();
    assert!(!feed.fill_trades("XRPUSDT", recent(&[(1, 1_000, 1.95), (2, 2_000, 1.96)]).as_bytes()).unwrap());
    assert!(feed.market("XRPUSDT").unwrap().exec.awaiting());
    feed.give_up_trades("XRPUSDT").unwrap();
    assert_eq!(bybit_stats(&feed).unfilled, 1);
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 2);
}

#[rstest]
#[case::failed(r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"time":1}"#)]
#[case::truncated(r#"{"retCode":0,"result":{"category":"linear","list":[{"execId":"x","symbol":"XRPUSDT""#)]
#[case::html("<html><body>502</body></html>")]
#[case::no_exec_id(
    r#"{"retCode":0,"result":{"list":[{"symbol":"XRPUSDT","price":"1.96","size":"1","side":"Buy","time":"2000"}]}}"#
)]
#[case::negative_size(r#"{"retCode":0,"result":{"list":[{"execId":"x","symbol":"XRPUSDT","price":"1.96","size":"-1","side":"Buy","time":"2000"}]}}"#)]
#[case::wrong_symbol(r#"{"retCode":0,"result":{"list":[{"execId":"x","symbol":"BTCUSDT","price":"1.96","size":"1","side":"Buy","time":"2000"}]}}"#)]
#[case::binance_shape(r#"[{"id":2,"price":"1.96","qty":"1","time":2000,"isBuyerMaker":false}]"#)]
fn bybit_a_bad_rest_answer_is_an_error_and_changes_nothing(#[case] raw: &str) {
    let mut feed = bybit_feed();
    feed.on_frame(bybit_trades(&[(1, 1_000, 1.95)]).as_bytes(), 0).unwrap();
    feed.connection_lost();
    feed.on_frame(bybit_trades(&[(3, 3_000, 1.97)]).as_bytes(), 0).unwrap();
    let before = feed.market("XRPUSDT").unwrap().clone();
    assert!(feed.fill_trades("XRPUSDT", raw.as_bytes()).is_err());
    let after = feed.market("XRPUSDT").unwrap();
    assert!(after.exec.awaiting());
    assert_eq!(after.exec.held(), before.exec.held());
    assert_eq!(after.trade_stats(), before.trade_stats());
    assert_eq!(after.candles.trade_count(), before.candles.trade_count());
    // A good answer still fills the gap.
    let good = recent(&[(1, 1_000, 1.95), (2, 2_000, 1.96), (3, 3_000, 1.97)]);
    assert!(feed.fill_trades("XRPUSDT", good.as_bytes()).unwrap());
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 3);
}

#[test]
fn a_late_bybit_answer_changes_nothing_and_binance_is_unchanged() {
    let mut feed = bybit_feed();
    feed.on_frame(bybit_trades(&[(1, 1_000, 1.95)]).as_bytes(), 0).unwrap();
    assert!(feed.fill_trades("XRPUSDT", recent(&[(0, 500, 1.9), (1, 1_000, 1.95)]).as_bytes()).unwrap());
    assert_eq!(feed.market("XRPUSDT").unwrap().candles.trade_count(), 1);
    // Binance: a reconnect alone holds nothing (its next trade shows any hole).
    let mut binance = self::feed();
    binance.on_frame(trade(1, 1_000, 100.0).as_bytes(), 0).unwrap();
    binance.connection_lost();
    let f = binance.on_frame(trade(2, 2_000, 100.0).as_bytes(), 0).unwrap();
    assert_eq!((kind(f), f & flags::TRADE_HOLE), (flags::TRADE, 0));
    assert!(!binance.market("BTCUSDT").unwrap().exec.awaiting());
}
