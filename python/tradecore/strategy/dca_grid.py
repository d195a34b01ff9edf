"""DCA grid: after a moderate drop from the recent high, buy in steps below the price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars
from tradecore.execution.orders import Side
from tradecore.patterns import timeframe_seconds
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, check_longer, exit_signal, held_side


@dataclass(slots=True, frozen=True)
class Grid:
    """The levels placed for one drop: its recent high (the take profit) and its stop."""

    high: float
    stop: float


class DcaGrid(Strategy):
    """The recent high is the highest high of the last ``high_bars`` ``high_timeframe`` bars and
    of the decision bars since, all closed before the newest bar (:func:`recent_high`). When the close is ``drop_min``–``drop_max`` below it,
    places ``levels`` limit buys ``level_step`` apart: level k at close × (1 − (k−1) ×
    ``level_step``), each for ``quote_size`` quote, tagged "level-k", all with one stop
    ``stop_below`` under the lowest level and the recent high as take profit. One grid per
    drop: no new levels until the drop is over — a bar reached the grid's high (recovered) or
    its stop (failed). Exits when the close is back at the recent high or ``take_profit`` above
    the position's average entry.

    Confidence: 0.5 at ``drop_min``, rising to 0.8 at ``drop_max`` — a deeper discount to the
    recent high. Long only (it buys dips).

    State: each symbol's current grid (its high and stop), which replaying the bars rebuilds.
    """

    name = "dca_grid"
    timeframe = "1h"
    timeframes: tuple[str, ...] = ("4h",)
    regimes = frozenset({Regime.RANGING, Regime.VOLATILE})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'dca_grid'")

        high_timeframe: str = Field(default="4h", description="timeframe of the recent high")
        high_bars: int = Field(default=6, ge=1, le=1000, description="closed high_timeframe bars the recent high spans")
        drop_min: float = Field(default=0.025, gt=0, lt=1, description="drop from the recent high that starts a grid")
        drop_max: float = Field(default=0.05, gt=0, lt=1, description="beyond this drop no grid (a crash, not a dip)")
        levels: int = Field(default=5, ge=1, le=50)
        level_step: float = Field(default=0.01, gt=0, lt=1, description="distance between levels, as a fraction of the close")
        quote_size: float = Field(default=100.0, gt=0, description="quote currency bought at each level")
        stop_below: float = Field(default=0.02, gt=0, lt=1, description="stop this fraction below the lowest level")
        take_profit: float = Field(default=0.03, gt=0, le=10, description="exit at this profit on the average entry")

        @model_validator(mode="after")
        def _consistent(self) -> DcaGrid.Params:
            if self.drop_min >= self.drop_max:
                raise ValueError(f"drop_min ({self.drop_min:g}) must be below drop_max ({self.drop_max:g})")
            if (self.levels - 1) * self.level_step >= 1:
                raise ValueError(f"{self.levels} levels {self.level_step:g} apart would reach a price of zero")
            check_longer(self.timeframe, (self.high_timeframe,), "high_timeframe")
            return self

    p: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.timeframes = (self.p.high_timeframe,)
        self._grids: dict[str, Grid] = {}  # symbol → the grid of its current drop

    def warmup(self) -> int:
        per_high_bar = -(-timeframe_seconds(self.p.high_timeframe) // timeframe_seconds(self.timeframe))
        return self.p.high_bars * per_high_bar + 1

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        high = recent_high(bars, ctx.bars(p.high_timeframe), p.high_bars)
        if high is None:
            return []
        close = bars.last()
        held = held_side(ctx, self.name)
        if held is Side.BUY:
            entry = ctx.position.entry_price if ctx.position else 0.0
            if close >= high:
                return [exit_signal(ctx, self.name, held, f"close {close:.6g} back at the recent high {high:.6g}")]
            if entry > 0 and close >= entry * (1 + p.take_profit):
                return [exit_signal(ctx, self.name, held, f"close {close:.6g} is {close / entry - 1:.1%} above the average entry {entry:.6g}")]

        grid = self._grids.get(ctx.symbol)
        if grid is not None and (bars.last("high") >= grid.high or bars.last("low") <= grid.stop):
            del self._grids[ctx.symbol]  # that drop is over
            grid = None
        drop = 1 - close / high
        if grid is not None or not p.drop_min <= drop <= p.drop_max:
            return []
        prices = [close * (1 - k * p.level_step) for k in range(p.levels)]
        stop = prices[-1] * (1 - p.stop_below)
        self._grids[ctx.symbol] = Grid(high, stop)
        confidence = 0.5 + 0.3 * (drop - p.drop_min) / (p.drop_max - p.drop_min)
        return [
            Signal(
                ctx.symbol, Side.BUY, self.name, confidence,
                f"{drop:.1%} below the recent high {high:.6g}: grid level {k + 1} of {p.levels} at {price:.6g}",
                stop=stop, take_profit=high, limit_price=price, quote_size=p.quote_size, tag=f"level-{k + 1}",
            )
            for k, price in enumerate(prices)
        ]


def recent_high(bars: Bars, higher: Bars, count: int) -> float | None:
    """The high the newest bar is measured against: the highest high of the last ``count``
    ``higher`` bars closed before it opened and of the ``bars`` between them and it. None
    while there are too few."""
    if len(bars) < 2:
        return None
    newest = int(bars.time[-1])
    closed = int(np.searchsorted(higher.time, newest - higher.span_ms, side="right"))
    if closed < count:
        return None
    top = float(np.max(higher.high[closed - count : closed]))
    after = int(np.searchsorted(bars.time, int(higher.time[closed - 1]) + higher.span_ms))
    between = bars.high[after : len(bars) - 1]
    return max(top, float(np.max(between))) if len(between) else top
