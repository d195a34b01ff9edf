"""The local exchange (tradecore.sim) served on 127.0.0.1 and used by real clients: aiohttp
websockets with tradecore's own order book, plain HTTP, ccxt, and the command line. Everything
runs at speed=0 (as fast as the client reads) on ephemeral ports."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import signal
import time
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pandas as pd
import pytest

from conftest import BINANCE_FILES, BYBIT_FILE, data_file, start_sim_cli
from tradecore import MessageError, OrderBook, RecordingError
from tradecore.cli import main
from tradecore.sim import Fault, FaultPlan, FaultSpecError, Market, SimServer, load

T = TypeVar("T")
USDM, CM, SPOT = "usdm_btcusdt_20240808.gz", "cm_btcusd_perp_20240808.gz", "spot_btcusdt_20240808.gz"
SYMBOL = {USDM: "BTCUSDT", CM: "BTCUSD_PERP", SPOT: "BTCUSDT"}
PREFIX = {USDM: "/fapi/v1", CM: "/dapi/v1", SPOT: "/api/v3"}
DEPTH = {USDM: "btcusdt@depth@0ms", CM: "btcusd_perp@depth@0ms", SPOT: "btcusdt@depth@100ms"}
TIMEOUT = aiohttp.ClientTimeout(total=30)


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(factory(), 45))  # type: ignore[arg-type]


_markets: dict[str, Market] = {}


def market(name: str) -> Market:
    """Each recording is loaded once per test session (about a second for USD-M)."""
    if name not in _markets:
        path = data_file(BYBIT_FILE if name == "bybit" else f"binance/{name}")
        _markets[name] = load(path)
    return _markets[name]


def recorded(name: str) -> list[tuple[str, dict[str, Any]]]:
    """The recording's stream messages as (stream, data), parsed independently of tradecore."""
    out = []
    with gzip.open(data_file(f"binance/{name}"), "rt") as f:
        for line in f:
            message = json.loads(line.split(" ", 1)[1])
            if "stream" in message:
                out.append((message["stream"], message["data"]))
    return out


def recorded_trades(name: str) -> list[dict[str, Any]]:
    return [data for stream, data in recorded(name) if stream.endswith("@trade")]


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any, dict[str, str]]:
    async with http.get(url) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


async def receive(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[str]:
    """The next ``count`` text frames (fewer if the connection ends first)."""
    frames: list[str] = []
    while len(frames) < count:
        message = await ws.receive(timeout=20)
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        frames.append(message.data)
    return frames


# -- the book: REST snapshot consistent with the diffs a client buffered ----------------------


@pytest.mark.parametrize("name", [USDM, CM, SPOT])
def test_client_syncs_mid_replay_and_matches_the_exchange_bookticker(name: str) -> None:
    """A client subscribes to depth and bookTicker, buffers diffs, fetches the REST snapshot after
    300 diffs (at 100x pace, so the server is where the client is: mid-recording, past the
    recorded snapshot) and applies it by Binance's rules (tradecore.OrderBook); then 1500 more
    diffs. It must sync with zero gaps, and wherever the exchange's own bookTicker carries the
    update id of an applied diff its best bid/ask must equal the client's book."""
    m = market(name)
    venue, symbol = m.venue, SYMBOL[name]
    ticker = f"{symbol.lower()}@bookTicker"
    recorded_snapshot_id = json.loads(m.snapshot or "{}")["lastUpdateId"]

    async def scenario() -> tuple[Counter[str], dict[int, tuple[float, float]], dict[int, tuple[float, float]], int]:
        book = OrderBook(venue, symbol)
        statuses: Counter[str] = Counter()
        tickers: dict[int, tuple[float, float]] = {}
        tops: dict[int, tuple[float, float]] = {}
        snapshot_id = 0
        async with SimServer(m, speed=100) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(f"{server.ws_url}?streams={DEPTH[name]}/{ticker}") as ws:
                diffs = 0
                fetch: asyncio.Task[tuple[int, Any, dict[str, str]]] | None = None
                while diffs < 1800:
                    frame = await ws.receive_str(timeout=20)
                    if frame.startswith(f'{{"stream":"{ticker}"'):
                        data = json.loads(frame)["data"]
                        tickers[data["u"]] = (float(data["b"]), float(data["a"]))
                        continue
                    status = book.apply(frame)
                    statuses[status] += 1
                    diffs += 1
                    if status == "applied":
                        tops[book.last_update_id or 0] = (book.best_bid()[0], book.best_ask()[0])  # type: ignore[index]
                    if diffs == 300:
                        limit = 1000 if m.futures else 5000
                        fetch = asyncio.create_task(get(http, f"{server.api_url}/depth?symbol={symbol}&limit={limit}"))
                    if fetch is not None and fetch.done():
                        code, body, headers = fetch.result()
                        assert code == 200 and int(headers["X-MBX-USED-WEIGHT-1M"]) > 0
                        snapshot_id = body["lastUpdateId"]
                        statuses[book.apply(json.dumps(body))] += 1
                        fetch = None
        return statuses, tickers, tops, snapshot_id

    statuses, tickers, tops, snapshot_id = run(scenario)
    assert snapshot_id > recorded_snapshot_id, "the snapshot must come from the server's advanced book"
    assert statuses["snapshot"] == 1 and statuses["gap"] == 0 and statuses["buffered"] >= 300
    assert statuses["applied"] > 1000, statuses
    common = set(tickers) & set(tops)
    if m.futures:  # spot's bookTicker ids fall inside the 100 ms diffs' ranges, not on their ends
        assert len(common) > 50
    mismatches = [u for u in common if tickers[u] != tops[u]]
    assert not mismatches, f"{len(mismatches)} of {len(common)} bookTickers disagree, first at u={mismatches[0]}"


def test_snapshot_before_any_client_is_the_recorded_one_and_lagging_clients_still_sync() -> None:
    """With the per-connection clock, REST shows the furthest point any client was sent. At
    speed=0 a client is sent as much as TCP buffers take, far ahead of what it has read; a second
    client starting from the beginning then gets a snapshot from its future and must still sync
    (dropping the older diffs as stale) and end on the recording's last diff."""
    m = market(USDM)
    payloads = m.streams["btcusdt@depth@0ms"].payloads

    async def scenario() -> tuple[Any, Counter[str], OrderBook, int]:
        async with SimServer(m, speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            _, first, _ = await get(http, f"{server.api_url}/depth?symbol=BTCUSDT&limit=1000")
            async with http.ws_connect(f"{server.ws_url}?streams=btcusdt@depth@0ms") as ahead:
                await receive(ahead, 3000)
                async with http.ws_connect(f"{server.rest_url}/ws/btcusdt@depth@0ms") as behind:
                    book, statuses = OrderBook("binance-usdm", "BTCUSDT"), Counter[str]()
                    for frame in await receive(behind, 10):
                        statuses[book.apply(frame)] += 1
                    _, body, _ = await get(http, f"{server.api_url}/depth?symbol=BTCUSDT&limit=1000")
                    statuses[book.apply(json.dumps(body))] += 1
                    for frame in await receive(behind, len(payloads) - 10):
                        statuses[book.apply(frame)] += 1
                    return first, statuses, book, body["lastUpdateId"]

    first, statuses, book, later_id = run(scenario)
    recorded_snapshot = json.loads(m.snapshot or "{}")
    assert first["lastUpdateId"] == recorded_snapshot["lastUpdateId"]
    assert first["bids"] == recorded_snapshot["bids"] and first["asks"] == recorded_snapshot["asks"]
    assert later_id > first["lastUpdateId"] + 1_000_000
    assert statuses["gap"] == 0 and statuses["snapshot"] == 1 and statuses["stale"] > 10
    assert book.synced and book.last_update_id == json.loads(payloads[-1])["u"]


def test_shared_clock_joins_mid_recording_and_stays_consistent() -> None:
    m = market(USDM)

    async def scenario() -> tuple[dict[str, Any], Counter[str], int]:
        async with SimServer(m, speed=400, clock="shared") as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            await asyncio.sleep(0.3)  # 120 s of market time at 400x
            async with http.ws_connect(f"{server.rest_url}/ws/btcusdt@depth@0ms") as ws:
                first = json.loads(await ws.receive_str(timeout=10))
                book, statuses = OrderBook("binance-usdm", "BTCUSDT"), Counter[str]()
                statuses[book.apply(json.dumps(first))] += 1
                _, body, _ = await get(http, f"{server.api_url}/depth?symbol=BTCUSDT&limit=1000")
                statuses[book.apply(json.dumps(body))] += 1
                for frame in await receive(ws, 300):
                    statuses[book.apply(frame)] += 1
                return first, statuses, server.point()

    first, statuses, point = run(scenario)
    first_diff = json.loads(m.streams["btcusdt@depth@0ms"].payloads[0])
    assert first["u"] > first_diff["u"] + 1000, "a shared-clock connection joins where the market is"
    assert statuses["gap"] == 0 and statuses["snapshot"] == 1 and statuses["applied"] > 200
    assert point > 0


# -- derived streams and history --------------------------------------------------------------


def pandas_klines(trades: list[dict[str, Any]], rule: str) -> pd.DataFrame:
    """Reference klines from the recorded trades: pandas resample, empty bars flat at the close."""
    df = pd.DataFrame({
        "time": pd.to_datetime([t["T"] for t in trades], unit="ms", utc=True),
        "price": [float(t["p"]) for t in trades],
        "qty": [float(t["q"]) for t in trades],
        "buy": [0.0 if t["m"] else float(t["q"]) for t in trades],
    }).set_index("time")
    df["quote"] = df["price"] * df["qty"]
    df["base"] = df["qty"] * 100 / df["price"]  # COIN-M BTC contracts are 100 USD
    bars = df.resample(rule).agg({"price": ["first", "max", "min", "last", "count"], "qty": "sum", "quote": "sum",
                                  "buy": "sum", "base": "sum"})
    bars.columns = ["open", "high", "low", "close", "trades", "volume", "quote", "buy", "base"]
    bars["close"] = bars["close"].ffill()
    for column in ("open", "high", "low"):
        bars[column] = bars[column].fillna(bars["close"])
    return bars


def assert_klines_equal(rows: list[list[Any]], want: pd.DataFrame, width_ms: int) -> None:
    assert len(rows) == len(want)
    for row, (when, bar) in zip(rows, want.iterrows(), strict=True):
        assert row[0] == int(when.timestamp() * 1000) and row[6] == row[0] + width_ms - 1
        assert [float(v) for v in row[1:5]] == [bar.open, bar.high, bar.low, bar.close]
        assert row[8] == bar.trades
        assert math.isclose(float(row[5]), bar.volume, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(float(row[7]), bar.quote, rel_tol=1e-9, abs_tol=1e-4)
        assert math.isclose(float(row[9]), bar.buy, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(("name", "interval", "rule"), [(USDM, "1m", "1min"), (SPOT, "1s", "1s")])
def test_rest_klines_equal_pandas_bars_with_pagination(name: str, interval: str, rule: str) -> None:
    want = pandas_klines(recorded_trades(name), rule)
    width = 60_000 if interval == "1m" else 1_000
    base = f"{PREFIX[name]}/klines?symbol={SYMBOL[name]}&interval={interval}"

    async def scenario() -> tuple[list[list[Any]], list[list[Any]], list[list[Any]], list[list[Any]]]:
        async with SimServer(market(name), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            _, everything, _ = await get(http, f"{server.rest_url}{base}&limit=1000")
            pages: list[list[Any]] = []
            start = int(want.index[0].timestamp() * 1000)
            while True:  # Binance pagination: next startTime = last open time + 1
                _, page, _ = await get(http, f"{server.rest_url}{base}&startTime={start}&limit=3")
                if not page:
                    break
                assert len(page) <= 3
                pages.extend(page)
                start = page[-1][0] + 1
            _, latest, _ = await get(http, f"{server.rest_url}{base}&limit=2")
            end = int(want.index[2].timestamp() * 1000)
            _, until, _ = await get(http, f"{server.rest_url}{base}&endTime={end}&limit=2")
            return everything, pages, latest, until

    everything, pages, latest, until = run(scenario)
    assert_klines_equal(everything, want, width)
    assert pages == everything
    assert latest == everything[-2:]
    assert until == everything[1:3]
    if interval == "1s":
        assert any(row[8] == 0 for row in everything), "quiet seconds are flat bars, as Binance serves them"


def test_kline_stream_closes_bars_equal_to_rest_klines() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[list[Any]]]:
        async with SimServer(market(USDM), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(f"{server.rest_url}/ws/btcusdt@kline_1m") as ws:
                frames = await receive(ws, len(server.venue.events("btcusdt@kline_1m").points))  # type: ignore[union-attr]
            _, rows, _ = await get(http, f"{server.api_url}/klines?symbol=BTCUSDT&interval=1m")
            return [json.loads(f) for f in frames], rows

    updates, rows = run(scenario)
    assert all(u["e"] == "kline" and u["k"]["i"] == "1m" for u in updates)
    closed = [u["k"] for u in updates if u["k"]["x"]]
    assert len(closed) == len(rows) - 1, "every bar but the last (still open) closes on the stream"
    for k, row in zip(closed, rows, strict=False):
        assert [k["t"], k["o"], k["h"], k["l"], k["c"], k["T"], k["n"]] == [row[0], *row[1:5], row[6], row[8]]
        assert math.isclose(float(k["v"]), float(row[5]), rel_tol=1e-12)
        assert math.isclose(float(k["q"]), float(row[7]), rel_tol=1e-12)
    last = updates[-1]["k"]
    assert not last["x"] and last["t"] == rows[-1][0] and last["n"] == rows[-1][8]


def test_agg_trades_group_trades_on_the_stream_and_over_rest() -> None:
    trades = recorded_trades(USDM)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with SimServer(market(USDM), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            rest: list[dict[str, Any]] = []
            from_id = trades[0]["t"]
            while True:
                _, page, _ = await get(http, f"{server.api_url}/aggTrades?symbol=BTCUSDT&fromId={from_id}&limit=1000")
                if not page:
                    break
                rest.extend(page)
                from_id = page[-1]["a"] + 1
            async with http.ws_connect(f"{server.ws_url}?streams=btcusdt@aggTrade") as ws:
                frames = await receive(ws, len(rest))
            return rest, [json.loads(f)["data"] for f in frames]

    rest, stream = run(scenario)
    assert [a["a"] for a in rest] == list(range(rest[0]["a"], rest[0]["a"] + len(rest)))
    assert [(a["a"], a["p"], a["q"], a["f"], a["l"], a["T"], a["m"]) for a in stream] == [
        (a["a"], a["p"], a["q"], a["f"], a["l"], a["T"], a["m"]) for a in rest]
    by_id = {t["t"]: t for t in trades}
    covered = 0
    for i, agg in enumerate(rest):
        group = [by_id[t] for t in range(agg["f"], agg["l"] + 1)]
        covered += len(group)
        assert {(t["p"], t["m"], t["T"]) for t in group} == {(agg["p"], agg["m"], agg["T"])}
        assert sum(Decimal(t["q"]) for t in group) == Decimal(agg["q"])
        if i:  # maximal groups: a neighbour differs in price, side or time
            prev = by_id[rest[i - 1]["l"]]
            assert (prev["p"], prev["m"], prev["T"]) != (agg["p"], agg["m"], agg["T"])
    assert covered == len(trades) and len(rest) < len(trades)


def test_recent_and_historical_trades_and_history_on_the_clock() -> None:
    trades = recorded_trades(SPOT)

    async def scenario() -> tuple[Any, Any, Any, Any]:
        async with SimServer(market(SPOT), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            _, recent, _ = await get(http, f"{server.api_url}/trades?symbol=BTCUSDT&limit=3")
            _, historical, _ = await get(http, f"{server.api_url}/historicalTrades?symbol=BTCUSDT&fromId={trades[5]['t']}&limit=2")
        # Paced, so the server's clock is where this client is (10 trades in, a second or so).
        async with SimServer(market(SPOT), speed=20, history="clock") as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            _, before, _ = await get(http, f"{server.api_url}/trades?symbol=BTCUSDT")
            async with http.ws_connect(f"{server.rest_url}/ws/btcusdt@trade") as ws:
                await receive(ws, 10)
            # No connection left, so the clock stands still between the two requests.
            _, after, _ = await get(http, f"{server.api_url}/trades?symbol=BTCUSDT&limit=1000")
            _, klines, _ = await get(http, f"{server.api_url}/klines?symbol=BTCUSDT&interval=1s&limit=1000")
        return recent, historical, before, (after, klines)

    recent, historical, before, after = run(scenario)
    assert [t["id"] for t in recent] == [t["t"] for t in trades[-3:]]
    assert recent[-1]["price"] == trades[-1]["p"] and recent[-1]["qty"] == trades[-1]["q"]
    assert Decimal(recent[-1]["quoteQty"]) == Decimal(trades[-1]["p"]) * Decimal(trades[-1]["q"])
    assert [t["id"] for t in historical] == [trades[5]["t"], trades[6]["t"]]
    assert before == [], "history='clock': nothing has traded before the first message"
    after, klines = after
    assert 10 <= len(after) < 1000 and [t["id"] for t in after] == [t["t"] for t in trades[: len(after)]]
    assert sum(k[8] for k in klines) == len(after), "klines are cut at the same point"


def test_exchange_info_ping_time_and_weights() -> None:
    async def scenario() -> list[tuple[int, Any, dict[str, str]]]:
        async with SimServer(market(USDM), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            return [await get(http, f"{server.api_url}/{path}") for path in ("exchangeInfo", "ping", "time")]

    (s1, info, h1), (s2, ping, _), (s3, now, h3) = run(scenario)
    assert (s1, s2, s3) == (200, 200, 200) and ping == {}
    (symbol,) = info["symbols"]
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert (symbol["symbol"], symbol["baseAsset"], symbol["quoteAsset"], symbol["marginAsset"]) == ("BTCUSDT", "BTC", "USDT", "USDT")
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10" and filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert symbol["pricePrecision"] == 2 and symbol["quantityPrecision"] == 3
    assert now["serverTime"] == info["serverTime"] == 1723161256299  # the recording's clock, first event
    assert int(h3["X-MBX-USED-WEIGHT-1M"]) == int(h1["X-MBX-USED-WEIGHT-1M"]) + 2


# -- bad input ---------------------------------------------------------------------------------


def test_bad_requests_get_binance_errors_and_the_server_keeps_serving() -> None:
    cases = {
        "depth?symbol=ETHUSDT": (400, -1121), "depth": (400, -1102), "depth?symbol=BTCUSDT&limit=abc": (400, -1100),
        "depth?symbol=BTCUSDT&limit=7": (400, -4021), "klines?symbol=BTCUSDT&interval=7m": (400, -1120),
        "klines?symbol=BTCUSDT&interval=1s": (400, -1120), "klines?symbol=BTCUSDT": (400, -1102),
        "klines?symbol=BTCUSDT&interval=1m&limit=0": (400, -1130),
        "aggTrades?symbol=BTCUSDT&startTime=0&endTime=3600001": (400, -1127),
        "nowhere": (404, -1),
    }

    async def scenario() -> tuple[dict[str, tuple[int, Any]], list[Any], int, set[str]]:
        async with SimServer(market(USDM), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            answers = {}
            for path in cases:
                status, body, _ = await get(http, f"{server.api_url}/{path}")
                answers[path] = (status, body)
            async with http.ws_connect(server.ws_url) as ws:
                replies = []
                for request in ("{not json", "[1,2]", '{"method":"SUBSCRIBE","params":"x","id":1}',
                                '{"method":"NOPE","id":2}', '{"method":"SUBSCRIBE","params":["btcusdt@markPrice"],"id":3}',
                                '{"method":"LIST_SUBSCRIPTIONS","id":5}', b"\x00\x01",
                                '{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":4}'):
                    await (ws.send_bytes(request) if isinstance(request, bytes) else ws.send_str(request))
                    replies.append(json.loads(await ws.receive_str(timeout=10)))
                trade = json.loads(await ws.receive_str(timeout=10))
            status, _, _ = await get(http, f"{server.api_url}/ping")
            return answers, replies + [trade], status, server.venue.unknown_streams

    answers, replies, status, unknown = run(scenario)
    for path, (want_status, want_code) in cases.items():
        got_status, body = answers[path]
        assert (got_status, body["code"]) == (want_status, want_code), path
        assert body["msg"]
    assert replies[0]["error"]["code"] == 3 and replies[1]["error"]["code"] == 2
    assert replies[2]["error"]["code"] == 1 and replies[3]["error"]["code"] == 2 and replies[3]["id"] == 2
    assert replies[4] == {"result": None, "id": 3} and unknown == {"btcusdt@markPrice"}
    assert replies[5] == {"result": ["btcusdt@markPrice"], "id": 5}
    assert replies[6]["error"]["code"] == 3
    assert replies[7] == {"result": None, "id": 4}
    assert replies[8]["stream"] == "btcusdt@trade" and replies[8]["data"]["e"] == "trade"
    assert status == 200


# -- faults ------------------------------------------------------------------------------------

RAW_DEPTH = "/ws/btcusdt@depth@0ms"


def depth_payloads() -> list[str]:
    return market(USDM).streams["btcusdt@depth@0ms"].payloads


async def depth_frames(spec: str | None, count: int, plan: FaultPlan | None = None) -> tuple[list[str], FaultPlan, float]:
    plan = plan or FaultPlan([spec] if spec else [])
    async with SimServer(market(USDM), speed=0, faults=plan) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
        async with http.ws_connect(server.rest_url + RAW_DEPTH) as ws:
            started = time.perf_counter()
            frames = await receive(ws, count)
            return frames, plan, time.perf_counter() - started


@pytest.mark.parametrize(
    ("spec", "expected_indices", "kind", "times"),
    [
        ("drop@5x2", [0, 1, 2, 3, 6, 7, 8, 9], "drop", 2),
        ("duplicate@3", [0, 1, 2, 2, 3, 4, 5, 6], "duplicate", 1),
        ("reorder@4", [0, 1, 2, 4, 3, 5, 6, 7], "reorder", 1),
        ("gap@6", [0, 1, 2, 3, 4, 6, 7, 8], "gap", 1),
    ],
)
def test_message_faults_reach_the_client_and_are_counted(spec: str, expected_indices: list[int], kind: str,
                                                        times: int) -> None:
    frames, plan, _ = run(lambda: depth_frames(spec, len(expected_indices)))
    payloads = depth_payloads()
    assert frames == [payloads[i] for i in expected_indices]
    assert plan.injected == Counter({kind: times})


def test_gap_breaks_the_clients_book() -> None:
    """gap@N skips a depth diff even when other streams' messages come first, and a synced
    book notices (pu no longer chains)."""
    async def scenario() -> tuple[Counter[str], FaultPlan]:
        plan = FaultPlan()
        async with SimServer(market(USDM), speed=0, faults=plan) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(f"{server.ws_url}?streams=btcusdt@depth@0ms/btcusdt@bookTicker") as ws:
                book, statuses = OrderBook("binance-usdm", "BTCUSDT"), Counter[str]()
                _, body, _ = await get(http, f"{server.api_url}/depth?symbol=BTCUSDT&limit=1000")
                statuses[book.apply(json.dumps(body))] += 1
                # Aim past what the server has already pushed into the socket buffers.
                (conn,) = server.connections.values()
                plan.add(f"gap@{conn.faults.sent + 200}")
                while plan.injected["gap"] == 0 or statuses["gap"] == 0:
                    frame = await ws.receive_str(timeout=10)
                    if "@depth" in frame[:40]:
                        statuses[book.apply(frame)] += 1
                return statuses, plan

    statuses, plan = run(scenario)
    assert plan.injected["gap"] == 1 and statuses["gap"] >= 1 and statuses["applied"] > 0


def test_delay_holds_the_stream() -> None:
    frames, plan, seconds = run(lambda: depth_frames("delay@3:0.4", 5))
    assert frames == depth_payloads()[:5] and seconds >= 0.4 and plan.injected["delay"] == 1


@pytest.mark.parametrize("variant", ["truncated", "text", "types"])
def test_malformed_frames_are_really_malformed(variant: str) -> None:
    frames, plan, _ = run(lambda: depth_frames(f"malformed@2:{variant}", 3))
    good = depth_payloads()
    assert frames[0] == good[0] and frames[2] == good[2] and frames[1] != good[1]
    assert plan.injected == Counter({"malformed": 1}) and plan.log[0].detail == variant
    book = OrderBook("binance-usdm", "BTCUSDT")
    if variant == "types":
        data = json.loads(frames[1])  # valid JSON, but no field has its type
        assert data["e"] == "depthUpdate" and isinstance(data["u"], str) and isinstance(data["b"], str)
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(frames[1])
    with pytest.raises(MessageError):
        book.apply(frames[1])


def test_drop_connection_once_then_on_every_connection() -> None:
    async def connect_twice(spec: str) -> tuple[list[int], FaultPlan]:
        plan = FaultPlan([spec])
        counts = []
        async with SimServer(market(USDM), speed=0, faults=plan) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            for _ in range(2):
                async with http.ws_connect(server.rest_url + RAW_DEPTH) as ws:
                    counts.append(len(await receive(ws, 40)))
        return counts, plan

    once, plan = run(lambda: connect_twice("drop-connection@20"))
    assert once == [20, 40] and plan.injected["drop-connection"] == 1
    every, plan = run(lambda: connect_twice("drop-connection@20:every"))
    assert every == [20, 20] and plan.injected["drop-connection"] == 2


def test_plan_changes_while_running() -> None:
    async def scenario() -> tuple[list[str], FaultPlan, int]:
        plan = FaultPlan()
        async with SimServer(market(USDM), speed=0, faults=plan) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(server.rest_url + RAW_DEPTH) as ws:
                frames = await receive(ws, 2)
                # The server runs ahead of this reader by what the sockets buffer: aim past that.
                (conn,) = server.connections.values()
                at = conn.faults.sent + 50
                plan.add(f"drop@{at}")
                frames += await receive(ws, at - 1 + 10 - 2)
        return frames, plan, at

    frames, plan, at = run(scenario)
    payloads = depth_payloads()
    assert frames == payloads[: at - 1] + payloads[at : at + 10]
    assert plan.injected["drop"] == 1 and plan.log[0].number == at


def test_rest_503_then_429_with_retry_after_then_418_when_ignored() -> None:
    async def scenario() -> tuple[list[tuple[int, Any, dict[str, str]]], FaultPlan]:
        plan = FaultPlan(["rest-503@2", "rate-limit@10"])
        async with SimServer(market(USDM), speed=0, faults=plan) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            url = f"{server.api_url}/depth?symbol=BTCUSDT&limit=5"  # weight 2
            answers = [await get(http, url) for _ in range(8)]
            plan.clear()
            answers.append(await get(http, url))
        return answers, plan

    answers, plan = run(scenario)
    statuses = [a[0] for a in answers]
    # 1: ok, 2: 503, 3-6: ok (weight 2+2+2+2+2 = 10 with the first), 7: 429, 8: 418, after clear(): ok
    assert statuses == [200, 503, 200, 200, 200, 200, 429, 418, 200]
    assert answers[1][1]["code"] == -1008
    assert answers[6][1]["code"] == -1003 and 0 < int(answers[6][2]["Retry-After"]) <= 60
    assert answers[7][1]["code"] == -1003 and int(answers[7][2]["Retry-After"]) > int(answers[6][2]["Retry-After"])
    assert plan.injected == Counter({"rest-503": 1, "rate-limit": 1, "ban": 1})


def test_fault_specs_parse_and_refuse_clearly() -> None:
    for spec in ("gap@1200", "drop@5x3", "delay@50:1.5:every", "malformed@7:types", "rate-limit@100:10", "rest-503@2x4"):
        assert str(Fault.parse(spec)) == spec
    assert Fault.parse("malformed@3").arg == "truncated"
    bad = {"gap": "expected KIND@N", "explode@3": "unknown fault kind", "gap@0": "1 or more", "gap@x": "whole numbers",
           "delay@3": "delay in seconds", "malformed@3:garbled": "unknown variant", "reorder@3x2": "takes no count",
           "drop@3:5": "takes no argument", "rate-limit@10:-1": "positive number of seconds"}
    for spec, words in bad.items():
        with pytest.raises(FaultSpecError, match=words):
            Fault.parse(spec)


# -- ccxt, unmodified ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "exchange", "symbol"), [
    (USDM, "binanceusdm", "BTC/USDT:USDT"), (SPOT, "binance", "BTC/USDT"), (CM, "binancecoinm", "BTC/USD:BTC")])
def test_ccxt_fetches_the_recording(name: str, exchange: str, symbol: str) -> None:
    ccxt = pytest.importorskip("ccxt.async_support")
    trades = recorded_trades(name)
    snapshot = json.loads(market(name).snapshot or "{}")
    want = pandas_klines(trades, "1min")

    async def scenario() -> tuple[Any, Any, Any, Any]:
        async with SimServer(market(name), speed=0) as server:
            client = getattr(ccxt, exchange)()
            client.urls["api"] = {**client.urls["api"], **server.ccxt_urls()}
            try:
                await client.load_markets()
                since = int(want.index[0].timestamp() * 1000)
                ohlcv = await client.fetch_ohlcv(symbol, "1m", since=since, limit=10)
                book = await client.fetch_order_book(symbol, limit=100)
                recent = await client.fetch_trades(symbol, since=trades[0]["T"], limit=50)
                return ohlcv, book, recent, client.markets[symbol]
            finally:
                await client.close()

    ohlcv, book, recent, info = run(scenario)
    assert info["precision"]["price"] == (0.01 if name == SPOT else 0.1)
    assert info["contractSize"] == (100 if name == CM else 1 if name == USDM else None)
    assert len(ohlcv) == len(want)
    for candle, (when, bar) in zip(ohlcv, want.iterrows(), strict=True):
        assert candle[:5] == [int(when.timestamp() * 1000), bar.open, bar.high, bar.low, bar.close]
        # ccxt reads COIN-M volume from the base-asset field: contracts × 100 USD / price, in BTC.
        assert math.isclose(candle[5], bar.base if name == CM else bar.volume, rel_tol=1e-9, abs_tol=5e-9)  # 8 decimals
    # No client has been sent anything: the book is the recorded snapshot.
    assert book["nonce"] == snapshot["lastUpdateId"]
    assert book["bids"][:100] == [[float(p), float(q)] for p, q in snapshot["bids"][:100]]
    assert book["asks"][:100] == [[float(p), float(q)] for p, q in snapshot["asks"][:100]]
    # fetch_trades uses aggTrades: the first ones cover the first recorded trades in order.
    assert recent[0]["timestamp"] == trades[0]["T"] and recent[0]["price"] == float(trades[0]["p"])
    covered = sum(int(t["info"]["l"]) - int(t["info"]["f"]) + 1 for t in recent)
    assert math.isclose(sum(t["amount"] for t in recent), sum(float(t["q"]) for t in trades[:covered]), rel_tol=1e-9)
    assert all(t["side"] == ("sell" if by["m"] else "buy") for t, by in zip(recent, [trades[int(r["info"]["f"]) - trades[0]["t"]] for r in recent], strict=True))


# -- Bybit ---------------------------------------------------------------------------------------


def bybit_lines() -> list[dict[str, Any]]:
    with zipfile.ZipFile(data_file(BYBIT_FILE)) as archive:
        (member,) = archive.namelist()
        return [json.loads(line) for line in archive.read(member).splitlines() if line.strip()]


def test_replay_is_paced_by_the_recording_times_speed() -> None:
    """Bybit lines carry no receive time: they are paced by their "ts" (4.8 s here), at 4x."""
    lines = bybit_lines()
    span = (lines[-1]["ts"] - lines[0]["ts"]) / 1000

    async def scenario() -> tuple[float, float]:
        async with SimServer(market("bybit"), speed=4) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(server.ws_url) as ws:
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.500.XRPUSDT"]}))
                await ws.receive_str(timeout=10)
                await ws.receive_str(timeout=10)
                started = time.perf_counter()
                await receive(ws, len(lines) // 2 - 1)
                half = time.perf_counter() - started
                await receive(ws, len(lines) - len(lines) // 2)
                return half, time.perf_counter() - started

    half, whole = run(scenario)
    middle = (lines[len(lines) // 2]["ts"] - lines[0]["ts"]) / 1000
    assert middle / 4 - 0.05 <= half <= middle / 4 + 0.5
    assert span / 4 - 0.05 <= whole <= span / 4 + 0.5


def test_bybit_subscribe_snapshot_deltas_and_rest() -> None:
    lines = bybit_lines()
    topic = "orderbook.500.XRPUSDT"

    async def scenario() -> tuple[list[Any], list[str], Any, Any, Any, list[str]]:
        async with SimServer(market("bybit"), speed=0) as server, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.ws_connect(server.ws_url) as ws:
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["orderbook.50.XRPUSDT"], "req_id": "a"}))
                await ws.send_str(json.dumps({"op": "subscribe", "args": [topic], "req_id": "b"}))
                await ws.send_str(json.dumps({"op": "ping"}))
                replies = [json.loads(await ws.receive_str(timeout=10)) for _ in range(2)]
                frames = await receive(ws, len(lines) + 1)
                _, book, _ = await get(http, f"{server.api_url}/orderbook?category=linear&symbol=XRPUSDT&limit=200")
                _, info, _ = await get(http, f"{server.api_url}/instruments-info?category=linear&symbol=XRPUSDT")
                _, bad, _ = await get(http, f"{server.api_url}/orderbook?category=linear&symbol=BTCUSDT")
                # Subscribing again mid-replay opens with a fresh snapshot of the current book.
                await ws.send_str(json.dumps({"op": "unsubscribe", "args": [topic]}))
                await ws.send_str(json.dumps({"op": "subscribe", "args": [topic]}))
                again = await receive(ws, 3)
        return replies, frames, book, info, bad, again

    replies, frames, rest, info, bad, again = run(scenario)
    assert replies[0]["success"] is False and "orderbook.50.XRPUSDT" in replies[0]["ret_msg"]
    assert replies[1] == {"success": True, "ret_msg": "", "conn_id": replies[1]["conn_id"], "req_id": "b", "op": "subscribe"}
    pong = [json.loads(f) for f in frames if '"op":' in f]
    assert len(pong) == 1 and pong[0]["ret_msg"] == "pong"
    messages = [json.loads(f) for f in frames if '"op":' not in f]
    assert messages == lines and messages[0]["type"] == "snapshot"
    book = OrderBook("bybit", "XRPUSDT")
    assert [book.apply(json.dumps(m)) for m in messages] == ["snapshot"] + ["applied"] * (len(lines) - 1)
    bids, asks = book.top(200)
    result = rest["result"]
    assert rest["retCode"] == 0 and result["u"] == book.last_update_id == lines[-1]["data"]["u"]
    assert result["seq"] == lines[-1]["data"]["seq"]
    assert [[float(p), float(q)] for p, q in result["b"]] == bids.tolist()
    assert [[float(p), float(q)] for p, q in result["a"]] == asks.tolist()
    (instrument,) = info["result"]["list"]
    assert instrument["priceFilter"]["tickSize"] == "0.0001" and instrument["lotSizeFilter"]["qtyStep"] == "1"
    assert bad["retCode"] == 10001
    unsub, sub, snapshot = (json.loads(f) for f in again)
    assert unsub["op"] == "unsubscribe" and sub["op"] == "subscribe" and sub["success"]
    fresh = OrderBook("bybit", "XRPUSDT")
    assert snapshot["type"] == "snapshot" and fresh.apply(json.dumps(snapshot)) == "snapshot"
    assert fresh.top(500)[0].tolist() == book.top(500)[0].tolist()


# -- command line -------------------------------------------------------------------------------


def test_cli_sim_help_documents_the_fault_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for words in ("--recording", "--speed", "--fault", "drop-connection@N", "gap@N", "malformed@N", "rate-limit@W",
                  "rest-503@N", ":every"):
        assert words in text
    with pytest.raises(SystemExit):
        main(["sim", "--recording", "x", "--fault", "explode@1"])
    assert "unknown fault kind" in capsys.readouterr().err


def test_cli_sim_serves_a_client_until_interrupted() -> None:
    path = data_file(f"binance/{SPOT}")
    process, text, ws_url, rest = start_sim_cli(path, "--speed", "0", "--fault", "drop@1")
    try:
        assert "BTCUSDT on binance-spot" in text
        assert rest.endswith("/api/v3")

        async def client() -> tuple[list[str], Any]:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                async with http.ws_connect(f"{ws_url}?streams=btcusdt@trade") as ws:
                    frames = await receive(ws, 2)
                _, body, _ = await get(http, f"{rest}/depth?symbol=BTCUSDT&limit=5")
                return frames, body

        frames, body = run(client)
        trades = market(SPOT).streams["btcusdt@trade"].payloads
        assert [json.loads(f)["data"] for f in frames] == [json.loads(p) for p in trades[1:3]]  # drop@1
        assert len(body["bids"]) == 5
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
        assert process.returncode == 0
        assert "faults injected: drop 1" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_venue_detection_and_bad_recordings(tmp_path: Path) -> None:
    for name, venue in BINANCE_FILES.items():
        assert market(name).venue == venue
    assert market("bybit").venue == "bybit" and market("bybit").symbol == "XRPUSDT"
    assert market(CM).instrument.contract_size == 100 and market(CM).instrument.step_size == "1"
    assert market(SPOT).instrument.tick_size == "0.01000000" and market(SPOT).instrument.step_size == "0.00001000"
    empty = tmp_path / "empty.txt"
    empty.write_text("not a recording\n")
    with pytest.raises(RecordingError, match="cannot tell the venue"):
        load(empty)
    with pytest.raises(RecordingError, match="binance-spot's, not binance-usdm's"):
        load(data_file(f"binance/{SPOT}"), "binance-usdm")
    with pytest.raises(ValueError, match="speed"):
        SimServer(market(USDM), speed=-1)
    with pytest.raises(ValueError, match="shared clock needs a pace"):
        SimServer(market(USDM), speed=0, clock="shared")
