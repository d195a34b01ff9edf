//! Keeps a venue's unnumbered trades (Bybit's, identified by execId) whole across disconnects.
//!
//! The ids say nothing about order, so a missing trade cannot be seen from them the way Binance's
//! sequence shows one. What is known is *where* trades may be missing: after a disconnect, between
//! the last trade released and the first one of the new connection. So after `connection_lost`
//! the new connection's trades are held (kept from the bars) until that gap is shown closed:
//!
//! - by the stream itself: the new connection sends a trade already known (released, or older
//!   than the last release), so its trades run on from what came before (a connection loses no
//!   frame in its middle, TCP sees to that; only its end can be cut off);
//! - or by a REST answer (the newest trades, up to 1000) that reaches back over the last trade
//!   released and forward into the new connection's trades: its trades in between are the gap's.
//!
//! A REST window that does not reach back may have missed trades: the gap is counted unfilled,
//! the trades found are released, and health says so. A second disconnect before the answer drops
//! what the connection in between brought (all of it after the last release, so the answer must
//! cover it anyway): the gap stays one interval, from the last release to the newest connection.
//! Every id is released at most once: the last [`RECENT`] released ids are remembered (a fixed
//! ring plus a set: no allocation once warm), and held and REST trades are deduplicated by id.
//!
//! Trades are released in time order; ties keep the exchange's order (REST's, then the stream's).
//! On a live connection trades pass at once, repeats dropped, so a frame reordered across a bar's
//! end arrives after that bar closed and is counted late by the aggregator: only a sequence could
//! tell that it is coming.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::trades::{MAX_HELD, TradeStats};
use crate::venues::Trade;

/// Released ids remembered to drop repeats: far more than one REST window (1000) or a burst of
/// trades within one millisecond.
pub const RECENT: usize = 8_192;

/// Hashes an id that is already uniformly spread (a UUID or a 128-bit hash): fold and mix, so
/// that ids differing only in a few bits still spread.
#[derive(Default, Clone, Copy, Debug)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u128(&mut self, id: u128) {
        let folded = (id as u64) ^ ((id >> 64) as u64).rotate_left(32);
        let h = folded.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

type Ids = HashSet<u128, BuildHasherDefault<IdHasher>>;

/// What a REST answer did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Filled {
    /// No gap was waiting (a late answer): nothing changed.
    Idle,
    /// The gap is closed and its trades released.
    Closed,
    /// The answer does not reach back to the last trade released: trades may be missing. The gap
    /// is counted unfilled and everything found released.
    Unfilled,
    /// The answer does not reach the new connection's trades (older than them, or none came
    /// yet): nothing changed, a newer answer will.
    Early,
}

/// The gate of one symbol (see the module docs).
#[derive(Clone, Debug)]
pub struct ExecGate {
    /// The last `RECENT` released ids, oldest overwritten first, and the same as a set.
    ring: Vec<u128>,
    slot: usize,
    recent: Ids,
    /// Time of the latest trade released.
    latest_ms: Option<i64>,
    /// The latest release time at the last disconnect (or loss): a later connection's trades
    /// before it were released already, or are an older stream replayed.
    floor_ms: i64,
    awaiting: bool,
    /// The new connection's trades, as they came.
    held: Vec<(u128, Trade)>,
    held_ids: Ids,
    stats: TradeStats,
    /// Scratch for a release: (id, trade, from REST only).
    order: Vec<(u128, Trade, bool)>,
    rest_ids: Ids,
}

impl Default for ExecGate {
    fn default() -> Self {
        Self {
            ring: Vec::new(),
            slot: 0,
            recent: Ids::default(),
            latest_ms: None,
            floor_ms: i64::MIN,
            awaiting: false,
            held: Vec::new(),
            held_ids: Ids::default(),
            stats: TradeStats::default(),
            order: Vec::new(),
            rest_ids: Ids::default(),
        }
    }
}

impl ExecGate {
    pub fn stats(&self) -> TradeStats {
        self.stats
    }

    /// Trades since a disconnect wait for the gap before them to be filled (`fill`).
    pub fn awaiting(&self) -> bool {
        self.awaiting
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Time of the latest trade released.
    pub fn latest_ms(&self) -> Option<i64> {
        self.latest_ms
    }

    /// Offers one trade from the stream; `release` receives the trades the bars may take now.
    pub fn offer(&mut self, id: u128, trade: Trade, release: &mut impl FnMut(Trade)) {
        if self.recent.contains(&id) {
            self.stats.duplicates += 1;
            self.runs_on(release);
            return;
        }
        if trade.ts_ms < self.floor_ms {
            self.stats.stale += 1;
            self.runs_on(release);
            return;
        }
        if !self.awaiting {
            self.pass(id, trade, release);
            return;
        }
        if !self.held_ids.insert(id) {
            self.stats.duplicates += 1;
            return;
        }
        self.held.push((id, trade));
        if self.held.len() > MAX_HELD {
            self.give_up(release);
        }
    }

    /// The new connection sent a trade from before the gap: it runs on from what was released,
    /// so nothing is missing and the held trades go out (sent before it only if reordered).
    fn runs_on(&mut self, release: &mut impl FnMut(Trade)) {
        if self.awaiting {
            self.release_all(&[], release);
        }
    }

    /// The connection dropped: the next one's trades are held until the gap is filled. Before
    /// any trade was released there is nothing to complete.
    pub fn connection_lost(&mut self) {
        if self.awaiting {
            // What this connection brought lies after the last release: the fill covers it too.
            self.held.clear();
            self.held_ids.clear();
            return;
        }
        let Some(latest) = self.latest_ms else { return };
        self.awaiting = true;
        self.floor_ms = latest;
        self.stats.holes += 1;
    }

    /// Fills the gap from a REST answer: `rest` holds the venue's newest trades, oldest first.
    pub fn fill(&mut self, rest: &[(u128, Trade)], release: &mut impl FnMut(Trade)) -> Filled {
        if !self.awaiting {
            return Filled::Idle;
        }
        // Forward: the answer must reach the new connection's trades. With none yet, where that
        // connection starts is unknown; the answer is taken to be newer than its start (LiveFeed
        // asks while that connection is up, after it has streamed for `hole_grace_s`; a REST
        // server lagging its own websocket by that long is not guarded against).
        let forward = self.held.is_empty() || rest.iter().any(|(id, _)| self.held_ids.contains(id));
        // Back: it must reach over the last trade released.
        let back = rest.first().is_some_and(|(_, t)| t.ts_ms < self.floor_ms)
            || rest.iter().any(|(id, _)| self.recent.contains(id));
        if forward && back {
            self.release_all(rest, release);
            return Filled::Closed;
        }
        let first_held = self.held.iter().map(|(_, t)| t.ts_ms).min();
        let newest = rest.last().map(|(_, t)| t.ts_ms);
        let behind = !forward && newest.is_none_or(|newest| first_held.is_some_and(|first| newest <= first));
        if self.held.is_empty() || behind {
            // The connection's first trades may be the ones this answer lacks, or the answer
            // lags behind them: a newer one will tell.
            return Filled::Early;
        }
        // Newer than the held trades yet short of the last release: asking again only moves the
        // window further on.
        self.stats.unfilled += 1;
        self.release_all(rest, release);
        self.after_a_loss();
        Filled::Unfilled
    }

    /// Gives the gap up: the held trades are released as they are, and the gap counts unfilled.
    pub fn give_up(&mut self, release: &mut impl FnMut(Trade)) {
        if !self.awaiting {
            return;
        }
        self.stats.unfilled += 1;
        self.release_all(&[], release);
        self.after_a_loss();
    }

    /// After a gap that may have lost trades, older ones that still come (a connection that
    /// started inside the gap) would reach bars already closed: they are dropped as stale instead.
    fn after_a_loss(&mut self) {
        if let Some(latest) = self.latest_ms {
            self.floor_ms = self.floor_ms.max(latest);
        }
    }

    /// Releases REST's trades after the last release and the held ones, each id once, in time
    /// order (ties: REST's order, then the stream's), and ends the wait.
    fn release_all(&mut self, rest: &[(u128, Trade)], release: &mut impl FnMut(Trade)) {
        self.order.clear();
        self.rest_ids.clear();
        for &(id, trade) in rest {
            // Released already, or older than the last release (before a gap counted unfilled,
            // its missing trades come too late for bars in time order).
            if !self.rest_ids.insert(id) || self.recent.contains(&id) || trade.ts_ms < self.floor_ms {
                continue;
            }
            self.order.push((id, trade, !self.held_ids.contains(&id)));
        }
        for &(id, trade) in &self.held {
            if !self.rest_ids.contains(&id) {
                self.order.push((id, trade, false));
            }
        }
        // Stable: equal times keep the order above.
        self.order.sort_by_key(|&(_, t, _)| t.ts_ms);
        let order = std::mem::take(&mut self.order);
        for &(id, trade, from_rest) in &order {
            self.stats.backfilled += u64::from(from_rest);
            self.pass(id, trade, release);
        }
        self.order = order;
        self.held.clear();
        self.held_ids.clear();
        self.awaiting = false;
    }

    fn pass(&mut self, id: u128, trade: Trade, release: &mut impl FnMut(Trade)) {
        self.remember(id);
        self.latest_ms = Some(self.latest_ms.map_or(trade.ts_ms, |t| t.max(trade.ts_ms)));
        release(trade);
    }

    fn remember(&mut self, id: u128) {
        if self.ring.capacity() == 0 {
            // Twice the entries: deletions leave tombstones, and with this much room the set
            // rehashes in place instead of growing.
            self.ring.reserve_exact(RECENT);
            self.recent.reserve(2 * RECENT);
        }
        if self.ring.len() < RECENT {
            self.ring.push(id);
        } else {
            let old = std::mem::replace(&mut self.ring[self.slot], id);
            self.recent.remove(&old);
            self.slot = (self.slot + 1) % RECENT;
        }
        self.recent.insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Trade {
        Trade { ts_ms: ms, price: 1.0, qty: 1.0, taker_buy: true }
    }

    /// Offers `(id, ms)` trades; returns the ids released (ms == id in these tests).
    fn offer(gate: &mut ExecGate, trades: &[u128]) -> Vec<u128> {
        let mut out = vec![];
        for &id in trades {
            gate.offer(id, t(id as i64), &mut |tr| out.push(tr.ts_ms as u128));
        }
        out
    }

    fn rest(ids: &[u128]) -> Vec<(u128, Trade)> {
        ids.iter().map(|&id| (id, t(id as i64))).collect()
    }

    fn fill(gate: &mut ExecGate, ids: &[u128]) -> (Filled, Vec<u128>) {
        let mut out = vec![];
        let filled = gate.fill(&rest(ids), &mut |tr| out.push(tr.ts_ms as u128));
        (filled, out)
    }

    fn lost(gate: &mut ExecGate) {
        gate.connection_lost();
    }

    #[test]
    fn repeats_on_a_live_connection_are_dropped_and_counted() {
        let mut g = ExecGate::default();
        assert_eq!(offer(&mut g, &[1, 2, 2, 3, 1]), vec![1, 2, 3]);
        assert_eq!(g.stats().duplicates, 2);
        assert!(!g.awaiting());
    }

    #[test]
    fn rest_fills_the_gap_between_the_connections() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2, 3]);
        lost(&mut g);
        assert!(g.awaiting());
        // 4 and 5 were missed; the new connection starts at 6.
        assert!(offer(&mut g, &[6, 7]).is_empty());
        assert_eq!(g.held(), 2);
        let (filled, out) = fill(&mut g, &[2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(filled, Filled::Closed);
        assert_eq!(out, vec![4, 5, 6, 7, 8]);
        assert_eq!((g.stats().backfilled, g.stats().holes, g.stats().unfilled), (3, 1, 0));
        // 8 came from REST first: the stream's copy is a repeat.
        assert_eq!(offer(&mut g, &[8, 9]), vec![9]);
        assert_eq!(fill(&mut g, &[9]).0, Filled::Idle);
    }

    #[test]
    fn an_answer_older_than_the_new_connection_is_early_and_changes_nothing() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2]);
        lost(&mut g);
        offer(&mut g, &[9]);
        assert_eq!(fill(&mut g, &[1, 2, 3]), (Filled::Early, vec![]));
        assert!(g.awaiting() && g.held() == 1);
        assert_eq!(fill(&mut g, &[2, 3, 4, 5, 6, 7, 8, 9]).0, Filled::Closed);
    }

    #[test]
    fn a_window_that_does_not_reach_back_is_counted_unfilled() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2]);
        lost(&mut g);
        offer(&mut g, &[9, 10]);
        let (filled, out) = fill(&mut g, &[7, 8, 9, 10]);
        assert_eq!(filled, Filled::Unfilled);
        assert_eq!(out, vec![7, 8, 9, 10]);
        assert_eq!((g.stats().unfilled, g.stats().backfilled), (1, 2));
        assert!(!g.awaiting());
    }

    #[test]
    fn a_replaying_connection_closes_its_own_gap() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2, 3]);
        lost(&mut g);
        // The new connection starts over from before anything remembered: 0 is stale, and
        // shows the stream runs on from before the disconnect.
        assert_eq!(offer(&mut g, &[0]), Vec::<u128>::new());
        assert!(!g.awaiting(), "the stream reached back over the gap");
        assert_eq!(offer(&mut g, &[1, 2, 3, 4, 5]), vec![4, 5]);
        assert_eq!((g.stats().stale, g.stats().duplicates, g.stats().unfilled), (1, 3, 0));
    }

    #[test]
    fn held_trades_go_out_once_the_stream_shows_it_ran_on() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2]);
        lost(&mut g);
        assert!(offer(&mut g, &[5]).is_empty());
        // A repeat of 2 on the new connection: it started before the gap (5 arrived reordered).
        assert_eq!(offer(&mut g, &[2]), vec![5]);
        assert!(!g.awaiting());
        assert_eq!(g.latest_ms(), Some(5));
    }

    #[test]
    fn two_disconnects_before_the_answer_need_it_to_span_both() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1, 2]);
        lost(&mut g);
        offer(&mut g, &[5, 6]);
        lost(&mut g);
        assert_eq!(g.held(), 0, "what the connection in between brought is for the answer to cover");
        offer(&mut g, &[9]);
        assert_eq!(fill(&mut g, &[2, 3, 4, 5]).0, Filled::Early);
        let (filled, out) = fill(&mut g, &[2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!((filled, out), (Filled::Closed, vec![3, 4, 5, 6, 7, 8, 9]));
        assert_eq!((g.stats().holes, g.stats().backfilled), (1, 6));
    }

    #[test]
    fn giving_up_releases_the_held_trades_and_counts_the_gap() {
        let mut g = ExecGate::default();
        offer(&mut g, &[1]);
        lost(&mut g);
        offer(&mut g, &[5, 4]);
        let mut out = vec![];
        g.give_up(&mut |tr| out.push(tr.ts_ms));
        assert_eq!(out, vec![4, 5], "in time order");
        assert_eq!(g.stats().unfilled, 1);
        assert!(!g.awaiting());
    }

    #[test]
    fn nothing_is_awaited_before_the_first_trade() {
        let mut g = ExecGate::default();
        lost(&mut g);
        assert!(!g.awaiting());
        assert_eq!(offer(&mut g, &[1]), vec![1]);
    }

    #[test]
    fn the_ring_forgets_the_oldest_ids() {
        let mut g = ExecGate::default();
        let ids: Vec<u128> = (1..=(RECENT as u128 + 10)).collect();
        assert_eq!(offer(&mut g, &ids).len(), ids.len());
        assert_eq!((g.recent.len(), g.ring.len(), g.ring.capacity()), (RECENT, RECENT, RECENT));
        // The ten oldest are forgotten (they pass again), the rest are still known.
        assert_eq!(offer(&mut g, &[11, 10, 1]), vec![10, 1]);
        assert_eq!(g.stats().duplicates, 1);
    }

    /// What happens on the wire, step by step (see `each_id_is_released_once_in_time_order`).
    #[derive(Clone, Debug)]
    enum Op {
        /// The connection sends its next trades.
        Receive(usize),
        /// It sends one of its earlier trades again.
        Repeat(usize),
        /// It drops; the next one starts this far from where it stopped (back: a replay, on: missed trades).
        Drop(i64),
        /// A REST answer: the newest `limit` trades up to this far from the exchange's now.
        Rest(i64, usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (1..8usize).prop_map(Op::Receive),
            1 => (0..64usize).prop_map(Op::Repeat),
            1 => (-25..25i64).prop_map(Op::Drop),
            2 => (-5..6i64, 1..40usize).prop_map(|(at, limit)| Op::Rest(at, limit)),
        ]
    }

    proptest::proptest! {
        // Cheap cases (well under a second in all); the rarer interleavings need many.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]

        /// Any interleaving of a tape's trades over connections that drop (resuming before, at
        /// or after where they stopped), repeated frames and REST windows of any size around the
        /// gap: no id is released twice, releases run in time order, and unless a gap is counted
        /// unfilled the bars get exactly the tape, in its order.
        #[test]
        fn each_id_is_released_once_in_time_order(
            steps in proptest::collection::vec(0..3i64, 5..120),
            ops in proptest::collection::vec(op(), 1..40),
            finish_from_rest in proptest::bool::ANY,
        ) {
            // Ids look nothing like their order; times repeat (several trades in one millisecond).
            let tape: Vec<(u128, Trade)> = steps
                .iter()
                .scan(1_000i64, |ms, step| {
                    *ms += step;
                    Some(*ms)
                })
                .enumerate()
                .map(|(k, ms)| (crate::venues::exec_id(format!("trade-{k}").as_bytes()), Trade { ts_ms: ms, price: 1.0 + k as f64, qty: 1.0, taker_buy: k % 2 == 0 }))
                .collect();
            let n = tape.len();
            let mut gate = ExecGate::default();
            let mut out: Vec<Trade> = vec![];
            // The current connection started at `start` and has sent up to `pos`; the exchange is at `now`.
            let (mut start, mut pos, mut now) = (0usize, 0usize, 0usize);
            for op in ops {
                match op {
                    Op::Receive(count) => {
                        for _ in 0..count.min(n - pos) {
                            gate.offer(tape[pos].0, tape[pos].1, &mut |t| out.push(t));
                            pos += 1;
                        }
                        now = now.max(pos);
                    }
                    Op::Repeat(k) if pos > start => {
                        let (id, trade) = tape[start + k % (pos - start)];
                        gate.offer(id, trade, &mut |t| out.push(t));
                    }
                    Op::Repeat(_) => {}
                    Op::Drop(jump) => {
                        gate.connection_lost();
                        // Before its first trade the feed has no past to miss: the tape starts there.
                        let jump = if out.is_empty() && !gate.awaiting() { 0 } else { jump };
                        start = (pos as i64 + jump).clamp(0, n as i64) as usize;
                        pos = start;
                        now = now.max(start);
                    }
                    Op::Rest(at, limit) => {
                        // Asked for after the current connection started, the answer may still
                        // lag behind what that connection has sent, but not behind its start
                        // while it has sent nothing (see `fill`).
                        let oldest_end = if pos > start { start.saturating_sub(3) } else { start };
                        let end = (now as i64 + at).clamp(oldest_end as i64, n as i64) as usize;
                        now = now.max(end);
                        let window = &tape[end.saturating_sub(limit)..end];
                        let before = (gate.awaiting(), gate.held(), out.len(), gate.stats());
                        if gate.fill(window, &mut |t| out.push(t)) == Filled::Early {
                            proptest::prop_assert_eq!(before, (gate.awaiting(), gate.held(), out.len(), gate.stats()));
                        }
                    }
                }
            }
            if finish_from_rest {
                let filled = gate.fill(&tape, &mut |t| out.push(t));
                proptest::prop_assert!(filled != Filled::Early && filled != Filled::Unfilled, "{:?}", filled);
            } else {
                gate.give_up(&mut |t| out.push(t));
            }
            while pos < n {
                gate.offer(tape[pos].0, tape[pos].1, &mut |t| out.push(t));
                pos += 1;
            }
            proptest::prop_assert!(!gate.awaiting());
            proptest::prop_assert!(out.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms), "time order");
            let index = |t: &Trade| (t.price - 1.0) as usize;
            let mut seen = vec![false; n];
            for t in &out {
                proptest::prop_assert!(!seen[index(t)], "released twice: {:?}", t);
                seen[index(t)] = true;
                proptest::prop_assert_eq!(*t, tape[index(t)].1);
            }
            if gate.stats().unfilled == 0 {
                let all: Vec<Trade> = tape.iter().map(|&(_, t)| t).collect();
                proptest::prop_assert_eq!(out, all, "nothing missing, nothing out of the tape's order");
            }
        }
    }
}
