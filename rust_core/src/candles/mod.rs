//! Trades to time bars, for many timeframes in one pass.
//!
//! Every trade updates one *base* bar (the finest bar all requested timeframes divide into, see
//! `timeframe::base_of`); each timeframe is rolled up from closed base bars. That keeps the
//! per-trade work independent of how many timeframes are requested.
//!
//! Bars close on event time: a bar is released as soon as a trade (or `advance`) at or after its
//! end arrives, and `flush` releases the bars still open. Streaming and batch are the same code,
//! so results are identical for any chunking.
//!
//! Ordering: within a bar, `open` is the price of the earliest trade by timestamp and `close` of
//! the latest (ties: first and last to arrive), so mildly out-of-order feeds give the bars a
//! time-sorted feed would. A *late* trade — one whose bar has already closed for some timeframe —
//! never changes a released bar. It still counts in every timeframe whose bar is open; for the
//! others the policy decides: `Late::Drop` counts it in `late_dropped` (per timeframe), and
//! `Late::Error` refuses the trade with an error and changes nothing.

mod aggregator;
mod bar;
mod timeframe;
mod validate;

pub use aggregator::{Aggregator, Late, Options};
pub use bar::{Bar, BarColumns};
pub use timeframe::{Timeframe, base_of};
pub(crate) use validate::check_trade;
pub use validate::{MAX_TS_MS, validate};

#[cfg(test)]
mod tests;
