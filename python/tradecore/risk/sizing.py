"""How much equity a trade risks: fixed fractional, half-Kelly from the closed trades, or scaled
by volatility; then scaled by the signal's confidence. The quantity follows as
``risk amount / |entry − stop|`` (in the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from tradecore.risk.config import RiskConfig
from tradecore.risk.words import pct


@dataclass(slots=True)
class KellyStats:
    """Win rate and payoff ratio of the closed trades, from their returns (pnl / cost), so
    trades of different sizes weigh alike."""

    wins: int = 0
    losses: int = 0  # returns ≤ 0
    win_return_sum: float = 0.0
    loss_return_sum: float = 0.0  # of |return|

    def add(self, trade_return: float) -> None:
        if trade_return > 0:
            self.wins += 1
            self.win_return_sum += trade_return
        else:
            self.losses += 1
            self.loss_return_sum -= trade_return

    @property
    def trades(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0

    @property
    def payoff(self) -> float:
        """Average win / average loss (infinite without a real loss, 0 without a win)."""
        if not self.wins:
            return 0.0
        if not self.loss_return_sum:
            return float("inf")
        return (self.win_return_sum / self.wins) / (self.loss_return_sum / self.losses)

    def kelly(self) -> float:
        """The full Kelly fraction W − (1 − W) / R; ≤ 0 means no edge."""
        if not self.wins:
            return -1.0
        return self.win_rate - (1 - self.win_rate) / self.payoff


def confidence_multiplier(config: RiskConfig, confidence: float) -> float:
    """Above ``high_confidence``: high; from ``low_confidence`` to ``high_confidence``: mid;
    below ``low_confidence``: low."""
    if confidence > config.high_confidence:
        return config.high_confidence_multiplier
    if confidence >= config.low_confidence:
        return config.mid_confidence_multiplier
    return config.low_confidence_multiplier


def risk_fraction(config: RiskConfig, stats: KellyStats, *, price: float, atr: float | None) -> tuple[float, str]:
    """The fraction of equity to risk before the confidence and breaker multipliers, and how it
    was chosen in words. A fraction of 0 means no trade; the words then say why."""
    fixed = config.risk_per_trade
    if config.sizing == "kelly":
        if stats.trades < config.kelly_min_trades:
            needs = f"kelly needs {config.kelly_min_trades} closed trades, has {stats.trades}"
            return fixed, f"fixed {pct(fixed)} risk ({needs})"
        full = stats.kelly()
        facts = f"win rate {pct(stats.win_rate)}, payoff {stats.payoff:.3g}, {stats.trades} trades"
        if full <= 0:
            return 0.0, f"kelly: no edge ({facts}: kelly {pct(full)})"
        fraction = min(config.kelly_fraction * full, config.kelly_cap)
        capped = f", capped at {pct(config.kelly_cap)}" if fraction < config.kelly_fraction * full else ""
        return fraction, f"{config.kelly_fraction:g} × kelly {pct(full)} = {pct(fraction)} risk ({facts}{capped})"
    if config.sizing == "volatility":
        if atr is None:
            return fixed, f"fixed {pct(fixed)} risk (volatility sizing needs an ATR, none given)"
        volatility = atr / price
        scale = config.volatility_scale_cap
        if volatility > 0:
            scale = min(config.target_volatility / volatility, scale)
        return fixed * scale, (
            f"{pct(fixed)} risk × {scale:.3g} volatility scale (target {pct(config.target_volatility)}"
            f" / ATR {pct(volatility)} of price, cap {config.volatility_scale_cap:g})"
        )
    return fixed, f"{pct(fixed)} risk"
