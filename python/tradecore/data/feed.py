"""Live market data over websockets: raw frames go straight into the Rust :class:`~tradecore.Feed`
(one parse per frame, no Python JSON on the hot path), and this module does the I/O around it.

- Subscribes the venue's depth, trade and bookTicker streams for each symbol (runtime
  :meth:`LiveFeed.subscribe` / :meth:`LiveFeed.unsubscribe` too); websockets answers the server's
  pings, and Bybit also gets its application-level ``{"op":"ping"}``.
- Reconnects with exponential backoff and full jitter; a connection silent for
  ``Limits.stale_after_s`` is dropped and reopened.
- Resynchronises a book from a REST snapshot whenever the core reports it out of sync (first
  connect, a sequence gap, a reconnect); diffs are buffered meanwhile by the core.
- Completes trades from REST when the core reports trades missing, so no bar loses or
  double-counts a trade. Binance numbers its trades: a hole in the ids (lost frames, a
  disconnect) is filled from ``historicalTrades``. Bybit's ids are no sequence: after a
  disconnect the new connection's trades are held until ``recent-trade`` (the newest 1000) fills
  the gap before them; an answer that cannot reach back that far is counted and reported.
- Counts and logs malformed frames; a bad frame never stops the feed or touches a book.
- Reports health per symbol (:meth:`LiveFeed.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

from tradecore._core import Candle, Feed
from tradecore.errors import MessageError, TradecoreError

log = logging.getLogger("tradecore.feed")

#: Flags of a frame that ask for work; most frames have none of them.
_ATTENTION: Final = Feed.RESYNC | Feed.TRADE_HOLE | Feed.CANDLES | Feed.TICKER_MISMATCH | Feed.JUMP
_SUBSCRIBE_TIMEOUT_S: Final = 10.0


class FeedError(TradecoreError):
    """A feed cannot work as configured (unknown venue, bad URL, a symbol not followed)."""


@dataclass(frozen=True)
class VenueSpec:
    """Where a venue lives and how its streams are named."""

    ws_url: str
    rest_url: str
    depth_path: str
    trades_path: str | None
    depth_stream: str
    trade_stream: str
    ticker_stream: str | None

    def streams(self, symbol: str) -> list[str]:
        names = [self.depth_stream, self.trade_stream, self.ticker_stream]
        return [n.format(lower=symbol.lower(), upper=symbol.upper()) for n in names if n]


VENUES: Final[dict[str, VenueSpec]] = {
    "binance-spot": VenueSpec(
        "wss://stream.binance.com:9443/stream", "https://api.binance.com", "/api/v3/depth",
        "/api/v3/historicalTrades", "{lower}@depth@100ms", "{lower}@trade", "{lower}@bookTicker"),
    "binance-usdm": VenueSpec(
        "wss://fstream.binance.com/stream", "https://fapi.binance.com", "/fapi/v1/depth",
        "/fapi/v1/historicalTrades", "{lower}@depth@0ms", "{lower}@trade", "{lower}@bookTicker"),
    "binance-coinm": VenueSpec(
        "wss://dstream.binance.com/stream", "https://dapi.binance.com", "/dapi/v1/depth",
        "/dapi/v1/historicalTrades", "{lower}@depth@0ms", "{lower}@trade", "{lower}@bookTicker"),
    "bybit": VenueSpec(
        "wss://stream.bybit.com/v5/public/linear", "https://api.bybit.com", "/v5/market/orderbook",
        "/v5/market/recent-trade", "orderbook.500.{upper}", "publicTrade.{upper}", None),
}


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``first`` doubling up to ``most`` seconds, each drawn uniformly from
    [0, delay] (full jitter, so many clients do not reconnect in step)."""

    first: float = 0.5
    most: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.most, self.first * 2**attempt))


@dataclass(frozen=True)
class Limits:
    """When a stream counts as unhealthy."""

    #: No message on the connection for this long: the stream is stale and is reopened.
    stale_after_s: float = 10.0
    #: Receive time minus exchange time beyond this (either way) is reported as clock skew.
    skew_ms: float = 1_000.0
    #: REST attempts (snapshot or trades) before a resync or backfill is given up for now.
    rest_attempts: int = 8
    #: How long a trade hole may close by itself (a reordered frame) before REST is asked; on
    #: Bybit, how long the new connection streams before REST is asked (the answer must reach
    #: its first trades).
    hole_grace_s: float = 0.2
    #: Bybit: how many of the newest trades a backfill asks for (the venue gives at most 1000);
    #: a disconnect that missed more leaves its gap unfilled (counted, and said in health).
    recent_trades: int = 1000


@dataclass
class FeedStats:
    """What the feed did, over all its connections."""

    connections: int = 0
    reconnects: int = 0
    resyncs: int = 0
    snapshots_fetched: int = 0
    backfills: int = 0
    trades_given_up: int = 0
    malformed: int = 0
    ticker_mismatches: int = 0
    jumps: int = 0
    rest_errors: int = 0
    rate_limited: int = 0
    #: Requests the venue refused (e.g. a subscription to a topic it does not have).
    refused: int = 0
    candles: int = 0


@dataclass(frozen=True)
class Health:
    """One symbol's data health. ``problems`` says in words what is wrong (empty when fine)."""

    symbol: str
    synced: bool
    seconds_since_message: float | None
    clock_skew_ms: float | None
    trade_hole: tuple[int, int] | None
    jumps: int
    tickers_checked: int
    tickers_mismatched: int
    problems: list[str]
    figures: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


#: Receives (receive time ns, raw frame, symbol or None) for every frame and REST snapshot.
Tap = Callable[[int, "str | bytes", "str | None"], None]
OnCandle = Callable[[str, Candle], None]


class LiveFeed:
    """A live feed of ``symbols`` on ``venue`` (``binance-spot``, ``binance-usdm``,
    ``binance-coinm`` or ``bybit``). ``ws_url`` / ``rest_url`` point it elsewhere (a local
    exchange: ``tradecore sim``). Closed bars go to ``on_candle`` (or pile up in ``candles``);
    ``tap`` sees every raw frame and snapshot (the recorder uses it); ``on_flags`` gets the
    core's flags and the receive time (ns) of each frame it took (the trading engine follows the books through it).

    Run it with ``await feed.run(duration=...)``, or as a task and :meth:`stop` it.
    """

    def __init__(
        self,
        venue: str,
        symbols: Iterable[str],
        *,
        timeframes: Iterable[str] = ("1m",),
        ws_url: str | None = None,
        rest_url: str | None = None,
        close_delay_ms: int = 1_000,
        limits: Limits = Limits(),
        backoff: Backoff = Backoff(),
        on_candle: OnCandle | None = None,
        tap: Tap | None = None,
        on_flags: Callable[[int, int], None] | None = None,
        snapshot_limit: int = 1000,
        seed: int | None = None,
    ) -> None:
        if venue not in VENUES:
            raise FeedError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
        self.venue = venue
        self.spec = VENUES[venue]
        self.ws_url = ws_url or self.spec.ws_url
        self.rest_url = (rest_url or self.spec.rest_url).rstrip("/")
        if not self.ws_url.startswith(("ws://", "wss://")):
            raise FeedError(f"ws_url must start with ws:// or wss://, got {self.ws_url!r}")
        if not self.rest_url.startswith(("http://", "https://")):
            raise FeedError(f"rest_url must start with http:// or https://, got {self.rest_url!r}")
        self.core = Feed(venue, [s.upper() for s in symbols], timeframes=list(timeframes),
                         close_delay_ms=close_delay_ms)
        if not self.core.symbols:
            raise FeedError("a feed needs at least one symbol")
        self.limits = limits
        self.backoff = backoff
        self.on_candle = on_candle
        self.tap = tap
        self.on_flags = on_flags
        self.snapshot_limit = snapshot_limit
        self.stats = FeedStats()
        self.candles: list[tuple[str, Candle]] = []
        self.errors: list[MessageError] = []
        self._symbols = self.core.symbols
        self._rng = random.Random(seed)
        self._ws: ClientConnection | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._request_id = 0
        self._last_frame = time.monotonic()
        self._synced_once: set[str] = set()
        self.connected = asyncio.Event()

    # -- public ------------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    async def run(self, *, duration: float | None = None) -> FeedStats:
        """Runs until :meth:`stop` (or for ``duration`` seconds), reconnecting as needed."""
        self._stopping.clear()
        stopper = asyncio.get_running_loop().call_later(duration, self.stop) if duration is not None else None
        attempt = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as self._http:
            try:
                while not self._stopping.is_set():
                    received = await self._connection()
                    if self._stopping.is_set():
                        break
                    self.core.connection_lost()
                    self.stats.reconnects += 1
                    attempt = 0 if received else attempt + 1
                    wait = self.backoff.delay(attempt, self._rng)
                    log.warning("%s: connection lost; reconnecting in %.2f s", self.venue, wait)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), wait)
            finally:
                if stopper is not None:
                    stopper.cancel()
                for task in list(self._tasks.values()):
                    task.cancel()
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                self._tasks.clear()
                self._drain_candles()
        return self.stats

    def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            asyncio.ensure_future(self._ws.close())

    async def drop_connection(self) -> None:
        """Closes the current connection as if the network failed (the feed reconnects)."""
        if self._ws is not None:
            await self._ws.close(code=1011, reason="dropped")

    async def subscribe(self, *symbols: str) -> None:
        """Starts following more symbols on the open connection (and on every reconnect)."""
        new = [s.upper() for s in symbols if s.upper() not in self._symbols]
        for symbol in new:
            self.core.add_symbol(symbol)
        self._symbols = self.core.symbols
        await self._send_subscription("SUBSCRIBE", new)

    async def unsubscribe(self, *symbols: str) -> None:
        gone = [s.upper() for s in symbols if s.upper() in self._symbols]
        await self._send_subscription("UNSUBSCRIBE", gone)
        for symbol in gone:
            self.core.remove_symbol(symbol)
            for kind in ("resync", "backfill"):
                task = self._tasks.pop((kind, symbol), None)
                if task is not None:
                    task.cancel()
        self._symbols = self.core.symbols

    async def quiet(self, seconds: float = 0.5) -> None:
        """Waits until no frame has arrived for ``seconds`` and no resync or backfill is running
        (a replay from a local exchange has been consumed)."""
        while time.monotonic() - self._last_frame < seconds or self._tasks or not self.connected.is_set():
            await asyncio.sleep(seconds / 5)

    def book(self, symbol: str) -> Any:
        """A copy of ``symbol``'s order book as it is now."""
        return self.core.book(symbol.upper())

    def health(self) -> dict[str, Health]:
        """Health of every followed symbol, now."""
        now = time.time_ns()
        out = {}
        for symbol in self._symbols:
            f = self.core.health(symbol)
            last = f["last_message_ns"]
            since = None if last is None else max(0.0, (now - last) / 1e9)
            skew = f["delay_mean_ms"]
            problems = []
            if not f["synced"]:
                problems.append(f"book out of sync: {f['reason']}")
            if since is None:
                problems.append("no message yet")
            elif since > self.limits.stale_after_s:
                problems.append(f"stale: no message for {since:.1f} s")
            if skew is not None and abs(skew) > self.limits.skew_ms:
                problems.append(f"clock skew: received {skew:+,.0f} ms after the exchange's event time")
            if f["trade_hole"] is not None:
                first, last_id = f["trade_hole"]
                problems.append(f"trades {first}..{last_id} missing (being fetched; later trades held)")
            if f["last_jump"] is not None:
                ts, price, ref = f["last_jump"]
                problems.append(f"price jump: {price:g} against {ref:g} within a minute (trade time {ts} ms)")
            if f["tickers_mismatched"]:
                problems.append(f"{f['tickers_mismatched']} bookTicker(s) disagreed with the book")
            if f["awaiting_backfill"]:
                problems.append(f"{f['trades_held']} trade(s) since a reconnect held until REST fills the gap "
                                "before them")
            if f["trades_lost"]:
                problems.append(f"{f['trades_lost']} trade(s) could not be recovered")
            if f["unfilled_gaps"]:
                problems.append(f"{f['unfilled_gaps']} disconnect gap(s) REST could not fill: trades may be missing")
            out[symbol] = Health(symbol, f["synced"], since, skew, f["trade_hole"], f["jumps"],
                                 f["tickers_checked"], f["tickers_mismatched"], problems, f)
        return out

    # -- connection ----------------------------------------------------------------------------

    def _connect_url(self) -> str:
        if self.venue == "bybit":
            return self.ws_url
        streams = [s for symbol in self._symbols for s in self.spec.streams(symbol)]
        separator = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{separator}streams={'/'.join(streams)}"

    async def _connection(self) -> bool:
        """One connection's life; returns whether it received anything."""
        received = False
        try:
            async with websockets.connect(
                self._connect_url(), ping_interval=20, ping_timeout=20, max_size=None, open_timeout=10,
                compression=None,
            ) as ws:
                self._ws = ws
                self._last_frame = time.monotonic()
                self.stats.connections += 1
                self.connected.set()
                if self.venue == "bybit":
                    await self._send_subscription("subscribe", self._symbols)
                else:
                    # Ask for snapshots now: the diffs meanwhile are buffered by the core.
                    for symbol in self._symbols:
                        if not self.core.synced(symbol):
                            self._start("resync", symbol, self._resync)
                watchdog = asyncio.ensure_future(self._watchdog(ws))
                heartbeat = asyncio.ensure_future(self._heartbeat(ws)) if self.venue == "bybit" else None
                try:
                    received = await self._read(ws)
                finally:
                    watchdog.cancel()
                    if heartbeat is not None:
                        heartbeat.cancel()
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            log.warning("%s: websocket %s: %s", self.venue, self.ws_url, exc)
        finally:
            self._ws = None
            self.connected.clear()
        return received

    async def _read(self, ws: ClientConnection) -> bool:
        tap, on_frame = self.tap, self.core.on_frame
        received = False
        try:
            async for frame in ws:
                recv = time.time_ns()
                self._last_frame = time.monotonic()
                received = True
                try:
                    flags = on_frame(frame, recv)
                except MessageError as exc:
                    self._malformed(exc, frame)
                    if tap is not None:
                        tap(recv, frame, None)
                    continue
                if tap is not None:
                    kind = flags & Feed.KIND
                    symbol = self._symbols[flags >> Feed.SYMBOL_SHIFT] if Feed.CONTROL < kind < Feed.UNKNOWN_SYMBOL else None
                    tap(recv, frame, symbol)
                if self.on_flags is not None:
                    self.on_flags(flags, recv)
                if flags & _ATTENTION:
                    self._attend(flags)
                elif flags == Feed.CONTROL:
                    self._control(frame)
        except websockets.ConnectionClosed as exc:
            if not self._stopping.is_set():
                log.warning("%s: connection closed: %s", self.venue, exc)
        return received

    def _control(self, frame: str | bytes) -> None:
        """Replies to requests (rare, so parsed here): a refused subscription is logged."""
        try:
            reply = json.loads(frame)
        except ValueError:
            return
        if isinstance(reply, dict) and (reply.get("error") or reply.get("success") is False):
            self.stats.refused += 1
            log.warning("%s: the venue refused a request: %s", self.venue, reply.get("error") or reply.get("ret_msg"))

    def _malformed(self, exc: MessageError, frame: str | bytes) -> None:
        self.stats.malformed += 1
        if len(self.errors) < 1000:
            self.errors.append(exc)
        preview = frame[:120] if isinstance(frame, str) else frame[:120].decode("utf-8", "replace")
        log.warning("%s: malformed frame skipped (%s): %s", self.venue, exc, preview)

    def _attend(self, flags: int) -> None:
        symbol = self._symbols[flags >> Feed.SYMBOL_SHIFT]
        if flags & Feed.CANDLES:
            self._drain_candles()
        if flags & Feed.RESYNC:
            self._start("resync", symbol, self._resync)
        if flags & Feed.TRADE_HOLE:
            self._start("backfill", symbol, self._backfill)
        if flags & Feed.TICKER_MISMATCH:
            self.stats.ticker_mismatches += 1
            log.error("%s %s: the exchange's bookTicker disagrees with the book", self.venue, symbol)
        if flags & Feed.JUMP:
            self.stats.jumps += 1
            log.warning("%s %s: price moved more than 50%% within a minute", self.venue, symbol)

    def _start(self, kind: str, symbol: str, job: Callable[[str], Any]) -> None:
        key = (kind, symbol)
        if key in self._tasks:
            return
        task = asyncio.ensure_future(job(symbol))
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    def _drain_candles(self) -> None:
        for symbol, candle in self.core.take_closed():
            self.stats.candles += 1
            if self.on_candle is not None:
                self.on_candle(symbol, candle)
            else:
                self.candles.append((symbol, candle))

    async def _watchdog(self, ws: ClientConnection) -> None:
        """Reopens a connection that has gone silent (``limits`` read afresh each time, so a
        change applies to the running connection)."""
        while True:
            await asyncio.sleep(self.limits.stale_after_s / 4)
            silent = time.monotonic() - self._last_frame
            if silent > self.limits.stale_after_s:
                log.warning("%s: no message for %.1f s; reconnecting", self.venue, silent)
                await ws.close(code=1011, reason="stale")
                return

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """Bybit drops connections that send nothing: an application ping every 20 s."""
        while True:
            await asyncio.sleep(20)
            await ws.send(json.dumps({"op": "ping"}))

    async def _send_subscription(self, method: str, symbols: Iterable[str]) -> None:
        streams = [s for symbol in symbols for s in self.spec.streams(symbol)]
        if not streams or self._ws is None:
            return
        messages: list[dict[str, Any]] = []
        if self.venue == "bybit":
            # One topic per request: Bybit refuses a whole request for one topic it does not have.
            for stream in streams:
                self._request_id += 1
                messages.append({"op": method.lower(), "args": [stream], "req_id": str(self._request_id)})
        else:
            self._request_id += 1
            messages.append({"method": method.upper(), "params": streams, "id": self._request_id})
        with contextlib.suppress(websockets.ConnectionClosed):
            for message in messages:
                await self._ws.send(json.dumps(message))

    # -- REST ------------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any]) -> tuple[bytes, int] | None:
        """GET with retries: honours Retry-After on 429/418, backs off on 5xx and network errors.
        Returns (body, receive time ns), or None when every attempt failed."""
        assert self._http is not None
        url = self.rest_url + path
        for attempt in range(self.limits.rest_attempts):
            if self._stopping.is_set():
                return None
            try:
                async with self._http.get(url, params=params) as response:
                    body = await response.read()
                    recv = time.time_ns()
                    if response.status == 200:
                        return body, recv
                    retry_after = response.headers.get("Retry-After")
                    if response.status in (418, 429):
                        self.stats.rate_limited += 1
                        wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0 + attempt
                    else:
                        self.stats.rest_errors += 1
                        wait = self.backoff.delay(attempt, self._rng)
                    log.warning("%s: GET %s -> HTTP %d; retrying in %.2f s", self.venue, path, response.status, wait)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.stats.rest_errors += 1
                wait = self.backoff.delay(attempt, self._rng)
                log.warning("%s: GET %s failed (%s); retrying in %.2f s", self.venue, path, exc, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
        return None

    def _snapshot_params(self, symbol: str) -> dict[str, Any]:
        if self.venue == "bybit":
            return {"category": "linear", "symbol": symbol, "limit": min(self.snapshot_limit, 500)}
        return {"symbol": symbol, "limit": self.snapshot_limit}

    def record_snapshot(self, symbol: str) -> None:
        """Fetches a snapshot for the tap only (a recorder starting a new file needs one)."""
        if symbol.upper() in self._symbols:
            self._start("snapshot", symbol.upper(), self.fetch_snapshot)

    async def fetch_snapshot(self, symbol: str) -> tuple[bytes, int] | None:
        """A REST depth snapshot of ``symbol`` (raw bytes, receive time), shown to the tap."""
        got = await self._get(self.spec.depth_path, self._snapshot_params(symbol))
        if got is not None:
            self.stats.snapshots_fetched += 1
            if self.tap is not None:
                self.tap(got[1], got[0], symbol)
        return got

    async def _resync(self, symbol: str) -> None:
        """Snapshots until the book is back in sync (a snapshot older than the buffered diffs is
        refused by the core, so it simply asks again)."""
        for attempt in range(self.limits.rest_attempts):
            if symbol not in self._symbols or self.core.synced(symbol):
                return
            got = await self.fetch_snapshot(symbol)
            if got is None:
                break
            try:
                self.core.apply_snapshot(symbol, got[0], got[1])
            except MessageError as exc:
                self._malformed(exc, got[0])
            except TradecoreError:
                return  # unsubscribed meanwhile
            if self.core.synced(symbol):
                if symbol in self._synced_once:
                    self.stats.resyncs += 1
                self._synced_once.add(symbol)
                log.info("%s %s: book synced from a snapshot", self.venue, symbol)
                return
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        log.error("%s %s: could not resync the book; will try again on the next depth message", self.venue, symbol)

    async def _backfill(self, symbol: str) -> None:
        """Fetches the trades of a hole from REST so the bars they belong to are complete."""
        await asyncio.sleep(self.limits.hole_grace_s)
        if self.spec.trades_path is None:
            return
        if self.venue == "bybit":
            await self._backfill_recent(symbol, self.spec.trades_path)
            return
        fruitless = 0
        while symbol in self._symbols and (hole := self.core.trade_hole(symbol)) is not None:
            first, last = hole
            got = await self._get(self.spec.trades_path, {"symbol": symbol, "fromId": first,
                                                          "limit": min(1000, last - first + 1)})
            if got is None:
                break
            try:
                closed = self.core.fill_trades(symbol, got[0])
            except MessageError as exc:
                self._malformed(exc, got[0])
                closed = False
            self._drain_candles()
            if closed:
                self.stats.backfills += 1
                log.info("%s %s: trades %d..%d recovered from REST", self.venue, symbol, first, last)
                return
            if self.core.trade_hole(symbol) == hole:
                fruitless += 1
                if fruitless >= self.limits.rest_attempts:
                    break
                await asyncio.sleep(min(2.0, 0.1 * 2**fruitless))
        if symbol in self._symbols and self.core.trade_hole(symbol) is not None:
            hole = self.core.trade_hole(symbol)
            self.core.give_up_trades(symbol)
            self.stats.trades_given_up += 1
            self._drain_candles()
            log.error("%s %s: trades %s could not be recovered; their bars are incomplete", self.venue, symbol, hole)

    async def _backfill_recent(self, symbol: str, path: str) -> None:
        """Bybit: the newest trades from REST fill the gap a disconnect left before the new
        connection's trades (held meanwhile). An answer older than those trades is asked again;
        one that cannot reach back to the disconnect still closes the gap, counted unfilled."""
        unfilled = self.core.health(symbol)["unfilled_gaps"]
        for attempt in range(self.limits.rest_attempts):
            if symbol not in self._symbols or not self.core.awaiting_backfill(symbol):
                return
            # The answer must be newer than the start of the connection whose trades it is to
            # meet: ask while one is up, and use it only if that one still is.
            await self.connected.wait()
            connection = self.stats.connections
            got = await self._get(path, {"category": "linear", "symbol": symbol, "limit": self.limits.recent_trades})
            if got is None:
                break
            if symbol not in self._symbols or not self.core.awaiting_backfill(symbol):
                return  # unsubscribed, or the stream ran on by itself meanwhile
            if connection != self.stats.connections or not self.connected.is_set():
                continue
            try:
                closed = self.core.fill_trades(symbol, got[0])
            except MessageError as exc:
                if exc.field == "retCode":  # Bybit answers errors with HTTP 200
                    self.stats.rest_errors += 1
                    log.warning("%s %s: recent-trade refused: %s", self.venue, symbol, exc)
                else:
                    self._malformed(exc, got[0])
                closed = False
            self._drain_candles()
            if closed:
                self.stats.backfills += 1
                if self.core.health(symbol)["unfilled_gaps"] > unfilled:
                    log.error("%s %s: the newest %d trades do not reach back to the disconnect; trades may be "
                              "missing from the bars", self.venue, symbol, self.limits.recent_trades)
                else:
                    log.info("%s %s: trades missed during the disconnect recovered from REST", self.venue, symbol)
                return
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        if symbol in self._symbols and self.core.awaiting_backfill(symbol):
            self.core.give_up_trades(symbol)
            self.stats.trades_given_up += 1
            self._drain_candles()
            log.error("%s %s: the trades missed during the disconnect could not be fetched; their bars may be "
                      "incomplete", self.venue, symbol)
