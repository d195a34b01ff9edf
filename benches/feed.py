"""Market-data feed benchmark: from the websocket frame to an updated book inside a running feed,
side by side with a feed written the usual way, in one run.

    python benches/feed.py                      # 3 runs of each contender (about 40 seconds)
    python benches/feed.py --runs 5 --file ../shared/data/binance/cm_btcusd_perp_20240808.gz

Each contender gets a fresh local exchange (`SimServer(file, speed=0)`: every frame as fast as
the client reads it) replaying a real Binance futures recording (default: USD-M BTCUSDT, 93,953
frames: 6,551 depth@0ms diffs, 21,313 trades, 66,089 bookTickers), and follows the symbol's
depth, trade and bookTicker streams over websockets, fetching the book snapshot over REST:
  - tradecore `LiveFeed`: each raw frame into the Rust `Feed` (book by Binance's rules, trade
    sequencing and 1m bars, every bookTicker checked against the book);
  - the usual way, as Python bots write it: `json.loads` per frame, dispatch on the stream name,
    two dicts price (float) -> qty (float), Binance's futures rules (diffs buffered until the
    aiohttp snapshot; drop u < lastUpdateId; first U <= lastUpdateId <= u; then pu == previous u),
    trades counted, the last bookTicker kept, and best bid/ask after every diff by `max(bids)` /
    `min(asks)` (what a dict book offers; O(levels), ~4,600 bids here);
  - the same with a `sortedcontainers.SortedDict` per side, best bid/ask by `peekitem` (the more
    careful bot: cheap to read, dearer to update), when sortedcontainers is installed;
  - websockets alone, frames read and dropped: what the transport and the local exchange allow,
    and the latency floor of the measurement itself.
All clients use `LiveFeed`'s websockets settings and the same tap. tradecore does more per frame
than the Python clients (trade-id checks, bars, bookTicker checks), never less.

Measured per frame: the receive time is taken right after websockets hands the frame over
(`LiveFeed` takes it itself); the tap, called right after the frame was applied, keeps it and the
time then. Receive-to-applied latency is the difference (the time a frame waited in websockets'
queue before is not part of it: at speed 0 the client is always behind, so that wait is backlog,
not the feed). msgs/s is frames / (last applied - first received). The table shows medians over
the runs of each run's msgs/s, median and p99; contenders are interleaved in rotating order,
since these machines are noisy. Each run checks that every client ends with the same book as
tradecore (top 20 levels a side, last update id), with no gap, having seen every trade, and
that its book was synced from the snapshot within the first 10% of the frames (before it, diffs
are only buffered); it fails loudly otherwise.

Where the local exchange runs (`--sim`): `process` (default) runs `python -m tradecore.cli sim
--speed 0` in a subprocess, so the exchange has the other core and msgs/s measures the client;
`inproc` runs `SimServer` in the client's event loop, where every client's msgs/s also pays for
the exchange and websockets (~13 µs a frame together, the websockets-alone row) and the msgs/s
ratios understate the clients' own differences. (Before the exchange yielded to its event loop
every 64 sends, a subprocess exchange at speed 0 answered REST only once its socket backed up and
snapshots came after most frames; the sync check above refuses such runs.) Latency is timed inside one synchronous stretch of the
client, which the exchange cannot interrupt; what is alive when a client starts (the exchange's
recording above all) is frozen out of the garbage collector (`gc.freeze`), so the clients'
collections do not walk it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import websockets

from tradecore.data.feed import VENUES, LiveFeed

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRADECORE_DATA", ROOT.parent / "shared" / "data"))
USDM = DATA / "binance" / "usdm_btcusdt_20240808.gz"
TOP = 20
#: The websockets settings of `LiveFeed._connection`, for every client here.
WS_OPTIONS: dict[str, Any] = dict(ping_interval=20, ping_timeout=20, max_size=None, open_timeout=10, compression=None)
REPLAY_TIMEOUT_S = 120.0

Levels = list[tuple[float, float]]
Tap = Callable[[int, "str | bytes", "str | None"], None]


# --- measuring ---------------------------------------------------------------------------------


class Probe:
    """The tap every client calls after applying a frame: two list appends, nothing else.
    A REST snapshot (bytes; `LiveFeed` shows them to its tap as it applies them, and so does the
    usual client) is not a frame: the tap notes how many frames came before it."""

    def __init__(self) -> None:
        self.recv: list[int] = []
        self.done: list[int] = []
        self.snapshot_after: int | None = None

    def tap(self) -> Tap:
        recv, done = self.recv, self.done
        recv_append, done_append, now = recv.append, done.append, time.time_ns

        def tap(received: int, frame: str | bytes, symbol: str | None) -> None:
            t = now()
            if frame.__class__ is not bytes:
                recv_append(received)
                done_append(t)
            else:
                self.snapshot_after = len(recv)

        return tap

    async def wait(self, frames: int) -> None:
        """Until ``frames`` frames were applied (polled, so the tap stays two appends)."""
        deadline = time.monotonic() + REPLAY_TIMEOUT_S
        while len(self.done) < frames:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replay stalled: {len(self.done):,} of {frames:,} frames after {REPLAY_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.02)


@dataclass
class Run:
    contender: str
    frames: int
    msgs_per_s: float
    median_ns: float
    p99_ns: float
    depth_median_ns: float
    depth_p99_ns: float


def summarize(contender: str, probe: Probe, depth: npt.NDArray[np.bool_]) -> Run:
    recv = np.asarray(probe.recv, dtype=np.int64)
    done = np.asarray(probe.done, dtype=np.int64)
    if len(recv) != len(depth):
        raise RuntimeError(f"{contender}: {len(recv):,} frames applied, the recording has {len(depth):,}")
    latency = done - recv
    seconds = (done[-1] - recv[0]) / 1e9
    return Run(
        contender,
        len(recv),
        len(recv) / seconds,
        float(np.median(latency)),
        float(np.percentile(latency, 99)),
        float(np.median(latency[depth])),
        float(np.percentile(latency[depth], 99)),
    )


# --- the local exchange --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def sim_process(recording: Path) -> AsyncIterator[tuple[str, str]]:
    """`tradecore sim --speed 0` in a subprocess; yields (ws_url, rest_url)."""
    with tempfile.TemporaryFile() as errors:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradecore.cli", "sim", "--recording", str(recording), "--speed", "0", "--port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=errors,
        )
        try:
            assert proc.stdout is not None
            ws_url = None
            while ws_url is None:
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                if not line:
                    errors.seek(0)
                    raise RuntimeError(f"tradecore sim exited: {errors.read().decode(errors='replace')[-2000:]}")
                found = re.search(rb"websocket\s+(ws://[^/\s]+)(/\S*)", line)
                if found:
                    ws_url = (found[1] + found[2]).decode()
            yield ws_url, "http://" + ws_url.split("://", 1)[1].split("/", 1)[0]
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


@contextlib.asynccontextmanager
async def sim_inproc(recording: Path) -> AsyncIterator[tuple[str, str]]:
    """`SimServer(recording, speed=0)` in this event loop; yields (ws_url, rest_url)."""
    from tradecore.sim import SimServer

    async with SimServer(recording, speed=0) as server:
        yield server.ws_url, server.rest_url


# --- the contenders ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a client's replay ended: the book's top levels, its last update id, trades seen."""

    bids: Levels
    asks: Levels
    last_update_id: int | None
    trades: int
    gaps: int


def streams_url(ws_url: str, venue: str, symbol: str) -> str:
    return f"{ws_url}?streams={'/'.join(VENUES[venue].streams(symbol))}"


async def tradecore_feed(ws_url: str, rest_url: str, venue: str, symbol: str, frames: int, probe: Probe) -> Outcome:
    feed = LiveFeed(venue, [symbol], ws_url=ws_url, rest_url=rest_url, tap=probe.tap())
    task = asyncio.ensure_future(feed.run())
    try:
        await probe.wait(frames)
    finally:
        feed.stop()
        await task
    book = feed.book(symbol)
    bids, asks = book.top(TOP)
    health = feed.core.health(symbol)
    return Outcome([(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks],
                   book.last_update_id, int(health["trades"]), int(health["gaps"]) + feed.stats.resyncs)


class DictBook:
    """The usual Python feed: json.loads, dispatch on the stream name, Binance futures rules.
    ``sorted_book`` keeps each side in a `SortedDict` instead of a dict."""

    def __init__(self, ws_url: str, rest_url: str, venue: str, symbol: str, tap: Tap, *, sorted_book: bool) -> None:
        spec = VENUES[venue]
        self.url = streams_url(ws_url, venue, symbol)
        self.snapshot_url = rest_url + spec.depth_path
        self.symbol = symbol
        self.tap = tap
        self.sorted_book = sorted_book
        depth, trade, ticker = spec.streams(symbol)
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            depth: self.on_depth, trade: self.on_trade, ticker: self.on_ticker,
        }
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last_update_id: int | None = None  # None: no snapshot yet, diffs are buffered
        self.first = True
        self.buffer: list[dict[str, Any]] = []
        self.snapshot_task: asyncio.Task[None] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.best_bid: float | None = None
        self.best_ask: float | None = None
        self.ticker: tuple[float, float] | None = None
        self.trades = 0
        self.last_price: float | None = None
        self.resyncs = 0
        self.ws: Any = None

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as self.http:
            async with websockets.connect(self.url, **WS_OPTIONS) as ws:
                self.ws = ws
                handlers, tap, symbol, loads, now = self.handlers, self.tap, self.symbol, json.loads, time.time_ns
                with contextlib.suppress(websockets.ConnectionClosed):
                    async for frame in ws:
                        recv = now()
                        message = loads(frame)
                        handler = handlers.get(message.get("stream"))
                        if handler is not None:
                            handler(message["data"])
                        tap(recv, frame, symbol)
            if self.snapshot_task is not None:
                self.snapshot_task.cancel()

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def on_trade(self, data: dict[str, Any]) -> None:
        self.trades += 1
        self.last_price = float(data["p"])

    def on_ticker(self, data: dict[str, Any]) -> None:
        self.ticker = (float(data["b"]), float(data["a"]))

    def on_depth(self, data: dict[str, Any]) -> None:
        if self.last_update_id is None:
            self.buffer.append(data)
            if self.snapshot_task is None:
                self.snapshot_task = asyncio.ensure_future(self.fetch_snapshot())
            return
        self.apply(data)

    def apply(self, d: dict[str, Any]) -> None:
        last = self.last_update_id
        assert last is not None
        u = d["u"]
        if self.first:
            if u < last:
                return  # older than the snapshot
            if not d["U"] <= last <= u:
                self.resync(d)
                return
        elif d["pu"] != last:
            self.resync(d)
            return
        bids, asks = self.bids, self.asks
        for p, q in d["b"]:
            if float(q) == 0.0:
                bids.pop(float(p), None)
            else:
                bids[float(p)] = float(q)
        for p, q in d["a"]:
            if float(q) == 0.0:
                asks.pop(float(p), None)
            else:
                asks[float(p)] = float(q)
        self.last_update_id = u
        self.first = False
        self.update_best()

    def update_best(self) -> None:
        if self.sorted_book:
            self.best_bid = self.bids.peekitem(-1)[0] if self.bids else None  # type: ignore[attr-defined]
            self.best_ask = self.asks.peekitem(0)[0] if self.asks else None  # type: ignore[attr-defined]
        else:
            self.best_bid = max(self.bids) if self.bids else None
            self.best_ask = min(self.asks) if self.asks else None

    def resync(self, d: dict[str, Any]) -> None:
        """A gap: start again from a new snapshot, buffering from this diff."""
        self.resyncs += 1
        self.last_update_id = None
        self.buffer = []
        self.on_depth(d)

    async def fetch_snapshot(self) -> None:
        assert self.http is not None
        async with self.http.get(self.snapshot_url, params={"symbol": self.symbol, "limit": 1000}) as response:
            response.raise_for_status()
            body = await response.read()
        self.tap(time.time_ns(), body, self.symbol)  # shown to the tap, as LiveFeed does
        snapshot = json.loads(body)
        bids = {float(p): float(q) for p, q in snapshot["bids"]}
        asks = {float(p): float(q) for p, q in snapshot["asks"]}
        if self.sorted_book:
            from sortedcontainers import SortedDict  # type: ignore[import-untyped]

            bids, asks = SortedDict(bids), SortedDict(asks)
        self.bids, self.asks = bids, asks
        self.last_update_id = snapshot["lastUpdateId"]
        self.first = True
        self.snapshot_task = None
        self.update_best()
        buffered, self.buffer = self.buffer, []
        for d in buffered:
            if self.last_update_id is None:
                self.buffer.append(d)  # a gap inside the buffer: resyncing already
            else:
                self.apply(d)

    def outcome(self) -> Outcome:
        bids = sorted(self.bids.items(), reverse=True)[:TOP]
        asks = sorted(self.asks.items())[:TOP]
        top = (bids[0][0] if bids else None, asks[0][0] if asks else None)
        if (self.best_bid, self.best_ask) != top:
            raise RuntimeError(f"best bid/ask kept as {self.best_bid}/{self.best_ask}, the book says {top[0]}/{top[1]}")
        return Outcome(bids, asks, self.last_update_id, self.trades, self.resyncs)


def dict_feed(sorted_book: bool) -> Callable[..., Coroutine[Any, Any, Outcome]]:
    async def run(ws_url: str, rest_url: str, venue: str, symbol: str, frames: int, probe: Probe) -> Outcome:
        client = DictBook(ws_url, rest_url, venue, symbol, probe.tap(), sorted_book=sorted_book)
        task = asyncio.ensure_future(client.run())
        try:
            await probe.wait(frames)
        finally:
            await client.stop()
            await task
        return client.outcome()

    return run


async def websockets_only(ws_url: str, rest_url: str, venue: str, symbol: str, frames: int, probe: Probe) -> None:
    tap = probe.tap()
    async with websockets.connect(streams_url(ws_url, venue, symbol), **WS_OPTIONS) as ws:
        now = time.time_ns
        async for frame in ws:
            tap(now(), frame, symbol)
            if len(probe.done) == frames:
                break


# --- running -----------------------------------------------------------------------------------

TRADECORE = "tradecore LiveFeed (Rust Feed)"
CEILING = "websockets alone, frames dropped"
USUAL = "json.loads + dicts, max()/min() per diff"
CONTENDERS: dict[str, Callable[..., Coroutine[Any, Any, Outcome | None]]] = {
    TRADECORE: tradecore_feed,
    USUAL: dict_feed(sorted_book=False),
    "json.loads + SortedDict per side": dict_feed(sorted_book=True),
    CEILING: websockets_only,
}


def check(name: str, got: Outcome, want: Outcome, trades: int) -> None:
    problems = []
    for side, mine, theirs in (("bid", got.bids, want.bids), ("ask", got.asks, want.asks)):
        if mine != theirs:
            k = next((i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y), min(len(mine), len(theirs)))
            problems.append(f"{side} level {k + 1} is {mine[k] if k < len(mine) else None} (price, qty), "
                            f"tradecore's {theirs[k] if k < len(theirs) else None}")
    if got.last_update_id != want.last_update_id:
        problems.append(f"last update id {got.last_update_id} vs tradecore's {want.last_update_id}")
    if got.trades != trades:
        problems.append(f"{got.trades:,} trades seen, the recording has {trades:,}")
    if got.gaps:
        problems.append(f"{got.gaps} sequence gap(s) or resync(s)")
    if len(got.bids) < TOP or len(got.asks) < TOP:
        problems.append(f"fewer than {TOP} levels a side")
    if problems:
        raise RuntimeError(f"{name} did not do the same work as tradecore: " + "; ".join(problems))


async def bench(recording: Path, runs: int, sim: str) -> list[Run]:
    from tradecore.sim import load

    market = load(recording)
    if market.venue not in ("binance-usdm", "binance-coinm"):
        raise SystemExit(f"{recording.name} is {market.venue}: this benchmark follows Binance futures (USD-M, COIN-M)")
    spec = VENUES[market.venue]
    depth_stream, trade_stream, _ = spec.streams(market.symbol)
    depth = np.zeros(market.size, dtype=np.bool_)
    depth[market.streams[depth_stream].points] = True
    trades = len(market.streams[trade_stream].points)
    frames, venue, symbol = market.size, market.venue, market.symbol
    del market
    server = sim_process if sim == "process" else sim_inproc
    names = [n for n in CONTENDERS if "SortedDict" not in n or _has_sortedcontainers()]
    results: list[Run] = []
    for k in range(runs):
        order = names[k % len(names):] + names[: k % len(names)]
        outcomes: dict[str, Outcome] = {}
        for name in order:
            async with server(recording) as (ws_url, rest_url):
                # What is alive now (above all the in-process exchange's recording) is never
                # garbage: frozen, so the clients' collections do not walk it.
                gc.collect()
                gc.freeze()
                probe = Probe()
                try:
                    outcome = await CONTENDERS[name](ws_url, rest_url, venue, symbol, frames, probe)
                finally:
                    gc.unfreeze()
                results.append(summarize(name, probe, depth))
            synced = "" if outcome is None else f", book synced after frame {probe.snapshot_after}"
            print(f"  run {k + 1}/{runs}: {name}: {results[-1].msgs_per_s:,.0f} msgs/s{synced}", file=sys.stderr)
            if outcome is not None:
                outcomes[name] = outcome
                if probe.snapshot_after is None or probe.snapshot_after > frames // 10:
                    raise RuntimeError(
                        f"{name}: the snapshot came after frame {probe.snapshot_after} of {frames:,}, so most "
                        "frames were only buffered, not applied, and the numbers would not compare equal work "
                        "(a local exchange in a subprocess answers REST late while it keeps up with a fast client)"
                    )
        for name, outcome in outcomes.items():
            check(name, outcome, outcomes[TRADECORE], trades)
    return results


def _has_sortedcontainers() -> bool:
    try:
        import sortedcontainers  # noqa: F401
    except ImportError:
        print("sortedcontainers is not installed: skipping the SortedDict client", file=sys.stderr)
        return False
    return True


# --- report ------------------------------------------------------------------------------------


def microseconds(ns: float) -> str:
    return f"{ns / 1e3:.2f} µs" if ns < 1e5 else f"{ns / 1e3:.0f} µs"


def medians(results: list[Run]) -> list[Run]:
    out = []
    for name in dict.fromkeys(r.contender for r in results):
        rs = [r for r in results if r.contender == name]
        out.append(Run(name, rs[0].frames, *(statistics.median(getattr(r, f) for r in rs) for f in
                                              ("msgs_per_s", "median_ns", "p99_ns", "depth_median_ns", "depth_p99_ns"))))
    return out


def ratio(x: float, reference: float, more: str, less: str) -> str:
    r = x / reference
    return "about the same" if 1 / 1.05 < r < 1.05 else f"{r:.1f}x {more}" if r > 1 else f"{1 / r:.1f}x {less}"


def report(rows: list[Run]) -> str:
    ours = next(r for r in rows if r.contender == TRADECORE)
    ceiling = next(r for r in rows if r.contender == CEILING)
    lines = [
        "| contender | msgs/s | median latency | p99 latency | depth diffs: median / p99 | vs tradecore |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: -r.msgs_per_s):
        if r is ours:
            versus = "reference"
        elif r is ceiling:
            versus = f"msgs/s {ratio(r.msgs_per_s, ours.msgs_per_s, 'higher', 'lower')} (no work done)"
        else:
            versus = (f"msgs/s {ratio(r.msgs_per_s, ours.msgs_per_s, 'higher', 'lower')}; "
                      f"latency {ratio(r.median_ns, ours.median_ns, 'higher', 'lower')}, "
                      f"p99 {ratio(r.p99_ns, ours.p99_ns, 'higher', 'lower')}")
        lines.append(
            f"| {r.contender} | {r.msgs_per_s:,.0f} | {microseconds(r.median_ns)} | {microseconds(r.p99_ns)} "
            f"| {microseconds(r.depth_median_ns)} / {microseconds(r.depth_p99_ns)} | {versus} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="replays per contender; medians are shown (default 3)")
    parser.add_argument("--file", type=Path, default=USDM, help="a Binance futures recording (default: %(default)s)")
    parser.add_argument("--sim", choices=("inproc", "process"), default="process",
                        help="the local exchange in a subprocess on the other core (default) or in this event loop "
                        "(then msgs/s also pays for the exchange; see the docstring)")
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"the recording is missing: {args.file} (set TRADECORE_DATA or pass --file)", file=sys.stderr)
        return 2
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    rows = medians(asyncio.run(bench(args.file, args.runs, args.sim)))
    where = "in the client's event loop" if args.sim == "inproc" else "in a subprocess"
    print(f"{args.file.name}: {rows[0].frames:,} frames, local exchange {where}; medians of {args.runs} run(s)")
    print()
    print(report(rows))
    ours = next(r for r in rows if r.contender == TRADECORE)
    usual = next(r for r in rows if r.contender == USUAL)
    print()
    print(
        f"goals: measure, inside the running feed, websocket frame read -> book applied, against the usual "
        f"way doing the same work: tradecore {ours.msgs_per_s:,.0f} msgs/s "
        f"({ours.msgs_per_s / usual.msgs_per_s:.1f}x json.loads + dicts), receive-to-applied median "
        f"{microseconds(ours.median_ns)} ({usual.median_ns / ours.median_ns:.1f}x lower), p99 {microseconds(ours.p99_ns)} "
        f"({usual.p99_ns / ours.p99_ns:.1f}x lower); no targets set yet"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
