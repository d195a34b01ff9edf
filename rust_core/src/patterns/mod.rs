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

/// A pattern's code for one candle: 0, ±80, ±100 or ±200, TA-Lib's values. Stored in 16 bits,
/// half of TA-Lib's `int`: a million bars of all 61 patterns are 122 MB instead of 244 MB, and
/// writing (and first touching) that output is a good part of a batch run.
pub type Code = i16;
pub use catalog::{Entry, names};
pub use engine::{PatternEngine, detect, resolve, validate};
pub use pattern::{Pattern, Rule};
pub use scoring::{Kind, ScoreConfig, Signal, meaning};
pub use settings::{CandleSetting, MAX_PERIOD, PENETRATION, RangeType, Setting, Settings};
