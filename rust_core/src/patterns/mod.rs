//! Candlestick patterns: TA-Lib's 61 `CDL*` functions, bit-for-bit, in one fused pass.
//!
//! The engine keeps a window of recent candles (`Bars`) with their geometry and every candle-
//! setting threshold the enabled patterns read (`Averages`), then lets each pattern scan the new
//! positions. Batch runs feed blocks of `BLOCK` candles; streaming feeds one candle at a time
//! through the same code, so the two agree at every index by construction.

mod averages;
mod bars;
mod catalog;
mod engine;
pub mod grade;
pub mod indicators;
mod pattern;
mod scoring;
mod settings;

mod double;
mod multi;
mod single;
mod triple;

#[cfg(test)]
mod tests;

pub use averages::{Avg, Registrar};
pub use bars::Bars;
pub use catalog::{Entry, names};
pub use engine::{PatternEngine, detect, resolve, validate};
pub use pattern::{Pattern, Rule};
pub use scoring::{Kind, ScoreConfig, Signal, meaning};
pub use settings::{CandleSetting, MAX_PERIOD, PENETRATION, RangeType, Setting, Settings};
