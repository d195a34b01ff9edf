//! Trades to time bars, for many timeframes in one pass.
//!
//! Every trade updates one *base* bar (the finest bar all requested timeframes divide into, see
//! `timeframe::base_of`); each timeframe is rolled up from closed base bars. That keeps the
//! per-trade work independent of how many timeframes are requested.
//!
//! Bars close on event time: a bar is released as soon as a trade (or `advance`) at or after its
//! end arrives, and `flush` releases the bars still open. Streaming and batch are the same code,
//! so results are identical for any chunking.
//!
//! Ordering: within a bar, `open` is the price of the earliest trade by timestamp and `close` of
//! the latest (ties: first and last to arrive), so mildly out-of-order feeds give the bars a
//! time-sorted feed would. A *late* trade — one whose bar has already closed for some timeframe —
//! never changes a released bar. It still counts in every timeframe whose bar is open; for the
//! others the policy decides: `Late::Drop` counts it in `late_dropped` (per timeframe), and
//! `Late::Error` refuses the trade with an error and changes nothing.

mod timeframe;

pub use timeframe::{Timeframe, base_of};

use std::fmt;

use crate::error::{Error, Result};
use crate::venues::Trade;

/// One time bar.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Bar {
    /// Start of the bar, milliseconds since the Unix epoch (UTC).
    pub open_time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Σ price × quantity.
    pub quote_volume: f64,
    /// Volume of trades whose aggressor bought.
    pub taker_buy_volume: f64,
    pub taker_buy_quote_volume: f64,
    pub trades: u64,
    first_ts: i64,
    last_ts: i64,
}

impl Bar {
    fn empty(open_time_ms: i64) -> Self {
        Self {
            open_time_ms,
            open: f64::NAN,
            high: f64::NEG_INFINITY,
            low: f64::INFINITY,
            close: f64::NAN,
            volume: 0.0,
            quote_volume: 0.0,
            taker_buy_volume: 0.0,
            taker_buy_quote_volume: 0.0,
            trades: 0,
            first_ts: i64::MAX,
            last_ts: i64::MIN,
        }
    }

    /// A bar without trades, flat at the previous close (the exchanges' kline convention).
    fn flat(open_time_ms: i64, price: f64) -> Self {
        Self { open: price, high: price, low: price, close: price, ..Self::empty(open_time_ms) }
    }

    /// Volume-weighted average price; a bar without volume reports its close.
    pub fn vwap(&self) -> f64 {
        if self.volume > 0.0 { self.quote_volume / self.volume } else { self.close }
    }

    /// Open is the earliest trade by time, close the latest (ties: first and last to arrive).
    #[inline(always)]
    fn order(&mut self, ts: i64, price: f64) {
        if ts < self.first_ts {
            self.first_ts = ts;
            self.open = price;
        }
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.close = price;
        }
    }

    #[inline(always)]
    fn add(&mut self, ts: i64, price: f64, qty: f64, taker_buy: bool) {
        self.add_extremes(price);
        self.add_sums(ts, price, qty, taker_buy);
        self.trades += 1;
    }

    /// High and low of validated (NaN-free) prices.
    #[inline(always)]
    fn add_extremes(&mut self, price: f64) {
        self.high = if price > self.high { price } else { self.high };
        self.low = if price < self.low { price } else { self.low };
    }

    /// Open/close by time and the volumes.
    #[inline(always)]
    fn add_sums(&mut self, ts: i64, price: f64, qty: f64, taker_buy: bool) {
        self.order(ts, price);
        self.add_volumes(price, qty, taker_buy);
    }

    /// The volumes, summed in trade order.
    #[inline(always)]
    fn add_volumes(&mut self, price: f64, qty: f64, taker_buy: bool) {
        let quote = price * qty;
        let buy = f64::from(u8::from(taker_buy));
        self.volume += qty;
        self.quote_volume += quote;
        self.taker_buy_volume += qty * buy;
        self.taker_buy_quote_volume += quote * buy;
    }

    fn merge(&mut self, other: &Bar) {
        if other.trades == 0 {
            return;
        }
        self.high = self.high.max(other.high);
        self.low = self.low.min(other.low);
        if other.first_ts < self.first_ts {
            self.first_ts = other.first_ts;
            self.open = other.open;
        }
        if other.last_ts >= self.last_ts {
            self.last_ts = other.last_ts;
            self.close = other.close;
        }
        self.volume += other.volume;
        self.quote_volume += other.quote_volume;
        self.taker_buy_volume += other.taker_buy_volume;
        self.taker_buy_quote_volume += other.taker_buy_quote_volume;
        self.trades += other.trades;
    }
}

/// Closed bars of one timeframe, column by column (ready for numpy/Arrow without reshaping).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarColumns {
    pub open_time_ms: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub quote_volume: Vec<f64>,
    pub trades: Vec<i64>,
    pub taker_buy_volume: Vec<f64>,
    pub taker_buy_quote_volume: Vec<f64>,
    pub vwap: Vec<f64>,
}

impl BarColumns {
    fn push(&mut self, bar: &Bar) {
        self.open_time_ms.push(bar.open_time_ms);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        self.volume.push(bar.volume);
        self.quote_volume.push(bar.quote_volume);
        self.trades.push(i64::try_from(bar.trades).unwrap_or(i64::MAX));
        self.taker_buy_volume.push(bar.taker_buy_volume);
        self.taker_buy_quote_volume.push(bar.taker_buy_quote_volume);
        self.vwap.push(bar.vwap());
    }

    pub fn len(&self) -> usize {
        self.open_time_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open_time_ms.is_empty()
    }

    /// The floating-point columns, for operations that treat every column alike.
    fn float_columns(&mut self) -> [&mut Vec<f64>; 9] {
        [
            &mut self.open,
            &mut self.high,
            &mut self.low,
            &mut self.close,
            &mut self.volume,
            &mut self.quote_volume,
            &mut self.taker_buy_volume,
            &mut self.taker_buy_quote_volume,
            &mut self.vwap,
        ]
    }

    fn truncate(&mut self, len: usize) {
        self.open_time_ms.truncate(len);
        self.trades.truncate(len);
        for column in self.float_columns() {
            column.truncate(len);
        }
    }

    /// Moves `other`'s bars to the end of these.
    pub fn append(&mut self, other: &mut BarColumns) {
        self.open_time_ms.append(&mut other.open_time_ms);
        self.trades.append(&mut other.trades);
        for (mine, theirs) in self.float_columns().into_iter().zip(other.float_columns()) {
            mine.append(theirs);
        }
    }

    /// The bar at `i`, if any.
    pub fn get(&self, i: usize) -> Option<Bar> {
        let open_time_ms = *self.open_time_ms.get(i)?;
        Some(Bar {
            open_time_ms,
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
            quote_volume: self.quote_volume[i],
            taker_buy_volume: self.taker_buy_volume[i],
            taker_buy_quote_volume: self.taker_buy_quote_volume[i],
            trades: u64::try_from(self.trades[i]).unwrap_or(0),
            // Only the bar's own span is known once it is released.
            first_ts: open_time_ms,
            last_ts: open_time_ms,
        })
    }
}

/// The aggregator's state at the start of a batch, to roll back a refused one.
#[derive(Clone, Debug)]
struct Checkpoint {
    bar: Bar,
    start: i64,
    end: i64,
    trades: u64,
    frames: Vec<FrameCheckpoint>,
}

#[derive(Clone, Debug)]
struct FrameCheckpoint {
    bar: Bar,
    end: i64,
    last_close: Option<f64>,
    released: usize,
    late_dropped: u64,
    gaps_unfilled: u64,
}

/// What to do with a trade whose bar has already been released.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Late {
    /// Count it (per timeframe) and leave released bars alone.
    #[default]
    Drop,
    /// Refuse it with `Error::LateTrade`; nothing changes.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Emit flat, zero-volume bars for intervals without trades (as exchange klines do).
    pub fill_gaps: bool,
    pub late: Late,
}

impl Default for Options {
    fn default() -> Self {
        Self { fill_gaps: true, late: Late::Drop }
    }
}

/// One requested timeframe: its open bar (rolled up from closed base bars) and its output.
#[derive(Clone, Debug)]
struct Frame {
    tf: Timeframe,
    bar: Bar,
    /// End of the open bar; `i64::MIN` before the first trade.
    end: i64,
    last_close: Option<f64>,
    out: BarColumns,
    late_dropped: u64,
    gaps_unfilled: u64,
}

impl Frame {
    /// Start of the open bar (`i64::MIN` before the first trade).
    fn open_start(&self) -> i64 {
        self.end.saturating_sub(self.tf.ms())
    }

    /// Releases the open bar: its trades, or a flat bar if it has none and gaps are filled.
    fn release_open(&mut self, fill_gaps: bool) {
        if self.bar.trades > 0 {
            self.out.push(&self.bar);
            self.last_close = Some(self.bar.close);
        } else if fill_gaps && let Some(price) = self.last_close {
            self.out.push(&Bar::flat(self.open_start(), price));
        }
    }

    /// Releases the open bar and every bar before the one containing `ts`, then opens that one.
    fn close_through(&mut self, ts: i64, fill_gaps: bool) {
        let next = self.tf.start_of(ts);
        if self.end != i64::MIN {
            self.release_open(fill_gaps);
            if fill_gaps && let Some(price) = self.last_close {
                let missing = (next - self.end) / self.tf.ms();
                if missing > MAX_FILLED_GAP {
                    self.gaps_unfilled += 1;
                } else {
                    for k in 0..missing {
                        self.out.push(&Bar::flat(self.end + k * self.tf.ms(), price));
                    }
                }
            }
        }
        self.bar = Bar::empty(next);
        self.end = next + self.tf.ms();
    }
}

/// Longest run of empty bars `fill_gaps` writes out; longer silences (a feed down for weeks with
/// 1s bars) are left as a gap and counted, rather than allocating without bound.
const MAX_FILLED_GAP: i64 = 1_000_000;

/// Trade timestamps must be milliseconds from 1970 to 2^43 ms (the year 2248). Anything larger
/// is almost certainly micro- or nanoseconds passed by mistake. A power of two so the batch check
/// is one OR per value.
pub const MAX_TS_MS: i64 = 1 << 43;

/// Streaming multi-timeframe aggregator. Push trades in any chunking; collect closed bars with
/// `take_closed`; call `flush` at the end of the data.
#[derive(Clone, Debug)]
pub struct Aggregator {
    frames: Vec<Frame>,
    base: Timeframe,
    bar: Bar,
    /// Start and end of the open base bar; `end == i64::MIN` before the first trade.
    start: i64,
    end: i64,
    options: Options,
    trades: u64,
}

impl Aggregator {
    pub fn new(timeframes: &[Timeframe], options: Options) -> Result<Self> {
        if timeframes.is_empty() {
            return Err(Error::argument("timeframes", "at least one timeframe is required"));
        }
        let mut tfs = timeframes.to_vec();
        tfs.sort();
        if let Some(pair) = tfs.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::argument("timeframes", format!("{} is listed twice", pair[0])));
        }
        let frames = timeframes
            .iter()
            .map(|&tf| Frame {
                tf,
                bar: Bar::empty(i64::MIN),
                end: i64::MIN,
                last_close: None,
                out: BarColumns::default(),
                late_dropped: 0,
                gaps_unfilled: 0,
            })
            .collect();
        Ok(Self {
            frames,
            base: base_of(timeframes),
            bar: Bar::empty(i64::MIN),
            start: i64::MIN,
            end: i64::MIN,
            options,
            trades: 0,
        })
    }

    /// The requested timeframes, in the order given.
    pub fn timeframes(&self) -> impl Iterator<Item = Timeframe> + '_ {
        self.frames.iter().map(|f| f.tf)
    }

    pub fn base(&self) -> Timeframe {
        self.base
    }

    /// Trades accepted so far.
    pub fn trade_count(&self) -> u64 {
        self.trades
    }

    /// Late trades left out of each timeframe's bars, in timeframe order.
    pub fn late_dropped(&self) -> impl Iterator<Item = u64> + '_ {
        self.frames.iter().map(|f| f.late_dropped)
    }

    /// Closes every bar that ends at or before `ts_ms` (event time moved on without a trade).
    pub fn advance(&mut self, ts_ms: i64) {
        if ts_ms >= self.end {
            self.roll(ts_ms);
        }
    }

    /// The open base bar is done: fold it into every timeframe, release those that ended.
    #[cold]
    fn roll(&mut self, ts: i64) {
        let fill = self.options.fill_gaps;
        for frame in &mut self.frames {
            frame.bar.merge(&self.bar);
            if ts >= frame.end {
                frame.close_through(ts, fill);
            }
        }
        self.start = self.base.start_of(ts);
        self.end = self.start + self.base.ms();
        self.bar = Bar::empty(self.start);
    }

    /// Adds one trade. Prices must be positive and finite, quantities finite and non-negative,
    /// timestamps milliseconds from 1970 to 2248; a bad trade is refused and changes nothing.
    #[inline]
    pub fn push(&mut self, trade: &Trade) -> Result<()> {
        self.push_trades(std::slice::from_ref(trade))
    }

    /// Adds the trades of one message: all are checked before any is applied.
    pub fn push_trades(&mut self, trades: &[Trade]) -> Result<()> {
        for (i, t) in trades.iter().enumerate() {
            check_trade(t).map_err(|reason| Error::invalid(format!("trade[{i}]"), i, reason))?;
        }
        if self.options.late == Late::Error && trades.len() > 1 {
            let ts: Vec<i64> = trades.iter().map(|t| t.ts_ms).collect();
            self.check_no_late(&ts)?;
        }
        for t in trades {
            self.push_unchecked(t.ts_ms, t.price, t.qty, t.taker_buy)?;
        }
        Ok(())
    }

    #[inline(always)]
    fn push_unchecked(&mut self, ts: i64, price: f64, qty: f64, taker_buy: bool) -> Result<()> {
        if ts >= self.end {
            self.roll(ts);
        } else if ts < self.start {
            return self.late(ts, price, qty, taker_buy);
        }
        self.bar.add(ts, price, qty, taker_buy);
        self.trades += 1;
        Ok(())
    }

    /// Adds a batch of trades given as columns. A bad value anywhere refuses the whole batch:
    /// the aggregator is left exactly as it was.
    pub fn push_columns(&mut self, ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
        check_lengths(ts_ms, price, qty, taker_buy)?;
        if self.options.late == Late::Error {
            self.check_no_late(ts_ms)?;
        }
        // Validate each cache-sized chunk just before aggregating it, so the data is read from
        // memory once; on a bad value, roll back what the earlier chunks did.
        const CHUNK: usize = 65_536;
        let checkpoint = self.checkpoint();
        for start in (0..ts_ms.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(ts_ms.len());
            let (ts, px, q, buy) = (&ts_ms[start..end], &price[start..end], &qty[start..end], &taker_buy[start..end]);
            if let Err(e) = validate_values(ts, px, q, start) {
                self.restore(checkpoint);
                return Err(e);
            }
            self.push_valid(ts, px, q, buy)?;
        }
        Ok(())
    }

    fn push_valid(&mut self, ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
        let mut i = 0;
        while let Some(&ts) = ts_ms.get(i) {
            if ts >= self.end {
                self.roll(ts);
            } else if ts < self.start {
                self.late(ts, price[i], qty[i], taker_buy[i])?;
                i += 1;
                continue;
            }
            i += self.add_run(&ts_ms[i..], &price[i..], &qty[i..], &taker_buy[i..]);
        }
        Ok(())
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            bar: self.bar,
            start: self.start,
            end: self.end,
            trades: self.trades,
            frames: self
                .frames
                .iter()
                .map(|f| FrameCheckpoint {
                    bar: f.bar,
                    end: f.end,
                    last_close: f.last_close,
                    released: f.out.len(),
                    late_dropped: f.late_dropped,
                    gaps_unfilled: f.gaps_unfilled,
                })
                .collect(),
        }
    }

    fn restore(&mut self, c: Checkpoint) {
        (self.bar, self.start, self.end, self.trades) = (c.bar, c.start, c.end, c.trades);
        for (f, saved) in self.frames.iter_mut().zip(c.frames) {
            (f.bar, f.end, f.last_close) = (saved.bar, saved.end, saved.last_close);
            (f.late_dropped, f.gaps_unfilled) = (saved.late_dropped, saved.gaps_unfilled);
            f.out.truncate(saved.released);
        }
    }

    /// Adds the leading trades that fall inside the open base bar; returns how many. This is the
    /// hot loop of batch aggregation: one pass, unrolled by two so the high/low updates (exact in
    /// any order) run on two independent accumulators, while the sums stay in trade order, so any
    /// chunking of the same trades gives the same bits.
    #[inline]
    fn add_run(&mut self, ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> usize {
        let (start, end) = (self.start, self.end);
        let n = ts_ms.iter().position(|&t| t >= end || t < start).unwrap_or(ts_ms.len());
        let pairs = n / 2 * 2;
        let mut bar = self.bar;
        let mut odd = Bar::empty(bar.open_time_ms);
        // Open and close by time: for a time-sorted run (the norm) they are its first and last
        // trades, so the loop only checks the order; an unsorted run takes a second pass.
        let mut sorted = true;
        let mut prev = ts_ms.first().copied().unwrap_or(0);
        let (ts2, price2, qty2, buy2) = (&ts_ms[..pairs], &price[..pairs], &qty[..pairs], &taker_buy[..pairs]);
        for (((t, p), q), b) in
            ts2.chunks_exact(2).zip(price2.chunks_exact(2)).zip(qty2.chunks_exact(2)).zip(buy2.chunks_exact(2))
        {
            sorted &= (prev <= t[0]) & (t[0] <= t[1]);
            prev = t[1];
            bar.add_extremes(p[0]);
            odd.add_extremes(p[1]);
            bar.add_volumes(p[0], q[0], b[0]);
            bar.add_volumes(p[1], q[1], b[1]);
        }
        if pairs < n {
            sorted &= prev <= ts_ms[pairs];
            bar.add_extremes(price[pairs]);
            bar.add_volumes(price[pairs], qty[pairs], taker_buy[pairs]);
        }
        if sorted {
            if n > 0 {
                bar.order(ts_ms[0], price[0]);
                bar.order(ts_ms[n - 1], price[n - 1]);
            }
        } else {
            for (&t, &p) in ts_ms[..n].iter().zip(&price[..n]) {
                bar.order(t, p);
            }
        }
        bar.high = bar.high.max(odd.high);
        bar.low = bar.low.min(odd.low);
        bar.trades += n as u64;
        self.bar = bar;
        self.trades += n as u64;
        n
    }

    /// Under `Late::Error`, finds the first trade of a batch that would be late, by replaying
    /// how the batch would move each timeframe's open bar.
    fn check_no_late(&self, ts_ms: &[i64]) -> Result<()> {
        let mut open: Vec<i64> = self.frames.iter().map(Frame::open_start).collect();
        let mut base_end = self.end;
        for &ts in ts_ms {
            if ts >= base_end {
                for (start, frame) in open.iter_mut().zip(&self.frames) {
                    *start = (*start).max(frame.tf.start_of(ts));
                }
                base_end = self.base.start_of(ts) + self.base.ms();
            } else if let Some(i) = open.iter().position(|&start| ts < start) {
                return Err(Error::LateTrade {
                    ts_ms: ts,
                    timeframe: self.frames[i].tf.to_string(),
                    closed_until_ms: open[i],
                });
            }
        }
        Ok(())
    }

    #[cold]
    fn late(&mut self, ts: i64, price: f64, qty: f64, taker_buy: bool) -> Result<()> {
        if self.options.late == Late::Error
            && let Some(frame) = self.frames.iter().find(|f| ts < f.open_start())
        {
            return Err(Error::LateTrade {
                ts_ms: ts,
                timeframe: frame.tf.to_string(),
                closed_until_ms: frame.open_start(),
            });
        }
        for frame in &mut self.frames {
            if ts >= frame.open_start() {
                frame.bar.add(ts, price, qty, taker_buy);
            } else {
                frame.late_dropped += 1;
            }
        }
        self.trades += 1;
        Ok(())
    }

    /// Releases every open bar (end of data). Later trades inside those bars count as late.
    pub fn flush(&mut self) {
        if self.end == i64::MIN {
            return;
        }
        let fill = self.options.fill_gaps;
        for frame in &mut self.frames {
            frame.bar.merge(&self.bar);
            frame.release_open(fill);
            frame.bar = Bar::empty(frame.end);
            frame.end += frame.tf.ms();
        }
        self.start = self.end;
        self.end += self.base.ms();
        self.bar = Bar::empty(self.start);
    }

    /// Gaps longer than the fill limit, left unfilled, per timeframe.
    pub fn gaps_unfilled(&self) -> impl Iterator<Item = u64> + '_ {
        self.frames.iter().map(|f| f.gaps_unfilled)
    }

    /// Takes the bars released so far, per timeframe in the order requested.
    pub fn take_closed(&mut self) -> Vec<(Timeframe, BarColumns)> {
        self.frames.iter_mut().map(|f| (f.tf, std::mem::take(&mut f.out))).collect()
    }

    /// Whether any bar is waiting in `take_closed`.
    pub fn has_closed(&self) -> bool {
        self.frames.iter().any(|f| !f.out.is_empty())
    }
}

fn check_trade(t: &Trade) -> Result<(), String> {
    if !(0..MAX_TS_MS).contains(&t.ts_ms) {
        return Err(format!("timestamp {} is not milliseconds from 1970 to 2248", t.ts_ms));
    }
    if !(t.price.is_finite() && t.price > 0.0) {
        return Err(format!("price must be positive and finite, got {}", t.price));
    }
    if !(t.qty.is_finite() && t.qty >= 0.0) {
        return Err(format!("quantity must be finite and non-negative, got {}", t.qty));
    }
    Ok(())
}

/// Checks batch columns: equal lengths, positive finite prices, finite non-negative quantities,
/// timestamps in range.
pub fn validate(ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
    check_lengths(ts_ms, price, qty, taker_buy)?;
    validate_values(ts_ms, price, qty, 0)
}

fn check_lengths(ts_ms: &[i64], price: &[f64], qty: &[f64], taker_buy: &[bool]) -> Result<()> {
    let n = ts_ms.len();
    for (name, len) in [("price", price.len()), ("qty", qty.len()), ("taker_buy", taker_buy.len())] {
        if len != n {
            return Err(Error::argument(name, format!("has {len} values but ts has {n}")));
        }
    }
    Ok(())
}

/// Checks values; `first` is the index of the first element within the caller's batch.
fn validate_values(ts_ms: &[i64], price: &[f64], qty: &[f64], first: usize) -> Result<()> {
    // Fast screens made of 64-bit OR/add/sub, which vectorise on any x86-64; the exact test then
    // only runs to name the culprit (or to clear a false alarm such as a -0.0 quantity).
    if ts_ms.iter().fold(0u64, |acc, &t| acc | t as u64) >= MAX_TS_MS as u64 {
        let rule = "must be milliseconds from 1970 to 2248 (not micro- or nanoseconds)";
        first_bad(ts_ms, |t| (0..MAX_TS_MS).contains(&t), "ts", first, rule)?;
    }
    if sign_of_any(price, true) {
        first_bad(price, |p| p.is_finite() && p > 0.0, "price", first, "must be positive and finite")?;
    }
    if sign_of_any(qty, false) {
        first_bad(qty, |q| q.is_finite() && q >= 0.0, "qty", first, "must be finite and non-negative")?;
    }
    Ok(())
}

/// An error naming the first of `values` that breaks `rule`, if any.
fn first_bad<T: Copy + fmt::Display>(
    values: &[T],
    ok: impl Fn(T) -> bool,
    name: &str,
    first: usize,
    rule: &str,
) -> Result<()> {
    match values.iter().position(|&v| !ok(v)) {
        Some(i) => {
            Err(Error::invalid(format!("{name}[{}]", first + i), first + i, format!("{rule}, got {}", values[i])))
        }
        None => Ok(()),
    }
}

/// Whether any value might be negative, infinite or NaN (or zero, with `zero_is_bad`), judged
/// from the IEEE bits: for a finite non-negative double, neither `bits` nor `bits + 2^52` has the
/// sign bit set, and `bits - 1` has it only for zero. Never misses a bad value; may flag -0.0.
fn sign_of_any(values: &[f64], zero_is_bad: bool) -> bool {
    let zero_mask = if zero_is_bad { u64::MAX } else { 0 };
    let flags = values.iter().fold(0u64, |acc, v| {
        let bits = v.to_bits();
        acc | bits | bits.wrapping_add(1 << 52) | (bits.wrapping_sub(1) & zero_mask)
    });
    flags >> 63 == 1
}

#[cfg(test)]
mod tests;
