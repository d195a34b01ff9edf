//! The core of a live feed: the raw frames of one connection, routed by stream name to each
//! symbol's order book, trade gate (Binance: a sequencer of numbered trades; Bybit: a gate that
//! holds trades after a disconnect until REST fills the gap) and candle aggregator, with data
//! health. It never does I/O: the caller brings the bytes (websocket frames, REST answers), so
//! the same code runs live, in tests and over recordings, and one parse per frame is all the hot
//! path costs.
//!
//! `on_frame` answers with bit flags (see [`flags`]); zero work is asked of the caller unless a
//! book needs a snapshot, trades are missing, or bars have closed.

mod health;
mod trades;
mod unsequenced;

pub use health::{Health, JUMP};
pub use trades::{MAX_HELD, TradeGate, TradeStats};
pub use unsequenced::{ExecGate, Filled, RECENT};

use std::collections::VecDeque;

use crate::book::{OrderBook, Status};
use crate::candles::{Aggregator, BarColumns, Timeframe, check_trade};
use crate::decimal::Fixed;
use crate::error::{Error, Result};
use crate::json::Cursor;
use crate::recording::{ErrorLog, LineError, lines};
use crate::venues::{
    StreamKind, Ticker, Trade, Venue, depth_symbol, parse_recent_trades, parse_rest_trades, parse_ticker,
    parse_trade_events, stream_of,
};

/// What `on_frame` reports: a kind in the low bits, conditions above, and the symbol's index
/// (in `Feed::symbols` order) from bit 16 for frames of a stream.
pub mod flags {
    pub const KIND: u32 = 0x7;
    /// Not a stream message: a subscription reply, a pong, an error from the venue.
    pub const CONTROL: u32 = 0;
    pub const DEPTH: u32 = 1;
    pub const TRADE: u32 = 2;
    pub const TICKER: u32 = 3;
    /// A stream the feed does not consume (klines, aggTrades, ...): checked to be JSON only.
    pub const OTHER: u32 = 4;
    /// A stream of a symbol the feed does not follow (e.g. just unsubscribed).
    pub const UNKNOWN_SYMBOL: u32 = 5;
    /// The symbol's book is out of sync: it buffers diffs until a snapshot is applied.
    pub const RESYNC: u32 = 1 << 3;
    /// Trades are missing (Binance: a hole in the ids) or may be (Bybit: since a disconnect):
    /// later ones are held until the gap is filled (`fill_trades`).
    pub const TRADE_HOLE: u32 = 1 << 4;
    /// Closed bars are waiting in `take_closed`.
    pub const CANDLES: u32 = 1 << 5;
    /// A `bookTicker` disagreed with the book at the same update id: the book is wrong.
    pub const TICKER_MISMATCH: u32 = 1 << 6;
    /// The price moved more than 50% within a minute.
    pub const JUMP: u32 = 1 << 7;
    pub const SYMBOL_SHIFT: u32 = 16;
}

/// Tickers kept waiting for the book to reach them (more means the depth stream has stalled).
const MAX_WAITING_TICKERS: usize = 256;

#[derive(Clone, Debug)]
pub struct Options {
    pub timeframes: Vec<Timeframe>,
    /// Bars close this long after their end by the exchange's depth event times, so a quiet
    /// market still closes its bars; negative: bars close only on the next trade.
    pub close_delay_ms: i64,
}

/// Frame counters of the whole connection.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    pub frames: u64,
    pub malformed: u64,
    pub control: u64,
    pub other: u64,
    pub unknown_symbol: u64,
    /// Snapshots applied (the first of each book and every resync).
    pub snapshots: u64,
}

/// Everything the feed keeps for one symbol.
#[derive(Clone, Debug)]
pub struct Market {
    pub book: OrderBook,
    pub candles: Aggregator,
    /// Numbered trades (Binance).
    pub gate: TradeGate,
    /// Trades identified by execId (Bybit).
    pub exec: ExecGate,
    pub health: Health,
    /// Tickers ahead of the book, waiting for the diff with their update id.
    tickers: VecDeque<Ticker>,
    /// Since a reconnect, trades may be missing that no trade has revealed yet: bars wait for
    /// the next trade (and the backfill it may need) instead of closing by the clock.
    uncertain: bool,
}

impl Market {
    pub fn symbol(&self) -> &str {
        self.book.symbol()
    }

    /// Checks the waiting tickers the book has now reached; true if one disagrees.
    fn check_tickers(&mut self) -> bool {
        let Some(id) = self.book.last_update_id().filter(|_| self.book.synced()) else { return false };
        let mut mismatch = false;
        while let Some(ticker) = self.tickers.front().copied() {
            if ticker.update_id > id {
                break;
            }
            self.tickers.pop_front();
            if ticker.update_id == id {
                mismatch |= !self.ticker_agrees(&ticker);
            }
        }
        mismatch
    }

    fn ticker_agrees(&mut self, ticker: &Ticker) -> bool {
        let best = |side: Result<Option<(Fixed, Fixed)>>| side.ok().flatten().map(|(price, _)| price);
        let agrees = best(self.book.best_bid()) == Some(ticker.bid) && best(self.book.best_ask()) == Some(ticker.ask);
        self.health.tickers_checked += 1;
        self.health.tickers_mismatched += u64::from(!agrees);
        agrees
    }

    /// Trades are held until REST fills a gap before them.
    pub fn trades_waiting(&self) -> bool {
        self.gate.hole().is_some() || self.exec.awaiting()
    }

    /// The trade counters of the market's venue.
    pub fn trade_stats(&self) -> TradeStats {
        self.gate.stats().merged(self.exec.stats())
    }

    /// Trades held back from the bars.
    pub fn trades_held(&self) -> usize {
        self.gate.held() + self.exec.held()
    }

    fn may_close_by_clock(&self) -> bool {
        !self.uncertain && !self.trades_waiting()
    }

    fn conditions(&self) -> u32 {
        let mut f = 0;
        if !self.book.synced() {
            f |= flags::RESYNC;
        }
        if self.trades_waiting() {
            f |= flags::TRADE_HOLE;
        }
        if self.candles.has_closed() {
            f |= flags::CANDLES;
        }
        f
    }
}

#[derive(Clone, Debug)]
pub struct Feed {
    venue: Venue,
    options: Options,
    markets: Vec<Market>,
    stats: FeedStats,
    scratch: Vec<(Option<u64>, Option<u128>, Option<Trade>)>,
    rest_scratch: Vec<(u64, Trade)>,
    recent_scratch: Vec<(u128, Trade)>,
}

impl Feed {
    pub fn new(venue: Venue, symbols: &[&str], options: Options) -> Result<Self> {
        // Fail on bad timeframes now rather than at the first symbol added later.
        Aggregator::new(&options.timeframes, Default::default())?;
        let mut feed = Self {
            venue,
            options,
            markets: Vec::new(),
            stats: FeedStats::default(),
            scratch: Vec::new(),
            rest_scratch: Vec::new(),
            recent_scratch: Vec::new(),
        };
        for symbol in symbols {
            feed.add_symbol(symbol)?;
        }
        Ok(feed)
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn stats(&self) -> FeedStats {
        self.stats
    }

    pub fn timeframes(&self) -> &[Timeframe] {
        &self.options.timeframes
    }

    pub fn markets(&self) -> &[Market] {
        &self.markets
    }

    fn index(&self, symbol: &[u8]) -> Option<usize> {
        self.markets.iter().position(|m| m.symbol().as_bytes().eq_ignore_ascii_case(symbol))
    }

    pub fn market(&self, symbol: &str) -> Result<&Market> {
        self.index(symbol.as_bytes()).map(|i| &self.markets[i]).ok_or_else(|| self.not_followed(symbol))
    }

    fn market_mut(&mut self, symbol: &str) -> Result<&mut Market> {
        match self.index(symbol.as_bytes()) {
            Some(i) => Ok(&mut self.markets[i]),
            None => Err(self.not_followed(symbol)),
        }
    }

    fn not_followed(&self, symbol: &str) -> Error {
        let followed: Vec<_> = self.markets.iter().map(Market::symbol).collect();
        Error::argument(
            "symbol",
            format!("'{symbol}' is not followed by this feed (it follows {})", followed.join(", ")),
        )
    }

    /// Starts following `symbol`: a fresh book (waiting for a snapshot) and fresh bars.
    pub fn add_symbol(&mut self, symbol: &str) -> Result<()> {
        if self.index(symbol.as_bytes()).is_some() {
            return Err(Error::argument("symbol", format!("'{symbol}' is already followed")));
        }
        let options = crate::candles::Options { fill_gaps: true, late: crate::candles::Late::Drop };
        self.markets.push(Market {
            book: OrderBook::new(self.venue, symbol)?,
            candles: Aggregator::new(&self.options.timeframes, options)?,
            gate: TradeGate::default(),
            exec: ExecGate::default(),
            health: Health::default(),
            tickers: VecDeque::new(),
            uncertain: false,
        });
        Ok(())
    }

    /// Stops following `symbol`; its frames still in flight count as `unknown_symbol`.
    pub fn remove_symbol(&mut self, symbol: &str) -> Result<Market> {
        let i = self.index(symbol.as_bytes()).ok_or_else(|| self.not_followed(symbol))?;
        Ok(self.markets.remove(i))
    }

    /// Applies one frame received at `recv_ns` (ns since the epoch). A malformed frame is an
    /// error, counted, and changes nothing.
    pub fn on_frame(&mut self, raw: &[u8], recv_ns: i64) -> Result<u32> {
        self.stats.frames += 1;
        let result = self.route(raw, recv_ns);
        if result.is_err() {
            self.stats.malformed += 1;
        }
        result
    }

    fn route(&mut self, raw: &[u8], recv_ns: i64) -> Result<u32> {
        let Some(stream) = stream_of(self.venue, raw)? else {
            self.stats.control += 1;
            return Ok(flags::CONTROL);
        };
        let Some(i) = self.index(stream.symbol) else {
            well_formed(raw)?;
            self.stats.unknown_symbol += 1;
            return Ok(flags::UNKNOWN_SYMBOL);
        };
        let kind = match stream.kind {
            StreamKind::Depth => self.on_depth(i, raw, recv_ns)?,
            StreamKind::Trade => self.on_trades(i, raw, recv_ns)?,
            StreamKind::Ticker => self.on_ticker(i, raw, recv_ns)?,
            StreamKind::AggTrade | StreamKind::Kline | StreamKind::Other => {
                well_formed(raw)?;
                self.stats.other += 1;
                flags::OTHER
            }
        };
        Ok(kind | self.markets[i].conditions() | (i as u32) << flags::SYMBOL_SHIFT)
    }

    fn on_depth(&mut self, i: usize, raw: &[u8], recv_ns: i64) -> Result<u32> {
        let close_delay = self.options.close_delay_ms;
        let m = &mut self.markets[i];
        let applied = m.book.apply_message(raw)?;
        m.health.last_depth_ns = Some(recv_ns);
        let event_ms = m.book.event_time_ms().filter(|_| applied.status == Status::Applied);
        m.health.message(recv_ns, event_ms);
        if applied.status == Status::Snapshot {
            self.stats.snapshots += 1;
        }
        if let Some(event_ms) = event_ms
            && close_delay >= 0
            && m.may_close_by_clock()
        {
            m.candles.advance(event_ms - close_delay);
        }
        let mismatch = !m.tickers.is_empty() && m.check_tickers();
        Ok(flags::DEPTH | if mismatch { flags::TICKER_MISMATCH } else { 0 })
    }

    fn on_trades(&mut self, i: usize, raw: &[u8], recv_ns: i64) -> Result<u32> {
        let m = &mut self.markets[i];
        let symbol = m.book.symbol();
        // Parse and check every trade before any is applied.
        self.scratch.clear();
        let mut wrong: Option<String> = None;
        parse_trade_events(raw, |e| {
            if !e.symbol.eq_ignore_ascii_case(symbol.as_bytes()) && wrong.is_none() {
                wrong = Some(String::from_utf8_lossy(e.symbol).into_owned());
            }
            self.scratch.push((e.id, e.exec, e.on_tape.then_some(e.trade)));
        })?;
        if let Some(found) = wrong {
            return Err(Error::WrongSymbol { expected: symbol.to_owned(), found, offset: 0 });
        }
        for (k, (_, _, trade)) in self.scratch.iter().enumerate() {
            if let Some(t) = trade {
                check_trade(t).map_err(|reason| Error::invalid(format!("trade[{k}]"), 0, reason))?;
            }
        }
        let mut jump = false;
        let (candles, health) = (&mut m.candles, &mut m.health);
        for &(id, exec, trade) in &self.scratch {
            let release = &mut |t| jump |= take_trade(candles, health, t);
            match (exec, trade) {
                (Some(exec), Some(trade)) => m.exec.offer(exec, trade, release),
                _ => m.gate.offer(id, trade, release),
            }
        }
        let last_time = self.scratch.iter().rev().find_map(|(_, _, t)| t.map(|t| t.ts_ms));
        m.health.last_trade_ns = Some(recv_ns);
        m.health.message(recv_ns, last_time);
        if !m.trades_waiting() && !self.scratch.is_empty() {
            m.uncertain = false;
        }
        Ok(flags::TRADE | if jump { flags::JUMP } else { 0 })
    }

    /// A `bookTicker` is the exchange's own top of book after update `u`: it is checked against
    /// the book once the book has applied that update (the ticker often arrives first).
    fn on_ticker(&mut self, i: usize, raw: &[u8], recv_ns: i64) -> Result<u32> {
        let ticker = parse_ticker(raw)?;
        let m = &mut self.markets[i];
        m.health.message(recv_ns, ticker.event_time_ms);
        let Some(id) = m.book.last_update_id().filter(|_| m.book.synced()) else { return Ok(flags::TICKER) };
        if ticker.update_id > id {
            if m.tickers.len() == MAX_WAITING_TICKERS {
                m.tickers.pop_front();
            }
            m.tickers.push_back(ticker);
            return Ok(flags::TICKER);
        }
        if ticker.update_id < id || m.ticker_agrees(&ticker) {
            return Ok(flags::TICKER);
        }
        Ok(flags::TICKER | flags::TICKER_MISMATCH)
    }

    /// Applies a REST depth snapshot of `symbol` (the venue's raw answer).
    pub fn apply_snapshot(&mut self, symbol: &str, raw: &[u8], recv_ns: i64) -> Result<Status> {
        let m = self.market_mut(symbol)?;
        let applied = m.book.apply_message(raw)?;
        m.health.last_message_ns = Some(recv_ns);
        if applied.status == Status::Snapshot {
            self.stats.snapshots += 1;
        }
        Ok(applied.status)
    }

    /// Fills the symbol's trade gap from a raw REST answer: Binance `historicalTrades` (from the
    /// hole's first id), Bybit `recent-trade`. Returns true when the gap is closed (on Bybit
    /// perhaps with trades missing: counted in `TradeStats::unfilled`); false means the answer did
    /// not reach the held trades yet. A bad answer is an error and changes nothing.
    pub fn fill_trades(&mut self, symbol: &str, raw: &[u8]) -> Result<bool> {
        let i = self.index(symbol.as_bytes()).ok_or_else(|| self.not_followed(symbol))?;
        if self.venue == Venue::Bybit {
            return self.fill_recent(i, raw);
        }
        self.rest_scratch.clear();
        let scratch = &mut self.rest_scratch;
        parse_rest_trades(raw, |id, t| scratch.push((id, t)))?;
        for (k, (_, t)) in scratch.iter().enumerate() {
            check_trade(t).map_err(|reason| Error::invalid(format!("[{k}]"), 0, reason))?;
        }
        scratch.sort_unstable_by_key(|&(id, _)| id);
        let m = &mut self.markets[i];
        let (candles, health) = (&mut m.candles, &mut m.health);
        let closed = m.gate.fill(scratch, &mut |t| _ = take_trade(candles, health, t));
        if closed {
            m.uncertain = false;
        }
        Ok(closed)
    }

    fn fill_recent(&mut self, i: usize, raw: &[u8]) -> Result<bool> {
        let symbol = self.markets[i].book.symbol();
        let scratch = &mut self.recent_scratch;
        scratch.clear();
        let mut wrong: Option<String> = None;
        parse_recent_trades(raw, |found, id, t| {
            if !found.eq_ignore_ascii_case(symbol.as_bytes()) && wrong.is_none() {
                wrong = Some(String::from_utf8_lossy(found).into_owned());
            }
            scratch.push((id, t));
        })?;
        if let Some(found) = wrong {
            return Err(Error::WrongSymbol { expected: symbol.to_owned(), found, offset: 0 });
        }
        for (k, (_, t)) in scratch.iter().enumerate() {
            check_trade(t).map_err(|reason| Error::invalid(format!("list[{k}]"), 0, reason))?;
        }
        // Newest first as sent: reversed, it is the exchange's order (kept for equal times).
        scratch.reverse();
        scratch.sort_by_key(|&(_, t)| t.ts_ms);
        let m = &mut self.markets[i];
        let (candles, health) = (&mut m.candles, &mut m.health);
        let filled = m.exec.fill(scratch, &mut |t| _ = take_trade(candles, health, t));
        if !m.trades_waiting() {
            m.uncertain = false;
        }
        Ok(filled != Filled::Early)
    }

    /// Gives up the symbol's trade gap: Binance's missing ids are counted lost, Bybit's gap
    /// unfilled, and the held trades are released.
    pub fn give_up_trades(&mut self, symbol: &str) -> Result<()> {
        let m = self.market_mut(symbol)?;
        let (candles, health) = (&mut m.candles, &mut m.health);
        m.gate.give_up(&mut |t| _ = take_trade(candles, health, t));
        m.exec.give_up(&mut |t| _ = take_trade(candles, health, t));
        m.uncertain = false;
        Ok(())
    }

    /// The connection dropped: trades may be missing that no trade has revealed yet (Binance's
    /// next trade will show a hole), or that none ever will (Bybit's: its next trades are held
    /// until `fill_trades`).
    pub fn connection_lost(&mut self) {
        for m in &mut self.markets {
            m.uncertain = true;
            m.exec.connection_lost();
        }
    }

    /// Closed bars of every symbol, by symbol index and timeframe, oldest first.
    pub fn take_closed(&mut self) -> Vec<(usize, Timeframe, BarColumns)> {
        let mut out = Vec::new();
        for (i, m) in self.markets.iter_mut().enumerate() {
            out.extend(m.candles.take_closed().into_iter().map(|(tf, bars)| (i, tf, bars)));
        }
        out
    }

    /// Feeds the lines of a recording chunk (complete lines) through `on_frame`, as if received
    /// at their recorded times (lines without one get `recv_ns` 0). Lines outside any stream are
    /// REST depth snapshots when recorded by `tradecore record`: they go to the book they name,
    /// or the only one. Bad lines are logged; returns the number of lines read.
    pub fn replay(&mut self, data: &[u8], first_line: u64, log: &mut ErrorLog) -> u64 {
        let mut count = 0;
        for (number, line) in lines(data, first_line) {
            count += 1;
            let result = line.and_then(|line| self.replay_line(line.message, line.recv_ts_ns.unwrap_or(0)));
            if let Err(error) = result {
                log.record(LineError { line: number, error });
            }
        }
        count
    }

    fn replay_line(&mut self, raw: &[u8], recv_ns: i64) -> Result<()> {
        if stream_of(self.venue, raw)?.is_some() {
            return self.on_frame(raw, recv_ns).map(drop);
        }
        let named = depth_symbol(self.venue, raw)?;
        let symbol = match (named, self.markets.as_slice()) {
            (Some(symbol), _) => symbol,
            (None, [only]) => only.symbol().to_owned(),
            _ => return self.on_frame(raw, recv_ns).map(drop),
        };
        if self.index(symbol.as_bytes()).is_none() {
            return Ok(());
        }
        self.stats.frames += 1;
        self.apply_snapshot(&symbol, raw, recv_ns).map(drop)
    }

    /// Closes the open bars (end of the data).
    pub fn flush(&mut self) {
        for m in &mut self.markets {
            m.candles.flush();
        }
    }
}

/// A trade in sequence goes into the bars and past the price-jump watch; true if it starts a jump.
fn take_trade(candles: &mut Aggregator, health: &mut Health, t: Trade) -> bool {
    let pushed = candles.push(&t);
    debug_assert!(pushed.is_ok(), "checked trades under the drop policy are always accepted");
    health.trade(t.ts_ms, t.price)
}

/// Checks that a frame is one well-formed JSON value (for frames not otherwise parsed).
fn well_formed(raw: &[u8]) -> Result<()> {
    let mut c = Cursor::new(raw);
    c.skip_value()?;
    c.finish()
}

#[cfg(test)]
mod tests;
