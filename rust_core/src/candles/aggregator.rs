//! The streaming multi-timeframe aggregator (see the module docs of `candles`).

use super::bar::{Bar, BarColumns};
use super::timeframe::{Timeframe, base_of};
use super::validate::{check_lengths, check_trade, validate_values};
use crate::error::{Error, Result};
use crate::venues::Trade;

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
