//! Three-candle patterns: stars, soldiers and crows, inside/outside, blocks and rivers.

use super::catalog::Entry;

pub(super) const PATTERNS: &[Entry] = &[];
