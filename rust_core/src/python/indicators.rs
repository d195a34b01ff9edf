//! The streaming indicators behind the pattern scores, over whole arrays (NaN while warming up).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::slice;
use crate::error::{Error, Result};
use crate::patterns::indicators::{Adx, Ema};

fn period_of(period: usize) -> Result<usize> {
    if (1..=100_000).contains(&period) {
        Ok(period)
    } else {
        Err(Error::argument("period", format!("must be 1..=100000, got {period}")))
    }
}

/// EMA seeded with the mean of the first `period` values (as `talib.EMA`).
#[pyfunction]
pub fn ema<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    period: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let mut ema = Ema::new(period_of(period)?);
    let out: Vec<f64> = slice(&values, "values")?.iter().map(|&x| ema.push(x).unwrap_or(f64::NAN)).collect();
    Ok(PyArray1::from_vec(py, out))
}

/// Wilder's ADX (as `talib.ADX`).
#[pyfunction]
pub fn adx<'py>(
    py: Python<'py>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
    period: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (h, l, c) = (slice(&high, "high")?, slice(&low, "low")?, slice(&close, "close")?);
    if h.len() != l.len() || h.len() != c.len() {
        return Err(Error::argument("high", "high, low and close must have the same length").into());
    }
    if period < 2 {
        return Err(Error::argument("period", format!("must be at least 2, got {period}")).into());
    }
    let mut adx = Adx::new(period_of(period)?);
    let out: Vec<f64> = (0..h.len()).map(|k| adx.push(h[k], l[k], c[k]).unwrap_or(f64::NAN)).collect();
    Ok(PyArray1::from_vec(py, out))
}
