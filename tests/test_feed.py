"""Live feeds against the local exchange: the websocket client and its Rust core keep every book
and every bar right through disconnects, gaps, duplicated, reordered and malformed frames; what
`tradecore record` writes replays to the same books and bars as the original recording.

The oracle is the original file replayed through a fresh core (books checked against the
exchange's own bookTicker), compared with what the live feed built from the local exchange."""

from __future__ import annotations

import asyncio
import gzip
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow.compute as pc
import pytest

from conftest import BINANCE_FILES, BYBIT_FILE, data_file, start_sim_cli
from tradecore import Candle, Feed, OrderBook
from tradecore import book as book_replay
from tradecore.data.feed import Backoff, FeedError, Limits, LiveFeed
from tradecore.data.recorder import Recorder
from tradecore.sim import FaultPlan, SimServer

T = TypeVar("T")
USDM, CM, SPOT = "usdm_btcusdt_20240808.gz", "cm_btcusd_perp_20240808.gz", "spot_btcusdt_20240808.gz"
TIMEFRAMES = ["1m", "5m"]
FAST = Backoff(first=0.05, most=0.2)


def run(factory: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
    return asyncio.run(asyncio.wait_for(factory(), timeout))  # type: ignore[arg-type]


def path_of(name: str) -> Path:
    return data_file(f"binance/{name}")


def stream_lines(name: str) -> list[bytes]:
    """The recording's stream messages in order: what the local exchange sends as messages 1, 2, ..."""
    lines = gzip.open(path_of(name)).read().splitlines()
    return [m for m in (line.split(b" ", 1)[1] for line in lines) if m.startswith(b'{"stream"')]


def kind(message: bytes) -> str:
    return message.split(b"@", 2)[1].split(b'"')[0].split(b"@")[0].decode()


class Reference:
    """The original recording replayed through a fresh core: final book and closed bars."""

    def __init__(self, path: Path, venue: str) -> None:
        data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        self.symbol = OrderBook.sniff_symbol(venue, data)
        assert self.symbol is not None
        self.feed = Feed(venue, [self.symbol], timeframes=TIMEFRAMES)
        lines, bad, _ = self.feed.replay(data)
        assert bad == 0
        self.candles = closed_candles(self.feed.take_closed())
        self.book = self.feed.book(self.symbol)


_references: dict[str, Reference] = {}


def reference(name: str) -> Reference:
    if name not in _references:
        _references[name] = Reference(path_of(name), BINANCE_FILES[name])
    return _references[name]


def closed_candles(taken: list[tuple[str, Candle]]) -> list[Candle]:
    return sorted((c for _, c in taken), key=lambda c: (c.timeframe, c.open_time))


#: Levels compared per side. A REST snapshot carries at most 1000 levels a side, so a book resynced
#: after the price has moved differs from the original replay far from the touch (levels the original
#: snapshot had and no diff has touched since): compare the part of the book a trader uses.
LEVELS = 100


def same_book(a: OrderBook, b: OrderBook) -> bool:
    (ab, aa), (bb, ba) = a.top(LEVELS), b.top(LEVELS)
    return a.last_update_id == b.last_update_id and np.array_equal(ab, bb) and np.array_equal(aa, ba)


async def live(name: str, faults: list[str] | None = None, *, out: Path | None = None, limits: Limits = Limits(),
               during: Callable[[LiveFeed, SimServer], Awaitable[None]] | None = None,
               **server_options: Any) -> tuple[LiveFeed, dict[str, int], list[Path]]:
    """Runs a live feed (recording to ``out`` if given) against the local exchange serving
    ``name`` until the replay is consumed."""
    venue = BINANCE_FILES[name]
    options = {"speed": 0, **server_options}
    async with SimServer(path_of(name), faults=FaultPlan(faults or []), **options) as server:
        recorder = Recorder(out, venue) if out is not None else None
        feed = LiveFeed(venue, [reference(name).symbol], ws_url=server.ws_url, rest_url=server.rest_url,
                        timeframes=TIMEFRAMES, limits=limits, backoff=FAST, seed=7,
                        tap=recorder.write if recorder else None)
        task = asyncio.ensure_future(feed.run())
        await feed.connected.wait()
        if during is not None:
            await during(feed, server)
        await feed.quiet(0.8)
        feed.stop()
        await task
        files = recorder.close() if recorder else []
        return feed, server.injected, files


# -- recording from the local exchange replays to the same books and bars ----------------------


@pytest.mark.parametrize("name", list(BINANCE_FILES))
def test_recording_from_the_local_exchange_replays_like_the_original(name: str, tmp_path: Path) -> None:
    ref = reference(name)
    venue = BINANCE_FILES[name]
    feed, _, files = run(lambda: live(name, out=tmp_path))
    symbol = ref.symbol

    # The live feed: the same final book and the same closed bars as the original replay.
    assert same_book(feed.book(symbol), ref.book)
    assert closed_candles(feed.candles) == ref.candles and len(ref.candles) >= 6
    health = feed.health()[symbol]
    assert health.figures["tickers_mismatched"] == 0
    assert health.figures["tickers_checked"] > (100 if venue != "binance-spot" else 50)
    assert feed.stats.malformed == 0 and feed.stats.resyncs == 0 and feed.stats.snapshots_fetched == 1

    # The recording: one file for the symbol, snapshot included, replaying to the same book after
    # every diff that both replays applied, and to the same final book and bars.
    assert [p.name for p in files] == [f"{venue}_{symbol.lower()}_{p.name.split('_')[-1]}" for p in files]
    assert len(files) == 1
    recorded = book_replay.replay_recording(files[0], venue)
    original = book_replay.replay_recording(path_of(name), venue)
    assert recorded.error_count == 0 and recorded.statuses["snapshot"] == 1
    mine = recorded.table.filter(pc.equal(recorded.table["status"], "applied")).to_pandas().set_index("update_id")
    theirs = original.table.filter(pc.equal(original.table["status"], "applied")).to_pandas().set_index("update_id")
    common = mine.index.intersection(theirs.index)
    assert len(common) > 0.9 * len(theirs), "the recording applies (nearly) every diff the original applies"
    columns = ["bid_px", "bid_qty", "ask_px", "ask_qty"]
    assert mine.loc[common, columns].equals(theirs.loc[common, columns])
    assert same_book(recorded.book, ref.book)
    again = Reference(files[0], venue)
    assert again.candles == ref.candles


# -- faults: every one detected, healed and counted ----------------------------------------------


def depth_after(lines: list[bytes], start: int, kinds: tuple[str, ...] = ("depth",), run_length: int = 1) -> int:
    """The 1-based number of the first message at or after ``start`` that begins a run of
    ``run_length`` messages of ``kinds``."""
    for n in range(start, len(lines) - run_length):
        if all(kind(lines[n - 1 + k]) in kinds for k in range(run_length)):
            return n
    raise AssertionError("no such message")


@pytest.mark.parametrize("name", [USDM, SPOT])
def test_faults_are_detected_resynced_and_the_books_and_bars_still_match(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    ref = reference(name)
    lines = stream_lines(name)
    n = len(lines)
    # Faults well after the first sync (the local exchange runs ahead of the snapshot request).
    gap = depth_after(lines, n // 3)
    dropped_depth = depth_after(lines, n // 3 + 2000)
    dropped_trades = depth_after(lines, n // 2, ("trade",), 2)
    reordered_depth = depth_after(lines, n // 2 + 2000, ("depth",), 2)
    reordered_trades = depth_after(lines, n // 2 + 4000, ("trade",), 2)
    duplicated = n // 2 + 6000
    # Malformed tickers: a malformed diff or trade would be a lost one (a resync or a backfill more).
    malformed = depth_after(lines, n // 2 + 8000, ("bookTicker",), 3)
    disconnect = (3 * n) // 4
    # After each break the local exchange pauses briefly (as a quiet market would), so that each
    # resync completes before the next break; at full speed they would merge into one resync.
    pauses = [f"delay@{depth_after(lines, at + 1) + 1}:0.3" for at in (gap, dropped_depth, reordered_depth + 1)]
    # The next trade reveals the hole, which waits 0.2 s for a late frame, then asks REST.
    pauses.append(f"delay@{depth_after(lines, dropped_trades + 2, ('trade',)) + 1}:0.6")
    faults = [f"gap@{gap}", f"drop@{dropped_depth}", f"drop@{dropped_trades}x2", f"reorder@{reordered_depth}",
              f"reorder@{reordered_trades}", f"duplicate@{duplicated}x20", f"malformed@{malformed}",
              f"malformed@{malformed + 1}:text", f"malformed@{malformed + 2}:types", f"drop-connection@{disconnect}",
              *pauses]
    with caplog.at_level(logging.INFO, logger="tradecore.feed"):
        feed, injected, _ = run(lambda: live(name, faults))

    assert injected == {"gap": 1, "drop": 3, "reorder": 2, "duplicate": 20, "malformed": 3, "drop-connection": 1,
                        "delay": 4}
    # A gap, a lost diff and two diffs swapped each break the sequence once: three resyncs. The
    # reconnect replays from the start here (a fresh connection), so it only brings stale diffs.
    assert feed.stats.resyncs == 3, [r.message for r in caplog.records if "malformed" not in r.message]
    assert feed.stats.reconnects == 1 and feed.stats.connections == 2
    # The two dropped trades came back from REST; the swapped ones were put back in order.
    health = feed.health()[ref.symbol].figures
    assert feed.stats.backfills == 1 and health["trades_backfilled"] == 2 and health["trades_lost"] == 0
    assert health["trades_reordered"] >= 1 and health["trades_duplicated"] > 0
    assert feed.stats.malformed == 3 and len(feed.errors) == 3
    assert sum("malformed frame skipped" in r.message for r in caplog.records) == 3
    assert health["tickers_mismatched"] == 0
    # After all that: the same final book and the same closed bars as the clean original.
    assert same_book(feed.book(ref.symbol), ref.book)
    assert closed_candles(feed.candles) == ref.candles


def test_a_disconnect_on_a_running_market_resyncs_and_completes_the_bars_from_rest() -> None:
    """A shared market clock (as on the real exchange): what was sent while the feed was away is
    gone, so the book must resync and the bars need the missed trades from REST."""
    ref = reference(CM)

    async def drop_midway(feed: LiveFeed, server: SimServer) -> None:
        while feed.core.health(ref.symbol)["trades"] < 900:
            await asyncio.sleep(0.05)
        await feed.drop_connection()
        await asyncio.sleep(0.4)  # the market goes on: trades and diffs are missed

    feed, _, _ = run(lambda: live(CM, clock="shared", speed=40, during=drop_midway), timeout=90)
    health = feed.health()[ref.symbol].figures
    assert feed.stats.reconnects == 1
    assert feed.stats.resyncs == 1
    assert feed.stats.backfills == 1 and health["trades_backfilled"] > 0 and health["trades_lost"] == 0
    assert health["trades"] == 2286, "every recorded trade counted once"
    assert same_book(feed.book(ref.symbol), ref.book)
    assert closed_candles(feed.candles) == ref.candles


def test_rest_errors_during_a_resync_are_retried() -> None:
    feed, injected, _ = run(lambda: live(SPOT, ["rest-503@1x2"]))
    assert injected["rest-503"] == 2 and feed.stats.rest_errors == 2
    assert same_book(feed.book("BTCUSDT"), reference(SPOT).book)


def test_a_silent_connection_is_reopened() -> None:
    n = len(stream_lines(SPOT)) // 2

    async def patient_after_a_reconnect(feed: LiveFeed, server: SimServer) -> None:
        while feed.stats.reconnects == 0:
            await asyncio.sleep(0.05)
        # The replay's end is silent too: from now on wait longer than the test does.
        feed.limits = Limits()

    feed, injected, _ = run(lambda: live(SPOT, [f"delay@{n}:1.5"], limits=Limits(stale_after_s=0.3),
                                         during=patient_after_a_reconnect))
    assert injected["delay"] == 1
    assert feed.stats.reconnects == 1
    assert same_book(feed.book("BTCUSDT"), reference(SPOT).book)
    assert closed_candles(feed.candles) == reference(SPOT).candles


def test_symbols_can_be_unsubscribed_and_subscribed_while_running() -> None:
    async def toggle(feed: LiveFeed, server: SimServer) -> None:
        while not feed.core.synced("BTCUSDT"):
            await asyncio.sleep(0.01)
        await feed.unsubscribe("BTCUSDT")
        assert feed.symbols == []
        await asyncio.sleep(0.2)
        (connection,) = server.connections.values()
        assert not connection.subscriptions
        await feed.subscribe("btcusdt")
        await asyncio.sleep(0.2)
        assert connection.subscriptions

    feed, _, _ = run(lambda: live(SPOT, during=toggle))
    # Subscribing again started a fresh book, synced from a new snapshot, and it ends right.
    assert feed.symbols == ["BTCUSDT"] and feed.stats.snapshots_fetched == 2
    assert same_book(feed.book("BTCUSDT"), reference(SPOT).book)
    assert feed.core.stats()["unknown_symbol"] >= 0


def test_bybit_books_sync_from_the_stream_snapshot() -> None:
    path = data_file(BYBIT_FILE)
    original = book_replay.replay_recording(path, "bybit")

    async def scenario() -> LiveFeed:
        async with SimServer(path, speed=0) as server:
            feed = LiveFeed("bybit", ["XRPUSDT"], ws_url=server.ws_url, rest_url=server.rest_url, backoff=FAST)
            task = asyncio.ensure_future(feed.run())
            await feed.connected.wait()
            await feed.quiet(0.8)
            feed.stop()
            await task
            return feed

    feed = run(scenario)
    assert feed.stats.snapshots_fetched == 0, "Bybit sends the snapshot on the stream"
    assert feed.stats.refused == 1, "the recording has no trades: that topic is refused, the book's is not"
    assert same_book(feed.book("XRPUSDT"), original.book)


def test_health_reports_clock_skew_and_staleness_in_words() -> None:
    feed, _, _ = run(lambda: live(SPOT))
    health = feed.health()["BTCUSDT"]
    # The local exchange replays 2024 messages now: their event times are far in the past.
    assert health.clock_skew_ms is not None and health.clock_skew_ms > 86_400_000
    assert any(p.startswith("clock skew") for p in health.problems)
    assert health.synced and health.trade_hole is None
    stale = LiveFeed("binance-spot", ["BTCUSDT"]).health()["BTCUSDT"]
    assert "no message yet" in stale.problems and not stale.synced


def test_bad_configuration_is_refused_clearly() -> None:
    with pytest.raises(FeedError, match="unknown venue"):
        LiveFeed("kraken", ["BTCUSD"])
    with pytest.raises(FeedError, match="ws://"):
        LiveFeed("binance-spot", ["BTCUSDT"], ws_url="http://x")
    with pytest.raises(FeedError, match="at least one symbol"):
        LiveFeed("binance-spot", [])
    with pytest.raises(ValueError, match="timeframe"):
        LiveFeed("binance-spot", ["BTCUSDT"], timeframes=["7q"])


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    import random

    backoff, rng = Backoff(first=1.0, most=8.0), random.Random(1)
    for attempt, cap in enumerate([1, 2, 4, 8, 8, 8]):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= cap
        assert max(delays) > 0.8 * cap, "jitter spans the whole interval"


# -- the recorder ----------------------------------------------------------------------------


def test_recorder_rotates_by_the_hour_and_asks_for_a_snapshot(tmp_path: Path) -> None:
    rotated: list[str] = []
    hour = 3_600 * 10**9
    t0 = 1_723_161_600 * 10**9  # 2024-08-09 00:00 UTC
    with Recorder(tmp_path, "binance-usdm", on_rotate=rotated.append) as recorder:
        recorder.write(t0 + 1, '{"stream":"btcusdt@trade","data":{}}', "BTCUSDT")
        recorder.write(t0 + 2, b'{"lastUpdateId":1,\n"bids":[],"asks":[]}', "BTCUSDT")
        recorder.write(t0 + 3, "<html>", None)
        recorder.write(t0 + hour, '{"stream":"btcusdt@trade","data":{"x":1}}', "BTCUSDT")
    names = sorted(p.name for p in recorder.files)
    assert names == ["binance-usdm_btcusdt_20240809T00.gz", "binance-usdm_btcusdt_20240809T01.gz",
                     "binance-usdm_unrouted_20240809T00.gz"]
    assert rotated == ["BTCUSDT"]
    first = gzip.open(tmp_path / names[0]).read().decode().splitlines()
    assert first == [f"{t0 + 1} " + '{"stream":"btcusdt@trade","data":{}}',
                     f"{t0 + 2} " + '{"lastUpdateId":1, "bids":[],"asks":[]}']
    # A second recorder in the same hour never overwrites.
    with Recorder(tmp_path, "binance-usdm") as again:
        again.write(t0 + 5, "{}", "BTCUSDT")
    assert again.files[0].name == "binance-usdm_btcusdt_20240809T00-1.gz"


def test_cli_record_writes_a_replayable_recording(tmp_path: Path) -> None:
    sim, _, ws_url, api_url = start_sim_cli(path_of(SPOT), "--speed", "0")
    rest_url = api_url.removesuffix("/api/v3")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tradecore.cli", "record", "--venue", "binance-spot", "--symbols", "BTCUSDT",
             "--out", str(tmp_path), "--ws-url", ws_url, "--rest-url", rest_url, "--duration", "4"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert done.returncode == 0, done.stderr
    assert "recorded" in done.stdout and "1 snapshot(s)" in done.stdout
    (recorded,) = tmp_path.glob("binance-spot_btcusdt_*.gz")
    replayed = book_replay.replay_recording(recorded, "binance-spot")
    assert replayed.problem is None and replayed.error_count == 0
    assert same_book(replayed.book, reference(SPOT).book)


@pytest.mark.parametrize(("name", "checked"), [(USDM, 629), (CM, 1124), (SPOT, 564)])
def test_the_core_agrees_with_every_bookticker_of_the_recordings(name: str, checked: int) -> None:
    """The exchange's own best bid and ask at the same update id: an oracle written by the venue."""
    ref = reference(name)
    health = ref.feed.health(ref.symbol)
    assert (health["tickers_checked"], health["tickers_mismatched"]) == (checked, 0)


def test_a_wrong_book_is_caught_by_the_bookticker_check() -> None:
    lines = gzip.open(path_of(USDM)).read().splitlines()
    (at,) = [i for i, line in enumerate(lines) if b'"lastUpdateId"' in line]
    # A bid that never existed, above the real best bid and below the best ask: a corrupt book.
    lines[at] = lines[at].replace(b'"bids":[', b'"bids":[["61800.25","1.000"],', 1)
    feed = Feed("binance-usdm", ["BTCUSDT"])
    feed.replay(b"\n".join(lines))
    health = feed.health("BTCUSDT")
    # Wrong whenever the market trades below it (while it trades above, the real bids hide it).
    assert health["tickers_checked"] == 629 and health["tickers_mismatched"] > 400
