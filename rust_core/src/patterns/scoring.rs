//! Graded scores: beyond TA-Lib's yes/no, how good is a detected pattern?
//!
//! - quality: how decisively the candles clear the thresholds defining the pattern (each
//!   pattern grades itself, see `grade`);
//! - volume: the signal bar's volume against the mean of the `volume_period` bars before it,
//!   0.5 at the mean and 1 at twice it (0.5 when there is no volume);
//! - trend: whether the trend before the pattern is the one the pattern needs — the opposite of
//!   its direction for a reversal, the same for a continuation — judged by the slope of an EMA
//!   over `slope_bars` bars and weighted by ADX strength: 0.5 ± 0.5 × min(ADX / adx_full, 1);
//! - confidence: the weighted sum; a signal is accepted when it has a direction and clears every
//!   minimum. Size multiplier and stop distances follow from confidence and pattern height.

use super::bars::{BLOCK, Bars};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct ScoreConfig {
    pub volume_period: usize,
    pub ema_period: usize,
    pub slope_bars: usize,
    pub adx_period: usize,
    /// ADX at which the trend counts fully.
    pub adx_full: f64,
    pub weight_quality: f64,
    pub weight_volume: f64,
    pub weight_trend: f64,
    pub min_quality: f64,
    pub min_confidence: f64,
    pub min_volume: f64,
    pub min_trend: f64,
    /// Confidence above which the size multiplier is 1.0 (else 0.75 down to `size_medium`).
    pub size_full: f64,
    /// Confidence from which the size multiplier is 0.75 (else 0.5).
    pub size_medium: f64,
    /// Stop distances as fractions of the pattern's height.
    pub stop_tight: f64,
    pub stop_wide: f64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            volume_period: 20,
            ema_period: 20,
            slope_bars: 5,
            adx_period: 14,
            adx_full: 50.0,
            weight_quality: 0.4,
            weight_volume: 0.3,
            weight_trend: 0.3,
            min_quality: 0.5,
            min_confidence: 0.6,
            min_volume: 0.4,
            min_trend: 0.7,
            size_full: 0.8,
            size_medium: 0.6,
            stop_tight: 0.5,
            stop_wide: 1.0,
        }
    }
}

impl ScoreConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in
            [("volume_period", self.volume_period), ("ema_period", self.ema_period), ("adx_period", self.adx_period)]
        {
            if v == 0 || v > 10_000 {
                return Err(Error::argument("scoring", format!("{name} must be 1..=10000, got {v}")));
            }
        }
        if self.slope_bars == 0 || self.slope_bars > 100 {
            return Err(Error::argument("scoring", format!("slope_bars must be 1..=100, got {}", self.slope_bars)));
        }
        for (name, v) in [
            ("adx_full", self.adx_full),
            ("weight_quality", self.weight_quality),
            ("weight_volume", self.weight_volume),
            ("weight_trend", self.weight_trend),
            ("min_quality", self.min_quality),
            ("min_confidence", self.min_confidence),
            ("min_volume", self.min_volume),
            ("min_trend", self.min_trend),
            ("size_full", self.size_full),
            ("size_medium", self.size_medium),
            ("stop_tight", self.stop_tight),
            ("stop_wide", self.stop_wide),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::argument("scoring", format!("{name} must be a finite number >= 0, got {v}")));
            }
        }
        Ok(())
    }
}

/// What a pattern says about the market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ends the trend before it.
    Reversal,
    /// Resumes the trend before it.
    Continuation,
    /// No direction of its own (dojis, spinning tops, ...).
    Indecision,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reversal => "reversal",
            Kind::Continuation => "continuation",
            Kind::Indecision => "indecision",
        }
    }
}

/// The kind of a pattern and, for those TA-Lib always reports as +100 or −100 though they
/// have a conventional direction, that direction.
pub fn meaning(name: &str) -> (Kind, Option<i8>) {
    use Kind::*;
    match name {
        "CDLDOJI" | "CDLLONGLEGGEDDOJI" | "CDLRICKSHAWMAN" | "CDLSPINNINGTOP" | "CDLHIGHWAVE" | "CDLSHORTLINE" => {
            (Indecision, None)
        }
        "CDLDRAGONFLYDOJI" | "CDLTAKURI" | "CDLHAMMER" | "CDLINVERTEDHAMMER" => (Reversal, Some(1)),
        "CDLGRAVESTONEDOJI" | "CDLHANGINGMAN" | "CDLSHOOTINGSTAR" => (Reversal, Some(-1)),
        "CDLGAPSIDESIDEWHITE"
        | "CDLINNECK"
        | "CDLONNECK"
        | "CDLTHRUSTING"
        | "CDLMATHOLD"
        | "CDLRISEFALL3METHODS"
        | "CDLSEPARATINGLINES"
        | "CDLTASUKIGAP"
        | "CDLXSIDEGAP3METHODS"
        | "CDL3LINESTRIKE"
        | "CDLHIKKAKE"
        | "CDLHIKKAKEMOD"
        | "CDLCLOSINGMARUBOZU"
        | "CDLMARUBOZU"
        | "CDLLONGLINE" => (Continuation, None),
        _ => (Reversal, None),
    }
}

/// One detected pattern, graded.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Bar number in the series.
    pub bar: u64,
    /// Index into the engine's pattern names.
    pub pattern: usize,
    pub code: i32,
    /// +1 bullish, −1 bearish, 0 none.
    pub direction: i8,
    pub quality: f64,
    pub volume: f64,
    pub trend: f64,
    pub confidence: f64,
    pub accepted: bool,
    pub size_multiplier: f64,
    /// High of the pattern's candles minus their low.
    pub height: f64,
    pub stop_tight: f64,
    pub stop_wide: f64,
}

/// A detected pattern, before grading: index and name in the engine, candles spanned, code and
/// its own quality grade.
pub(crate) struct Found<'a> {
    pub pattern: usize,
    pub name: &'a str,
    pub candles: usize,
    pub code: i32,
    pub quality: f64,
}

/// Per-bar state the grades read: EMA, ADX and volume, kept for the bars still in reach.
#[derive(Clone, Debug)]
pub struct Scorer {
    config: ScoreConfig,
    ema: super::indicators::Ema,
    adx: super::indicators::Adx,
    /// Rings by bar number: EMA, ADX (NaN until warm) and volume (NaN when absent).
    ema_at: Vec<f64>,
    adx_at: Vec<f64>,
    volume_at: Vec<f64>,
    mask: usize,
}

impl Scorer {
    pub fn new(config: ScoreConfig) -> Result<Self> {
        config.validate()?;
        let reach = BLOCK + config.volume_period.max(config.slope_bars + 8) + 8;
        let size = reach.next_power_of_two();
        Ok(Self {
            ema: super::indicators::Ema::new(config.ema_period),
            adx: super::indicators::Adx::new(config.adx_period),
            config,
            ema_at: vec![f64::NAN; size],
            adx_at: vec![f64::NAN; size],
            volume_at: vec![f64::NAN; size],
            mask: size - 1,
        })
    }

    pub fn config(&self) -> &ScoreConfig {
        &self.config
    }

    /// Takes in the bars at positions `from..to` (already loaded) and their volumes.
    pub(crate) fn observe(&mut self, bars: &Bars, from: usize, to: usize, volume: Option<&[f64]>) {
        for i in from..to {
            let slot = bars.index(i) as usize & self.mask;
            self.ema_at[slot] = self.ema.push(bars.close[i]).unwrap_or(f64::NAN);
            self.adx_at[slot] = self.adx.push(bars.high[i], bars.low[i], bars.close[i]).unwrap_or(f64::NAN);
            self.volume_at[slot] = volume.map_or(f64::NAN, |v| v[i - from]);
        }
    }

    fn at(&self, ring: &[f64], bar: i64) -> f64 {
        if bar < 0 { f64::NAN } else { ring[bar as usize & self.mask] }
    }

    fn volume_score(&self, bar: i64) -> f64 {
        let volume = self.at(&self.volume_at, bar);
        if volume.is_nan() {
            return 0.5;
        }
        let (mut sum, mut count) = (0.0, 0);
        for past in (bar - self.config.volume_period as i64..bar).filter(|b| *b >= 0) {
            let v = self.at(&self.volume_at, past);
            if !v.is_nan() {
                sum += v;
                count += 1;
            }
        }
        if count == 0 || sum <= 0.0 {
            return 0.5;
        }
        (volume / (sum / count as f64) / 2.0).clamp(0.0, 1.0)
    }

    fn trend_score(&self, kind: Kind, direction: i8, before: i64) -> f64 {
        if kind == Kind::Indecision || direction == 0 {
            return 0.5;
        }
        let (now, then) =
            (self.at(&self.ema_at, before), self.at(&self.ema_at, before - self.config.slope_bars as i64));
        let adx = self.at(&self.adx_at, before);
        let slope = now - then;
        if slope.is_nan() || adx.is_nan() || slope == 0.0 {
            return 0.5;
        }
        let prior: i8 = if slope > 0.0 { 1 } else { -1 };
        let wanted = if kind == Kind::Reversal { -direction } else { direction };
        let strength = if self.config.adx_full > 0.0 { (adx / self.config.adx_full).min(1.0) } else { 1.0 };
        let sign = if prior == wanted { 1.0 } else { -1.0 };
        0.5 + 0.5 * strength * sign
    }

    /// Grades a pattern found at position `i`.
    pub(crate) fn grade(&self, bars: &Bars, i: usize, found: Found<'_>) -> Signal {
        let Found { pattern, name, candles, code, quality } = found;
        let c = &self.config;
        let (kind, bias) = meaning(name);
        let direction = if kind == Kind::Indecision { 0 } else { bias.unwrap_or(code.signum() as i8) };
        let bar = bars.index(i);
        let quality = quality.clamp(0.0, 1.0);
        let volume = self.volume_score(bar);
        let trend = self.trend_score(kind, direction, bar - candles as i64);
        let confidence = c.weight_quality * quality + c.weight_volume * volume + c.weight_trend * trend;
        let accepted = direction != 0
            && quality >= c.min_quality
            && confidence >= c.min_confidence
            && volume >= c.min_volume
            && trend >= c.min_trend;
        let size_multiplier = if confidence > c.size_full {
            1.0
        } else if confidence >= c.size_medium {
            0.75
        } else {
            0.5
        };
        let first = i + 1 - candles.min(i + 1);
        let high = bars.high[first..=i].iter().copied().fold(f64::MIN, f64::max);
        let low = bars.low[first..=i].iter().copied().fold(f64::MAX, f64::min);
        let height = high - low;
        Signal {
            bar: bar as u64,
            pattern,
            code,
            direction,
            quality,
            volume,
            trend,
            confidence,
            accepted,
            size_multiplier,
            height,
            stop_tight: c.stop_tight * height,
            stop_wide: c.stop_wide * height,
        }
    }
}
