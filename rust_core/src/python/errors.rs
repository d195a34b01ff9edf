//! `Error` → Python exception, in one place. The exception classes are defined in Python
//! (`tradecore/errors.py`) so they can subclass both `TradecoreError` and `ValueError` and carry
//! `field`, `offset` and `line` attributes.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::error::Error;
use crate::recording::LineError;

/// The Python class for each kind of error.
fn class_name(err: &Error) -> &'static str {
    match err {
        Error::MalformedJson { .. } => "MalformedMessageError",
        Error::MissingField { .. } => "MissingFieldError",
        Error::InvalidValue { .. } => "InvalidValueError",
        Error::WrongSymbol { .. } => "WrongSymbolError",
        Error::WrongVenue { .. } => "WrongVenueError",
        Error::NotSynced { .. } => "BookNotSyncedError",
        Error::LateTrade { .. } => "LateTradeError",
        Error::InvalidArgument { .. } => "InvalidArgumentError",
        Error::InvalidBar { .. } => "InvalidBarError",
    }
}

/// Builds (does not raise) the exception instance for `err`, found at `line` if given.
pub(crate) fn exception<'py>(py: Python<'py>, err: &Error, line: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
    let class = py.import("tradecore.errors")?.getattr(class_name(err))?;
    let kwargs = PyDict::new(py);
    let message = match line {
        Some(n) => format!("line {n}: {err}"),
        None => err.to_string(),
    };
    match err {
        Error::NotSynced { reason } => kwargs.set_item("reason", reason)?,
        Error::LateTrade { ts_ms, timeframe, .. } => {
            kwargs.set_item("ts_ms", ts_ms)?;
            kwargs.set_item("timeframe", timeframe)?;
        }
        Error::InvalidArgument { name, .. } => kwargs.set_item("name", name)?,
        Error::InvalidBar { index, .. } => kwargs.set_item("index", index)?,
        _ => {
            kwargs.set_item("field", err.field())?;
            kwargs.set_item("offset", err.offset())?;
            kwargs.set_item("line", line)?;
        }
    }
    class.call((PyString::new(py, &message),), Some(&kwargs))
}

fn raise(py: Python<'_>, err: &Error, line: Option<u64>) -> PyErr {
    match exception(py, err, line) {
        Ok(instance) => PyErr::from_value(instance),
        // The error classes could not be built (a broken install): still say what went wrong.
        Err(import_error) => PyRuntimeError::new_err(format!("{err} (and tradecore.errors failed: {import_error})")),
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        Python::attach(|py| raise(py, &err, None))
    }
}

impl From<LineError> for PyErr {
    fn from(err: LineError) -> Self {
        Python::attach(|py| raise(py, &err.error, Some(err.line)))
    }
}

/// The first logged errors of a replay, as exception instances (not raised).
pub(crate) fn logged<'py>(py: Python<'py>, log: &crate::recording::ErrorLog) -> PyResult<Vec<Bound<'py, PyAny>>> {
    log.first.iter().map(|e| exception(py, &e.error, Some(e.line))).collect()
}
