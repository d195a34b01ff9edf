"""Bar series for the strategy and regime tests: synthetic ones built from a close path, the real
January 2022 BTC perpetual candles, and a replay that feeds a strategy bar by bar — live
(appending) or preloaded (revealing) — the way the engine does."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars, resample
from tradecore.execution.orders import Position
from tradecore.strategy.base import Context, Signal, Strategy

Columns = dict[str, npt.NDArray[Any]]
HOUR = 3_600_000
START = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def candles(close: npt.ArrayLike, *, wick: float = 0.002, volume: npt.ArrayLike | float = 100.0,
            start: int = START, span: int = HOUR, first_open: float | None = None) -> Columns:
    """Bars following ``close``: each opens at the previous close, its wicks reach ``wick``
    (a fraction) beyond the body."""
    c = np.asarray(close, dtype=np.float64)
    o = np.r_[c[0] if first_open is None else first_open, c[:-1]]
    return {
        "time": start + span * np.arange(len(c), dtype=np.int64),
        "open": o,
        "high": np.maximum(o, c) * (1 + wick),
        "low": np.minimum(o, c) * (1 - wick),
        "close": c,
        "volume": np.broadcast_to(np.asarray(volume, dtype=np.float64), c.shape).copy(),
    }


def join(*parts: Columns) -> Columns:
    """Consecutive pieces (their times are renumbered hour by hour from the first)."""
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["time"] = out["time"][0] + HOUR * np.arange(len(out["time"]), dtype=np.int64)
    return out


def frames(hourly: Columns, timeframes: Sequence[str] = ("4h", "1d")) -> dict[str, Columns]:
    return {"1h": hourly, **{tf: resample(hourly, tf) for tf in timeframes}}


def bars_of(timeframe: str, cols: Columns, visible: int | None = None) -> Bars:
    bars = Bars.preload(timeframe, cols["time"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])
    bars.reveal(bars.held if visible is None else visible)
    return bars


def context(bars: Mapping[str, Bars], *, position: Position | None = None, symbol: str = "BTCUSDT",
            extra: Mapping[str, Any] | None = None) -> Context:
    first = next(iter(bars.values()))
    return Context(symbol, first.close_time, bars, Regime.UNKNOWN, position, 10_000.0, extra)


def long(qty: float = 1.0, entry: float = 100.0, symbol: str = "BTCUSDT") -> Position:
    return Position(symbol, qty, entry)


@dataclass
class Follower:
    """A position that follows the strategy's own signals (market entries at the close, grid
    levels at their limit price, exits flat) so that replays exercise the exit paths too."""

    symbol: str = "BTCUSDT"
    position: Position | None = None
    log: list[Signal] = field(default_factory=list)

    def apply(self, signals: Sequence[Signal], close: float) -> None:
        for s in signals:
            self.log.append(s)
            if s.exit:
                self.position = None
            elif self.position is None:
                price = s.limit_price or close
                self.position = Position(self.symbol, s.side.sign * 1.0, price)


def replay(strategy: Strategy, data: Mapping[str, Columns], *, preload: bool, bars: int | None = None,
           on_bar: Callable[[int, Context, list[Signal]], None] | None = None) -> list[list[Signal]]:
    """Runs ``strategy`` over ``data`` (columns per timeframe) bar by bar of its timeframe, with
    a :class:`Follower` position: live (every series filled by appending the bars closed so far)
    or preloaded (whole history held, revealed as time passes). Signals per bar, for the first
    ``bars`` bars."""
    main = data[strategy.timeframe]
    span = main["time"][1] - main["time"][0]
    n = len(main["time"]) if bars is None else bars
    series: dict[str, Bars] = {}
    for tf, cols in data.items():
        if preload:
            series[tf] = bars_of(tf, cols, visible=0)
        else:
            series[tf] = Bars(tf, capacity=16)
    fed = dict.fromkeys(data, 0)
    follower = Follower()
    out: list[list[Signal]] = []
    for i in range(n):
        now = int(main["time"][i] + span)
        for tf, cols in data.items():
            if preload:
                series[tf].advance(now)
            else:
                s = series[tf]
                while fed[tf] < len(cols["time"]) and cols["time"][fed[tf]] + s.span_ms <= now:
                    k = fed[tf]
                    s.append(int(cols["time"][k]), *(float(cols[c][k]) for c in ("open", "high", "low", "close", "volume")))
                    fed[tf] += 1
        ctx = Context(follower.symbol, now, series, Regime.UNKNOWN, follower.position, 10_000.0)
        signals = list(strategy.on_bar(ctx))
        if on_bar is not None:
            on_bar(i, ctx, signals)
        follower.apply(signals, float(main["close"][i]))
        out.append(signals)
    return out


def real_hourly(path: Any) -> Columns:
    """The 1m candles file resampled to 1h."""
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path)
    minutes = {
        "time": table["timestamp"].cast("int64").to_numpy() // 1_000_000,
        **{c: table[c].to_numpy() for c in ("open", "high", "low", "close", "volume")},
    }
    return resample(minutes, "1h")


def check_side(signal: Signal, close: float) -> None:
    """An entry's stop on the losing side of its price, its target on the winning side."""
    price = signal.limit_price or close
    assert signal.stop is not None, signal
    assert (price - signal.stop) * signal.side.sign > 0, f"stop {signal.stop} on the wrong side of {price}: {signal}"
    if signal.take_profit is not None:
        assert (signal.take_profit - price) * signal.side.sign > 0, f"target {signal.take_profit} on the wrong side of {price}: {signal}"
    assert 0.0 <= signal.confidence <= 1.0, signal
    assert signal.reason, signal



def walk(n: int, *, drift: float = 0.0, noise: float = 0.004, seed: int = 1, start: float = 100.0) -> npt.NDArray[np.float64]:
    """Closes of a geometric random walk: ``drift`` and ``noise`` per bar, as fractions."""
    rng = np.random.default_rng(seed)
    return np.asarray(start * np.exp(np.cumsum(drift + noise * rng.standard_normal(n))), dtype=np.float64)


def choppy(n: int, *, level: float = 100.0, noise: float = 0.004, pull: float = 0.5, seed: int = 2) -> npt.NDArray[np.float64]:
    """Closes that wander around ``level`` and are pulled back to it (a range)."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    dev = 0.0
    for i in range(n):
        dev = (1 - pull) * dev + noise * rng.standard_normal()
        x[i] = level * (1 + dev)
    return x
