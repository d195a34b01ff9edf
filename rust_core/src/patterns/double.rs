//! Two-candle patterns (and the Hikkakes, which track a setup over several bars).

use super::Code;
use super::averages::{Averages, Avg, Registrar};
use super::bars::{Bars, HISTORY, W};
use super::catalog::Entry;
use super::grade;
use super::pattern::{Pattern, Rule, build};
use super::settings::{Setting, Settings};
use crate::simd::dispatch;

pub(super) const PATTERNS: &[Entry] = &[
    Entry { name: "CDLCOUNTERATTACK", build: build::<Counterattack> },
    Entry { name: "CDLDARKCLOUDCOVER", build: build::<DarkCloudCover> },
    Entry { name: "CDLDOJISTAR", build: build::<DojiStar> },
    Entry { name: "CDLENGULFING", build: build::<Engulfing> },
    Entry { name: "CDLHARAMI", build: build::<Harami> },
    Entry { name: "CDLHARAMICROSS", build: build::<HaramiCross> },
    Entry { name: "CDLHIKKAKE", build: build_hikkake },
    Entry { name: "CDLHIKKAKEMOD", build: build_hikkake_mod },
    Entry { name: "CDLHOMINGPIGEON", build: build::<HomingPigeon> },
    Entry { name: "CDLINNECK", build: build::<InNeck> },
    Entry { name: "CDLKICKING", build: build::<Kicking> },
    Entry { name: "CDLKICKINGBYLENGTH", build: build::<KickingByLength> },
    Entry { name: "CDLMATCHINGLOW", build: build::<MatchingLow> },
    Entry { name: "CDLONNECK", build: build::<OnNeck> },
    Entry { name: "CDLPIERCING", build: build::<Piercing> },
    Entry { name: "CDLSEPARATINGLINES", build: build::<SeparatingLines> },
    Entry { name: "CDLTHRUSTING", build: build::<Thrusting> },
];

/// One more than the longest of `settings`' periods: the lookback of most two-candle patterns.
fn longest_plus_one(s: &Settings, settings: &[Setting]) -> usize {
    settings.iter().map(|&x| s.period(x)).max().unwrap_or(0) + 1
}

/// Two candles of opposite colours (TA-Lib's colour: white when close ≥ open).
#[inline(always)]
fn opposite(b: &Bars, i: usize, j: usize) -> bool {
    b.white(i) ^ b.white(j)
}

/// TA-Lib's colour as ±1, computed without a branch.
#[inline(always)]
fn sign(b: &Bars, i: usize) -> i32 {
    2 * i32::from(b.white(i)) - 1
}

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

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o, c, po, pc) = (b.open[i], b.close[i], b.open[i - 1], b.close[i - 1]);
        let bullish = b.white(i) & b.black(i - 1) & (((c >= po) & (o < pc)) | ((c > po) & (o <= pc)));
        let bearish = b.black(i) & b.white(i - 1) & (((o >= pc) & (c < po)) | ((o > pc) & (c <= po)));
        let strength = 80 + 20 * i32::from((o != pc) & (c != po));
        (i32::from(bullish) - i32::from(bearish)) * strength
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        // How far the engulfing body extends past the engulfed one, against its own size.
        let body = b.body[i];
        let margin = (b.top(i) - b.top(i - 1)).max(0.0) + (b.bottom(i - 1) - b.bottom(i)).max(0.0);
        grade::above(body, b.body[i - 1]).max(grade::beyond(margin, 0.0, body))
    }
}

/// `price` lies within `tolerance` of `level` (both ends included).
#[inline(always)]
fn near(price: f64, level: f64, tolerance: f64) -> bool {
    (price <= level + tolerance) & (price >= level - tolerance)
}

/// Counterattack: two long candles of opposite colours that close at the same level, the second
/// one having opened far away and fought its way back. +100 bullish (white second), −100 bearish.
pub(super) struct Counterattack {
    long_first: Avg,
    long_second: Avg,
    equal: Avg,
}

impl Rule for Counterattack {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::Equal, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long_first: r.avg(Setting::BodyLong, 1),
            long_second: r.avg(Setting::BodyLong, 0),
            equal: r.avg(Setting::Equal, 1),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = opposite(b, i, i - 1)
            & near(b.close[i], b.close[i - 1], b.avg(self.equal, i - 1))
            & (b.body[i - 1] > b.avg(self.long_first, i - 1))
            & (b.body[i] > b.avg(self.long_second, i));
        i32::from(found) * sign(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long_first, i - 1)),
            grade::above(b.body[i], b.avg(self.long_second, i)),
            grade::below((b.close[i] - b.close[i - 1]).abs(), b.avg(self.equal, i - 1)),
        ])
    }
}

/// Dark cloud cover: after a long white candle, a black one opens above its high and closes deep
/// inside its body, below `penetration` (default half) of it. Always −100 (bearish).
pub(super) struct DarkCloudCover {
    long: Avg,
    penetration: f64,
}

impl Rule for DarkCloudCover {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyLong) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), penetration: r.penetration("CDLDARKCLOUDCOVER", 0.5) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = (b.open[i] > b.high[i - 1])
            & b.black(i)
            & b.white(i - 1)
            & (b.close[i] > b.open[i - 1])
            & (b.close[i] < b.close[i - 1] - b.body[i - 1] * self.penetration)
            & (b.body[i - 1] > b.avg(self.long, i - 1));
        i32::from(found) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        // The first candle's length and how far the close reaches below the penetration level.
        let level = b.close[i - 1] - b.body[i - 1] * self.penetration;
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long, i - 1)),
            grade::beyond(b.close[i], level, level - b.open[i - 1]),
        ])
    }
}

/// Doji star: a long candle, then a doji whose body gaps away from it in its direction (up after
/// white, down after black). TA-Lib scores it as a reversal: −100 after a white candle, +100 after
/// a black one.
pub(super) struct DojiStar {
    long: Avg,
    doji: Avg,
}

impl Rule for DojiStar {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::BodyDoji, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), doji: r.avg(Setting::BodyDoji, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let gaps = (b.white(i - 1) & b.body_gap_up(i, i - 1)) | (b.black(i - 1) & b.body_gap_down(i, i - 1));
        let found = gaps & (b.body[i] <= b.avg(self.doji, i)) & (b.body[i - 1] > b.avg(self.long, i - 1));
        i32::from(found) * -sign(b, i - 1) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let gap = (b.bottom(i) - b.top(i - 1)).max(b.bottom(i - 1) - b.top(i));
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long, i - 1)),
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade::beyond(gap, 0.0, b.body[i - 1]),
        ])
    }
}

/// The harami family: a long candle whose real body holds the next, small, one. Reversal codes:
/// −1 after a white candle, +1 after a black one, times 100 when the small body sits strictly
/// inside, 80 when it shares one end.
#[inline(always)]
fn harami(b: &Bars, i: usize, long: Avg, small: Avg) -> i32 {
    let sizes = (b.body[i - 1] > b.avg(long, i - 1)) & (b.body[i] <= b.avg(small, i));
    let (top, bottom, outer_top, outer_bottom) = (b.top(i), b.bottom(i), b.top(i - 1), b.bottom(i - 1));
    // Strictly inside implies inside, so the strength is 80 plus 20 more when strict.
    let strict = (top < outer_top) & (bottom > outer_bottom);
    let inside = (top <= outer_top) & (bottom >= outer_bottom);
    i32::from(sizes & inside) * -sign(b, i - 1) * (80 + 20 * i32::from(strict))
}

fn harami_quality(b: &Bars, i: usize, long: Avg, small: Avg) -> f64 {
    grade::mean(&[grade::above(b.body[i - 1], b.avg(long, i - 1)), grade::below(b.body[i], b.avg(small, i))])
}

/// Harami: a long candle, then a short one (BodyShort) inside its real body. ±100, ±80 when the
/// bodies share one end; + after a black candle (bullish), − after a white one.
pub(super) struct Harami {
    long: Avg,
    short: Avg,
}

impl Rule for Harami {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::BodyShort, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), short: r.avg(Setting::BodyShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        harami(b, i, self.long, self.short)
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        harami_quality(b, i, self.long, self.short)
    }
}

/// Harami cross: a harami whose second candle is a doji. ±100, ±80 when the bodies share one end;
/// + after a black candle (bullish), − after a white one.
pub(super) struct HaramiCross {
    long: Avg,
    doji: Avg,
}

impl Rule for HaramiCross {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::BodyDoji, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), doji: r.avg(Setting::BodyDoji, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        harami(b, i, self.long, self.doji)
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        harami_quality(b, i, self.long, self.doji)
    }
}

/// Homing pigeon: a long black candle, then a short black one opening and closing inside it.
/// Always +100 (bullish).
pub(super) struct HomingPigeon {
    long: Avg,
    short: Avg,
}

impl Rule for HomingPigeon {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::BodyShort, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), short: r.avg(Setting::BodyShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = (b.open[i] < b.open[i - 1])
            & (b.close[i] > b.close[i - 1])
            & b.black(i)
            & b.black(i - 1)
            & (b.body[i] <= b.avg(self.short, i))
            & (b.body[i - 1] > b.avg(self.long, i - 1));
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long, i - 1)),
            grade::below(b.body[i], b.avg(self.short, i)),
        ])
    }
}

/// The neck family's shared start: a long black candle, then a white one opening below its low.
#[inline(always)]
fn neck(b: &Bars, i: usize, long: Avg) -> bool {
    (b.open[i] < b.low[i - 1]) & b.white(i) & b.black(i - 1) & (b.body[i - 1] > b.avg(long, i - 1))
}

/// How long the black candle is and how far below its low the white one opens.
fn neck_quality(b: &Bars, i: usize, long: Avg) -> [f64; 2] {
    [grade::above(b.body[i - 1], b.avg(long, i - 1)), grade::beyond(b.open[i], b.low[i - 1], b.body[i - 1])]
}

/// In-neck: after a long black candle, a white one opens below its low and closes at or just
/// above (within Equal) its close. Always −100 (bearish continuation).
pub(super) struct InNeck {
    long: Avg,
    equal: Avg,
}

impl Rule for InNeck {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::Equal, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), equal: r.avg(Setting::Equal, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = (b.close[i] >= b.close[i - 1])
            & (b.close[i] <= b.close[i - 1] + b.avg(self.equal, i - 1))
            & neck(b, i, self.long);
        i32::from(found) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [long, gap] = neck_quality(b, i, self.long);
        grade::mean(&[long, gap, grade::below(b.close[i] - b.close[i - 1], b.avg(self.equal, i - 1))])
    }
}

/// On-neck: after a long black candle, a white one opens below its low and closes back at that
/// low (within Equal). Always −100 (bearish continuation).
pub(super) struct OnNeck {
    long: Avg,
    equal: Avg,
}

impl Rule for OnNeck {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::Equal, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), equal: r.avg(Setting::Equal, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = near(b.close[i], b.low[i - 1], b.avg(self.equal, i - 1)) & neck(b, i, self.long);
        i32::from(found) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [long, gap] = neck_quality(b, i, self.long);
        grade::mean(&[long, gap, grade::below((b.close[i] - b.low[i - 1]).abs(), b.avg(self.equal, i - 1))])
    }
}

/// Thrusting: after a long black candle, a white one opens below its low and closes inside its
/// body, clearly above its close (more than Equal) but not above the midpoint. Always −100.
pub(super) struct Thrusting {
    long: Avg,
    equal: Avg,
}

impl Rule for Thrusting {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::Equal, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 1), equal: r.avg(Setting::Equal, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = (b.close[i] > b.close[i - 1] + b.avg(self.equal, i - 1))
            & (b.close[i] <= b.close[i - 1] + b.body[i - 1] * 0.5)
            & neck(b, i, self.long);
        i32::from(found) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [long, gap] = neck_quality(b, i, self.long);
        grade::mean(&[long, gap])
    }
}

/// The kicking setup: two marubozu (long bodies, shadows under ShadowVeryShort) of opposite
/// colours with a price gap between them, up after the black one, down after the white one.
#[derive(Clone, Copy)]
struct MarubozuPair {
    long_first: Avg,
    long_second: Avg,
    shaved_first: Avg,
    shaved_second: Avg,
}

impl MarubozuPair {
    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long_first: r.avg(Setting::BodyLong, 1),
            long_second: r.avg(Setting::BodyLong, 0),
            shaved_first: r.avg(Setting::ShadowVeryShort, 1),
            shaved_second: r.avg(Setting::ShadowVeryShort, 0),
        }
    }

    #[inline(always)]
    fn kicking(self, b: &Bars, i: usize) -> bool {
        let gaps = (b.black(i - 1) & b.gap_up(i, i - 1)) | (b.white(i - 1) & b.gap_down(i, i - 1));
        gaps & opposite(b, i, i - 1)
            & self.marubozu(b, i - 1, self.long_first, self.shaved_first)
            & self.marubozu(b, i, self.long_second, self.shaved_second)
    }

    #[inline(always)]
    fn marubozu(self, b: &Bars, j: usize, long: Avg, shaved: Avg) -> bool {
        let shadow = b.avg(shaved, j);
        (b.body[j] > b.avg(long, j)) & (b.upper[j] < shadow) & (b.lower[j] < shadow)
    }

    /// How long both bodies are and how short their longest shadows are.
    fn quality(self, b: &Bars, i: usize) -> f64 {
        let (first, second) = (i - 1, i);
        grade::mean(&[
            grade::above(b.body[first], b.avg(self.long_first, first)),
            grade::above(b.body[second], b.avg(self.long_second, second)),
            grade::below(b.upper[first].max(b.lower[first]), b.avg(self.shaved_first, first)),
            grade::below(b.upper[second].max(b.lower[second]), b.avg(self.shaved_second, second)),
        ])
    }
}

/// Kicking: a marubozu, then one of the other colour that gaps away from it. The second candle
/// gives the direction: +100 white (bullish), −100 black.
pub(super) struct Kicking(MarubozuPair);

impl Rule for Kicking {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::ShadowVeryShort, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(MarubozuPair::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(self.0.kicking(b, i)) * sign(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Kicking by length: a kicking pattern whose direction is the colour of the longer marubozu
/// (the first one on a tie): +100 white, −100 black.
pub(super) struct KickingByLength(MarubozuPair);

impl Rule for KickingByLength {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::ShadowVeryShort, Setting::BodyLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(MarubozuPair::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        // The two colours are opposite, so the first candle's colour is minus the second's.
        let second_longer = b.body[i] > b.body[i - 1];
        i32::from(self.0.kicking(b, i)) * sign(b, i) * (2 * i32::from(second_longer) - 1) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Matching low: two black candles closing at the same level (within Equal). Always +100
/// (bullish: the low held).
pub(super) struct MatchingLow {
    equal: Avg,
}

impl Rule for MatchingLow {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::Equal) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { equal: r.avg(Setting::Equal, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.black(i) & b.black(i - 1) & near(b.close[i], b.close[i - 1], b.avg(self.equal, i - 1));
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::below((b.close[i] - b.close[i - 1]).abs(), b.avg(self.equal, i - 1))
    }
}

/// Piercing: after a long black candle, a long white one opens below its low and closes above
/// the middle of its body (but below its open). Always +100 (bullish).
pub(super) struct Piercing {
    long_first: Avg,
    long_second: Avg,
}

impl Rule for Piercing {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyLong) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long_first: r.avg(Setting::BodyLong, 1), long_second: r.avg(Setting::BodyLong, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = (b.open[i] < b.low[i - 1])
            & b.white(i)
            & b.black(i - 1)
            & (b.close[i] < b.open[i - 1])
            & (b.close[i] > b.close[i - 1] + b.body[i - 1] * 0.5)
            & (b.body[i - 1] > b.avg(self.long_first, i - 1))
            & (b.body[i] > b.avg(self.long_second, i));
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        // Both bodies' length and how far past the midpoint the white candle closes.
        let midpoint = b.close[i - 1] + b.body[i - 1] * 0.5;
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long_first, i - 1)),
            grade::above(b.body[i], b.avg(self.long_second, i)),
            grade::beyond(b.close[i], midpoint, b.open[i - 1] - midpoint),
        ])
    }
}

/// Separating lines: a candle, then one of the other colour opening at the same price (within
/// Equal) and running away as a belt hold (a long body with no shadow on its opening side).
/// +100 when the second is white (bullish), −100 when black.
pub(super) struct SeparatingLines {
    long: Avg,
    shaved: Avg,
    equal: Avg,
}

impl Rule for SeparatingLines {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest_plus_one(s, &[Setting::ShadowVeryShort, Setting::BodyLong, Setting::Equal])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long: r.avg(Setting::BodyLong, 0),
            shaved: r.avg(Setting::ShadowVeryShort, 0),
            equal: r.avg(Setting::Equal, 1),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let shaved = b.avg(self.shaved, i);
        let opening_shaved = (b.white(i) & (b.lower[i] < shaved)) | (b.black(i) & (b.upper[i] < shaved));
        let found = opposite(b, i, i - 1)
            & near(b.open[i], b.open[i - 1], b.avg(self.equal, i - 1))
            & (b.body[i] > b.avg(self.long, i))
            & opening_shaved;
        i32::from(found) * sign(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let opening_shadow = if b.white(i) { b.lower[i] } else { b.upper[i] };
        grade::mean(&[
            grade::below((b.open[i] - b.open[i - 1]).abs(), b.avg(self.equal, i - 1)),
            grade::above(b.body[i], b.avg(self.long, i)),
            grade::below(opening_shadow, b.avg(self.shaved, i)),
        ])
    }
}

dispatch! {
    /// Writes the Hikkake codes of positions `from..to` to `out` (shared by both Hikkakes).
    /// `setup.at(b, j)` tells whether a bullish and whether a bearish setup breaks out at `j`; setups
    /// before bar `start` (three before the lookback: TA-Lib starts tracking setups there, so setups
    /// found in those bars can still be confirmed on the first scored ones) do not count.
    ///
    /// TA-Lib keeps the latest setup as state; the code is decided by the bars alone all the same, as
    /// a hikkake lives three bars: a new setup at `i` scores ±100; otherwise the latest setup of the
    /// three bars before, if any, is confirmed (±200) by a close at `i` beyond its inside bar, unless
    /// an earlier close since the setup already went beyond it (a setup is confirmed only once). So
    /// the scan is branch-free and carries nothing from bar to bar (it vectorizes), which also keeps
    /// blocks and streaming alike.
    fn hikkake_scan<S: Setup>(setup: &S, b: &Bars, from: usize, to: usize, out: &mut [Code], start: i64) {
        // A candle or a few (streaming) need levels for a few positions only: clearing a whole
        // window's worth would cost more than the scan.
        if to - from <= 16 {
            hikkake_levels::<S, 19>(setup, b, from, to, out, start);
        } else {
            hikkake_levels::<S, W>(setup, b, from, to, out, start);
        }
    }
}

/// `hikkake_scan` with the levels of positions `from - 3..to` in arrays of `N`.
#[inline(always)]
fn hikkake_levels<S: Setup, const N: usize>(setup: &S, b: &Bars, from: usize, to: usize, out: &mut [Code], start: i64) {
    // As in `Stateless::scan`: every `i - 6 ..= i` is in the window, so no bounds checks.
    assert!(HISTORY <= from && to <= W && to - from + 3 <= N && out.len() == to - from);
    // Per position (`j - base` in the arrays), the level a close must pass to confirm the setup
    // found there: the inside bar's high for a bullish one, its low for a bearish one, ±infinity
    // (never passed: prices are finite) where there is none. Every test below is then a
    // comparison of two f64 columns.
    let base = from - 3;
    let (mut above, mut below) = ([f64::INFINITY; N], [f64::NEG_INFINITY; N]);
    let first = usize::try_from(start - b.index(0)).unwrap_or(0).max(base).min(to);
    for j in first..to {
        let (bullish, bearish) = setup.at(b, j);
        above[j - base] = if bullish { b.high[j - 1] } else { f64::INFINITY };
        below[j - base] = if bearish { b.low[j - 1] } else { f64::NEG_INFINITY };
    }
    let up = |u: usize, j: usize| b.close[u] > above[j - base];
    let down = |u: usize, j: usize| b.close[u] < below[j - base];
    let none = |j: usize| (above[j - base] == f64::INFINITY) & (below[j - base] == f64::NEG_INFINITY);
    for (i, code) in (from..to).zip(out.iter_mut()) {
        // The setup at i − 2 is the latest if none came at i − 1; the one at i − 3 if neither.
        let (latest2, latest3) = (none(i - 1), none(i - 1) & none(i - 2));
        let bullish = up(i, i - 1)
            | (latest2 & up(i, i - 2) & !up(i - 1, i - 2))
            | (latest3 & up(i, i - 3) & !up(i - 1, i - 3) & !up(i - 2, i - 3));
        let bearish = down(i, i - 1)
            | (latest2 & down(i, i - 2) & !down(i - 1, i - 2))
            | (latest3 & down(i, i - 3) & !down(i - 1, i - 3) & !down(i - 2, i - 3));
        let (new_bullish, new_bearish) = (above[i - base] < f64::INFINITY, below[i - base] > f64::NEG_INFINITY);
        let quiet = !(new_bullish | new_bearish);
        *code = (100 * (i32::from(new_bullish) - i32::from(new_bearish))
            + 200 * (i32::from(quiet & bullish) - i32::from(quiet & bearish))) as Code;
    }
}

/// Quality of a Hikkake code at `i`, from the bars alone (so batch and streaming agree): at a
/// breakout, how far it went beyond the inside bar; at a confirmation, how far the close went
/// beyond the inside bar of the latest setup in the three bars before. `setup_at(j)` is the
/// direction of a setup breaking out at `j`.
fn hikkake_quality(b: &Bars, i: usize, setup_at: impl Fn(usize) -> i32) -> f64 {
    let inside_bar = |j: usize| (b.high[j - 1], b.low[j - 1]);
    let direction = setup_at(i);
    if direction != 0 {
        let (high, low) = inside_bar(i);
        let (went, level) = if direction > 0 { (b.low[i], low) } else { (b.high[i], high) };
        return grade::beyond(went, level, high - low);
    }
    match (i - 3..i).rev().map(|j| (j, setup_at(j))).find(|(_, d)| *d != 0) {
        Some((j, d)) => {
            let (high, low) = inside_bar(j);
            grade::beyond(b.close[i], if d > 0 { high } else { low }, high - low)
        }
        None => 0.0,
    }
}

/// Whether `i` breaks the inside bar `i - 1` down (a lower high and a lower low: bullish, the
/// break should fail) and whether it breaks it up (a higher high and a higher low: bearish); at
/// most one holds.
#[inline(always)]
fn breaks(b: &Bars, i: usize) -> (bool, bool) {
    let down = (b.high[i] < b.high[i - 1]) & (b.low[i] < b.low[i - 1]);
    let up = (b.high[i] > b.high[i - 1]) & (b.low[i] > b.low[i - 1]);
    (down, up)
}

/// Candle `inner` has a lower high and a higher low than `outer`.
#[inline(always)]
fn inside(b: &Bars, inner: usize, outer: usize) -> bool {
    (b.high[inner] < b.high[outer]) & (b.low[inner] > b.low[outer])
}

/// A Hikkake's setup (a plain or a modified one).
trait Setup {
    /// Whether a bullish and whether a bearish setup breaks out at `i`. A closure would do, were
    /// it not that only an `#[inline(always)]` method is sure to be compiled into the v3 copy.
    fn at(&self, b: &Bars, i: usize) -> (bool, bool);
}

impl Setup for Hikkake {
    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> (bool, bool) {
        let inside = inside(b, i - 1, i - 2);
        let (down, up) = breaks(b, i);
        (inside & down, inside & up)
    }
}

impl Setup for HikkakeMod {
    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> (bool, bool) {
        let nested = inside(b, i - 1, i - 2) & inside(b, i - 2, i - 3);
        let (first, near) = (i - 2, b.avg(self.near, i - 2));
        let (down, up) = breaks(b, i);
        let bullish = nested & down & (b.close[first] <= b.low[first] + near);
        let bearish = nested & up & (b.close[first] >= b.high[first] - near);
        (bullish, bearish)
    }
}

/// A setup's direction: +1 bullish, −1 bearish, 0 none.
fn direction((bullish, bearish): (bool, bool)) -> i32 {
    i32::from(bullish) - i32::from(bearish)
}

/// Hikkake: an inside bar, then a bar breaking out of it on one side (a likely false breakout).
/// +100 when it breaks down (bullish), −100 when it breaks up; within the next three bars a close
/// beyond the inside bar's other side confirms it: +200 / −200.
pub(super) struct Hikkake;

fn build_hikkake(_: &mut Averages, _: &Settings) -> Box<dyn Pattern> {
    Box::new(Hikkake)
}

impl Pattern for Hikkake {
    fn lookback(&self) -> usize {
        5
    }

    fn scan(&mut self, b: &Bars, from: usize, to: usize, out: &mut [Code]) {
        hikkake_scan(self, b, from, to, out, 5 - 3);
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        hikkake_quality(b, i, |j| direction(self.at(b, j)))
    }

    fn candles(&self) -> usize {
        3
    }
}

/// Modified hikkake: like the hikkake but with two nested inside bars, the first of them closing
/// near (Near) its low for a bullish setup or its high for a bearish one. +100 / −100 at the
/// breakout, +200 / −200 at a confirmation within three bars.
pub(super) struct HikkakeMod {
    near: Avg,
    lookback: usize,
}

fn build_hikkake_mod(averages: &mut Averages, settings: &Settings) -> Box<dyn Pattern> {
    let lookback = settings.period(Setting::Near).max(1) + 5;
    // The threshold is read on candle i − 2 from three bars before the lookback on, hence 2 + 3.
    let near = averages.registrar(settings, lookback).avg(Setting::Near, 5);
    Box::new(HikkakeMod { near, lookback })
}

impl Pattern for HikkakeMod {
    fn lookback(&self) -> usize {
        self.lookback
    }

    fn scan(&mut self, b: &Bars, from: usize, to: usize, out: &mut [Code]) {
        hikkake_scan(self, b, from, to, out, self.lookback as i64 - 3);
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        hikkake_quality(b, i, |j| direction(self.at(b, j)))
    }

    fn candles(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use crate::patterns::{Code, PatternEngine, Settings};

    /// Hand-built bars (open, high, low, close), codes checked against TA-Lib 0.8.1.
    fn bars() -> Vec<[f64; 4]> {
        let flat = [10.0, 12.0, 8.0, 10.0];
        let mut bars = vec![flat; 6];
        bars.extend([
            [10.0, 14.0, 6.0, 10.0],  // 6: mother bar
            [10.0, 12.0, 8.0, 10.0],  // 7: inside bar
            [9.0, 11.0, 7.0, 8.0],    // 8: breaks down: +100
            [9.0, 13.5, 9.0, 13.0],   // 9: closes above the inside bar: +200
            [13.0, 16.0, 10.0, 13.0], // 10: mother bar
            [13.0, 15.0, 11.0, 13.0], // 11: inside bar
            [13.0, 16.0, 12.0, 15.0], // 12: breaks up: −100
            [12.0, 12.5, 9.0, 10.0],  // 13: closes below the inside bar: −200
        ]);
        bars.extend([flat; 4]);
        bars.extend([
            [10.0, 16.0, 4.0, 10.0],  // 18: mother bar
            [12.0, 14.0, 6.0, 6.5],   // 19: inside, closing near its low
            [8.0, 13.0, 7.0, 9.0],    // 20: inside again
            [8.0, 12.0, 6.0, 7.0],    // 21: breaks down: +100 (both)
            [7.0, 11.0, 6.5, 10.0],   // 22: not yet above 13
            [10.0, 14.0, 9.0, 13.5],  // 23: modified confirms (+200); plain sees a new −100 setup
            [13.5, 14.0, 13.0, 13.5], // 24
            [13.0, 20.0, 10.0, 14.0], // 25: mother bar
            [14.0, 18.0, 12.0, 17.5], // 26: inside, closing near its high
            [16.0, 17.0, 13.0, 15.0], // 27: inside again
            [16.0, 18.0, 14.0, 17.0], // 28: breaks up: −100 (both)
            [14.0, 15.0, 12.0, 12.5], // 29: closes below 13: −200 (both)
        ]);
        bars.extend([[12.5, 13.0, 12.0, 12.5]; 3]);
        bars
    }

    #[test]
    fn hikkake_confirmations_batch_and_streaming() {
        let bars = bars();
        let n = bars.len();
        let column = |k: usize| bars.iter().map(|b| b[k]).collect::<Vec<f64>>();
        let (o, h, l, c) = (column(0), column(1), column(2), column(3));
        let names = ["CDLHIKKAKE", "CDLHIKKAKEMOD"];
        let expected: [&[(usize, Code)]; 2] = [
            &[(8, 100), (9, 200), (12, -100), (13, -200), (21, 100), (23, -100), (28, -100), (29, -200)],
            &[(21, 100), (23, 200), (28, -100), (29, -200)],
        ];
        let settings = Settings::default();

        let mut batch = PatternEngine::new(Some(&names), &settings).unwrap();
        let mut out = vec![0; 2 * n];
        let (first, second) = out.split_at_mut(n);
        batch.run(&o, &h, &l, &c, None, &mut [first, second]).unwrap();

        let mut stream = PatternEngine::new(Some(&names), &settings).unwrap();
        let mut streamed = vec![0; 2 * n];
        for k in 0..n {
            let codes = stream.push(o[k], h[k], l[k], c[k], None).unwrap().to_vec();
            for p in 0..2 {
                streamed[p * n + k] = codes[p];
                if codes[p] != 0 {
                    let q = stream.quality_of_newest(p);
                    assert!((0.0..=1.0).contains(&q), "{} quality {q} at {k}", names[p]);
                }
            }
        }

        for p in 0..2 {
            let mut want = vec![0; n];
            for &(k, code) in expected[p] {
                want[k] = code;
            }
            assert_eq!(&out[p * n..(p + 1) * n], &want[..], "{} batch", names[p]);
            assert_eq!(&streamed[p * n..(p + 1) * n], &want[..], "{} streaming", names[p]);
        }
    }

    /// TA-Lib tracks setups from three bars before the lookback, with the Near average of those
    /// bars already over a full window: a setup found there (bar 7, "near" only by the full
    /// average) is confirmed on the first scored bar.
    #[test]
    fn hikkake_mod_setup_found_in_the_warm_up_is_confirmed() {
        let mut bars = vec![[100.0, 130.0, 70.0, 100.0]; 3];
        bars.extend([[100.0, 101.0, 99.0, 100.0]; 2]);
        bars.extend([
            [100.5, 100.9, 99.1, 100.6], // 5: inside, closing 1.5 above its low
            [100.5, 100.8, 99.2, 100.5], // 6: inside again
            [100.0, 100.7, 99.0, 99.5],  // 7: breaks down (before the lookback of 10)
            [99.5, 100.0, 99.0, 99.5],
            [99.5, 100.0, 99.0, 99.5],
            [99.5, 101.5, 99.4, 101.2], // 10: closes above 100.8: +200
        ]);
        bars.extend([[101.0, 102.0, 100.0, 101.0]; 10]);
        let mut engine = PatternEngine::new(Some(&["CDLHIKKAKEMOD"]), &Settings::default()).unwrap();
        let codes: Vec<Code> = bars.iter().map(|b| engine.push(b[0], b[1], b[2], b[3], None).unwrap()[0]).collect();
        let mut want = vec![0; bars.len()];
        want[10] = 200;
        assert_eq!(codes, want);
    }
}
