"""Performance metrics of a backtest: its equity curve and its round trips.

Conventions (the usual ones, stated so the numbers can be checked by hand):

- Period returns are simple returns between consecutive equity samples, ``e[i] / e[i-1] - 1``
  (0 once equity is at or below zero: a ruined account earns nothing).
- Annualisation: crypto trades every day, so a year is 365 days. Periods per year come from the
  median sampling step of the equity curve (365 × 1440 for one-minute samples) unless given.
- Sharpe = mean / sample standard deviation (ddof=1) of the period returns × √periods per year;
  Sortino uses the downside deviation √mean(min(r, 0)²) over all periods instead. The risk-free
  rate is 0. Both are 0 for a flat curve; Sortino is +inf when returns are positive and never
  negative.
- CAGR = (end / start) ^ (1 / years) − 1, years = the curve's span / 365 days: over spans much
  shorter than a year it is an extrapolation, not a forecast. Calmar = CAGR / max drawdown.
- Annualised figures (CAGR, Sharpe, Sortino, Calmar) are NaN for a curve spanning less than
  ``min_annualised_ms`` (default one day): a few minutes scaled to a year say nothing.
- Max drawdown is the deepest fall from a running peak as a fraction of that peak (0.25 = 25 %
  below); its duration runs from that peak to the first sample back at or above it, or to the end
  of the curve when equity never recovers.
- Trade statistics use each round trip's pnl after fees: a win is pnl > 0, a loss pnl < 0.
  Profit factor = gross profit / gross loss: +inf with profits and no loss, 0 with neither.
- Exposure is the fraction of the curve's span during which at least one trade was open.

Unbounded ratios stay ``inf`` on the object; :meth:`Metrics.as_dict` turns them into ``None``
so the result is strict JSON.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradecore.backtest._json import finite_or_none
from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Trade

YEAR_MS = 365 * 86_400_000


@dataclass(slots=True, frozen=True)
class Metrics:
    """One backtest's scores. Fractions are plain (0.1 = 10 %); money is in the quote asset."""

    start_ms: int
    end_ms: int
    start_equity: float
    end_equity: float
    total_return: float
    cagr: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_duration_ms: int
    n_trades: int
    win_rate: float
    profit_factor: float
    expectancy: float  # mean pnl per trade
    avg_win: float
    avg_loss: float  # negative (or 0 without losses)
    exposure: float
    fees_paid: float
    periods_per_year: float

    def as_dict(self) -> dict[str, float | int | None]:
        """Every field; non-finite floats (an unbounded ratio) become ``None``."""
        out: dict[str, float | int | None] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = finite_or_none(value) if isinstance(value, float) else value
        return out


def compute_metrics(
    equity_time_ms: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    trades: Sequence[Trade],
    *,
    fees_paid: float,
    exposure: float | None = None,
    periods_per_year: float | None = None,
    min_annualised_ms: int = 86_400_000,
) -> Metrics:
    """Scores an equity curve (times strictly increasing, UTC ms) and its round trips; see the
    module's docstring for the conventions. ``exposure`` overrides the one computed from the
    trades' entry and exit times; ``periods_per_year`` the one inferred from the sampling step;
    curves shorter than ``min_annualised_ms`` get NaN annualised figures."""
    t = np.asarray(equity_time_ms, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    _check_curve(t, e)
    if not math.isfinite(fees_paid):
        raise InvalidArgumentError(f"fees_paid must be finite, got {fees_paid!r}", name="fees_paid")
    if exposure is not None and not 0.0 <= exposure <= 1.0:
        raise InvalidArgumentError(f"exposure must be a fraction in [0, 1], got {exposure!r}", name="exposure")
    if periods_per_year is not None and not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise InvalidArgumentError(f"periods_per_year must be > 0, got {periods_per_year!r}", name="periods_per_year")
    ppy = _periods_per_year(t) if periods_per_year is None else float(periods_per_year)

    start, end = float(e[0]), float(e[-1])
    span_ms = int(t[-1] - t[0])
    total_return = end / start - 1.0
    cagr = _cagr(start, end, span_ms)
    r = _period_returns(e)
    max_dd, dd_duration = _max_drawdown(t, e)
    pnl = np.array([tr.pnl for tr in trades], dtype=np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_profit, gross_loss = float(wins.sum()), float(-losses.sum())
    sharpe, sortino, calmar = _sharpe(r, ppy), _sortino(r, ppy), _ratio(cagr, max_dd)
    if span_ms < min_annualised_ms:
        cagr = sharpe = sortino = calmar = math.nan
    return Metrics(
        start_ms=int(t[0]),
        end_ms=int(t[-1]),
        start_equity=start,
        end_equity=end,
        total_return=total_return,
        cagr=cagr,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        max_drawdown=max_dd,
        max_drawdown_duration_ms=dd_duration,
        n_trades=len(pnl),
        win_rate=len(wins) / len(pnl) if len(pnl) else 0.0,
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy=float(pnl.mean()) if len(pnl) else 0.0,
        avg_win=float(wins.mean()) if len(wins) else 0.0,
        avg_loss=float(losses.mean()) if len(losses) else 0.0,
        exposure=_exposure(trades, int(t[0]), int(t[-1])) if exposure is None else float(exposure),
        fees_paid=float(fees_paid),
        periods_per_year=ppy,
    )


def _check_curve(t: npt.NDArray[np.int64], e: npt.NDArray[np.float64]) -> None:
    if t.ndim != 1 or e.ndim != 1 or len(t) != len(e):
        raise InvalidArgumentError(
            f"equity_time_ms and equity must be 1-d and of one length, got shapes {t.shape} and {e.shape}",
            name="equity",
        )
    if len(e) == 0:
        raise InvalidArgumentError("equity is empty: a backtest has at least its starting equity", name="equity")
    if not np.all(np.isfinite(e)):
        i = int(np.flatnonzero(~np.isfinite(e))[0])
        raise InvalidArgumentError(f"equity[{i}] is not finite ({e[i]!r})", name="equity")
    if e[0] <= 0:
        raise InvalidArgumentError(f"starting equity must be > 0, got {e[0]!r}", name="equity")
    steps = np.diff(t)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise InvalidArgumentError(
            f"equity_time_ms must increase strictly; equity_time_ms[{i}]={t[i]} follows {t[i - 1]}",
            name="equity_time_ms",
        )


def _periods_per_year(t: npt.NDArray[np.int64]) -> float:
    return YEAR_MS / float(np.median(np.diff(t))) if len(t) > 1 else 0.0


def _period_returns(e: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    prev = e[:-1]
    return np.divide(np.diff(e), prev, out=np.zeros(len(prev)), where=prev > 0)


def _sharpe(r: npt.NDArray[np.float64], ppy: float) -> float:
    if len(r) < 2:
        return 0.0
    sd = float(r.std(ddof=1))
    return float(r.mean()) / sd * math.sqrt(ppy) if sd > 0 else 0.0


def _sortino(r: npt.NDArray[np.float64], ppy: float) -> float:
    if len(r) == 0:
        return 0.0
    mean = float(r.mean())
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return mean / downside * math.sqrt(ppy) if downside > 0 else _ratio(mean, 0.0)


def _ratio(gain: float, pain: float) -> float:
    """gain / pain, with pain ≥ 0: +inf for gain without pain, 0 with neither."""
    if pain > 0:
        return gain / pain
    return math.inf if gain > 0 else 0.0


def _cagr(start: float, end: float, span_ms: int) -> float:
    if span_ms <= 0:
        return 0.0
    if end <= 0:
        return -1.0
    try:
        return math.exp(math.log(end / start) * YEAR_MS / span_ms) - 1.0
    except OverflowError:  # a large gain over a few minutes, annualised
        return math.inf


def _max_drawdown(t: npt.NDArray[np.int64], e: npt.NDArray[np.float64]) -> tuple[float, int]:
    """The deepest fall from a running peak (a fraction) and its duration in ms."""
    peaks = np.maximum.accumulate(e)
    drawdown = 1.0 - e / peaks  # peaks ≥ e[0] > 0
    trough = int(np.argmax(drawdown))
    depth = float(drawdown[trough])
    if depth <= 0:
        return 0.0, 0
    peak_value = peaks[trough]
    peak = trough - int(np.argmax(e[trough::-1] == peak_value))  # the last time at that peak
    recovered = np.flatnonzero(e[trough:] >= peak_value)
    end = trough + int(recovered[0]) if len(recovered) else len(e) - 1
    return depth, int(t[end] - t[peak])


def _exposure(trades: Sequence[Trade], start_ms: int, end_ms: int) -> float:
    """The share of [start_ms, end_ms] covered by the union of the trades' [entry, exit]."""
    if not trades or end_ms <= start_ms:
        return 0.0
    entries = np.clip([tr.entry_ms for tr in trades], start_ms, end_ms)
    exits = np.clip([tr.exit_ms for tr in trades], start_ms, end_ms)
    order = np.argsort(entries, kind="stable")
    entries, exits = entries[order], np.maximum(exits[order], entries[order])
    reach = np.maximum.accumulate(exits)
    first = np.r_[True, entries[1:] > reach[:-1]]  # starts a run of overlapping trades
    last = np.r_[np.flatnonzero(first)[1:] - 1, len(entries) - 1]
    covered = int(np.sum(reach[last] - entries[first]))
    return covered / (end_ms - start_ms)
