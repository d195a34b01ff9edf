//! Bar lengths (`1s` … `1w`) and how time is cut into bars.
//!
//! Bars are aligned like exchange klines: to the Unix epoch for seconds … days, and to Monday
//! 00:00 UTC for weeks (the epoch fell on a Thursday). Calendar months are not fixed-length and
//! are not supported.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// 1970-01-05, the first Monday after the epoch.
const MONDAY: i64 = 4 * DAY;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeframe {
    /// Bar length in milliseconds.
    ms: i64,
}

impl Timeframe {
    pub fn from_ms(ms: i64) -> Result<Self> {
        if ms < SECOND || ms % SECOND != 0 {
            return Err(Error::argument("timeframe", format!("{ms} ms is not a whole number of seconds")));
        }
        Ok(Self { ms })
    }

    pub fn ms(self) -> i64 {
        self.ms
    }

    /// Where the bars' boundaries are anchored.
    pub fn anchor(self) -> i64 {
        if self.ms % WEEK == 0 { MONDAY } else { 0 }
    }

    /// Start of the bar containing `ts_ms`.
    #[inline]
    pub fn start_of(self, ts_ms: i64) -> i64 {
        let anchor = self.anchor();
        ts_ms - (ts_ms - anchor).rem_euclid(self.ms)
    }
}

impl FromStr for Timeframe {
    type Err = Error;

    /// `<n><unit>` with unit `s`, `m`, `h`, `d` or `w`, e.g. `1m`, `15m`, `4h`, `1d`, `1w`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::argument("timeframe", format!("'{text}': {why}"));
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| bad("missing unit (s, m, h, d, w)"))?;
        let (count, unit) = text.split_at(split);
        let count: i64 = count.parse().map_err(|_| bad("expected a count before the unit, e.g. 15m"))?;
        let unit_ms = match unit {
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => WEEK,
            "M" => return Err(bad("calendar months are not fixed-length bars and are not supported")),
            _ => return Err(bad("unknown unit; use s, m, h, d or w")),
        };
        if count <= 0 || count > 10_000 {
            return Err(bad("count must be between 1 and 10000"));
        }
        Self::from_ms(count * unit_ms)
    }
}

impl fmt::Display for Timeframe {
    /// The largest unit that divides the length: 60000 ms is `1m`, 90000 ms is `90s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, ms) in [("w", WEEK), ("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND)] {
            if self.ms % ms == 0 {
                return write!(f, "{}{unit}", self.ms / ms);
            }
        }
        write!(f, "{}ms", self.ms)
    }
}

/// The finest bar every timeframe in `frames` can be rolled up from: its length divides each
/// length and each anchor offset, so base-bar boundaries fall on every timeframe's boundaries.
pub fn base_of(frames: &[Timeframe]) -> Timeframe {
    let ms = frames.iter().fold(0, |g, tf| gcd(gcd(g, tf.ms), tf.anchor()));
    Timeframe { ms: ms.max(SECOND) }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("1s", 1_000)]
    #[case("1m", 60_000)]
    #[case("15m", 900_000)]
    #[case("4h", 14_400_000)]
    #[case("1d", 86_400_000)]
    #[case("1w", 604_800_000)]
    fn parses_and_prints(#[case] text: &str, #[case] ms: i64) {
        let tf: Timeframe = text.parse().unwrap();
        assert_eq!(tf.ms(), ms);
        assert_eq!(tf.to_string(), text);
    }

    #[rstest]
    #[case("")]
    #[case("m")]
    #[case("0m")]
    #[case("5x")]
    #[case("1M")]
    #[case("1.5h")]
    fn refuses(#[case] text: &str) {
        assert!(text.parse::<Timeframe>().is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        let week: Timeframe = "1w".parse().unwrap();
        // 2024-08-08 (a Thursday) 12:00 UTC belongs to the week of Monday 2024-08-05.
        assert_eq!(week.start_of(1_723_118_400_000), 1_722_816_000_000);
        let day: Timeframe = "1d".parse().unwrap();
        assert_eq!(day.start_of(-1), -DAY);
    }

    #[test]
    fn base_divides_everything() {
        let frames: Vec<Timeframe> =
            ["1m", "5m", "15m", "1h", "4h", "1d", "1w"].iter().map(|t| t.parse().unwrap()).collect();
        assert_eq!(base_of(&frames).ms(), MINUTE);
        let odd: Vec<Timeframe> = ["90s", "1m"].iter().map(|t| t.parse().unwrap()).collect();
        assert_eq!(base_of(&odd).ms(), 30 * SECOND);
    }
}
