"""A Parquet store for candles and trades: idempotent, crash-safe appends and pruned range reads.

Layout under the store's root (hive-style partition directories; names are percent-encoded, so a
ccxt symbol such as ``BTC/USDT:USDT`` becomes ``BTC%2FUSDT%3AUSDT``, which pyarrow decodes)::

    candles/venue=<venue>/symbol=<symbol>/timeframe=<tf>/part-<uuid>.parquet
    trades/venue=<venue>/symbol=<symbol>/day=<YYYY-MM-DD>/part-<uuid>.parquet

Times are int64 milliseconds since the epoch, UTC, stored as Arrow ``timestamp[ms, tz=UTC]`` so
the unit is part of the schema: a candle's ``open_time`` is the start of its bar (on the
timeframe's grid: multiples of the timeframe from the epoch, weeks from Monday 00:00 UTC), a
trade's ``ts`` is the exchange's trade time (every venue we parse sends milliseconds). The
schemas are :data:`CANDLE_SCHEMA` and :data:`TRADE_SCHEMA`; a table with an unknown column, a
missing required column or a column of another type is refused with :class:`SchemaError`.

Appends are idempotent. A candle is identified by its ``open_time``, a trade by its ``trade_id``
(trades are matched within the time span of the batch). Rows equal to stored ones are skipped, so
re-running a download gives the same store. A row that differs from the stored one:

- stored bar not closed (``closed`` false: the bar that was still forming when it was fetched):
  the new row replaces it;
- stored bar closed, new one not closed: the new row is an older view of that bar and is skipped
  (counted as ``stale``);
- both closed (and every trade): :class:`ConflictError` naming the first such bar; nothing is
  written. Closed bars are final: the store never rewrites them.

Crash safety: each append writes one new file under a hidden temporary name (readers and
pyarrow's dataset discovery skip names starting with ``.``), flushes it to disk and renames it
into place, which is the single commit point. When an append replaces bars (or a compaction
merges files) the new file lists the files it supersedes in its footer (``tradecore.replaces``);
readers ignore superseded files, which are deleted after the commit. A crash therefore leaves
either the old or the new content visible, never a mix, a duplicate or half a file. One writer
per store at a time; trades of several days commit day by day.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, unquote

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tradecore import candles
from tradecore.errors import ConflictError, InvalidArgumentError, SchemaError

TIME = pa.timestamp("ms", tz="UTC")

#: Candles at rest: the aggregator's columns (see :mod:`tradecore.candles`) plus ``closed``.
CANDLE_SCHEMA = pa.schema([*candles.SCHEMA, pa.field("closed", pa.bool_())])
#: Trades at rest; ``taker_buy`` is null when the venue does not say who was the aggressor.
TRADE_SCHEMA = pa.schema(
    [
        ("ts", TIME),
        ("trade_id", pa.string()),
        ("price", pa.float64()),
        ("qty", pa.float64()),
        ("taker_buy", pa.bool_()),
    ]
)

_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
DAY_MS = _MS["d"]
_MONDAY_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; weekly bars start on Mondays
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PART_GLOB = "part-*.parquet"
_TEMP_PREFIX = ".tmp-"
_REPLACES = b"tradecore.replaces"
_FIRST = b"tradecore.first"
_LAST = b"tradecore.last"

TimeLike = int | datetime


class Interval(NamedTuple):
    """A half-open time range ``[start, end)`` in ms UTC, e.g. the open times of missing bars."""

    start: int
    end: int

    def bars(self, step_ms: int) -> int:
        """How many bars of ``step_ms`` start inside the interval."""
        return -(-(self.end - self.start) // step_ms)


def timeframe_ms(timeframe: str) -> int:
    """The length of a timeframe such as ``1s``, ``5m``, ``4h``, ``1d`` or ``1w`` in ms."""
    match = re.fullmatch(r"([1-9][0-9]*)([smhdw])", timeframe)
    if match is None:
        raise InvalidArgumentError(
            f"bad timeframe {timeframe!r}: expected a count and a unit s, m, h, d or w (e.g. 1m, 4h, 1w)",
            name="timeframe",
        )
    return int(match.group(1)) * _MS[match.group(2)]


def grid_origin(timeframe: str) -> int:
    """Where a timeframe's grid starts: the epoch, or the first Monday for weekly bars."""
    return _MONDAY_MS if timeframe.endswith("w") else 0


def align_up(t: int, step: int, origin: int = 0) -> int:
    """The first grid time ``origin + k·step`` at or after ``t``."""
    return origin + -(-(t - origin) // step) * step


def missing_intervals(
    times: npt.ArrayLike, step: int, start: int, end: int, origin: int = 0
) -> list[Interval]:
    """The grid times in ``[start, end)`` that ``times`` (ms) does not cover, as intervals."""
    first, stop = align_up(start, step, origin), align_up(end, step, origin)
    present = np.unique(np.asarray(times, dtype=np.int64))
    present = present[(present >= first) & (present < stop) & ((present - origin) % step == 0)]
    edges = np.concatenate(([first - step], present, [stop]))
    holes = np.nonzero(np.diff(edges) > step)[0]
    return [Interval(int(edges[i] + step), int(edges[i + 1])) for i in holes]


def to_ms(value: TimeLike) -> int:
    """Epoch milliseconds from an int (already ms) or a timezone-aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidArgumentError(f"naive datetime {value}: give a timezone (UTC)", name="time")
        return (value - _EPOCH) // timedelta(milliseconds=1)
    return int(value)


def iso(ms: int) -> str:
    """``2022-01-01T00:00:00Z``-style text of a time in ms (milliseconds shown when not zero)."""
    text = (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


@dataclass(frozen=True)
class _Kind:
    name: str
    schema: pa.Schema
    time: str
    key: str
    required: tuple[str, ...]
    row_group_size: int
    final_flag: str | None = None  # the column that says a row can no longer change


CANDLES = _Kind(
    "candles", CANDLE_SCHEMA, "open_time", "open_time",
    ("open_time", "open", "high", "low", "close", "volume"), 16_384, final_flag="closed",
)
TRADES = _Kind("trades", TRADE_SCHEMA, "ts", "trade_id", ("ts", "trade_id", "price", "qty"), 131_072)


@dataclass
class AppendResult:
    """What an append did: rows ``written`` (new), ``unchanged`` (already stored, skipped),
    ``replaced`` (stored unclosed bars updated), ``stale`` (unclosed bars older than a stored
    closed bar, skipped) and the files committed."""

    written: int = 0
    unchanged: int = 0
    replaced: int = 0
    stale: int = 0
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series: candles of a venue/symbol/timeframe, or all trades of a venue/symbol."""

    kind: str
    venue: str
    symbol: str
    timeframe: str | None
    first: int
    last: int
    rows: int
    files: int


@dataclass(frozen=True)
class _FileInfo:
    path: Path
    rows: int
    first: int
    last: int
    replaces: tuple[str, ...]


@dataclass
class _Plan:
    directory: Path
    rows: pa.Table
    supersedes: list[_FileInfo]
    result: AppendResult


def conform(table: pa.Table, schema: pa.Schema, required: Sequence[str], *, not_null: Sequence[str]) -> pa.Table:
    """``table`` with ``schema``'s columns in its order, absent optional columns filled (nulls;
    ``closed`` true); refuses unknown, missing required or mistyped columns and nulls in
    ``not_null``."""
    names = set(schema.names)
    for name in table.column_names:
        if name not in names:
            raise SchemaError(f"unknown column {name!r}; the columns are {', '.join(schema.names)}", column=name)
    columns = []
    for f in schema:
        if f.name in table.column_names:
            actual = table.schema.field(f.name).type
            if actual != f.type:
                raise SchemaError(f"column {f.name!r} is {actual}, expected {f.type}", column=f.name)
            columns.append(table.column(f.name))
        elif f.name in required:
            raise SchemaError(f"missing column {f.name!r} (required: {', '.join(required)})", column=f.name)
        elif f.name == "closed":
            columns.append(pa.chunked_array([np.ones(table.num_rows, dtype=np.bool_)], pa.bool_()))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    out = pa.Table.from_arrays(columns, schema=schema)
    for name in not_null:
        nulls = out.column(name).null_count
        if nulls:
            raise SchemaError(f"column {name!r} has {nulls} null value(s); it may have none", column=name)
    return out


def rows_equal(a: pa.Table, b: pa.Table, columns: Iterable[str]) -> npt.NDArray[np.bool_]:
    """Row by row, whether ``a`` and ``b`` agree on ``columns`` (nulls equal nulls, NaN equals NaN)."""
    same = np.ones(a.num_rows, dtype=np.bool_)
    for name in columns:
        x, y = a.column(name), b.column(name)
        equal = pc.or_(pc.fill_null(pc.equal(x, y), False), pc.and_(pc.is_null(x), pc.is_null(y)))
        if pa.types.is_floating(x.type):
            equal = pc.or_(equal, pc.fill_null(pc.and_(pc.is_nan(x), pc.is_nan(y)), False))
        same &= equal.to_numpy(zero_copy_only=False)
    return same


def differing_columns(a: pa.Table, b: pa.Table, columns: Sequence[str]) -> tuple[str, ...]:
    """The columns in which the single rows ``a`` and ``b`` differ."""
    return tuple(name for name in columns if not rows_equal(a, b, [name])[0])


def _describe_key(kind: _Kind, value: object) -> str:
    if isinstance(value, datetime):
        return f"{kind.key} {iso(to_ms(value))}"
    return f"{kind.key} {value!r}"


def _key_value(value: object) -> int | str:
    return to_ms(value) if isinstance(value, datetime) else str(value)


def _name(value: str, what: str) -> str:
    """A venue or symbol as a directory name: percent-encoded, never empty or dots only."""
    if not value or set(value) <= {"."}:
        raise InvalidArgumentError(f"bad {what} {value!r}", name=what)
    return quote(value, safe="")


def _ms_column(table: pa.Table, name: str) -> npt.NDArray[np.int64]:
    return np.asarray(table.column(name).cast(pa.int64()).to_numpy(), dtype=np.int64)


class Store:
    """Candles and trades under one root directory (see the module documentation)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._infos: dict[Path, _FileInfo] = {}  # part files are immutable once committed

    # ---- candles ----------------------------------------------------------------------------

    def candle_dir(self, venue: str, symbol: str, timeframe: str) -> Path:
        timeframe_ms(timeframe)
        return (
            self.root / "candles" / f"venue={_name(venue, 'venue')}" / f"symbol={_name(symbol, 'symbol')}"
            / f"timeframe={timeframe}"
        )

    def append_candles(self, venue: str, symbol: str, timeframe: str, table: pa.Table) -> AppendResult:
        """Adds bars (any order, overlapping what is stored or not) under the conflict rule of the
        module documentation. Without a ``closed`` column every bar counts as closed."""
        directory = self.candle_dir(venue, symbol, timeframe)
        batch = self._batch(CANDLES, table)
        self._check_grid(batch, timeframe)
        plan = self._plan(CANDLES, directory, batch)
        self._commit(CANDLES, plan)
        return plan.result

    def read_candles(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Bars with ``start <= open_time < end``, sorted by time. Only files whose time span meets
        the range are opened, and within them row groups are pruned by their statistics."""
        files = self._live_files(self.candle_dir(venue, symbol, timeframe))
        return self._read(CANDLES, files, start, end, columns)

    def missing_candles(
        self, venue: str, symbol: str, timeframe: str, start: TimeLike, end: TimeLike
    ) -> list[Interval]:
        """The bars of ``[start, end)`` (open times on the timeframe's grid) not in the store: what
        a resumable download still has to fetch."""
        step, origin = timeframe_ms(timeframe), grid_origin(timeframe)
        times = self.read_candles(venue, symbol, timeframe, start, end, columns=["open_time"])
        return missing_intervals(_ms_column(times, "open_time"), step, to_ms(start), to_ms(end), origin)

    # ---- trades -----------------------------------------------------------------------------

    def trade_dir(self, venue: str, symbol: str) -> Path:
        return self.root / "trades" / f"venue={_name(venue, 'venue')}" / f"symbol={_name(symbol, 'symbol')}"

    def append_trades(self, venue: str, symbol: str, table: pa.Table) -> AppendResult:
        """Adds trades, one partition per UTC day; a trade already stored (same ``trade_id``) is
        skipped if equal and a :class:`ConflictError` if not (checked for every day before any
        day is written)."""
        batch = self._batch(TRADES, table)
        days = _ms_column(batch, "ts") // DAY_MS
        plans = []
        for day in np.unique(days):
            directory = self.trade_dir(venue, symbol) / f"day={date.fromordinal(719_163 + int(day))}"
            plans.append(self._plan(TRADES, directory, batch.filter(pa.array(days == day))))
        total = AppendResult()
        for plan in plans:
            self._commit(TRADES, plan)
            for name in ("written", "unchanged", "replaced", "stale"):
                setattr(total, name, getattr(total, name) + getattr(plan.result, name))
            total.files += plan.result.files
        return total

    def read_trades(
        self,
        venue: str,
        symbol: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Trades with ``start <= ts < end`` sorted by time (then trade id); only the days of the
        range are listed, only overlapping files opened."""
        lo = None if start is None else to_ms(start) // DAY_MS
        hi = None if end is None else (to_ms(end) - 1) // DAY_MS
        files = [
            info
            for day, directory in self._days(self.trade_dir(venue, symbol))
            if (lo is None or day >= lo) and (hi is None or day <= hi)
            for info in self._live_files(directory)
        ]
        return self._read(TRADES, files, start, end, columns)

    # ---- the whole store --------------------------------------------------------------------

    def inventory(self) -> list[SeriesInfo]:
        """What is stored: one entry per candle series and per trade series, from file footers."""
        found = []
        for directory in sorted(self.root.glob("candles/venue=*/symbol=*/timeframe=*")):
            timeframe = directory.name.removeprefix("timeframe=")
            found += _summary("candles", directory.parent, self._live_files(directory), timeframe)
        for directory in sorted(self.root.glob("trades/venue=*/symbol=*")):
            files = [info for _, day in self._days(directory) for info in self._live_files(day)]
            found += _summary("trades", directory, files, None)
        return found

    def compact(self) -> int:
        """Merges each partition's files into one (idempotent); returns how many partitions it
        merged. Readers see the old files or the merged one, never both."""
        merged = 0
        for directory in self._partitions():
            kind = CANDLES if directory.name.startswith("timeframe=") else TRADES
            self._remove_leftovers(directory)
            files = self._live_files(directory)
            if len(files) > 1:
                rows = self._read(kind, files, None, None, None)
                self._commit(kind, _Plan(directory, rows, files, AppendResult()))
                merged += 1
        return merged

    def _partitions(self) -> list[Path]:
        return sorted(
            [*self.root.glob("candles/venue=*/symbol=*/timeframe=*"), *self.root.glob("trades/venue=*/symbol=*/day=*")]
        )

    # ---- planning an append -----------------------------------------------------------------

    def _batch(self, kind: _Kind, table: pa.Table) -> pa.Table:
        """The incoming rows conformed, sorted, with exact repeats dropped; refuses two different
        rows for one key."""
        not_null = [kind.key] if kind.final_flag is None else [kind.key, kind.final_flag]
        batch = conform(table, kind.schema, kind.required, not_null=not_null).sort_by(_sort_keys(kind))
        if batch.num_rows < 2:
            return batch
        keys = batch.column(kind.key)
        repeat = pc.equal(keys.slice(1), keys.slice(0, batch.num_rows - 1)).to_numpy(zero_copy_only=False)
        if not repeat.any():
            return batch
        pairs = np.nonzero(repeat)[0]
        same = rows_equal(batch.take(pairs), batch.take(pairs + 1), kind.schema.names)
        if not same.all():
            first = int(pairs[~same][0])
            a, b = batch.slice(first, 1), batch.slice(first + 1, 1)
            key = keys[first].as_py()
            raise ConflictError(
                f"the {kind.name} to append have two different rows for {_describe_key(kind, key)} "
                f"(they differ in {', '.join(differing_columns(a, b, kind.schema.names))}); nothing was written",
                key=_key_value(key), columns=differing_columns(a, b, kind.schema.names), count=int((~same).sum()),
            )
        keep = np.ones(batch.num_rows, dtype=np.bool_)
        keep[pairs + 1] = False
        return batch.filter(pa.array(keep))

    def _check_grid(self, batch: pa.Table, timeframe: str) -> None:
        step, origin = timeframe_ms(timeframe), grid_origin(timeframe)
        times = _ms_column(batch, "open_time")
        off = np.nonzero((times - origin) % step)[0]
        if len(off):
            raise InvalidArgumentError(
                f"{len(off)} bar(s) are not on the {timeframe} grid, the first at {iso(int(times[off[0]]))}; "
                "nothing was written",
                name="open_time",
            )

    def _plan(self, kind: _Kind, directory: Path, batch: pa.Table) -> _Plan:
        """Decides what to write: new rows, and for replaced bars a merged file that supersedes the
        files holding them. Raises :class:`ConflictError` before anything is written."""
        result = AppendResult()
        if batch.num_rows == 0:
            return _Plan(directory, batch, [], result)
        times = _ms_column(batch, kind.time)
        overlapping = [f for f in self._live_files(directory) if f.first <= times[-1] and f.last >= times[0]]
        stored = self._stored_matches(kind, overlapping, batch, int(times[0]), int(times[-1]))
        at = pc.index_in(batch.column(kind.key), value_set=stored.column(kind.key))
        matched = pc.is_valid(at).to_numpy(zero_copy_only=False)
        if not matched.any():
            result.written = batch.num_rows
            return _Plan(directory, batch, [], result)
        mine = batch.filter(pa.array(matched))
        theirs = stored.take(pc.drop_null(at))
        decision = _decide(kind, mine, theirs)
        result.written = int((~matched).sum())
        result.unchanged = int((decision == _SKIP).sum())
        result.stale = int((decision == _STALE).sum())
        result.replaced = int((decision == _REPLACE).sum())
        new_rows = batch.filter(pa.array(~matched))
        if not result.replaced:
            return _Plan(directory, new_rows, [], result)
        replacements = mine.filter(pa.array(decision == _REPLACE))
        kept = self._read(kind, overlapping, None, None, None)
        kept = kept.filter(pc.invert(pc.is_in(kept.column(kind.key), value_set=replacements.column(kind.key))))
        merged = pa.concat_tables([kept, replacements, new_rows]).sort_by(_sort_keys(kind))
        return _Plan(directory, merged, overlapping, result)

    def _stored_matches(self, kind: _Kind, files: list[_FileInfo], batch: pa.Table, lo: int, hi: int) -> pa.Table:
        if not files:
            return kind.schema.empty_table()
        keys = batch.column(kind.key).combine_chunks()
        in_span = (ds.field(kind.time) >= pa.scalar(lo, TIME)) & (ds.field(kind.time) <= pa.scalar(hi, TIME))
        return _open(kind, files).to_table(filter=in_span & ds.field(kind.key).isin(keys))

    # ---- files --------------------------------------------------------------------------------

    def _commit(self, kind: _Kind, plan: _Plan) -> None:
        """Writes the plan's rows as one new file (temporary name, flushed, renamed: the commit),
        then deletes the files it supersedes."""
        if plan.rows.num_rows == 0 and not plan.supersedes:
            return
        directory = plan.directory
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers(directory)  # so no superseded file outlives the file naming it
        replaces = sorted(f.path.name for f in plan.supersedes)
        times = _ms_column(plan.rows, kind.time)
        metadata = {
            _REPLACES: json.dumps(replaces).encode(),
            _FIRST: str(int(times.min()) if len(times) else 0).encode(),
            _LAST: str(int(times.max()) if len(times) else -1).encode(),
        }
        target = directory / f"part-{uuid.uuid4().hex}.parquet"
        temp = directory / f"{_TEMP_PREFIX}{target.name}"
        try:
            _write_parquet(plan.rows.replace_schema_metadata(metadata), temp, kind.row_group_size)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _sync_directory(directory)
        plan.result.files.append(target)
        for name in replaces:  # already invisible; if this fails, the next write retries
            try:
                _remove(directory / name)
            except OSError:
                pass

    def _remove_leftovers(self, directory: Path) -> None:
        """Deletes temporary files of interrupted writes and files superseded by a commit whose
        clean-up was interrupted (one writer at a time, so no write is in progress)."""
        for temp in directory.glob(f"{_TEMP_PREFIX}*"):
            _remove(temp)
        for name in self._superseded_on_disk(directory):
            _remove(directory / name)

    def _superseded_on_disk(self, directory: Path) -> set[str]:
        infos = [self._info(p) for p in directory.glob(_PART_GLOB)]
        on_disk = {i.path.name for i in infos}
        return {name for i in infos for name in i.replaces if name in on_disk}

    def _live_files(self, directory: Path) -> list[_FileInfo]:
        infos = [self._info(p) for p in sorted(directory.glob(_PART_GLOB))]
        superseded = {name for info in infos for name in info.replaces}
        return [info for info in infos if info.path.name not in superseded]

    def _info(self, path: Path) -> _FileInfo:
        info = self._infos.get(path)
        if info is None:
            meta = pq.read_metadata(path)
            kv = meta.metadata or {}
            info = _FileInfo(
                path, meta.num_rows, int(kv[_FIRST]), int(kv[_LAST]), tuple(json.loads(kv[_REPLACES]))
            )
            self._infos[path] = info
        return info

    def _days(self, directory: Path) -> Iterator[tuple[int, Path]]:
        for day in sorted(directory.glob("day=*")):
            yield (date.fromisoformat(day.name[4:]) - date(1970, 1, 1)).days, day

    def _read(
        self,
        kind: _Kind,
        files: list[_FileInfo],
        start: TimeLike | None,
        end: TimeLike | None,
        columns: Sequence[str] | None,
    ) -> pa.Table:
        lo = None if start is None else to_ms(start)
        hi = None if end is None else to_ms(end)
        chosen = [f for f in files if (lo is None or f.last >= lo) and (hi is None or f.first < hi)]
        names = list(columns) if columns is not None else kind.schema.names
        if not chosen:
            return kind.schema.empty_table().select(names)
        condition = None
        if lo is not None:
            condition = ds.field(kind.time) >= pa.scalar(lo, TIME)
        if hi is not None:
            below = ds.field(kind.time) < pa.scalar(hi, TIME)
            condition = below if condition is None else condition & below
        table = _open(kind, chosen).to_table(columns=names, filter=condition)
        order = [k for k in _sort_keys(kind) if k[0] in names]
        return table.sort_by(order) if order else table


def _summary(kind: str, symbol_dir: Path, files: list[_FileInfo], timeframe: str | None) -> list[SeriesInfo]:
    files = [f for f in files if f.rows]
    if not files:
        return []
    return [
        SeriesInfo(
            kind,
            venue=unquote(symbol_dir.parent.name.removeprefix("venue=")),
            symbol=unquote(symbol_dir.name.removeprefix("symbol=")),
            timeframe=timeframe,
            first=min(f.first for f in files),
            last=max(f.last for f in files),
            rows=sum(f.rows for f in files),
            files=len(files),
        )
    ]


_SKIP, _REPLACE, _STALE, _CONFLICT = 0, 1, 2, 3


def _decide(kind: _Kind, mine: pa.Table, theirs: pa.Table) -> npt.NDArray[np.int8]:
    """For incoming rows that match stored ones (aligned): skip, replace, stale, or raise."""
    values = [n for n in kind.schema.names if n != kind.final_flag]
    same = rows_equal(mine, theirs, values)
    if kind.final_flag is None:
        stored_final = new_final = np.ones(mine.num_rows, dtype=np.bool_)
    else:
        stored_final = theirs.column(kind.final_flag).to_numpy(zero_copy_only=False).astype(np.bool_)
        new_final = mine.column(kind.final_flag).to_numpy(zero_copy_only=False).astype(np.bool_)
    decision = np.full(mine.num_rows, _SKIP, dtype=np.int8)
    decision[~stored_final & (~same | new_final)] = _REPLACE
    decision[stored_final & ~same & ~new_final] = _STALE
    decision[stored_final & ~same & new_final] = _CONFLICT
    conflicts = np.nonzero(decision == _CONFLICT)[0]
    if len(conflicts):
        i = int(conflicts[0])
        a, b = theirs.slice(i, 1), mine.slice(i, 1)
        differ = differing_columns(a, b, values)
        key = mine.column(kind.key)[i].as_py()
        shown = "; ".join(f"{c} stored {a.column(c)[0].as_py()!r}, new {b.column(c)[0].as_py()!r}" for c in differ)
        raise ConflictError(
            f"{len(conflicts)} {kind.name} row(s) differ from stored closed ones, the first at "
            f"{_describe_key(kind, key)}: {shown}; nothing was written",
            key=_key_value(key), columns=differ, count=len(conflicts),
        )
    return decision


def _sort_keys(kind: _Kind) -> list[tuple[str, str]]:
    keys = [(kind.time, "ascending")]
    return keys if kind.key == kind.time else [*keys, (kind.key, "ascending")]


def _open(kind: _Kind, files: list[_FileInfo]) -> ds.Dataset:
    return ds.dataset([str(f.path) for f in files], schema=kind.schema, format="parquet")


def _write_parquet(table: pa.Table, path: Path, row_group_size: int) -> None:
    pq.write_table(table, path, row_group_size=row_group_size)
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _sync_directory(directory: Path) -> None:
    """Makes the rename durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_partition(directory: str | Path) -> pa.Table:
    """All rows of one store partition directory (``timeframe=…`` or ``day=…``), sorted by time."""
    directory = Path(directory)
    kind = TRADES if directory.name.startswith("day=") else CANDLES
    store = Store(directory)
    return store._read(kind, store._live_files(directory), None, None, None)


def candle_partitions(path: str | Path) -> list[Path]:
    """The candle partition directories at or under ``path``."""
    path = Path(path)
    if path.name.startswith("timeframe="):
        return [path]
    return sorted(p for p in path.rglob("timeframe=*") if p.is_dir())
