//! The venues' documented rules for chaining depth diffs onto a book.
//!
//! - Binance spot: drop a diff with `u <= id`; otherwise it applies when `U <= id + 1`, which for
//!   the first diff after a snapshot is Binance's `U <= lastUpdateId + 1 <= u` and afterwards
//!   `U == previous u + 1` (an overlapping diff is also correct to apply: levels are absolute).
//! - Binance futures (USD-M, COIN-M): update ids are not contiguous, so diffs chain by `pu`.
//!   First diff after a snapshot: drop `u < lastUpdateId`, apply when `U <= lastUpdateId <= u`.
//!   Afterwards: drop `u <= id`, apply when `pu == id`.
//! - Bybit: one id per message; drop `u <= id`, apply when `u == id + 1`.
//!
//! Anything else is a gap: messages were lost and only a new snapshot can restore the book.

use crate::venues::{DepthHeader, Venue};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    Stale,
    Gap,
}

/// What to do with diff `h` on a book at update id `book_id`. `first` is true while no diff has
/// been applied since the snapshot.
pub fn judge(venue: Venue, book_id: u64, first: bool, h: &DepthHeader) -> Verdict {
    let (applies, stale) = match venue {
        Venue::BinanceSpot => (h.first_id <= book_id.saturating_add(1), h.last_id <= book_id),
        Venue::BinanceUsdm | Venue::BinanceCoinm if first => (h.first_id <= book_id, h.last_id < book_id),
        Venue::BinanceUsdm | Venue::BinanceCoinm => (h.prev_id == Some(book_id), h.last_id <= book_id),
        Venue::Bybit => (h.last_id == book_id.saturating_add(1), h.last_id <= book_id),
    };
    if stale {
        Verdict::Stale
    } else if applies {
        Verdict::Apply
    } else {
        Verdict::Gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::DepthKind;
    use rstest::rstest;

    fn diff(first: u64, last: u64, prev: Option<u64>) -> DepthHeader {
        DepthHeader { kind: DepthKind::Diff, first_id: first, last_id: last, prev_id: prev, event_time_ms: None }
    }

    #[rstest]
    // spot, right after a snapshot at 100
    #[case(Venue::BinanceSpot, 100, true, diff(90, 100, None), Verdict::Stale)]
    #[case(Venue::BinanceSpot, 100, true, diff(95, 105, None), Verdict::Apply)]
    #[case(Venue::BinanceSpot, 100, true, diff(101, 105, None), Verdict::Apply)]
    #[case(Venue::BinanceSpot, 100, true, diff(102, 105, None), Verdict::Gap)]
    // spot, chained
    #[case(Venue::BinanceSpot, 105, false, diff(106, 110, None), Verdict::Apply)]
    #[case(Venue::BinanceSpot, 105, false, diff(107, 110, None), Verdict::Gap)]
    #[case(Venue::BinanceSpot, 105, false, diff(101, 105, None), Verdict::Stale)]
    // futures, right after a snapshot at 100
    #[case(Venue::BinanceUsdm, 100, true, diff(80, 99, Some(70)), Verdict::Stale)]
    #[case(Venue::BinanceUsdm, 100, true, diff(90, 100, Some(85)), Verdict::Apply)]
    #[case(Venue::BinanceUsdm, 100, true, diff(95, 120, Some(90)), Verdict::Apply)]
    #[case(Venue::BinanceUsdm, 100, true, diff(101, 120, Some(100)), Verdict::Gap)]
    // futures, chained by pu
    #[case(Venue::BinanceCoinm, 120, false, diff(125, 130, Some(120)), Verdict::Apply)]
    #[case(Venue::BinanceCoinm, 120, false, diff(125, 130, Some(119)), Verdict::Gap)]
    #[case(Venue::BinanceCoinm, 120, false, diff(100, 120, Some(95)), Verdict::Stale)]
    // bybit
    #[case(Venue::Bybit, 7, true, diff(8, 8, None), Verdict::Apply)]
    #[case(Venue::Bybit, 7, false, diff(7, 7, None), Verdict::Stale)]
    #[case(Venue::Bybit, 7, false, diff(9, 9, None), Verdict::Gap)]
    fn rules(
        #[case] venue: Venue,
        #[case] id: u64,
        #[case] first: bool,
        #[case] h: DepthHeader,
        #[case] want: Verdict,
    ) {
        assert_eq!(judge(venue, id, first, &h), want);
    }
}
