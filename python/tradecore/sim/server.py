"""The local exchange: one aiohttp server on 127.0.0.1 serving a venue's websocket streams and
REST endpoints from a recording, paced by the recording's clock, with faults injected on demand.

Clock (what "now" is, which decides what a REST snapshot shows):

- ``clock="connection"`` (default): every websocket connection replays the recording from its
  start, beginning when it first subscribes. REST state follows the most advanced connection:
  the book is the recorded snapshot advanced through every diff up to the furthest point any
  connection has been sent. A snapshot is therefore never older than what a client has
  received, so a client that buffers diffs and applies it by Binance's rules syncs with zero
  gaps; a client lagging behind another simply drops more buffered diffs (or waits for newer
  ones) before it syncs. Before any connection REST shows the recorded snapshot.
- ``clock="shared"``: one market clock starts with the server and runs at ``speed`` (which must
  be > 0); connections join at the current point, as on the real exchange, and REST shows the
  clock's point.

History endpoints (klines, trades, aggTrades) serve the whole recording by default
(``history="all"``: the recording is the past, which is what download tests want);
``history="clock"`` cuts them at the REST point so nothing from the future leaks. Bybit's
``recent-trade`` is about now, not history: it always answers at the REST point (so a client
that reconnects finds there the trades its dropped connection missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from aiohttp import WSMsgType, web

from tradecore.data.history import binance_api_urls
from tradecore.sim.binance import PREFIX, Binance
from tradecore.sim.bybit import Bybit
from tradecore.sim.faults import FaultPlan
from tradecore.sim.market import Market, load
from tradecore.sim.wire import BadRequest, Clock, Connection, Route, Venue, json_response

log = logging.getLogger("tradecore.sim")

ClockMode = Literal["connection", "shared"]
#: Messages sent on a connection between two turns given to the rest of the server.
_YIELD_EVERY = 64
HistoryMode = Literal["all", "clock"]


class SimServer(Clock):
    """A local exchange replaying ``market`` (a :class:`Market` or a recording's path).

    ``speed`` multiplies the recording's pace; 0 sends as fast as each client reads (every send
    awaited, so a slow reader slows its own replay). ``faults`` is the :class:`FaultPlan`
    (mutable while running). Use as ``async with SimServer(...) as server`` or
    :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        market: Market | str | Path,
        *,
        venue: str | None = None,
        speed: float = 1.0,
        clock: ClockMode = "connection",
        history: HistoryMode = "all",
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat: float = 20.0,
    ) -> None:
        if speed < 0 or speed != speed:
            raise ValueError(f"speed must be 0 (as fast as the client reads) or positive, got {speed}")
        if clock not in ("connection", "shared"):
            raise ValueError(f"clock must be 'connection' or 'shared', got {clock!r}")
        if clock == "shared" and speed == 0:
            raise ValueError("a shared clock needs a pace: speed must be > 0 with clock='shared'")
        if history not in ("all", "clock"):
            raise ValueError(f"history must be 'all' or 'clock', got {history!r}")
        self.market = market if isinstance(market, Market) else load(market, venue)
        if venue is not None and venue != self.market.venue:
            raise ValueError(f"the market is {self.market.venue}, not {venue}")
        self.speed = speed
        self.clock_mode = clock
        self.history_mode = history
        self.faults = faults if faults is not None else FaultPlan()
        self.host = host
        self.heartbeat = heartbeat
        self._requested_port = port
        self.venue: Venue = (Bybit if self.market.venue == "bybit" else Binance)(self.market, self)
        self.connections: dict[int, Connection] = {}
        self.connections_opened = 0
        self._ids = itertools.count(1)
        self._high_water = -1
        self._started_at = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = self._build_app()

    # -- clock -------------------------------------------------------------------------------

    def point(self) -> int:
        if self.clock_mode == "shared":
            elapsed = (time.monotonic() - self._started_at) * self.speed
            return self.market.point_at(int(elapsed * 1e9))
        return self._high_water

    def history_point(self) -> int | None:
        return None if self.history_mode == "all" else self.point()

    def _due(self, t0: float, base_offset_ns: int, point: int) -> float:
        return t0 + (self.market.offset_ns(point) - base_offset_ns) / 1e9 / self.speed

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self._requested_port)
        await self._site.start()
        self._started_at = time.monotonic()

    async def stop(self) -> None:
        for conn in list(self.connections.values()):
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the server is not running; call start() first")
        return int(self._runner.addresses[0][1])

    @property
    def rest_url(self) -> str:
        """The REST base URL (Binance: the API prefix is part of each path, e.g. /fapi/v1/depth)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The REST base with the venue's API prefix (``.../fapi/v1``, ``.../v5/market``)."""
        prefix = "/v5/market" if self.market.venue == "bybit" else PREFIX[self.market.venue]
        return self.rest_url + prefix

    @property
    def ws_url(self) -> str:
        """The websocket URL: Binance ``/stream`` (combined streams; ``/ws/<stream>`` also works),
        Bybit ``/v5/public/linear``."""
        path = "/v5/public/linear" if self.market.venue == "bybit" else "/stream"
        return f"ws://{self.host}:{self.port}{path}"

    def ccxt_urls(self) -> dict[str, str]:
        """``urls['api']`` overrides that point ccxt's Binance classes at this server."""
        return binance_api_urls(self.rest_url)

    @property
    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return dict(self.faults.injected)

    # -- app ---------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        for path in self.venue.ws_paths:
            app.router.add_get(path, self._websocket)
        for route in self.venue.routes():
            app.router.add_get(route.path, self._rest(route))
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Whatever goes wrong answers in the venue's error format; the server keeps running."""
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except web.HTTPNotFound:
            return self.venue.error(404, -1, f"no such endpoint on the local exchange: {request.path}")
        except web.HTTPException as exc:
            return self.venue.error(exc.status, -1, exc.reason)
        except BadRequest as exc:
            return self.venue.error(exc.status, exc.code, str(exc))
        except Exception:
            log.exception("local exchange: %s %s failed", request.method, request.path_qs)
            return self.venue.error(500, -1000, "An unknown error occurred while processing the request.")

    def _rest(self, route: Route) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            verdict = self.faults.rest(route.weight(request))
            headers = {"X-MBX-USED-WEIGHT-1M": str(verdict.used_weight), "X-MBX-USED-WEIGHT": str(verdict.used_weight)}
            if verdict.status != 200:
                code, message = self.venue.refusal(verdict.status, verdict.retry_after)
                if verdict.retry_after is not None:
                    headers["Retry-After"] = str(verdict.retry_after)
                return json_response(self.venue.error_body(code, message), verdict.status, headers)
            response = await route.handler(request)
            response.headers.update(headers)
            return response
        return handle

    # -- websocket ---------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        streams, raw = self.venue.initial_streams(request)
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn_id = next(self._ids)
        conn = Connection(conn_id, ws, self.faults.connection(conn_id), request.transport, raw=raw)
        self.connections[conn_id] = conn
        self.connections_opened += 1
        if streams:
            if isinstance(self.venue, Binance):
                self.venue.check_streams(streams)
            conn.subscribe(streams)
        replay = asyncio.create_task(self._replay(conn))
        self._tasks.add(replay)
        replay.add_done_callback(self._tasks.discard)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    for reply in self.venue.on_message(conn, message.data):
                        await ws.send_str(reply)
                elif message.type == WSMsgType.BINARY:
                    # Both venues take text frames only; answer as to any non-JSON request.
                    for reply in self.venue.on_message(conn, "<binary frame>"):
                        await ws.send_str(reply)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            replay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await replay
            self.connections.pop(conn_id, None)
        return ws

    async def _replay(self, conn: Connection) -> None:
        """Sends the subscribed streams' messages in timeline order, paced, through the faults."""
        try:
            await self._replay_loop(conn)
        except (ConnectionError, RuntimeError) as exc:
            # The client went away mid-send (or the transport was aborted by a fault).
            log.debug("connection %d: replay ended: %s", conn.id, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not leave the client waiting forever: say so and close (1011).
            log.exception("local exchange: replay on connection %d failed", conn.id)
            await conn.ws.close(code=1011, message=b"internal error in the local exchange")

    async def _replay_loop(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        await conn.changed.wait()
        if self.clock_mode == "shared":
            conn.point = self.point()
            t0 = self._started_at - time.monotonic() + loop.time()
            base = 0
        else:
            t0 = loop.time()
            base = 0
        heads: dict[str, int] = {}
        events = {}
        ws = conn.ws
        while not ws.closed:
            if conn.changed.is_set():
                conn.changed.clear()
                kept = {s: heads[s] for s in conn.subscriptions if s in heads}
                for stream in conn.subscriptions:
                    if stream not in kept:
                        found = self.venue.events(stream)
                        if found is not None:
                            events[stream] = found
                            kept[stream] = found.first_after(conn.point)
                heads = kept
            while conn.pending:
                await ws.send_str(conn.pending.pop(0))
            best: str | None = None
            best_point = 0
            for stream, index in heads.items():
                points = events[stream].points
                if index < len(points) and (best is None or points[index] < best_point):
                    best, best_point = stream, points[index]
            if best is None:
                for action, value in conn.faults.flush():
                    await ws.send_str(value)
                await conn.changed.wait()  # the end, until the client subscribes to more
                continue
            if self.speed > 0:
                delay = self._due(t0, base, best_point) - loop.time()
                if delay > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(conn.changed.wait(), delay)
                    if conn.changed.is_set():
                        continue
            payload = events[best].payloads[heads[best]]
            heads[best] += 1
            conn.point = max(conn.point, best_point)
            if conn.point > self._high_water:
                self._high_water = conn.point
            frame = self.venue.frame(conn, best, payload)
            for action, value in conn.faults.process(frame, self.venue.is_depth(best)):
                if action == "send":
                    await ws.send_str(value)
                    conn.messages_sent += 1
                    if conn.messages_sent % _YIELD_EVERY == 0:
                        # A send that fits the socket buffer never yields: let REST and the
                        # other connections in, or a fast client starves them at speed 0.
                        await asyncio.sleep(0)
                elif action == "sleep":
                    await asyncio.sleep(value)
                else:
                    if conn.transport is not None:
                        conn.transport.abort()
                    return


@contextlib.asynccontextmanager
async def serve(market: Market | str | Path, **options: Any) -> AsyncIterator[SimServer]:
    """``async with serve(path, speed=0) as server:`` — a started :class:`SimServer`."""
    server = SimServer(market, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
