//! Per-symbol data health: when messages last came, how far the receive clock runs from the
//! exchange's, and whether the price jumped implausibly (more than `JUMP` within a minute).

/// A move larger than this fraction within `WINDOW_S` seconds is flagged.
pub const JUMP: f64 = 0.5;
const WINDOW_S: usize = 60;

/// Minimum and maximum trade price of each second of the last minute.
#[derive(Clone, Debug)]
struct Seconds {
    second: [i64; WINDOW_S],
    low: [f64; WINDOW_S],
    high: [f64; WINDOW_S],
}

impl Default for Seconds {
    fn default() -> Self {
        Self { second: [i64::MIN; WINDOW_S], low: [0.0; WINDOW_S], high: [0.0; WINDOW_S] }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Receive times (ns since the epoch) of the last depth message, trade and any message.
    pub last_depth_ns: Option<i64>,
    pub last_trade_ns: Option<i64>,
    pub last_message_ns: Option<i64>,
    /// Receive time minus exchange event time of the last message that had one, in ms, and its
    /// exponentially weighted mean: network delay plus the offset between the two clocks.
    pub delay_ms: Option<f64>,
    pub delay_mean_ms: Option<f64>,
    /// Price jumps seen, and the last: (trade time ms, price, the minute's extreme it moved from).
    pub jumps: u64,
    pub last_jump: Option<(i64, f64, f64)>,
    jumping: bool,
    seconds: Seconds,
    /// `bookTicker` messages checked against the book at the same update id, and disagreements.
    pub tickers_checked: u64,
    pub tickers_mismatched: u64,
}

impl Health {
    pub fn message(&mut self, recv_ns: i64, event_time_ms: Option<i64>) {
        self.last_message_ns = Some(recv_ns);
        if let Some(event) = event_time_ms {
            let delay = (recv_ns as f64 / 1e6) - event as f64;
            self.delay_ms = Some(delay);
            self.delay_mean_ms = Some(match self.delay_mean_ms {
                Some(mean) => mean + (delay - mean) / 64.0,
                None => delay,
            });
        }
    }

    /// Watches one trade's price; true when it starts a jump.
    pub fn trade(&mut self, ts_ms: i64, price: f64) -> bool {
        let second = ts_ms.div_euclid(1000);
        let slot = second.rem_euclid(WINDOW_S as i64) as usize;
        let s = &mut self.seconds;
        if s.second[slot] != second {
            (s.second[slot], s.low[slot], s.high[slot]) = (second, price, price);
        } else {
            s.low[slot] = s.low[slot].min(price);
            s.high[slot] = s.high[slot].max(price);
        }
        let (mut low, mut high) = (f64::INFINITY, 0.0f64);
        for i in 0..WINDOW_S {
            if s.second[i] > second - WINDOW_S as i64 {
                low = low.min(s.low[i]);
                high = high.max(s.high[i]);
            }
        }
        let from = if price / low - 1.0 > JUMP {
            Some(low)
        } else if 1.0 - price / high > JUMP {
            Some(high)
        } else {
            None
        };
        let starts = from.is_some() && !self.jumping;
        self.jumping = from.is_some();
        if let (true, Some(from)) = (starts, from) {
            self.jumps += 1;
            self.last_jump = Some((ts_ms, price, from));
        }
        starts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_within_a_minute_is_flagged_once() {
        let mut h = Health::default();
        assert!(!h.trade(0, 100.0));
        assert!(!h.trade(30_000, 149.0));
        assert!(h.trade(59_000, 151.0));
        assert!(!h.trade(59_500, 152.0), "the same jump is reported once");
        assert_eq!(h.last_jump, Some((59_000, 151.0, 100.0)));
        // A minute later the old low has left the window.
        assert!(!h.trade(130_000, 152.0));
        assert!(h.trade(131_000, 70.0));
        assert_eq!(h.jumps, 2);
    }

    #[test]
    fn slow_drift_is_not_a_jump() {
        let mut h = Health::default();
        let mut price = 100.0;
        for minute in 0..10 {
            price *= 1.4;
            assert!(!h.trade(minute * 61_000, price));
        }
    }

    #[test]
    fn delay_is_receive_minus_event_time() {
        let mut h = Health::default();
        h.message(10_000_000_000, Some(9_000));
        assert_eq!(h.delay_ms, Some(1_000.0));
        h.message(11_000_000_000, None);
        assert_eq!(h.delay_mean_ms, Some(1_000.0));
        assert_eq!(h.last_message_ns, Some(11_000_000_000));
    }
}
