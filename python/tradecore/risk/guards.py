"""The risk engine's memory of what happened: equity (daily loss and drawdown halts), the losing
streak, and per symbol the last trade and the stop-outs in a row. Each keeps its halts as
reason strings so that a refusal can say why in words."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tradecore.execution.orders import Trade
from tradecore.risk.config import RiskConfig
from tradecore.risk.words import pct, utc

log = logging.getLogger("tradecore.risk")

DAY_MS = 86_400_000
_EPS = 1e-12  # a loss of exactly the limit trips it despite rounding


@dataclass(slots=True)
class EquityWatch:
    """Daily loss against the UTC day's first equity, drawdown against the peak."""

    day: int | None = None  # UTC day number (ms // DAY_MS) of day_start
    day_start: float = 0.0
    peak: float = 0.0
    last: float = 0.0
    daily_halt: str | None = None  # for `day` only
    drawdown_halt: str | None = None  # until rearm()

    def observe(self, config: RiskConfig, now_ms: int, equity: float) -> None:
        day = now_ms // DAY_MS
        if self.day is not None and day < self.day:
            return  # a late report from a day already closed changes nothing
        if self.day is None or day > self.day:
            if self.daily_halt:
                log.info("daily loss halt ends with the UTC day")
            self.day, self.day_start, self.daily_halt = day, equity, None
        self.last = equity
        self.peak = max(self.peak, equity)
        if self.daily_halt is None and self.day_start > 0:
            loss = (self.day_start - equity) / self.day_start
            if loss >= config.max_daily_loss - _EPS:
                self.daily_halt = (
                    f"daily loss: equity {equity:.6g} is {pct(loss)} below the UTC day's start {self.day_start:.6g}"
                    f" (limit {pct(config.max_daily_loss)}); entries resume at {utc((day + 1) * DAY_MS)}"
                )
                log.warning(self.daily_halt)
        if self.drawdown_halt is None and self.peak > 0:
            drawdown = (self.peak - equity) / self.peak
            if drawdown >= config.max_drawdown - _EPS:
                self.drawdown_halt = (
                    f"max drawdown: equity {equity:.6g} is {pct(drawdown)} below the peak {self.peak:.6g}"
                    f" (limit {pct(config.max_drawdown)}); entries halted until rearm()"
                )
                log.warning(self.drawdown_halt)

    def daily_halt_at(self, now_ms: int) -> str | None:
        return self.daily_halt if self.day == now_ms // DAY_MS else None

    def rearm(self) -> str | None:
        """Clear the drawdown halt; the peak restarts from the last equity (or it would trip
        again at once). Returns what was cleared."""
        cleared, self.drawdown_halt = self.drawdown_halt, None
        if cleared:
            self.peak = self.last
        return cleared


@dataclass(slots=True)
class LossStreak:
    """Losing trades in a row; enough of them halt entries until rearm() or a cool-off."""

    count: int = 0
    halt: str | None = None
    until_ms: int | None = None  # end of the cool-off; None: until rearm()

    def record(self, config: RiskConfig, trade: Trade) -> None:
        if trade.pnl >= 0:
            self.count = 0
            return
        self.count += 1
        if self.halt is None and self.count >= config.max_consecutive_losses:
            cooloff_ms = config.loss_streak_cooloff_s * 1000
            self.until_ms = trade.exit_ms + cooloff_ms if cooloff_ms else None
            until = f"until {utc(self.until_ms)}" if self.until_ms is not None else "until rearm()"
            limit = config.max_consecutive_losses
            self.halt = f"{self.count} losing trades in a row (limit {limit}); entries halted {until}"
            log.warning(self.halt)

    def expire(self, now_ms: int) -> None:
        if self.until_ms is not None and now_ms >= self.until_ms:
            log.info("losing-streak cool-off over: %s", self.halt)
            self.clear()

    def clear(self) -> str | None:
        cleared = self.halt
        self.count, self.halt, self.until_ms = 0, None, None
        return cleared


@dataclass(slots=True)
class SymbolHistory:
    """One symbol's last trade (entry or exit) and stop-outs in a row."""

    last_trade_ms: int | None = None
    stop_outs: int = 0
    cooldown_until_ms: int | None = None

    def record_exit(self, config: RiskConfig, trade: Trade) -> None:
        self.last_trade_ms = trade.exit_ms
        if trade.exit_reason != "stop-loss":
            self.stop_outs = 0
            return
        self.stop_outs += 1
        if self.stop_outs >= config.stop_outs_for_cooldown:
            # the streak starts over, so the next stop-out after the cooldown does not re-trip it
            self.stop_outs = 0
            self.cooldown_until_ms = trade.exit_ms + config.stop_out_cooldown_s * 1000
            log.warning(
                "%s: %d stop-outs in a row, no entries until %s",
                trade.symbol,
                config.stop_outs_for_cooldown,
                utc(self.cooldown_until_ms),
            )

    def refusal(self, config: RiskConfig, symbol: str, now_ms: int) -> str | None:
        """Why ``symbol`` takes no entry at ``now_ms``, None if it may."""
        if self.cooldown_until_ms is not None and now_ms < self.cooldown_until_ms:
            return (
                f"stop-out cooldown: {config.stop_outs_for_cooldown} stop-losses in a row on {symbol};"
                f" entries resume at {utc(self.cooldown_until_ms)} (in {(self.cooldown_until_ms - now_ms) / 1000:g} s)"
            )
        if self.last_trade_ms is not None:
            since_s = (now_ms - self.last_trade_ms) / 1000
            if since_s < config.min_trade_spacing_s:
                return (
                    f"min trade spacing: last trade on {symbol} {since_s:g} s ago"
                    f" < {config.min_trade_spacing_s} s"
                )
        return None

