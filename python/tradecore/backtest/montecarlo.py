"""Monte Carlo of a backtest's trade sequence: how much of its drawdown was the luck of the order.

Each trade's return is its pnl as a fraction of the equity at its entry (the starting equity
plus the pnl of the trades closed by then); a run compounds the returns in a new order. With
``method="shuffle"`` (a permutation per run) the final return never changes — compounding
commutes — so the distributions of the max drawdown and the longest losing streak are the point.
``method="bootstrap"`` draws the trades with replacement, so the final return varies too: a
rough idea of what the same edge could have earned.

All runs are drawn at once as a runs × trades array (in chunks that bound the memory), with no
Python loop per run. A return below −100 % is taken as ruin: equity stops at zero.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from tradecore.backtest._json import json_safe
from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Trade

Floats = npt.NDArray[np.float64]
PERCENTILES = (5, 25, 50, 75, 95)
_CHUNK_CELLS = 4_000_000  # runs × trades drawn at a time (about 32 MB per float array)


@dataclass(slots=True, frozen=True)
class Percentiles:
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float

    @classmethod
    def of(cls, values: Floats) -> Percentiles:
        return cls(*(float(v) for v in np.percentile(values, PERCENTILES)))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(slots=True, frozen=True)
class MonteCarlo:
    """Percentiles over the runs, next to the actual sequence's values. Drawdowns are fractions
    of the running peak, returns fractions of the starting equity, streaks counts of trades."""

    method: str
    runs: int
    seed: int
    n_trades: int
    start_equity: float
    final_return: Percentiles
    max_drawdown: Percentiles
    losing_streak: Percentiles
    prob_loss: float  # share of runs ending below the starting equity
    actual_final_return: float
    actual_max_drawdown: float
    actual_losing_streak: int
    final_returns: Floats = field(repr=False, compare=False)  # one per run, for histograms
    max_drawdowns: Floats = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        """The summary, without the per-run arrays."""
        skip = {"final_returns", "max_drawdowns"}
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in skip}


def trade_returns(trades: Sequence[Trade], start_equity: float) -> Floats:
    """Each trade's pnl over the equity at its entry, in exit order (the order pnl is realised)."""
    ordered = sorted(trades, key=lambda tr: tr.exit_ms)
    pnl = np.array([tr.pnl for tr in ordered], dtype=np.float64)
    exits = np.array([tr.exit_ms for tr in ordered], dtype=np.int64)
    entries = np.array([tr.entry_ms for tr in ordered], dtype=np.int64)
    realised = np.r_[0.0, np.cumsum(pnl)]
    equity_at_entry = start_equity + realised[np.searchsorted(exits, entries, side="right")]
    if np.any(equity_at_entry <= 0):
        i = int(np.flatnonzero(equity_at_entry <= 0)[0])
        raise InvalidArgumentError(
            f"trades: equity at the entry of trade {i} (by exit time) is {equity_at_entry[i]:.6g} ≤ 0, "
            "so its return is undefined",
            name="trades",
        )
    returns: Floats = pnl / equity_at_entry
    return returns


def monte_carlo(
    trades: Sequence[Trade] | Floats,
    start_equity: float,
    *,
    runs: int = 1000,
    seed: int = 0,
    method: Literal["shuffle", "bootstrap"] = "shuffle",
) -> MonteCarlo:
    """Replays the trades' returns in ``runs`` random orders (see the module's docstring).
    ``trades`` are round trips, or their returns directly as an array of fractions."""
    if not (math.isfinite(start_equity) and start_equity > 0):
        raise InvalidArgumentError(f"start_equity must be > 0, got {start_equity!r}", name="start_equity")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InvalidArgumentError(f"runs must be an integer ≥ 1, got {runs!r}", name="runs")
    if method not in ("shuffle", "bootstrap"):
        raise InvalidArgumentError(f"method must be 'shuffle' or 'bootstrap', got {method!r}", name="method")
    if isinstance(trades, np.ndarray):
        returns = np.asarray(trades, dtype=np.float64)
        if returns.ndim != 1 or not np.all(np.isfinite(returns)):
            raise InvalidArgumentError("trades: an array of returns must be 1-d and finite", name="trades")
    else:
        returns = trade_returns(trades, start_equity)
    n = len(returns)
    rng = np.random.default_rng(seed)
    final, drawdown, streak = (np.zeros(runs), np.zeros(runs), np.zeros(runs))
    if n:
        chunk = max(1, _CHUNK_CELLS // n)
        for lo in range(0, runs, chunk):
            hi = min(lo + chunk, runs)
            sample = _draw(rng, returns, hi - lo, method)
            final[lo:hi], drawdown[lo:hi], streak[lo:hi] = _path_stats(sample)
    actual = _path_stats(returns[None, :]) if n else (np.zeros(1), np.zeros(1), np.zeros(1))
    return MonteCarlo(
        method=method,
        runs=runs,
        seed=seed,
        n_trades=n,
        start_equity=float(start_equity),
        final_return=Percentiles.of(final),
        max_drawdown=Percentiles.of(drawdown),
        losing_streak=Percentiles.of(streak),
        prob_loss=float(np.mean(final < 0)),
        actual_final_return=float(actual[0][0]),
        actual_max_drawdown=float(actual[1][0]),
        actual_losing_streak=int(actual[2][0]),
        final_returns=final,
        max_drawdowns=drawdown,
    )


def _draw(rng: np.random.Generator, returns: Floats, runs: int, method: str) -> Floats:
    if method == "shuffle":
        return rng.permuted(np.broadcast_to(returns, (runs, len(returns))), axis=1)
    return rng.choice(returns, size=(runs, len(returns)), replace=True)


def _path_stats(sample: Floats) -> tuple[Floats, Floats, Floats]:
    """Per row of returns: final return, max drawdown and longest run of losing trades."""
    factors: Floats = np.maximum(1.0 + sample, 0.0)  # below 0 is ruin: equity stops at zero
    growth: Floats = np.cumprod(factors, axis=1, dtype=np.float64)
    peaks: Floats = np.maximum.accumulate(np.maximum(growth, 1.0), axis=1)  # the start (1.0) is a peak too
    drawdown: Floats = np.max(1.0 - growth / peaks, axis=1)
    losing = sample < 0
    count: npt.NDArray[np.int64] = np.cumsum(losing, axis=1, dtype=np.int64)
    # losses since the last non-losing trade: the count minus its value at that trade
    since_reset: npt.NDArray[np.int64] = count - np.maximum.accumulate(np.where(losing, 0, count), axis=1)
    streak: Floats = np.max(since_reset, axis=1).astype(np.float64)
    return growth[:, -1] - 1.0, drawdown, streak
