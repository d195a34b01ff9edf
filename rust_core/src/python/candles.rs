//! `tradecore.CandleAggregator`, `tradecore.Candle` and `read_trades`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::book::message_bytes;
use super::errors;
use super::slice;
use crate::candles::{Aggregator, BarColumns, Late, Options, Timeframe};
use crate::error::{Error, Result};
use crate::recording::{ErrorLog, TradeColumns, read_trades as read_trade_lines};
use crate::venues::{Trade, parse_trades};

/// One closed bar.
#[pyclass(name = "Candle", module = "tradecore._core", frozen, get_all, eq)]
#[derive(Clone, Debug, PartialEq)]
pub struct PyCandle {
    timeframe: String,
    /// Bar start, milliseconds since the Unix epoch (UTC).
    open_time: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    quote_volume: f64,
    trades: i64,
    taker_buy_volume: f64,
    taker_buy_quote_volume: f64,
    vwap: f64,
}

#[pymethods]
impl PyCandle {
    fn __repr__(&self) -> String {
        format!(
            "Candle({} @{} o={} h={} l={} c={} v={} n={})",
            self.timeframe, self.open_time, self.open, self.high, self.low, self.close, self.volume, self.trades
        )
    }
}

pub(crate) fn candles_of(closed: Vec<(Timeframe, BarColumns)>) -> Vec<PyCandle> {
    let mut out = vec![];
    for (tf, bars) in closed {
        let label = tf.to_string();
        out.extend((0..bars.len()).filter_map(|i| bars.get(i)).map(|b| PyCandle {
            timeframe: label.clone(),
            open_time: b.open_time_ms,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
            quote_volume: b.quote_volume,
            trades: i64::try_from(b.trades).unwrap_or(i64::MAX),
            taker_buy_volume: b.taker_buy_volume,
            taker_buy_quote_volume: b.taker_buy_quote_volume,
            vwap: b.vwap(),
        }));
    }
    out
}

/// Moves each timeframe's columns into numpy arrays (no copies): {"1m": {"open_time": ..}, ..}.
fn columns_of<'py>(py: Python<'py>, closed: Vec<(Timeframe, BarColumns)>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (tf, bars) in closed {
        let columns = PyDict::new(py);
        columns.set_item("open_time", PyArray1::from_vec(py, bars.open_time_ms))?;
        columns.set_item("open", PyArray1::from_vec(py, bars.open))?;
        columns.set_item("high", PyArray1::from_vec(py, bars.high))?;
        columns.set_item("low", PyArray1::from_vec(py, bars.low))?;
        columns.set_item("close", PyArray1::from_vec(py, bars.close))?;
        columns.set_item("volume", PyArray1::from_vec(py, bars.volume))?;
        columns.set_item("quote_volume", PyArray1::from_vec(py, bars.quote_volume))?;
        columns.set_item("trades", PyArray1::from_vec(py, bars.trades))?;
        columns.set_item("taker_buy_volume", PyArray1::from_vec(py, bars.taker_buy_volume))?;
        columns.set_item("taker_buy_quote_volume", PyArray1::from_vec(py, bars.taker_buy_quote_volume))?;
        columns.set_item("vwap", PyArray1::from_vec(py, bars.vwap))?;
        out.set_item(tf.to_string(), columns)?;
    }
    Ok(out)
}

/// Multi-timeframe candle aggregation from trades, streaming or in batches.
#[pyclass(name = "CandleAggregator", module = "tradecore._core")]
#[derive(Debug)]
pub struct PyCandleAggregator {
    inner: Aggregator,
    /// Trades of other symbols are refused; adopted from the first trade message if not given.
    symbol: Option<String>,
    /// The trades of the message being pushed, reused from one message to the next.
    scratch: Vec<Trade>,
}

impl PyCandleAggregator {
    fn closed(&mut self) -> Vec<PyCandle> {
        if self.inner.has_closed() { candles_of(self.inner.take_closed()) } else { Vec::new() }
    }

    /// Parses a whole trade message, checks its symbols, then adds its trades at once: a bad
    /// message adds nothing.
    fn push_parsed(&mut self, raw: &[u8], trades: &mut Vec<Trade>) -> Result<()> {
        let mut first_symbol: Option<String> = None;
        let mut other_symbol: Option<String> = None;
        let expected = self.symbol.as_deref();
        parse_trades(raw, |sym, trade| {
            match expected.or(first_symbol.as_deref()) {
                Some(want) if !sym.eq_ignore_ascii_case(want.as_bytes()) => {
                    other_symbol.get_or_insert_with(|| String::from_utf8_lossy(sym).into_owned());
                }
                Some(_) => {}
                None => first_symbol = Some(String::from_utf8_lossy(sym).to_ascii_uppercase()),
            }
            trades.push(trade);
        })?;
        let symbol = self.symbol.clone().or(first_symbol);
        if let Some(found) = other_symbol {
            return Err(Error::WrongSymbol { expected: symbol.unwrap_or_default(), found, offset: 0 });
        }
        self.inner.push_trades(trades)?;
        if !trades.is_empty() {
            self.symbol = symbol;
        }
        Ok(())
    }
}

#[pymethods]
impl PyCandleAggregator {
    #[new]
    #[pyo3(signature = (timeframes, *, symbol = None, fill_gaps = true, late = "drop"))]
    fn new(timeframes: Vec<String>, symbol: Option<String>, fill_gaps: bool, late: &str) -> PyResult<Self> {
        let tfs = timeframes.iter().map(|t| t.parse()).collect::<Result<Vec<Timeframe>>>()?;
        let late = match late {
            "drop" => Late::Drop,
            "error" => Late::Error,
            other => return Err(Error::argument("late", format!("expected 'drop' or 'error', got '{other}'")).into()),
        };
        let inner = Aggregator::new(&tfs, Options { fill_gaps, late })?;
        Ok(Self { inner, symbol: symbol.map(|s| s.to_ascii_uppercase()), scratch: Vec::new() })
    }

    #[getter]
    fn timeframes(&self) -> Vec<String> {
        self.inner.timeframes().map(|t| t.to_string()).collect()
    }

    #[getter]
    fn symbol(&self) -> Option<&str> {
        self.symbol.as_deref()
    }

    /// Trades accepted so far.
    #[getter]
    fn trade_count(&self) -> u64 {
        self.inner.trade_count()
    }

    /// Late trades left out of each timeframe's bars: {"1m": n, ...}.
    #[getter]
    fn late_dropped(&self) -> Vec<(String, u64)> {
        self.inner.timeframes().map(|t| t.to_string()).zip(self.inner.late_dropped()).collect()
    }

    /// Silences longer than the gap-fill limit (1,000,000 bars), left unfilled: {"1s": n, ...}.
    #[getter]
    fn gaps_unfilled(&self) -> Vec<(String, u64)> {
        self.inner.timeframes().map(|t| t.to_string()).zip(self.inner.gaps_unfilled()).collect()
    }

    /// Adds one trade; returns the bars it closed.
    fn push(&mut self, ts_ms: i64, price: f64, qty: f64, taker_buy: bool) -> PyResult<Vec<PyCandle>> {
        self.inner.push(&Trade { ts_ms, price, qty, taker_buy })?;
        Ok(self.closed())
    }

    /// Adds the trades of one raw message (Binance trade/aggTrade, Bybit publicTrade); returns
    /// the bars they closed. Other messages are ignored. Nothing is added if the message is bad.
    fn push_message(&mut self, raw: &Bound<'_, PyAny>) -> PyResult<Vec<PyCandle>> {
        let mut trades = std::mem::take(&mut self.scratch);
        trades.clear();
        let outcome = self.push_parsed(message_bytes(raw)?, &mut trades);
        self.scratch = trades;
        outcome?;
        Ok(self.closed())
    }

    /// Adds trades given as arrays (int64 ms, float64, float64, bool) without the GIL; returns
    /// the bars they closed, as {timeframe: {column: array}}. The batch is checked first: a bad
    /// value refuses the whole batch.
    fn push_arrays<'py>(
        &mut self,
        py: Python<'py>,
        ts_ms: PyReadonlyArray1<'py, i64>,
        price: PyReadonlyArray1<'py, f64>,
        qty: PyReadonlyArray1<'py, f64>,
        taker_buy: PyReadonlyArray1<'py, bool>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (ts, px, q, buy) =
            (slice(&ts_ms, "ts_ms")?, slice(&price, "price")?, slice(&qty, "qty")?, slice(&taker_buy, "taker_buy")?);
        let inner = &mut self.inner;
        let closed = py.detach(|| inner.push_columns(ts, px, q, buy).map(|()| inner.take_closed()))?;
        columns_of(py, closed)
    }

    /// Closes every bar that ends at or before `ts_ms` (time moved on without trades).
    fn advance(&mut self, ts_ms: i64) -> Vec<PyCandle> {
        self.inner.advance(ts_ms);
        self.closed()
    }

    /// Releases every open bar (end of data); returns them.
    fn flush(&mut self) -> Vec<PyCandle> {
        self.inner.flush();
        self.closed()
    }

    /// Releases every open bar (end of data); returns them as arrays, like `push_arrays`.
    fn flush_arrays<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.inner.flush();
        columns_of(py, self.inner.take_closed())
    }

    fn __repr__(&self) -> String {
        format!("CandleAggregator({}, {} trades)", self.timeframes().join(","), self.inner.trade_count())
    }
}

/// Reads the trades of recording lines (complete lines) without the GIL. Returns
/// (columns {ts_ms, price, qty, taker_buy}, symbols seen, error_count, first errors).
#[pyfunction]
#[pyo3(signature = (data, *, symbol = None, first_line = 1, strict = false))]
#[allow(clippy::type_complexity)]
pub fn read_trades<'py>(
    py: Python<'py>,
    data: &[u8],
    symbol: Option<&str>,
    first_line: u64,
    strict: bool,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>, u64, Vec<Bound<'py, PyAny>>)> {
    let mut columns = TradeColumns::default();
    let mut log = ErrorLog::default();
    py.detach(|| read_trade_lines(data, first_line, symbol, strict, &mut columns, &mut log))?;
    let out = PyDict::new(py);
    out.set_item("ts_ms", PyArray1::from_vec(py, columns.ts_ms))?;
    out.set_item("price", PyArray1::from_vec(py, columns.price))?;
    out.set_item("qty", PyArray1::from_vec(py, columns.qty))?;
    out.set_item("taker_buy", PyArray1::from_vec(py, columns.taker_buy))?;
    Ok((out, columns.symbols, log.count, errors::logged(py, &log)?))
}
