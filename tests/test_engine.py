"""The trading engine end to end, on the real market data shipped for the demo (always present:
it is part of the package).

- A paper run on the local exchange and a backtest over the same recording make the same fills.
- Appending future bars never changes a past decision; preloaded (backtest) and appended (live)
  bars give the same run.
- A bot killed mid-run and restarted from its state store ends exactly like an uninterrupted one.
- The kill switch, time exits and brackets do what they say.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tradecore import config as bot_config
from tradecore import demo
from tradecore.bot import backtest, build_engine, live_feed, read_candles
from tradecore.engine import Engine
from tradecore.execution.orders import OrderType, Side
from tradecore.sim import SimServer

def candles_config(candles: Path = demo.CANDLES, state: Path | None = None) -> str:
    """The demo's backtest (all seven strategies), optionally with a state store."""
    text = demo.BACKTEST_CONFIG.format(candles=candles.as_posix())
    return text.replace("[bot]\n", f'[bot]\nstate = "{state.as_posix()}"\n') if state else text


def fill_rows(fills: Any) -> list[tuple[Any, ...]]:
    return [(f.id, f.order_id, f.side, round(f.qty, 12), round(f.price, 9), f.ts_ms, f.reason) for f in fills]


def decision_rows(engine: Engine) -> list[tuple[Any, ...]]:
    return [(d.time_ms, d.signal.strategy, d.signal.side, d.approved, round(d.qty, 12), d.order_id) for d in engine.decisions]


# --- one engine for paper and backtest ----------------------------------------------------------
def paper_config(ws_url: str = "ws://127.0.0.1:1/stream", rest_url: str = "http://127.0.0.1:1") -> bot_config.BotConfig:
    return bot_config.parse(demo.PAPER_CONFIG.format(ws_url=ws_url, rest_url=rest_url))


def recording_config() -> bot_config.BotConfig:
    text = demo.PAPER_CONFIG.format(ws_url="ws://127.0.0.1:1/stream", rest_url="http://127.0.0.1:1")
    text = text.replace('source = "live"', f'source = "recording"\nrecording = "{demo.RECORDING.as_posix()}"')
    return bot_config.parse(text)


async def paper_run() -> Engine:
    async with SimServer(demo.RECORDING, speed=0) as server:
        config = paper_config(server.ws_url, server.rest_url)
        engine = build_engine(config, fills_from="book")
        feed, warm = live_feed(engine, config)
        assert warm is None
        running = asyncio.ensure_future(feed.run())
        await feed.connected.wait()
        await feed.quiet(0.8)
        feed.stop()
        await running
        assert feed.stats.resyncs == 0 and feed.stats.malformed == 0
        return engine


def test_a_paper_run_on_the_local_exchange_trades_exactly_like_the_backtest_of_its_recording() -> None:
    paper = asyncio.run(paper_run())
    replayed = backtest(recording_config()).engine
    assert len(paper.fills) >= 6, "the demo session should trade; without fills this test proves nothing"
    assert fill_rows(paper.fills) == fill_rows(replayed.fills)
    assert decision_rows(paper) == decision_rows(replayed)
    assert [(t.entry_ms, t.exit_ms, t.pnl) for t in paper.trades] == [(t.entry_ms, t.exit_ms, t.pnl) for t in replayed.trades]
    assert np.array_equal(paper.bars["BTCUSDT"]["1s"].close, replayed.bars["BTCUSDT"]["1s"].close)


# --- no look-ahead --------------------------------------------------------------------------------
def test_appending_future_bars_never_changes_a_past_decision(tmp_path: Path) -> None:
    cols = read_candles(demo.CANDLES)
    cut = 30_000
    short = tmp_path / "short.csv"
    _write_csv(short, {k: v[:cut] for k, v in cols.items()})
    full = backtest(bot_config.parse(candles_config())).engine
    part = backtest(bot_config.parse(candles_config(short))).engine
    end = int(cols["time"][cut - 1]) + 60_000
    before = [r for r in decision_rows(full) if r[0] <= end]
    assert len(before) >= 10, "too few decisions before the cut to prove anything"
    assert decision_rows(part) == before
    # Fills before the cut are the same too, except orders the shorter run cancelled at its end.
    assert fill_rows(part.fills) == [r for r in fill_rows(full.fills) if r[5] < end]


def test_preloaded_bars_and_bars_appended_live_make_the_same_run() -> None:
    config = bot_config.parse(candles_config())
    cols = read_candles(demo.CANDLES)
    n = 20_000
    preloaded = build_engine(config, fills_from="bars")
    preloaded.preload("BTCUSDT", {k: v[:n] for k, v in cols.items()})
    preloaded.run_preloaded()
    live = build_engine(config, fills_from="bars")
    for t, o, h, lo, c, v in zip(*(cols[k][:n].tolist() for k in ("time", "open", "high", "low", "close", "volume")), strict=True):
        live.on_bar("BTCUSDT", t, o, h, lo, c, v)
    assert len(preloaded.decisions) >= 5
    assert decision_rows(live) == decision_rows(preloaded)
    assert fill_rows(live.fills) == fill_rows(preloaded.fills)
    assert np.array_equal(live.curve.arrays()[1], preloaded.curve.arrays()[1])


def _write_csv(path: Path, cols: dict[str, np.ndarray]) -> None:
    with path.open("w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for row in zip(*(cols[k].tolist() for k in ("time", "open", "high", "low", "close", "volume")), strict=True):
            f.write(",".join(repr(x) for x in row) + "\n")


# --- killed and restarted ---------------------------------------------------------------------------
def _stored(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        fills = db.execute("SELECT id, order_id, side, qty, price, ts_ms FROM fills ORDER BY id").fetchall()
        orders = db.execute("SELECT id, status, filled_qty, avg_price FROM orders ORDER BY id").fetchall()
    finally:
        db.close()
    return fills, orders


def _count_fills(path: Path) -> int:
    try:
        db = sqlite3.connect(path, timeout=0.1)
        try:
            return int(db.execute("SELECT count(*) FROM fills").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _backtest_cli(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tradecore.cli", "backtest", "--config", str(config),
                             "--out", str(config.parent / "reports")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_bot_killed_mid_run_resumes_from_its_state_without_a_lost_or_duplicate_order(tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    (whole / "bot.toml").write_text(candles_config(state=whole / "state.sqlite"))
    (killed / "bot.toml").write_text(candles_config(state=killed / "state.sqlite"))
    assert _backtest_cli(whole / "bot.toml").wait(timeout=300) == 0

    expected_fills, expected_orders = _stored(whole / "state.sqlite")
    assert len(expected_fills) >= 10
    process = _backtest_cli(killed / "bot.toml")
    deadline = time.monotonic() + 120
    while _count_fills(killed / "state.sqlite") < len(expected_fills) // 2 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    interrupted, _ = _stored(killed / "state.sqlite")
    assert 0 < len(interrupted) < len(expected_fills)

    assert _backtest_cli(killed / "bot.toml").wait(timeout=300) == 0
    fills, orders = _stored(killed / "state.sqlite")
    assert len({f[0] for f in fills}) == len(fills), "a fill was stored twice"
    assert fills == expected_fills
    assert orders == expected_orders


# --- controls -------------------------------------------------------------------------------------
def _engine_after(bars: int) -> Engine:
    config = bot_config.parse(candles_config())
    engine = build_engine(config, fills_from="bars")
    cols = read_candles(demo.CANDLES)
    engine.preload("BTCUSDT", {k: v[:bars] for k, v in cols.items()})
    engine.run_preloaded()
    return engine


def test_entries_carry_their_stop_loss_and_take_profit_legs() -> None:
    engine = _engine_after(45_031)
    entries = {d.order_id for d in engine.decisions if d.approved}
    legs = [o for o in engine.broker.orders(active=False) if o.parent_id in entries]
    assert entries and legs
    by_reason = {o.reason for o in legs}
    assert {"stop-loss", "take-profit"} <= by_reason
    for leg in legs:
        assert leg.reduce_only and leg.oco_group == f"exit-{leg.parent_id}"
    stops = [o for o in legs if o.reason == "stop-loss"]
    assert all(o.type is OrderType.STOP for o in stops)


def test_the_kill_switch_cancels_orders_flattens_and_refuses_entries_until_rearmed() -> None:
    from tradecore.strategy.base import Signal

    engine = build_engine(bot_config.parse(candles_config()), fills_from="bars")
    cols = read_candles(demo.CANDLES)
    rows = list(zip(*(cols[k][:3000].tolist() for k in ("time", "open", "high", "low", "close", "volume")), strict=True))
    for row in rows[:-2]:
        engine.on_bar("BTCUSDT", *row)
    now = engine.now_ms
    engine.broker.submit(engine.broker.new_order("BTCUSDT", Side.BUY, OrderType.MARKET, 0.01, now, reason="manual"), now)
    resting = engine.broker.submit(engine.broker.new_order("BTCUSDT", Side.BUY, OrderType.LIMIT, 0.01, now,
                                                           price=1_000.0, reason="far below"), now)
    engine.on_bar("BTCUSDT", *rows[-2])
    assert engine.portfolio.position("BTCUSDT") is not None and resting.active

    engine.kill("test", flatten=True)
    assert engine.risk.killed and not resting.active
    assert [o.reason for o in engine.broker.orders()] == ["kill switch: test"]
    engine.on_bar("BTCUSDT", *rows[-1])
    assert engine.portfolio.position("BTCUSDT") is None

    price = rows[-1][4]
    entry = Signal("BTCUSDT", Side.BUY, "trend", 0.9, "test", stop=price * 0.98)
    refused = engine.risk.evaluate(entry, price=price, now_ms=engine.now_ms + 3_600_000, account=engine.account(), atr=None)
    assert not refused.approved and "kill" in refused.reason
    engine.rearm()
    assert engine.risk.evaluate(entry, price=price, now_ms=engine.now_ms + 3_600_000, account=engine.account(), atr=None).approved


# --- warm start -----------------------------------------------------------------------------------
def test_a_live_bot_warms_up_on_rest_history_then_trades_on_complete_live_bars(tmp_path: Path) -> None:
    from tradecore import candles
    from tradecore.bot import run_live

    async def go() -> Engine:
        async with SimServer(demo.RECORDING, speed=0) as server:
            config = bot_config.parse(
                f'[bot]\nsymbols = ["BTCUSDT"]\n[data]\nsource = "live"\nws_url = "{server.ws_url}"\n'
                f'rest_url = "{server.rest_url}"\nwarmup_days = 1\nhistory = "{(tmp_path / "history").as_posix()}"\n'
                "[strategies.trend]\n")
            engine = build_engine(config, fills_from="book")
            await run_live(engine, config, duration=6)
            return engine

    engine = asyncio.run(go())
    bars = engine.bars["BTCUSDT"]["1m"]
    reference = candles.from_recording(demo.RECORDING, ["1m"]).tables["1m"]
    want_time = np.asarray(reference.column("open_time").cast("int64").to_numpy())
    # History (the bar the feed joined in the middle of, whole from REST) and then every complete live bar.
    assert len(bars) >= 5
    assert list(bars.time) == list(want_time[: len(bars)])
    for column in ("open", "high", "low", "close", "volume"):
        assert np.allclose(np.asarray(getattr(bars, column)), reference.column(column).to_numpy()[: len(bars)]), column
    # The history bar built the series only; the engine's run (equity, decisions) starts with the live bars.
    assert engine.curve.arrays()[0][0] == int(want_time[1]) + 60_000
    from tradecore.data.store import Store

    stored = Store(tmp_path / "history").read_candles("binanceusdm", "BTC/USDT:USDT", "1m")
    assert stored.column("open_time").cast("int64").to_pylist()[-1] == int(want_time[0])
