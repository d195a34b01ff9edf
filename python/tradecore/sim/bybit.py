"""Bybit v5 public (linear) wire format: websocket ``/v5/public/linear`` with op-style requests,
the recorded topics as recorded (``orderbook.*``, ``publicTrade.*``), and REST
``/v5/market/orderbook``, ``recent-trade``, ``instruments-info``, ``time``."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from tradecore._core import OrderBook
from tradecore.errors import BookNotSyncedError, MessageError
from tradecore.sim.market import Market, MarketBook, StreamEvents
from tradecore.sim.wire import BadRequest, Clock, Connection, Route, Venue, json_response

_SEQ = re.compile(r'"seq":(\d+)')
_CTS = re.compile(r'"cts":(\d+)')
_DEPTH = re.compile(r"^orderbook\.(\d+)\.")


class Bybit(Venue):
    """Bybit linear perpetuals over one recorded symbol."""

    ws_paths = ("/v5/public/linear",)
    name = "bybit"

    def __init__(self, market: Market, clock: Clock) -> None:
        super().__init__(market, clock)
        self.book = MarketBook(market)

    def initial_streams(self, request: web.Request) -> tuple[list[str], bool]:
        return [], False

    def _reply(self, conn: Connection, op: str, success: bool, message: str, req_id: Any) -> str:
        return json.dumps({"success": success, "ret_msg": message, "conn_id": f"sim-{conn.id}",
                           "req_id": req_id if isinstance(req_id, str) else "", "op": op})

    def on_message(self, conn: Connection, text: str) -> list[str]:
        try:
            request = json.loads(text)
        except ValueError:
            return [json.dumps({"success": False, "ret_msg": "error:request not json", "conn_id": f"sim-{conn.id}",
                                "op": ""})]
        if not isinstance(request, dict):
            return [self._reply(conn, "", False, "error:request not an object", None)]
        op, req_id, args = request.get("op"), request.get("req_id"), request.get("args", [])
        if op == "ping":
            return [self._reply(conn, "ping", True, "pong", req_id)]
        if op not in ("subscribe", "unsubscribe"):
            return [self._reply(conn, str(op), False, f"error:unknown op {op!r}", req_id)]
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return [self._reply(conn, op, False, "error:args must be a non-empty list of topics", req_id)]
        if op == "unsubscribe":
            conn.unsubscribe(args)
            return [self._reply(conn, op, True, "", req_id)]
        unknown = [a for a in args if self.events(a) is None]
        if unknown:
            self.unknown_streams.update(unknown)
            return [self._reply(conn, op, False, f"error:handler not found,topic:{unknown[0]}", req_id)]
        for topic in args:
            if topic not in conn.subscriptions:
                conn.pending.extend(self.on_subscribed(conn, topic))
        conn.subscribe(args)
        return [self._reply(conn, op, True, "", req_id)]

    def on_subscribed(self, conn: Connection, stream: str) -> list[str]:
        """Bybit opens an order-book subscription with a snapshot: after the recorded one has gone
        by, the book as of this connection's replay point is sent as a fresh snapshot."""
        events = self.market.streams.get(stream)
        if events is None or not _DEPTH.match(stream) or conn.point < events.points[0]:
            return []
        book = OrderBook("bybit", self.market.symbol)
        last = ""
        for point, payload in zip(events.points, events.payloads, strict=True):
            if point > conn.point:
                break
            try:
                book.apply(payload)
                last = payload
            except MessageError:
                continue
        depth = int(_DEPTH.match(stream).group(1))  # type: ignore[union-attr]
        message = json.loads(last)
        try:
            bids, asks = book.top(depth)
        except BookNotSyncedError:
            return []
        message["type"] = "snapshot"
        message["data"]["b"] = self._levels(bids)
        message["data"]["a"] = self._levels(asks)
        return [json.dumps(message, separators=(",", ":"))]

    def _levels(self, levels: Any) -> list[list[str]]:
        ins = self.market.instrument
        return [[ins.price(p), ins.qty(q)] for p, q in levels.tolist()]

    def events(self, stream: str) -> StreamEvents | None:
        return self.market.streams.get(stream)

    def frame(self, conn: Connection, stream: str, payload: str) -> str:
        return payload

    # -- REST --------------------------------------------------------------------------------

    def error_body(self, code: int, message: str) -> dict[str, Any]:
        return {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {},
                "time": self.market.time_ms(self.clock.point())}

    def refusal(self, status: int, retry_after: int | None) -> tuple[int, str]:
        if status == 503:
            return 10016, "Server error: service unavailable."
        return 10006, "Too many visits!" + (f" Banned for {retry_after} s." if status == 418 else "")

    def routes(self) -> list[Route]:
        return [
            Route("/v5/market/orderbook", self.orderbook, lambda _r: 1),
            Route("/v5/market/recent-trade", self.recent_trade, lambda _r: 1),
            Route("/v5/market/instruments-info", self.instruments_info, lambda _r: 1),
            Route("/v5/market/time", self.time, lambda _r: 1),
        ]

    def _ok(self, result: dict[str, Any]) -> web.Response:
        return json_response({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                              "time": self.market.time_ms(self.clock.point())})

    def _category(self, request: web.Request) -> None:
        category = request.query.get("category")
        if category != "linear":
            raise BadRequest(10001, f"Illegal category: the local exchange serves 'linear', got {category!r}", 200)

    def _symbol(self, request: web.Request) -> str:
        symbol = request.query.get("symbol")
        if not symbol:
            raise BadRequest(10001, "params error: symbol is required", 200)
        if symbol.upper() != self.market.symbol:
            raise BadRequest(10001, "params error: symbol invalid", 200)
        return self.market.symbol

    async def time(self, request: web.Request) -> web.StreamResponse:
        now = self.market.time_ms(self.clock.point())
        return self._ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    async def orderbook(self, request: web.Request) -> web.StreamResponse:
        self._category(request)
        symbol = self._symbol(request)
        text = request.query.get("limit", "25")
        if not text.isdigit() or not 1 <= int(text) <= 500:
            raise BadRequest(10001, "params error: limit must be 1 to 500", 200)
        self.book.advance(max(self.clock.point(), self.book.point))
        try:
            bids, asks = self.book.book.top(int(text))
        except BookNotSyncedError as exc:
            raise BadRequest(10016, f"the local exchange's book is not usable: {exc}", 503) from exc
        last = self.book.last_payload
        seq, cts = _SEQ.search(last), _CTS.search(last)
        return self._ok({"s": symbol, "b": self._levels(bids), "a": self._levels(asks),
                         "ts": self.market.time_ms(self.book.point), "u": self.book.book.last_update_id,
                         "seq": int(seq.group(1)) if seq else 0, "cts": int(cts.group(1)) if cts else 0})

    async def recent_trade(self, request: web.Request) -> web.StreamResponse:
        """The newest ``limit`` trades (default 500, at most 1000), newest first, up to the
        market's now: the furthest point any connection has been sent (or the shared clock), as
        for the book. So a client that reconnects sees the trades its dropped connection missed,
        and never one that no connection has been sent yet."""
        self._category(request)
        symbol = self._symbol(request)
        text = request.query.get("limit", "500")
        if not text.isdigit() or not 1 <= int(text) <= 1000:
            raise BadRequest(10001, "params error: limit must be 1 to 1000", 200)
        newest = self.market.trades_until(self.clock.point())[-int(text):]
        listed = [{"execId": t.exec_id, "symbol": symbol, "price": t.price, "size": t.qty,
                   "side": "Sell" if t.buyer_maker else "Buy", "time": str(t.time_ms), "isBlockTrade": t.block}
                  for t in reversed(newest)]
        return self._ok({"category": "linear", "list": listed})

    async def instruments_info(self, request: web.Request) -> web.StreamResponse:
        self._category(request)
        symbol = request.query.get("symbol")
        if symbol and symbol.upper() != self.market.symbol:
            return self._ok({"category": "linear", "list": [], "nextPageCursor": ""})
        ins = self.market.instrument
        info = {
            "symbol": ins.symbol, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": ins.base, "quoteCoin": ins.quote, "settleCoin": ins.quote, "launchTime": "1585526400000",
            "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(ins.price_decimals),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "75.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": ins.tick_size, "maxPrice": "199.9998", "tickSize": ins.tick_size},
            "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": ins.step_size, "qtyStep": ins.step_size,
                              "postOnlyMaxOrderQty": "1000000", "maxMktOrderQty": "1000000",
                              "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False,
        }
        return self._ok({"category": "linear", "list": [info], "nextPageCursor": ""})
