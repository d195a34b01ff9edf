//! The fused pass: one window, every pattern, batch or streaming.

use super::Code;
use super::averages::Averages;
use super::bars::{Bars, HISTORY, W};
use super::catalog::{self, Entry};
use super::pattern::Pattern;
use super::scoring::{Found, ScoreConfig, Scorer, Signal};
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::simd::dispatch;

pub struct PatternEngine {
    names: Vec<&'static str>,
    patterns: Vec<Box<dyn Pattern>>,
    averages: Averages,
    bars: Bars,
    /// The next free position of the window.
    next: usize,
    /// Per pattern, the codes of the window's positions.
    codes: Vec<[Code; W]>,
    latest: Vec<Code>,
    seen: u64,
    /// Grades detected patterns when scoring is enabled.
    scorer: Option<Scorer>,
    signals: Vec<Signal>,
}

impl PatternEngine {
    /// An engine for the named patterns (all 61 when `None`), in the order given.
    pub fn new(names: Option<&[&str]>, settings: &Settings) -> Result<Self> {
        let selected = select(names)?;
        let mut averages = Averages::default();
        let patterns: Vec<Box<dyn Pattern>> = selected.iter().map(|e| e.instantiate(&mut averages, settings)).collect();
        Ok(Self {
            names: selected.iter().map(|e| e.name).collect(),
            bars: Bars::new(averages.len()),
            averages,
            next: HISTORY,
            codes: vec![[0; W]; patterns.len()],
            latest: vec![0; patterns.len()],
            patterns,
            seen: 0,
            scorer: None,
            signals: Vec::new(),
        })
    }

    /// Grades every pattern detected from now on (see `scoring`); `take_signals` collects them.
    pub fn enable_scoring(&mut self, config: ScoreConfig) -> Result<()> {
        self.scorer = Some(Scorer::new(config)?);
        Ok(())
    }

    pub fn scoring(&self) -> Option<&ScoreConfig> {
        self.scorer.as_ref().map(Scorer::config)
    }

    /// The signals graded since the last call, oldest first.
    pub fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.signals)
    }

    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Bars pushed so far.
    pub fn bars_seen(&self) -> u64 {
        self.seen
    }

    /// Each pattern's lookback under this engine's settings.
    pub fn lookbacks(&self) -> Vec<usize> {
        self.patterns.iter().map(|p| p.lookback()).collect()
    }

    /// One new candle; returns the codes of every pattern for it. A bad candle is refused and
    /// leaves the engine unchanged.
    pub fn push(&mut self, open: f64, high: f64, low: f64, close: f64, volume: Option<f64>) -> Result<&[Code]> {
        validate(&[open], &[high], &[low], &[close], self.seen)?;
        let volume = volume.map(|v| [v]);
        if let Some(v) = &volume {
            validate_volume(v, self.seen)?;
        }
        self.feed([&[open], &[high], &[low], &[close]], volume.as_ref().map(|v| &v[..]), None);
        let newest = self.next - 1;
        for (latest, codes) in self.latest.iter_mut().zip(&self.codes) {
            *latest = codes[newest];
        }
        Ok(&self.latest)
    }

    /// A series of candles; writes pattern `p`'s code for candle `k` to `out[p][k]`.
    /// Validated whole first: on error nothing is consumed.
    pub fn run(
        &mut self,
        open: &[f64],
        high: &[f64],
        low: &[f64],
        close: &[f64],
        volume: Option<&[f64]>,
        out: &mut [&mut [Code]],
    ) -> Result<()> {
        let n = open.len();
        if out.len() != self.patterns.len() || out.iter().any(|column| column.len() != n) {
            return Err(Error::argument("out", format!("needs {} columns of {n} codes", self.patterns.len())));
        }
        validate(open, high, low, close, self.seen)?;
        if let Some(v) = volume {
            if v.len() != n {
                return Err(Error::argument("volume", format!("has {} values for {n} bars", v.len())));
            }
            validate_volume(v, self.seen)?;
        }
        self.feed([open, high, low, close], volume, Some(out));
        Ok(())
    }

    /// Moves over candles without scoring them: only the running sums advance, so that the
    /// candles after them score exactly as in a run from the start, once `HISTORY` candles have
    /// been scored again to refill the window. Unchecked: whoever scores these candles checks them.
    fn skip(&mut self, [open, high, low, close]: [&[f64]; 4]) {
        debug_assert!(self.scorer.is_none());
        let mut done = 0;
        while done < open.len() {
            let part = self.load_block(done, [open, high, low, close]);
            self.averages.advance(&mut self.bars, self.next, self.next + part.len());
            self.next += part.len();
            self.seen += part.len() as u64;
            done = part.end;
        }
    }

    /// Loads the candles from `done` on that fit in the window (shifting it when full), at
    /// positions `self.next..`; returns their range in the input.
    fn load_block(&mut self, done: usize, [open, high, low, close]: [&[f64]; 4]) -> std::ops::Range<usize> {
        if self.next == W {
            self.bars.shift();
            self.averages.shift();
            self.next = HISTORY;
        }
        let part = done..done + (W - self.next).min(open.len() - done);
        self.bars.load(self.next, &open[part.clone()], &high[part.clone()], &low[part.clone()], &close[part.clone()]);
        part
    }

    /// Quality (0–1) of pattern `p` found on the newest candle.
    pub fn quality_of_newest(&self, p: usize) -> f64 {
        self.patterns[p].quality(&self.bars, self.next - 1)
    }

    fn grade(&mut self, from: usize, to: usize, volume: Option<&[f64]>) {
        let Some(scorer) = self.scorer.as_mut() else { return };
        scorer.observe(&self.bars, from, to, volume);
        // Bar by bar, then pattern by pattern: the order streaming produces.
        for i in from..to {
            for (p, (pattern, codes)) in self.patterns.iter().zip(&self.codes).enumerate() {
                let code = codes[i];
                if code != 0 {
                    let found = Found {
                        pattern: p,
                        name: self.names[p],
                        candles: pattern.candles(),
                        code: i32::from(code),
                        quality: pattern.quality(&self.bars, i),
                    };
                    self.signals.push(scorer.grade(&self.bars, i, found));
                }
            }
        }
    }

    /// Loads candles block by block, scores every pattern and hands each block to `sink`
    /// (with the block's positions) while it is still in the window.
    fn feed(
        &mut self,
        [open, high, low, close]: [&[f64]; 4],
        volume: Option<&[f64]>,
        mut out: Option<&mut [&mut [Code]]>,
    ) {
        let mut done = 0;
        while done < open.len() {
            let part = self.load_block(done, [open, high, low, close]);
            let (from, take) = (self.next, part.len());
            let to = from + take;
            self.averages.update(&mut self.bars, from, to);
            // Batch runs without scoring write straight into the caller's columns; otherwise the
            // window's own codes are kept for grading and for `push`.
            let direct = self.scorer.is_none();
            for (p, pattern) in self.patterns.iter_mut().enumerate() {
                let target: &mut [Code] = match out.as_deref_mut() {
                    Some(columns) if direct => &mut columns[p][part.clone()],
                    _ => &mut self.codes[p][from..to],
                };
                pattern.scan(&self.bars, from, to, target);
                let lookback = pattern.lookback() as i64;
                let first = self.bars.index(from);
                if first < lookback {
                    let early = ((lookback - first) as usize).min(take);
                    target[..early].fill(0);
                }
            }
            if self.scorer.is_some() {
                self.grade(from, to, volume.map(|v| &v[part.clone()]));
            }
            if let Some(columns) = out.as_deref_mut() {
                if !direct {
                    for (column, codes) in columns.iter_mut().zip(&self.codes) {
                        column[part.clone()].copy_from_slice(&codes[from..to]);
                    }
                }
            }
            self.next = to;
            self.seen += take as u64;
            done += take;
        }
    }
}

/// Volumes must be finite and non-negative.
fn validate_volume(volume: &[f64], first: u64) -> Result<()> {
    match volume.iter().position(|v| !v.is_finite() || *v < 0.0) {
        Some(k) => Err(Error::InvalidBar { index: first + k as u64, reason: format!("volume is {}", volume[k]) }),
        None => Ok(()),
    }
}

/// The catalog entries of `names` (case-insensitive, in the order given; all 61 when `None`).
fn select(names: Option<&[&str]>) -> Result<Vec<Entry>> {
    let all = catalog::entries();
    let Some(names) = names else { return Ok(all) };
    let mut selected: Vec<Entry> = Vec::with_capacity(names.len());
    for name in names {
        let entry = all
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::argument("names", format!("'{name}' is not a TA-Lib candlestick pattern")))?;
        if selected.iter().any(|e| e.name == entry.name) {
            return Err(Error::argument("names", format!("'{name}' is listed twice")));
        }
        selected.push(*entry);
    }
    Ok(selected)
}

impl std::fmt::Debug for PatternEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatternEngine").field("patterns", &self.names.len()).field("bars_seen", &self.seen).finish()
    }
}

/// Checks that every candle can be scored: same-length columns, finite non-negative prices,
/// and high/low enclosing open and close. `first` is the bar number of the first candle.
pub fn validate(open: &[f64], high: &[f64], low: &[f64], close: &[f64], first: u64) -> Result<()> {
    let n = open.len();
    if high.len() != n || low.len() != n || close.len() != n {
        return Err(Error::argument(
            "bars",
            format!(
                "open, high, low, close have different lengths: {n}, {}, {}, {}",
                high.len(),
                low.len(),
                close.len()
            ),
        ));
    }
    // One branch-free pass decides; only a series with a bad bar is walked again to name it.
    if any_bad([open, high, low, close]) {
        for k in 0..n {
            describe(open[k], high[k], low[k], close[k])
                .map_err(|reason| Error::InvalidBar { index: first + k as u64, reason })?;
        }
    }
    Ok(())
}

dispatch! {
    /// Whether any candle of equal-length columns is not finite, negative or inconsistent.
    fn any_bad(columns: [&[f64]; 4]) -> bool {
        let [open, high, low, close] = columns;
        let n = open.len();
        let (high, low, close) = (&high[..n], &low[..n], &close[..n]);
        let mut bad = false;
        for k in 0..n {
            let (o, h, l, c) = (open[k], high[k], low[k], close[k]);
            let finite = o.is_finite() & h.is_finite() & l.is_finite() & c.is_finite();
            // With low <= min(open, close) <= max(open, close) <= high, low >= 0 covers all four.
            bad |= !finite | (l < 0.0) | (h < o.max(c)) | (l > o.min(c));
        }
        bad
    }
}

/// Why one candle cannot be scored.
fn describe(o: f64, h: f64, l: f64, c: f64) -> std::result::Result<(), String> {
    for (name, v) in [("open", o), ("high", h), ("low", l), ("close", c)] {
        if !v.is_finite() {
            return Err(format!("{name} is {v}"));
        }
        if v < 0.0 {
            return Err(format!("{name} is negative ({v})"));
        }
    }
    if h < o.max(c) {
        return Err(format!("high {h} is below the body (open {o}, close {c})"));
    }
    if l > o.min(c) {
        return Err(format!("low {l} is above the body (open {o}, close {c})"));
    }
    Ok(())
}

/// The names of the patterns `names` selects (all 61 when `None`), in the order given.
pub fn resolve(names: Option<&[&str]>) -> Result<Vec<&'static str>> {
    Ok(select(names)?.iter().map(|e| e.name).collect())
}

/// Batch detection over a whole series (open, high, low, close) into `out`, pattern after
/// pattern: the codes of `names[p]` (see `resolve`) at bars `p * n..(p + 1) * n`; every code is
/// written.
///
/// With several `threads` the series is cut in consecutive parts, one engine each. An engine
/// starting mid-series first runs the running sums alone up to its part (see `REPLAY`), then
/// scores `HISTORY` candles into scratch to fill its window: from there on it scores exactly as
/// one engine running from the start. Later parts are shorter, so that all finish together.
pub fn detect(
    names: &[&'static str],
    settings: &Settings,
    bars: [&[f64]; 4],
    threads: usize,
    out: &mut [Code],
) -> Result<()> {
    let n = bars[0].len();
    if out.len() != names.len() * n {
        let (k, codes) = (names.len(), names.len() * n);
        return Err(Error::argument("out", format!("needs {codes} codes for {k} patterns of {n} bars")));
    }
    if n == 0 || names.is_empty() || bars.iter().any(|x| x.len() != n) {
        // Nothing to detect, or columns of different lengths: validation says which.
        let [open, high, low, close] = bars;
        return validate(open, high, low, close, 0);
    }
    detect_in_parts(names, settings, bars, threads.clamp(1, n.div_ceil(MIN_PART)), out)
}

/// Fewest bars worth a thread of their own.
const MIN_PART: usize = 20_000;

/// Running the sums alone over a bar costs about this much of scoring it (all 61 patterns: 14 of
/// 80 ns here).
const REPLAY: f64 = 0.18;

/// Where each of `threads` parts of `n` bars starts (and, last, `n`): part `t` replays the bars
/// before it and scores its own, `REPLAY * start + length` the same for all; once the replay alone
/// would take that long, the remaining parts are empty.
pub(super) fn part_bounds(n: usize, threads: usize) -> Vec<usize> {
    let mut ends = Vec::with_capacity(threads);
    let mut start = 0.0;
    for _ in 0..threads {
        start += (1.0 - REPLAY * start).max(0.0);
        ends.push(start);
    }
    std::iter::once(0).chain(ends.iter().map(|end| (n as f64 * end / start).round() as usize)).collect()
}

/// `detect` on `threads` parts of a non-empty series, however short the parts are.
pub(super) fn detect_in_parts(
    names: &[&'static str],
    settings: &Settings,
    bars: [&[f64]; 4],
    threads: usize,
    out: &mut [Code],
) -> Result<()> {
    let (n, threads) = (bars[0].len(), threads.max(1));
    debug_assert!(n > 0 && out.len() == names.len() * n);
    let bounds = part_bounds(n, threads);
    // Each part gets its stretch of every pattern's row.
    let mut parts: Vec<Vec<&mut [Code]>> = (0..threads).map(|_| Vec::with_capacity(names.len())).collect();
    for mut row in out.chunks_mut(n) {
        for (t, part) in parts.iter_mut().enumerate() {
            let (head, tail) = std::mem::take(&mut row).split_at_mut(bounds[t + 1] - bounds[t]);
            part.push(head);
            row = tail;
        }
    }
    let run = |start: usize, columns: &mut [&mut [Code]]| -> Result<()> {
        let mut engine = PatternEngine::new(Some(names), settings)?;
        let warm = start.saturating_sub(HISTORY);
        engine.skip(bars.map(|x| &x[..warm]));
        let mut scratch = vec![0; names.len() * (start - warm)];
        let mut warm_columns: Vec<&mut [Code]> = scratch.chunks_mut((start - warm).max(1)).collect();
        warm_columns.resize_with(names.len(), Default::default); // start == 0: nothing to warm
        let [open, high, low, close] = bars.map(|x| &x[warm..start]);
        engine.run(open, high, low, close, None, &mut warm_columns)?;
        let end = start + columns.first().map_or(0, |c| c.len());
        let [open, high, low, close] = bars.map(|x| &x[start..end]);
        engine.run(open, high, low, close, None, columns)
    };
    std::thread::scope(|scope| {
        let mut parts = bounds.iter().zip(parts.iter_mut());
        let (&first, first_columns) = parts.next().unwrap_or_else(|| unreachable!("one part at least"));
        let handles: Vec<_> = parts.map(|(&start, columns)| scope.spawn(move || run(start, columns))).collect();
        // Each engine checks its own part, so the first error in part order names the series'
        // first bad bar.
        let mut result = run(first, first_columns);
        for handle in handles {
            let joined =
                handle.join().unwrap_or_else(|_| Err(Error::argument("threads", "a detection thread panicked")));
            result = result.and(joined);
        }
        result
    })
}
