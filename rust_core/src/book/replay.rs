//! Replaying a whole recording through a book in one call, with the GIL released by the caller:
//! the `tradecore book` command and the batch benchmark use it.

use super::{Ladder, OrderBook, Status};
use crate::error::Error;
use crate::recording::{ErrorLog, LineError, lines};

/// `recv_ts_ns` of a line that carries no receive timestamp.
pub const NO_TS: i64 = i64::MIN;

/// One row per message replayed: what happened and the top of the book afterwards
/// (NaN while the book is out of sync or a side is empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BookRows {
    pub line: Vec<u64>,
    pub recv_ts_ns: Vec<i64>,
    pub status: Vec<u8>,
    /// The message's update id (`u`, or the snapshot's `lastUpdateId`); 0 for ignored messages.
    pub update_id: Vec<u64>,
    pub levels: Vec<u32>,
    pub bid_px: Vec<f64>,
    pub bid_qty: Vec<f64>,
    pub ask_px: Vec<f64>,
    pub ask_qty: Vec<f64>,
}

impl BookRows {
    pub fn len(&self) -> usize {
        self.line.len()
    }

    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Also write rows for messages that are not depth updates.
    pub keep_ignored: bool,
    /// Stop at the first bad line instead of counting it and going on.
    pub stop_on_error: bool,
    /// Count depth messages of other symbols (multi-symbol recordings) instead of logging
    /// them as errors.
    pub skip_other_symbols: bool,
}

/// What a replay saw besides its rows and errors.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Depth messages of other symbols, skipped under `skip_other_symbols`.
    pub other_symbols: u64,
}

impl OrderBook {
    /// Applies every line of `data` (complete lines; `first_line` numbers the first one).
    /// Bad lines leave the book untouched and are logged in `errors` — or, with
    /// `stop_on_error`, the first one is returned after the lines before it were applied.
    pub fn replay(
        &mut self,
        data: &[u8],
        first_line: u64,
        options: ReplayOptions,
        rows: &mut BookRows,
        errors: &mut ErrorLog,
    ) -> Result<ReplaySummary, LineError> {
        let mut summary = ReplaySummary::default();
        for (number, line) in lines(data, first_line) {
            let outcome = line.and_then(|line| self.apply_message(line.message).map(|applied| (line, applied)));
            let (line, applied) = match outcome {
                Ok(ok) => ok,
                Err(Error::WrongSymbol { .. }) if options.skip_other_symbols => {
                    summary.other_symbols += 1;
                    continue;
                }
                Err(error) => {
                    let error = LineError { line: number, error };
                    if options.stop_on_error {
                        return Err(error);
                    }
                    errors.record(error);
                    continue;
                }
            };
            if applied.status == Status::Ignored && !options.keep_ignored {
                continue;
            }
            // Checked directly: `side()` would format the out-of-sync reason for every row.
            let synced = self.synced();
            let top = |ladder: &Ladder| match ladder.best() {
                Some((p, q)) if synced => (p.to_f64(), q.to_f64()),
                _ => (f64::NAN, f64::NAN),
            };
            let (bid, ask) = (top(&self.bids), top(&self.asks));
            rows.line.push(number);
            rows.recv_ts_ns.push(line.recv_ts_ns.unwrap_or(NO_TS));
            rows.status.push(applied.status as u8);
            rows.update_id.push(applied.update_id.unwrap_or(0));
            rows.levels.push(u32::try_from(applied.levels).unwrap_or(u32::MAX));
            rows.bid_px.push(bid.0);
            rows.bid_qty.push(bid.1);
            rows.ask_px.push(ask.0);
            rows.ask_qty.push(ask.1);
        }
        Ok(summary)
    }
}
