//! `tradecore.Feed`: the Rust core of a live feed (see `crate::feed`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::book::{PyOrderBook, as_floats, message_bytes, parse_side, status_name};
use super::candles::{PyCandle, candles_of};
use super::errors;
use crate::candles::Timeframe;
use crate::error::Result;
use crate::feed::{Feed, Options, flags};
use crate::recording::ErrorLog;
use crate::venues::Venue;

/// Routes one connection's raw frames to each symbol's book, trade sequencer and bars.
#[pyclass(name = "Feed", module = "tradecore._core")]
#[derive(Debug)]
pub struct PyFeed {
    inner: Feed,
}

#[pymethods]
impl PyFeed {
    #[classattr]
    const KIND: u32 = flags::KIND;
    #[classattr]
    const CONTROL: u32 = flags::CONTROL;
    #[classattr]
    const DEPTH: u32 = flags::DEPTH;
    #[classattr]
    const TRADE: u32 = flags::TRADE;
    #[classattr]
    const TICKER: u32 = flags::TICKER;
    #[classattr]
    const OTHER: u32 = flags::OTHER;
    #[classattr]
    const UNKNOWN_SYMBOL: u32 = flags::UNKNOWN_SYMBOL;
    #[classattr]
    const RESYNC: u32 = flags::RESYNC;
    #[classattr]
    const TRADE_HOLE: u32 = flags::TRADE_HOLE;
    #[classattr]
    const CANDLES: u32 = flags::CANDLES;
    #[classattr]
    const TICKER_MISMATCH: u32 = flags::TICKER_MISMATCH;
    #[classattr]
    const JUMP: u32 = flags::JUMP;
    #[classattr]
    const SYMBOL_SHIFT: u32 = flags::SYMBOL_SHIFT;

    #[new]
    #[pyo3(signature = (venue, symbols, *, timeframes = vec!["1m".to_owned()], close_delay_ms = 1_000))]
    fn new(venue: &str, symbols: Vec<String>, timeframes: Vec<String>, close_delay_ms: i64) -> PyResult<Self> {
        let venue: Venue = venue.parse()?;
        let timeframes = timeframes.iter().map(|t| t.parse()).collect::<Result<Vec<Timeframe>>>()?;
        let symbols: Vec<&str> = symbols.iter().map(String::as_str).collect();
        Ok(Self { inner: Feed::new(venue, &symbols, Options { timeframes, close_delay_ms })? })
    }

    #[getter]
    fn venue(&self) -> &'static str {
        self.inner.venue().name()
    }

    /// Followed symbols, in the order of the index in `on_frame`'s flags.
    #[getter]
    fn symbols(&self) -> Vec<String> {
        self.inner.markets().iter().map(|m| m.symbol().to_owned()).collect()
    }

    #[getter]
    fn timeframes(&self) -> Vec<String> {
        self.inner.timeframes().iter().map(ToString::to_string).collect()
    }

    /// Applies one websocket frame received at `recv_ns`; returns the flags (class constants).
    fn on_frame(&mut self, raw: &Bound<'_, PyAny>, recv_ns: i64) -> PyResult<u32> {
        Ok(self.inner.on_frame(message_bytes(raw)?, recv_ns)?)
    }

    fn apply_snapshot<'py>(
        &mut self,
        py: Python<'py>,
        symbol: &str,
        raw: &Bound<'py, PyAny>,
        recv_ns: i64,
    ) -> PyResult<Bound<'py, pyo3::types::PyString>> {
        let status = self.inner.apply_snapshot(symbol, message_bytes(raw)?, recv_ns)?;
        Ok(status_name(py, status))
    }

    /// Fills the symbol's trade gap from a raw REST answer (Binance `historicalTrades`, Bybit
    /// `recent-trade`); True once closed.
    fn fill_trades(&mut self, symbol: &str, raw: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.fill_trades(symbol, message_bytes(raw)?)?)
    }

    fn give_up_trades(&mut self, symbol: &str) -> PyResult<()> {
        Ok(self.inner.give_up_trades(symbol)?)
    }

    /// The missing trade ids (first, last) holding later trades back, or None (Binance).
    fn trade_hole(&self, symbol: &str) -> PyResult<Option<(u64, u64)>> {
        Ok(self.inner.market(symbol)?.gate.hole())
    }

    /// Whether the symbol's trades since a disconnect wait for `fill_trades` (Bybit's ids show no
    /// hole, so after a disconnect the gap is filled from REST `recent-trade`).
    fn awaiting_backfill(&self, symbol: &str) -> PyResult<bool> {
        Ok(self.inner.market(symbol)?.exec.awaiting())
    }

    fn connection_lost(&mut self) {
        self.inner.connection_lost();
    }

    fn add_symbol(&mut self, symbol: &str) -> PyResult<()> {
        Ok(self.inner.add_symbol(symbol)?)
    }

    fn remove_symbol(&mut self, symbol: &str) -> PyResult<()> {
        self.inner.remove_symbol(symbol)?;
        Ok(())
    }

    /// Closed bars as (symbol, Candle), oldest first per symbol and timeframe.
    fn take_closed(&mut self) -> Vec<(String, PyCandle)> {
        let symbols = self.symbols();
        let mut out = Vec::new();
        for (i, tf, bars) in self.inner.take_closed() {
            out.extend(candles_of(vec![(tf, bars)]).into_iter().map(|c| (symbols[i].clone(), c)));
        }
        out
    }

    fn flush(&mut self) {
        self.inner.flush();
    }

    /// A copy of the symbol's book as it is now.
    fn book(&self, symbol: &str) -> PyResult<PyOrderBook> {
        Ok(PyOrderBook::from_book(self.inner.market(symbol)?.book.clone()))
    }

    /// Exchange time (ms) of the last message that changed the symbol's book.
    fn event_time(&self, symbol: &str) -> PyResult<Option<i64>> {
        Ok(self.inner.market(symbol)?.book.event_time_ms())
    }

    /// The symbol's best bid (price, qty) without copying its book; None when that side is empty.
    fn best_bid(&self, symbol: &str) -> PyResult<Option<(f64, f64)>> {
        Ok(as_floats(self.inner.market(symbol)?.book.best_bid()?))
    }

    /// The symbol's best ask (price, qty) without copying its book.
    fn best_ask(&self, symbol: &str) -> PyResult<Option<(f64, f64)>> {
        Ok(as_floats(self.inner.market(symbol)?.book.best_ask()?))
    }

    /// `OrderBook.sweep` on the symbol's book, without copying it.
    #[pyo3(signature = (symbol, side, qty, limit=None))]
    fn sweep(&self, symbol: &str, side: &str, qty: f64, limit: Option<f64>) -> PyResult<(f64, f64)> {
        Ok(self.inner.market(symbol)?.book.sweep(parse_side(side)?, qty, limit)?)
    }

    /// Whether the symbol's book is in sync.
    fn synced(&self, symbol: &str) -> PyResult<bool> {
        Ok(self.inner.market(symbol)?.book.synced())
    }

    /// The symbol's health figures and trade-sequence counters.
    fn health<'py>(&self, py: Python<'py>, symbol: &str) -> PyResult<Bound<'py, PyDict>> {
        let m = self.inner.market(symbol)?;
        let (h, t) = (&m.health, m.trade_stats());
        let out = PyDict::new(py);
        out.set_item("synced", m.book.synced())?;
        out.set_item("reason", m.book.out_of_sync().map(ToString::to_string))?;
        out.set_item("gaps", m.book.stats().by_status[crate::book::Status::Gap as usize])?;
        out.set_item("last_depth_ns", h.last_depth_ns)?;
        out.set_item("last_trade_ns", h.last_trade_ns)?;
        out.set_item("last_message_ns", h.last_message_ns)?;
        out.set_item("delay_ms", h.delay_ms)?;
        out.set_item("delay_mean_ms", h.delay_mean_ms)?;
        out.set_item("jumps", h.jumps)?;
        out.set_item("last_jump", h.last_jump)?;
        out.set_item("tickers_checked", h.tickers_checked)?;
        out.set_item("tickers_mismatched", h.tickers_mismatched)?;
        out.set_item("trade_hole", m.gate.hole())?;
        out.set_item("awaiting_backfill", m.exec.awaiting())?;
        out.set_item("trades_held", m.trades_held())?;
        out.set_item("trades_duplicated", t.duplicates)?;
        out.set_item("trades_reordered", t.reordered)?;
        out.set_item("trades_backfilled", t.backfilled)?;
        out.set_item("trades_absent", t.absent)?;
        out.set_item("trades_lost", t.lost)?;
        out.set_item("trade_holes", t.holes)?;
        out.set_item("trades_stale", t.stale)?;
        out.set_item("unfilled_gaps", t.unfilled)?;
        out.set_item("trades", m.candles.trade_count())?;
        out.set_item("late_trades", m.candles.late_dropped().sum::<u64>())?;
        Ok(out)
    }

    /// Frame counters of the connection.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let out = PyDict::new(py);
        out.set_item("frames", s.frames)?;
        out.set_item("malformed", s.malformed)?;
        out.set_item("control", s.control)?;
        out.set_item("other", s.other)?;
        out.set_item("unknown_symbol", s.unknown_symbol)?;
        out.set_item("snapshots", s.snapshots)?;
        Ok(out)
    }

    /// Feeds the complete lines of a recording chunk through the feed without the GIL.
    /// Returns (lines read, bad line count, the first bad lines as exceptions).
    #[pyo3(signature = (data, *, first_line = 1))]
    fn replay<'py>(
        &mut self,
        py: Python<'py>,
        data: &[u8],
        first_line: u64,
    ) -> PyResult<(u64, u64, Vec<Bound<'py, PyAny>>)> {
        let mut log = ErrorLog::default();
        let feed = &mut self.inner;
        let lines = py.detach(|| feed.replay(data, first_line, &mut log));
        Ok((lines, log.count, errors::logged(py, &log)?))
    }

    fn __repr__(&self) -> String {
        format!("Feed({}, {:?})", self.inner.venue(), self.symbols())
    }
}
