//! Patterns judged mostly on one candle (some glance at the one before): dojis, marubozu,
//! hammers, stars, long and short lines.

use super::averages::{Avg, Registrar};
use super::bars::Bars;
use super::catalog::Entry;
use super::grade;
use super::pattern::{Rule, build};
use super::settings::{Setting, Settings};

pub(super) const PATTERNS: &[Entry] = &[
    Entry { name: "CDLBELTHOLD", build: build::<BeltHold> },
    Entry { name: "CDLCLOSINGMARUBOZU", build: build::<ClosingMarubozu> },
    Entry { name: "CDLDOJI", build: build::<Doji> },
    Entry { name: "CDLDRAGONFLYDOJI", build: build::<DragonflyDoji> },
    Entry { name: "CDLGRAVESTONEDOJI", build: build::<GravestoneDoji> },
    Entry { name: "CDLHAMMER", build: build::<Hammer> },
    Entry { name: "CDLHANGINGMAN", build: build::<HangingMan> },
    Entry { name: "CDLHIGHWAVE", build: build::<HighWave> },
    Entry { name: "CDLINVERTEDHAMMER", build: build::<InvertedHammer> },
    Entry { name: "CDLLONGLEGGEDDOJI", build: build::<LongLeggedDoji> },
    Entry { name: "CDLLONGLINE", build: build::<LongLine> },
    Entry { name: "CDLMARUBOZU", build: build::<Marubozu> },
    Entry { name: "CDLRICKSHAWMAN", build: build::<RickshawMan> },
    Entry { name: "CDLSHOOTINGSTAR", build: build::<ShootingStar> },
    Entry { name: "CDLSHORTLINE", build: build::<ShortLine> },
    Entry { name: "CDLSPINNINGTOP", build: build::<SpinningTop> },
    Entry { name: "CDLTAKURI", build: build::<Takuri> },
];

// Shared geometry. Each test compares a candle measure with a threshold exactly as TA-Lib does
// (the same measure, the same strictness), so the patterns below read as their definitions.

/// The longest averaging period of `settings`: the lookback of a one-candle pattern.
fn longest(s: &Settings, settings: &[Setting]) -> usize {
    settings.iter().map(|&setting| s.period(setting)).max().unwrap_or(0)
}

// Every test below is branch-free: conditions combine with non-short-circuit `&` and `|` and the
// code is computed from the result, so unpredictable real prices cost no mispredictions.

/// TA-Lib's candle colour, +1 white or −1 black, computed rather than chosen.
#[inline(always)]
fn color(b: &Bars, i: usize) -> i32 {
    2 * i32::from(b.white(i)) - 1
}

/// A real body no bigger than the doji threshold.
#[inline(always)]
fn is_doji(b: &Bars, doji: Avg, i: usize) -> bool {
    b.body[i] <= b.avg(doji, i)
}

/// A real body longer than the long-body threshold.
#[inline(always)]
fn is_long(b: &Bars, long: Avg, i: usize) -> bool {
    b.body[i] > b.avg(long, i)
}

/// A real body shorter than the short-body threshold.
#[inline(always)]
fn is_short(b: &Bars, short: Avg, i: usize) -> bool {
    b.body[i] < b.avg(short, i)
}

/// The shadow on the side the candle opened: the lower one of a white candle, the upper of a black.
#[inline]
fn opening_shadow(b: &Bars, i: usize) -> f64 {
    if b.white(i) { b.lower[i] } else { b.upper[i] }
}

/// The shadow on the side the candle closed: the upper one of a white candle, the lower of a black.
#[inline]
fn closing_shadow(b: &Bars, i: usize) -> f64 {
    if b.white(i) { b.upper[i] } else { b.lower[i] }
}

/// Both shadows shorter than `threshold`.
#[inline(always)]
fn both_shadows_below(b: &Bars, threshold: f64, i: usize) -> bool {
    (b.upper[i] < threshold) & (b.lower[i] < threshold)
}

/// Both shadows longer than `threshold`.
#[inline(always)]
fn both_shadows_above(b: &Bars, threshold: f64, i: usize) -> bool {
    (b.upper[i] > threshold) & (b.lower[i] > threshold)
}

/// How far the longer shadow stays under `threshold` (grades `both_shadows_below`).
#[inline]
fn grade_shadows_below(b: &Bars, threshold: f64, i: usize) -> f64 {
    grade::below(b.upper[i].max(b.lower[i]), threshold)
}

/// How far the shorter shadow clears `threshold` (grades `both_shadows_above`).
#[inline]
fn grade_shadows_above(b: &Bars, threshold: f64, i: usize) -> f64 {
    grade::above(b.upper[i].min(b.lower[i]), threshold)
}

/// The thresholds of a long body with (almost) no shadow: the marubozu family.
struct LongBodyNoShadow {
    long: Avg,
    very_short: Avg,
}

impl LongBodyNoShadow {
    const SETTINGS: [Setting; 2] = [Setting::BodyLong, Setting::ShadowVeryShort];

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 0), very_short: r.avg(Setting::ShadowVeryShort, 0) }
    }

    /// `shadow` is very short.
    #[inline(always)]
    fn very_short(&self, b: &Bars, i: usize, shadow: f64) -> bool {
        shadow < b.avg(self.very_short, i)
    }

    /// The shadow on the side given by the candle's colour (`on_white` for a white candle,
    /// `on_black` for a black one) is very short. Both are tested and the colour picks between
    /// the answers: selecting the shadow itself would make a branch of the load.
    #[inline(always)]
    fn very_short_by_color(&self, b: &Bars, i: usize, on_white: f64, on_black: f64) -> bool {
        let white = b.white(i);
        (white & self.very_short(b, i, on_white)) | (!white & self.very_short(b, i, on_black))
    }

    /// A long body whose shadow in question is very short (`very_short_shadow`).
    #[inline(always)]
    fn at(&self, b: &Bars, i: usize, very_short_shadow: bool) -> i32 {
        let found = very_short_shadow & is_long(b, self.long, i);
        i32::from(found) * color(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize, shadow: f64) -> f64 {
        grade::mean(&[grade::above(b.body[i], b.avg(self.long, i)), grade::below(shadow, b.avg(self.very_short, i))])
    }
}

/// The thresholds of a small body with one long shadow and hardly any other: hammers and stars.
struct OneLongShadow {
    short: Avg,
    long: Avg,
    very_short: Avg,
}

impl OneLongShadow {
    const SETTINGS: [Setting; 3] = [Setting::BodyShort, Setting::ShadowLong, Setting::ShadowVeryShort];

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            short: r.avg(Setting::BodyShort, 0),
            long: r.avg(Setting::ShadowLong, 0),
            very_short: r.avg(Setting::ShadowVeryShort, 0),
        }
    }

    /// Small body, long lower shadow, very short upper shadow.
    #[inline(always)]
    fn hammer(&self, b: &Bars, i: usize) -> bool {
        (b.upper[i] < b.avg(self.very_short, i)) & (b.lower[i] > b.avg(self.long, i)) & is_short(b, self.short, i)
    }

    /// Small body, long upper shadow, very short lower shadow.
    #[inline(always)]
    fn inverted(&self, b: &Bars, i: usize) -> bool {
        (b.lower[i] < b.avg(self.very_short, i)) & (b.upper[i] > b.avg(self.long, i)) & is_short(b, self.short, i)
    }

    /// Grades of the body, the long shadow and the short shadow.
    fn grades(&self, b: &Bars, i: usize, long_shadow: f64, short_shadow: f64) -> [f64; 3] {
        [
            grade::below(b.body[i], b.avg(self.short, i)),
            grade::above(long_shadow, b.avg(self.long, i)),
            grade::below(short_shadow, b.avg(self.very_short, i)),
        ]
    }
}

/// Belt hold: a long body that opens at its extreme, with (almost) no shadow at the open — a
/// white one opening on its low (+100, bullish) or a black one opening on its high (−100, bearish).
pub(super) struct BeltHold(LongBodyNoShadow);

impl Rule for BeltHold {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &LongBodyNoShadow::SETTINGS)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(LongBodyNoShadow::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        self.0.at(b, i, self.0.very_short_by_color(b, i, b.lower[i], b.upper[i]))
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i, opening_shadow(b, i))
    }
}

/// Closing marubozu: a long body that closes at its extreme, with (almost) no shadow at the close —
/// a white one closing on its high (+100) or a black one closing on its low (−100).
pub(super) struct ClosingMarubozu(LongBodyNoShadow);

impl Rule for ClosingMarubozu {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &LongBodyNoShadow::SETTINGS)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(LongBodyNoShadow::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        self.0.at(b, i, self.0.very_short_by_color(b, i, b.upper[i], b.lower[i]))
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i, closing_shadow(b, i))
    }
}

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

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(is_doji(b, self.doji, i)) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::below(b.body[i], b.avg(self.doji, i))
    }
}

/// Dragonfly doji: open and close at the high of the bar with a real lower shadow below — a "T".
/// Always +100; read it against the trend (a bottom after a fall, a warning after a rise).
pub(super) struct DragonflyDoji {
    doji: Avg,
    very_short: Avg,
}

impl Rule for DragonflyDoji {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyDoji, Setting::ShadowVeryShort])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 0), very_short: r.avg(Setting::ShadowVeryShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let very_short = b.avg(self.very_short, i);
        let found = is_doji(b, self.doji, i) & (b.upper[i] < very_short) & (b.lower[i] > very_short);
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let very_short = b.avg(self.very_short, i);
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade::below(b.upper[i], very_short),
            grade::above(b.lower[i], very_short),
        ])
    }
}

/// Gravestone doji: open and close at the low of the bar with a real upper shadow above — an
/// upside-down "T". Always +100; read it against the trend (a top after a rise).
pub(super) struct GravestoneDoji {
    doji: Avg,
    very_short: Avg,
}

impl Rule for GravestoneDoji {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyDoji, Setting::ShadowVeryShort])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 0), very_short: r.avg(Setting::ShadowVeryShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let very_short = b.avg(self.very_short, i);
        let found = is_doji(b, self.doji, i) & (b.lower[i] < very_short) & (b.upper[i] > very_short);
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let very_short = b.avg(self.very_short, i);
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade::below(b.lower[i], very_short),
            grade::above(b.upper[i], very_short),
        ])
    }
}

/// Hammer: a small body at the top of the bar, a long lower shadow, hardly any upper shadow, the
/// body at or near the previous candle's low. Always +100 (bullish when it ends a decline).
pub(super) struct Hammer {
    shape: OneLongShadow,
    near: Avg,
}

impl Rule for Hammer {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest(s, &OneLongShadow::SETTINGS).max(s.period(Setting::Near)) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { shape: OneLongShadow::new(r), near: r.avg(Setting::Near, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let near_prior_low = b.bottom(i) <= b.low[i - 1] + b.avg(self.near, i - 1);
        i32::from(near_prior_low & self.shape.hammer(b, i)) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [body, long, short] = self.shape.grades(b, i, b.lower[i], b.upper[i]);
        let near = grade::below(b.bottom(i) - b.low[i - 1], b.avg(self.near, i - 1));
        grade::mean(&[body, long, short, near])
    }
}

/// Hanging man: the hammer's shape — small body on top, long lower shadow — but with the body at
/// or near the previous candle's high. Always −100 (bearish when it comes after a rise).
pub(super) struct HangingMan {
    shape: OneLongShadow,
    near: Avg,
}

impl Rule for HangingMan {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest(s, &OneLongShadow::SETTINGS).max(s.period(Setting::Near)) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { shape: OneLongShadow::new(r), near: r.avg(Setting::Near, 1) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let near_prior_high = b.bottom(i) >= b.high[i - 1] - b.avg(self.near, i - 1);
        i32::from(near_prior_high & self.shape.hammer(b, i)) * -100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [body, long, short] = self.shape.grades(b, i, b.lower[i], b.upper[i]);
        let near = grade::below(b.high[i - 1] - b.bottom(i), b.avg(self.near, i - 1));
        grade::mean(&[body, long, short, near])
    }
}

/// High wave: a small body with very long shadows on both sides — a market that swung hard both
/// ways and went nowhere. +100 for a white candle, −100 for a black one (colour, not direction).
pub(super) struct HighWave {
    short: Avg,
    very_long: Avg,
}

impl Rule for HighWave {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyShort, Setting::ShadowVeryLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { short: r.avg(Setting::BodyShort, 0), very_long: r.avg(Setting::ShadowVeryLong, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = both_shadows_above(b, b.avg(self.very_long, i), i) & is_short(b, self.short, i);
        i32::from(found) * color(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.short, i)),
            grade_shadows_above(b, b.avg(self.very_long, i), i),
        ])
    }
}

/// Inverted hammer: a small body at the bottom of the bar with a long upper shadow and hardly any
/// lower one, its body gapping down from the previous body. Always +100 (bullish after a decline).
pub(super) struct InvertedHammer(OneLongShadow);

impl Rule for InvertedHammer {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest(s, &OneLongShadow::SETTINGS) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(OneLongShadow::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(b.body_gap_down(i, i - 1) & self.0.inverted(b, i)) * 100
    }

    /// Also grades the body gap, against the average short body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [body, long, short] = self.0.grades(b, i, b.upper[i], b.lower[i]);
        let gap = grade::beyond(b.top(i), b.bottom(i - 1), b.avg(self.0.short, i));
        grade::mean(&[body, long, short, gap])
    }
}

/// Long-legged doji: a doji with at least one long shadow — wide indecision. Always +100.
pub(super) struct LongLeggedDoji {
    doji: Avg,
    long: Avg,
}

impl Rule for LongLeggedDoji {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyDoji, Setting::ShadowLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 0), long: r.avg(Setting::ShadowLong, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let long = b.avg(self.long, i);
        let found = is_doji(b, self.doji, i) & ((b.lower[i] > long) | (b.upper[i] > long));
        i32::from(found) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade::above(b.upper[i].max(b.lower[i]), b.avg(self.long, i)),
        ])
    }
}

/// Long line: a long body with short shadows on both ends — one side in control all bar. +100
/// white (bullish), −100 black (bearish).
pub(super) struct LongLine {
    long: Avg,
    short_shadow: Avg,
}

impl Rule for LongLine {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyLong, Setting::ShadowShort])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { long: r.avg(Setting::BodyLong, 0), short_shadow: r.avg(Setting::ShadowShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = is_long(b, self.long, i) & both_shadows_below(b, b.avg(self.short_shadow, i), i);
        i32::from(found) * color(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::above(b.body[i], b.avg(self.long, i)),
            grade_shadows_below(b, b.avg(self.short_shadow, i), i),
        ])
    }
}

/// Marubozu: a long body with (almost) no shadow at either end — open and close are the bar's
/// extremes. +100 white (bullish), −100 black (bearish).
pub(super) struct Marubozu(LongBodyNoShadow);

impl Rule for Marubozu {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &LongBodyNoShadow::SETTINGS)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(LongBodyNoShadow::new(r))
    }

    // Both shadows very short: the longer one is.
    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        self.0.at(b, i, self.0.very_short(b, i, b.upper[i].max(b.lower[i])))
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        self.0.quality(b, i, b.upper[i].max(b.lower[i]))
    }
}

/// Rickshaw man: a doji with two long shadows and its body near the middle of the bar — the
/// long-legged doji at its most undecided. Always +100.
pub(super) struct RickshawMan {
    doji: Avg,
    long: Avg,
    near: Avg,
}

impl Rule for RickshawMan {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyDoji, Setting::ShadowLong, Setting::Near])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { doji: r.avg(Setting::BodyDoji, 0), long: r.avg(Setting::ShadowLong, 0), near: r.avg(Setting::Near, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let (midpoint, near) = (b.low[i] + b.range[i] / 2.0, b.avg(self.near, i));
        let found = is_doji(b, self.doji, i)
            & both_shadows_above(b, b.avg(self.long, i), i)
            & (b.bottom(i) <= midpoint + near)
            & (b.top(i) >= midpoint - near);
        i32::from(found) * 100
    }

    /// Also grades how close the body comes to the bar's midpoint, against Near.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let midpoint = b.low[i] + b.range[i] / 2.0;
        let off_centre = (b.bottom(i) - midpoint).max(midpoint - b.top(i)).max(0.0);
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade_shadows_above(b, b.avg(self.long, i), i),
            grade::below(off_centre, b.avg(self.near, i)),
        ])
    }
}

/// Shooting star: a small body at the bottom of the bar with a long upper shadow and hardly any
/// lower one, its body gapping up from the previous body. Always −100 (bearish after a rise).
pub(super) struct ShootingStar(OneLongShadow);

impl Rule for ShootingStar {
    const CANDLES: usize = 2;

    fn lookback(s: &Settings) -> usize {
        longest(s, &OneLongShadow::SETTINGS) + 1
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self(OneLongShadow::new(r))
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        i32::from(b.body_gap_up(i, i - 1) & self.0.inverted(b, i)) * -100
    }

    /// Also grades the body gap, against the average short body.
    fn quality(&self, b: &Bars, i: usize) -> f64 {
        let [body, long, short] = self.0.grades(b, i, b.upper[i], b.lower[i]);
        let gap = grade::beyond(b.bottom(i), b.top(i - 1), b.avg(self.0.short, i));
        grade::mean(&[body, long, short, gap])
    }
}

/// Short line: a short body with short shadows — a quiet bar. +100 white, −100 black (colour,
/// not direction).
pub(super) struct ShortLine {
    short: Avg,
    short_shadow: Avg,
}

impl Rule for ShortLine {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyShort, Setting::ShadowShort])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { short: r.avg(Setting::BodyShort, 0), short_shadow: r.avg(Setting::ShadowShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = both_shadows_below(b, b.avg(self.short_shadow, i), i) & is_short(b, self.short, i);
        i32::from(found) * color(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.short, i)),
            grade_shadows_below(b, b.avg(self.short_shadow, i), i),
        ])
    }
}

/// Spinning top: a small body with both shadows longer than the body — indecision. +100 white,
/// −100 black (colour, not direction).
pub(super) struct SpinningTop {
    short: Avg,
}

impl Rule for SpinningTop {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        s.period(Setting::BodyShort)
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self { short: r.avg(Setting::BodyShort, 0) }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let found = both_shadows_above(b, b.body[i], i) & is_short(b, self.short, i);
        i32::from(found) * color(b, i) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[grade::below(b.body[i], b.avg(self.short, i)), grade_shadows_above(b, b.body[i], i)])
    }
}

/// Takuri: a dragonfly doji whose lower shadow is very long — open and close at the high after a
/// deep dip that was bought back. Always +100.
pub(super) struct Takuri {
    doji: Avg,
    very_short: Avg,
    very_long: Avg,
}

impl Rule for Takuri {
    const CANDLES: usize = 1;

    fn lookback(s: &Settings) -> usize {
        longest(s, &[Setting::BodyDoji, Setting::ShadowVeryShort, Setting::ShadowVeryLong])
    }

    fn new(r: &mut Registrar<'_>) -> Self {
        Self {
            doji: r.avg(Setting::BodyDoji, 0),
            very_short: r.avg(Setting::ShadowVeryShort, 0),
            very_long: r.avg(Setting::ShadowVeryLong, 0),
        }
    }

    #[inline(always)]
    fn at(&self, b: &Bars, i: usize) -> i32 {
        let shape = (b.upper[i] < b.avg(self.very_short, i)) & (b.lower[i] > b.avg(self.very_long, i));
        i32::from(shape & is_doji(b, self.doji, i)) * 100
    }

    fn quality(&self, b: &Bars, i: usize) -> f64 {
        grade::mean(&[
            grade::below(b.body[i], b.avg(self.doji, i)),
            grade::below(b.upper[i], b.avg(self.very_short, i)),
            grade::above(b.lower[i], b.avg(self.very_long, i)),
        ])
    }
}
