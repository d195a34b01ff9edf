//! Two-candle patterns (and the Hikkakes, which track a setup over several bars).

use super::averages::Registrar;
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Rule, build};
use super::settings::Settings;

pub(super) const PATTERNS: &[Entry] = &[Entry { name: "CDLENGULFING", build: build::<Engulfing> }];

/// Engulfing: a real body of the other colour that covers the previous one. ±100 when it covers
/// it at both ends, ±80 when one end is shared.
pub(super) struct Engulfing;

impl Rule for Engulfing {
    const CANDLES: usize = 2;

    fn lookback(_: &Settings) -> usize {
        2
    }

    fn new(_: &mut Registrar<'_>) -> Self {
        Self
    }

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o, c, po, pc) = (b.open[i], b.close[i], b.open[i - 1], b.close[i - 1]);
        let bullish = b.white(i) && b.black(i - 1) && ((c >= po && o < pc) || (c > po && o <= pc));
        let bearish = b.black(i) && b.white(i - 1) && ((o >= pc && c < po) || (o > pc && c <= po));
        if !(bullish || bearish) {
            return 0;
        }
        let strength = if o != pc && c != po { 100 } else { 80 };
        b.color(i) * strength
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        // How far the engulfing body extends past the engulfed one, against its own size.
        let body = b.body[i];
        let margin = (b.top(i) - b.top(i - 1)).max(0.0) + (b.bottom(i - 1) - b.bottom(i)).max(0.0);
        grade::above(body, b.body[i - 1]).max(grade::beyond(margin, 0.0, body))
    }
}
