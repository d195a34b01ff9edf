//! Patterns of four and five candles, and the gap/method patterns.

use super::averages::{Avg, Registrar};
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Rule, build};
use super::settings::{Setting, Settings};

pub(super) const PATTERNS: &[Entry] = &[
    Entry { name: "CDL3BLACKCROWS", build: build::<ThreeBlackCrows> },
    Entry { name: "CDL3LINESTRIKE", build: build::<ThreeLineStrike> },
    Entry { name: "CDLBREAKAWAY", build: build::<Breakaway> },
    Entry { name: "CDLCONCEALBABYSWALL", build: build::<ConcealingBabySwallow> },
    Entry { name: "CDLGAPSIDESIDEWHITE", build: build::<GapSideBySideWhite> },
    Entry { name: "CDLLADDERBOTTOM", build: build::<LadderBottom> },
    Entry { name: "CDLMATHOLD", build: build::<MatHold> },
    Entry { name: "CDLRISEFALL3METHODS", build: build::<RisingFallingThreeMethods> },
    Entry { name: "CDLTASUKIGAP", build: build::<TasukiGap> },
    Entry { name: "CDLUPSIDEGAP2CROWS", build: build::<UpsideGapTwoCrows> },
    Entry { name: "CDLXSIDEGAP3METHODS", build: build::<SideGapThreeMethods> },
];

/// The same setting for `N` consecutive candles, starting `first` bars before the newest one:
/// element `n` is the threshold of candle `i - first - n`.
fn consecutive<const N: usize>(r: &mut Registrar<'_>, setting: Setting, first: usize) -> [Avg; N] {
    std::array::from_fn(|n| r.avg(setting, first + n))
}

/// `a` lies beyond `b` in direction `dir` (+1: above, −1: below), compared as `a·dir > b·dir`.
#[inline(always)]
fn past(dir: f64, a: f64, b: f64) -> bool {
    a * dir > b * dir
}

/// The gap between the real bodies of `earlier` and `later` (0 when they overlap).
#[inline]
fn body_gap(b: &Bars, later: usize, earlier: usize) -> f64 {
    (b.bottom(later) - b.top(earlier)).max(b.bottom(earlier) - b.top(later)).max(0.0)
}

/// Three black crows: after a white candle, three black candles closing lower and lower, each
/// opening inside the previous body, the first closing under the white candle's high, all with
/// (almost) no lower shadow. Always −100.
pub(super) struct ThreeBlackCrows {
    /// ShadowVeryShort of the three crows, newest first.
    shadow: [Avg; 3],
}

impl Rule for ThreeBlackCrows {
    const CANDLES: usize = 4;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::ShadowVeryShort) + 3
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { shadow: consecutive(r, Setting::ShadowVeryShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let colors = b.white(i - 3) & b.black(i - 2) & b.black(i - 1) & b.black(i);
        let opens_inside = |k: usize| (b.open[k] < b.open[k - 1]) & (b.open[k] > b.close[k - 1]);
        let bare = |k: usize| b.lower[i - k] < b.avg(self.shadow[k], i - k);
        let found = colors
            & opens_inside(i - 1)
            & opens_inside(i)
            & (b.high[i - 3] > b.close[i - 2])
            & (b.close[i - 2] > b.close[i - 1])
            & (b.close[i - 1] > b.close[i])
            & bare(0)
            & bare(1)
            & bare(2);
        -100 * i32::from(found)
    }

    /// Graded: how bare the three lower shadows are.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[0, 1, 2].map(|k| grade::below(b.lower[i - k], b.avg(self.shadow[k], i - k))))
    }
}

/// Three-line strike: three candles of one colour stepping the same way, each opening within (or
/// near) the previous body, then a candle of the other colour that opens beyond the third close
/// and closes back past the first open. +100 after three white lines, −100 after three black.
pub(super) struct ThreeLineStrike {
    /// Near of the first and second lines (offsets 3 and 2).
    near3: Avg,
    near2: Avg,
}

impl Rule for ThreeLineStrike {
    const CANDLES: usize = 4;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::Near) + 3
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { near3: r.avg(Setting::Near, 3), near2: r.avg(Setting::Near, 2) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let up = b.white(i - 1);
        let colors = (b.white(i - 3) == up) & (b.white(i - 2) == up) & (b.white(i) != up);
        let opens_near =
            |k: usize, near: f64| (b.open[k] >= b.bottom(k - 1) - near) & (b.open[k] <= b.top(k - 1) + near);
        let near = opens_near(i - 2, b.avg(self.near3, i - 3)) & opens_near(i - 1, b.avg(self.near2, i - 2));
        let (c, o) = (&b.close, &b.open);
        let rising = (c[i - 1] > c[i - 2]) & (c[i - 2] > c[i - 3]) & (o[i] > c[i - 1]) & (c[i] < o[i - 3]);
        let falling = (c[i - 1] < c[i - 2]) & (c[i - 2] < c[i - 3]) & (o[i] < c[i - 1]) & (c[i] > o[i - 3]);
        let found = colors & near;
        100 * i32::from(found & up & rising) - 100 * i32::from(found & !up & falling)
    }

    /// Graded: how far the strike closes past the first open (against the three lines' span) and
    /// how far it opens past the third close (against the third body).
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let span = (b.close[i - 1] - b.open[i - 3]).abs();
        grade::mean(&[
            grade::beyond(b.close[i], b.open[i - 3], span),
            grade::beyond(b.open[i], b.close[i - 1], b.body[i - 1]),
        ])
    }
}

/// Breakaway: a long candle, a same-colour candle whose body gaps away from it, two more candles
/// (the last of the first colour) pushing on with higher (lower) highs and lows, then a candle of
/// the other colour closing back inside the gap. Coded by the last candle's colour: +100 after a
/// slide, −100 after a climb.
pub(super) struct Breakaway {
    long: Avg,
}

impl Rule for Breakaway {
    const CANDLES: usize = 5;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyLong) + 4
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 4) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let up = b.white(i - 4);
        let colors = (b.white(i - 3) == up) & (b.white(i - 1) == up) & (b.white(i) != up);
        let long = b.body[i - 4] > b.avg(self.long, i - 4);
        let (h, l, c) = (&b.high, &b.low, &b.close);
        let slide = b.body_gap_down(i - 3, i - 4)
            & (h[i - 2] < h[i - 3])
            & (l[i - 2] < l[i - 3])
            & (h[i - 1] < h[i - 2])
            & (l[i - 1] < l[i - 2])
            & (c[i] > b.open[i - 3])
            & (c[i] < c[i - 4]);
        let climb = b.body_gap_up(i - 3, i - 4)
            & (h[i - 2] > h[i - 3])
            & (l[i - 2] > l[i - 3])
            & (h[i - 1] > h[i - 2])
            & (l[i - 1] > l[i - 2])
            & (c[i] < b.open[i - 3])
            & (c[i] > c[i - 4]);
        let found = colors & long;
        100 * i32::from(found & !up & slide) - 100 * i32::from(found & up & climb)
    }

    /// Graded: the first body against BodyLong, and how deep into the gap the last candle closes.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let gap = (b.close[i - 4] - b.open[i - 3]).abs();
        grade::mean(&[
            grade::above(b.body[i - 4], b.avg(self.long, i - 4)),
            grade::beyond(b.close[i], b.open[i - 3], gap),
        ])
    }
}

/// Concealing baby swallow: two black marubozu, a black candle gapping down whose upper shadow
/// reaches back into the second body, then a black candle engulfing the third, shadows and all.
/// Always +100 (a bottom).
pub(super) struct ConcealingBabySwallow {
    /// ShadowVeryShort of the first three candles, newest first (offsets 1, 2, 3).
    shadow: [Avg; 3],
}

impl Rule for ConcealingBabySwallow {
    const CANDLES: usize = 4;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::ShadowVeryShort) + 3
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { shadow: consecutive(r, Setting::ShadowVeryShort, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let colors = b.black(i - 3) & b.black(i - 2) & b.black(i - 1) & b.black(i);
        let marubozu = |offset: usize| {
            let (k, t) = (i - offset, b.avg(self.shadow[offset - 1], i - offset));
            (b.lower[k] < t) & (b.upper[k] < t)
        };
        let found = colors
            & marubozu(3)
            & marubozu(2)
            & b.body_gap_down(i - 1, i - 2)
            & (b.upper[i - 1] > b.avg(self.shadow[0], i - 1))
            & (b.high[i - 1] > b.close[i - 2])
            & (b.high[i] > b.high[i - 1])
            & (b.low[i] < b.low[i - 1]);
        100 * i32::from(found)
    }

    /// Graded: how bare the two marubozu are, how long the third candle's upper shadow is, and how
    /// much wider the swallowing candle's range is.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let bare = |offset: usize| {
            let k = i - offset;
            grade::below(b.lower[k].max(b.upper[k]), b.avg(self.shadow[offset - 1], k))
        };
        grade::mean(&[
            bare(3),
            bare(2),
            grade::above(b.upper[i - 1], b.avg(self.shadow[0], i - 1)),
            grade::above(b.range[i], b.range[i - 1]),
        ])
    }
}

/// Up/down-gap side-by-side white lines: after a body gap, two white candles of near-equal size
/// opening at about the same price, both still beyond the gap. +100 after a gap up, −100 after a
/// gap down.
pub(super) struct GapSideBySideWhite {
    near: Avg,
    equal: Avg,
}

impl Rule for GapSideBySideWhite {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::Near).max(s.period(Setting::Equal)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { near: r.avg(Setting::Near, 1), equal: r.avg(Setting::Equal, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let colors = b.white(i - 1) & b.white(i);
        let up = b.body_gap_up(i - 1, i - 2) & b.body_gap_up(i, i - 2);
        let down = b.body_gap_down(i - 1, i - 2) & b.body_gap_down(i, i - 2);
        let (near, equal) = (b.avg(self.near, i - 1), b.avg(self.equal, i - 1));
        let same_size = (b.body[i] >= b.body[i - 1] - near) & (b.body[i] <= b.body[i - 1] + near);
        let same_open = (b.open[i] >= b.open[i - 1] - equal) & (b.open[i] <= b.open[i - 1] + equal);
        let found = colors & same_size & same_open;
        100 * i32::from(found & up) - 100 * i32::from(found & down)
    }

    /// Graded: how alike the two white bodies are in size and in open.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below((b.body[i] - b.body[i - 1]).abs(), b.avg(self.near, i - 1)),
            grade::below((b.open[i] - b.open[i - 1]).abs(), b.avg(self.equal, i - 1)),
        ])
    }
}

/// Ladder bottom: three black candles with lower and lower opens and closes, a fourth black one
/// with an upper shadow, then a white candle opening above the fourth's open and closing above
/// its high. Always +100.
pub(super) struct LadderBottom {
    shadow: Avg,
}

impl Rule for LadderBottom {
    const CANDLES: usize = 5;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::ShadowVeryShort) + 4
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { shadow: r.avg(Setting::ShadowVeryShort, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o, c) = (&b.open, &b.close);
        let found = b.white(i)
            & b.black(i - 1)
            & b.black(i - 2)
            & b.black(i - 3)
            & b.black(i - 4)
            & (o[i - 4] > o[i - 3])
            & (o[i - 3] > o[i - 2])
            & (c[i - 4] > c[i - 3])
            & (c[i - 3] > c[i - 2])
            & (b.upper[i - 1] > b.avg(self.shadow, i - 1))
            & (o[i] > o[i - 1])
            & (c[i] > b.high[i - 1]);
        100 * i32::from(found)
    }

    /// Graded: the fourth candle's upper shadow, and how far the white candle closes above its high.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.upper[i - 1], b.avg(self.shadow, i - 1)),
            grade::beyond(b.close[i], b.high[i - 1], b.body[i]),
        ])
    }
}

/// Mat hold: a long white candle, a small black one gapping up, two more small candles drifting
/// lower but holding in the upper part of the first body (no deeper than `penetration` of it),
/// then a white candle opening above the last close and closing above the pause's highs.
/// Always +100.
pub(super) struct MatHold {
    long: Avg,
    /// BodyShort of the three small candles, newest first (offsets 1, 2, 3).
    short: [Avg; 3],
    penetration: f64,
}

impl Rule for MatHold {
    const CANDLES: usize = 5;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort).max(s.period(Setting::BodyLong)) + 4
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long: r.avg(Setting::BodyLong, 4),
            short: consecutive(r, Setting::BodyShort, 1),
            penetration: r.penetration("CDLMATHOLD", 0.5),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let setup = b.white(i - 4) & b.black(i - 3) & b.white(i) & b.body_gap_up(i - 3, i - 4);
        let floor = b.close[i - 4] - b.body[i - 4] * self.penetration;
        let holds = |k: usize| (b.bottom(k) < b.close[i - 4]) & (b.bottom(k) > floor);
        let highest = b.high[i - 3].max(b.high[i - 2]).max(b.high[i - 1]);
        let small = |k: usize| b.body[i - k] < b.avg(self.short[k - 1], i - k);
        let found = setup
            & holds(i - 2)
            & holds(i - 1)
            & (b.top(i - 2) < b.open[i - 3])
            & (b.top(i - 1) < b.top(i - 2))
            & (b.open[i] > b.close[i - 1])
            & (b.close[i] > highest)
            & (b.body[i - 4] > b.avg(self.long, i - 4))
            & small(1)
            & small(2)
            & small(3);
        100 * i32::from(found)
    }

    /// Graded: the first body against BodyLong, the pause's bodies against BodyShort, and how far
    /// the last candle closes above the pause's highs.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let highest = b.high[i - 3].max(b.high[i - 2]).max(b.high[i - 1]);
        let small = grade::mean(&[1, 2, 3].map(|k| grade::below(b.body[i - k], b.avg(self.short[k - 1], i - k))));
        grade::mean(&[
            grade::above(b.body[i - 4], b.avg(self.long, i - 4)),
            small,
            grade::beyond(b.close[i], highest, b.body[i]),
        ])
    }
}

/// Rising (falling) three methods: a long white (black) candle, three small candles of the other
/// colour drifting against it within its range, then a long candle of the first colour opening
/// beyond the last small close and closing beyond the first close. +100 rising, −100 falling.
pub(super) struct RisingFallingThreeMethods {
    long_first: Avg,
    long_last: Avg,
    /// BodyShort of the three small candles, newest first (offsets 1, 2, 3).
    short: [Avg; 3],
}

impl Rule for RisingFallingThreeMethods {
    const CANDLES: usize = 5;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort).max(s.period(Setting::BodyLong)) + 4
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            long_first: r.avg(Setting::BodyLong, 4),
            long_last: r.avg(Setting::BodyLong, 0),
            short: consecutive(r, Setting::BodyShort, 1),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let up = b.white(i - 4);
        let trend = 2 * i32::from(up) - 1;
        let colors = (b.white(i - 3) != up) & (b.white(i - 2) != up) & (b.white(i - 1) != up) & (b.white(i) == up);
        let within_first = |k: usize| (b.bottom(k) < b.high[i - 4]) & (b.top(k) > b.low[i - 4]);
        let small = |k: usize| b.body[i - k] < b.avg(self.short[k - 1], i - k);
        let (o, c, d) = (&b.open, &b.close, f64::from(trend));
        let found = colors
            & within_first(i - 3)
            & within_first(i - 2)
            & within_first(i - 1)
            & past(d, c[i - 3], c[i - 2])
            & past(d, c[i - 2], c[i - 1])
            & past(d, o[i], c[i - 1])
            & past(d, c[i], c[i - 4])
            & (b.body[i - 4] > b.avg(self.long_first, i - 4))
            & small(1)
            & small(2)
            & small(3)
            & (b.body[i] > b.avg(self.long_last, i));
        trend * 100 * i32::from(found)
    }

    /// Graded: the two long bodies against BodyLong, the small ones against BodyShort, and how far
    /// the last candle closes past the first close.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let small = grade::mean(&[1, 2, 3].map(|k| grade::below(b.body[i - k], b.avg(self.short[k - 1], i - k))));
        grade::mean(&[
            grade::above(b.body[i - 4], b.avg(self.long_first, i - 4)),
            grade::above(b.body[i], b.avg(self.long_last, i)),
            small,
            grade::beyond(b.close[i], b.close[i - 4], b.body[i]),
        ])
    }
}

/// Tasuki gap: after a body gap up (down), a white (black) candle, then a candle of the other
/// colour of about the same size that opens inside it and closes back into the gap without
/// closing it. +100 upside, −100 downside.
pub(super) struct TasukiGap {
    near: Avg,
}

impl Rule for TasukiGap {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::Near) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { near: r.avg(Setting::Near, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (o, c) = (&b.open, &b.close);
        let up = b.white(i - 1);
        let upside = b.body_gap_up(i - 1, i - 2)
            & (o[i] < c[i - 1])
            & (o[i] > o[i - 1])
            & (c[i] < o[i - 1])
            & (c[i] > b.top(i - 2));
        let downside = b.body_gap_down(i - 1, i - 2)
            & (o[i] < o[i - 1])
            & (o[i] > c[i - 1])
            & (c[i] > o[i - 1])
            & (c[i] < b.bottom(i - 2));
        let found = (b.white(i) != up) & ((b.body[i - 1] - b.body[i]).abs() < b.avg(self.near, i - 1));
        100 * i32::from(found & up & upside) - 100 * i32::from(found & !up & downside)
    }

    /// Graded: how alike the two bodies are, and how much of the gap is left open.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let edge = if b.white(i - 1) { b.top(i - 2) } else { b.bottom(i - 2) };
        grade::mean(&[
            grade::below((b.body[i - 1] - b.body[i]).abs(), b.avg(self.near, i - 1)),
            grade::beyond(b.close[i], edge, body_gap(b, i - 1, i - 2)),
        ])
    }
}

/// Upside gap two crows: a long white candle, a small black one gapping up, then a bigger black
/// candle engulfing it but still closing above the white close. Always −100.
pub(super) struct UpsideGapTwoCrows {
    long: Avg,
    short: Avg,
}

impl Rule for UpsideGapTwoCrows {
    const CANDLES: usize = 3;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort).max(s.period(Setting::BodyLong)) + 2
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 2), short: r.avg(Setting::BodyShort, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = b.white(i - 2)
            & b.black(i - 1)
            & b.black(i)
            & b.body_gap_up(i - 1, i - 2)
            & (b.open[i] > b.open[i - 1])
            & (b.close[i] < b.close[i - 1])
            & (b.close[i] > b.close[i - 2])
            & (b.body[i - 2] > b.avg(self.long, i - 2))
            & (b.body[i - 1] <= b.avg(self.short, i - 1));
        -100 * i32::from(found)
    }

    /// Graded: the white body against BodyLong, the first crow against BodyShort, and how far the
    /// second crow engulfs the first.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i - 2], b.avg(self.long, i - 2)),
            grade::below(b.body[i - 1], b.avg(self.short, i - 1)),
            grade::above(b.body[i], b.body[i - 1]),
        ])
    }
}

/// Upside (downside) gap three methods: two white (black) candles with a body gap between them,
/// then a candle of the other colour opening inside the second body and closing inside the
/// first, filling the gap. +100 upside, −100 downside.
pub(super) struct SideGapThreeMethods;

impl Rule for SideGapThreeMethods {
    const CANDLES: usize = 3;

    fn lookback(_: &Settings) -> usize {
        2
    }

    fn new(_: &mut Registrar<'_>) -> Self {
        Self
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let up = b.white(i - 2);
        let colors = (b.white(i - 1) == up) & (b.white(i) != up);
        let (o, c) = (b.open[i], b.close[i]);
        let found = colors & (o < b.top(i - 1)) & (o > b.bottom(i - 1)) & (c < b.top(i - 2)) & (c > b.bottom(i - 2));
        100 * i32::from(found & up & b.body_gap_up(i - 1, i - 2))
            - 100 * i32::from(found & !up & b.body_gap_down(i - 1, i - 2))
    }

    /// Graded: the size of the gap, and how deep into the first body the third candle closes, both
    /// against the first body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let entry = if b.white(i - 2) { b.top(i - 2) } else { b.bottom(i - 2) };
        grade::mean(&[
            grade::beyond(body_gap(b, i - 1, i - 2), 0.0, b.body[i - 2]),
            grade::beyond(b.close[i], entry, b.body[i - 2]),
        ])
    }
}
