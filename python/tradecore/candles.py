"""Candles from trades: arrays or whole recordings to one Arrow table per timeframe.

Bars are exchange-style: aligned to the epoch (weeks to Monday 00:00 UTC), ``open_time`` is the
bar start in milliseconds UTC, empty intervals are flat bars at the previous close with zero
volume (``fill_gaps=False`` leaves them out), and bars are built from trade time, not arrival.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tradecore import recording
from tradecore._core import CandleAggregator, read_trades
from tradecore.errors import MessageError, RecordingError

DEFAULT_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")

#: Candle table columns. ``open_time`` is UTC; volumes are in the traded quantity's unit and
#: quote volumes are Σ price × quantity.
SCHEMA = pa.schema(
    [
        ("open_time", pa.timestamp("ms", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("quote_volume", pa.float64()),
        ("trades", pa.int64()),
        ("taker_buy_volume", pa.float64()),
        ("taker_buy_quote_volume", pa.float64()),
        ("vwap", pa.float64()),
    ]
)


def to_table(columns: Mapping[str, npt.NDArray[np.generic]]) -> pa.Table:
    """One timeframe's columns (as returned by :class:`CandleAggregator`) as an Arrow table.
    The numpy buffers are shared, not copied."""
    arrays = []
    for f in SCHEMA:
        values = np.ascontiguousarray(columns[f.name])
        if f.name == "open_time":
            arrays.append(pa.Array.from_buffers(f.type, len(values), [None, pa.py_buffer(values)]))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _concat(parts: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


def aggregate(
    ts_ms: npt.ArrayLike,
    price: npt.ArrayLike,
    qty: npt.ArrayLike,
    taker_buy: npt.ArrayLike | None = None,
    *,
    timeframes: Sequence[str] = DEFAULT_TIMEFRAMES,
    fill_gaps: bool = True,
    late: Literal["drop", "error"] = "drop",
) -> dict[str, pa.Table]:
    """Aggregates trades into bars for every timeframe in one pass (GIL released).

    ``ts_ms`` are trade times in milliseconds since the epoch; ``taker_buy`` says whether the
    aggressor bought. Without it the taker columns are NaN.
    """
    ts = np.ascontiguousarray(ts_ms, dtype=np.int64)
    side_known = taker_buy is not None
    buys = np.ascontiguousarray(taker_buy if side_known else np.zeros(len(ts)), dtype=np.bool_)
    agg = CandleAggregator(list(timeframes), fill_gaps=fill_gaps, late=late)
    first = agg.push_arrays(
        ts, np.ascontiguousarray(price, dtype=np.float64), np.ascontiguousarray(qty, dtype=np.float64), buys
    )
    rest = agg.flush_arrays()
    tables = {tf: _concat([to_table(first[tf]), to_table(rest[tf])]) for tf in agg.timeframes}
    if not side_known:
        tables = {tf: _without_side(t) for tf, t in tables.items()}
    return tables


def _without_side(table: pa.Table) -> pa.Table:
    nan = pa.array(np.full(table.num_rows, np.nan))
    for name in ("taker_buy_volume", "taker_buy_quote_volume"):
        table = table.set_column(table.schema.get_field_index(name), name, nan)
    return table


@dataclass
class RecordingCandles:
    """Candles of one symbol's trades in a recording."""

    tables: dict[str, pa.Table]
    symbol: str | None
    trades: int
    error_count: int
    errors: list[MessageError] = field(default_factory=list)
    late_dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def from_recording(
    path: str | Path,
    timeframes: Sequence[str] = DEFAULT_TIMEFRAMES,
    *,
    symbol: str | None = None,
    fill_gaps: bool = True,
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> RecordingCandles:
    """Aggregates the trades (Binance ``trade``/``aggTrade``, Bybit ``publicTrade``) of a
    recording. Without ``symbol`` the recording must hold trades of a single symbol."""
    start = time.perf_counter()
    agg = CandleAggregator(list(timeframes), symbol=symbol, fill_gaps=fill_gaps)
    parts: dict[str, list[pa.Table]] = {tf: [] for tf in agg.timeframes}
    chosen = symbol.upper() if symbol else None
    error_count = 0
    errors: list[MessageError] = []

    def collect(closed: Mapping[str, Mapping[str, npt.NDArray[np.generic]]]) -> None:
        for tf, columns in closed.items():
            if len(columns["open_time"]):
                parts[tf].append(to_table(columns))

    for chunk in recording.chunks(path, on_progress=on_progress):
        columns, symbols, bad, first_errors = read_trades(
            chunk.data, symbol=chosen, first_line=chunk.first_line, strict=strict
        )
        error_count += bad
        errors.extend(first_errors[: max(0, recording.ERROR_DETAILS - len(errors))])
        if chosen is None and symbols:
            if len(symbols) > 1:
                raise RecordingError(
                    f"{path}: trades of several symbols ({', '.join(symbols)}); choose one with symbol="
                )
            chosen = symbols[0]
        elif symbols and symbol is None and any(s != chosen for s in symbols):
            others = ", ".join(s for s in symbols if s != chosen)
            raise RecordingError(f"{path}: trades of {chosen} and also {others}; choose one with symbol=")
        collect(agg.push_arrays(columns["ts_ms"], columns["price"], columns["qty"], columns["taker_buy"]))
    collect(agg.flush_arrays())
    return RecordingCandles(
        tables={tf: _concat(tables) for tf, tables in parts.items()},
        symbol=chosen,
        trades=agg.trade_count,
        error_count=error_count,
        errors=errors,
        late_dropped=dict(agg.late_dropped),
        seconds=time.perf_counter() - start,
    )
