use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn levels_json(levels: &[(u64, u64)]) -> String {
    let items: Vec<String> = levels.iter().map(|(p, q)| format!(r#"["{p}.0","{q}"]"#)).collect();
    format!("[{}]", items.join(","))
}

fn usdm_diff(first: u64, last: u64, prev: u64, bids: &[(u64, u64)], asks: &[(u64, u64)]) -> String {
    format!(
        r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":{},"a":{}}}}}"#,
        levels_json(bids),
        levels_json(asks)
    )
}

fn spot_diff(first: u64, last: u64, bids: &[(u64, u64)], asks: &[(u64, u64)]) -> String {
    format!(
        r#"{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":{},"a":{}}}"#,
        levels_json(bids),
        levels_json(asks)
    )
}

fn snapshot(id: u64, bids: &[(u64, u64)], asks: &[(u64, u64)]) -> String {
    format!(r#"{{"lastUpdateId":{id},"bids":{},"asks":{}}}"#, levels_json(bids), levels_json(asks))
}

fn bybit(kind: &str, u: u64, bids: &[(u64, u64)], asks: &[(u64, u64)]) -> String {
    format!(
        r#"{{"topic":"orderbook.50.BTCUSDT","type":"{kind}","ts":1,"data":{{"s":"BTCUSDT","b":{},"a":{},"u":{u},"seq":1}}}}"#,
        levels_json(bids),
        levels_json(asks)
    )
}

fn book(venue: Venue) -> OrderBook {
    OrderBook::new(venue, "btcusdt").unwrap()
}

fn apply(book: &mut OrderBook, raw: &str) -> Status {
    book.apply(raw.as_bytes()).unwrap()
}

fn px(p: u64) -> Fixed {
    Fixed(p * crate::decimal::SCALE)
}

/// Everything observable about a book, to check that errors change nothing.
fn observe(book: &OrderBook) -> String {
    let bids: Vec<_> = book.bids.iter().collect();
    let asks: Vec<_> = book.asks.iter().collect();
    format!("{bids:?} {asks:?} {:?} {:?} {} {:?}", book.update_id, book.out_of_sync, book.buffered(), book.stats)
}

#[test]
fn futures_snapshot_then_chained_diffs() {
    let mut b = book(Venue::BinanceUsdm);
    assert!(!b.synced());
    assert!(matches!(b.best_bid(), Err(Error::NotSynced { .. })));
    assert_eq!(apply(&mut b, &snapshot(100, &[(10, 1), (9, 2)], &[(11, 3)])), Status::Snapshot);
    assert_eq!(b.best_bid().unwrap(), Some((px(10), px(1))));
    assert_eq!(apply(&mut b, &usdm_diff(90, 99, 80, &[(10, 5)], &[])), Status::Stale);
    assert_eq!(apply(&mut b, &usdm_diff(95, 105, 94, &[(10, 0)], &[(12, 1)])), Status::Applied);
    assert_eq!(b.best_bid().unwrap(), Some((px(9), px(2))));
    assert_eq!(apply(&mut b, &usdm_diff(110, 120, 105, &[], &[(11, 0)])), Status::Applied);
    assert_eq!(b.best_ask().unwrap(), Some((px(12), px(1))));
    assert_eq!(b.last_update_id(), Some(120));
    // A duplicate is stale; a diff whose pu does not match is a gap.
    assert_eq!(apply(&mut b, &usdm_diff(110, 120, 105, &[], &[(11, 9)])), Status::Stale);
    assert_eq!(apply(&mut b, &usdm_diff(130, 140, 125, &[], &[])), Status::Gap);
    assert!(!b.synced());
    let err = b.mid().unwrap_err().to_string();
    assert!(err.contains("gap after update id 120") && err.contains("pu=125"), "{err}");
}

#[test]
fn diffs_before_the_snapshot_are_buffered_and_replayed() {
    let mut b = book(Venue::BinanceUsdm);
    assert_eq!(apply(&mut b, &usdm_diff(80, 90, 70, &[(8, 1)], &[])), Status::Buffered);
    assert_eq!(apply(&mut b, &usdm_diff(91, 105, 90, &[(10, 7)], &[])), Status::Buffered);
    assert_eq!(apply(&mut b, &usdm_diff(106, 110, 105, &[(9, 0)], &[(11, 4)])), Status::Buffered);
    assert_eq!(b.buffered(), 3);
    assert_eq!(apply(&mut b, &snapshot(100, &[(10, 1), (9, 2)], &[(11, 3)])), Status::Snapshot);
    assert_eq!(b.buffered(), 0);
    assert_eq!(b.last_update_id(), Some(110));
    assert_eq!(b.bids.iter().collect::<Vec<_>>(), vec![(px(10), px(7))]);
    assert_eq!(b.best_ask().unwrap(), Some((px(11), px(4))));
}

#[test]
fn a_snapshot_older_than_the_buffer_waits_for_a_newer_one() {
    let mut b = book(Venue::BinanceUsdm);
    apply(&mut b, &usdm_diff(200, 210, 190, &[(10, 1)], &[]));
    assert_eq!(apply(&mut b, &snapshot(100, &[(10, 1)], &[(11, 1)])), Status::Stale);
    assert!(matches!(b.out_of_sync(), Some(OutOfSync::SnapshotTooOld { snapshot_id: 100, first_buffered: 200 })));
    assert_eq!(apply(&mut b, &snapshot(205, &[(10, 2)], &[(11, 1)])), Status::Snapshot);
    assert_eq!(b.best_bid().unwrap(), Some((px(10), px(1))));
}

#[test]
fn a_gap_heals_with_the_next_snapshot_and_the_diffs_since() {
    let mut b = book(Venue::BinanceSpot);
    apply(&mut b, &snapshot(100, &[(10, 1)], &[(11, 1)]));
    assert_eq!(apply(&mut b, &spot_diff(101, 105, &[(10, 2)], &[])), Status::Applied);
    assert_eq!(apply(&mut b, &spot_diff(110, 115, &[(10, 3)], &[])), Status::Gap);
    assert_eq!(apply(&mut b, &spot_diff(116, 120, &[(9, 1)], &[])), Status::Buffered);
    assert_eq!(apply(&mut b, &snapshot(112, &[(10, 4)], &[(11, 1)])), Status::Snapshot);
    assert!(b.synced());
    assert_eq!(b.last_update_id(), Some(120));
    assert_eq!(b.bids.iter().collect::<Vec<_>>(), vec![(px(10), px(3)), (px(9), px(1))]);
}

#[test]
fn a_gap_inside_the_buffer_is_reported_by_the_snapshot() {
    let mut b = book(Venue::BinanceSpot);
    apply(&mut b, &spot_diff(95, 105, &[], &[]));
    apply(&mut b, &spot_diff(110, 115, &[], &[]));
    assert_eq!(apply(&mut b, &snapshot(100, &[(10, 1)], &[(11, 1)])), Status::Gap);
    assert!(matches!(b.out_of_sync(), Some(OutOfSync::Gap { book_id: 105, .. })));
    assert_eq!(b.buffered(), 1);
}

#[test]
fn spot_first_diff_must_straddle_the_snapshot() {
    let mut b = book(Venue::BinanceSpot);
    apply(&mut b, &snapshot(100, &[(10, 1)], &[(11, 1)]));
    assert_eq!(apply(&mut b, &spot_diff(90, 100, &[], &[])), Status::Stale);
    assert_eq!(apply(&mut b, &spot_diff(102, 110, &[], &[])), Status::Gap);
}

#[test]
fn a_newer_snapshot_replaces_a_synced_book_and_an_older_one_is_stale() {
    let mut b = book(Venue::BinanceUsdm);
    apply(&mut b, &snapshot(100, &[(10, 1)], &[(11, 1)]));
    assert_eq!(apply(&mut b, &snapshot(90, &[(5, 1)], &[(6, 1)])), Status::Stale);
    assert_eq!(apply(&mut b, &snapshot(150, &[(20, 1)], &[(21, 1)])), Status::Snapshot);
    assert_eq!(b.best_bid().unwrap(), Some((px(20), px(1))));
}

#[test]
fn bybit_snapshot_deltas_and_restart() {
    let mut b = book(Venue::Bybit);
    assert_eq!(apply(&mut b, &bybit("snapshot", 50, &[(10, 1)], &[(11, 1)])), Status::Snapshot);
    assert_eq!(apply(&mut b, &bybit("delta", 51, &[(10, 0), (9, 2)], &[])), Status::Applied);
    assert_eq!(apply(&mut b, &bybit("delta", 51, &[(9, 5)], &[])), Status::Stale);
    assert_eq!(b.best_bid().unwrap(), Some((px(9), px(2))));
    assert_eq!(apply(&mut b, &bybit("delta", 53, &[], &[])), Status::Gap);
    assert_eq!(apply(&mut b, &bybit("snapshot", 60, &[(8, 1)], &[(12, 1)])), Status::Snapshot);
    assert_eq!(apply(&mut b, &bybit("delta", 1, &[(7, 1)], &[(13, 1)])), Status::Snapshot, "u == 1 is a restart");
    assert_eq!(b.bids.iter().collect::<Vec<_>>(), vec![(px(7), px(1))]);
    assert_eq!(apply(&mut b, &bybit("delta", 2, &[(6, 1)], &[])), Status::Applied);
}

#[test]
fn bad_messages_change_nothing() {
    let mut b = book(Venue::BinanceUsdm);
    apply(&mut b, &snapshot(100, &[(10, 1), (9, 2)], &[(11, 3)]));
    apply(&mut b, &usdm_diff(95, 105, 94, &[(10, 4)], &[]));
    let before = observe(&b);
    let good = usdm_diff(106, 110, 105, &[(10, 0), (8, 1)], &[(11, 0)]);
    let mut bad_ones = vec![
        good.replace("BTCUSDT", "ETHUSDT"),
        good.replace(r#""8.0""#, r#""-8.0""#),
        good.replace(r#""8.0""#, r#""x""#),
        good.replace(r#","pu":105"#, ""),
        good.replace(r#","u":110"#, ""),
        good.replace(r#""a":[["11.0","0"]]"#, r#""a":[["11.0","0"],]"#),
        good[..good.len() - 3].to_owned(),
        good.replace(r#""e":"depthUpdate""#, r#""e":"depthUpdate","ps":"BTCUSD""#),
        bybit("delta", 106, &[(1, 1)], &[]),
        String::from_utf8_lossy(&[0xff, 0xfe]).into_owned(),
    ];
    bad_ones.push(String::new());
    for bad in &bad_ones {
        assert!(b.apply(bad.as_bytes()).is_err(), "{bad}");
        assert_eq!(observe(&b), before, "{bad}");
    }
    assert_eq!(apply(&mut b, &good), Status::Applied);
}

#[test]
fn queries() {
    let mut b = book(Venue::BinanceUsdm);
    apply(&mut b, &snapshot(1, &[(100, 2), (99, 4), (90, 10)], &[(101, 1), (102, 3), (120, 5)]));
    assert_eq!(b.spread().unwrap(), Some(1.0));
    assert_eq!(b.mid().unwrap(), Some(100.5));
    assert_eq!(b.microprice().unwrap(), Some((100.0 * 1.0 + 101.0 * 2.0) / 3.0));
    assert_eq!(b.imbalance(1).unwrap(), Some((2.0 - 1.0) / 3.0));
    assert_eq!(b.imbalance(2).unwrap(), Some((6.0 - 4.0) / 10.0));
    // ±200 bps of 100.5 is [98.49, 102.51]: bids 100, 99; asks 101, 102.
    assert_eq!(b.depth(200.0).unwrap(), Some((6.0, 4.0)));
    assert_eq!(b.fill_price(Side::Bid, 2.0).unwrap(), Some((101.0 + 102.0) / 2.0));
    assert_eq!(b.fill_price(Side::Ask, 3.0).unwrap(), Some((2.0 * 100.0 + 99.0) / 3.0));
    assert_eq!(b.fill_price(Side::Bid, 100.0).unwrap(), None);
    assert!(b.fill_price(Side::Bid, -1.0).is_err());
    // A sweep stops at its limit and reports what it got.
    assert_eq!(b.sweep(Side::Bid, 10.0, Some(102.0)).unwrap(), (4.0, (101.0 + 3.0 * 102.0) / 4.0));
    assert_eq!(b.sweep(Side::Ask, 1.0, Some(100.0)).unwrap(), (1.0, 100.0));
    assert_eq!(b.sweep(Side::Ask, 7.0, Some(99.5)).unwrap(), (2.0, 100.0));
    assert_eq!(b.sweep(Side::Bid, 100.0, None).unwrap(), (9.0, (101.0 + 306.0 + 600.0) / 9.0));
    let (none, price) = b.sweep(Side::Bid, 1.0, Some(100.5)).unwrap();
    assert!(none == 0.0 && price.is_nan());
    assert!(b.sweep(Side::Bid, 1.0, Some(-1.0)).is_err());
    assert!(b.imbalance(0).is_err());
    assert!(b.depth(f64::NAN).is_err());
}

#[test]
fn wrong_symbols_and_venues_at_construction() {
    assert!(OrderBook::new(Venue::Bybit, "").is_err());
    assert!(OrderBook::new(Venue::Bybit, "BTC USDT").is_err());
    assert_eq!(OrderBook::new(Venue::Bybit, " ethusdt ").unwrap().symbol(), "ETHUSDT");
}

#[test]
fn replay_rows_and_errors() {
    let mut b = book(Venue::BinanceUsdm);
    let data = format!(
        "1 {}\n2 {{\"e\":\"bookTicker\",\"s\":\"BTCUSDT\",\"b\":\"1\"}}\n3 {}\nnot a line\n{}\n",
        usdm_diff(95, 105, 94, &[(10, 4)], &[]),
        snapshot(100, &[(10, 1)], &[(11, 3)]),
        usdm_diff(106, 110, 105, &[(9, 1)], &[(11, 0)]),
    );
    let (mut rows, mut errors) = (BookRows::default(), crate::recording::ErrorLog::default());
    b.replay(data.as_bytes(), 1, ReplayOptions::default(), &mut rows, &mut errors).unwrap();
    assert_eq!(errors.count, 1);
    assert_eq!(errors.first[0].line, 4);
    assert_eq!(rows.status, vec![Status::Buffered as u8, Status::Snapshot as u8, Status::Applied as u8]);
    assert_eq!(rows.recv_ts_ns, vec![1, 3, NO_TS]);
    assert_eq!(rows.update_id, vec![105, 100, 110]);
    assert!(rows.bid_px[0].is_nan());
    assert_eq!((rows.bid_px[1], rows.bid_qty[1]), (10.0, 4.0));
    assert!(rows.ask_px[2].is_nan(), "the only ask was removed");
    let other = data.replace("BTCUSDT", "ETHUSDT");
    let skip = ReplayOptions { skip_other_symbols: true, ..ReplayOptions::default() };
    let mut errors = crate::recording::ErrorLog::default();
    let summary = book(Venue::BinanceUsdm).replay(other.as_bytes(), 1, skip, &mut rows, &mut errors).unwrap();
    assert_eq!((summary.other_symbols, errors.count), (2, 1), "the snapshot names no symbol");
    assert_eq!(crate::recording::first_depth_symbol(Venue::BinanceUsdm, other.as_bytes()).as_deref(), Some("ETHUSDT"));
    let strict = ReplayOptions { stop_on_error: true, ..ReplayOptions::default() };
    let err = book(Venue::BinanceUsdm).replay(data.as_bytes(), 1, strict, &mut rows, &mut errors).unwrap_err();
    assert_eq!(err.line, 4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random snapshots and diffs, sent as real messages, against a dict-of-levels model.
    #[test]
    fn random_updates_match_a_model(
        snap_bids in proptest::collection::vec((1u64..60, 1u64..5), 0..30),
        snap_asks in proptest::collection::vec((60u64..120, 1u64..5), 0..30),
        diffs in proptest::collection::vec(
            (proptest::collection::vec((1u64..120, 0u64..4), 0..12), proptest::collection::vec((1u64..120, 0u64..4), 0..12)),
            1..40),
        spot in any::<bool>(),
    ) {
        let venue = if spot { Venue::BinanceSpot } else { Venue::BinanceUsdm };
        let mut b = book(venue);
        let (mut bids, mut asks) = (BTreeMap::new(), BTreeMap::new());
        for (p, q) in &snap_bids { bids.insert(*p, *q); }
        for (p, q) in &snap_asks { asks.insert(*p, *q); }
        prop_assert_eq!(apply(&mut b, &snapshot(1000, &snap_bids, &snap_asks)), Status::Snapshot);
        let mut last = 1000;
        for (i, (db, da)) in diffs.iter().enumerate() {
            let (first, end) = if spot { (last + 1, last + 3) } else { (last - (i == 0) as u64, last + 7) };
            let raw = if spot { spot_diff(first, end, db, da) } else { usdm_diff(first, end, last, db, da) };
            prop_assert_eq!(apply(&mut b, &raw), Status::Applied);
            last = end;
            for (p, q) in db { if *q == 0 { bids.remove(p); } else { bids.insert(*p, *q); } }
            for (p, q) in da { if *q == 0 { asks.remove(p); } else { asks.insert(*p, *q); } }
        }
        b.bids.check();
        b.asks.check();
        let want_bids: Vec<_> = bids.iter().rev().map(|(p, q)| (px(*p), Fixed(q * crate::decimal::SCALE))).collect();
        let want_asks: Vec<_> = asks.iter().map(|(p, q)| (px(*p), Fixed(q * crate::decimal::SCALE))).collect();
        prop_assert_eq!(b.bids.iter().collect::<Vec<_>>(), want_bids);
        prop_assert_eq!(b.asks.iter().collect::<Vec<_>>(), want_asks);
    }
}

#[test]
fn the_buffer_is_bounded_and_drops_its_oldest_diffs() {
    let mut b = book(Venue::BinanceSpot);
    let extra = 10;
    for u in 1..=(MAX_BUFFERED_MESSAGES as u64 + extra) {
        assert_eq!(apply(&mut b, &spot_diff(u, u, &[], &[])), Status::Buffered);
    }
    assert_eq!(b.buffered(), MAX_BUFFERED_MESSAGES);
    assert_eq!(b.stats().buffered_dropped, extra);
    // The dropped diffs are gone: a snapshot that needed them is too old ...
    assert_eq!(apply(&mut b, &snapshot(5, &[(10, 1)], &[(11, 1)])), Status::Stale);
    assert!(
        matches!(b.out_of_sync(), Some(OutOfSync::SnapshotTooOld { first_buffered, .. }) if *first_buffered == extra + 1)
    );
    // ... and one taken after them syncs, replaying what is still buffered.
    assert_eq!(apply(&mut b, &snapshot(extra + 5, &[(10, 1)], &[(11, 1)])), Status::Snapshot);
    assert_eq!(b.last_update_id(), Some(MAX_BUFFERED_MESSAGES as u64 + extra));
    assert_eq!(b.buffered(), 0);
}
