"""Replaying a recording through an :class:`~tradecore.OrderBook`, one row per depth message."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from tradecore import recording
from tradecore._core import STATUSES, OrderBook
from tradecore.errors import MessageError, RecordingError, WrongVenueError

#: Columns of a replay table: receive time (ns, null for bare lines), the message's update id, what
#: the book did with it, and the top of book afterwards (null while unsynced or a side is empty).
SCHEMA = pa.schema(
    [
        ("recv_ts_ns", pa.int64()),
        ("update_id", pa.uint64()),
        ("status", pa.dictionary(pa.int8(), pa.string())),
        ("bid_px", pa.float64()),
        ("bid_qty", pa.float64()),
        ("ask_px", pa.float64()),
        ("ask_qty", pa.float64()),
        ("line", pa.uint64()),
    ]
)

_NO_TS = np.iinfo(np.int64).min
_STATUS_DICTIONARY = pa.array(STATUSES, pa.string())


@dataclass
class BookReplay:
    """The outcome of replaying a recording."""

    table: pa.Table
    book: OrderBook
    statuses: dict[str, int]
    level_updates: int
    error_count: int
    errors: list[MessageError] = field(default_factory=list)
    other_symbols: int = 0
    seconds: float = 0.0

    @property
    def problem(self) -> str | None:
        """Why the final book cannot be trusted, or None when it can."""
        if self.book.synced:
            return None
        if self.statuses.get("snapshot", 0) == 0:
            return "the recording has no usable depth snapshot, so the book never synced"
        return f"the book ended out of sync: {self.book.reason}"


def _table(rows: dict[str, np.ndarray]) -> pa.Table:
    def masked(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=np.isnan(values))

    ts = rows["recv_ts_ns"]
    status = pa.DictionaryArray.from_arrays(pa.array(rows["status"].astype(np.int8)), _STATUS_DICTIONARY)
    return pa.Table.from_arrays(
        [
            pa.array(ts, mask=ts == _NO_TS),
            pa.array(rows["update_id"]),
            status,
            masked(rows["bid_px"]),
            masked(rows["bid_qty"]),
            masked(rows["ask_px"]),
            masked(rows["ask_qty"]),
            pa.array(rows["line"]),
        ],
        schema=SCHEMA,
    )


def replay_recording(
    path: str | Path,
    venue: str,
    symbol: str | None = None,
    *,
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> BookReplay:
    """Replays the depth messages of a recording through a fresh book.

    ``symbol`` defaults to the symbol of the first depth message; depth messages of other
    symbols are skipped and counted. Bad lines are counted and the first ones kept as exception
    objects in ``errors`` (``strict=True`` raises at the first one instead).
    """
    start = time.perf_counter()
    book: OrderBook | None = OrderBook(venue, symbol) if symbol else None
    waiting: list[recording.Chunk] = []
    tables: list[pa.Table] = []
    error_count = 0
    errors: list[MessageError] = []
    other_symbols = 0
    levels = 0

    def run(book: OrderBook, chunk: recording.Chunk) -> None:
        nonlocal error_count, other_symbols, levels
        rows, bad, first_errors = book.replay(
            chunk.data, first_line=chunk.first_line, strict=strict, skip_other_symbols=True
        )
        for error in first_errors:
            if isinstance(error, WrongVenueError):
                # Systematic, not a corrupt line: the recording is of another venue or market.
                raise RecordingError(f"{path}: line {error.line}: {error} (is the venue right?)")
        other_symbols += int(rows.pop("other_symbols"))
        levels += int(rows["levels"].sum())
        tables.append(_table(rows))
        error_count += bad
        errors.extend(first_errors[: max(0, recording.ERROR_DETAILS - len(errors))])

    for chunk in recording.chunks(path, on_progress=on_progress):
        if book is None:
            found = OrderBook.sniff_symbol(venue, chunk.data)
            waiting.append(chunk)
            if found is None:
                continue
            book = OrderBook(venue, found)
            for held in waiting:
                run(book, held)
            waiting.clear()
            continue
        run(book, chunk)
    if book is None:
        raise RecordingError(f"{path}: no depth message of {venue} found, so there is no book to replay (is the venue right?)")
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    stats = book.stats()
    statuses = {name: int(stats[name]) for name in STATUSES}
    return BookReplay(
        table=table,
        book=book,
        statuses=statuses,
        level_updates=levels,
        error_count=error_count,
        errors=errors,
        other_symbols=other_symbols,
        seconds=time.perf_counter() - start,
    )
