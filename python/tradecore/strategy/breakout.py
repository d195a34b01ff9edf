"""Breakout: a close clearly above the recent resistance, on heavy volume."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict, Field

from tradecore.analysis.regime import Regime
from tradecore.execution.orders import Side
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, clip01, held_side, latest


class Breakout(Strategy):
    """Resistance is the highest high of the ``lookback`` bars before the newest one, support
    their lowest low. Enters long when the close is ≥ ``min_break`` above resistance and the
    bar's volume ≥ ``volume_factor`` × the mean of the ``volume_period`` bars before it. Stop
    ``stop_atr`` ATRs below the broken resistance; target the measured move: the close plus
    ``target_range`` × the range's height. Shorts mirror it below support when ``allow_short``.
    Exits are the stop and the target.

    Confidence: 0.5 at the thresholds, + 0.25 as volume reaches twice ``volume_factor``, + 0.25
    as the break reaches three times ``min_break``.
    """

    name = "breakout"
    timeframe = "1h"
    regimes = frozenset({Regime.BREAKOUT, Regime.TRENDING_UP, Regime.TRENDING_DOWN})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'breakout'")

        lookback: int = Field(default=20, ge=2, le=1000, description="bars whose highest high is the resistance")
        min_break: float = Field(default=0.01, ge=0, lt=1, description="how far the close must clear it (0.01 = 1%)")
        volume_period: int = Field(default=20, ge=1, le=1000)
        volume_factor: float = Field(default=1.3, ge=0, le=100, description="volume against its mean that confirms")
        atr_period: int = Field(default=14, ge=1, le=200)
        stop_atr: float = Field(default=1.0, gt=0, le=50, description="stop distance beyond the broken level, in ATRs")
        target_range: float = Field(default=1.0, gt=0, le=20, description="target: this many range heights beyond the close")
        allow_short: bool = False

    p: Params

    def warmup(self) -> int:
        p = self.p
        return 2 + max(p.lookback, p.volume_period, p.atr_period)

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        if len(bars) < 2:
            return []
        ind = bars.ind
        before = slice(None, -1)  # the levels come from the bars before the newest
        values = latest(
            bars.close, bars.volume, ind.highest(p.lookback, "high")[before], ind.lowest(p.lookback, "low")[before],
            ind.sma(p.volume_period, "volume")[before], ind.atr(p.atr_period),
        )
        if values is None:
            return []
        close, volume, resistance, support, mean_volume, atr = values
        if mean_volume <= 0 or volume < p.volume_factor * mean_volume:
            return []
        if close >= resistance * (1 + p.min_break):
            side, level, broke = Side.BUY, resistance, close / resistance - 1
        elif close <= support * (1 - p.min_break) and p.allow_short:
            side, level, broke = Side.SELL, support, 1 - close / support
        else:
            return []
        if held_side(ctx, self.name) is side:
            return []
        ratio = volume / mean_volume
        over = (ratio - p.volume_factor) / p.volume_factor if p.volume_factor > 0 else 1.0
        further = (broke - p.min_break) / (2 * p.min_break) if p.min_break > 0 else 1.0
        confidence = 0.5 + 0.25 * clip01(over) + 0.25 * clip01(further)
        what = "resistance" if side is Side.BUY else "support"
        reason = f"close {close:.6g} {broke:.1%} beyond the {p.lookback}-bar {what} {level:.6g} on {ratio:.1f}× volume"
        stop = level - side.sign * p.stop_atr * atr
        target = close + side.sign * p.target_range * (resistance - support)
        return [Signal(ctx.symbol, side, self.name, confidence, reason, stop=stop, take_profit=target)]
