//! The candle-setting averages, computed the way TA-Lib computes them so that every comparison
//! against a threshold comes out bit-for-bit the same.
//!
//! TA-Lib keeps, per pattern and per candle of the pattern, a running sum of the setting's range
//! over the `period` candles before that candle. The sum is started at the first bar the pattern
//! can use, `lookback − period − offset`, by adding ranges one by one; afterwards each step adds
//! `(new − old)`. Floating-point sums started at different bars differ in their last bits, so a
//! sum is identified by (range type, period, first bar): patterns that share one share the work.
//! The threshold is then `factor × (sum / period) / (2 for Shadows, else 1)`, evaluated in that
//! order; with period 0 the candle's own range replaces the average.

use super::bars::{Bars, W};
use super::settings::{RangeType, Setting, Settings};
use crate::simd::dispatch;

/// A registered threshold column of `Bars`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avg(pub(crate) u8);

/// A running sum of one range type over `period` candles, started at bar `start`.
#[derive(Clone, Debug)]
struct Chain {
    range: RangeType,
    period: usize,
    start: i64,
    sum: f64,
    /// The sum before each position of the current block was added; divided by `period` (the
    /// mean) once the block's sums are done.
    before: [f64; W],
}

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Chain(usize),
    /// period 0: the candle's own range
    Own(RangeType),
}

#[derive(Clone, Debug, PartialEq)]
struct Threshold {
    source: Source,
    period: usize,
    factor: f64,
    halve: bool,
}

/// The chains over the same range type and period: they add the same `(new − old)` each bar
/// once past their start, so the difference is computed once for all of them.
#[derive(Clone, Debug)]
struct Family {
    range: RangeType,
    period: usize,
    chains: Vec<usize>,
}

/// Registers the averages patterns need and computes them block by block.
#[derive(Clone, Debug, Default)]
pub struct Averages {
    chains: Vec<Chain>,
    families: Vec<Family>,
    thresholds: Vec<Threshold>,
    /// Past ranges per range type (ring buffers), to subtract the range leaving each window.
    history: [Vec<f64>; 3],
}

/// Hands out the averages of one pattern, whose first scored bar is `lookback`.
#[derive(Debug)]
pub struct Registrar<'a> {
    averages: &'a mut Averages,
    settings: &'a Settings,
    lookback: usize,
}

impl Registrar<'_> {
    /// The threshold of `setting` for the candle `offset` bars before the newest one of the pattern.
    pub fn avg(&mut self, setting: Setting, offset: usize) -> Avg {
        let s = self.settings.get(setting);
        let source = if s.period == 0 {
            Source::Own(s.range)
        } else {
            let start = self.lookback as i64 - s.period as i64 - offset as i64;
            Source::Chain(self.averages.chain(s.range, s.period, start))
        };
        let threshold = Threshold { source, period: s.period, factor: s.factor, halve: s.range == RangeType::Shadows };
        let id = match self.averages.thresholds.iter().position(|t| *t == threshold) {
            Some(id) => id,
            None => {
                self.averages.thresholds.push(threshold);
                self.averages.thresholds.len() - 1
            }
        };
        // All 61 patterns together make 152 registrations, so an engine never has more than
        // 152 distinct thresholds, under any settings (`tests::thresholds_fit_under_any_settings`).
        Avg(u8::try_from(id).unwrap_or(u8::MAX))
    }

    /// The pattern's penetration parameter (or its default).
    pub fn penetration(&self, pattern: &str, default: f64) -> f64 {
        self.settings.penetration(pattern, default)
    }

    /// The pattern's lookback, which places the start of its running sums.
    pub fn lookback(&self) -> usize {
        self.lookback
    }

    pub fn settings(&self) -> &Settings {
        self.settings
    }
}

impl Averages {
    pub fn registrar<'a>(&'a mut self, settings: &'a Settings, lookback: usize) -> Registrar<'a> {
        Registrar { averages: self, settings, lookback }
    }

    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    fn chain(&mut self, range: RangeType, period: usize, start: i64) -> usize {
        if let Some(id) = self.chains.iter().position(|c| c.range == range && c.period == period && c.start == start) {
            return id;
        }
        self.chains.push(Chain { range, period, start, sum: 0.0, before: [0.0; W] });
        let id = self.chains.len() - 1;
        match self.families.iter_mut().find(|f| f.range == range && f.period == period) {
            Some(family) => family.chains.push(id),
            None => self.families.push(Family { range, period, chains: vec![id] }),
        }
        let ring = &mut self.history[range.index()];
        // Room for a whole block on top of the window, since a block's ranges are stored first.
        let needed = (period + W).next_power_of_two();
        if ring.len() < needed {
            *ring = vec![0.0; needed];
        }
        id
    }

    /// Computes every threshold for positions `from..to` of `bars` (already loaded).
    pub(crate) fn update(&mut self, bars: &mut Bars, from: usize, to: usize) {
        update(self, bars, from, to, true);
    }

    /// Moves the running sums over positions `from..to` without computing thresholds: for an
    /// engine that starts scoring mid-series and needs the sums exactly as they are there.
    pub(crate) fn advance(&mut self, bars: &mut Bars, from: usize, to: usize) {
        update(self, bars, from, to, false);
    }

    pub(crate) fn shift(&mut self) {
        for chain in &mut self.chains {
            chain.before.copy_within(W - super::bars::HISTORY.., 0);
        }
    }
}

dispatch! {
    /// `Averages::update`: the running sums, means and thresholds of one block.
    // A position indexes several columns and gives the bar number: plain index loops read best.
    #[allow(clippy::needless_range_loop)]
    fn update(averages: &mut Averages, bars: &mut Bars, from: usize, to: usize, thresholds_too: bool) {
        let Averages { chains, families, thresholds, history } = averages;
        for (range, ring) in RangeType::ALL.into_iter().zip(history.iter_mut()) {
            if ring.is_empty() {
                continue;
            }
            let (column, mask) = (bars.column(range), ring.len() - 1);
            for i in from..to {
                if let Ok(bar) = usize::try_from(bars.index(i)) {
                    ring[bar & mask] = column[i];
                }
            }
        }
        let first = bars.index(from);
        for family in families.iter() {
            let (column, ring) = (bars.column(family.range), &history[family.range.index()]);
            let (mask, period) = (ring.len() - 1, family.period as i64);
            if family.chains.iter().all(|&c| first >= chains[c].start + period) {
                // Steady state: every chain of the family adds the same difference.
                if to - from < 16 {
                    // A bar or a few (streaming): straight through, no scratch to fill.
                    for &c in &family.chains {
                        let chain = &mut chains[c];
                        for i in from..to {
                            chain.before[i] = chain.sum;
                            chain.sum += column[i] - ring[(bars.index(i) - period) as usize & mask];
                        }
                    }
                } else {
                    let mut diff = [0.0; W];
                    for i in from..to {
                        diff[i] = column[i] - ring[(bars.index(i) - period) as usize & mask];
                    }
                    // Four sums at a time in registers: four independent chains of additions.
                    for group in family.chains.chunks(4) {
                        let mut sums = [0.0f64; 4];
                        let mut before = [[0.0f64; W]; 4];
                        for (sum, &c) in sums.iter_mut().zip(group) {
                            *sum = chains[c].sum;
                        }
                        for i in from..to {
                            for (sum, column) in sums.iter_mut().zip(before.iter_mut()) {
                                column[i] = *sum;
                                *sum += diff[i];
                            }
                        }
                        for ((sum, column), &c) in sums.iter().zip(&before).zip(group) {
                            chains[c].sum = *sum;
                            chains[c].before[from..to].copy_from_slice(&column[from..to]);
                        }
                    }
                }
            } else {
                // Near the start of the series some chains are still summing their first window.
                for &c in &family.chains {
                    let chain = &mut chains[c];
                    for i in from..to {
                        let bar = bars.index(i);
                        chain.before[i] = chain.sum;
                        if bar >= chain.start + period {
                            chain.sum += column[i] - ring[(bar - period) as usize & mask];
                        } else if bar >= chain.start {
                            chain.sum += column[i];
                        }
                    }
                }
            }
        }
        if !thresholds_too {
            return;
        }
        // The mean once per chain, then each threshold scales it: factor × (sum / period) / divisor.
        for chain in chains.iter_mut() {
            let period = chain.period as f64;
            for sum in &mut chain.before[from..to] {
                *sum /= period;
            }
        }
        for (t, column) in thresholds.iter().zip(bars.avgs.iter_mut()) {
            // TA-Lib divides by 2 (Shadows) or 1; × 0.5 is the same correctly rounded value and
            // × 1 the identity, without a division per threshold and bar.
            let scale = if t.halve { 0.5 } else { 1.0 };
            let mean = match t.source {
                Source::Chain(c) => &chains[c].before,
                Source::Own(range) => match range {
                    RangeType::RealBody => &bars.body,
                    RangeType::HighLow => &bars.range,
                    RangeType::Shadows => &bars.shadows,
                },
            };
            for (value, mean) in column[from..to].iter_mut().zip(&mean[from..to]) {
                *value = t.factor * mean * scale;
            }
        }
    }
}
