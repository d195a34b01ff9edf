"""The state store: every field round-trips, transactions are all-or-nothing (also when the
writing process is killed mid-stream), reopening gives the same state, WAL is on."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.portfolio import Portfolio
from tradecore.execution.state import StateStore

FULL_ORDER = Order(
    id="o-1",
    symbol="ETHUSDT",
    side=Side.SELL,
    type=OrderType.TRAILING_STOP,
    qty=1.25,
    created_ms=1_700_000_000_123,
    price=2500.5,
    stop_price=2400.25,
    trail=0.015,
    activation_price=2600.75,
    tif=TimeInForce.GTD,
    expire_ms=1_700_000_900_000,
    reduce_only=True,
    oco_group="bracket-7",
    parent_id="o-0",
    strategy="trend",
    reason="stop-loss",
    status=OrderStatus.PARTIALLY_FILLED,
    filled_qty=0.5,
    avg_price=2401.125,
    fees=0.2401125,
    updated_ms=1_700_000_000_456,
    note="stop 2400.25 triggered at 2399",
)
FULL_FILL = Fill("f-9", "o-1", "ETHUSDT", Side.SELL, 0.5, 2401.125, 0.2401125, Liquidity.MAKER, 1_700_000_000_456, "stop-loss")


def test_every_field_round_trips(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "bot.db")
    plain = Order("o-2", "BTCUSDT", Side.BUY, OrderType.MARKET, 2, 5)  # the None and False defaults
    portfolio = Portfolio(1000.0)
    portfolio.apply(FULL_FILL, strategy="trend")
    with store.transaction():
        store.save_order(FULL_ORDER)
        store.save_order(plain)
        store.save_fill(FULL_FILL)
        store.save_portfolio(portfolio.to_state())
        store.set_meta("cursor", 1_700_000_000_456)
        store.set_meta("risk", {"halted": False, "day_start_equity": 1000.5, "losses": [1, 2]})
    state = store.load()
    assert state.orders == [FULL_ORDER, plain]
    assert [type(getattr(state.orders[0], f)) for f in ("side", "type", "tif", "status", "reduce_only")] == [
        Side, OrderType, TimeInForce, OrderStatus, bool,
    ]
    assert state.fills == [FULL_FILL]
    assert state.portfolio == portfolio.to_state()
    assert Portfolio.from_state(state.portfolio).equity() == portfolio.equity()
    assert state.meta == {"cursor": 1_700_000_000_456, "risk": {"halted": False, "day_start_equity": 1000.5, "losses": [1, 2]}}
    assert store.get_meta("cursor") == 1_700_000_000_456 and store.get_meta("nope", 7) == 7
    assert state.active_orders == [FULL_ORDER, plain]


def test_orders_upsert_in_place_and_fills_are_idempotent(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "bot.db")
    a, b = replace(FULL_ORDER, id="a"), replace(FULL_ORDER, id="b")
    store.save_order(a)
    store.save_order(b)
    done = replace(a, status=OrderStatus.FILLED, filled_qty=1.25, note="")
    store.save_order(done)
    store.save_fill(FULL_FILL)
    store.save_fill(replace(FULL_FILL, price=1.0))  # a replay of the same fill id
    state = store.load()
    assert state.orders == [done, b]  # still in submission order
    assert state.fills == [FULL_FILL]
    assert state.active_orders == [b]


def test_a_transaction_that_raises_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "bot.db", equity_batch=1)
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.save_order(FULL_ORDER)
            store.save_fill(FULL_FILL)
            store.save_portfolio({"cash": 1})
            store.set_meta("cursor", 5)
            store.add_equity(5, 1000.0)
            raise RuntimeError("boom")
    state = store.load()
    assert (state.orders, state.fills, state.portfolio, state.meta) == ([], [], None, {})
    assert store.equity_curve() == []


def test_a_nested_block_that_raises_undoes_only_its_own_writes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "bot.db")
    with store.transaction():
        store.set_meta("outer", 1)
        with pytest.raises(ValueError):
            with store.transaction():
                store.set_meta("inner", 2)
                raise ValueError
        store.set_meta("after", 3)
    assert store.load().meta == {"outer": 1, "after": 3}


def test_reopening_gives_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with StateStore(path, equity_batch=100) as store:
        store.save_order(FULL_ORDER)
        store.save_fill(FULL_FILL)
        store.set_meta("run_id", "r-1")
        for t in range(5):
            store.add_equity(t * 1000, 1000.0 + t)
        before = store.load()
    # close() wrote the buffered equity points
    with StateStore(path) as again:
        assert again.load() == before
        assert again.equity_curve() == [(t * 1000, 1000.0 + t) for t in range(5)]


def test_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = StateStore(path)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_equity_points_are_written_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = StateStore(path, equity_batch=3)

    def on_disk() -> int:
        return int(sqlite3.connect(path).execute("SELECT count(*) FROM equity").fetchone()[0])

    store.add_equity(1, 10.0)
    store.add_equity(2, 11.0)
    assert on_disk() == 0
    with store.transaction():
        store.add_equity(3, 12.0)
        assert on_disk() == 0
    assert on_disk() == 3  # the batch went with the commit
    store.add_equity(4, 13.0)
    store.flush()
    assert on_disk() == 4 and store.equity_curve() == [(1, 10.0), (2, 11.0), (3, 12.0), (4, 13.0)]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        StateStore(tmp_path / "a.db", equity_batch=0)
    assert err.value.name == "equity_batch"
    store = StateStore(tmp_path / "b.db")
    with pytest.raises(InvalidArgumentError, match="not JSON-able"):
        store.set_meta("risk", {"x": float("nan")})
    with pytest.raises(InvalidArgumentError, match="not JSON-able"):
        store.save_portfolio({"x": object()})
    assert store.load().meta == {} and store.load().portfolio is None


CHILD = """
import sys, time
from tradecore.execution.orders import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from tradecore.execution.state import StateStore

store = StateStore(sys.argv[1])
for i in range(1000):
    with store.transaction():
        store.save_order(Order(f"o{i}", "BTC", Side.BUY, OrderType.MARKET, 1.0, i,
                               status=OrderStatus.FILLED, filled_qty=1.0, avg_price=100.0 + i, updated_ms=i))
        if i == 200:  # hold the event half written until the parent kills us
            print("half", flush=True)
            time.sleep(60)
        store.save_fill(Fill(f"f{i}", f"o{i}", "BTC", Side.BUY, 1.0, 100.0 + i, 0.1, Liquidity.TAKER, i))
        store.set_meta("cursor", i)
    print(i, flush=True)
"""


def test_a_writer_killed_mid_stream_leaves_only_whole_events(tmp_path: Path) -> None:
    """The child commits events 0–199 (order, fill and cursor each), then is SIGKILLed with event
    200 half written: the reopened store has exactly the 200 whole events."""
    path = tmp_path / "bot.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line.strip())
            if lines[-1] == "half":
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert lines == [str(i) for i in range(200)] + ["half"]
    assert Path(f"{path}-wal").stat().st_size > 0  # the commits are in the log: reopening must recover them

    state = StateStore(path).load()
    assert state.meta == {"cursor": 199}
    assert [o.id for o in state.orders] == [f"o{i}" for i in range(200)]
    assert [f.id for f in state.fills] == [f"f{i}" for i in range(200)]
    for order, fill in zip(state.orders, state.fills):
        assert (fill.order_id, fill.price, fill.ts_ms) == (order.id, order.avg_price, order.updated_ms)
