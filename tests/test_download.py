"""Downloading history (tradecore.data.history, ``tradecore download``) against the local exchange:
ccxt's own fetch_ohlcv and fetch_trades, paginated into the store; resumable; through a 429 storm
without a ban and through 503s; and the command line. The references are built here from the
recorded trades (pandas), independently of tradecore."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pandas as pd
import pytest

from conftest import data_file
from tradecore.cli import main
from tradecore.data.history import Downloader, RateLimiter, TaskReport, parse_time, point_at
from tradecore.data.store import Store
from tradecore.errors import DownloadError, InvalidArgumentError
from tradecore.sim import FaultPlan, Market, SimServer, load

ccxt = pytest.importorskip("ccxt.async_support")

T = TypeVar("T")
USDM, SPOT = "usdm_btcusdt_20240808.gz", "spot_btcusdt_20240808.gz"
VENUE, SYMBOL = "binanceusdm", "BTC/USDT:USDT"
MINUTE = 60_000
T_2350, T_2354, T_2355, T_2356, T_2357, T_2359 = (
    parse_time(f"2024-08-08T23:{minute}:00Z") for minute in (50, 54, 55, 56, 57, 59)
)
T_0000 = parse_time("2024-08-09")  # the USD-M recording's trades run 23:54:16 .. 23:59:59
RATE_MS = 5  # ccxt's pace (ms per unit of request weight) in these tests: the local exchange is fast


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(factory(), 60))  # type: ignore[arg-type]


_markets: dict[str, Market] = {}
_trades: dict[str, pd.DataFrame] = {}


def market(name: str) -> Market:
    if name not in _markets:
        _markets[name] = load(data_file(f"binance/{name}"))
    return _markets[name]


def recorded_trades(name: str) -> pd.DataFrame:
    """The recording's @trade messages (T, t, p, q, m), parsed here with json and pandas."""
    if name not in _trades:
        rows = []
        with gzip.open(data_file(f"binance/{name}"), "rt") as f:
            for line in f:
                message = json.loads(line.split(" ", 1)[1])
                if message.get("stream", "").endswith("@trade"):
                    d = message["data"]
                    rows.append((d["T"], d["t"], d["p"], float(d["p"]), float(d["q"]), d["m"]))
        _trades[name] = pd.DataFrame(rows, columns=["T", "t", "p_text", "p", "q", "m"])
    return _trades[name]


def reference_bars(name: str, rule: str, start: int, end: int) -> pd.DataFrame:
    """Bars by pandas resample of the recorded trades (quiet intervals flat at the last close),
    indexed by open time in ms, those opening in [start, end)."""
    trades = recorded_trades(name)
    frame = trades.set_index(pd.to_datetime(trades["T"], unit="ms", utc=True))
    bars = frame["p"].resample(rule).ohlc()
    bars["volume"] = frame["q"].resample(rule).sum()
    bars["close"] = bars["close"].ffill()
    for column in ("open", "high", "low"):
        bars[column] = bars[column].fillna(bars["close"])
    bars.index = [int(t.timestamp() * 1000) for t in bars.index]
    return bars[(bars.index >= start) & (bars.index < end)]


def reference_agg_trades(name: str, start: int, end: int) -> pd.DataFrame:
    """Binance aggregate trades: maximal runs of consecutive trades with one price, taker side and
    time; ids count from the first recorded trade's id."""
    trades = recorded_trades(name)
    new_run = (trades["p_text"] != trades["p_text"].shift()) | (trades["m"] != trades["m"].shift()) | (
        trades["T"] != trades["T"].shift())
    group = new_run.cumsum() - 1
    agg = trades.groupby(group).agg(ts=("T", "first"), price=("p", "first"), qty=("q", "sum"), m=("m", "first"))
    agg["trade_id"] = [str(int(trades["t"].iloc[0]) + i) for i in agg.index]
    agg["taker_buy"] = ~agg["m"]
    return agg[(agg["ts"] >= start) & (agg["ts"] < end)].reset_index(drop=True)


def stored_bars(root: Path, timeframe: str, symbol: str = SYMBOL, venue: str = VENUE) -> pd.DataFrame:
    table = Store(root).read_candles(venue, symbol, timeframe)
    frame = table.select(["open", "high", "low", "close", "volume", "closed"]).to_pandas()
    frame.index = table.column("open_time").cast("int64").to_pylist()
    return frame


def assert_bars_equal(stored: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(stored.index) == list(want.index)
    assert stored.index.is_unique
    prices = ["open", "high", "low", "close"]
    assert stored[prices].values.tolist() == want[prices].values.tolist()
    for got, expected in zip(stored["volume"], want["volume"], strict=True):
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


def part_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")}


class Counted:
    """The exchange's fetch_ohlcv, recording each call's (timeframe, since, limit); ``before`` runs
    ahead of each call (to inject faults mid-download)."""

    def __init__(self, exchange: Any, before: Callable[[int], None] | None = None) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self._fetch = exchange.fetch_ohlcv
        self._before = before
        exchange.fetch_ohlcv = self

    async def __call__(self, symbol: str, timeframe: str, since: int, limit: int) -> Any:
        if self._before is not None:
            self._before(len(self.calls))
        self.calls.append((timeframe, since, limit))
        return await self._fetch(symbol, timeframe, since, limit)


def client(server: SimServer, exchange_id: str = VENUE) -> Any:
    exchange = getattr(ccxt, exchange_id)({"rateLimit": RATE_MS})
    exchange.urls["api"] = {**exchange.urls["api"], **server.ccxt_urls()}
    return exchange


async def fetch(
    server: SimServer,
    root: Path,
    timeframes: list[str],
    since: int,
    until: int | None,
    *,
    exchange_id: str = VENUE,
    symbols: tuple[str, ...] = ("BTCUSDT",),
    before: Callable[[int], None] | None = None,
    trades: bool = False,
    raise_errors: bool = True,
    **options: Any,
) -> tuple[list[TaskReport], Counted, Downloader]:
    exchange = client(server, exchange_id)
    counted = Counted(exchange, before)
    try:
        downloader = Downloader(exchange, root, **options)
        reports = await downloader.run(list(symbols), timeframes, since, until, trades=trades,
                                       raise_errors=raise_errors)
        return reports, counted, downloader
    finally:
        await exchange.close()


def by_label(reports: list[TaskReport]) -> dict[str, TaskReport]:
    return {r.timeframe or "trades": r for r in reports}


# -- ccxt's fetch_ohlcv, paginated into the store ----------------------------------------------


def test_download_pages_bars_into_the_store_equal_to_the_recorded_trades(tmp_path: Path) -> None:
    """The whole recording as 1m and 5m bars, two bars per request: the store holds exactly the
    bars pandas makes of the recorded trades, once each; the exchange's newest bar of each
    timeframe is stored as still forming (the local exchange's clock is the recording's start,
    and no later bar exists), every other one closed."""
    async def scenario() -> tuple[list[TaskReport], Counted, Downloader, list[list[Any]]]:
        async with SimServer(market(USDM), speed=0) as server:
            reports, counted, downloader = await fetch(server, tmp_path, ["1m", "5m"], T_2350, T_0000, page=2)
            return reports, counted, downloader, server.venue.kline_rows("1m")  # type: ignore[attr-defined]

    reports, counted, downloader, sim_klines = run(scenario)
    one, five = stored_bars(tmp_path, "1m"), stored_bars(tmp_path, "5m")
    assert_bars_equal(one, reference_bars(USDM, "1min", T_2350, T_0000))
    assert_bars_equal(five, reference_bars(USDM, "5min", T_2350, T_0000))
    assert len(one) == 6 and list(five.index) == [T_2350, T_2350 + 5 * MINUTE]
    assert [row[0] for row in sim_klines] == list(one.index)
    assert [float(row[4]) for row in sim_klines] == one["close"].tolist()
    assert one["closed"].tolist() == [True] * 5 + [False]
    assert five["closed"].tolist() == [True, False]
    assert all(limit <= 2 for _, _, limit in counted.calls), "pages of at most `page` bars"
    r = by_label(reports)
    assert (r["1m"].to_fetch, r["1m"].fetched, r["1m"].present, r["1m"].error) == (10, 6, 0, None)
    assert (r["5m"].to_fetch, r["5m"].fetched, r["5m"].open_bar) == (2, 2, True)
    assert r["1m"].requests == sum(1 for tf, _, _ in counted.calls if tf == "1m") >= 5
    assert downloader.setup_requests == 2  # markets and the exchange's clock
    one_minute_starts = [since for tf, since, _ in counted.calls if tf == "1m"]
    assert one_minute_starts == sorted(one_minute_starts) and one_minute_starts[0] == T_2350


def test_one_second_bars_of_spot(tmp_path: Path) -> None:
    """Binance spot serves 1s bars (quiet seconds flat): one minute of them, 25 per request."""
    start, end = T_2355, T_2356

    async def scenario() -> tuple[list[TaskReport], Counted, Downloader]:
        async with SimServer(market(SPOT), speed=0) as server:
            return await fetch(server, tmp_path, ["1s"], start, end, exchange_id="binance", page=25)

    reports, counted, _ = run(scenario)
    stored = stored_bars(tmp_path, "1s", symbol="BTC/USDT", venue="binance")
    assert_bars_equal(stored, reference_bars(SPOT, "1s", start, end))
    assert len(stored) == 60 and stored["closed"].all()
    assert [since for _, since, _ in counted.calls] == [start, start + 24_000, start + 48_000]
    assert reports[0].fetched == 60


# -- resuming ------------------------------------------------------------------------------------


def test_a_second_run_fetches_nothing_it_has(tmp_path: Path) -> None:
    """After a download, a run over a range the store holds closed sends no kline request and
    writes nothing; re-running the whole download only asks again for the bars the exchange does
    not have (before the recording) and for the forming ones, and changes nothing."""
    async def scenario() -> tuple[Any, ...]:
        async with SimServer(market(USDM), speed=0) as server:
            await fetch(server, tmp_path, ["1m", "5m"], T_2350, T_0000, page=2)
            files = part_files(tmp_path)
            complete = await fetch(server, tmp_path, ["1m"], T_2354, T_2359, page=2)
            files_after_complete = part_files(tmp_path)
            again = await fetch(server, tmp_path, ["1m", "5m"], T_2350, T_0000, page=2)
            return files, complete, files_after_complete, again, part_files(tmp_path)

    files, complete, files_after_complete, again, files_after_again = run(scenario)
    (report,), counted, _ = complete
    assert counted.calls == [] and report.requests == 0
    assert (report.to_fetch, report.present, report.fetched) == (0, 5, 0)
    assert files_after_complete == files_after_again == files
    reports, counted, _ = again
    r = by_label(reports)
    # 1m: the four minutes before the first trade (one request finds they do not exist) and the
    # forming bar; 5m: the forming bar.
    assert (r["1m"].to_fetch, r["1m"].present, r["1m"].fetched) == (5, 5, 1)
    assert (r["5m"].to_fetch, r["5m"].present, r["5m"].fetched) == (1, 1, 1)
    assert sorted(counted.calls) == [("1m", T_2350, 2), ("1m", T_2359, 2), ("5m", T_2350 + 5 * MINUTE, 2)]
    assert_bars_equal(stored_bars(tmp_path, "1m"), reference_bars(USDM, "1min", T_2350, T_0000))


def test_an_interrupted_download_resumes_with_exactly_the_missing_bars(tmp_path: Path) -> None:
    """A 503 storm after two pages exhausts the retries: the task fails naming the exchange,
    symbol, timeframe and the interval still missing, the two pages are stored, and the next run
    starts where it stopped and completes the series."""
    plan = FaultPlan()

    def storm_after_two_pages(calls: int) -> None:
        if calls == 2:
            plan.add(f"rest-503@{plan.rest_requests + 1}x100")

    async def scenario() -> tuple[DownloadError, pd.DataFrame, Any]:
        async with SimServer(market(USDM), speed=0, faults=plan) as server:
            with pytest.raises(DownloadError) as failed:
                await fetch(server, tmp_path, ["1m"], T_2354, T_0000, page=2, retries=2, backoff=0.01,
                            before=storm_after_two_pages)
            partial = stored_bars(tmp_path, "1m")
            plan.clear()
            return failed.value, partial, await fetch(server, tmp_path, ["1m"], T_2354, T_0000, page=2)

    error, partial, (reports, counted, _) = run(scenario)
    assert (error.exchange, error.symbol, error.timeframe) == (VENUE, SYMBOL, "1m")
    assert error.interval == (T_2356, T_0000) and error.attempts == 3
    for words in ("binanceusdm", "BTC/USDT:USDT 1m", "[2024-08-08T23:56:00Z, 2024-08-09T00:00:00Z)", "3 times"):
        assert words in str(error)
    assert plan.injected["rest-503"] == 3
    assert list(partial.index) == [T_2354, T_2355, T_2356] and partial["closed"].tolist() == [True, True, False]
    (report,) = reports
    assert (report.to_fetch, report.present, report.fetched, report.error) == (4, 2, 4, None)
    assert counted.calls[0][1] == T_2356, "resumes at the first bar it does not hold closed"
    assert_bars_equal(stored_bars(tmp_path, "1m"), reference_bars(USDM, "1min", T_2354, T_0000))


# -- rate limits and transient errors -------------------------------------------------------------


def test_a_429_storm_slows_the_client_down_without_a_ban(tmp_path: Path) -> None:
    """A budget of 3 request weight per second: the downloader meets 429s, waits Retry-After with
    every task, slows ccxt's pace, is never banned (418) and stores the same bars. A client that
    ignores Retry-After on the same budget is banned: the fault is real."""
    async def scenario() -> tuple[Any, ...]:
        async with SimServer(market(USDM), speed=0, faults=FaultPlan(["rate-limit@3:1"])) as server:
            started = time.monotonic()
            reports, counted, downloader = await fetch(server, tmp_path, ["1m", "5m"], T_2350, T_0000, page=2)
            seconds = time.monotonic() - started
            injected = server.injected
        async with SimServer(market(USDM), speed=0, faults=FaultPlan(["rate-limit@3:1"])) as naive:
            async with aiohttp.ClientSession() as http:
                statuses = []
                for _ in range(10):
                    async with http.get(f"{naive.api_url}/ping") as response:
                        statuses.append(response.status)
            return reports, counted, downloader, seconds, injected, statuses, naive.injected

    reports, counted, downloader, seconds, injected, statuses, naive = run(scenario)
    limiter = downloader.limiter
    assert injected.get("ban", 0) == 0
    assert injected["rate-limit"] >= 2
    assert sum(r.rate_limit_waits for r in reports) == limiter.rate_limited == injected["rate-limit"]
    assert limiter.peak_ms >= 2 * RATE_MS and limiter.waited >= 1.0 and seconds >= 1.0
    assert all(r.error is None for r in reports)
    assert_bars_equal(stored_bars(tmp_path, "1m"), reference_bars(USDM, "1min", T_2350, T_0000))
    assert_bars_equal(stored_bars(tmp_path, "5m"), reference_bars(USDM, "5min", T_2350, T_0000))
    # 3 per window (at most one window boundary in these few milliseconds), then 429, then banned.
    assert statuses.count(200) <= 6 and 429 in statuses and 418 in statuses[statuses.index(429):]
    assert naive["ban"] >= 1


def test_the_limiter_slows_down_caps_and_eases_back() -> None:
    now = [100.0]
    exchange = ccxt.binanceusdm()
    limiter = RateLimiter.of(exchange, max_rate_limit_ms=300.0, clock=lambda: now[0])
    assert RateLimiter.of(exchange) is limiter, "one limiter per exchange instance"
    base = limiter.base_ms
    assert limiter.limited(429, {"Retry-After": "2"}) == 2.0 and limiter.backing_off() == 2.0
    assert exchange.rateLimit == 2 * base and exchange.throttler.config["refillRate"] == 1 / (2 * base)
    pauses = [limiter.limited(429, {}) for _ in range(5)]  # no Retry-After: 2, 4, 8, 16, 32 s, jittered down
    assert all(2 ** (n + 1) * 0.5 <= pause <= 2 ** (n + 1) for n, pause in enumerate(pauses))
    assert limiter.backing_off() == pytest.approx(max(pauses))
    assert exchange.rateLimit == 300.0 and limiter.rate_limited == 6 and limiter.peak_ms == 300.0
    now[0] += 60
    assert limiter.backing_off() == 0
    limiter.succeeded()
    assert exchange.rateLimit == pytest.approx(300 - (300 - base) * 0.1)
    for _ in range(100):
        limiter.succeeded()
    assert exchange.rateLimit == base
    assert limiter.limited(418, {"Retry-After": "7"}) == 7.0
    assert limiter.banned == 1 and limiter.backing_off() == 7.0
    assert 1.0 <= limiter.limited(429, {}) <= 2.0, "the second in a row"
    limiter.succeeded()
    assert limiter.limited(429, {}) <= 1.0, "the exponential back-off restarts after a success"


def test_503s_are_retried(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[TaskReport], dict[str, int]]:
        async with SimServer(market(USDM), speed=0, faults=FaultPlan(["rest-503@3x2"])) as server:
            reports, _, _ = await fetch(server, tmp_path, ["1m"], T_2354, T_0000, page=2, backoff=0.01)
            return reports, server.injected

    (report,), injected = run(scenario)
    assert injected["rest-503"] == 2 and report.retries == 2 and report.error is None
    assert_bars_equal(stored_bars(tmp_path, "1m"), reference_bars(USDM, "1min", T_2354, T_0000))


# -- trades -----------------------------------------------------------------------------------------


def test_trades_are_the_exchanges_aggregate_trades_and_resume_by_id(tmp_path: Path) -> None:
    """ccxt's fetch_trades on Binance gives aggregate trades: 90 s of them, 300 per request, equal
    the runs of the recorded trades; a second run over the same range fetches nothing and a wider
    one fetches only the trades before and after."""
    start, end = T_2355, T_2356 + 30_000

    async def scenario() -> tuple[Any, ...]:
        async with SimServer(market(USDM), speed=0) as server:
            first, _, _ = await fetch(server, tmp_path, [], start, end, trades=True, trade_page=300)
            files = part_files(tmp_path)
            again, _, _ = await fetch(server, tmp_path, [], start, end, trades=True, trade_page=300)
            files_again = part_files(tmp_path)
            wider, _, _ = await fetch(server, tmp_path, [], T_2354, T_2357, trades=True, trade_page=1000)
            return first, files, again, files_again, wider

    (first,), files, (again,), files_again, (wider,) = run(scenario)
    want = reference_agg_trades(USDM, start, end)
    assert len(want) > 600
    stored = Store(tmp_path).read_trades(VENUE, SYMBOL, start, end).to_pandas()
    assert stored["trade_id"].tolist() == want["trade_id"].tolist()
    assert [int(t.timestamp() * 1000) for t in stored["ts"]] == want["ts"].tolist()
    assert stored["price"].tolist() == want["price"].tolist()
    assert stored["taker_buy"].tolist() == want["taker_buy"].tolist()
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(stored["qty"], want["qty"], strict=True))
    assert (first.fetched, first.present, first.error) == (len(want), 0, None)
    assert first.requests >= math.ceil(len(want) / 300)
    assert (again.fetched, again.present) == (0, len(want)) and again.requests <= 2 and files_again == files
    everything = reference_agg_trades(USDM, T_2354, T_2357)
    assert (wider.fetched, wider.present) == (len(everything) - len(want), len(want))
    assert Store(tmp_path).read_trades(VENUE, SYMBOL)["trade_id"].to_pylist() == everything["trade_id"].tolist()


# -- the command line -------------------------------------------------------------------------------


@contextlib.contextmanager
def sim_in_thread(name: str, faults: FaultPlan | None = None) -> Iterator[SimServer]:
    """A local exchange on its own event loop in a thread, for commands run in a subprocess."""
    loop = asyncio.new_event_loop()
    server = SimServer(market(name), speed=0, faults=faults)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(20), "the local exchange did not start"
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradecore.cli", "download", *args],
                          capture_output=True, text=True, timeout=60)


def table_row(text: str, data: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.split()[1:2] == [data])


def test_cli_downloads_through_rest_url_and_a_second_run_has_nothing_to_fetch(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with sim_in_thread(USDM) as server:
        common = ["--exchange", "binanceusdm", "--symbols", "BTCUSDT", "--timeframes", "1m", "3m",
                  "--until", "2024-08-08T23:57:00Z", "--store", str(store), "--rest-url", server.api_url]
        first = cli(*common, "--since", "2024-08-08 23:54")
        second = cli(*common, "--since", str(T_2354))
    assert first.returncode == 0, first.stderr
    assert "binanceusdm 2024-08-08 23:54:00 … 2024-08-08 23:57:00 UTC" in first.stdout
    # symbol, data, missing, fetched, stored, requests, 429 waits, status
    assert table_row(first.stdout, "1m")[:5] == ["BTC/USDT:USDT", "1m", "3", "3", "0"]
    assert table_row(first.stdout, "3m")[:5] == ["BTC/USDT:USDT", "3m", "1", "1", "0"]
    assert "fetched 4 bar(s)" in first.stdout
    assert_bars_equal(stored_bars(store, "1m"), reference_bars(USDM, "1min", T_2354, T_2357))
    assert_bars_equal(stored_bars(store, "3m"), reference_bars(USDM, "3min", T_2354, T_2357))
    assert second.returncode == 0, second.stderr
    assert table_row(second.stdout, "1m")[2:] == ["0", "0", "3", "0", "0", "up", "to", "date"]
    assert "nothing to fetch" in second.stdout


def test_cli_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["download", "--symbols", "BTCUSDT", "--store", str(tmp_path)]
    for args, words in (
        (["--exchange", "binanceusdn", "--timeframes", "1m", "--since", "2024-08-08"], "did you mean binanceusdm"),
        (["--exchange", "binanceusdm", "--timeframes", "1m,1x", "--since", "2024-08-08"], "bad timeframe '1x'"),
        (["--exchange", "binanceusdm", "--timeframes", "1m", "--since", "yesterday"], "bad time 'yesterday'"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(base + args)
        assert exit_info.value.code == 2
        assert words in capsys.readouterr().err
    with sim_in_thread(USDM) as server:
        local = ["--exchange", "binanceusdm", "--rest-url", server.rest_url, "--since", "2024-08-08T23:54Z"]
        cases = [
            (["--symbols", "ETHUSDT", "--timeframes", "1m"],
             "binanceusdm has no market 'ETHUSDT'; did you mean BTC/USDT:USDT?"),
            (["--symbols", "BTCUSDT", "--timeframes", "7m"], "binanceusdm has no 7m bars; it offers 1s, 1m"),
            (["--symbols", "BTCUSDT", "--timeframes", "1m", "--until", "2024-08-08T23:00Z"], "must be after since"),
            (["--symbols", "BTCUSDT"], "nothing to download"),
            # ccxt lists 1s for every Binance class; USD-M refuses it: no retries, the task fails.
            (["--symbols", "BTCUSDT", "--timeframes", "1s", "--until", "2024-08-08T23:55Z"],
             "binanceusdm BTC/USDT:USDT 1s [2024-08-08T23:54:00Z, 2024-08-08T23:55:00Z): refused: BadRequest"),
        ]
        for args, words in cases:
            code = main(["download", "--store", str(tmp_path), *local, *args])
            captured = capsys.readouterr()
            assert code == 1, captured
            assert words in captured.err
        assert server.injected == {}


def test_times_and_urls() -> None:
    assert parse_time("2024-08-08") == parse_time("2024-08-08T00:00:00Z") == 1723075200000
    assert parse_time("2024-08-08 02:00+02:00") == 1723075200000 == parse_time("1723075200000")
    with pytest.raises(InvalidArgumentError, match="bad time"):
        parse_time("08/08/2024")
    usdm, bybit = ccxt.binanceusdm(), ccxt.bybit()
    point_at(usdm, "http://127.0.0.1:9/fapi/v1")
    assert usdm.urls["api"]["fapiPublic"] == "http://127.0.0.1:9/fapi/v1"
    assert usdm.urls["api"]["public"] == "http://127.0.0.1:9/api/v3"
    point_at(bybit, "http://127.0.0.1:9/v5/market/")
    assert set(bybit.urls["api"].values()) == {"http://127.0.0.1:9"}
    with pytest.raises(InvalidArgumentError, match="bad REST URL"):
        point_at(usdm, "127.0.0.1:9")
