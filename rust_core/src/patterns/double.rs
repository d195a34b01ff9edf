//! Two-candle patterns (and the Hikkakes, which track a setup over several bars).

use super::averages::{Averages, Avg, Registrar};
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Pattern, Rule, build};
use super::settings::{Setting, Settings};

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

/// `price` lies within `tolerance` of `level` (both ends included).
#[inline]
fn near(price: f64, level: f64, tolerance: f64) -> bool {
    price <= level + tolerance && price >= level - tolerance
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.color(i) != b.color(i - 1)
            && near(b.close[i], b.close[i - 1], b.avg(self.equal, i - 1))
            && b.body[i - 1] > b.avg(self.long_first, i - 1)
            && b.body[i] > b.avg(self.long_second, i);
        if found { b.color(i) * 100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.open[i] > b.high[i - 1]
            && b.black(i)
            && b.white(i - 1)
            && b.close[i] > b.open[i - 1]
            && b.close[i] < b.close[i - 1] - b.body[i - 1] * self.penetration
            && b.body[i - 1] > b.avg(self.long, i - 1);
        if found { -100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let gaps = if b.white(i - 1) { b.body_gap_up(i, i - 1) } else { b.body_gap_down(i, i - 1) };
        let found = gaps && b.body[i] <= b.avg(self.doji, i) && b.body[i - 1] > b.avg(self.long, i - 1);
        if found { -b.color(i - 1) * 100 } else { 0 }
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
fn harami(b: &Bars, i: usize, long: Avg, small: Avg) -> i32 {
    if b.body[i - 1] <= b.avg(long, i - 1) || b.body[i] > b.avg(small, i) {
        return 0;
    }
    let (top, bottom, outer_top, outer_bottom) = (b.top(i), b.bottom(i), b.top(i - 1), b.bottom(i - 1));
    let strength = if top < outer_top && bottom > outer_bottom {
        100
    } else if top <= outer_top && bottom >= outer_bottom {
        80
    } else {
        return 0;
    };
    -b.color(i - 1) * strength
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

    #[inline]
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

    #[inline]
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.open[i] < b.open[i - 1]
            && b.close[i] > b.close[i - 1]
            && b.black(i)
            && b.black(i - 1)
            && b.body[i] <= b.avg(self.short, i)
            && b.body[i - 1] > b.avg(self.long, i - 1);
        if found { 100 } else { 0 }
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long, i - 1)),
            grade::below(b.body[i], b.avg(self.short, i)),
        ])
    }
}

/// The neck family's shared start: a long black candle, then a white one opening below its low.
#[inline]
fn neck(b: &Bars, i: usize, long: Avg) -> bool {
    b.open[i] < b.low[i - 1] && b.white(i) && b.black(i - 1) && b.body[i - 1] > b.avg(long, i - 1)
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.close[i] >= b.close[i - 1]
            && b.close[i] <= b.close[i - 1] + b.avg(self.equal, i - 1)
            && neck(b, i, self.long);
        if found { -100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = near(b.close[i], b.low[i - 1], b.avg(self.equal, i - 1)) && neck(b, i, self.long);
        if found { -100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.close[i] > b.close[i - 1] + b.avg(self.equal, i - 1)
            && b.close[i] <= b.close[i - 1] + b.body[i - 1] * 0.5
            && neck(b, i, self.long);
        if found { -100 } else { 0 }
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

    #[inline]
    fn kicking(self, b: &Bars, i: usize) -> bool {
        let gaps = if b.black(i - 1) { b.gap_up(i, i - 1) } else { b.gap_down(i, i - 1) };
        gaps && b.color(i) != b.color(i - 1)
            && self.marubozu(b, i - 1, self.long_first, self.shaved_first)
            && self.marubozu(b, i, self.long_second, self.shaved_second)
    }

    #[inline]
    fn marubozu(self, b: &Bars, j: usize, long: Avg, shaved: Avg) -> bool {
        let shadow = b.avg(shaved, j);
        b.body[j] > b.avg(long, j) && b.upper[j] < shadow && b.lower[j] < shadow
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        if self.0.kicking(b, i) { b.color(i) * 100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        if !self.0.kicking(b, i) {
            return 0;
        }
        let longer = if b.body[i] > b.body[i - 1] { i } else { i - 1 };
        b.color(longer) * 100
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.black(i) && b.black(i - 1) && near(b.close[i], b.close[i - 1], b.avg(self.equal, i - 1));
        if found { 100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.open[i] < b.low[i - 1]
            && b.white(i)
            && b.black(i - 1)
            && b.close[i] < b.open[i - 1]
            && b.close[i] > b.close[i - 1] + b.body[i - 1] * 0.5
            && b.body[i - 1] > b.avg(self.long_first, i - 1)
            && b.body[i] > b.avg(self.long_second, i);
        if found { 100 } else { 0 }
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

    #[inline]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let opening_shadow = if b.white(i) { b.lower[i] } else { b.upper[i] };
        let found = b.color(i) != b.color(i - 1)
            && near(b.open[i], b.open[i - 1], b.avg(self.equal, i - 1))
            && b.body[i] > b.avg(self.long, i)
            && opening_shadow < b.avg(self.shaved, i);
        if found { b.color(i) * 100 } else { 0 }
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

/// A hikkake found and waiting (up to three bars) for its confirmation.
#[derive(Clone, Copy, Debug)]
struct Setup {
    /// Bar number of the false-breakout candle.
    bar: i64,
    /// +1 bullish (the inside bar was broken downwards), −1 bearish.
    direction: i32,
    /// The inside bar: a close above its high confirms a bullish setup, below its low a bearish one.
    high: f64,
    low: f64,
    confirmed: bool,
}

/// The state both Hikkakes share: the latest setup. TA-Lib starts tracking three bars before the
/// lookback, so setups found there can still be confirmed on the first scored bars.
struct Tracker {
    start: i64,
    setup: Option<Setup>,
}

impl Tracker {
    fn new(lookback: usize) -> Self {
        Self { start: lookback as i64 - 3, setup: None }
    }

    /// Advances over position `i`, given the direction of a setup breaking out there (0 if none).
    /// A new setup wins over the confirmation of the previous one on the same bar.
    #[inline]
    fn step(&mut self, b: &Bars, i: usize, breakout: i32) -> i32 {
        let bar = b.index(i);
        if breakout != 0 {
            self.setup =
                Some(Setup { bar, direction: breakout, high: b.high[i - 1], low: b.low[i - 1], confirmed: false });
            return breakout * 100;
        }
        match &mut self.setup {
            Some(s) if !s.confirmed && bar <= s.bar + 3 => {
                let through = if s.direction > 0 { b.close[i] > s.high } else { b.close[i] < s.low };
                if through {
                    s.confirmed = true;
                    return s.direction * 200;
                }
                0
            }
            _ => 0,
        }
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

/// Direction of a false breakout of the inside bar `i - 1` at `i`: +1 when `i` has a lower high
/// and a lower low (bullish: the break down should fail), −1 for a higher high and higher low.
#[inline]
fn breakout(b: &Bars, i: usize) -> i32 {
    if b.high[i] < b.high[i - 1] && b.low[i] < b.low[i - 1] {
        1
    } else if b.high[i] > b.high[i - 1] && b.low[i] > b.low[i - 1] {
        -1
    } else {
        0
    }
}

/// Candle `inner` has a lower high and a higher low than `outer`.
#[inline]
fn inside(b: &Bars, inner: usize, outer: usize) -> bool {
    b.high[inner] < b.high[outer] && b.low[inner] > b.low[outer]
}

/// Hikkake: an inside bar, then a bar breaking out of it on one side (a likely false breakout).
/// +100 when it breaks down (bullish), −100 when it breaks up; within the next three bars a close
/// beyond the inside bar's other side confirms it: +200 / −200.
pub(super) struct Hikkake {
    tracker: Tracker,
}

fn build_hikkake(_: &mut Averages, _: &Settings) -> Box<dyn Pattern> {
    Box::new(Hikkake { tracker: Tracker::new(5) })
}

impl Pattern for Hikkake {
    fn lookback(&self) -> usize {
        5
    }

    fn scan(&mut self, b: &Bars, from: usize, to: usize, out: &mut [i32]) {
        for (i, code) in (from..to).zip(out.iter_mut()) {
            *code = if b.index(i) < self.tracker.start {
                0
            } else {
                let found = if inside(b, i - 1, i - 2) { breakout(b, i) } else { 0 };
                self.tracker.step(b, i, found)
            };
        }
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        hikkake_quality(b, i, |j| if inside(b, j - 1, j - 2) { breakout(b, j) } else { 0 })
    }

    fn candles(&self) -> usize {
        3
    }
}

/// Modified hikkake: like the hikkake but with two nested inside bars, the first of them closing
/// near (Near) its low for a bullish setup or its high for a bearish one. +100 / −100 at the
/// breakout, +200 / −200 at a confirmation within three bars.
pub(super) struct HikkakeMod {
    tracker: Tracker,
    near: Avg,
    lookback: usize,
}

fn build_hikkake_mod(averages: &mut Averages, settings: &Settings) -> Box<dyn Pattern> {
    let lookback = settings.period(Setting::Near).max(1) + 5;
    // The threshold is read on candle i − 2 from three bars before the lookback on, hence 2 + 3.
    let near = averages.registrar(settings, lookback).avg(Setting::Near, 5);
    Box::new(HikkakeMod { tracker: Tracker::new(lookback), near, lookback })
}

impl HikkakeMod {
    #[inline]
    fn breakout(&self, b: &Bars, i: usize) -> i32 {
        if !(inside(b, i - 1, i - 2) && inside(b, i - 2, i - 3)) {
            return 0;
        }
        let (first, near) = (i - 2, b.avg(self.near, i - 2));
        match breakout(b, i) {
            1 if b.close[first] <= b.low[first] + near => 1,
            -1 if b.close[first] >= b.high[first] - near => -1,
            _ => 0,
        }
    }
}

impl Pattern for HikkakeMod {
    fn lookback(&self) -> usize {
        self.lookback
    }

    fn scan(&mut self, b: &Bars, from: usize, to: usize, out: &mut [i32]) {
        for (i, code) in (from..to).zip(out.iter_mut()) {
            *code = if b.index(i) < self.tracker.start {
                0
            } else {
                let found = self.breakout(b, i);
                self.tracker.step(b, i, found)
            };
        }
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        hikkake_quality(b, i, |j| self.breakout(b, j))
    }

    fn candles(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use crate::patterns::{PatternEngine, Settings};

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
        let expected: [&[(usize, i32)]; 2] = [
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
        let codes: Vec<i32> = bars.iter().map(|b| engine.push(b[0], b[1], b[2], b[3], None).unwrap()[0]).collect();
        let mut want = vec![0; bars.len()];
        want[10] = 200;
        assert_eq!(codes, want);
    }
}
