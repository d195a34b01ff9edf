//! Quality grading helpers: how decisively a detected pattern clears the thresholds that define
//! it. Each helper maps one passed condition to 0–1 (1 = cleared by a wide margin); a pattern's
//! quality is the mean over its defining conditions.

/// `x > t` passed: 0 at the threshold, 1 at twice the threshold (or when the threshold is 0).
#[inline]
pub fn above(x: f64, t: f64) -> f64 {
    if t > 0.0 { ((x - t) / t).clamp(0.0, 1.0) } else { 1.0 }
}

/// `x < t` passed: 0 at the threshold, 1 at zero.
#[inline]
pub fn below(x: f64, t: f64) -> f64 {
    if t > 0.0 { (1.0 - x / t).clamp(0.0, 1.0) } else { 1.0 }
}

/// A price passed a level (either way): 0 at the level, 1 at `scale` beyond it.
#[inline]
pub fn beyond(x: f64, level: f64, scale: f64) -> f64 {
    if scale > 0.0 { ((x - level).abs() / scale).clamp(0.0, 1.0) } else { 1.0 }
}

/// The mean of the clearances of a pattern's defining conditions.
#[inline]
pub fn mean(clearances: &[f64]) -> f64 {
    if clearances.is_empty() { 1.0 } else { clearances.iter().sum::<f64>() / clearances.len() as f64 }
}
