//! Kernel benchmarks (criterion) on the real recordings in ../shared/data: parsing depth
//! messages, replaying them through a book, aggregating trades into candles, and detecting the
//! 61 candlestick patterns in the real 1m bars. The
//! side-by-side comparisons with other tools live in the top-level `benches/`.
//!
//! `cargo bench -p tradecore-core` (skips what it cannot find).

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tradecore_core::book::{BookRows, OrderBook, ReplayOptions};
use tradecore_core::candles::{Aggregator, Options, Timeframe};
use tradecore_core::recording::{ErrorLog, lines};
use tradecore_core::venues::{Levels, Venue, parse_depth};

fn data_dir() -> PathBuf {
    std::env::var_os("TRADECORE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// The depth lines (diffs and the snapshot) of a shared Binance recording, decompressed.
fn depth_lines(name: &str) -> Option<Vec<u8>> {
    let file = std::fs::File::open(data_dir().join("binance").join(name)).ok()?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut text).ok()?;
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if memchr::memmem::find(line, b"depthUpdate").is_some() || memchr::memmem::find(line, b"lastUpdateId").is_some()
        {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    Some(out)
}

fn book(c: &mut Criterion) {
    let Some(data) = depth_lines("usdm_btcusdt_20240808.gz") else {
        eprintln!("skipping book benchmarks: shared data not found at {}", data_dir().display());
        return;
    };
    let messages: Vec<&[u8]> = lines(&data, 1).filter_map(|(_, l)| l.ok()).map(|l| l.message).collect();
    let mut levels = Levels::default();
    let total: usize = messages
        .iter()
        .map(|m| {
            parse_depth(Venue::BinanceUsdm, "BTCUSDT", m, &mut levels).ok();
            levels.len()
        })
        .sum();
    let mut group = c.benchmark_group("book");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("parse_depth usdm", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(parse_depth(Venue::BinanceUsdm, "BTCUSDT", m, &mut levels).ok());
            }
        })
    });
    group.bench_function("apply usdm", |b| {
        b.iter(|| {
            let mut book = OrderBook::new(Venue::BinanceUsdm, "BTCUSDT").ok()?;
            for m in &messages {
                black_box(book.apply(m).ok());
            }
            Some(book)
        })
    });
    group.bench_function("replay usdm", |b| {
        b.iter(|| {
            let mut book = OrderBook::new(Venue::BinanceUsdm, "BTCUSDT").ok()?;
            let (mut rows, mut errors) = (BookRows::default(), ErrorLog::default());
            book.replay(&data, 1, ReplayOptions::default(), &mut rows, &mut errors).ok()?;
            Some(rows)
        })
    });
    group.finish();
}

fn candles(c: &mut Criterion) {
    // A synthetic tape with real-looking spacing: ~100 trades per second for ~28 hours.
    let n = 10_000_000usize;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut ts = Vec::with_capacity(n);
    let (mut price, mut qty, mut buy) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut t, mut p) = (1_722_816_000_000i64, 60_000.0f64);
    for _ in 0..n {
        let r = next();
        t += (r % 21) as i64;
        p *= 1.0 + ((r >> 8) % 201) as f64 * 1e-6 - 1e-4;
        ts.push(t);
        price.push((p * 10.0).round() / 10.0);
        qty.push(((r >> 20) % 1000) as f64 / 1000.0 + 0.001);
        buy.push(r >> 63 == 1);
    }
    let frames: Vec<Timeframe> = ["1m", "5m", "15m", "1h", "4h", "1d"].iter().filter_map(|t| t.parse().ok()).collect();
    let mut group = c.benchmark_group("candles");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_with_input(BenchmarkId::new("aggregate", "10M trades x 6 timeframes"), &frames, |b, frames| {
        b.iter(|| {
            let mut agg = Aggregator::new(frames, Options::default()).ok()?;
            agg.push_columns(&ts, &price, &qty, &buy).ok()?;
            agg.flush();
            Some(agg.take_closed())
        })
    });
    group.bench_function("validate 10M trades", |b| {
        b.iter(|| tradecore_core::candles::validate(&ts, &price, &qty, &buy).is_ok())
    });
    group.finish();
}

/// The real 1m bars of ../shared/data/candles as (open, high, low, close).
fn real_bars() -> Option<[Vec<f64>; 4]> {
    let file = std::fs::File::open(data_dir().join("candles/btcperp_20211231_20220201_1m.csv.gz")).ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).ok()?;
    let mut columns: [Vec<f64>; 4] = Default::default();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        for (column, field) in columns.iter_mut().zip(&fields[1..5]) {
            column.push(field.parse().ok()?);
        }
    }
    Some(columns)
}

fn patterns(c: &mut Criterion) {
    use tradecore_core::patterns::{PatternEngine, Settings};
    let Some([o, h, l, close]) = real_bars() else {
        eprintln!("skipping pattern benchmarks: shared data not found at {}", data_dir().display());
        return;
    };
    let n = o.len();
    let mut group = c.benchmark_group("patterns");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    let settings = Settings::default();
    let mut out = vec![vec![0i16; n]; 61];
    group.bench_function("all 61, 45k real 1m bars", |b| {
        b.iter(|| {
            let mut engine = PatternEngine::new(None, &settings).ok()?;
            let mut columns: Vec<&mut [i16]> = out.iter_mut().map(Vec::as_mut_slice).collect();
            engine.run(&o, &h, &l, &close, None, &mut columns).ok()
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("push one bar, all 61", |b| {
        let mut engine = PatternEngine::new(None, &settings).ok();
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % n;
            engine.as_mut().and_then(|e| e.push(o[k], h[k], l[k], close[k], None).ok().map(|codes| codes[0]))
        })
    });
    group.finish();
}

criterion_group!(benches, book, candles, patterns);
criterion_main!(benches);
