//! The 61 patterns, by TA-Lib name.

use super::averages::Averages;
use super::pattern::{Build, Pattern};
use super::settings::Settings;
use super::{double, multi, single, triple};

/// A pattern's TA-Lib name and how to build it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub name: &'static str,
    pub build: Build,
}

impl Entry {
    pub(crate) fn instantiate(&self, averages: &mut Averages, settings: &Settings) -> Box<dyn Pattern> {
        (self.build)(averages, settings)
    }
}

/// Every implemented pattern, sorted by name (TA-Lib's order).
pub fn entries() -> Vec<Entry> {
    let mut all: Vec<Entry> = [single::PATTERNS, double::PATTERNS, triple::PATTERNS, multi::PATTERNS]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    all.sort_by_key(|e| e.name);
    all
}

/// The names of every implemented pattern, in TA-Lib's order.
pub fn names() -> Vec<&'static str> {
    entries().into_iter().map(|e| e.name).collect()
}
