//! An L2 order book kept in sync from a venue's raw depth messages.
//!
//! `apply` parses a message completely before touching the book, so a bad message leaves the
//! book exactly as it was. Diffs are chained by the venue's rules (`sequence`); diffs that arrive
//! before a snapshot, or after a gap, are buffered and replayed through the same rules when a
//! snapshot comes. While out of sync the book refuses top-of-book queries and says why.

mod ladder;
mod replay;
mod sequence;

use std::collections::VecDeque;
use std::fmt;

pub use ladder::{Ladder, Side};
pub use replay::{BookRows, NO_TS, ReplayOptions, ReplaySummary};
pub use sequence::{Verdict, judge};

use crate::decimal::Fixed;
use crate::error::{Error, Result};
use crate::venues::{Depth, DepthHeader, DepthKind, Levels, Venue, parse_depth};

/// What `apply` did with a message.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// A snapshot was loaded (and any buffered diffs replayed onto it).
    Snapshot = 0,
    /// A diff was applied.
    Applied = 1,
    /// A diff was kept for replay because the book is waiting for a snapshot.
    Buffered = 2,
    /// The message is older than the book and was dropped.
    Stale = 3,
    /// The diff does not continue the book's sequence: the book is now out of sync.
    Gap = 4,
    /// A valid message of the venue that is not a depth update (trade, ticker, ack, ...).
    Ignored = 5,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Snapshot, Status::Applied, Status::Buffered, Status::Stale, Status::Gap, Status::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Snapshot => "snapshot",
            Status::Applied => "applied",
            Status::Buffered => "buffered",
            Status::Stale => "stale",
            Status::Gap => "gap",
            Status::Ignored => "ignored",
        }
    }
}

/// ((bid, bid qty), (ask, ask qty)).
type Touch = ((f64, f64), (f64, f64));

/// The outcome of one message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub status: Status,
    /// The message's own (last) update id, for depth messages.
    pub update_id: Option<u64>,
    /// Price levels the message carried.
    pub levels: usize,
}

/// Why a book is not in sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutOfSync {
    /// No snapshot yet.
    AwaitingSnapshot,
    /// A diff did not continue the sequence; `book_id` is where the book stood.
    Gap { book_id: u64, diff: DepthHeader },
    /// The snapshot predates the diffs buffered since sync was lost.
    SnapshotTooOld { snapshot_id: u64, first_buffered: u64 },
}

impl fmt::Display for OutOfSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AwaitingSnapshot => write!(f, "no snapshot yet (diffs are buffered until one arrives)"),
            Self::Gap { book_id, diff } => {
                write!(f, "gap after update id {book_id}: the next diff has U={} u={}", diff.first_id, diff.last_id)?;
                if let Some(pu) = diff.prev_id {
                    write!(f, " pu={pu}")?;
                }
                write!(f, "; waiting for a new snapshot")
            }
            Self::SnapshotTooOld { snapshot_id, first_buffered } => write!(
                f,
                "snapshot {snapshot_id} is older than the buffered diffs (first U={first_buffered}); \
                 waiting for a newer snapshot"
            ),
        }
    }
}

/// A diff held while the book waits for a snapshot.
#[derive(Clone, Debug)]
struct Buffered {
    header: DepthHeader,
    levels: Levels,
}

/// Bounds on the diffs held while out of sync; the oldest are dropped first (a snapshot recent
/// enough to use them would have to predate them, and a later one makes them stale anyway).
const MAX_BUFFERED_MESSAGES: usize = 100_000;
const MAX_BUFFERED_LEVELS: usize = 4_000_000;

/// Counters per status, plus level updates applied.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BookStats {
    pub by_status: [u64; 6],
    pub levels_applied: u64,
    pub buffered_dropped: u64,
}

#[derive(Clone, Debug)]
pub struct OrderBook {
    venue: Venue,
    symbol: String,
    bids: Ladder,
    asks: Ladder,
    /// Update id of the last snapshot or applied diff; `None` before the first snapshot.
    update_id: Option<u64>,
    /// True while no diff has been applied since the snapshot (futures use a different rule then).
    fresh_snapshot: bool,
    out_of_sync: Option<OutOfSync>,
    buffered: VecDeque<Buffered>,
    buffered_levels: usize,
    scratch: Levels,
    event_time_ms: Option<i64>,
    stats: BookStats,
}

impl OrderBook {
    /// A book for `symbol` (any case) on `venue`.
    pub fn new(venue: Venue, symbol: &str) -> Result<Self> {
        let symbol = symbol.trim().to_ascii_uppercase();
        if symbol.is_empty() || !symbol.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b)) {
            return Err(Error::argument("symbol", format!("'{symbol}' is not a symbol")));
        }
        Ok(Self {
            venue,
            symbol,
            bids: Ladder::new(Side::Bid),
            asks: Ladder::new(Side::Ask),
            update_id: None,
            fresh_snapshot: true,
            out_of_sync: Some(OutOfSync::AwaitingSnapshot),
            buffered: VecDeque::new(),
            buffered_levels: 0,
            scratch: Levels::default(),
            event_time_ms: None,
            stats: BookStats::default(),
        })
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    pub fn synced(&self) -> bool {
        self.out_of_sync.is_none()
    }

    /// Why the book is out of sync, or `None` when it is synced.
    pub fn out_of_sync(&self) -> Option<&OutOfSync> {
        self.out_of_sync.as_ref()
    }

    pub fn last_update_id(&self) -> Option<u64> {
        self.update_id
    }

    /// Exchange time of the last message that changed the book, in milliseconds.
    pub fn event_time_ms(&self) -> Option<i64> {
        self.event_time_ms
    }

    pub fn stats(&self) -> &BookStats {
        &self.stats
    }

    /// Number of buffered diffs waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }

    /// Applies one raw message (diff, snapshot, or any other message of the venue).
    /// On error the book is unchanged.
    pub fn apply(&mut self, raw: &[u8]) -> Result<Status> {
        self.apply_message(raw).map(|m| m.status)
    }

    /// Like `apply`, also telling the message's update id and how many levels it carried.
    pub fn apply_message(&mut self, raw: &[u8]) -> Result<Applied> {
        let mut levels = std::mem::take(&mut self.scratch);
        let parsed = parse_depth(self.venue, &self.symbol, raw, &mut levels);
        let applied = parsed.map(|depth| match depth {
            Depth::Book(header) => Applied {
                levels: levels.len(),
                update_id: Some(header.last_id),
                status: match header.kind {
                    DepthKind::Snapshot => self.on_snapshot(header, &mut levels),
                    DepthKind::Diff => self.on_diff(header, &mut levels),
                },
            },
            Depth::Other => Applied { status: Status::Ignored, update_id: None, levels: 0 },
        });
        self.scratch = levels;
        if let Ok(a) = &applied {
            self.stats.by_status[a.status as usize] += 1;
        }
        applied
    }

    fn on_diff(&mut self, header: DepthHeader, levels: &mut Levels) -> Status {
        if self.out_of_sync.is_some() {
            self.buffer(header, levels);
            return Status::Buffered;
        }
        let book_id = self.update_id.unwrap_or(0);
        match judge(self.venue, book_id, self.fresh_snapshot, &header) {
            Verdict::Stale => Status::Stale,
            Verdict::Apply => {
                self.apply_levels(&header, levels);
                Status::Applied
            }
            Verdict::Gap => {
                self.out_of_sync = Some(OutOfSync::Gap { book_id, diff: header });
                self.buffer(header, levels);
                Status::Gap
            }
        }
    }

    fn apply_levels(&mut self, header: &DepthHeader, levels: &Levels) {
        for l in &levels.bids {
            self.bids.set(l.price, l.qty);
        }
        for l in &levels.asks {
            self.asks.set(l.price, l.qty);
        }
        self.stats.levels_applied += levels.len() as u64;
        self.update_id = Some(header.last_id);
        self.fresh_snapshot = false;
        if header.event_time_ms.is_some() {
            self.event_time_ms = header.event_time_ms;
        }
    }

    fn buffer(&mut self, header: DepthHeader, levels: &mut Levels) {
        self.buffered_levels += levels.len();
        self.buffered.push_back(Buffered { header, levels: std::mem::take(levels) });
        while self.buffered.len() > MAX_BUFFERED_MESSAGES || self.buffered_levels > MAX_BUFFERED_LEVELS {
            let Some(dropped) = self.buffered.pop_front() else { break };
            self.buffered_levels -= dropped.levels.len();
            self.stats.buffered_dropped += 1;
        }
    }

    fn on_snapshot(&mut self, header: DepthHeader, levels: &mut Levels) -> Status {
        let snapshot_id = header.last_id;
        // Bybit restarts its ids at 1 after a service restart; otherwise an older snapshot is stale.
        let restart = self.venue == Venue::Bybit && snapshot_id == 1;
        if self.synced() && !restart && self.update_id.is_some_and(|id| snapshot_id <= id) {
            return Status::Stale;
        }
        // Diffs the snapshot already contains are useless now, whatever happens next.
        while let Some(front) = self.buffered.front() {
            if judge(self.venue, snapshot_id, true, &front.header) != Verdict::Stale {
                break;
            }
            self.drop_front();
        }
        // The first remaining diff must bridge the snapshot, or the snapshot predates them all.
        if let Some(front) = self.buffered.front()
            && judge(self.venue, snapshot_id, true, &front.header) == Verdict::Gap
        {
            self.out_of_sync = Some(OutOfSync::SnapshotTooOld { snapshot_id, first_buffered: front.header.first_id });
            return Status::Stale;
        }
        self.bids.clear();
        self.asks.clear();
        for l in &levels.bids {
            self.bids.set(l.price, l.qty);
        }
        for l in &levels.asks {
            self.asks.set(l.price, l.qty);
        }
        self.update_id = Some(snapshot_id);
        self.fresh_snapshot = true;
        self.out_of_sync = None;
        self.event_time_ms = header.event_time_ms.or(self.event_time_ms);
        self.replay_buffered()
    }

    fn drop_front(&mut self) {
        if let Some(b) = self.buffered.pop_front() {
            self.buffered_levels -= b.levels.len();
        }
    }

    /// Replays buffered diffs onto a freshly loaded snapshot through the normal rules.
    fn replay_buffered(&mut self) -> Status {
        while let Some(next) = self.buffered.pop_front() {
            self.buffered_levels -= next.levels.len();
            let book_id = self.update_id.unwrap_or(0);
            match judge(self.venue, book_id, self.fresh_snapshot, &next.header) {
                Verdict::Stale => {}
                Verdict::Apply => self.apply_levels(&next.header, &next.levels),
                Verdict::Gap => {
                    self.out_of_sync = Some(OutOfSync::Gap { book_id, diff: next.header });
                    self.buffered_levels += next.levels.len();
                    self.buffered.push_front(next);
                    return Status::Gap;
                }
            }
        }
        Status::Snapshot
    }

    fn require_synced(&self) -> Result<()> {
        match &self.out_of_sync {
            None => Ok(()),
            Some(reason) => Err(Error::NotSynced { reason: reason.to_string() }),
        }
    }

    /// The ladder of one side (valid only while synced; see `require_synced`).
    pub fn side(&self, side: Side) -> Result<&Ladder> {
        self.require_synced()?;
        Ok(match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        })
    }

    pub fn best_bid(&self) -> Result<Option<(Fixed, Fixed)>> {
        Ok(self.side(Side::Bid)?.best())
    }

    pub fn best_ask(&self) -> Result<Option<(Fixed, Fixed)>> {
        Ok(self.side(Side::Ask)?.best())
    }

    /// Best bid and ask, both present, as floats: ((bid, bid qty), (ask, ask qty)).
    fn touch(&self) -> Result<Option<Touch>> {
        let both = self.best_bid()?.zip(self.best_ask()?);
        Ok(both.map(|((bp, bq), (ap, aq))| ((bp.to_f64(), bq.to_f64()), (ap.to_f64(), aq.to_f64()))))
    }

    pub fn spread(&self) -> Result<Option<f64>> {
        Ok(self.touch()?.map(|((bid, _), (ask, _))| ask - bid))
    }

    pub fn mid(&self) -> Result<Option<f64>> {
        Ok(self.touch()?.map(|((bid, _), (ask, _))| (bid + ask) / 2.0))
    }

    /// Size-weighted mid: leans towards the side with less quantity (the side likely to move).
    pub fn microprice(&self) -> Result<Option<f64>> {
        Ok(self.touch()?.map(|((bid, bq), (ask, aq))| (bid * aq + ask * bq) / (bq + aq)))
    }

    /// (bid qty − ask qty) / (bid qty + ask qty) over the best `levels` levels of each side, in [−1, 1].
    pub fn imbalance(&self, levels: usize) -> Result<Option<f64>> {
        if levels == 0 {
            return Err(Error::argument("levels", "must be at least 1"));
        }
        let sum = |side: &Ladder| side.iter().take(levels).map(|(_, q)| q.to_f64()).sum::<f64>();
        let (b, a) = (sum(self.side(Side::Bid)?), sum(self.side(Side::Ask)?));
        Ok((b + a > 0.0).then(|| (b - a) / (b + a)))
    }

    /// Quantity resting within ±`bps` basis points of the mid: (bid side, ask side).
    pub fn depth(&self, bps: f64) -> Result<Option<(f64, f64)>> {
        if !(bps.is_finite() && bps >= 0.0) {
            return Err(Error::argument("bps", format!("must be a non-negative number, got {bps}")));
        }
        let Some(mid) = self.mid()? else { return Ok(None) };
        let (low, high) = (mid * (1.0 - bps / 1e4), mid * (1.0 + bps / 1e4));
        let bids = self.bids.iter().take_while(|(p, _)| p.to_f64() >= low).map(|(_, q)| q.to_f64()).sum();
        let asks = self.asks.iter().take_while(|(p, _)| p.to_f64() <= high).map(|(_, q)| q.to_f64()).sum();
        Ok(Some((bids, asks)))
    }

    /// Average price of a market order of `qty` walking the book (buys take asks, sells take
    /// bids). `None` when the visible book cannot fill it.
    pub fn fill_price(&self, side: Side, qty: f64) -> Result<Option<f64>> {
        let (filled, average) = self.sweep(side, qty, None)?;
        Ok((filled >= qty_units(qty)?.0 as f64 / 1e9).then_some(average))
    }

    /// What a taker order of `qty` on `side` (Bid = buy, walking the asks) would get from the
    /// visible book without going past `limit`: (filled quantity, average price); (0, NaN)
    /// when nothing is available. The paper broker's book fill model.
    pub fn sweep(&self, side: Side, qty: f64, limit: Option<f64>) -> Result<(f64, f64)> {
        let wanted = qty_units(qty)?;
        let limit = match limit {
            None => None,
            Some(p) => Some(
                Fixed::from_f64(p)
                    .filter(|p| !p.is_zero())
                    .ok_or_else(|| Error::argument("limit", format!("must be a positive price, got {p}")))?,
            ),
        };
        let buy = side == Side::Bid;
        let book = self.side(if buy { Side::Ask } else { Side::Bid })?;
        let mut left = wanted.0;
        // Exact arithmetic: price and quantity are both 10^-9 units, so notional is 10^-18 units.
        let mut notional: u128 = 0;
        for (price, available) in book.iter() {
            if limit.is_some_and(|l| if buy { price > l } else { price < l }) {
                break;
            }
            let take = left.min(available.0);
            notional += u128::from(take) * u128::from(price.0);
            left -= take;
            if left == 0 {
                break;
            }
        }
        let filled = wanted.0 - left;
        if filled == 0 {
            return Ok((0.0, f64::NAN));
        }
        Ok((filled as f64 / 1e9, notional as f64 / filled as f64 / 1e9))
    }

    /// Level count per side (bids, asks), whether synced or not.
    pub fn level_counts(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}

#[cfg(test)]
mod tests;

fn qty_units(qty: f64) -> Result<Fixed> {
    Fixed::from_f64(qty)
        .filter(|q| !q.is_zero())
        .ok_or_else(|| Error::argument("qty", format!("must be a positive number, got {qty}")))
}
