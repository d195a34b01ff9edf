//! The window of recent candles the patterns read: OHLC and its geometry, column by column, plus
//! every candle-setting average the enabled patterns need, precomputed once per candle.
//!
//! Positions `0..HISTORY` hold the candles before the current block, so a pattern at position `i`
//! can read `i - 4` without a bounds check failing. The same window serves batch runs (a block of
//! up to `BLOCK` candles at a time) and streaming (one candle at a time): one code path.

use super::averages::Avg;
use crate::simd::dispatch;

/// Candles kept from the previous block: enough for the longest (5-candle) patterns.
pub const HISTORY: usize = 8;
/// Candles per block in batch runs.
pub const BLOCK: usize = 1024;
/// Window length.
pub const W: usize = HISTORY + BLOCK;
/// The most distinct thresholds one engine can hold (the 61 patterns use about 30 by default).
pub const MAX_THRESHOLDS: usize = 256;

#[derive(Debug)]
pub struct Bars {
    pub open: Box<[f64; W]>,
    pub high: Box<[f64; W]>,
    pub low: Box<[f64; W]>,
    pub close: Box<[f64; W]>,
    /// |close − open|
    pub body: Box<[f64; W]>,
    /// high − max(open, close)
    pub upper: Box<[f64; W]>,
    /// min(open, close) − low
    pub lower: Box<[f64; W]>,
    /// high − low
    pub range: Box<[f64; W]>,
    /// upper + lower shadow
    pub shadows: Box<[f64; W]>,
    /// max(open, close) and min(open, close)
    pub body_top: Box<[f64; W]>,
    pub body_bottom: Box<[f64; W]>,
    /// Average thresholds, one column per registered `Avg` (a fixed 256, so that an `Avg`, a
    /// `u8`, always indexes in bounds and pattern code compiles without panicking branches).
    pub(crate) avgs: Box<[[f64; W]; MAX_THRESHOLDS]>,
    /// Columns of `avgs` in use.
    pub(crate) used: usize,
    /// Global index (bar number since the start of the series) of position 0; negative while
    /// the history positions precede the first bar.
    pub(crate) base: i64,
}

impl Bars {
    pub(crate) fn new(averages: usize) -> Self {
        // On the heap, column by column: a window of 1024 candles is too big for a thread's stack.
        let zero = || vec![0.0; W].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        Self {
            open: zero(),
            high: zero(),
            low: zero(),
            close: zero(),
            body: zero(),
            upper: zero(),
            lower: zero(),
            range: zero(),
            shadows: zero(),
            body_top: zero(),
            body_bottom: zero(),
            avgs: vec![[0.0; W]; MAX_THRESHOLDS].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!()),
            used: averages,
            base: -(HISTORY as i64),
        }
    }

    /// The bar number of position `i` (negative before the first bar).
    #[inline(always)]
    pub fn index(&self, i: usize) -> i64 {
        self.base + i as i64
    }

    /// The threshold `avg` for the candle at position `i`.
    #[inline(always)]
    pub fn avg(&self, avg: Avg, i: usize) -> f64 {
        self.avgs[usize::from(avg.0)][i]
    }

    /// TA-Lib's candle colour: white (+1) when close ≥ open, black (−1) otherwise.
    #[inline(always)]
    pub fn color(&self, i: usize) -> i32 {
        if self.close[i] >= self.open[i] { 1 } else { -1 }
    }

    #[inline(always)]
    pub fn white(&self, i: usize) -> bool {
        self.close[i] >= self.open[i]
    }

    #[inline(always)]
    pub fn black(&self, i: usize) -> bool {
        self.close[i] < self.open[i]
    }

    /// Top of the real body: max(open, close).
    #[inline(always)]
    pub fn top(&self, i: usize) -> f64 {
        self.body_top[i]
    }

    /// Bottom of the real body: min(open, close).
    #[inline(always)]
    pub fn bottom(&self, i: usize) -> f64 {
        self.body_bottom[i]
    }

    /// The real body of `later` is entirely above the real body of `earlier`.
    #[inline(always)]
    pub fn body_gap_up(&self, later: usize, earlier: usize) -> bool {
        self.bottom(later) > self.top(earlier)
    }

    /// The real body of `later` is entirely below the real body of `earlier`.
    #[inline(always)]
    pub fn body_gap_down(&self, later: usize, earlier: usize) -> bool {
        self.top(later) < self.bottom(earlier)
    }

    /// The whole candle `later` is above `earlier` (its low over the other's high).
    #[inline(always)]
    pub fn gap_up(&self, later: usize, earlier: usize) -> bool {
        self.low[later] > self.high[earlier]
    }

    /// The whole candle `later` is below `earlier`.
    #[inline(always)]
    pub fn gap_down(&self, later: usize, earlier: usize) -> bool {
        self.high[later] < self.low[earlier]
    }

    /// Writes `len` candles at positions `at..at + len` and derives their geometry.
    pub(crate) fn load(&mut self, at: usize, open: &[f64], high: &[f64], low: &[f64], close: &[f64]) {
        load(self, at, [open, high, low, close]);
    }

    /// The measure a range type averages, per position.
    #[inline(always)]
    pub(crate) fn column(&self, range: super::settings::RangeType) -> &[f64; W] {
        use super::settings::RangeType::*;
        match range {
            RealBody => &self.body,
            HighLow => &self.range,
            Shadows => &self.shadows,
        }
    }

    /// Moves the last `HISTORY` positions to the front, making room for the next block.
    pub(crate) fn shift(&mut self) {
        fn keep(column: &mut [f64; W]) {
            column.copy_within(W - HISTORY.., 0);
        }
        for column in [
            &mut self.open,
            &mut self.high,
            &mut self.low,
            &mut self.close,
            &mut self.body,
            &mut self.upper,
            &mut self.lower,
            &mut self.range,
            &mut self.shadows,
            &mut self.body_top,
            &mut self.body_bottom,
        ] {
            keep(column);
        }
        for column in &mut self.avgs[..self.used] {
            keep(column);
        }
        self.base += BLOCK as i64;
    }
}

dispatch! {
    /// `Bars::load`.
    fn load(bars: &mut Bars, at: usize, columns: [&[f64]; 4]) {
        let [open, high, low, close] = columns;
        let end = at + open.len();
        assert!(end <= W);
        bars.open[at..end].copy_from_slice(open);
        bars.high[at..end].copy_from_slice(high);
        bars.low[at..end].copy_from_slice(low);
        bars.close[at..end].copy_from_slice(close);
        for i in at..end {
            let (o, h, l, c) = (bars.open[i], bars.high[i], bars.low[i], bars.close[i]);
            let white = c >= o;
            bars.body[i] = (c - o).abs();
            bars.upper[i] = h - if white { c } else { o };
            bars.lower[i] = if white { o } else { c } - l;
            bars.range[i] = h - l;
            bars.shadows[i] = bars.upper[i] + bars.lower[i];
            (bars.body_top[i], bars.body_bottom[i]) = if white { (c, o) } else { (o, c) };
        }
    }
}
