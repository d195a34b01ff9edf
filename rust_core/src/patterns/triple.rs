//! Three-candle patterns: stars, soldiers and crows, inside/outside, blocks and rivers.

use super::averages::{Avg, Registrar};
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Rule, build};
use super::settings::{Setting, Settings};

pub(super) const PATTERNS: &[Entry] = &[
    Entry { name: "CDL2CROWS", build: build::<TwoCrows> },
    Entry { name: "CDL3INSIDE", build: build::<ThreeInside> },
    Entry { name: "CDL3OUTSIDE", build: build::<ThreeOutside> },
    Entry { name: "CDL3STARSINSOUTH", build: build::<ThreeStarsInSouth> },
    Entry { name: "CDL3WHITESOLDIERS", build: build::<ThreeWhiteSoldiers> },
    Entry { name: "CDLABANDONEDBABY", build: build::<AbandonedBaby> },
    Entry { name: "CDLADVANCEBLOCK", build: build::<AdvanceBlock> },
    Entry { name: "CDLEVENINGDOJISTAR", build: build::<EveningDojiStar> },
    Entry { name: "CDLEVENINGSTAR", build: build::<EveningStar> },
    Entry { name: "CDLIDENTICAL3CROWS", build: build::<IdenticalThreeCrows> },
    Entry { name: "CDLMORNINGDOJISTAR", build: build::<MorningDojiStar> },
    Entry { name: "CDLMORNINGSTAR", build: build::<MorningStar> },
    Entry { name: "CDLSTALLEDPATTERN", build: build::<StalledPattern> },
    Entry { name: "CDLSTICKSANDWICH", build: build::<StickSandwich> },
    Entry { name: "CDLTRISTAR", build: build::<Tristar> },
    Entry { name: "CDLUNIQUE3RIVER", build: build::<UniqueThreeRiver> },
];

/// `x` is within `tolerance` of `level`, both ends included.
#[inline(always)]
fn within(x: f64, level: f64, tolerance: f64) -> bool {
    (x <= level + tolerance) & (x >= level - tolerance)
}

/// Three white candles, each closing above the one before.
#[inline(always)]
fn three_rising_whites(b: &Bars, i: usize) -> bool {
    b.white(i - 2) & b.white(i - 1) & b.white(i) & (b.close[i] > b.close[i - 1]) & (b.close[i - 1] > b.close[i - 2])
}

/// Candle `later` opens inside the white body of `earlier` or not more than `near` above its close.
#[inline(always)]
fn opens_in_or_near(b: &Bars, later: usize, earlier: usize, near: f64) -> bool {
    (b.open[later] > b.open[earlier]) & (b.open[later] <= b.close[earlier] + near)
}

/// The third candle closes above `penetration` × the first candle's body, measured from the first
/// candle's close up into its body (a bullish reversal).
#[inline(always)]
fn closes_up_into_first(b: &Bars, i: usize, penetration: f64) -> bool {
    b.close[i] > b.close[i - 2] + b.body[i - 2] * penetration
}

/// The third candle closes below `penetration` × the first candle's body, measured from the first
/// candle's close down into its body (a bearish reversal).
#[inline(always)]
fn closes_down_into_first(b: &Bars, i: usize, penetration: f64) -> bool {
    b.close[i] < b.close[i - 2] - b.body[i - 2] * penetration
}

/// How far the third candle's close went past the penetration level, against the first body.
fn penetration_grade(b: &Bars, i: usize, penetration: f64) -> f64 {
    let level = if b.white(i) {
        b.close[i - 2] + b.body[i - 2] * penetration
    } else {
        b.close[i - 2] - b.body[i - 2] * penetration
    };
    grade::beyond(b.close[i], level, b.body[i - 2])
}

/// The body sizes shared by the star reversals (morning/evening star, their doji versions, and the
/// abandoned baby): a long first body, a small star (short body or doji) and a third body that is
/// not short, plus how far the third must close into the first body.
struct StarBodies {
    long: Avg,
    star: Avg,
    third: Avg,
    penetration: f64,
}

impl StarBodies {
    /// `star` is BodyShort for plain stars and BodyDoji for the doji versions.
    fn new(r: &mut Registrar<'_>, star: Setting, name: &str) -> Self {
        Self {
            long: r.avg(Setting::BodyLong, 2),
            star: r.avg(star, 1),
            third: r.avg(Setting::BodyShort, 0),
            penetration: r.penetration(name, 0.3),
        }
    }

    fn lookback(s: &Settings, star: Setting) -> usize {
        s.period(Setting::BodyLong).max(s.period(star)).max(s.period(Setting::BodyShort)) + 2
    }

    #[inline(always)]
    fn fit(&self, b: &Bars, i: usize) -> bool {
        (b.body[i - 2] > b.avg(self.long, i - 2))
            & (b.body[i - 1] <= b.avg(self.star, i - 1))
            & (b.body[i] > b.avg(self.third, i))
    }

    /// Morning star shape: black first, star body gapping below it, white third closing into it.
    #[inline(always)]
    fn morning(&self, b: &Bars, i: usize) -> bool {
        b.black(i - 2)
            & b.white(i)
            & b.body_gap_down(i - 1, i - 2)
            & closes_up_into_first(b, i, self.penetration)
            & self.fit(b, i)
    }

    /// Evening star shape: white first, star body gapping above it, black third closing into it.
    #[inline(always)]
    fn evening(&self, b: &Bars, i: usize) -> bool {
        b.white(i - 2)
            & b.black(i)
            & b.body_gap_up(i - 1, i - 2)
            & closes_down_into_first(b, i, self.penetration)
            & self.fit(b, i)
    }

    /// Long first body, small star, solid third body, and a close well into the first body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::below(b.body[i - 1], b.avg(self.star, i - 1)),
            grade::above(b.body[i], b.avg(self.third, i)),
            penetration_grade(b, i, self.penetration),
        ])
    }
}

/// Two Crows: after a long white candle, a black candle gaps up above its body, then a second black
/// candle opens inside that one and closes inside the white body. Always −100 (bearish).
pub(super) struct TwoCrows {
    long: Avg,
}

impl Rule for TwoCrows {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyLong) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 2) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o, c) = (b.open[i], b.close[i]);
        let found = b.white(i - 2)
            & b.black(i - 1)
            & b.black(i)
            & b.body_gap_up(i - 1, i - 2)
            & (o < b.open[i - 1])
            & (o > b.close[i - 1])
            & (c > b.open[i - 2])
            & (c < b.close[i - 2])
            & (b.body[i - 2] > b.avg(self.long, i - 2));
        i32::from(found) * -100
    }

    /// Graded: the first body's length, the gap, and how deep the last crow closes into the white body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let first = b.body[i - 2];
        grade::mean(&[
            grade::above(first, b.avg(self.long, i - 2)),
            grade::beyond(b.bottom(i - 1), b.top(i - 2), first),
            grade::beyond(b.close[i], b.close[i - 2], first),
        ])
    }
}

/// Three Inside Up/Down: a long candle, a short body held inside it (a harami), then a candle of the
/// other colour closing beyond the first one's open. +100 up (after a long black), −100 down.
pub(super) struct ThreeInside {
    long: Avg,
    short: Avg,
}

impl Rule for ThreeInside {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort).max(s.period(Setting::BodyLong)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 2), short: r.avg(Setting::BodyShort, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let inside = (b.top(i - 1) < b.top(i - 2)) & (b.bottom(i - 1) > b.bottom(i - 2));
        let harami = inside & (b.body[i - 2] > b.avg(self.long, i - 2)) & (b.body[i - 1] <= b.avg(self.short, i - 1));
        // Down: white first, black third closing under its open; up: the mirror image.
        let down = b.white(i - 2) & b.black(i) & (b.close[i] < b.open[i - 2]);
        let up = b.black(i - 2) & b.white(i) & (b.close[i] > b.open[i - 2]);
        i32::from(harami & up) * 100 - i32::from(harami & down) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::below(b.body[i - 1], b.avg(self.short, i - 1)),
            grade::beyond(b.close[i], b.open[i - 2], b.body[i - 2]),
        ])
    }
}

/// Three Outside Up/Down: an engulfing pair whose direction the third candle confirms by closing
/// beyond the engulfing candle. +100 up (white engulfs black), −100 down.
pub(super) struct ThreeOutside;

impl Rule for ThreeOutside {
    const CANDLES: usize = 3;

    fn lookback(_: &Settings) -> usize {
        // TA-Lib's own value, one more than the three candles need.
        3
    }

    fn new(_: &mut Registrar<'_>) -> Self {
        Self
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o1, c1, o2, c2) = (b.open[i - 1], b.close[i - 1], b.open[i - 2], b.close[i - 2]);
        let up = b.white(i - 1) & b.black(i - 2) & (c1 > o2) & (o1 < c2) & (b.close[i] > c1);
        let down = b.black(i - 1) & b.white(i - 2) & (o1 > c2) & (c1 < o2) & (b.close[i] < c1);
        i32::from(up) * 100 - i32::from(down) * 100
    }

    /// Graded: how much bigger the engulfing body is, and how far the third close runs past it.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 1], b.body[i - 2]),
            grade::beyond(b.close[i], b.close[i - 1], b.body[i - 1]),
        ])
    }
}

/// Three Stars in the South: a long black candle with a long lower shadow, a smaller black candle
/// that opens higher and holds above the first low, then a small black marubozu inside the second
/// candle's range — selling dries up. Always +100 (bullish).
pub(super) struct ThreeStarsInSouth {
    long: Avg,
    long_shadow: Avg,
    second_shadow: Avg,
    short: Avg,
    third_shadow: Avg,
}

impl Rule for ThreeStarsInSouth {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        let shadows = s.period(Setting::ShadowVeryShort).max(s.period(Setting::ShadowLong));
        let bodies = s.period(Setting::BodyLong).max(s.period(Setting::BodyShort));
        shadows.max(bodies) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long: r.avg(Setting::BodyLong, 2),
            long_shadow: r.avg(Setting::ShadowLong, 2),
            second_shadow: r.avg(Setting::ShadowVeryShort, 1),
            short: r.avg(Setting::BodyShort, 0),
            third_shadow: r.avg(Setting::ShadowVeryShort, 0),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (first, second) = (i - 2, i - 1);
        let found = b.black(first)
            & b.black(second)
            & b.black(i)
            & (b.body[first] > b.avg(self.long, first))
            & (b.lower[first] > b.avg(self.long_shadow, first))
            & (b.body[second] < b.body[first])
            & (b.open[second] > b.close[first])
            & (b.open[second] <= b.high[first])
            & (b.low[second] < b.close[first])
            & (b.low[second] >= b.low[first])
            & (b.lower[second] > b.avg(self.second_shadow, second))
            & (b.body[i] < b.avg(self.short, i))
            & (b.lower[i] < b.avg(self.third_shadow, i))
            & (b.upper[i] < b.avg(self.third_shadow, i))
            & (b.low[i] > b.low[second])
            & (b.high[i] < b.high[second]);
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let shadow = b.avg(self.third_shadow, i);
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::above(b.lower[i - 2], b.avg(self.long_shadow, i - 2)),
            grade::below(b.body[i], b.avg(self.short, i)),
            grade::below(b.lower[i].max(b.upper[i]), shadow),
        ])
    }
}

/// Three White Soldiers: three white candles closing higher and higher, each opening inside (or
/// near) the previous body, with hardly any upper shadows and no body much shorter than the one
/// before. Always +100 (bullish).
pub(super) struct ThreeWhiteSoldiers {
    /// Very short upper shadow of the first, second and third candle.
    shadow: [Avg; 3],
    near: [Avg; 2],
    far: [Avg; 2],
    short: Avg,
}

impl Rule for ThreeWhiteSoldiers {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        let a = s.period(Setting::ShadowVeryShort).max(s.period(Setting::BodyShort));
        let b = s.period(Setting::Far).max(s.period(Setting::Near));
        a.max(b) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            shadow: [2, 1, 0].map(|k| r.avg(Setting::ShadowVeryShort, k)),
            near: [2, 1].map(|k| r.avg(Setting::Near, k)),
            far: [2, 1].map(|k| r.avg(Setting::Far, k)),
            short: r.avg(Setting::BodyShort, 0),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = three_rising_whites(b, i)
            & (b.upper[i - 2] < b.avg(self.shadow[0], i - 2))
            & (b.upper[i - 1] < b.avg(self.shadow[1], i - 1))
            & (b.upper[i] < b.avg(self.shadow[2], i))
            & opens_in_or_near(b, i - 1, i - 2, b.avg(self.near[0], i - 2))
            & opens_in_or_near(b, i, i - 1, b.avg(self.near[1], i - 1))
            & (b.body[i - 1] > b.body[i - 2] - b.avg(self.far[0], i - 2))
            & (b.body[i] > b.body[i - 1] - b.avg(self.far[1], i - 1))
            & (b.body[i] > b.avg(self.short, i));
        i32::from(found) * 100
    }

    /// Graded: the longest upper shadow against its limit, and the last soldier's body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let shadows = (0..3).map(|k| grade::below(b.upper[i - 2 + k], b.avg(self.shadow[k], i - 2 + k)));
        grade::mean(&[
            shadows.fold(1.0, f64::min),
            grade::above(b.body[i], b.avg(self.short, i)),
            grade::above(b.body[i], b.body[i - 1] - b.avg(self.far[1], i - 1)),
        ])
    }
}

/// Abandoned Baby: a long candle, a doji that gaps clear of it (shadows included), then a candle of
/// the other colour that gaps back the other way and closes well into the first body. +100 at a
/// bottom, −100 at a top.
pub(super) struct AbandonedBaby(StarBodies);

impl Rule for AbandonedBaby {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        StarBodies::lookback(s, Setting::BodyDoji)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(StarBodies::new(r, Setting::BodyDoji, "CDLABANDONEDBABY"))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let stars = &self.0;
        let fit = stars.fit(b, i);
        let top = b.white(i - 2)
            & b.black(i)
            & closes_down_into_first(b, i, stars.penetration)
            & b.gap_up(i - 1, i - 2)
            & b.gap_down(i, i - 1);
        let bottom = b.black(i - 2)
            & b.white(i)
            & closes_up_into_first(b, i, stars.penetration)
            & b.gap_down(i - 1, i - 2)
            & b.gap_up(i, i - 1);
        i32::from(fit & bottom) * 100 - i32::from(fit & top) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Advance Block: three white candles climbing, but the advance tires — bodies shrink and/or upper
/// shadows grow on the second and third candle. Always −100 (bearish).
pub(super) struct AdvanceBlock {
    long: Avg,
    /// Short upper shadow of the first, second and third candle.
    short_shadow: [Avg; 3],
    /// Long upper shadow of the third candle.
    long_shadow: Avg,
    near: [Avg; 2],
    far: [Avg; 2],
}

impl Rule for AdvanceBlock {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        let shadows = s.period(Setting::ShadowLong).max(s.period(Setting::ShadowShort));
        let distances = s.period(Setting::Far).max(s.period(Setting::Near));
        shadows.max(distances).max(s.period(Setting::BodyLong)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long: r.avg(Setting::BodyLong, 2),
            short_shadow: [2, 1, 0].map(|k| r.avg(Setting::ShadowShort, k)),
            long_shadow: r.avg(Setting::ShadowLong, 0),
            near: [2, 1].map(|k| r.avg(Setting::Near, k)),
            far: [2, 1].map(|k| r.avg(Setting::Far, k)),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = three_rising_whites(b, i)
            & opens_in_or_near(b, i - 1, i - 2, b.avg(self.near[0], i - 2))
            & opens_in_or_near(b, i, i - 1, b.avg(self.near[1], i - 1))
            & (b.body[i - 2] > b.avg(self.long, i - 2))
            & (b.upper[i - 2] < b.avg(self.short_shadow[0], i - 2))
            & self.weakening(b, i);
        i32::from(found) * -100
    }

    /// Graded: the first candle's strength, and how much the last body shrank against it.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::below(b.upper[i - 2], b.avg(self.short_shadow[0], i - 2)),
            grade::below(b.body[i], b.body[i - 2]),
        ])
    }
}

impl AdvanceBlock {
    /// Any of TA-Lib's four signs of a stalling advance.
    #[inline(always)]
    fn weakening(&self, b: &Bars, i: usize) -> bool {
        let (first, second, third) = (b.body[i - 2], b.body[i - 1], b.body[i]);
        // The second body is far smaller than the first and the third no bigger than the second.
        let blocked_at_second =
            (second < first - b.avg(self.far[0], i - 2)) & (third < second + b.avg(self.near[1], i - 1));
        // The third body is far smaller than the second.
        let blocked_at_third = third < second - b.avg(self.far[1], i - 1);
        // Shrinking bodies with a real upper shadow on the second or third candle.
        let shrinking_with_shadows = (third < second)
            & (second < first)
            & ((b.upper[i] > b.avg(self.short_shadow[2], i)) | (b.upper[i - 1] > b.avg(self.short_shadow[1], i - 1)));
        // A smaller third body under a long upper shadow.
        let long_last_shadow = (third < second) & (b.upper[i] > b.avg(self.long_shadow, i));
        blocked_at_second | blocked_at_third | shrinking_with_shadows | long_last_shadow
    }
}

/// Evening Doji Star: a long white candle, a doji gapping above its body, then a black candle closing
/// well into the white body. Always −100 (bearish).
pub(super) struct EveningDojiStar(StarBodies);

impl Rule for EveningDojiStar {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        StarBodies::lookback(s, Setting::BodyDoji)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(StarBodies::new(r, Setting::BodyDoji, "CDLEVENINGDOJISTAR"))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(self.0.evening(b, i)) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Evening Star: a long white candle, a short body gapping above it, then a black candle closing well
/// into the white body. Always −100 (bearish).
pub(super) struct EveningStar(StarBodies);

impl Rule for EveningStar {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        StarBodies::lookback(s, Setting::BodyShort)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(StarBodies::new(r, Setting::BodyShort, "CDLEVENINGSTAR"))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(self.0.evening(b, i)) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Identical Three Crows: three black candles closing lower and lower, each opening at (about) the
/// previous close, with almost no lower shadows. Always −100 (bearish).
pub(super) struct IdenticalThreeCrows {
    /// Very short lower shadow of the first, second and third candle.
    shadow: [Avg; 3],
    /// "Equal" tolerance around the first and second close.
    equal: [Avg; 2],
}

impl Rule for IdenticalThreeCrows {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::ShadowVeryShort).max(s.period(Setting::Equal)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            shadow: [2, 1, 0].map(|k| r.avg(Setting::ShadowVeryShort, k)),
            equal: [2, 1].map(|k| r.avg(Setting::Equal, k)),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.black(i - 2)
            & b.black(i - 1)
            & b.black(i)
            & (b.close[i - 2] > b.close[i - 1])
            & (b.close[i - 1] > b.close[i])
            & (b.lower[i - 2] < b.avg(self.shadow[0], i - 2))
            & (b.lower[i - 1] < b.avg(self.shadow[1], i - 1))
            & (b.lower[i] < b.avg(self.shadow[2], i))
            & within(b.open[i - 1], b.close[i - 2], b.avg(self.equal[0], i - 2))
            & within(b.open[i], b.close[i - 1], b.avg(self.equal[1], i - 1));
        i32::from(found) * -100
    }

    /// Graded: how exactly each crow opens at the previous close, and the longest lower shadow.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let shadows = (0..3).map(|k| grade::below(b.lower[i - 2 + k], b.avg(self.shadow[k], i - 2 + k)));
        grade::mean(&[
            grade::below((b.open[i - 1] - b.close[i - 2]).abs(), b.avg(self.equal[0], i - 2)),
            grade::below((b.open[i] - b.close[i - 1]).abs(), b.avg(self.equal[1], i - 1)),
            shadows.fold(1.0, f64::min),
        ])
    }
}

/// Morning Doji Star: a long black candle, a doji gapping below its body, then a white candle closing
/// well into the black body. Always +100 (bullish).
pub(super) struct MorningDojiStar(StarBodies);

impl Rule for MorningDojiStar {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        StarBodies::lookback(s, Setting::BodyDoji)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(StarBodies::new(r, Setting::BodyDoji, "CDLMORNINGDOJISTAR"))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(self.0.morning(b, i)) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Morning Star: a long black candle, a short body gapping below it, then a white candle closing well
/// into the black body. Always +100 (bullish).
pub(super) struct MorningStar(StarBodies);

impl Rule for MorningStar {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        StarBodies::lookback(s, Setting::BodyShort)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(StarBodies::new(r, Setting::BodyShort, "CDLMORNINGSTAR"))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(self.0.morning(b, i)) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i)
    }
}

/// Stalled Pattern (deliberation): two long white candles, the second with hardly any upper shadow,
/// then a small white body riding on the second one's close — buyers hesitate. Always −100 (bearish).
pub(super) struct StalledPattern {
    /// Long body of the first and second candle.
    long: [Avg; 2],
    shadow: Avg,
    near: [Avg; 2],
    short: Avg,
}

impl Rule for StalledPattern {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        let bodies = s.period(Setting::BodyLong).max(s.period(Setting::BodyShort));
        bodies.max(s.period(Setting::ShadowVeryShort).max(s.period(Setting::Near))) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long: [2, 1].map(|k| r.avg(Setting::BodyLong, k)),
            shadow: r.avg(Setting::ShadowVeryShort, 1),
            near: [2, 1].map(|k| r.avg(Setting::Near, k)),
            short: r.avg(Setting::BodyShort, 0),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = three_rising_whites(b, i)
            & (b.body[i - 2] > b.avg(self.long[0], i - 2))
            & (b.body[i - 1] > b.avg(self.long[1], i - 1))
            & (b.upper[i - 1] < b.avg(self.shadow, i - 1))
            & opens_in_or_near(b, i - 1, i - 2, b.avg(self.near[0], i - 2))
            & (b.body[i] < b.avg(self.short, i))
            & (b.open[i] >= b.close[i - 1] - b.body[i] - b.avg(self.near[1], i - 1));
        i32::from(found) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 1], b.avg(self.long[1], i - 1)),
            grade::below(b.upper[i - 1], b.avg(self.shadow, i - 1)),
            grade::below(b.body[i], b.avg(self.short, i)),
        ])
    }
}

/// Stick Sandwich: two black candles closing at the same level with a white candle between them that
/// trades entirely above the first close. Always +100 (bullish: a support level held twice).
pub(super) struct StickSandwich {
    equal: Avg,
}

impl Rule for StickSandwich {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::Equal) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { equal: r.avg(Setting::Equal, 2) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.black(i - 2)
            & b.white(i - 1)
            & b.black(i)
            & (b.low[i - 1] > b.close[i - 2])
            & within(b.close[i], b.close[i - 2], b.avg(self.equal, i - 2));
        i32::from(found) * 100
    }

    /// Graded: how exactly the two closes match, and how far the middle candle stays above them.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below((b.close[i] - b.close[i - 2]).abs(), b.avg(self.equal, i - 2)),
            grade::beyond(b.low[i - 1], b.close[i - 2], b.body[i - 1]),
        ])
    }
}

/// Tristar: three dojis, the middle one gapping away from the first; the third not extending beyond
/// the middle one. −100 when the middle doji gaps up (a top), +100 when it gaps down (a bottom).
pub(super) struct Tristar {
    /// The doji threshold of the first candle, which TA-Lib applies to all three.
    doji: Avg,
}

impl Rule for Tristar {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyDoji) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 2) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let doji = b.avg(self.doji, i - 2);
        let dojis = (b.body[i - 2] <= doji) & (b.body[i - 1] <= doji) & (b.body[i] <= doji);
        let top = dojis & b.body_gap_up(i - 1, i - 2) & (b.top(i) < b.top(i - 1));
        // `!top`: TA-Lib tests the bottom only when the top fails (the gaps exclude each other anyway).
        let bottom = !top & dojis & b.body_gap_down(i - 1, i - 2) & (b.bottom(i) > b.bottom(i - 1));
        i32::from(bottom) * 100 - i32::from(top) * 100
    }

    /// Graded: the largest of the three bodies against the doji limit, and the star's gap against
    /// its own range.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let largest = b.body[i - 2].max(b.body[i - 1]).max(b.body[i]);
        let gap = (b.bottom(i - 1) - b.top(i - 2)).max(b.bottom(i - 2) - b.top(i - 1));
        grade::mean(&[grade::below(largest, b.avg(self.doji, i - 2)), grade::beyond(gap, 0.0, b.range[i - 1])])
    }
}

/// Unique Three River Bottom: a long black candle, a black harami that probes a new low, then a small
/// white candle opening above that low. Always +100 (bullish).
pub(super) struct UniqueThreeRiver {
    long: Avg,
    short: Avg,
}

impl Rule for UniqueThreeRiver {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort).max(s.period(Setting::BodyLong)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 2), short: r.avg(Setting::BodyShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.black(i - 2)
            & b.black(i - 1)
            & b.white(i)
            & (b.close[i - 1] > b.close[i - 2])
            & (b.open[i - 1] <= b.open[i - 2])
            & (b.low[i - 1] < b.low[i - 2])
            & (b.open[i] > b.low[i - 1])
            & (b.body[i - 2] > b.avg(self.long, i - 2))
            & (b.body[i] < b.avg(self.short, i));
        i32::from(found) * 100
    }

    /// Graded: the first body's length, the third body's smallness, and the depth of the new low.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::below(b.body[i], b.avg(self.short, i)),
            grade::beyond(b.low[i - 1], b.low[i - 2], b.body[i - 2]),
        ])
    }
}
