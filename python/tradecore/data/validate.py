"""Candle validation: what is wrong with a series of OHLCV bars, how good it is, and a repair.

Checks (``error`` ones make a series fail; outliers are reported for a person to look at):

========== ===== ==========================================================================
check      kind  fires on
========== ===== ==========================================================================
ohlc       error a bar whose high is below max(open, close), low above min(open, close), or
                 low above high (bars with non-finite values are left to ``finite``)
volume     error a negative volume (-inf is left to ``finite``)
finite     error NaN, ±inf or a missing value in open, high, low, close or volume
order      error a timestamp earlier than the one before it (equal ones are duplicates)
duplicates error more than one bar for a timestamp: ``identical`` (all columns equal) or
                 ``conflicting`` (they differ)
gaps       error missing bars: steps between consecutive timestamps longer than the timeframe
                 (given, or the median step)
outliers   info  close-to-close returns outside Q1 − 1.5·IQR … Q3 + 1.5·IQR (over the distinct
                 timestamps in time order, skipping bars with an ohlc error or no finite close)
========== ===== ==========================================================================

The quality score is ``100 × (1 − penalty / (bars + missing bars))`` with ``penalty`` = bars with
an ohlc/volume/finite/order error or a conflicting duplicate + ½ per extra identical duplicate +
missing bars, rounded *down* to 0.01 so that any error shows below 100. Outliers do not lower it:
fat tails are the market, not bad data.

Times are read as ms UTC: timestamp columns (naive ones are taken as UTC; finer than a
millisecond is refused), dates, or integers whose unit is told by their size (s, ms, µs or ns
since the epoch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from tradecore.data.store import Interval, candle_partitions, iso, read_partition, rows_equal, timeframe_ms

__all__ = [
    "Check", "Fetch", "Filled", "Interval", "Repair", "Report", "fill_missing", "iso", "quality_score",
    "read_candle_file", "repair", "repaired_path", "time_column", "times_ms", "validate_candles", "validate_path",
]
from tradecore.errors import InvalidArgumentError, SchemaError

TIME_COLUMNS = ("open_time", "timestamp", "time", "date", "datetime")
VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
IQR_FACTOR = 1.5
_UNIT_LIMITS = ((10**11, 1000, 1), (10**14, 1, 1), (10**17, 1, 1000))  # s, ms, µs; beyond: ns

#: ``fetch(start_ms, end_ms)`` returns the bars with open times in ``[start_ms, end_ms)``.
Fetch = Callable[[int, int], pa.Table]


@dataclass
class Check:
    """One check's outcome: ``count`` offences (bars, rows, or missing bars for ``gaps``), all
    offending ``rows`` (or intervals), and check-specific ``details``."""

    name: str
    title: str
    error: bool
    count: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error and self.count > 0


@dataclass
class Report:
    """Everything :func:`validate_candles` found about one series."""

    source: str
    bars: int
    first: int | None
    last: int | None
    step_ms: int | None
    step_inferred: bool
    checks: list[Check]
    score: float
    #: Row indices a repair removes: repeats of an identical row, every row of a timestamp with
    #: conflicting rows, and bars with an ohlc/volume/finite error.
    identical_rows: npt.NDArray[np.int64] = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    conflicting_rows: npt.NDArray[np.int64] = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    invalid_rows: npt.NDArray[np.int64] = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    @property
    def has_errors(self) -> bool:
        return any(c.failed for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def timeframe(self) -> str | None:
        return None if self.step_ms is None else timeframe_label(self.step_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bars": self.bars,
            "first": None if self.first is None else iso(self.first),
            "last": None if self.last is None else iso(self.last),
            "timeframe": self.timeframe,
            "timeframe_inferred": self.step_inferred,
            "errors": self.has_errors,
            "score": self.score,
            "checks": {
                c.name: {"title": c.title, "error": c.error, "count": c.count, "details": c.details, "rows": c.rows}
                for c in self.checks
            },
        }


def timeframe_label(step_ms: int) -> str:
    """``60000`` → ``1m``: the largest unit that divides the step."""
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if step_ms % size == 0:
            return f"{step_ms // size}{unit}"
    return f"{step_ms}ms"


# ---- reading ------------------------------------------------------------------------------------


def read_candle_file(path: str | Path) -> pa.Table:
    """Candles from CSV (optionally compressed) or Parquet, column names lower-cased."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    return table.rename_columns([name.lower() for name in table.column_names])


def time_column(table: pa.Table) -> str:
    """The name of the table's time column."""
    found = next((c for c in TIME_COLUMNS if c in table.column_names), None)
    if found is None:
        raise SchemaError(
            f"no time column ({', '.join(TIME_COLUMNS)}); the columns are {', '.join(table.column_names)}",
            column="timestamp",
        )
    return found


def times_ms(column: pa.ChunkedArray | pa.Array, name: str = "timestamp") -> npt.NDArray[np.int64]:
    """A time column as int64 ms UTC (see the module documentation for what is accepted)."""
    if column.null_count:
        raise SchemaError(f"time column {name!r} has {column.null_count} missing value(s)", column=name)
    kind = column.type
    if pa.types.is_date(kind):
        column = column.cast(pa.timestamp("ms"))
        kind = column.type
    if pa.types.is_timestamp(kind):
        try:
            column = column.cast(pa.timestamp("ms", tz=kind.tz))
        except pa.ArrowInvalid as exc:
            raise SchemaError(f"time column {name!r} has times finer than a millisecond", column=name) from exc
        return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if pa.types.is_integer(kind):
        values = np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
        return _integer_times_ms(values, name)
    raise SchemaError(f"time column {name!r} is {kind}: expected timestamps, dates or epoch integers", column=name)


def _integer_times_ms(values: npt.NDArray[np.int64], name: str) -> npt.NDArray[np.int64]:
    largest = int(np.abs(values).max()) if len(values) else 0
    multiply, divide = next(((m, d) for limit, m, d in _UNIT_LIMITS if largest < limit), (1, 1_000_000))
    if divide > 1 and (values % divide).any():
        raise SchemaError(f"time column {name!r} has times finer than a millisecond", column=name)
    return values * multiply // divide


def _values(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    if name not in table.column_names:
        raise SchemaError(f"no {name!r} column; the columns are {', '.join(table.column_names)}", column=name)
    try:
        column = table.column(name).cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"column {name!r} is {table.column(name).type}, not numbers", column=name) from exc
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls become NaN


# ---- checks -------------------------------------------------------------------------------------


@dataclass
class _Bars:
    table: pa.Table
    time: str
    ts: npt.NDArray[np.int64]
    o: npt.NDArray[np.float64]
    h: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    c: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]

    def row(self, i: int, **extra: Any) -> dict[str, Any]:
        values = {name: _plain(float(a[i])) for name, a in zip(VALUE_COLUMNS, (self.o, self.h, self.low, self.c, self.v))}
        return {"index": i, "time": iso(int(self.ts[i])), "open_time": int(self.ts[i]), **values, **extra}


def _plain(x: float) -> float | str:
    """JSON has no NaN or infinity: those become text."""
    return x if math.isfinite(x) else str(x)


def _check_finite(bars: _Bars) -> tuple[Check, npt.NDArray[np.bool_]]:
    columns = np.stack([bars.o, bars.h, bars.low, bars.c, bars.v])
    bad = np.asarray(~np.isfinite(columns).all(axis=0), dtype=np.bool_)
    rows = [
        bars.row(int(i), reason=", ".join(n for n, x in zip(VALUE_COLUMNS, columns[:, i]) if not math.isfinite(x)))
        for i in np.nonzero(bad)[0]
    ]
    return Check("finite", "non-finite or missing values", True, int(bad.sum()), rows), bad


def _check_ohlc(bars: _Bars, finite: npt.NDArray[np.bool_]) -> tuple[Check, npt.NDArray[np.bool_]]:
    with np.errstate(invalid="ignore"):
        high_low = bars.h < np.maximum(bars.o, bars.c)
        low_high = bars.low > np.minimum(bars.o, bars.c)
        crossed = bars.low > bars.h
    bad = finite & (high_low | low_high | crossed)
    reasons = (
        (high_low, "high < max(open, close)"), (low_high, "low > min(open, close)"), (crossed, "low > high")
    )
    rows = [bars.row(int(i), reason="; ".join(text for m, text in reasons if m[i])) for i in np.nonzero(bad)[0]]
    return Check("ohlc", "OHLC consistency", True, int(bad.sum()), rows), bad


def _check_volume(bars: _Bars, finite: npt.NDArray[np.bool_]) -> tuple[Check, npt.NDArray[np.bool_]]:
    with np.errstate(invalid="ignore"):
        bad = finite & (bars.v < 0)
    rows = [bars.row(int(i), reason="volume < 0") for i in np.nonzero(bad)[0]]
    return Check("volume", "non-negative volume", True, int(bad.sum()), rows), bad


def _check_order(bars: _Bars) -> tuple[Check, npt.NDArray[np.bool_]]:
    bad = np.zeros(len(bars.ts), dtype=np.bool_)
    bad[1:] = bars.ts[1:] < bars.ts[:-1]
    rows = [bars.row(int(i), previous=iso(int(bars.ts[i - 1]))) for i in np.nonzero(bad)[0]]
    return Check("order", "strictly increasing timestamps", True, int(bad.sum()), rows), bad


def _check_duplicates(bars: _Bars) -> tuple[Check, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Returns the check, the extra rows of identical repeats and a mask of conflicting rows."""
    n = len(bars.ts)
    order = np.argsort(bars.ts, kind="stable")
    ts = bars.ts[order]
    pairs = np.nonzero(ts[1:] == ts[:-1])[0]  # sorted positions k, k + 1 share a timestamp
    conflicting = np.zeros(n, dtype=np.bool_)
    if len(pairs) == 0:
        return Check("duplicates", "duplicate timestamps", True, details={"identical": 0, "conflicting": 0}), \
            np.zeros(0, np.int64), conflicting
    a, b = order[pairs], order[pairs + 1]
    same = rows_equal(bars.table.take(a), bars.table.take(b), bars.table.column_names)
    clashing_times = np.unique(ts[pairs][~same])
    conflicting = np.isin(bars.ts, clashing_times)
    identical_extra = np.sort(b[same & ~np.isin(ts[pairs], clashing_times)])
    rows = [bars.row(int(i), kind="identical") for i in identical_extra]
    rows += [bars.row(int(i), kind="conflicting") for i in np.nonzero(conflicting)[0]]
    rows.sort(key=lambda r: (r["open_time"], r["index"]))
    check = Check(
        "duplicates", "duplicate timestamps", True, len(identical_extra) + int(conflicting.sum()) - len(clashing_times),
        rows, {"identical": len(identical_extra), "conflicting": len(clashing_times),
               "conflicting_rows": int(conflicting.sum())},
    )
    return check, identical_extra.astype(np.int64), conflicting


def _infer_step(unique: npt.NDArray[np.int64]) -> int | None:
    steps = np.diff(unique)
    return int(np.median(steps)) if len(steps) else None


def gaps(unique_times: npt.NDArray[np.int64], step: int) -> list[Interval]:
    """Intervals with no bar between sorted, distinct times further apart than ``step``."""
    holes = np.nonzero(np.diff(unique_times) > step)[0]
    return [Interval(int(unique_times[i] + step), int(unique_times[i + 1])) for i in holes]


def _check_gaps(unique: npt.NDArray[np.int64], step: int | None) -> Check:
    if step is None or step <= 0:
        return Check("gaps", "missing intervals", True, details={"skipped": "fewer than two distinct timestamps"})
    intervals = gaps(unique, step)
    rows: list[dict[str, Any]] = [
        {"start": iso(s), "end": iso(e), "start_ms": s, "end_ms": e, "bars": Interval(s, e).bars(step)}
        for s, e in intervals
    ]
    missing = sum(Interval(s, e).bars(step) for s, e in intervals)
    return Check("gaps", "missing intervals", True, missing, rows, {"intervals": len(rows)})


def _check_outliers(bars: _Bars, usable: npt.NDArray[np.bool_]) -> Check:
    """Close-to-close returns of the distinct, usable bars in time order against IQR fences."""
    _, first = np.unique(bars.ts, return_index=True)
    rows_in_time = first[usable[first] & (bars.c[first] > 0)]
    if len(rows_in_time) < 5:
        return Check("outliers", "return outliers (IQR × 1.5)", False, details={"skipped": "fewer than 4 returns"})
    closes = bars.c[rows_in_time]
    returns = closes[1:] / closes[:-1] - 1.0
    q1, q3 = np.percentile(returns, [25, 75])
    low, high = q1 - IQR_FACTOR * (q3 - q1), q3 + IQR_FACTOR * (q3 - q1)
    hits = np.nonzero((returns < low) | (returns > high))[0]
    rows = [bars.row(int(rows_in_time[k + 1]), ret=float(returns[k])) for k in hits]
    details = {"q1": float(q1), "q3": float(q3), "low_fence": float(low), "high_fence": float(high)}
    return Check("outliers", "return outliers (IQR × 1.5)", False, len(rows), rows, details)


def quality_score(bars: int, bad_rows: int, identical_extra: int, missing_bars: int) -> float:
    """The 0–100 score of the module documentation."""
    expected = bars + missing_bars
    if expected == 0:
        return 0.0
    penalty = bad_rows + 0.5 * identical_extra + missing_bars
    return max(0.0, math.floor(10_000 * (1.0 - penalty / expected)) / 100)


def validate_candles(table: pa.Table, timeframe: str | None = None, *, source: str = "") -> Report:
    """Runs every check on a candle table (time column and open, high, low, close, volume)."""
    time = time_column(table)
    ts = times_ms(table.column(time), time)
    o, h, low, c, v = (_values(table, name) for name in VALUE_COLUMNS)
    bars = _Bars(table, time, ts, o, h, low, c, v)
    finite_check, nonfinite = _check_finite(bars)
    ohlc_check, bad_ohlc = _check_ohlc(bars, ~nonfinite)
    volume_check, bad_volume = _check_volume(bars, ~nonfinite)
    order_check, bad_order = _check_order(bars)
    duplicates_check, identical_extra, conflicting = _check_duplicates(bars)
    unique = np.unique(ts)
    step = timeframe_ms(timeframe) if timeframe else _infer_step(unique)
    gaps_check = _check_gaps(unique, step)
    invalid = nonfinite | bad_ohlc | bad_volume
    outliers_check = _check_outliers(bars, ~bad_ohlc & np.isfinite(c))  # returns need only a trustworthy close
    bad = invalid | bad_order | conflicting
    score = quality_score(len(ts), int(bad.sum()), int((~bad[identical_extra]).sum()), gaps_check.count)
    return Report(
        source=source,
        bars=len(ts),
        first=int(unique[0]) if len(unique) else None,
        last=int(unique[-1]) if len(unique) else None,
        step_ms=step,
        step_inferred=timeframe is None,
        checks=[ohlc_check, volume_check, finite_check, order_check, duplicates_check, gaps_check, outliers_check],
        score=score,
        identical_rows=identical_extra,
        conflicting_rows=np.nonzero(conflicting)[0].astype(np.int64),
        invalid_rows=np.nonzero(invalid)[0].astype(np.int64),
    )


def validate_path(path: str | Path, timeframe: str | None = None) -> list[tuple[pa.Table, Report]]:
    """A candles file, or every candle partition of a store directory, with its report. A
    partition's timeframe comes from its directory name unless ``timeframe`` is given."""
    path = Path(path)
    if not path.is_dir():
        table = read_candle_file(path)
        return [(table, validate_candles(table, timeframe, source=str(path)))]
    partitions = candle_partitions(path)
    if not partitions:
        raise InvalidArgumentError(f"{path} holds no candle partitions (timeframe=… directories)", name="path")
    results = []
    for directory in partitions:
        table = read_partition(directory)
        tf = timeframe or directory.name.removeprefix("timeframe=")
        results.append((table, validate_candles(table, tf, source=str(directory))))
    return results


# ---- repair -------------------------------------------------------------------------------------


@dataclass
class Repair:
    """A repaired copy: the input's columns, sorted by time, without identical repeats and
    without bars it will not guess about (conflicting duplicates, invalid bars), and the
    intervals to fetch again (the gaps and the dropped bars)."""

    table: pa.Table
    dropped_identical: int
    dropped_conflicting: int
    dropped_invalid: int
    refetch: list[Interval]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bars": self.table.num_rows,
            "dropped_identical": self.dropped_identical,
            "dropped_conflicting": self.dropped_conflicting,
            "dropped_invalid": self.dropped_invalid,
            "refetch": [{"start": iso(s), "end": iso(e), "start_ms": s, "end_ms": e} for s, e in self.refetch],
        }


def repair(table: pa.Table, report: Report) -> Repair:
    """The repair of ``table`` that ``report`` (its validation) calls for. Never guesses: a bar
    that cannot be trusted is dropped and listed for re-fetching instead of being fixed up."""
    time = time_column(table)
    ts = times_ms(table.column(time), time)
    keep = np.ones(len(ts), dtype=np.bool_)
    keep[report.identical_rows] = False
    keep[report.conflicting_rows] = False
    duplicates_kept = keep.copy()
    keep[report.invalid_rows] = False
    kept = np.nonzero(keep)[0]
    kept = kept[np.argsort(ts[kept], kind="stable")]
    refetch: list[Interval] = []
    if report.step_ms and report.first is not None and report.last is not None:
        step = report.step_ms
        edges = np.unique(np.concatenate(([report.first - step], ts[kept], [report.last + step])))
        refetch = gaps(edges, step)
    return Repair(
        table.take(pa.array(kept)),
        dropped_identical=len(report.identical_rows),
        dropped_conflicting=len(report.conflicting_rows),
        dropped_invalid=int((duplicates_kept & ~keep).sum()),
        refetch=refetch,
    )


@dataclass
class Filled:
    """The table with fetched bars merged in, and what is still missing."""

    table: pa.Table
    fetched: int
    still_missing: list[Interval]


def fill_missing(table: pa.Table, missing: Sequence[Interval], fetch: Fetch, step_ms: int) -> Filled:
    """Calls ``fetch`` for each missing interval and merges what it returns (which must have the
    table's columns and lie inside the interval asked for) into the time-sorted table."""
    time = time_column(table)
    parts, fetched = [table], 0
    for interval in missing:
        got = _conform_fetched(fetch(interval.start, interval.end), table.schema)
        ts = times_ms(got.column(time), time)
        outside = np.nonzero((ts < interval.start) | (ts >= interval.end))[0]
        if len(outside):
            raise InvalidArgumentError(
                f"fetch({interval.start}, {interval.end}) returned a bar at {iso(int(ts[outside[0]]))}, outside "
                f"[{iso(interval.start)}, {iso(interval.end)})",
                name="fetch",
            )
        parts.append(got)
        fetched += got.num_rows
    merged = pa.concat_tables(parts).sort_by(time)
    present = np.unique(times_ms(merged.column(time), time))
    still = [hole for interval in missing for hole in _holes(present, interval, step_ms)]
    return Filled(merged, fetched, still)


def _holes(present: npt.NDArray[np.int64], interval: Interval, step: int) -> list[Interval]:
    inside = present[(present >= interval.start) & (present < interval.end)]
    return gaps(np.concatenate(([interval.start - step], inside, [interval.end])), step)


def _conform_fetched(got: pa.Table, schema: pa.Schema) -> pa.Table:
    absent = [name for name in schema.names if name not in got.column_names]
    if absent:
        raise SchemaError(f"fetched bars have no {absent[0]!r} column", column=absent[0])
    try:
        return got.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"fetched bars do not fit the table's columns: {exc}") from exc


def repaired_path(path: str | Path) -> Path:
    """Where ``--repair`` writes the copy: next to the input, ``NAME.repaired.parquet``."""
    path = Path(path)
    name = path.name
    for suffix in (".csv.gz", ".csv.bz2", ".csv", ".parquet", ".pq", ".gz"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(f"{name}.repaired.parquet")
