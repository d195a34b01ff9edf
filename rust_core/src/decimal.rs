//! Exact decimals for prices and quantities.
//!
//! Exchanges send prices and quantities as decimal strings ("61800.30", "0.00100000"). Floats
//! would make "61800.3" and "61800.30" risk landing on different book levels after arithmetic,
//! so the book keys levels by an exact fixed-point integer: the value times 10^9, in a `u64`.
//! That covers every venue's tick and lot precision (Binance uses at most 8 decimals) and values
//! up to 18,446,744,073. Anything beyond is refused with a clear reason rather than rounded.

use std::fmt;

/// Fractional digits kept exactly.
pub const SCALE_DIGITS: u32 = 9;
/// 10^SCALE_DIGITS.
pub const SCALE: u64 = 1_000_000_000;

/// A non-negative decimal with nine fractional digits, stored as an integer count of 10^-9.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed(pub u64);

/// Why a decimal string was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecimalError {
    Empty,
    NotANumber,
    Negative,
    Exponent,
    TooPrecise,
    TooLarge,
}

impl DecimalError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Empty => "empty number",
            Self::NotANumber => "not a decimal number",
            Self::Negative => "negative values are not allowed",
            Self::Exponent => "exponent notation is not supported; send a plain decimal",
            Self::TooPrecise => "more than 9 significant decimal places",
            Self::TooLarge => "value exceeds 18446744073.709551615",
        }
    }
}

const POW10: [u64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

impl Fixed {
    pub const ZERO: Fixed = Fixed(0);

    /// Parses a plain non-negative decimal (`123`, `123.45`, `.5` is refused, `0.50` is fine).
    /// Trailing fractional zeros beyond nine places are accepted because they are exact.
    #[inline]
    pub fn parse(s: &[u8]) -> Result<Fixed, DecimalError> {
        let Some(&first) = s.first() else { return Err(DecimalError::Empty) };
        if first == b'-' {
            return Err(DecimalError::Negative);
        }
        if !first.is_ascii_digit() {
            return Err(DecimalError::NotANumber);
        }
        let mut int: u64 = 0;
        let mut int_digits = 0usize;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            // Leading zeros do not count towards the size limit.
            if int != 0 || s[i] != b'0' {
                int_digits += 1;
                if int_digits > 11 {
                    return Err(DecimalError::TooLarge);
                }
            }
            int = int * 10 + u64::from(s[i] - b'0');
            i += 1;
        }
        let mut frac: u64 = 0;
        let mut frac_digits: u32 = 0;
        if i < s.len() && s[i] == b'.' {
            i += 1;
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                let d = s[i] - b'0';
                if frac_digits < SCALE_DIGITS {
                    frac = frac * 10 + u64::from(d);
                    frac_digits += 1;
                } else if d != 0 {
                    return Err(DecimalError::TooPrecise);
                }
                i += 1;
            }
            if i == start {
                return Err(DecimalError::NotANumber);
            }
        }
        if i < s.len() {
            return Err(if matches!(s[i], b'e' | b'E') { DecimalError::Exponent } else { DecimalError::NotANumber });
        }
        let scaled_frac = frac * POW10[(SCALE_DIGITS - frac_digits) as usize];
        int.checked_mul(SCALE).and_then(|v| v.checked_add(scaled_frac)).map(Fixed).ok_or(DecimalError::TooLarge)
    }

    /// The nearest `f64`, correctly rounded (equal to Python's `float()` of the decimal string).
    #[inline]
    pub fn to_f64(self) -> f64 {
        // Below 2^53 the integer converts exactly and one IEEE division rounds correctly.
        if self.0 < (1u64 << 53) {
            self.0 as f64 / SCALE as f64
        } else {
            // Rare (values above ~9 million): let the standard parser round the exact decimal.
            self.to_string().parse().unwrap_or(f64::NAN)
        }
    }

    /// The fixed-point value nearest to a finite, non-negative float; `None` otherwise.
    pub fn from_f64(value: f64) -> Option<Fixed> {
        let scaled = (value * SCALE as f64).round();
        (value.is_finite() && value >= 0.0 && scaled < u64::MAX as f64).then_some(Fixed(scaled as u64))
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / SCALE;
        let frac = self.0 % SCALE;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{int}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("61800.30", 61_800_300_000_000)]
    #[case("61800.3", 61_800_300_000_000)]
    #[case("61837.63000000", 61_837_630_000_000)]
    #[case("0.00000000", 0)]
    #[case("0", 0)]
    #[case("000.5", 500_000_000)]
    #[case("1.000000001", 1_000_000_001)]
    #[case("1.0000000010000", 1_000_000_001)]
    #[case("18446744073.709551615", u64::MAX)]
    fn parses_exactly(#[case] text: &str, #[case] nanos: u64) {
        assert_eq!(Fixed::parse(text.as_bytes()), Ok(Fixed(nanos)));
    }

    #[rstest]
    #[case("", DecimalError::Empty)]
    #[case("-1", DecimalError::Negative)]
    #[case("abc", DecimalError::NotANumber)]
    #[case("1.", DecimalError::NotANumber)]
    #[case(".5", DecimalError::NotANumber)]
    #[case("1.2.3", DecimalError::NotANumber)]
    #[case("1e5", DecimalError::Exponent)]
    #[case("0.0000000001", DecimalError::TooPrecise)]
    #[case("18446744073.709551616", DecimalError::TooLarge)]
    #[case("123456789012", DecimalError::TooLarge)]
    fn refuses_with_reason(#[case] text: &str, #[case] err: DecimalError) {
        assert_eq!(Fixed::parse(text.as_bytes()), Err(err));
    }

    proptest! {
        #[test]
        fn to_f64_matches_std_parse(int in 0u64..18_000_000_000, frac in 0u64..1_000_000_000, digits in 1u32..=9) {
            let frac = frac % POW10[digits as usize];
            let text = format!("{int}.{frac:0width$}", width = digits as usize);
            let fixed = Fixed::parse(text.as_bytes()).unwrap();
            prop_assert_eq!(fixed.to_f64(), text.parse::<f64>().unwrap());
            prop_assert_eq!(Fixed::parse(fixed.to_string().as_bytes()).unwrap(), fixed);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Fixed::parse(&bytes);
        }
    }
}
