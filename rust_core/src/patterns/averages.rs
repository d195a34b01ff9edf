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
    /// The sum before each position of the current block was added.
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

/// Registers the averages patterns need and computes them block by block.
#[derive(Clone, Debug, Default)]
pub struct Averages {
    chains: Vec<Chain>,
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
        // Every pattern registers a handful; all 61 together stay far below 256 under any
        // settings (tested in `tests::thresholds_fit_under_any_settings`).
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
        let ring = &mut self.history[range.index()];
        // Room for a whole block on top of the window, since a block's ranges are stored first.
        let needed = (period + W).next_power_of_two();
        if ring.len() < needed {
            *ring = vec![0.0; needed];
        }
        self.chains.len() - 1
    }

    /// Computes every threshold for positions `from..to` of `bars` (already loaded).
    pub(crate) fn update(&mut self, bars: &mut Bars, from: usize, to: usize) {
        for (range, ring) in RangeType::ALL.into_iter().zip(self.history.iter_mut()) {
            if ring.is_empty() {
                continue;
            }
            let mask = ring.len() - 1;
            for i in from..to {
                if let Ok(bar) = usize::try_from(bars.index(i)) {
                    ring[bar & mask] = bars.measure(range, i);
                }
            }
        }
        for chain in &mut self.chains {
            let ring = &self.history[chain.range.index()];
            let mask = ring.len() - 1;
            let period = chain.period as i64;
            for i in from..to {
                let bar = bars.index(i);
                chain.before[i] = chain.sum;
                let new = bars.measure(chain.range, i);
                if bar >= chain.start + period {
                    chain.sum += new - ring[(bar - period) as usize & mask];
                } else if bar >= chain.start {
                    chain.sum += new;
                }
            }
        }
        let Bars { body, range: high_low, upper, lower, avgs, .. } = bars;
        let own = |range: RangeType, i: usize| match range {
            RangeType::RealBody => body[i],
            RangeType::HighLow => high_low[i],
            RangeType::Shadows => upper[i] + lower[i],
        };
        for (t, column) in self.thresholds.iter().zip(avgs.iter_mut()) {
            let divisor = if t.halve { 2.0 } else { 1.0 };
            match t.source {
                Source::Chain(c) => {
                    let before = &self.chains[c].before;
                    let period = t.period as f64;
                    for (value, sum) in column[from..to].iter_mut().zip(&before[from..to]) {
                        *value = t.factor * (sum / period) / divisor;
                    }
                }
                Source::Own(range) => {
                    for (i, value) in (from..to).zip(&mut column[from..to]) {
                        *value = t.factor * own(range, i) / divisor;
                    }
                }
            }
        }
    }

    pub(crate) fn shift(&mut self) {
        for chain in &mut self.chains {
            chain.before.copy_within(W - super::bars::HISTORY.., 0);
        }
    }
}
