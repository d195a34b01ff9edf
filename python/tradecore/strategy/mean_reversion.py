"""Mean reversion: in a range, fade closes beyond the Bollinger bands back to the middle band."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.execution.orders import Side
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, clip01, exit_signal, held_side, latest


class MeanReversion(Strategy):
    """Enters long when the close is at or below the lower Bollinger band, RSI ≤ ``rsi_low`` and
    the Choppiness Index ≥ ``chop_min`` says the market ranged before this stretch: it is read
    ``chop_lag`` bars back, because the stretch to the band itself makes the recent bars look
    directional (on BTC 1h bars the Choppiness at the band touch is ~30–45 even in ranges).
    Targets the middle band (``take_profit``) and exits there; stop ``stop_atr`` ATRs below the
    close. Shorts mirror it at the upper band when ``allow_short``.

    Confidence: 0.5 at the band and the RSI threshold, + 0.25 as the close reaches a quarter
    band-width beyond the band, + 0.25 as RSI reaches 15 points past its threshold.
    """

    name = "mean_reversion"
    timeframe = "1h"
    regimes = frozenset({Regime.RANGING})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'mean_reversion'")

        bb_period: int = Field(default=20, ge=2, le=500)
        bb_dev: float = Field(default=2.0, gt=0, le=10, description="band width in standard deviations")
        rsi_period: int = Field(default=14, ge=2, le=200)
        rsi_low: float = Field(default=30.0, gt=0, lt=100, description="RSI at or below it is oversold")
        rsi_high: float = Field(default=70.0, gt=0, lt=100, description="RSI at or above it is overbought")
        chop_period: int = Field(default=14, ge=2, le=200)
        chop_min: float = Field(default=61.8, ge=0, le=100, description="Choppiness Index that means a range")
        chop_lag: int = Field(default=3, ge=0, le=100, description="bars back the Choppiness is read: the range before the stretch")
        atr_period: int = Field(default=14, ge=1, le=200)
        stop_atr: float = Field(default=1.5, gt=0, le=50, description="stop distance in ATRs")
        allow_short: bool = False

        @model_validator(mode="after")
        def _consistent(self) -> MeanReversion.Params:
            if self.rsi_low >= self.rsi_high:
                raise ValueError(f"rsi_low ({self.rsi_low:g}) must be below rsi_high ({self.rsi_high:g})")
            return self

    p: Params

    def warmup(self) -> int:
        p = self.p
        return 1 + max(p.bb_period, p.rsi_period + 1, p.chop_period + 1 + p.chop_lag, p.atr_period + 1)

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        ind = bars.ind
        upper, middle, lower = ind.bbands(p.bb_period, p.bb_dev)
        chop_before = ind.choppiness(p.chop_period)[: len(bars) - p.chop_lag]
        values = latest(bars.close, upper, middle, lower, ind.rsi(p.rsi_period), chop_before, ind.atr(p.atr_period))
        if values is None:
            return []
        close, up, mid, low, rsi, chop, atr = values

        held = held_side(ctx, self.name)
        if (held is Side.BUY and close >= mid) or (held is Side.SELL and close <= mid):
            return [exit_signal(ctx, self.name, held, f"close {close:.6g} back at the middle band {mid:.6g}")]
        if chop < p.chop_min or up <= low:
            return []
        width = up - low
        if close <= low and rsi <= p.rsi_low:
            side, beyond, past, band = Side.BUY, (low - close) / width, p.rsi_low - rsi, "lower"
        elif close >= up and rsi >= p.rsi_high and p.allow_short:
            side, beyond, past, band = Side.SELL, (close - up) / width, rsi - p.rsi_high, "upper"
        else:
            return []
        if held is side:
            return []
        confidence = 0.5 + 0.25 * clip01(beyond / 0.25) + 0.25 * clip01(past / 15.0)
        reason = (
            f"close {close:.6g} beyond the {band} Bollinger band {low if side is Side.BUY else up:.6g}, "
            f"RSI {rsi:.0f}, Choppiness {chop:.0f} ≥ {p.chop_min:g} {p.chop_lag} bars ago: back to the middle band {mid:.6g}"
        )
        stop = close - side.sign * p.stop_atr * atr
        return [Signal(ctx.symbol, side, self.name, confidence, reason, stop=stop, take_profit=mid)]
