//! `tradecore.OrderBook`.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use super::errors;
use crate::book::{BookRows, OrderBook, ReplayOptions, Side, Status};
use crate::error::{Error, Result};
use crate::recording::ErrorLog;
use crate::venues::Venue;

/// An L2 order book kept in sync from a venue's raw depth messages.
#[pyclass(name = "OrderBook", module = "tradecore._core")]
#[derive(Debug)]
pub struct PyOrderBook {
    inner: OrderBook,
}

/// The bytes of a `bytes` or `str` message (websocket text frames arrive as `str`).
pub(crate) fn message_bytes<'a>(raw: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(bytes) = raw.cast::<PyBytes>() {
        Ok(bytes.as_bytes())
    } else if let Ok(text) = raw.cast::<PyString>() {
        Ok(text.to_str()?.as_bytes())
    } else {
        Err(Error::argument("raw", format!("expected bytes or str, got {}", raw.get_type().name()?)).into())
    }
}

/// One side's levels as a (k, 2) array of (price, qty).
type Levels2<'py> = Bound<'py, PyArray2<f64>>;

fn status_str(py: Python<'_>, status: Status) -> &Bound<'_, PyString> {
    match status {
        Status::Snapshot => intern!(py, "snapshot"),
        Status::Applied => intern!(py, "applied"),
        Status::Buffered => intern!(py, "buffered"),
        Status::Stale => intern!(py, "stale"),
        Status::Gap => intern!(py, "gap"),
        Status::Ignored => intern!(py, "ignored"),
    }
}

pub(crate) fn as_floats(level: Option<(crate::Fixed, crate::Fixed)>) -> Option<(f64, f64)> {
    level.map(|(p, q)| (p.to_f64(), q.to_f64()))
}

pub(crate) fn parse_side(side: &str) -> Result<Side> {
    match side.to_ascii_lowercase().as_str() {
        "buy" => Ok(Side::Bid),
        "sell" => Ok(Side::Ask),
        _ => Err(Error::argument("side", format!("expected 'buy' or 'sell', got '{side}'"))),
    }
}

impl PyOrderBook {
    /// Wraps a book (a feed hands out copies of its books this way).
    pub(crate) fn from_book(inner: OrderBook) -> Self {
        Self { inner }
    }
}

pub(crate) fn status_name(py: Python<'_>, status: Status) -> Bound<'_, PyString> {
    status_str(py, status).clone()
}

#[pymethods]
impl PyOrderBook {
    #[new]
    fn new(venue: &str, symbol: &str) -> PyResult<Self> {
        let venue: Venue = venue.parse()?;
        Ok(Self { inner: OrderBook::new(venue, symbol)? })
    }

    /// Applies one raw depth message or snapshot (any other message of the venue is "ignored").
    fn apply<'py>(&mut self, raw: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        let status = self.inner.apply(message_bytes(raw)?)?;
        Ok(status_str(raw.py(), status).clone())
    }

    /// Applies every line of a recording chunk (complete lines, `<recv_ts_ns> <json>` or bare
    /// JSON) without the GIL. Returns (rows, error_count, errors).
    #[pyo3(signature = (data, *, first_line = 1, keep_ignored = false, strict = false, skip_other_symbols = false))]
    fn replay<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        first_line: u64,
        keep_ignored: bool,
        strict: bool,
        skip_other_symbols: bool,
    ) -> PyResult<(Bound<'py, PyDict>, u64, Vec<Bound<'py, PyAny>>)> {
        let options = ReplayOptions { keep_ignored, stop_on_error: strict, skip_other_symbols };
        let mut rows = BookRows::default();
        let mut log = ErrorLog::default();
        let book = &mut self.inner;
        let summary = py.detach(|| book.replay(data, first_line, options, &mut rows, &mut log))?;
        let columns = PyDict::new(py);
        columns.set_item("line", PyArray1::from_vec(py, rows.line))?;
        columns.set_item("recv_ts_ns", PyArray1::from_vec(py, rows.recv_ts_ns))?;
        columns.set_item("status", PyArray1::from_vec(py, rows.status))?;
        columns.set_item("update_id", PyArray1::from_vec(py, rows.update_id))?;
        columns.set_item("levels", PyArray1::from_vec(py, rows.levels))?;
        columns.set_item("bid_px", PyArray1::from_vec(py, rows.bid_px))?;
        columns.set_item("bid_qty", PyArray1::from_vec(py, rows.bid_qty))?;
        columns.set_item("ask_px", PyArray1::from_vec(py, rows.ask_px))?;
        columns.set_item("ask_qty", PyArray1::from_vec(py, rows.ask_qty))?;
        columns.set_item("other_symbols", summary.other_symbols)?;
        Ok((columns, log.count, errors::logged(py, &log)?))
    }

    #[getter]
    fn venue(&self) -> &'static str {
        self.inner.venue().name()
    }

    #[getter]
    fn symbol(&self) -> &str {
        self.inner.symbol()
    }

    #[getter]
    fn synced(&self) -> bool {
        self.inner.synced()
    }

    /// Why the book is not synced, or None.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.inner.out_of_sync().map(ToString::to_string)
    }

    #[getter]
    fn last_update_id(&self) -> Option<u64> {
        self.inner.last_update_id()
    }

    /// Exchange time (ms) of the last message that changed the book.
    #[getter]
    fn event_time(&self) -> Option<i64> {
        self.inner.event_time_ms()
    }

    /// Diffs held while waiting for a snapshot.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    /// (bid levels, ask levels).
    #[getter]
    fn levels(&self) -> (usize, usize) {
        self.inner.level_counts()
    }

    fn best_bid(&self) -> PyResult<Option<(f64, f64)>> {
        Ok(as_floats(self.inner.best_bid()?))
    }

    fn best_ask(&self) -> PyResult<Option<(f64, f64)>> {
        Ok(as_floats(self.inner.best_ask()?))
    }

    /// The best `n` levels of each side as two (k, 2) float arrays of (price, qty), k <= n.
    fn top<'py>(&self, py: Python<'py>, n: usize) -> PyResult<(Levels2<'py>, Levels2<'py>)> {
        let side = |s: Side| -> PyResult<Levels2<'py>> {
            let flat: Vec<f64> =
                self.inner.side(s)?.iter().take(n).flat_map(|(p, q)| [p.to_f64(), q.to_f64()]).collect();
            let rows = flat.len() / 2;
            let array = Array2::from_shape_vec((rows, 2), flat).map_err(|e| Error::argument("n", e.to_string()))?;
            Ok(array.into_pyarray(py))
        };
        Ok((side(Side::Bid)?, side(Side::Ask)?))
    }

    fn spread(&self) -> PyResult<Option<f64>> {
        Ok(self.inner.spread()?)
    }

    fn mid(&self) -> PyResult<Option<f64>> {
        Ok(self.inner.mid()?)
    }

    fn microprice(&self) -> PyResult<Option<f64>> {
        Ok(self.inner.microprice()?)
    }

    #[pyo3(signature = (levels = 1))]
    fn imbalance(&self, levels: usize) -> PyResult<Option<f64>> {
        Ok(self.inner.imbalance(levels)?)
    }

    /// (bid qty, ask qty) resting within ±bps of the mid.
    fn depth(&self, bps: f64) -> PyResult<Option<(f64, f64)>> {
        Ok(self.inner.depth(bps)?)
    }

    /// Average price of a market order of `qty` ("buy" walks the asks, "sell" the bids);
    /// None when the visible book cannot fill it.
    fn fill_price(&self, side: &str, qty: f64) -> PyResult<Option<f64>> {
        Ok(self.inner.fill_price(parse_side(side)?, qty)?)
    }

    /// What a taker order of `qty` gets from the visible book without passing `limit`:
    /// (filled qty, average price), (0.0, nan) when nothing ("buy" walks the asks).
    #[pyo3(signature = (side, qty, limit=None))]
    fn sweep(&self, side: &str, qty: f64, limit: Option<f64>) -> PyResult<(f64, f64)> {
        Ok(self.inner.sweep(parse_side(side)?, qty, limit)?)
    }

    /// Messages per status, level updates applied, and diffs dropped from a full buffer.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.inner.stats();
        let out = PyDict::new(py);
        for status in Status::ALL {
            out.set_item(status.as_str(), stats.by_status[status as usize])?;
        }
        out.set_item("levels_applied", stats.levels_applied)?;
        out.set_item("buffered_dropped", stats.buffered_dropped)?;
        Ok(out)
    }

    /// The symbol of the first depth message of `venue` in recording lines, or None.
    #[staticmethod]
    fn sniff_symbol(venue: &str, data: &[u8]) -> PyResult<Option<String>> {
        let venue: Venue = venue.parse()?;
        Ok(crate::recording::first_depth_symbol(venue, data))
    }

    fn __repr__(&self) -> String {
        let (bids, asks) = self.inner.level_counts();
        let state = match self.inner.out_of_sync() {
            None => format!("synced at {}", self.inner.last_update_id().unwrap_or(0)),
            Some(reason) => format!("not synced: {reason}"),
        };
        format!("OrderBook({} {}, {bids} bids, {asks} asks, {state})", self.inner.venue(), self.inner.symbol())
    }
}
