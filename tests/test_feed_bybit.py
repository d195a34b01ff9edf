"""Bybit live feeds against the local exchange: bars stay whole through disconnects although
Bybit's trade ids are no sequence. After a disconnect the new connection's trades are held until
REST ``recent-trade`` fills the gap before them; a window too short to reach back is counted.

The book is the real Bybit recording; the trades are SYNTHETIC (see ``bybit_trades``). The oracle
for the bars is every generated trade aggregated by :class:`CandleAggregator`, closed as the feed
closes them (by the last book message's time, 1 s late); for the book, a replay of the file."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pytest

from bybit_trades import Recording, write_recording
from conftest import BYBIT_FILE, data_file
from tradecore import Candle, CandleAggregator, OrderBook
from tradecore import book as book_replay
from tradecore.data.feed import Backoff, Limits, LiveFeed
from tradecore.sim import FaultPlan, SimServer
from tradecore.sim.wire import Connection

T = TypeVar("T")
TIMEFRAMES = ["1m", "5m"]
FAST = Backoff(first=0.05, most=0.2)
SYMBOL = "XRPUSDT"
#: Replay pace on a shared market clock: the recording's 6 minutes in 6 s.
SPEED = 60


def run(factory: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    out = tmp_path_factory.mktemp("bybit") / "bybit_xrpusdt_synthetic_trades.txt"
    return write_recording(data_file(BYBIT_FILE), out)


def reference(rec: Recording) -> list[Candle]:
    agg = CandleAggregator(TIMEFRAMES)
    closed: list[Candle] = []
    for message in rec.trade_messages:
        closed += agg.push_message(message)
    closed += agg.advance(rec.last_book_ts - 1_000)
    return sorted(closed, key=lambda c: (c.timeframe, c.open_time))


def closed_candles(taken: list[tuple[str, Candle]]) -> list[Candle]:
    return sorted((c for _, c in taken), key=lambda c: (c.timeframe, c.open_time))


def key(c: Candle) -> tuple[Any, ...]:
    """Everything exact: whole-coin sizes sum exactly in any order."""
    return (c.timeframe, c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades, c.taker_buy_volume)


def assert_same_bars(got: list[Candle], want: list[Candle]) -> None:
    """Equal bars; quote volumes (sums of price x size) to the last bits only, as a reordered
    frame adds them in another order."""
    assert [key(c) for c in got] == [key(c) for c in want]
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g.quote_volume, w.quote_volume, rel_tol=1e-12)
        assert math.isclose(g.taker_buy_quote_volume, w.taker_buy_quote_volume, rel_tol=1e-12)


def same_book(a: OrderBook, b: OrderBook, levels: int = 100) -> bool:
    (ab, aa), (bb, ba) = a.top(levels), b.top(levels)
    return a.last_update_id == b.last_update_id and np.array_equal(ab, bb) and np.array_equal(aa, ba)


@dataclass(frozen=True)
class Pause(Backoff):
    """Reconnects after a fixed pause (the market goes on meanwhile)."""

    seconds: float = 1.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return self.seconds


async def live(rec: Recording, faults: FaultPlan | list[str] | None = None, *, limits: Limits = Limits(),
               backoff: Backoff = FAST, during: Callable[[LiveFeed, SimServer], Awaitable[None]] | None = None,
               **server_options: Any) -> tuple[LiveFeed, dict[str, int]]:
    """A live Bybit feed against the local exchange serving ``rec`` until the replay is consumed."""
    options = {"speed": 0, **server_options}
    plan = faults if isinstance(faults, FaultPlan) else FaultPlan(faults or [])
    async with SimServer(rec.path, faults=plan, **options) as server:
        feed = LiveFeed("bybit", [SYMBOL], ws_url=server.ws_url, rest_url=server.rest_url, timeframes=TIMEFRAMES,
                        limits=limits, backoff=backoff, seed=7)
        task = asyncio.ensure_future(feed.run())
        await feed.connected.wait()
        if during is not None:
            await during(feed, server)
        await feed.quiet(0.8)
        feed.stop()
        await task
        return feed, server.injected


def trades_in(rec: Recording, points: range) -> int:
    return sum(len(json.loads(rec.messages[p])["data"]) for p in points if rec.is_trade[p])


def test_a_clean_run_closes_the_bars_of_every_trade_and_ends_with_the_recorded_book(recording: Recording) -> None:
    feed, injected = run(lambda: live(recording))
    want = reference(recording)
    assert len(want) >= 7
    # Nothing was reordered: the bars are equal to the last bit.
    assert closed_candles(feed.candles) == want
    figures = feed.health()[SYMBOL].figures
    assert figures["trades"] == len(recording.trades)
    assert (figures["trades_duplicated"], figures["unfilled_gaps"], figures["trades_held"]) == (0, 0, 0)
    assert feed.stats.backfills == 0 and feed.stats.reconnects == 0 and feed.stats.refused == 0
    assert feed.stats.malformed == 0 and injected == {}
    # The book: as a replay of the written file, and of the original recording (only times differ).
    assert same_book(feed.book(SYMBOL), book_replay.replay_recording(recording.path, "bybit").book)
    assert same_book(feed.book(SYMBOL), book_replay.replay_recording(data_file(BYBIT_FILE), "bybit").book)


# -- faults on a running market (shared clock): each disconnect is completed from REST ---------


async def the_connection(server: SimServer, *, after: int = 0) -> Connection:
    """The open connection numbered above ``after``, once it has both topics and is streaming."""
    while True:
        for conn in server.connections.values():
            if conn.id > after and len(conn.subscriptions) == 2 and conn.faults.sent > 0:
                return conn
        await asyncio.sleep(0.01)


def number(conn: Connection, point: int) -> int:
    """The message number (for a fault) at which ``conn`` will send timeline point ``point``: it
    sends every point in order (both topics are subscribed), and it has sent ``faults.sent``
    messages up to ``conn.point``. Read between two sends, so the two agree."""
    assert point > conn.point
    return conn.faults.sent + point - conn.point


def next_trades(rec: Recording, start: int, run_length: int, *, same_minute: bool = False) -> int:
    """The first point at or after ``start`` beginning ``run_length`` trade messages in a row
    (optionally all in one minute, well inside it)."""
    for p in range(start, len(rec.messages) - run_length):
        points = range(p, p + run_length)
        if not all(rec.is_trade[q] for q in points):
            continue
        if same_minute:
            times = [rec.times[q] for q in points]
            if {t // 60_000 for t in times} != {times[0] // 60_000} or not 5_000 < times[0] % 60_000 < 55_000:
                continue
        return p
    raise AssertionError("no such run of trade messages")


def end_of_a_minute(rec: Recording, start: int) -> int:
    """The first point at or after ``start`` beginning the last three messages of a minute, a
    trade among them: a connection dropped right after them comes back in the next minute."""
    for p in range(start, len(rec.messages) - 3):
        if rec.times[p + 2] // 60_000 != rec.times[p + 3] // 60_000 and any(rec.is_trade[p : p + 3]):
            return p
    raise AssertionError("no minute ends after that point")


def test_disconnects_duplicates_and_reorders_on_a_running_market(recording: Recording,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Each disconnect loses the frames in flight (``drop``: the last of a minute) and whatever the
    market sends while the feed reconnects; REST fills both. Faults are placed on each connection
    as it runs, at points of the recording chosen for what they hold."""
    rec = recording
    lost_in_flight: list[int] = []

    def drop_connection_ahead(conn: Connection, at: int) -> None:
        # The trades lost belong to a minute that the next connection's first trade would close,
        # were it not held until REST brings them.
        p = end_of_a_minute(rec, at)
        lost_in_flight.append(trades_in(rec, range(p, p + 3)))
        plan.add(f"drop@{number(conn, p)}x3")
        plan.add(f"drop-connection@{number(conn, p + 2)}")

    async def faults(feed: LiveFeed, server: SimServer) -> None:
        first = await the_connection(server)
        ahead = first.point + 40
        plan.add(f"duplicate@{number(first, next_trades(rec, ahead, 3))}x3")
        plan.add(f"reorder@{number(first, next_trades(rec, ahead + 20, 2, same_minute=True))}")
        drop_connection_ahead(first, ahead + 60)
        while feed.stats.backfills < 1:
            await asyncio.sleep(0.02)
        second = await the_connection(server, after=first.id)
        drop_connection_ahead(second, second.point + 60)
        while feed.stats.backfills < 2:
            await asyncio.sleep(0.02)

    plan = FaultPlan()
    with caplog.at_level(logging.INFO, logger="tradecore.feed"):
        feed, injected = run(lambda: live(rec, clock="shared", speed=SPEED, during=faults, faults=plan))
    assert injected == {"duplicate": 3, "reorder": 1, "drop": 6, "drop-connection": 2}
    assert feed.stats.reconnects == 2 and feed.stats.connections == 3
    figures = feed.health()[SYMBOL].figures
    # One backfill per disconnect, each reaching back over the last trade released.
    assert feed.stats.backfills == 2 and figures["trade_holes"] == 2
    assert figures["unfilled_gaps"] == 0 and feed.stats.trades_given_up == 0
    assert figures["trades_backfilled"] >= sum(lost_in_flight) > 0
    assert figures["trades_duplicated"] >= 3, "the duplicated frames' trades were dropped"
    assert sum("recovered from REST" in r.message for r in caplog.records) == 2
    # Every trade counted once, and every closed bar equals the reference.
    assert figures["trades"] == len(rec.trades)
    assert_same_bars(closed_candles(feed.candles), reference(rec))
    assert same_book(feed.book(SYMBOL), book_replay.replay_recording(rec.path, "bybit").book)
    # (The recording's 2024 times are far from the receive clock: that skew is the only problem.)
    assert [p for p in feed.health()[SYMBOL].problems if not p.startswith("clock skew")] == []


def test_a_gap_longer_than_the_rest_window_is_counted_not_hidden(recording: Recording) -> None:
    """Away for a second (a minute of market) with backfills of only 20 trades: the window cannot
    reach back to the disconnect. The gap is closed with what there is, counted and reported;
    nothing is counted twice and the bars before the disconnect are untouched."""
    rec = recording
    want = reference(rec)
    dropped_at: list[int] = []

    async def drop(feed: LiveFeed, server: SimServer) -> None:
        conn = await the_connection(server)
        while conn.point < len(rec.messages) // 3:
            await asyncio.sleep(0.01)
        dropped_at.append(int(feed.core.health(SYMBOL)["trades"]))
        await feed.drop_connection()
        while feed.stats.backfills < 1:
            await asyncio.sleep(0.02)

    feed, _ = run(lambda: live(rec, clock="shared", speed=SPEED, during=drop, backoff=Pause(seconds=1.0),
                               limits=Limits(recent_trades=20)))
    health = feed.health()[SYMBOL]
    figures = health.figures
    assert feed.stats.reconnects == 1 and feed.stats.backfills == 1
    assert figures["unfilled_gaps"] == 1
    assert any("REST could not fill" in p for p in health.problems)
    # Trades were missed (a minute of market), none counted twice.
    assert dropped_at[0] < figures["trades"] < len(rec.trades)
    got = closed_candles(feed.candles)
    by_key = {(c.timeframe, c.open_time): c for c in want}
    assert all(c.trades <= by_key[(c.timeframe, c.open_time)].trades for c in got)
    # Bars that closed before the disconnect are the reference's.
    before = [c for c in got if c.timeframe == "1m" and c.open_time + 60_000 <= rec_time_of_trade(rec, dropped_at[0])]
    assert before and before == [c for c in want if c.timeframe == "1m"][: len(before)]


def rec_time_of_trade(rec: Recording, count: int) -> int:
    """Exchange time of the ``count``-th trade (1-based)."""
    return int(rec.trades[count - 1]["T"])


# -- a local exchange that replays each connection from the start: the stream closes its gap ----


def test_a_replaying_connection_closes_its_own_gap_without_rest(recording: Recording) -> None:
    """The local exchange's default clock starts every connection at the recording's start: after
    a disconnect the new connection sends trades already counted, which shows nothing is
    missing, so no backfill is needed; the repeats are dropped."""
    rec = recording
    n = len(rec.messages)
    first_drop = next_trades(rec, n // 3, 3)
    second_drop = next_trades(rec, (2 * n) // 3, 3)
    duplicated = next_trades(rec, n // 4, 2)
    reordered = next_trades(rec, n // 2, 2, same_minute=True)
    faults = [f"drop@{first_drop}x3", f"drop-connection@{first_drop + 2}", f"duplicate@{duplicated}x2",
              f"reorder@{reordered}", f"drop@{second_drop}x3", f"drop-connection@{second_drop + 2}",
              # The second connection pauses before its drop, so the first reconnect settles.
              f"delay@{second_drop - 10}:0.5"]
    feed, injected = run(lambda: live(rec, faults))
    assert injected == {"drop": 6, "drop-connection": 2, "duplicate": 2, "reorder": 1, "delay": 1}
    figures = feed.health()[SYMBOL].figures
    assert feed.stats.reconnects == 2 and feed.stats.backfills == 0 and figures["trade_holes"] == 2
    assert figures["unfilled_gaps"] == 0
    # Each reconnect sent everything up to its drop again: all repeats, none counted.
    assert figures["trades_duplicated"] >= trades_in(rec, range(0, first_drop)) + trades_in(rec, range(0, second_drop))
    assert figures["trades"] == len(rec.trades)
    assert_same_bars(closed_candles(feed.candles), reference(rec))
    assert same_book(feed.book(SYMBOL), book_replay.replay_recording(rec.path, "bybit").book)


def test_the_local_exchange_serves_recent_trades_up_to_the_furthest_connection(recording: Recording) -> None:
    """REST shows the newest trades up to where the furthest connection got (here one dropped
    after its K-th message): what a dropped client missed, never what nobody was sent."""
    rec = recording
    k = len(rec.trade_messages) // 2

    async def scenario() -> tuple[Any, Any, Any]:
        import aiohttp

        async with SimServer(rec.path, speed=0, faults=FaultPlan([f"drop-connection@{k}"])) as server, \
                aiohttp.ClientSession() as http:
            url = f"{server.api_url}/recent-trade?category=linear&symbol={SYMBOL}"
            async with http.get(url) as r:
                before = await r.json()
            async with http.ws_connect(server.ws_url) as ws:
                await ws.send_json({"op": "subscribe", "args": [f"publicTrade.{SYMBOL}"]})
                async for _ in ws:
                    pass
            async with http.get(url + "&limit=1000") as r:
                after = await r.json()
            async with http.get(url + "&limit=1001") as r:
                bad = await r.json()
        return before, after, bad

    before, after, bad = run(scenario)
    assert before["retCode"] == 0 and before["result"]["list"] == [], "nothing has traded before any connection"
    sent = [t for message in rec.trade_messages[:k] for t in json.loads(message)["data"]]
    listed = after["result"]["list"]
    assert len(sent) > 200 and [t["execId"] for t in listed] == [t["i"] for t in reversed(sent)][:1000]
    newest = sent[-1]
    assert listed[0] == {"execId": newest["i"], "symbol": SYMBOL, "price": newest["p"], "size": newest["v"],
                         "side": newest["S"], "time": str(newest["T"]), "isBlockTrade": False}
    assert bad["retCode"] == 10001
