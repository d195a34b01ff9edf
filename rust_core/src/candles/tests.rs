use super::*;
use crate::error::Error;
use crate::venues::Trade;
use proptest::prelude::*;
use std::collections::BTreeMap;

const MIN: i64 = 60_000;

fn tfs(names: &[&str]) -> Vec<Timeframe> {
    names.iter().map(|n| n.parse().unwrap()).collect()
}

fn trade(ts_ms: i64, price: f64, qty: f64, taker_buy: bool) -> Trade {
    Trade { ts_ms, price, qty, taker_buy }
}

fn run(frames: &[Timeframe], trades: &[Trade], chunks: &[usize], options: Options) -> Vec<BarColumns> {
    let mut agg = Aggregator::new(frames, options).unwrap();
    let mut out: Vec<BarColumns> = vec![BarColumns::default(); frames.len()];
    let mut rest = trades;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&usize::MAX)).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let ts: Vec<i64> = chunk.iter().map(|t| t.ts_ms).collect();
        let px: Vec<f64> = chunk.iter().map(|t| t.price).collect();
        let qty: Vec<f64> = chunk.iter().map(|t| t.qty).collect();
        let buy: Vec<bool> = chunk.iter().map(|t| t.taker_buy).collect();
        agg.push_columns(&ts, &px, &qty, &buy).unwrap();
        append(&mut out, agg.take_closed());
    }
    agg.flush();
    append(&mut out, agg.take_closed());
    out
}

fn append(out: &mut [BarColumns], closed: Vec<(Timeframe, BarColumns)>) {
    for (dst, (_, mut src)) in out.iter_mut().zip(closed) {
        dst.append(&mut src);
    }
}

/// (open time, open, high, low, close, volume, trades, taker buy volume)
type RefBar = (i64, f64, f64, f64, f64, f64, i64, f64);

/// The obvious way: group time-sorted trades by bar start, then fill the empty bars.
fn reference(tf: Timeframe, trades: &[Trade]) -> Vec<RefBar> {
    let mut sorted = trades.to_vec();
    sorted.sort_by_key(|t| t.ts_ms); // stable: ties keep arrival order
    let mut bars: BTreeMap<i64, RefBar> = BTreeMap::new();
    for t in &sorted {
        let start = tf.start_of(t.ts_ms);
        let e = bars.entry(start).or_insert((start, t.price, t.price, t.price, t.price, 0.0, 0, 0.0));
        e.2 = e.2.max(t.price);
        e.3 = e.3.min(t.price);
        e.4 = t.price;
        e.5 += t.qty;
        e.6 += 1;
        e.7 += if t.taker_buy { t.qty } else { 0.0 };
    }
    let mut out = vec![];
    let mut prev: Option<(i64, f64)> = None;
    for &(start, o, h, l, c, v, n, b) in bars.values() {
        if let Some((mut t, close)) = prev {
            t += tf.ms();
            while t < start {
                out.push((t, close, close, close, close, 0.0, 0, 0.0));
                t += tf.ms();
            }
        }
        out.push((start, o, h, l, c, v, n, b));
        prev = Some((start, c));
    }
    out
}

fn close_enough(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_matches_reference(frames: &[Timeframe], trades: &[Trade], got: &[BarColumns]) {
    for (tf, bars) in frames.iter().zip(got) {
        let want = reference(*tf, trades);
        assert_eq!(bars.len(), want.len(), "{tf}: bar count");
        for (i, w) in want.iter().enumerate() {
            let b = bars.get(i).unwrap();
            assert_eq!(
                (b.open_time_ms, b.open, b.high, b.low, b.close, b.trades as i64),
                (w.0, w.1, w.2, w.3, w.4, w.6),
                "{tf} bar {i}"
            );
            assert!(close_enough(b.volume, w.5), "{tf} bar {i} volume {} vs {}", b.volume, w.5);
            assert!(close_enough(b.taker_buy_volume, w.7), "{tf} bar {i} taker buy volume");
            assert!(b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close));
            assert!(b.taker_buy_volume <= b.volume * (1.0 + 1e-12));
            let vwap = bars.vwap[i];
            assert!(b.trades == 0 || (vwap >= b.low * (1.0 - 1e-12) && vwap <= b.high * (1.0 + 1e-12)));
        }
    }
}

#[test]
fn one_minute_bars_by_hand() {
    let frames = tfs(&["1m"]);
    let trades = [
        trade(0, 10.0, 1.0, true),
        trade(10_000, 12.0, 2.0, false),
        trade(59_999, 9.0, 1.0, true),
        trade(60_000, 11.0, 3.0, false),
        trade(3 * MIN + 5, 13.0, 1.0, true),
    ];
    let out = run(&frames, &trades, &[usize::MAX], Options::default());
    let bars = &out[0];
    assert_eq!(bars.open_time_ms, vec![0, MIN, 2 * MIN, 3 * MIN]);
    assert_eq!((bars.open[0], bars.high[0], bars.low[0], bars.close[0]), (10.0, 12.0, 9.0, 9.0));
    assert_eq!((bars.volume[0], bars.quote_volume[0], bars.trades[0]), (4.0, 43.0, 3));
    assert_eq!((bars.taker_buy_volume[0], bars.taker_buy_quote_volume[0]), (2.0, 19.0));
    assert_eq!(bars.vwap[0], 43.0 / 4.0);
    // The empty third minute is flat at the previous close, like an exchange kline.
    assert_eq!((bars.open[2], bars.close[2], bars.volume[2], bars.trades[2], bars.vwap[2]), (11.0, 11.0, 0.0, 0, 11.0));
    let unfilled = run(&frames, &trades, &[usize::MAX], Options { fill_gaps: false, ..Options::default() });
    assert_eq!(unfilled[0].open_time_ms, vec![0, MIN, 3 * MIN]);
}

#[test]
fn bars_are_released_as_soon_as_a_later_trade_arrives() {
    let mut agg = Aggregator::new(&tfs(&["1m", "5m"]), Options::default()).unwrap();
    agg.push(&trade(4 * MIN + 1, 10.0, 1.0, true)).unwrap();
    assert!(!agg.has_closed());
    agg.push(&trade(5 * MIN, 11.0, 1.0, true)).unwrap();
    let closed = agg.take_closed();
    assert_eq!(closed[0].1.open_time_ms, vec![4 * MIN]);
    assert_eq!(closed[1].1.open_time_ms, vec![0], "the 5m bar closes with the first trade after it");
    agg.advance(6 * MIN);
    assert_eq!(agg.take_closed()[0].1.open_time_ms, vec![5 * MIN]);
}

#[test]
fn out_of_order_within_a_bar_uses_timestamps() {
    let trades = [
        trade(30_000, 10.0, 1.0, true),
        trade(10_000, 8.0, 1.0, true),
        trade(50_000, 9.0, 1.0, true),
        trade(40_000, 12.0, 1.0, true),
    ];
    let out = run(&tfs(&["1m"]), &trades, &[usize::MAX], Options::default());
    assert_eq!((out[0].open[0], out[0].close[0]), (8.0, 9.0));
}

#[test]
fn late_trades_never_change_released_bars() {
    let frames = tfs(&["1m", "1h"]);
    let mut agg = Aggregator::new(&frames, Options::default()).unwrap();
    agg.push(&trade(0, 10.0, 1.0, true)).unwrap();
    agg.push(&trade(2 * MIN, 11.0, 1.0, true)).unwrap();
    let released = agg.take_closed();
    agg.push(&trade(30_000, 99.0, 5.0, true)).unwrap(); // its 1m bar is closed, its 1h bar is open
    assert_eq!(agg.late_dropped().collect::<Vec<_>>(), vec![1, 0]);
    agg.flush();
    let rest = agg.take_closed();
    assert_eq!(released[0].1.len(), 2, "the 1m bars [0,1m) and the flat [1m,2m)");
    assert_eq!(released[0].1.close[0], 10.0);
    assert_eq!(rest[1].1.high, vec![99.0], "the open 1h bar takes the late trade");
    assert_eq!(rest[1].1.trades, vec![3]);

    let strict = Options { late: Late::Error, ..Options::default() };
    let mut agg = Aggregator::new(&frames, strict).unwrap();
    agg.push(&trade(2 * MIN, 11.0, 1.0, true)).unwrap();
    let err = agg.push_columns(&[2 * MIN + 1, 30_000], &[1.0, 1.0], &[1.0, 1.0], &[true, true]).unwrap_err();
    assert!(matches!(err, Error::LateTrade { ts_ms: 30_000, .. }), "{err}");
    assert_eq!(agg.trade_count(), 1, "a refused batch applies nothing");
    assert!(agg.push(&trade(MIN, 1.0, 1.0, true)).is_err());
}

#[test]
fn weekly_and_daily_bars_align_like_klines() {
    let monday = 1_722_816_000_000; // 2024-08-05 00:00 UTC
    let trades = [trade(monday - 1, 1.0, 1.0, true), trade(monday + 3 * 86_400_000, 2.0, 1.0, true)];
    let out = run(&tfs(&["1d", "1w"]), &trades, &[usize::MAX], Options::default());
    assert_eq!(out[1].open_time_ms, vec![monday - 7 * 86_400_000, monday]);
    assert_eq!(out[0].open_time_ms.len(), 5);
}

#[test]
fn bad_input_is_refused_before_anything_changes() {
    let mut agg = Aggregator::new(&tfs(&["1m"]), Options::default()).unwrap();
    for (ts, px, qty) in [
        (0, f64::NAN, 1.0),
        (0, -1.0, 1.0),
        (0, 1.0, -1.0),
        (0, 1.0, f64::INFINITY),
        (1_723_161_256_322_000_000, 1.0, 1.0),
        (-5, 1.0, 1.0),
    ] {
        assert!(agg.push_columns(&[0, ts], &[1.0, px], &[1.0, qty], &[true, true]).is_err());
        assert!(agg.push(&trade(ts, px, qty, true)).is_err());
    }
    assert!(agg.push_columns(&[0, 1], &[1.0], &[1.0, 1.0], &[true, true]).is_err());
    assert_eq!(agg.trade_count(), 0);
    // A bad value far into a long batch (past the first validated chunk) rolls everything back.
    agg.push(&trade(MIN / 2, 5.0, 1.0, true)).unwrap();
    let n = 50_000;
    let ts: Vec<i64> = (0..n).map(|i| MIN + i * 100).collect();
    let mut px = vec![1.0; n as usize];
    px[40_000] = f64::NAN;
    let err = agg.push_columns(&ts, &px, &vec![1.0; n as usize], &vec![true; n as usize]).unwrap_err();
    assert!(err.to_string().contains("price[40000]"), "{err}");
    assert_eq!(agg.trade_count(), 1);
    assert!(!agg.has_closed(), "bars released by the refused batch are taken back");
    agg.flush();
    assert_eq!(agg.take_closed()[0].1.close, vec![5.0]);
    // -0.0 is a valid (zero) quantity even though the fast screen flags its sign bit.
    assert!(validate(&[1], &[1.0], &[-0.0], &[true]).is_ok());
    assert!(Aggregator::new(&[], Options::default()).is_err());
    assert!(Aggregator::new(&tfs(&["1m", "1m"]), Options::default()).is_err());
}

fn trades_strategy() -> impl Strategy<Value = Vec<Trade>> {
    // Mostly increasing timestamps with bursts, long silences and ties.
    proptest::collection::vec((0i64..4, 0i64..200_000, 1u32..2000, 0u32..500, any::<bool>()), 1..600).prop_map(
        |steps| {
            let mut ts = 1_700_000_000_000;
            steps
                .into_iter()
                .map(|(kind, step, px, qty, buy)| {
                    ts += match kind {
                        0 => 0,
                        3 => step * 50,
                        _ => step,
                    };
                    trade(ts, f64::from(px) / 8.0, f64::from(qty) / 16.0, buy)
                })
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn matches_the_reference_for_any_chunking(trades in trades_strategy(), chunks in proptest::collection::vec(1usize..50, 1..8)) {
        let frames = tfs(&["1s", "1m", "5m", "15m", "1h", "4h", "1d"]);
        let whole = run(&frames, &trades, &[usize::MAX], Options::default());
        assert_matches_reference(&frames, &trades, &whole);
        let chunked = run(&frames, &trades, &chunks, Options::default());
        prop_assert_eq!(&whole, &chunked);
        let one_by_one = run(&frames, &trades, &[1], Options::default());
        prop_assert_eq!(&whole, &one_by_one);
    }

    #[test]
    fn timeframes_roll_up_exactly(trades in trades_strategy()) {
        // 1h bars from the aggregator equal 1h bars aggregated alone (OHLC, counts exactly).
        let together = run(&tfs(&["1m", "1h"]), &trades, &[usize::MAX], Options::default());
        let alone = run(&tfs(&["1h"]), &trades, &[usize::MAX], Options::default());
        prop_assert_eq!(&together[1].open_time_ms, &alone[0].open_time_ms);
        prop_assert_eq!(&together[1].high, &alone[0].high);
        prop_assert_eq!(&together[1].trades, &alone[0].trades);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Trades shuffled within their base bar (arrival order ≠ time order) give the bars of the
    /// sorted tape: open/close by timestamp, extremes and counts exact, volumes up to rounding.
    #[test]
    fn shuffled_within_bars_equals_sorted(trades in trades_strategy(), seed in any::<u64>()) {
        let frames = tfs(&["1s", "1m", "1h"]);
        // Unique timestamps, so "earliest" and "latest" are unambiguous.
        let mut sorted = trades;
        for (i, t) in sorted.iter_mut().enumerate() {
            t.ts_ms += i as i64;
        }
        sorted.sort_by_key(|t| t.ts_ms);
        let mut shuffled = sorted.clone();
        let mut rng = seed | 1;
        let second = |t: &Trade| t.ts_ms.div_euclid(1000);
        let mut start = 0;
        while start < shuffled.len() {
            let end = start + shuffled[start..].iter().take_while(|t| second(t) == second(&shuffled[start])).count();
            for i in (start + 1..end).rev() {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                let j = start + (rng % (i - start + 1) as u64) as usize;
                shuffled.swap(i, j);
            }
            start = end;
        }
        let want = run(&frames, &sorted, &[usize::MAX], Options::default());
        for chunks in [vec![usize::MAX], vec![3, 1, 7]] {
            let got = run(&frames, &shuffled, &chunks, Options::default());
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(&g.open_time_ms, &w.open_time_ms);
                prop_assert_eq!(&g.open, &w.open);
                prop_assert_eq!(&g.close, &w.close);
                prop_assert_eq!(&g.high, &w.high);
                prop_assert_eq!(&g.low, &w.low);
                prop_assert_eq!(&g.trades, &w.trades);
                for (a, b) in g.volume.iter().zip(&w.volume) {
                    prop_assert!(close_enough(*a, *b));
                }
            }
        }
    }
}
