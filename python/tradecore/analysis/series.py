"""Closed bars of one symbol and timeframe, with indicators computed by TA-Lib and cached.

Two ways to fill a series, one way to read it:

- live (paper, and backtests over recordings): :meth:`Bars.append` each bar as it closes;
- preloaded (backtests over stored candles): :meth:`Bars.preload` the whole history once, then
  :meth:`Bars.advance` reveals bars as the engine's clock passes their close.

Readers see only the visible bars: every column and indicator is a read-only view ending at the
newest closed bar. TA-Lib's indicators are causal (the value at bar i reads bars ≤ i only), so an
indicator computed once over the whole preloaded history equals, at every visible bar, the one a
live run computes over the bars it has seen — the no-look-ahead tests check exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import talib
from talib import MA_Type  # type: ignore[attr-defined]  # exported at runtime, not in its stubs

from tradecore.patterns import timeframe_seconds

Floats = npt.NDArray[np.float64]
_COLUMNS = ("open", "high", "low", "close", "volume")


def _readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


class Bars:
    """One symbol's closed bars on one timeframe. ``time`` is each bar's open time (UTC ms)."""

    def __init__(self, timeframe: str, capacity: int = 1024) -> None:
        self.timeframe = timeframe
        self.span_ms = timeframe_seconds(timeframe) * 1000
        self._time = np.zeros(capacity, dtype=np.int64)
        self._cols = {name: np.zeros(capacity, dtype=np.float64) for name in _COLUMNS}
        self._total = 0  # bars held
        self._n = 0  # bars visible
        self.ind = Indicators(self)

    # --- filling -------------------------------------------------------------------------
    @classmethod
    def preload(
        cls,
        timeframe: str,
        time: npt.ArrayLike,
        open: npt.ArrayLike,  # noqa: A002
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> Bars:
        """A whole history, none of it visible yet."""
        t = np.ascontiguousarray(time, dtype=np.int64)
        bars = cls(timeframe, capacity=max(len(t), 1))
        bars._time[: len(t)] = t
        for name, values in zip(_COLUMNS, (open, high, low, close, volume), strict=True):
            bars._cols[name][: len(t)] = np.asarray(values, dtype=np.float64)
        bars._total = len(t)
        return bars

    def append(self, time_ms: int, open: float, high: float, low: float, close: float, volume: float) -> None:  # noqa: A002
        """A bar that just closed (live). Bars must come in time order."""
        if self._n != self._total:
            raise RuntimeError("append() on a preloaded series")
        if self._total and time_ms <= self._time[self._total - 1]:
            raise ValueError(f"{self.timeframe} bar at {time_ms} is not after the last one ({int(self._time[self._total - 1])})")
        if self._total == len(self._time):
            self._grow()
        i = self._total
        self._time[i] = time_ms
        for name, value in zip(_COLUMNS, (open, high, low, close, volume), strict=True):
            self._cols[name][i] = value
        self._total = self._n = i + 1

    def advance(self, now_ms: int) -> int:
        """Reveals the preloaded bars closed by ``now_ms``; returns how many became visible."""
        n, total, end = self._n, self._total, now_ms - self.span_ms
        start = n
        while n < total and self._time[n] <= end:
            n += 1
        self._n = n
        return n - start

    def reveal(self, count: int) -> None:
        """Makes the first ``count`` preloaded bars visible (the engine's fast path)."""
        self._n = min(count, self._total)

    def _grow(self) -> None:
        size = 2 * len(self._time)
        self._time = np.resize(self._time, size)
        self._cols = {k: np.resize(v, size) for k, v in self._cols.items()}

    # --- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def held(self) -> int:
        """Bars held, visible or not (the preloaded history's length)."""
        return self._total

    def _view(self, a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return _readonly(a[: self._n])

    @property
    def time(self) -> npt.NDArray[np.int64]:
        return self._view(self._time)

    @property
    def open(self) -> Floats:
        return self._view(self._cols["open"])

    @property
    def high(self) -> Floats:
        return self._view(self._cols["high"])

    @property
    def low(self) -> Floats:
        return self._view(self._cols["low"])

    @property
    def close(self) -> Floats:
        return self._view(self._cols["close"])

    @property
    def volume(self) -> Floats:
        return self._view(self._cols["volume"])

    def last(self, column: str = "close") -> float:
        """The newest visible bar's value (NaN before the first bar)."""
        return float(self._cols[column][self._n - 1]) if self._n else float("nan")

    @property
    def close_time(self) -> int:
        """When the newest visible bar closed (its open time + the timeframe), UTC ms."""
        return int(self._time[self._n - 1]) + self.span_ms if self._n else 0

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """A copy of the visible bars as columns (time, open, high, low, close, volume)."""
        return {"time": self.time.copy(), **{name: self._view(self._cols[name]).copy() for name in _COLUMNS}}

    def full_time(self) -> npt.NDArray[np.int64]:
        """Open times of every held bar, visible or not (the engine's schedule)."""
        return self._time[: self._total]

    def row(self, i: int) -> tuple[int, float, float, float, float, float]:
        """Held bar ``i`` as (time, open, high, low, close, volume), visible or not (the engine
        reads the bar it is about to reveal)."""
        c = self._cols
        return (int(self._time[i]), float(c["open"][i]), float(c["high"][i]), float(c["low"][i]),
                float(c["close"][i]), float(c["volume"][i]))

    def full(self, column: str) -> Floats:
        """The column over every held bar (indicator computation only: may include hidden bars)."""
        return self._cols[column][: self._total]


class Indicators:
    """TA-Lib indicators over a :class:`Bars`, each computed once per new bar held and cached.

    Every method returns a read-only array aligned with the visible bars (NaN during warm-up).
    """

    def __init__(self, bars: Bars) -> None:
        self._bars = bars
        self._cache: dict[tuple[Any, ...], tuple[int, tuple[Floats, ...]]] = {}
        self._streams: dict[str, _Stream] = {}

    def _get(self, key: tuple[Any, ...], compute: Callable[[], tuple[Floats, ...]]) -> tuple[Floats, ...]:
        held = self._bars.held
        hit = self._cache.get(key)
        if hit is None or hit[0] != held:
            hit = (held, compute())
            self._cache[key] = hit
        n = len(self._bars)
        return tuple(_readonly(a[:n]) for a in hit[1])

    def _one(self, key: tuple[Any, ...], compute: Callable[[], Floats]) -> Floats:
        return self._get(key, lambda: (compute(),))[0]

    def _c(self, column: str) -> Floats:
        return self._bars.full(column)

    def ema(self, period: int, column: str = "close") -> Floats:
        return self._one(("ema", period, column), lambda: talib.EMA(self._c(column), period))

    def sma(self, period: int, column: str = "close") -> Floats:
        return self._one(("sma", period, column), lambda: talib.SMA(self._c(column), period))

    def rsi(self, period: int = 14) -> Floats:
        return self._one(("rsi", period), lambda: talib.RSI(self._c("close"), period))

    def macd(self, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[Floats, Floats, Floats]:
        """(macd, signal, histogram)."""
        m, s, h = self._get(("macd", fast, slow, signal), lambda: talib.MACD(self._c("close"), fast, slow, signal))
        return m, s, h

    def stoch(self, k: int = 14, slow_k: int = 3, slow_d: int = 3) -> tuple[Floats, Floats]:
        """(%K, %D), slow stochastic."""
        a, b = self._get(
            ("stoch", k, slow_k, slow_d),
            lambda: talib.STOCH(self._c("high"), self._c("low"), self._c("close"), k, slow_k, MA_Type.SMA, slow_d, MA_Type.SMA),
        )
        return a, b

    def bbands(self, period: int = 20, dev: float = 2.0) -> tuple[Floats, Floats, Floats]:
        """(upper, middle, lower)."""
        u, m, lo = self._get(("bbands", period, dev), lambda: talib.BBANDS(self._c("close"), period, dev, dev, MA_Type.SMA))
        return u, m, lo

    def atr(self, period: int = 14) -> Floats:
        return self._one(("atr", period), lambda: talib.ATR(self._c("high"), self._c("low"), self._c("close"), period))

    def natr(self, period: int = 14) -> Floats:
        """ATR as a percentage of the close."""
        return self._one(("natr", period), lambda: talib.NATR(self._c("high"), self._c("low"), self._c("close"), period))

    def adx(self, period: int = 14) -> Floats:
        return self._one(("adx", period), lambda: talib.ADX(self._c("high"), self._c("low"), self._c("close"), period))

    def highest(self, period: int, column: str = "high") -> Floats:
        return self._one(("max", period, column), lambda: talib.MAX(self._c(column), period))

    def lowest(self, period: int, column: str = "low") -> Floats:
        return self._one(("min", period, column), lambda: talib.MIN(self._c(column), period))

    def choppiness(self, period: int = 14) -> Floats:
        """Choppiness Index, 0–100: above ~61.8 the market ranges, below ~38.2 it trends.
        100·log10(Σ true range / (highest high − lowest low)) / log10(period)."""

        def compute() -> Floats:
            h, lo, c = self._c("high"), self._c("low"), self._c("close")
            tr_sum = talib.SUM(talib.TRANGE(h, lo, c), period)
            span = talib.MAX(h, period) - talib.MIN(lo, period)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = 100.0 * np.log10(tr_sum / span) / np.log10(period)
            out[~np.isfinite(out)] = np.nan
            return np.asarray(out, dtype=np.float64)

        return self._one(("chop", period), compute)

    def returns_std(self, period: int = 60) -> Floats:
        """Standard deviation of simple close-to-close returns over ``period`` bars."""

        def compute() -> Floats:
            c = self._c("close")
            r = np.full_like(c, np.nan)
            if len(c) > 1:
                r[1:] = c[1:] / c[:-1] - 1.0
            return np.asarray(talib.STDDEV(r, period, 1.0), dtype=np.float64)

        return self._one(("rstd", period), compute)

    def streamed(self, key: str, start: Callable[[], Any], extend: Callable[[Any, Bars, int, int], Floats]) -> Floats:
        """A causal indicator computed incrementally (a streaming engine's output): ``start()``
        makes its state, ``extend(state, bars, a, b)`` returns the rows of held bars a ≤ i < b
        (reading ``bars.full`` columns) and advances the state. Live, each new bar costs one
        step instead of a pass over the whole history; preloaded, the first call computes every
        held bar at once. Row i must depend on bars ≤ i only, so both give the same rows."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(start())
        held = self._bars.held
        if stream.done < held:
            rows = extend(stream.state, self._bars, stream.done, held)
            stream.add(rows)
            stream.done = held
        return _readonly(stream.rows[: len(self._bars)])

    def custom(self, key: str, compute: Callable[[Bars], Floats]) -> Floats:
        """A user-defined causal indicator over the held bars, cached like the built-ins."""
        return self._one(("custom", key), lambda: np.asarray(compute(self._bars), dtype=np.float64))


class _Stream:
    """A streamed indicator's state and rows (grown by doubling)."""

    __slots__ = ("state", "rows", "done")

    def __init__(self, state: Any) -> None:
        self.state = state
        self.rows: Floats = np.zeros(0)
        self.done = 0

    def add(self, rows: Floats) -> None:
        if self.done == 0:
            self.rows = np.array(rows, dtype=np.float64)
            return
        end = self.done + len(rows)
        if end > len(self.rows):
            grown = np.zeros((max(end, 2 * len(self.rows)), *self.rows.shape[1:]), dtype=np.float64)
            grown[: self.done] = self.rows[: self.done]
            self.rows = grown
        self.rows[self.done : end] = rows


def resample(bars_1m: dict[str, npt.NDArray[Any]], timeframe: str) -> dict[str, npt.NDArray[Any]]:
    """Aggregates bars (columns time, open, high, low, close, volume; sorted) into ``timeframe``
    bars aligned to UTC multiples of its span. A bucket is emitted only when complete in time —
    its last source bar's close reaches the bucket's end — so a half-built bar never leaks."""
    span = timeframe_seconds(timeframe) * 1000
    t = np.asarray(bars_1m["time"], dtype=np.int64)
    if len(t) == 0:
        return {k: np.asarray(v)[:0] for k, v in bars_1m.items()}
    src_span = int(np.min(np.diff(t))) if len(t) > 1 else span
    bucket = t - t % span
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(t)]
    complete = t[ends - 1] + src_span >= bucket[starts] + span
    starts, ends = starts[complete], ends[complete]
    o = np.asarray(bars_1m["open"], dtype=np.float64)
    h = np.asarray(bars_1m["high"], dtype=np.float64)
    lo = np.asarray(bars_1m["low"], dtype=np.float64)
    c = np.asarray(bars_1m["close"], dtype=np.float64)
    v = np.asarray(bars_1m["volume"], dtype=np.float64)
    if len(starts) == 0:
        return {"time": t[:0], "open": o[:0], "high": h[:0], "low": lo[:0], "close": c[:0], "volume": v[:0]}
    all_starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    keep = np.isin(all_starts, starts)
    return {
        "time": bucket[starts],
        "open": o[starts],
        "high": np.maximum.reduceat(h, all_starts)[keep],
        "low": np.minimum.reduceat(lo, all_starts)[keep],
        "close": c[ends - 1],
        "volume": np.add.reduceat(v, all_starts)[keep],
    }


class BarBuilder:
    """Live counterpart of :func:`resample`: folds closed lower-timeframe bars into one higher
    timeframe and returns each higher bar when the bar that completes it arrives."""

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self.span_ms = timeframe_seconds(timeframe) * 1000
        self._bucket: int | None = None
        self._ohlcv = [0.0, 0.0, 0.0, 0.0, 0.0]

    def push(self, time_ms: int, span_ms: int, o: float, h: float, lo: float, c: float, v: float) -> tuple[int, float, float, float, float, float] | None:
        bucket = time_ms - time_ms % self.span_ms
        acc = self._ohlcv
        if bucket != self._bucket:
            self._bucket = bucket
            acc[:] = [o, h, lo, c, v]
        else:
            acc[1] = max(acc[1], h)
            acc[2] = min(acc[2], lo)
            acc[3] = c
            acc[4] += v
        if time_ms + span_ms >= bucket + self.span_ms:
            self._bucket = None
            return (bucket, acc[0], acc[1], acc[2], acc[3], acc[4])
        return None
