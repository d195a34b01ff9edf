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

/// A running sum of one range type over `period` candles (its family's), started at bar `start`.
#[derive(Clone, Debug)]
struct Chain {
    start: i64,
    sum: f64,
    /// The sum before each position of the current block was added; divided by `period` (the
    /// mean) once the block's sums are done.
    before: [f64; W],
}

#[derive(Clone, Debug, PartialEq)]
enum Source {
    /// (family, chain within it)
    Chain(usize, usize),
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
    chains: Vec<Chain>,
}

/// Registers the averages patterns need and computes them block by block.
#[derive(Clone, Debug, Default)]
pub struct Averages {
    families: Vec<Family>,
    thresholds: Vec<Threshold>,
    /// Past ranges per range type (ring buffers), to subtract the range leaving each window.
    history: [Vec<f64>; 3],
    /// Scratch for a family's `(new − old)` per position (`W` long once a chain exists), kept
    /// so that a one-candle update does not clear a whole window's worth.
    diff: Vec<f64>,
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
            let (family, chain) = self.averages.chain(s.range, s.period, start);
            Source::Chain(family, chain)
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

    /// The (family, chain) summing `range` over `period` from bar `start`, made if new.
    fn chain(&mut self, range: RangeType, period: usize, start: i64) -> (usize, usize) {
        let family = match self.families.iter().position(|f| f.range == range && f.period == period) {
            Some(f) => f,
            None => {
                self.families.push(Family { range, period, chains: Vec::new() });
                self.families.len() - 1
            }
        };
        let chains = &mut self.families[family].chains;
        let id = match chains.iter().position(|c| c.start == start) {
            Some(id) => id,
            None => {
                chains.push(Chain { start, sum: 0.0, before: [0.0; W] });
                chains.len() - 1
            }
        };
        self.diff.resize(W, 0.0);
        let ring = &mut self.history[range.index()];
        // Room for a whole block on top of the window, since a block's ranges are stored first.
        let needed = (period + W).next_power_of_two();
        if ring.len() < needed {
            *ring = vec![0.0; needed];
        }
        (family, id)
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
        for chain in self.families.iter_mut().flat_map(|f| &mut f.chains) {
            chain.before.copy_within(W - super::bars::HISTORY.., 0);
        }
    }
}

dispatch! {
    /// `Averages::update`: the running sums, means and thresholds of one block.
    // A position indexes several columns and gives the bar number: plain index loops read best.
    #[allow(clippy::needless_range_loop)]
    fn update(averages: &mut Averages, bars: &mut Bars, from: usize, to: usize, thresholds_too: bool) {
        let Averages { families, thresholds, history, diff } = averages;
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
        for family in families.iter_mut() {
            let (column, ring) = (bars.column(family.range), &history[family.range.index()]);
            let (mask, period) = (ring.len() - 1, family.period as i64);
            if family.chains.iter().all(|c| first >= c.start + period) {
                // Steady state: every chain of the family adds the same difference.
                let diff: &mut [f64; W] = (&mut diff[..W]).try_into().unwrap_or_else(|_| unreachable!("W long"));
                for i in from..to {
                    diff[i] = column[i] - ring[(bars.index(i) - period) as usize & mask];
                }
                // Up to four sums at a time in registers: independent chains of additions.
                for group in family.chains.chunks_mut(4) {
                    match group {
                        [a, b, c, d] => add_in_step([a, b, c, d], diff, from, to),
                        [a, b, c] => add_in_step([a, b, c], diff, from, to),
                        [a, b] => add_in_step([a, b], diff, from, to),
                        [a] => add_in_step([a], diff, from, to),
                        _ => unreachable!("chunks of one to four"),
                    }
                }
            } else {
                // Near the start of the series some chains are still summing their first window.
                for chain in &mut family.chains {
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
        for family in families.iter_mut() {
            let period = family.period as f64;
            for chain in &mut family.chains {
                for sum in &mut chain.before[from..to] {
                    *sum /= period;
                }
            }
        }
        for (t, column) in thresholds.iter().zip(bars.avgs.iter_mut()) {
            // TA-Lib divides by 2 (Shadows) or 1; × 0.5 is the same correctly rounded value and
            // × 1 the identity, without a division per threshold and bar.
            let scale = if t.halve { 0.5 } else { 1.0 };
            let mean = match t.source {
                Source::Chain(f, c) => &families[f].chains[c].before,
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

/// Adds `diff[from..to]` to every chain of `group` in step, recording each sum before the add;
/// `N` independent additions per bar keep the adder busy where one chain would wait on itself.
// The position indexes `diff` and every chain's column alike.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn add_in_step<const N: usize>(mut group: [&mut Chain; N], diff: &[f64; W], from: usize, to: usize) {
    let mut sums = group.each_ref().map(|c| c.sum);
    for i in from..to {
        for (chain, sum) in group.iter_mut().zip(sums.iter_mut()) {
            chain.before[i] = *sum;
            *sum += diff[i];
        }
    }
    for (chain, sum) in group.iter_mut().zip(sums) {
        chain.sum = sum;
    }
}
