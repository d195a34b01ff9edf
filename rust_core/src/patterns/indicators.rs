//! The streaming indicators the scores read, computed as TA-Lib computes them (so `talib.EMA`
//! and `talib.ADX` are their references): EMA seeded with the mean of its first `period` values,
//! and Wilder's ADX.

/// Exponential moving average; `None` until `period` values were seen.
#[derive(Clone, Debug)]
pub struct Ema {
    period: usize,
    k: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Ema {
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self { period, k: 2.0 / (period as f64 + 1.0), seen: 0, sum: 0.0, value: f64::NAN }
    }

    pub fn push(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen < self.period {
            self.sum += x;
            return None;
        }
        if self.seen == self.period {
            self.sum += x;
            self.value = self.sum / self.period as f64;
        } else {
            self.value = (x - self.value) * self.k + self.value;
        }
        Some(self.value)
    }
}

/// TA-Lib treats magnitudes under 1e-8 as zero in ADX.
fn is_zero(v: f64) -> bool {
    -1e-8 < v && v < 1e-8
}

/// Average directional index (trend strength, 0–100), Wilder-smoothed over `period` bars;
/// `None` for the first `2 × period − 1` bars, like TA-Lib.
#[derive(Clone, Debug)]
pub struct Adx {
    period: usize,
    seen: usize,
    prev: Option<(f64, f64, f64)>,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    sum_dx: f64,
    adx: f64,
}

impl Adx {
    pub fn new(period: usize) -> Self {
        Self {
            period: period.max(2),
            seen: 0,
            prev: None,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            sum_dx: 0.0,
            adx: f64::NAN,
        }
    }

    pub fn push(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let Some((prev_high, prev_low, prev_close)) = self.prev.replace((high, low, close)) else {
            self.seen = 1;
            return None;
        };
        self.seen += 1;
        let n = self.period as f64;
        let up = high - prev_high;
        let down = prev_low - low;
        let true_range = (high - low).max((high - prev_close).abs()).max((low - prev_close).abs());
        // Bars 2..period only accumulate; afterwards the sums are Wilder-smoothed.
        if self.seen > self.period {
            self.minus_dm -= self.minus_dm / n;
            self.plus_dm -= self.plus_dm / n;
        }
        if down > 0.0 && up < down {
            self.minus_dm += down;
        } else if up > 0.0 && up > down {
            self.plus_dm += up;
        }
        if self.seen > self.period {
            self.tr = self.tr - self.tr / n + true_range;
        } else {
            self.tr += true_range;
            return None;
        }
        let dx = self.dx();
        let warm_end = 2 * self.period;
        if self.seen < warm_end {
            self.sum_dx += dx.unwrap_or(0.0);
            return None;
        }
        if self.seen == warm_end {
            self.sum_dx += dx.unwrap_or(0.0);
            self.adx = self.sum_dx / n;
        } else if let Some(dx) = dx {
            self.adx = (self.adx * (n - 1.0) + dx) / n;
        }
        Some(self.adx)
    }

    fn dx(&self) -> Option<f64> {
        if is_zero(self.tr) {
            return None;
        }
        let minus_di = 100.0 * (self.minus_dm / self.tr);
        let plus_di = 100.0 * (self.plus_dm / self.tr);
        let sum = minus_di + plus_di;
        if is_zero(sum) {
            return None;
        }
        Some(100.0 * ((minus_di - plus_di).abs() / sum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_seeded_with_the_mean() {
        let mut ema = Ema::new(3);
        assert_eq!(ema.push(1.0), None);
        assert_eq!(ema.push(2.0), None);
        assert_eq!(ema.push(3.0), Some(2.0));
        assert_eq!(ema.push(6.0), Some(4.0));
    }

    #[test]
    fn adx_warms_up_for_two_periods() {
        let mut adx = Adx::new(3);
        let values: Vec<Option<f64>> =
            (0..8).map(|k| adx.push(10.0 + k as f64, 9.0 + k as f64, 9.5 + k as f64)).collect();
        assert!(values[..5].iter().all(Option::is_none));
        // A steady rise: all movement is up, so DX is 100 and so is ADX.
        assert_eq!(values[5], Some(100.0));
        assert_eq!(values[7], Some(100.0));
    }
}
