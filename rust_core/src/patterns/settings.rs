//! Candle settings: what "long body", "doji", "near" ... mean, as TA-Lib defines them. Each
//! setting compares a candle's measure with `factor` × the average of a range over the `period`
//! candles before it (or over the candle itself when `period` is 0).

use crate::error::{Error, Result};

/// Which candle measure a setting averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeType {
    /// |close − open|
    RealBody,
    /// high − low
    HighLow,
    /// upper + lower shadow; its average is halved (one shadow's worth)
    Shadows,
}

impl RangeType {
    pub const ALL: [RangeType; 3] = [RangeType::RealBody, RangeType::HighLow, RangeType::Shadows];

    pub fn name(self) -> &'static str {
        match self {
            RangeType::RealBody => "RealBody",
            RangeType::HighLow => "HighLow",
            RangeType::Shadows => "Shadows",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::argument("range_type", format!("'{name}' is not one of RealBody, HighLow, Shadows")))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The eleven settings, in TA-Lib's order (`TA_CandleSettingType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    BodyLong,
    BodyVeryLong,
    BodyShort,
    BodyDoji,
    ShadowLong,
    ShadowVeryLong,
    ShadowShort,
    ShadowVeryShort,
    Near,
    Far,
    Equal,
}

impl Setting {
    pub const ALL: [Setting; 11] = [
        Setting::BodyLong,
        Setting::BodyVeryLong,
        Setting::BodyShort,
        Setting::BodyDoji,
        Setting::ShadowLong,
        Setting::ShadowVeryLong,
        Setting::ShadowShort,
        Setting::ShadowVeryShort,
        Setting::Near,
        Setting::Far,
        Setting::Equal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Setting::BodyLong => "BodyLong",
            Setting::BodyVeryLong => "BodyVeryLong",
            Setting::BodyShort => "BodyShort",
            Setting::BodyDoji => "BodyDoji",
            Setting::ShadowLong => "ShadowLong",
            Setting::ShadowVeryLong => "ShadowVeryLong",
            Setting::ShadowShort => "ShadowShort",
            Setting::ShadowVeryShort => "ShadowVeryShort",
            Setting::Near => "Near",
            Setting::Far => "Far",
            Setting::Equal => "Equal",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::argument("setting", format!("'{name}' is not a candle setting")))
    }
}

/// One setting: average `range` over `period` candles, times `factor`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandleSetting {
    pub range: RangeType,
    pub period: usize,
    pub factor: f64,
}

/// The patterns with a `penetration` parameter, and TA-Lib's default for it.
pub const PENETRATION: [(&str, f64); 7] = [
    ("CDLABANDONEDBABY", 0.3),
    ("CDLDARKCLOUDCOVER", 0.5),
    ("CDLEVENINGDOJISTAR", 0.3),
    ("CDLEVENINGSTAR", 0.3),
    ("CDLMATHOLD", 0.5),
    ("CDLMORNINGDOJISTAR", 0.3),
    ("CDLMORNINGSTAR", 0.3),
];

/// The longest averaging period accepted; longer ones would only cost memory.
pub const MAX_PERIOD: usize = 100_000;

/// All eleven settings plus the `penetration` parameters of the patterns that take one.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    candle: [CandleSetting; 11],
    penetration: Vec<(&'static str, f64)>,
}

impl Default for Settings {
    /// TA-Lib's defaults (`TA_CandleDefaultSettings`).
    fn default() -> Self {
        use RangeType::*;
        let s = |range, period, factor| CandleSetting { range, period, factor };
        Self {
            candle: [
                s(RealBody, 10, 1.0), // BodyLong
                s(RealBody, 10, 3.0), // BodyVeryLong
                s(RealBody, 10, 1.0), // BodyShort
                s(HighLow, 10, 0.1),  // BodyDoji
                s(RealBody, 0, 1.0),  // ShadowLong
                s(RealBody, 0, 2.0),  // ShadowVeryLong
                s(Shadows, 10, 1.0),  // ShadowShort
                s(HighLow, 10, 0.1),  // ShadowVeryShort
                s(HighLow, 5, 0.2),   // Near
                s(HighLow, 5, 0.6),   // Far
                s(HighLow, 5, 0.05),  // Equal
            ],
            penetration: Vec::new(),
        }
    }
}

impl Settings {
    pub fn get(&self, setting: Setting) -> CandleSetting {
        self.candle[setting as usize]
    }

    pub fn period(&self, setting: Setting) -> usize {
        self.get(setting).period
    }

    /// Replaces one setting (TA-Lib's `TA_SetCandleSettings`).
    pub fn set(&mut self, setting: Setting, value: CandleSetting) -> Result<()> {
        if value.period > MAX_PERIOD {
            return Err(Error::argument(
                "period",
                format!("{} for {} is over {MAX_PERIOD}", value.period, setting.name()),
            ));
        }
        if !value.factor.is_finite() || value.factor < 0.0 {
            return Err(Error::argument(
                "factor",
                format!("{} for {} is not a finite number >= 0", value.factor, setting.name()),
            ));
        }
        self.candle[setting as usize] = value;
        Ok(())
    }

    /// Sets the `penetration` of one pattern (a fraction of a real body, TA-Lib's `optInPenetration`).
    pub fn set_penetration(&mut self, pattern: &str, value: f64) -> Result<()> {
        let Some(&(pattern, _)) = PENETRATION.iter().find(|(name, _)| name.eq_ignore_ascii_case(pattern)) else {
            let known: Vec<&str> = PENETRATION.iter().map(|(name, _)| *name).collect();
            return Err(Error::argument(
                "penetration",
                format!("'{pattern}' takes no penetration; these do: {}", known.join(", ")),
            ));
        };
        if !value.is_finite() || value < 0.0 {
            return Err(Error::argument("penetration", format!("{value} for {pattern} is not a finite number >= 0")));
        }
        self.penetration.retain(|(name, _)| *name != pattern);
        self.penetration.push((pattern, value));
        Ok(())
    }

    /// The penetration of `pattern`, or its TA-Lib default.
    pub fn penetration(&self, pattern: &str, default: f64) -> f64 {
        self.penetration.iter().find(|(name, _)| *name == pattern).map_or(default, |(_, v)| *v)
    }
}
