//! `PatternEngine`: the 61 TA-Lib candlestick patterns, batch (GIL released) or streaming.

use std::collections::HashMap;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::slice;
use crate::error::{Error, Result};
use crate::patterns::{CandleSetting, Code, PatternEngine, RangeType, ScoreConfig, Setting, Settings, Signal};

#[pyclass(name = "PatternEngine", module = "tradecore._core", subclass)]
#[derive(Debug)]
pub struct PyPatternEngine {
    inner: PatternEngine,
}

fn settings_of(
    candle: Option<HashMap<String, (String, usize, f64)>>,
    penetration: Option<HashMap<String, f64>>,
) -> Result<Settings> {
    let mut settings = Settings::default();
    for (name, (range, period, factor)) in candle.unwrap_or_default() {
        settings.set(Setting::parse(&name)?, CandleSetting { range: RangeType::parse(&range)?, period, factor })?;
    }
    for (pattern, value) in penetration.unwrap_or_default() {
        settings.set_penetration(&pattern, value)?;
    }
    Ok(settings)
}

fn score_config_of(values: HashMap<String, f64>) -> Result<ScoreConfig> {
    let mut c = ScoreConfig::default();
    for (key, v) in values {
        let count = |v: f64| -> Result<usize> {
            if v.fract() == 0.0 && (1.0..=1e6).contains(&v) {
                Ok(v as usize)
            } else {
                Err(Error::argument("scoring", format!("{key} must be a whole number >= 1, got {v}")))
            }
        };
        match key.as_str() {
            "volume_period" => c.volume_period = count(v)?,
            "ema_period" => c.ema_period = count(v)?,
            "slope_bars" => c.slope_bars = count(v)?,
            "adx_period" => c.adx_period = count(v)?,
            "adx_full" => c.adx_full = v,
            "weight_quality" => c.weight_quality = v,
            "weight_volume" => c.weight_volume = v,
            "weight_trend" => c.weight_trend = v,
            "min_quality" => c.min_quality = v,
            "min_confidence" => c.min_confidence = v,
            "min_volume" => c.min_volume = v,
            "min_trend" => c.min_trend = v,
            "size_full" => c.size_full = v,
            "size_medium" => c.size_medium = v,
            "stop_tight" => c.stop_tight = v,
            "stop_wide" => c.stop_wide = v,
            _ => return Err(Error::argument("scoring", format!("unknown scoring setting '{key}'"))),
        }
    }
    Ok(c)
}

fn signal_columns<'py>(py: Python<'py>, signals: &[Signal]) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    macro_rules! column {
        ($name:literal, $field:ident) => {
            out.set_item($name, PyArray1::from_iter(py, signals.iter().map(|s| s.$field)))?;
        };
    }
    column!("bar", bar);
    out.set_item("pattern", PyArray1::from_iter(py, signals.iter().map(|s| s.pattern as u32)))?;
    column!("code", code);
    column!("direction", direction);
    column!("quality", quality);
    column!("volume", volume);
    column!("trend", trend);
    column!("confidence", confidence);
    column!("accepted", accepted);
    column!("size_multiplier", size_multiplier);
    column!("height", height);
    column!("stop_tight", stop_tight);
    column!("stop_wide", stop_wide);
    Ok(out)
}

#[pymethods]
impl PyPatternEngine {
    #[new]
    #[pyo3(signature = (names = None, *, settings = None, penetration = None, scoring = None))]
    fn new(
        names: Option<Vec<String>>,
        settings: Option<HashMap<String, (String, usize, f64)>>,
        penetration: Option<HashMap<String, f64>>,
        scoring: Option<HashMap<String, f64>>,
    ) -> PyResult<Self> {
        let settings = settings_of(settings, penetration)?;
        let names: Option<Vec<&str>> = names.as_ref().map(|n| n.iter().map(String::as_str).collect());
        let mut inner = PatternEngine::new(names.as_deref(), &settings)?;
        if let Some(scoring) = scoring {
            inner.enable_scoring(score_config_of(scoring)?)?;
        }
        Ok(Self { inner })
    }

    /// The patterns, in output order.
    #[getter]
    fn names(&self) -> Vec<&'static str> {
        self.inner.names().to_vec()
    }

    /// Each pattern's lookback: its codes are 0 before that bar.
    #[getter]
    fn lookbacks(&self) -> Vec<usize> {
        self.inner.lookbacks()
    }

    #[getter]
    fn bars_seen(&self) -> u64 {
        self.inner.bars_seen()
    }

    #[getter]
    fn scoring(&self) -> bool {
        self.inner.scoring().is_some()
    }

    /// One new bar → the codes of every pattern for it (int16 array in `names` order).
    #[pyo3(signature = (open, high, low, close, volume = None))]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: Option<f64>,
    ) -> PyResult<Bound<'py, PyArray1<Code>>> {
        let codes = self.inner.push(open, high, low, close, volume)?;
        Ok(PyArray1::from_slice(py, codes))
    }

    /// A series of bars → int16 codes of shape (patterns, bars), computed without the GIL.
    #[pyo3(signature = (open, high, low, close, volume = None))]
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        open: PyReadonlyArray1<'py, f64>,
        high: PyReadonlyArray1<'py, f64>,
        low: PyReadonlyArray1<'py, f64>,
        close: PyReadonlyArray1<'py, f64>,
        volume: Option<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyArray2<Code>>> {
        let (o, h, l, c) = (slice(&open, "open")?, slice(&high, "high")?, slice(&low, "low")?, slice(&close, "close")?);
        let v = volume.as_ref().map(|v| slice(v, "volume")).transpose()?;
        let patterns = self.inner.names().len();
        let inner = &mut self.inner;
        let codes = zeroed_codes(py, patterns, o.len());
        let mut view = codes.readwrite();
        let flat = view.as_slice_mut().map_err(|e| Error::argument("codes", e.to_string()))?;
        py.detach(|| inner.run(o, h, l, c, v, &mut columns(flat, patterns)))?;
        Ok(codes)
    }

    /// The graded signals since the last call, as columns (needs `scoring`).
    fn take_signals<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.inner.scoring().is_none() {
            return Err(Error::argument("scoring", "this engine was made without scoring").into());
        }
        signal_columns(py, &self.inner.take_signals())
    }

    fn __repr__(&self) -> String {
        format!("PatternEngine({} patterns, {} bars)", self.inner.names().len(), self.inner.bars_seen())
    }
}

/// A zeroed (patterns, bars) int16 array. From numpy, so that a large one is backed by huge
/// pages: faulting in 4 KiB pages one by one would cost more than detecting the patterns.
fn zeroed_codes(py: Python<'_>, patterns: usize, n: usize) -> Bound<'_, PyArray2<Code>> {
    PyArray2::zeros(py, [patterns, n], false)
}

/// The rows of a (patterns, bars) array, as the engine's columns.
fn columns(flat: &mut [Code], patterns: usize) -> Vec<&mut [Code]> {
    let n = flat.len() / patterns.max(1);
    let mut rows: Vec<&mut [Code]> = flat.chunks_mut(n.max(1)).take(patterns).collect();
    rows.resize_with(patterns, Default::default); // no bars: empty rows
    rows
}

/// Batch detection of a whole series without the GIL: (int16 codes of shape (patterns, bars),
/// names). `threads` 0 picks: one per core (up to 4) from 100k bars on, else one.
#[pyfunction]
#[pyo3(signature = (open, high, low, close, names = None, *, settings = None, penetration = None, threads = 0))]
#[allow(clippy::too_many_arguments)]
pub fn detect<'py>(
    py: Python<'py>,
    open: PyReadonlyArray1<'py, f64>,
    high: PyReadonlyArray1<'py, f64>,
    low: PyReadonlyArray1<'py, f64>,
    close: PyReadonlyArray1<'py, f64>,
    names: Option<Vec<String>>,
    settings: Option<HashMap<String, (String, usize, f64)>>,
    penetration: Option<HashMap<String, f64>>,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray2<Code>>, Vec<&'static str>)> {
    let (o, h, l, c) = (slice(&open, "open")?, slice(&high, "high")?, slice(&low, "low")?, slice(&close, "close")?);
    let settings = settings_of(settings, penetration)?;
    let names: Option<Vec<&str>> = names.as_ref().map(|n| n.iter().map(String::as_str).collect());
    let order = crate::patterns::resolve(names.as_deref())?;
    let threads = match threads {
        0 if o.len() >= 100_000 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        0 => 1,
        n => n,
    };
    let codes = zeroed_codes(py, order.len(), o.len());
    let mut view = codes.readwrite();
    let flat = view.as_slice_mut().map_err(|e| Error::argument("codes", e.to_string()))?;
    py.detach(|| crate::patterns::detect(&order, &settings, [o, h, l, c], threads, flat))?;
    drop(view);
    Ok((codes, order))
}

/// Pattern names, kinds ("reversal", "continuation", "indecision") and fixed directions.
#[pyfunction]
pub fn pattern_catalog() -> Vec<(&'static str, &'static str, Option<i8>)> {
    crate::patterns::names()
        .into_iter()
        .map(|name| {
            let (kind, bias) = crate::patterns::meaning(name);
            (name, kind.name(), bias)
        })
        .collect()
}

/// The default candle settings: name → (range type, period, factor).
#[pyfunction]
pub fn default_candle_settings() -> Vec<(&'static str, &'static str, usize, f64)> {
    let s = Settings::default();
    Setting::ALL
        .into_iter()
        .map(|k| {
            let v = s.get(k);
            (k.name(), v.range.name(), v.period, v.factor)
        })
        .collect()
}

/// Patterns with a penetration parameter and its default.
#[pyfunction]
pub fn default_penetration() -> Vec<(&'static str, f64)> {
    crate::patterns::PENETRATION.to_vec()
}
