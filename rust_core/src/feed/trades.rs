//! Puts a venue's numbered trades back in order: repeats are dropped, trades after a hole are
//! held until the hole is filled (by the stream itself when it was only a reorder, or from REST),
//! so the candle aggregator sees each trade once and in sequence.

use std::collections::BTreeMap;

use crate::venues::Trade;

/// Trades held behind a hole before the hole is given up as lost (a REST outage that long
/// would otherwise hold memory without bound).
pub const MAX_HELD: usize = 200_000;

/// Counters of what the sequencer saw.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeStats {
    /// Trades received more than once (or already filled from REST), dropped.
    pub duplicates: u64,
    /// Trades that arrived after a later one and were put back in order.
    pub reordered: u64,
    /// Trades recovered from REST.
    pub backfilled: u64,
    /// Ids REST showed to be absent from the tape (e.g. non-market fills).
    pub absent: u64,
    /// Ids given up as lost: their trades are missing from the candles.
    pub lost: u64,
    /// Holes found (a trade arrived after a missing id; unnumbered trades: a disconnect).
    pub holes: u64,
    /// Unnumbered trades from before the last trade released, sent by a later connection (one
    /// that replays the past): already counted, dropped.
    pub stale: u64,
    /// Unnumbered trades' gaps that REST could not be shown to fill: trades may be missing.
    pub unfilled: u64,
}

impl TradeStats {
    /// The counts of two gates (a market uses one of them).
    pub fn merged(self, other: Self) -> Self {
        Self {
            duplicates: self.duplicates + other.duplicates,
            reordered: self.reordered + other.reordered,
            backfilled: self.backfilled + other.backfilled,
            absent: self.absent + other.absent,
            lost: self.lost + other.lost,
            holes: self.holes + other.holes,
            stale: self.stale + other.stale,
            unfilled: self.unfilled + other.unfilled,
        }
    }
}

/// The sequencer of one symbol.
#[derive(Clone, Debug, Default)]
pub struct TradeGate {
    /// The id the next trade must have; `None` before the first numbered trade.
    next: Option<u64>,
    held: BTreeMap<u64, Option<Trade>>,
    stats: TradeStats,
}

impl TradeGate {
    pub fn stats(&self) -> TradeStats {
        self.stats
    }

    /// The missing ids `[first, last]` holding trades back, if any.
    pub fn hole(&self) -> Option<(u64, u64)> {
        let next = self.next?;
        self.held.keys().next().map(|&first_held| (next, first_held - 1))
    }

    /// The id after the last trade released (where a REST backfill starts).
    pub fn next_id(&self) -> Option<u64> {
        self.next
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Offers one trade from the stream; `release` receives the trades now in sequence (`None`
    /// for an off-tape fill, which only advances the sequence). Unnumbered trades pass straight through.
    pub fn offer(&mut self, id: Option<u64>, trade: Option<Trade>, release: &mut impl FnMut(Trade)) {
        let Some(id) = id else {
            trade.map(&mut *release);
            return;
        };
        let next = *self.next.get_or_insert(id);
        if id < next || self.held.contains_key(&id) {
            self.stats.duplicates += 1;
            return;
        }
        if id > next {
            if self.held.is_empty() {
                self.stats.holes += 1;
            }
            self.held.insert(id, trade);
            if self.held.len() > MAX_HELD {
                self.give_up(release);
            }
            return;
        }
        if !self.held.is_empty() {
            self.stats.reordered += 1;
        }
        self.pass(id, trade, release);
        self.drain(release);
    }

    /// Fills the hole from a REST answer: `trades` sorted by id, every id in their range that the
    /// answer lacks is absent from the tape. Returns true if the hole is closed.
    pub fn fill(&mut self, trades: &[(u64, Trade)], release: &mut impl FnMut(Trade)) -> bool {
        for &(id, trade) in trades {
            let Some(next) = self.next else { break };
            let Some(&first_held) = self.held.keys().next() else { break };
            if id < next {
                continue;
            }
            if id >= first_held {
                break;
            }
            self.stats.absent += id - next;
            self.stats.backfilled += 1;
            self.pass(id, Some(trade), release);
            self.drain(release);
        }
        self.held.is_empty()
    }

    /// Gives the current hole up: its ids are counted lost and the held trades released.
    pub fn give_up(&mut self, release: &mut impl FnMut(Trade)) {
        if let (Some((first, last)), Some(&first_held)) = (self.hole(), self.held.keys().next()) {
            self.stats.lost += last - first + 1;
            self.next = Some(first_held);
            self.drain(release);
        }
    }

    fn pass(&mut self, id: u64, trade: Option<Trade>, release: &mut impl FnMut(Trade)) {
        trade.map(&mut *release);
        self.next = Some(id + 1);
    }

    fn drain(&mut self, release: &mut impl FnMut(Trade)) {
        while let Some(entry) = self.held.first_entry() {
            if Some(*entry.key()) != self.next {
                break;
            }
            let (id, trade) = entry.remove_entry();
            self.pass(id, trade, release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u64) -> Trade {
        Trade { ts_ms: i as i64, price: 1.0 + i as f64, qty: 1.0, taker_buy: true }
    }

    fn offer(gate: &mut TradeGate, ids: &[u64]) -> Vec<u64> {
        let mut out = vec![];
        for &id in ids {
            gate.offer(Some(id), Some(t(id)), &mut |tr| out.push(tr.ts_ms as u64));
        }
        out
    }

    #[test]
    fn in_order_passes_repeats_drop_reorders_restore() {
        let mut g = TradeGate::default();
        assert_eq!(offer(&mut g, &[10, 11, 11, 13, 12, 14, 9]), vec![10, 11, 12, 13, 14]);
        assert_eq!(g.stats().duplicates, 2);
        assert_eq!(g.stats().reordered, 1);
        assert_eq!(g.stats().holes, 1);
        assert_eq!(g.hole(), None);
    }

    #[test]
    fn rest_fills_a_hole_and_marks_absent_ids() {
        let mut g = TradeGate::default();
        assert_eq!(offer(&mut g, &[1, 2, 7, 8]), vec![1, 2]);
        assert_eq!(g.hole(), Some((3, 6)));
        let mut out = vec![];
        // REST has 3 and 5 (4 is not on the tape) but not yet 6.
        let closed = g.fill(&[(2, t(2)), (3, t(3)), (5, t(5))], &mut |tr| out.push(tr.ts_ms as u64));
        assert!(!closed);
        assert_eq!(g.hole(), Some((6, 6)));
        let closed = g.fill(&[(6, t(6)), (7, t(7))], &mut |tr| out.push(tr.ts_ms as u64));
        assert!(closed);
        assert_eq!(out, vec![3, 5, 6, 7, 8]);
        assert_eq!((g.stats().backfilled, g.stats().absent, g.stats().lost), (3, 1, 0));
        assert_eq!(g.next_id(), Some(9));
    }

    #[test]
    fn giving_up_counts_the_loss_and_releases() {
        let mut g = TradeGate::default();
        offer(&mut g, &[1, 5, 6]);
        let mut out = vec![];
        g.give_up(&mut |tr| out.push(tr.ts_ms as u64));
        assert_eq!(out, vec![5, 6]);
        assert_eq!(g.stats().lost, 3);
        assert_eq!(offer(&mut g, &[7]), vec![7]);
    }

    #[test]
    fn off_tape_ids_advance_without_a_trade() {
        let mut g = TradeGate::default();
        let mut out = vec![];
        g.offer(Some(1), Some(t(1)), &mut |tr| out.push(tr.ts_ms));
        g.offer(Some(2), None, &mut |tr| out.push(tr.ts_ms));
        g.offer(Some(3), Some(t(3)), &mut |tr| out.push(tr.ts_ms));
        assert_eq!(out, vec![1, 3]);
        assert_eq!(g.hole(), None);
    }

    #[test]
    fn unnumbered_trades_pass_through() {
        let mut g = TradeGate::default();
        let mut n = 0;
        g.offer(None, Some(t(1)), &mut |_| n += 1);
        g.offer(None, Some(t(1)), &mut |_| n += 1);
        assert_eq!(n, 2);
    }
}
