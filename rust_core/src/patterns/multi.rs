//! Patterns of four and five candles, and the gap/method patterns.

use super::catalog::Entry;

pub(super) const PATTERNS: &[Entry] = &[];
