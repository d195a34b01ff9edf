"""Trend following: ride a trend the EMAs, ADX and momentum agree on, confirmed by the higher
timeframes' trend direction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars
from tradecore.execution.orders import Side
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, check_longer, clip01, exit_signal, held_side, latest


class TrendFollowing(Strategy):
    """Enters long when EMA fast > mid > slow, ADX ≥ ``adx_min`` and at least ``momentum_min``
    of three momentum readings agree (RSI above ``rsi_bull``, MACD above its signal, %K above
    %D) — and no higher timeframe trends the other way (a higher timeframe trends up when its
    close > EMA fast > EMA mid; one with too few bars is left out). Shorts mirror it when
    ``allow_short``. Exits when the EMA alignment breaks. Stop ``stop_atr`` ATRs away; no take
    profit: the trend runs until the alignment breaks.

    Confidence is the mean of ADX/50, the share of momentum readings that agree, and the share of
    higher timeframes that agree (a neutral one counts half, none available counts 0.5).
    """

    name = "trend"
    timeframe = "1h"
    timeframes: tuple[str, ...] = ("4h", "1d")
    regimes = frozenset({Regime.TRENDING_UP, Regime.TRENDING_DOWN, Regime.BREAKOUT})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'trend'")

        confirm_timeframes: Annotated[tuple[str, ...], Field(strict=False)] = Field(
            default=("4h", "1d"), description="higher timeframes whose trend must not oppose the entry"
        )
        ema_fast: int = Field(default=20, ge=2, le=1000)
        ema_mid: int = Field(default=50, ge=3, le=1000)
        ema_slow: int = Field(default=200, ge=4, le=2000)
        adx_period: int = Field(default=14, ge=2, le=200)
        adx_min: float = Field(default=25.0, ge=0, le=100, description="ADX a trend needs")
        rsi_period: int = Field(default=14, ge=2, le=200)
        rsi_bull: float = Field(default=50.0, ge=0, le=100, description="RSI above it is bullish, below 100 − it bearish")
        macd_fast: int = Field(default=12, ge=2, le=200)
        macd_slow: int = Field(default=26, ge=3, le=400)
        macd_signal: int = Field(default=9, ge=1, le=200)
        stoch_k: int = Field(default=14, ge=2, le=200)
        stoch_smooth: int = Field(default=3, ge=1, le=50, description="slow %K smoothing")
        stoch_d: int = Field(default=3, ge=1, le=50)
        momentum_min: int = Field(default=2, ge=1, le=3, description="momentum readings (of RSI, MACD, Stochastic) that must agree")
        atr_period: int = Field(default=14, ge=1, le=200)
        stop_atr: float = Field(default=2.0, gt=0, le=50, description="stop distance in ATRs")
        allow_short: bool = Field(default=False, description="also trade down-trends (futures); spot users stay long-only")

        @model_validator(mode="after")
        def _consistent(self) -> TrendFollowing.Params:
            if not self.ema_fast < self.ema_mid < self.ema_slow:
                raise ValueError(f"need ema_fast < ema_mid < ema_slow, got {self.ema_fast}, {self.ema_mid}, {self.ema_slow}")
            if self.macd_fast >= self.macd_slow:
                raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")
            check_longer(self.timeframe, self.confirm_timeframes, "confirm_timeframes")
            return self

    p: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.timeframes = self.p.confirm_timeframes

    def warmup(self) -> int:
        p = self.p  # TA-Lib's first values: EMA(n) at bar n, ADX(n) at 2n, ATR(n) at n + 1, ...
        return max(
            p.ema_slow, 2 * p.adx_period, p.macd_slow + p.macd_signal - 1, p.stoch_k + p.stoch_smooth + p.stoch_d - 2,
            p.atr_period + 1, p.rsi_period + 1,
        )

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        ind = bars.ind
        macd, macd_signal, _ = ind.macd(p.macd_fast, p.macd_slow, p.macd_signal)
        k, d = ind.stoch(p.stoch_k, p.stoch_smooth, p.stoch_d)
        values = latest(
            bars.close, ind.ema(p.ema_fast), ind.ema(p.ema_mid), ind.ema(p.ema_slow), ind.adx(p.adx_period),
            ind.rsi(p.rsi_period), macd, macd_signal, k, d, ind.atr(p.atr_period),
        )
        if values is None:
            return []
        close, fast, mid, slow, adx, rsi, m, ms, k_now, d_now, atr = values
        emas = f"EMA{p.ema_fast}/{p.ema_mid}/{p.ema_slow}"
        direction = 1 if fast > mid > slow else -1 if fast < mid < slow else 0

        held = held_side(ctx, self.name)
        if held is not None and direction != held.sign:
            return [exit_signal(ctx, self.name, held, f"{emas} alignment broke ({fast:.6g}, {mid:.6g}, {slow:.6g})")]
        if direction == 0 or adx < p.adx_min or (direction < 0 and not p.allow_short):
            return []
        side = Side.BUY if direction > 0 else Side.SELL
        if held is side:
            return []

        votes = {
            f"RSI {rsi:.0f}": (rsi - p.rsi_bull if direction > 0 else (100 - p.rsi_bull) - rsi) > 0,
            "MACD " + ("above" if m > ms else "below") + " signal": (m - ms) * direction > 0,
            "%K " + ("above" if k_now > d_now else "below") + " %D": (k_now - d_now) * direction > 0,
        }
        agreeing = sum(votes.values())
        if agreeing < p.momentum_min:
            return []
        higher = {tf: _trend_of(ctx.bars(tf), p.ema_fast, p.ema_mid) for tf in self.timeframes if tf in ctx.timeframes}
        known = {tf: trend for tf, trend in higher.items() if trend is not None}
        if any(trend == -direction for trend in known.values()):
            return []

        htf_score = sum(1.0 if t == direction else 0.5 for t in known.values()) / len(known) if known else 0.5
        confidence = (clip01(adx / 50.0) + agreeing / 3 + htf_score) / 3
        order = ">" if direction > 0 else "<"
        words = [f"EMA{p.ema_fast}{order}EMA{p.ema_mid}{order}EMA{p.ema_slow}", f"ADX {adx:.0f}"]
        words += [what for what, agrees in votes.items() if agrees]
        words += [f"{tf} " + _TREND_WORD[known.get(tf)] for tf in self.timeframes]
        stop = close - direction * p.stop_atr * atr
        return [Signal(ctx.symbol, side, self.name, confidence, ", ".join(words), stop=stop)]


_TREND_WORD = {1: "up", -1: "down", 0: "flat", None: "n/a"}


def _trend_of(bars: Bars, fast_period: int, mid_period: int) -> int | None:
    """+1 when close > EMA fast > EMA mid, −1 when below both in order, 0 otherwise; None while
    the timeframe has too few bars."""
    values = latest(bars.close, bars.ind.ema(fast_period), bars.ind.ema(mid_period))
    if values is None:
        return None
    close, fast, mid = values
    return 1 if close > fast > mid else -1 if close < fast < mid else 0
