"""What the server needs from a venue's wire format (Binance, Bybit): websocket paths and
control messages, framing of stream messages, REST routes with their request weights."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tradecore.sim.faults import ConnectionFaults
from tradecore.sim.market import Market, StreamEvents

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """A REST endpoint and the request weight the venue charges for a request to it."""

    path: str
    handler: Handler
    weight: Callable[[web.Request], int]


class BadRequest(Exception):
    """A request the venue refuses; rendered in the venue's error format."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(eq=False)
class Connection:
    """One websocket client: its subscriptions (in order) and how far its replay got."""

    id: int
    ws: web.WebSocketResponse
    faults: ConnectionFaults
    transport: asyncio.Transport | None
    #: /ws/<stream> clients get bare payloads; /stream clients the {"stream","data"} wrapper.
    raw: bool = False
    subscriptions: list[str] = field(default_factory=list)
    #: The last timeline point sent to this client (-1: nothing yet).
    point: int = -1
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    messages_sent: int = 0
    #: Frames the replay sends before its next market message (a snapshot opening a
    #: subscription), so they follow the subscribe reply and precede the stream.
    pending: list[str] = field(default_factory=list)

    def subscribe(self, streams: list[str]) -> None:
        for stream in streams:
            if stream not in self.subscriptions:
                self.subscriptions.append(stream)
        self.changed.set()

    def unsubscribe(self, streams: list[str]) -> None:
        self.subscriptions = [s for s in self.subscriptions if s not in streams]
        self.changed.set()


class Clock(ABC):
    """The market's "now" as the REST side sees it."""

    @abstractmethod
    def point(self) -> int:
        """The timeline point REST state (book, recent trades) reflects."""

    @abstractmethod
    def history_point(self) -> int | None:
        """How far history endpoints reach: None for the whole recording."""


class Venue(ABC):
    """A venue's wire protocol over a :class:`Market`."""

    name: str
    #: Websocket paths (aiohttp route syntax).
    ws_paths: tuple[str, ...]

    def __init__(self, market: Market, clock: Clock) -> None:
        self.market = market
        self.clock = clock
        self.unknown_streams: set[str] = set()

    @abstractmethod
    def initial_streams(self, request: web.Request) -> tuple[list[str], bool]:
        """Streams named in the websocket URL, and whether the client wants bare payloads."""

    @abstractmethod
    def on_message(self, conn: Connection, text: str) -> list[str]:
        """Handles a client's control message (subscribe, ping, ...); returns the replies."""

    @abstractmethod
    def events(self, stream: str) -> StreamEvents | None:
        """The timeline of a stream, or None if this recording cannot serve it."""

    @abstractmethod
    def frame(self, conn: Connection, stream: str, payload: str) -> str:
        """The text frame for one stream message."""

    def is_depth(self, stream: str) -> bool:
        return stream == self.market.depth_stream

    def on_subscribed(self, conn: Connection, stream: str) -> list[str]:
        """Frames that open a subscription made mid-replay (none by default); the replay sends
        them before the stream's next message."""
        return []

    @abstractmethod
    def routes(self) -> list[Route]:
        """The REST endpoints."""

    @abstractmethod
    def error_body(self, code: int, message: str) -> dict[str, Any]:
        """The venue's JSON error object."""

    @abstractmethod
    def refusal(self, status: int, retry_after: int | None) -> tuple[int, str]:
        """Error code and message for an injected 503 / 429 / 418."""

    def error(self, status: int, code: int, message: str) -> web.Response:
        return json_response(self.error_body(code, message), status=status)


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status,
                        content_type="application/json", headers=headers)
