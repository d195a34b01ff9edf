"""What the strategies share: the parameters every one has, reading the newest indicator values,
the position a strategy may manage, and exit signals."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from tradecore.execution.orders import Side
from tradecore.params import Params, check_timeframe
from tradecore.patterns import timeframe_seconds
from tradecore.strategy.base import Context, Signal


class StrategyParams(Params):
    """Parameters every strategy has."""

    timeframe: str = Field(default="1h", description="bars the strategy decides on")

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return check_timeframe(value)


def check_longer(timeframe: str, others: tuple[str, ...], name: str) -> None:
    """Higher timeframes must be longer than the one decided on (a ValueError for pydantic)."""
    for other in others:
        check_timeframe(other)
        if timeframe_seconds(other) <= timeframe_seconds(timeframe):
            raise ValueError(f"{name} must be longer than timeframe {timeframe}, got {other}")


def latest(*series: npt.NDArray[np.float64]) -> tuple[float, ...] | None:
    """The newest value of each series, or None while any of them is empty or undefined (NaN)."""
    values = tuple(float(s[-1]) if len(s) else math.nan for s in series)
    return values if all(math.isfinite(v) for v in values) else None


def clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def held_side(ctx: Context, strategy: str) -> Side | None:
    """The side of the symbol's open position if this strategy may manage it: None when flat or
    when the engine says (extra ``"position_strategy"``) another strategy opened it."""
    position = ctx.position
    if position is None or position.flat:
        return None
    owner = ctx.get("position_strategy")
    if owner is not None and owner != strategy:
        return None
    return Side.BUY if position.qty > 0 else Side.SELL


def exit_signal(ctx: Context, strategy: str, held: Side, reason: str) -> Signal:
    """Close the symbol's position (held on ``held``'s side)."""
    return Signal(ctx.symbol, held.opposite, strategy, 1.0, reason, exit=True)
