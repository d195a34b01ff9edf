"""Reversal: an exhausted move — a new extreme that RSI and MACD no longer confirm — turned by a
candlestick pattern."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.execution.orders import Side
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, clip01, held_side
from tradecore.strategy.pattern_votes import CONFIDENCE, DIRECTION, pattern_votes


class Reversal(Strategy):
    """Looks at the last ``lookback`` bars. A bullish reversal needs:

    - a new extreme: the window's lowest low lies within the last ``recent`` bars (bar j);
    - an extended move into it: the window's highest high before j is ≥ ``min_move_atr`` ATRs
      above that low;
    - divergence: at the previous swing low (the lowest low at least ``min_gap`` bars before
      j) RSI and/or the MACD line stood lower than at j — price went lower, momentum did not.

    Confidence = 0.4 × (divergences / 2) + 0.4 × the strongest bullish candlestick-pattern vote
    since j (:mod:`tradecore.strategy.pattern_votes`) + 0.2 × the move's length (full at twice
    ``min_move_atr``). Enters at ``min_confidence`` or more: two divergences alone, or one with
    a pattern. Stop ``stop_atr`` ATRs beyond the extreme; target ``reward_risk`` × the risk.
    Bearish reversals (shorts) mirror it when ``allow_short``.
    """

    name = "reversal"
    timeframe = "1h"
    regimes = frozenset({Regime.VOLATILE})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'reversal'")

        lookback: int = Field(default=30, ge=5, le=1000, description="bars searched for the two extremes")
        recent: int = Field(default=3, ge=1, le=100, description="the new extreme must lie in the last this many bars")
        min_gap: int = Field(default=5, ge=1, le=500, description="bars between the previous swing and the new extreme")
        min_move_atr: float = Field(default=4.0, gt=0, le=100, description="length of the move into the extreme, in ATRs")
        rsi_period: int = Field(default=14, ge=2, le=200)
        macd_fast: int = Field(default=12, ge=2, le=200)
        macd_slow: int = Field(default=26, ge=3, le=400)
        macd_signal: int = Field(default=9, ge=1, le=200)
        atr_period: int = Field(default=14, ge=1, le=200)
        stop_atr: float = Field(default=0.5, gt=0, le=50, description="stop distance beyond the extreme, in ATRs")
        reward_risk: float = Field(default=2.0, gt=0, le=50, description="target distance in multiples of the risk")
        min_confidence: float = Field(default=0.5, ge=0, le=1)
        allow_short: bool = False

        @model_validator(mode="after")
        def _consistent(self) -> Reversal.Params:
            if self.recent + self.min_gap >= self.lookback:
                raise ValueError(f"recent + min_gap ({self.recent} + {self.min_gap}) must be below lookback ({self.lookback})")
            if self.macd_fast >= self.macd_slow:
                raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")
            return self

    p: Params

    def warmup(self) -> int:
        p = self.p
        return p.lookback + max(p.macd_slow + p.macd_signal, p.rsi_period + 1, p.atr_period + 1)

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        if len(bars) < p.lookback:
            return []
        held = held_side(ctx, self.name)
        sides = (Side.BUY, Side.SELL) if p.allow_short else (Side.BUY,)
        for side in sides:
            if held is not side:
                signal = self._reversal(ctx, side)
                if signal is not None:
                    return [signal]
        return []

    def _reversal(self, ctx: Context, side: Side) -> Signal | None:
        """A reversal towards ``side`` (BUY: out of a decline), or None."""
        p = self.p
        bars = ctx.bars(self.timeframe)
        start = len(bars) - p.lookback
        s = side.sign  # prices are flipped for a bearish reversal so both read "a new low"
        lows = (bars.low if s > 0 else -bars.high)[start:]
        highs = (bars.high if s > 0 else -bars.low)[start:]
        j = p.lookback - 1 - int(np.argmin(lows[::-1]))  # the newest occurrence of the extreme
        if j < p.lookback - p.recent:
            return None
        swing = int(np.argmin(lows[: j - p.min_gap + 1]))
        rsi = bars.ind.rsi(p.rsi_period)[start:]
        macd = bars.ind.macd(p.macd_fast, p.macd_slow, p.macd_signal)[0][start:]
        atr = float(bars.ind.atr(p.atr_period)[start + j])
        values = np.array([rsi[j], rsi[swing], macd[j], macd[swing], atr])
        if not np.isfinite(values).all() or atr <= 0:
            return None
        move = (float(np.max(highs[:j + 1])) - float(lows[j])) / atr
        if move < p.min_move_atr:
            return None
        # Momentum that did not follow price: higher at the new low (lower at the new high).
        divergent = [name for name, now, then in (("RSI", rsi[j], rsi[swing]), ("MACD", macd[j], macd[swing])) if s * (now - then) > 0]
        if not divergent:
            return None
        votes = pattern_votes(bars)[start + j:]
        with_us = votes[:, DIRECTION] == s
        pattern = float(votes[with_us, CONFIDENCE].max()) if with_us.any() else 0.0
        confidence = 0.4 * len(divergent) / 2 + 0.4 * pattern + 0.2 * clip01(move / (2 * p.min_move_atr))
        if confidence < p.min_confidence:
            return None
        extreme = float(s * lows[j])
        close = bars.last()
        stop = extreme - s * p.stop_atr * atr
        if (close - stop) * s <= 0:
            return None
        low_or_high = "low" if s > 0 else "high"
        reason = (
            f"new {p.lookback}-bar {low_or_high} {extreme:.6g} after a {move:.1f} ATR move, "
            f"{' and '.join(divergent)} diverging from the swing {low_or_high} {float(s * lows[swing]):.6g} {j - swing} bars earlier"
            + (f", candlestick pattern vote {pattern:.2f}" if pattern else "")
        )
        target = close + s * p.reward_risk * abs(close - stop)
        return Signal(ctx.symbol, side, self.name, confidence, reason, stop=stop, take_profit=target)
