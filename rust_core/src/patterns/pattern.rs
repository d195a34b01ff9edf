//! What a pattern is to the engine, and the builder that wires one up to its averages.

use super::Code;
use super::averages::{Averages, Registrar};
use super::bars::{Bars, HISTORY, W};
use super::settings::Settings;
use crate::simd::dispatch;

/// A detector the engine drives block by block.
pub trait Pattern: Send + Sync {
    /// TA-Lib's lookback: bars before this index always score 0.
    fn lookback(&self) -> usize;
    /// Writes the code of every position `i` in `from..to` to `out[i - from]`.
    fn scan(&mut self, bars: &Bars, from: usize, to: usize, out: &mut [Code]);
    /// How decisively the pattern found at position `i` clears its thresholds, 0–1; from the
    /// bars alone, so that batch and streaming grade alike.
    fn quality(&self, bars: &Bars, i: usize) -> f64;
    /// Candles the pattern spans, ending at the scored one.
    fn candles(&self) -> usize;
}

/// A pattern decided by the candles in its span alone (all but the Hikkakes).
pub trait Rule: Send + Sync + 'static {
    /// Candles the pattern spans.
    const CANDLES: usize;
    /// TA-Lib's lookback under `settings`.
    fn lookback(settings: &Settings) -> usize;
    /// Registers the averages the rule reads (`registrar` knows the lookback).
    fn new(registrar: &mut Registrar<'_>) -> Self;
    /// The code at position `i`: 0, ±100 (or ±80, ±200 where TA-Lib uses them).
    fn at(&self, bars: &Bars, i: usize) -> i32;
    /// Quality of the pattern found at `i` (see `grade`).
    fn quality(&self, bars: &Bars, i: usize) -> f64;
}

struct Stateless<R> {
    rule: R,
    lookback: usize,
}

impl<R: Rule> Pattern for Stateless<R> {
    fn lookback(&self) -> usize {
        self.lookback
    }

    fn scan(&mut self, bars: &Bars, from: usize, to: usize, out: &mut [Code]) {
        scan_rule(&self.rule, bars, from, to, out);
    }

    fn quality(&self, bars: &Bars, i: usize) -> f64 {
        self.rule.quality(bars, i)
    }

    fn candles(&self) -> usize {
        R::CANDLES
    }
}

dispatch! {
    /// `rule` at every position `from..to`, into `out`.
    fn scan_rule<R: Rule>(rule: &R, bars: &Bars, from: usize, to: usize, out: &mut [Code]) {
        // Telling the compiler that every `i - 4 ..= i` is inside the window lets it drop the
        // bounds checks, so `at` compiles to straight-line code over the block.
        assert!(HISTORY <= from && to <= W && out.len() == to - from);
        for (i, code) in (from..to).zip(out.iter_mut()) {
            // Every code fits (see `Code`); the narrowing packs whole vectors at once.
            *code = rule.at(bars, i) as Code;
        }
    }
}

/// Builds a pattern and registers its averages.
pub type Build = fn(&mut Averages, &Settings) -> Box<dyn Pattern>;

pub fn build<R: Rule>(averages: &mut Averages, settings: &Settings) -> Box<dyn Pattern> {
    let lookback = R::lookback(settings);
    let rule = R::new(&mut averages.registrar(settings, lookback));
    Box::new(Stateless { rule, lookback })
}
