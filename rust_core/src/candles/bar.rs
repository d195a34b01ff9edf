//! A time bar, and closed bars stored column by column.

/// One time bar.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Bar {
    /// Start of the bar, milliseconds since the Unix epoch (UTC).
    pub open_time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Σ price × quantity.
    pub quote_volume: f64,
    /// Volume of trades whose aggressor bought.
    pub taker_buy_volume: f64,
    pub taker_buy_quote_volume: f64,
    pub trades: u64,
    pub(super) first_ts: i64,
    pub(super) last_ts: i64,
}

impl Bar {
    pub(super) fn empty(open_time_ms: i64) -> Self {
        Self {
            open_time_ms,
            open: f64::NAN,
            high: f64::NEG_INFINITY,
            low: f64::INFINITY,
            close: f64::NAN,
            volume: 0.0,
            quote_volume: 0.0,
            taker_buy_volume: 0.0,
            taker_buy_quote_volume: 0.0,
            trades: 0,
            first_ts: i64::MAX,
            last_ts: i64::MIN,
        }
    }

    /// A bar without trades, flat at the previous close (the exchanges' kline convention).
    pub(super) fn flat(open_time_ms: i64, price: f64) -> Self {
        Self { open: price, high: price, low: price, close: price, ..Self::empty(open_time_ms) }
    }

    /// Volume-weighted average price; a bar without volume reports its close.
    pub fn vwap(&self) -> f64 {
        if self.volume > 0.0 { self.quote_volume / self.volume } else { self.close }
    }

    /// Open is the earliest trade by time, close the latest (ties: first and last to arrive).
    #[inline(always)]
    pub(super) fn order(&mut self, ts: i64, price: f64) {
        if ts < self.first_ts {
            self.first_ts = ts;
            self.open = price;
        }
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.close = price;
        }
    }

    #[inline(always)]
    pub(super) fn add(&mut self, ts: i64, price: f64, qty: f64, taker_buy: bool) {
        self.add_extremes(price);
        self.order(ts, price);
        self.add_volumes(price, qty, taker_buy);
        self.trades += 1;
    }

    /// High and low of validated (NaN-free) prices.
    #[inline(always)]
    pub(super) fn add_extremes(&mut self, price: f64) {
        self.high = if price > self.high { price } else { self.high };
        self.low = if price < self.low { price } else { self.low };
    }

    /// The volumes, summed in trade order.
    #[inline(always)]
    pub(super) fn add_volumes(&mut self, price: f64, qty: f64, taker_buy: bool) {
        let quote = price * qty;
        let buy = f64::from(u8::from(taker_buy));
        self.volume += qty;
        self.quote_volume += quote;
        self.taker_buy_volume += qty * buy;
        self.taker_buy_quote_volume += quote * buy;
    }

    pub(super) fn merge(&mut self, other: &Bar) {
        if other.trades == 0 {
            return;
        }
        self.high = self.high.max(other.high);
        self.low = self.low.min(other.low);
        if other.first_ts < self.first_ts {
            self.first_ts = other.first_ts;
            self.open = other.open;
        }
        if other.last_ts >= self.last_ts {
            self.last_ts = other.last_ts;
            self.close = other.close;
        }
        self.volume += other.volume;
        self.quote_volume += other.quote_volume;
        self.taker_buy_volume += other.taker_buy_volume;
        self.taker_buy_quote_volume += other.taker_buy_quote_volume;
        self.trades += other.trades;
    }
}

/// Closed bars of one timeframe, column by column (ready for numpy/Arrow without reshaping).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarColumns {
    pub open_time_ms: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub quote_volume: Vec<f64>,
    pub trades: Vec<i64>,
    pub taker_buy_volume: Vec<f64>,
    pub taker_buy_quote_volume: Vec<f64>,
    pub vwap: Vec<f64>,
}

impl BarColumns {
    pub(super) fn push(&mut self, bar: &Bar) {
        self.open_time_ms.push(bar.open_time_ms);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        self.volume.push(bar.volume);
        self.quote_volume.push(bar.quote_volume);
        self.trades.push(i64::try_from(bar.trades).unwrap_or(i64::MAX));
        self.taker_buy_volume.push(bar.taker_buy_volume);
        self.taker_buy_quote_volume.push(bar.taker_buy_quote_volume);
        self.vwap.push(bar.vwap());
    }

    pub fn len(&self) -> usize {
        self.open_time_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open_time_ms.is_empty()
    }

    /// The floating-point columns, for operations that treat every column alike.
    fn float_columns(&mut self) -> [&mut Vec<f64>; 9] {
        [
            &mut self.open,
            &mut self.high,
            &mut self.low,
            &mut self.close,
            &mut self.volume,
            &mut self.quote_volume,
            &mut self.taker_buy_volume,
            &mut self.taker_buy_quote_volume,
            &mut self.vwap,
        ]
    }

    pub(super) fn truncate(&mut self, len: usize) {
        self.open_time_ms.truncate(len);
        self.trades.truncate(len);
        for column in self.float_columns() {
            column.truncate(len);
        }
    }

    /// Moves `other`'s bars to the end of these.
    pub fn append(&mut self, other: &mut BarColumns) {
        self.open_time_ms.append(&mut other.open_time_ms);
        self.trades.append(&mut other.trades);
        for (mine, theirs) in self.float_columns().into_iter().zip(other.float_columns()) {
            mine.append(theirs);
        }
    }

    /// The bar at `i`, if any.
    pub fn get(&self, i: usize) -> Option<Bar> {
        let open_time_ms = *self.open_time_ms.get(i)?;
        Some(Bar {
            open_time_ms,
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
            quote_volume: self.quote_volume[i],
            taker_buy_volume: self.taker_buy_volume[i],
            taker_buy_quote_volume: self.taker_buy_quote_volume[i],
            trades: u64::try_from(self.trades[i]).unwrap_or(0),
            // Only the bar's own span is known once it is released.
            first_ts: open_time_ms,
            last_ts: open_time_ms,
        })
    }
}
