//! The Python binding layer (`tradecore._core`): thin wrappers over the pure-Rust core. Errors
//! become typed Python exceptions in one place (`errors`); batch calls release the GIL.

mod book;
mod candles;
mod errors;
mod feed;
mod indicators;
mod patterns;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("VENUES", crate::venues::Venue::ALL.map(|v| v.name()).to_vec())?;
    m.add("STATUSES", crate::book::Status::ALL.map(|s| s.as_str()).to_vec())?;
    m.add_class::<book::PyOrderBook>()?;
    m.add_class::<candles::PyCandle>()?;
    m.add_class::<candles::PyCandleAggregator>()?;
    m.add_function(wrap_pyfunction!(candles::read_trades, m)?)?;
    m.add_class::<feed::PyFeed>()?;
    m.add_class::<patterns::PyPatternEngine>()?;
    m.add_function(wrap_pyfunction!(patterns::detect, m)?)?;
    m.add_function(wrap_pyfunction!(patterns::pattern_catalog, m)?)?;
    m.add_function(wrap_pyfunction!(patterns::default_candle_settings, m)?)?;
    m.add_function(wrap_pyfunction!(patterns::default_penetration, m)?)?;
    m.add_function(wrap_pyfunction!(indicators::ema, m)?)?;
    m.add_function(wrap_pyfunction!(indicators::adx, m)?)?;
    m.add_function(wrap_pyfunction!(debug_panic, m)?)?;
    Ok(())
}

/// A numpy array's elements as a slice, or an error naming the argument if it is not contiguous.
pub(crate) fn slice<'a, T: numpy::Element>(
    array: &'a numpy::PyReadonlyArray1<'_, T>,
    name: &'static str,
) -> crate::error::Result<&'a [T]> {
    array.as_slice().map_err(|_| crate::error::Error::argument(name, "must be a contiguous array"))
}

/// Panics on purpose, so tests can check that a Rust panic surfaces as a Python exception.
#[pyfunction]
#[pyo3(name = "_debug_panic")]
fn debug_panic(message: &str) {
    panic!("{message}");
}
