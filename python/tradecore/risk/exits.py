"""Exit plans: where a position's stop, take-profit and trailing stop sit and when it times out.
The risk engine only plans; the trading engine places the orders (stop-loss STOP, take-profit
LIMIT and TRAILING_STOP in one OCO group) and the broker executes them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Side
from tradecore.risk.config import ExitParams


@dataclass(frozen=True, slots=True)
class ExitPlan:
    side: Side  # the position's side (BUY = long)
    entry_price: float
    stop: float
    take_profit: float | None
    trail_activation: float | None  # price at which trailing starts
    trail: float | None  # fraction of the best price, 0.01 = 1%
    expire_ms: int | None  # time exit: absolute UTC ms

    @property
    def risk_per_unit(self) -> float:
        return abs(self.entry_price - self.stop)


def _side_words(side: Side) -> str:
    return "long" if side is Side.BUY else "short"


def stop_problem(side: Side, entry: float, stop: float) -> str | None:
    """Why ``stop`` cannot protect a ``side`` position entered at ``entry``, None if it can."""
    if not math.isfinite(stop) or stop <= 0:
        return f"stop {stop!r} is not a positive price"
    if (entry - stop) * side.sign <= 0:
        where = "below" if side is Side.BUY else "above"
        return f"stop {stop:.6g} is not {where} the entry {entry:.6g} of a {_side_words(side)}"
    return None


def take_profit_problem(side: Side, entry: float, take_profit: float) -> str | None:
    if not math.isfinite(take_profit) or take_profit <= 0:
        return f"take-profit {take_profit!r} is not a positive price"
    if (take_profit - entry) * side.sign <= 0:
        where = "above" if side is Side.BUY else "below"
        return f"take-profit {take_profit:.6g} is not {where} the entry {entry:.6g} of a {_side_words(side)}"
    return None


def atr_stop(params: ExitParams, side: Side, entry: float, atr: float | None) -> float | None:
    """The stop ``atr_stop`` ATRs away from the entry, None without an ATR."""
    return None if atr is None else entry - side.sign * params.atr_stop * atr


def plan_exits(
    params: ExitParams,
    side: Side,
    entry_price: float,
    *,
    atr: float | None,
    stop: float | None,
    take_profit: float | None,
    now_ms: int,
) -> ExitPlan:
    """The plan for a position entered at ``entry_price``: ``stop`` or the ATR stop;
    ``take_profit`` or ``take_profit_r`` R away; trailing from ``trail_activation`` profit;
    time exit ``time_exit_s`` after ``now_ms``."""
    if not math.isfinite(entry_price) or entry_price <= 0:
        raise InvalidArgumentError(f"entry_price must be a positive price, got {entry_price!r}", name="entry_price")
    if atr is not None and (not math.isfinite(atr) or atr < 0):
        raise InvalidArgumentError(f"atr must be a finite number ≥ 0, got {atr!r}", name="atr")
    if stop is None:
        stop = atr_stop(params, side, entry_price, atr)
        if stop is None:
            raise InvalidArgumentError("no stop: give a stop price or an ATR for the ATR stop", name="stop")
    problem = stop_problem(side, entry_price, stop)
    if problem:
        raise InvalidArgumentError(problem, name="stop")
    if take_profit is not None:
        problem = take_profit_problem(side, entry_price, take_profit)
        if problem:
            raise InvalidArgumentError(problem, name="take_profit")
    elif params.take_profit_r > 0:
        take_profit = entry_price + side.sign * params.take_profit_r * abs(entry_price - stop)
        if take_profit <= 0:  # a short whose target lies below zero: unreachable, so none
            take_profit = None
    trailing = params.trail > 0
    return ExitPlan(
        side=side,
        entry_price=entry_price,
        stop=stop,
        take_profit=take_profit,
        trail_activation=entry_price * (1 + side.sign * params.trail_activation) if trailing else None,
        trail=params.trail if trailing else None,
        expire_ms=now_ms + params.time_exit_s * 1000 if params.time_exit_s > 0 else None,
    )
