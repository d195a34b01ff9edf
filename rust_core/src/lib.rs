//! tradecore's Rust core: exchange depth messages to synced L2 books, trades to multi-timeframe
//! bars, bars to candlestick patterns. Pure Rust; the Python bindings live in `python/` behind the `python` cargo feature.

pub mod book;
pub mod candles;
pub mod decimal;
pub mod error;
pub mod feed;
pub mod json;
pub mod patterns;
pub mod recording;
pub mod simd;
pub mod venues;

#[cfg(feature = "python")]
mod python;

pub use book::{OrderBook, Side, Status};
pub use candles::{Aggregator, Timeframe};
pub use decimal::Fixed;
pub use error::{Error, Result};
pub use venues::{Trade, Venue};
