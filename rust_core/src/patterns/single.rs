//! Patterns judged mostly on one candle (some glance at the one before): dojis, marubozu,
//! hammers, stars, long and short lines.

use super::averages::{Avg, Registrar};
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Rule, build};
use super::settings::{Setting, Settings};

pub(super) const PATTERNS: &[Entry] = &[Entry { name: "CDLDOJI", build: build::<Doji> }];

/// Doji: a real body no bigger than BodyDoji (a tenth of the average range). Always +100: a doji
/// has no direction of its own.
pub(super) struct Doji {
    doji: Avg,
}

impl Rule for Doji {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyDoji)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 0) }
    }

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        if b.body[i] <= b.avg(self.doji, i) { 100 } else { 0 }
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::below(b.body[i], b.avg(self.doji, i))
    }
}
