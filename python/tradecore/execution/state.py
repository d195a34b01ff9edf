"""The bot's state store: one SQLite file in WAL mode holding orders, fills, the portfolio, the
equity curve and a key-value ``meta`` table (engine cursor, risk engine state, run id, config
hash…), so a restarted bot resumes where it stopped.

The engine wraps the writes of one event in :meth:`StateStore.transaction`, which commits them
together or not at all — a crash leaves either the whole event or none of it. Equity points are
buffered and written in batches of ``equity_batch`` (with the next transaction that commits, or on
:meth:`flush`/:meth:`close`): a crash loses at most the last unwritten batch, which is a chart, not
state."""

from __future__ import annotations

import json
import sqlite3
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Order

def _column_type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    base = args[0]
    if base is float:
        return "REAL"
    if base in (int, bool):
        return "INTEGER"
    return "TEXT"


def _decoder(hint: Any) -> Any:
    """How to turn a stored value back into the field's type (None stays None)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    base = args[0]
    if isinstance(base, type) and issubclass(base, Enum):
        return base
    if base is bool:
        return bool
    if base is float:
        return float
    return None


class _Table:
    """A dataclass stored one field per column, keyed by its ``id``."""

    def __init__(self, name: str, cls: type[Order] | type[Fill]) -> None:
        hints = typing.get_type_hints(cls)
        self.name = name
        self.cls = cls
        self.columns = tuple(f.name for f in fields(cls))
        self.decoders = {c: _decoder(hints[c]) for c in self.columns}
        cols = ", ".join(f"{c} {_column_type(hints[c])}" + (" PRIMARY KEY" if c == "id" else "") for c in self.columns)
        self.create = f"CREATE TABLE IF NOT EXISTS {name} ({cols})"
        marks = ", ".join("?" for _ in self.columns)
        self.insert = f"INSERT INTO {name} ({', '.join(self.columns)}) VALUES ({marks})"
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c != "id")
        self.upsert = f"{self.insert} ON CONFLICT(id) DO UPDATE SET {updates}"  # keeps the rowid: load order
        self.select = f"SELECT {', '.join(self.columns)} FROM {name} ORDER BY rowid"

    def row(self, obj: Order | Fill) -> tuple[Any, ...]:
        values = (getattr(obj, c) for c in self.columns)
        return tuple(v.value if isinstance(v, Enum) else int(v) if isinstance(v, bool) else v for v in values)

    def decode(self, row: tuple[Any, ...]) -> Any:
        values = {}
        for column, value in zip(self.columns, row):
            decode = self.decoders[column]
            values[column] = value if value is None or decode is None else decode(value)
        return self.cls(**values)


_ORDERS = _Table("orders", Order)
_FILLS = _Table("fills", Fill)
_SCHEMA = (
    _ORDERS.create,
    _FILLS.create,
    "CREATE TABLE IF NOT EXISTS portfolio (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS equity (ts_ms INTEGER PRIMARY KEY, equity REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


@dataclass(slots=True, frozen=True)
class SavedState:
    """Everything committed: every order (submission order), every fill, the portfolio snapshot
    (None before the first one) and the meta values."""

    orders: list[Order]
    fills: list[Fill]
    portfolio: dict[str, Any] | None
    meta: dict[str, Any]

    @property
    def active_orders(self) -> list[Order]:
        return [o for o in self.orders if o.active]


class StateStore:
    def __init__(self, path: Path | str, *, equity_batch: int = 256) -> None:
        if equity_batch < 1:
            raise InvalidArgumentError(f"equity_batch must be >= 1, got {equity_batch}", name="equity_batch")
        self.path = Path(path)
        self._equity_batch = equity_batch
        self._equity: list[tuple[int, float]] = []
        self._depth = 0  # transaction nesting
        self._flushing = False
        # Autocommit mode: transactions are begun and ended here, explicitly.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise InvalidArgumentError(f"{self.path}: SQLite refused WAL mode (journal mode {mode!r})", name="path")
        # NORMAL, not FULL: in WAL mode NORMAL never corrupts the file and a committed event
        # survives any crash of the process (the kill test); only a power cut or an OS crash can
        # lose the last few commits, which leaves an older but consistent state. FULL would fsync
        # on every event and bound the bot's event rate by the disk's sync rate.
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction():
            for statement in _SCHEMA:
                self._db.execute(statement)

    # --- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Groups writes: all of them commit at the end of the outermost block, or none do if
        it raises. A nested block is a savepoint: if it raises, its writes alone are undone."""
        equity_mark = len(self._equity)
        if self._depth:
            name = f"sp{self._depth}"
            self._db.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._db.execute(f"ROLLBACK TO {name}")
                del self._equity[equity_mark:]
                raise
            finally:
                self._depth -= 1
                self._db.execute(f"RELEASE {name}")
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
            due = len(self._equity) if self._flushing or len(self._equity) >= self._equity_batch else 0
            self._write_equity(self._equity[:due])
            self._db.execute("COMMIT")
            del self._equity[:due]
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            del self._equity[equity_mark:]
            raise
        finally:
            self._depth = 0

    # --- writing -------------------------------------------------------------------------
    def save_order(self, order: Order) -> None:
        """Inserts or replaces the order (by id) with all its fields."""
        self._db.execute(_ORDERS.upsert, _ORDERS.row(order))

    def save_fill(self, fill: Fill) -> None:
        """Inserts the fill; a fill already stored (same id) is left as it is."""
        self._db.execute(_FILLS.insert.replace("INSERT", "INSERT OR IGNORE", 1), _FILLS.row(fill))

    def save_portfolio(self, state: dict[str, Any]) -> None:
        """Stores the portfolio snapshot (``Portfolio.to_state()``), replacing the previous one."""
        self._db.execute("INSERT OR REPLACE INTO portfolio (id, state) VALUES (1, ?)", (_dumps("portfolio", state),))

    def set_meta(self, key: str, value: Any) -> None:
        """Stores a JSON-able value under ``key``."""
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(key, value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def add_equity(self, ts_ms: int, equity: float) -> None:
        """Buffers one equity point (a later point at the same time replaces it)."""
        self._equity.append((int(ts_ms), float(equity)))
        if self._depth == 0 and len(self._equity) >= self._equity_batch:
            self.flush()

    def flush(self) -> None:
        """Writes the buffered equity points now (inside a transaction: when it commits)."""
        if self._depth or not self._equity:
            return
        self._flushing = True
        try:
            with self.transaction():
                pass  # the commit writes the whole buffer
        finally:
            self._flushing = False

    def _write_equity(self, points: list[tuple[int, float]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO equity (ts_ms, equity) VALUES (?, ?)", points)

    # --- reading -------------------------------------------------------------------------
    def load(self) -> SavedState:
        orders = [_ORDERS.decode(row) for row in self._db.execute(_ORDERS.select)]
        fills = [_FILLS.decode(row) for row in self._db.execute(_FILLS.select)]
        row = self._db.execute("SELECT state FROM portfolio WHERE id = 1").fetchone()
        meta = {key: json.loads(value) for key, value in self._db.execute("SELECT key, value FROM meta ORDER BY key")}
        return SavedState(orders, fills, None if row is None else json.loads(row[0]), meta)

    def equity_curve(self) -> list[tuple[int, float]]:
        """The equity points written so far and those still buffered, in time order."""
        self.flush()
        return [(int(t), float(e)) for t, e in self._db.execute("SELECT ts_ms, equity FROM equity ORDER BY ts_ms")]

    # --- closing -------------------------------------------------------------------------
    def close(self) -> None:
        if self._depth:
            raise InvalidArgumentError("close() inside a transaction", name="close")
        self.flush()
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None) -> None:
        self.close()


def _dumps(what: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{what}: not JSON-able: {exc}", name=what) from exc
