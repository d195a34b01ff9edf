//! Engine tests that need no reference library: streaming equals batch, chunking, threads,
//! validation, names. Parity with TA-Lib itself is tested from Python against the `talib`
//! package (`tests/test_patterns_parity.py`).

use super::engine::{detect_in_parts, part_bounds};
use super::*;

fn series(n: usize, seed: u64) -> [Vec<f64>; 4] {
    // A coarse-tick random walk: ties, dojis and flat bars happen often.
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let (mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![]);
    let mut price = 100.0f64;
    for _ in 0..n {
        let open = (price + next(5) as f64 - 2.0).max(1.0);
        let close = (open + next(9) as f64 - 4.0).max(1.0);
        let high = open.max(close) + next(3) as f64;
        let low = (open.min(close) - next(3) as f64).max(0.5);
        price = close;
        o.push(open);
        h.push(high);
        l.push(low);
        c.push(close);
    }
    [o, h, l, c]
}

/// Runs `engine` writing pattern `p`'s code of bar `k` to `out[p * n + k]`.
fn run_flat(engine: &mut PatternEngine, o: &[f64], h: &[f64], l: &[f64], c: &[f64], out: &mut [Code]) {
    let mut columns: Vec<&mut [Code]> = out.chunks_mut(o.len().max(1)).collect();
    columns.truncate(engine.names().len());
    engine.run(o, h, l, c, None, &mut columns).unwrap();
}

#[test]
fn streaming_equals_batch_at_every_index() {
    // Long enough for the window to move on twice.
    let [o, h, l, c] = series(2 * super::bars::BLOCK + 300, 7);
    let settings = Settings::default();
    let mut batch = PatternEngine::new(None, &settings).unwrap();
    let p = batch.names().len();
    let mut out = vec![0; p * o.len()];
    run_flat(&mut batch, &o, &h, &l, &c, &mut out);
    let mut stream = PatternEngine::new(None, &settings).unwrap();
    for k in 0..o.len() {
        let codes = stream.push(o[k], h[k], l[k], c[k], None).unwrap().to_vec();
        for (j, code) in codes.iter().enumerate() {
            assert_eq!(*code, out[j * o.len() + k], "{} at {k}", batch.names()[j]);
        }
    }
}

#[test]
fn chunking_does_not_change_codes() {
    use super::bars::BLOCK;
    let [o, h, l, c] = series(3 * BLOCK + 777, 3);
    let settings = Settings::default();
    let mut whole = PatternEngine::new(None, &settings).unwrap();
    let p = whole.names().len();
    let n = o.len();
    let mut expected = vec![0; p * n];
    run_flat(&mut whole, &o, &h, &l, &c, &mut expected);
    let mut parts = PatternEngine::new(None, &settings).unwrap();
    let mut start = 0;
    // Around the short-update paths (16 candles) and the block length.
    for size in [1usize, 5, 16, 17, BLOCK - 1, BLOCK, BLOCK + 1, 250].iter().cycle() {
        let end = (start + size).min(n);
        let mut out = vec![0; p * (end - start)];
        run_flat(&mut parts, &o[start..end], &h[start..end], &l[start..end], &c[start..end], &mut out);
        for j in 0..p {
            assert_eq!(&out[j * (end - start)..(j + 1) * (end - start)], &expected[j * n + start..j * n + end]);
        }
        start = end;
        if start == n {
            break;
        }
    }
}

#[test]
fn bad_bars_are_refused_and_change_nothing() {
    let mut engine = PatternEngine::new(None, &Settings::default()).unwrap();
    engine.push(10.0, 11.0, 9.0, 10.5, None).unwrap();
    for (o, h, l, c, what) in [
        (f64::NAN, 11.0, 9.0, 10.0, "open is NaN"),
        (10.0, 9.5, 9.0, 10.0, "high 9.5 is below the body"),
        (10.0, 11.0, 10.2, 10.5, "low 10.2 is above the body"),
        (-1.0, 11.0, -2.0, 10.0, "open is negative"),
        (10.0, f64::INFINITY, 9.0, 10.0, "high is inf"),
    ] {
        let err = engine.push(o, h, l, c, None).unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
        assert!(matches!(err, crate::Error::InvalidBar { index: 1, .. }));
    }
    assert_eq!(engine.bars_seen(), 1);
}

#[test]
fn unknown_and_duplicate_names_are_refused() {
    let s = Settings::default();
    assert!(PatternEngine::new(Some(&["CDLNOPE"]), &s).is_err());
    assert!(PatternEngine::new(Some(&["CDLDOJI", "cdldoji"]), &s).is_err());
    let engine = PatternEngine::new(Some(&["cdlengulfing", "CDLDOJI"]), &s).unwrap();
    assert_eq!(engine.names(), ["CDLENGULFING", "CDLDOJI"]);
}

#[test]
fn thresholds_fit_under_any_settings() {
    // Distinct periods and factors everywhere: no two patterns can share a running sum.
    let mut settings = Settings::default();
    for (k, setting) in Setting::ALL.into_iter().enumerate() {
        let range = RangeType::ALL[k % 3];
        settings.set(setting, CandleSetting { range, period: 3 + 7 * k, factor: 0.1 + k as f64 }).unwrap();
    }
    let mut averages = super::averages::Averages::default();
    for entry in super::catalog::entries() {
        entry.instantiate(&mut averages, &settings);
    }
    // All 61 register 152 thresholds in all, so even all-distinct ones fit the table of 256.
    assert!(averages.len() < super::bars::MAX_THRESHOLDS / 2, "{} thresholds", averages.len());
}

#[test]
fn streaming_signals_equal_batch_signals() {
    let [o, h, l, c] = series(2_000, 9);
    let volume: Vec<f64> = (0..o.len()).map(|k| 10.0 + (k % 7) as f64).collect();
    let settings = Settings::default();
    let mut batch = PatternEngine::new(None, &settings).unwrap();
    batch.enable_scoring(ScoreConfig::default()).unwrap();
    let n = o.len();
    let mut out = vec![0; batch.names().len() * n];
    let mut columns: Vec<&mut [Code]> = out.chunks_mut(n).collect();
    batch.run(&o, &h, &l, &c, Some(&volume), &mut columns).unwrap();
    let expected = batch.take_signals();
    let mut stream = PatternEngine::new(None, &settings).unwrap();
    stream.enable_scoring(ScoreConfig::default()).unwrap();
    let mut got = Vec::new();
    for k in 0..n {
        stream.push(o[k], h[k], l[k], c[k], Some(volume[k])).unwrap();
        got.extend(stream.take_signals());
    }
    assert_eq!(got, expected);
    assert!(expected.iter().any(|s| s.accepted) && expected.iter().any(|s| !s.accepted));
    let fired: usize = out.iter().filter(|code| **code != 0).count();
    assert_eq!(expected.len(), fired);
}

#[test]
fn detect_on_threads_equals_one_engine() {
    let [o, h, l, c] = series(3_000, 4);
    let settings = Settings::default();
    let n = o.len();
    let mut expected = vec![0; 61 * n];
    run_flat(&mut PatternEngine::new(None, &settings).unwrap(), &o, &h, &l, &c, &mut expected);
    let all = resolve(None).unwrap();
    assert_eq!(all, names());
    for threads in [1, 2, 3, 61, 100, 2_999, 3_001] {
        // Parts as short as the window's history and shorter, and empty ones.
        let mut out = vec![0; 61 * n];
        detect_in_parts(&all, &settings, [&o, &h, &l, &c], threads, &mut out).unwrap();
        assert_eq!(out, expected, "{threads} parts");
    }
    let mut out = vec![0; 61 * n];
    detect(&all, &settings, [&o, &h, &l, &c], 2, &mut out).unwrap();
    assert_eq!(out, expected);
    // A bad bar in a later part is found by that part's engine, with its index in the series.
    let mut bad = h.clone();
    bad[2_500] = f64::NAN;
    let err = detect_in_parts(&all, &settings, [&o, &bad, &l, &c], 3, &mut vec![0; 61 * n]).unwrap_err();
    assert!(matches!(err, crate::Error::InvalidBar { index: 2_500, .. }), "{err}");
    bad[1_000] = -1.0;
    let err = detect_in_parts(&all, &settings, [&o, &bad, &l, &c], 3, &mut vec![0; 61 * n]).unwrap_err();
    assert!(matches!(err, crate::Error::InvalidBar { index: 1_000, .. }), "{err}");
    let doji = resolve(Some(&["cdldoji"])).unwrap();
    assert_eq!(doji, ["CDLDOJI"]);
    let mut one = vec![0; n];
    detect(&doji, &settings, [&o, &h, &l, &c], 2, &mut one).unwrap();
    assert_eq!(one, expected[15 * n..16 * n]);
    let err = detect(&all, &settings, [&o, &h, &l, &c[..n - 1]], 2, &mut vec![0; 61 * n]).unwrap_err();
    assert!(err.to_string().contains("different lengths"), "{err}");
    let err = detect(&all, &settings, [&o, &h, &l, &c], 2, &mut one).unwrap_err();
    assert!(err.to_string().contains("codes for 61 patterns"), "{err}");
    detect(&all, &settings, [&[], &[], &[], &[]], 2, &mut []).unwrap();
}

#[test]
fn baseline_and_v3_kernels_agree() {
    // Every kernel has a baseline and an x86-64-v3 copy; on a CPU without v3 both runs take the
    // baseline and the test still holds.
    let settings = Settings::default();
    for seed in [3, 9] {
        let [o, h, l, c] = series(2_000, seed);
        let n = o.len();
        let mut codes = [vec![0; 61 * n], vec![0; 61 * n]];
        for (baseline, out) in [true, false].into_iter().zip(codes.iter_mut()) {
            crate::simd::baseline_only(baseline);
            run_flat(&mut PatternEngine::new(None, &settings).unwrap(), &o, &h, &l, &c, out);
        }
        crate::simd::baseline_only(false);
        assert_eq!(codes[0], codes[1]);
        assert!(codes[0].iter().filter(|&&code| code != 0).count() > 1_000);
    }
}

#[test]
fn later_parts_are_shorter_and_cover_the_series() {
    assert_eq!(part_bounds(1_000, 1), [0, 1_000]);
    // The second part replays the first's sums, so it gets fewer bars to score.
    let two = part_bounds(1_000_000, 2);
    assert_eq!((two[0], two[2]), (0, 1_000_000));
    assert!((540_000..560_000).contains(&two[1]), "{two:?}");
    for (n, threads) in [(0, 3), (7, 3), (3_000, 100), (990_682, 4)] {
        let bounds = part_bounds(n, threads);
        assert_eq!(bounds.len(), threads + 1);
        assert_eq!((bounds[0], bounds[threads]), (0, n));
        assert!(bounds.windows(2).all(|w| w[0] <= w[1]), "{bounds:?}");
    }
}
