"""Binance's wire format (spot ``/api/v3``, USD-M ``/fapi/v1``, COIN-M ``/dapi/v1``): websocket
streams (recorded ones as recorded, plus ``aggTrade`` and ``kline_<tf>`` derived from the trades)
and the public REST market-data endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

import numpy as np
from aiohttp import web

from tradecore import candles
from tradecore.errors import BookNotSyncedError
from tradecore.sim.market import Market, MarketBook, StreamEvents, Trade
from tradecore.sim.wire import BadRequest, Clock, Connection, Route, Venue, json_response

PREFIX = {"binance-spot": "/api/v3", "binance-usdm": "/fapi/v1", "binance-coinm": "/dapi/v1"}
#: Binance kline intervals the aggregator supports (calendar months are not fixed-length bars).
INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
#: Kline stream updates for an open bar come at most this often (Binance pushes every 250 ms).
KLINE_PUSH_MS = 250
_PERPETUAL_DELIVERY = 4133404800000


def interval_ms(interval: str) -> int:
    return int(interval[:-1]) * _UNIT_MS[interval[-1]]


@dataclass(frozen=True)
class AggTrade:
    id: int
    price: str
    qty: str
    first: int
    last: int
    time_ms: int
    buyer_maker: bool
    point: int


def aggregate_trades(trades: list[Trade], first_id: int | None = None) -> list[AggTrade]:
    """Binance aggTrades: consecutive trades at the same price, taker side and trade time form one,
    ids consecutive (from the first trade's id unless ``first_id`` is given)."""
    out: list[AggTrade] = []
    if not trades:
        return out
    next_id = trades[0].id if first_id is None else first_id
    group: list[Trade] = []

    def close() -> None:
        nonlocal next_id
        head, tail = group[0], group[-1]
        qty = sum((Decimal(t.qty) for t in group), Decimal(0))
        out.append(AggTrade(next_id, head.price, _decimal(qty, _decimals(head.qty)), head.id, tail.id,
                            head.time_ms, head.buyer_maker, tail.point))
        next_id += 1

    for trade in trades:
        if group and (trade.price != group[0].price or trade.buyer_maker != group[0].buyer_maker
                      or trade.time_ms != group[0].time_ms):
            close()
            group = []
        group.append(trade)
    close()
    return out


def _decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def _decimal(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


class Binance(Venue):
    """Binance spot, USD-M or COIN-M over one recorded symbol."""

    ws_paths = ("/stream", "/ws", "/ws/{streams:.+}")

    def __init__(self, market: Market, clock: Clock) -> None:
        super().__init__(market, clock)
        self.name = market.venue
        self.prefix = PREFIX[market.venue]
        self.book = MarketBook(market)
        self.instrument = market.instrument
        self.lower = market.symbol.lower()
        self._agg: list[AggTrade] | None = None
        self._agg_points: list[int] = []
        self._derived: dict[str, StreamEvents] = {}
        ts = np.array([t.time_ms for t in market.trades], dtype=np.int64)
        price = np.array([float(t.price) for t in market.trades], dtype=np.float64)
        qty = np.array([float(t.qty) for t in market.trades], dtype=np.float64)
        self._arrays = (ts, price, qty, np.array([not t.buyer_maker for t in market.trades], dtype=np.bool_))

    # -- websocket ---------------------------------------------------------------------------

    def normalize(self, stream: str) -> str:
        """Stream names are case-insensitive in the symbol only (``kline_1M`` is not ``kline_1m``)."""
        symbol, at, rest = stream.strip().partition("@")
        return symbol.lower() + at + rest

    def initial_streams(self, request: web.Request) -> tuple[list[str], bool]:
        if request.path.startswith("/ws/"):
            names = request.match_info.get("streams", "")
            return [self.normalize(s) for s in names.split("/") if s], True
        names = request.query.get("streams", "")
        return [self.normalize(s) for s in names.split("/") if s], request.path == "/ws"

    def on_message(self, conn: Connection, text: str) -> list[str]:
        try:
            request = json.loads(text)
        except ValueError:
            return [json.dumps({"error": {"code": 3, "msg": "Invalid JSON: expected a JSON object"}})]
        if not isinstance(request, dict):
            return [json.dumps({"error": {"code": 2, "msg": "Invalid request: expected a JSON object"}})]
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        if request_id is not None and not isinstance(request_id, (int, str)) or isinstance(request_id, bool):
            return [json.dumps({"error": {"code": 1, "msg": "Invalid value type: expected Integer or String for 'id'"},
                                "id": None})]
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return [json.dumps({"error": {"code": 1, "msg": "Invalid value type: expected Array<String> for 'params'"},
                                    "id": request_id})]
            streams = [self.normalize(p) for p in params]
            if method == "SUBSCRIBE":
                self.check_streams(streams)
                conn.subscribe(streams)
            else:
                conn.unsubscribe(streams)
            return [json.dumps({"result": None, "id": request_id})]
        if method == "LIST_SUBSCRIPTIONS":
            return [json.dumps({"result": list(conn.subscriptions), "id": request_id})]
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            value: Any = None if method == "SET_PROPERTY" else False
            return [json.dumps({"result": value, "id": request_id})]
        return [json.dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                            "id": request_id})]

    def check_streams(self, streams: list[str]) -> None:
        """Unknown streams are accepted as Binance does (they just stay silent) and remembered in
        :attr:`unknown_streams` so a rehearsal can tell."""
        for stream in streams:
            if self.events(stream) is None:
                self.unknown_streams.add(stream)

    def events(self, stream: str) -> StreamEvents | None:
        recorded = self.market.streams.get(stream)
        if recorded is not None:
            return recorded
        if stream in self._derived:
            return self._derived[stream]
        symbol, _, kind = stream.partition("@")
        if symbol != self.lower or not self.market.trades:
            return None
        if kind == "aggTrade":
            events = self._agg_events()
        elif kind.startswith("kline_") and kind[6:] in INTERVALS:
            if kind[6:] == "1s" and self.market.venue != "binance-spot":
                return None
            events = self._kline_events(kind[6:])
        else:
            return None
        self._derived[stream] = events
        return events

    def frame(self, conn: Connection, stream: str, payload: str) -> str:
        if conn.raw:
            return payload
        return f'{{"stream":"{stream}","data":{payload}}}'

    def agg_trades(self) -> list[AggTrade]:
        if self._agg is None:
            self._agg = aggregate_trades(self.market.trades)
            self._agg_points = [a.point for a in self._agg]
        return self._agg

    def _agg_events(self) -> StreamEvents:
        events = StreamEvents()
        spot = self.market.venue == "binance-spot"
        for a in self.agg_trades():
            body: dict[str, Any] = {"e": "aggTrade", "E": a.time_ms, "s": self.market.symbol, "a": a.id, "p": a.price,
                                    "q": a.qty, "f": a.first, "l": a.last, "T": a.time_ms, "m": a.buyer_maker}
            if spot:
                body["M"] = True
            events.points.append(a.point)
            events.payloads.append(json.dumps(body, separators=(",", ":")))
        return events

    def _kline_events(self, interval: str) -> StreamEvents:
        """Kline updates built trade by trade: the open bar at most every 250 ms, the closing
        update (``x`` true) when the first trade of a later bar arrives, flat closed bars for
        intervals without trades."""
        width = interval_ms(interval)
        events = StreamEvents()
        bar: _Bar | None = None
        last_push = -1
        for trade in self.market.trades:
            start = trade.time_ms - trade.time_ms % width
            if bar is not None and start > bar.open_time:
                events.points.append(trade.point)
                events.payloads.append(self._kline_payload(bar, interval, True, trade.time_ms))
                flat = bar.open_time + width
                while flat < start:
                    empty = _Bar.empty(flat, bar.close)
                    events.points.append(trade.point)
                    events.payloads.append(self._kline_payload(empty, interval, True, trade.time_ms))
                    flat += width
                bar = None
            if bar is None:
                bar = _Bar.empty(start, float(trade.price))
                last_push = -1
            bar.add(trade, self.instrument.contract_size)
            if last_push < 0 or trade.time_ms - last_push >= KLINE_PUSH_MS:
                events.points.append(trade.point)
                events.payloads.append(self._kline_payload(bar, interval, False, trade.time_ms))
                last_push = trade.time_ms
            else:
                bar.unpushed = True
        if bar is not None and bar.unpushed:
            events.points.append(self.market.trades[-1].point)
            events.payloads.append(self._kline_payload(bar, interval, False, self.market.trades[-1].time_ms))
        return events

    def _kline_payload(self, bar: _Bar, interval: str, closed: bool, event_ms: int) -> str:
        bar.unpushed = False
        width = interval_ms(interval)
        fmt = self._kline_fields(bar.open, bar.high, bar.low, bar.close, bar.volume, bar.quote, bar.buy, bar.buy_quote)
        k = {"t": bar.open_time, "T": bar.open_time + width - 1, "s": self.market.symbol, "i": interval,
             "f": bar.first_id, "L": bar.last_id, "o": fmt[0], "c": fmt[3], "h": fmt[1], "l": fmt[2], "v": fmt[4],
             "n": bar.trades, "x": closed, "q": fmt[5], "V": fmt[6], "Q": fmt[7], "B": "0"}
        return json.dumps({"e": "kline", "E": event_ms, "s": self.market.symbol, "k": k}, separators=(",", ":"))

    def _kline_fields(self, o: float, h: float, lo: float, c: float, v: float, q: float, bv: float,
                      bq: float) -> tuple[str, ...]:
        ins = self.instrument
        quote_places = 8 if ins.contract_size else min(8, ins.price_decimals + ins.qty_decimals)
        return (ins.price(o), ins.price(h), ins.price(lo), ins.price(c), ins.qty(v), f"{q:.{quote_places}f}",
                ins.qty(bv), f"{bq:.{quote_places}f}")

    # -- REST --------------------------------------------------------------------------------

    def error_body(self, code: int, message: str) -> dict[str, Any]:
        return {"code": code, "msg": message}

    def refusal(self, status: int, retry_after: int | None) -> tuple[int, str]:
        if status == 503:
            return -1008, "Server is currently overloaded with other requests. Please try again in a few minutes."
        if status == 429:
            return -1003, ("Too many requests; current request weight limit exceeded. Please use the websocket "
                           "for live updates to avoid bans.")
        return -1003, (f"Way too many requests; IP banned for {retry_after} s. Please use the websocket for live "
                       "updates to avoid bans.")

    def routes(self) -> list[Route]:
        p = self.prefix
        futures = self.market.futures
        one: Callable[[web.Request], int] = lambda _r: 1  # noqa: E731
        routes = [
            Route(f"{p}/ping", self.ping, one),
            Route(f"{p}/time", self.time, one),
            Route(f"{p}/exchangeInfo", self.exchange_info, one if futures else (lambda _r: 20)),
            Route(f"{p}/depth", self.depth, self._depth_weight),
            Route(f"{p}/klines", self.klines, self._kline_weight),
            Route(f"{p}/trades", self.trades, lambda _r: 5 if futures else 25),
            Route(f"{p}/historicalTrades", self.historical_trades, lambda _r: 20 if futures else 25),
            Route(f"{p}/aggTrades", self.agg_trades_rest, lambda _r: 20 if futures else 4),
        ]
        # ccxt's spot client loads the markets of all three APIs: the others answer with no symbols.
        for venue, other in PREFIX.items():
            if venue != self.market.venue:
                routes.append(Route(f"{other}/exchangeInfo", self._empty_exchange_info(venue), one))
                routes.append(Route(f"{other}/ping", self.ping, one))
                routes.append(Route(f"{other}/time", self.time, one))
        return routes

    def _now_ms(self) -> int:
        return self.market.time_ms(self.clock.point())

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return json_response({})

    async def time(self, request: web.Request) -> web.StreamResponse:
        return json_response({"serverTime": self._now_ms()})

    def _symbol(self, request: web.Request) -> str:
        symbol = request.query.get("symbol")
        if not symbol:
            raise BadRequest(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol.upper() != self.market.symbol:
            raise BadRequest(-1121, "Invalid symbol.")
        return self.market.symbol

    def _depth_limit(self, request: web.Request) -> int:
        if self.market.futures:
            limit = _int_param(request, "limit", 500)
            if limit not in FUTURES_DEPTH_LIMITS:
                raise BadRequest(-4021, "Invalid depth limit.")
            return limit
        limit = _int_param(request, "limit", 100)
        if not 1 <= limit <= 5000:
            raise BadRequest(-1130, "Data sent for parameter 'limit' is not valid.")
        return limit

    def _depth_weight(self, request: web.Request) -> int:
        try:
            limit = self._depth_limit(request)
        except BadRequest:
            return 1
        if self.market.futures:
            return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    async def depth(self, request: web.Request) -> web.StreamResponse:
        self._symbol(request)
        limit = self._depth_limit(request)
        point = self.clock.point()
        self.book.advance(point)
        book = self.book.book
        try:
            bids, asks = book.top(limit)
        except BookNotSyncedError as exc:
            return self.error(503, -1008, f"the local exchange's book for {self.market.symbol} is not usable: {exc}")
        ins = self.instrument
        body: dict[str, Any] = {"lastUpdateId": book.last_update_id}
        if self.market.venue == "binance-coinm":
            body["symbol"] = self.market.symbol
            body["pair"] = self.market.symbol.split("_")[0]
        if self.market.futures:
            now = self.market.time_ms(point)
            body["E"] = now
            body["T"] = now
        body["bids"] = [[ins.price(p), ins.qty(q)] for p, q in bids.tolist()]
        body["asks"] = [[ins.price(p), ins.qty(q)] for p, q in asks.tolist()]
        return json_response(body)

    def _kline_limit(self, request: web.Request) -> int:
        limit = _int_param(request, "limit", 500)
        if not 1 <= limit <= (1500 if self.market.futures else 1000):
            raise BadRequest(-1130, "Data sent for parameter 'limit' is not valid.")
        return limit

    def _kline_weight(self, request: web.Request) -> int:
        if not self.market.futures:
            return 2
        try:
            limit = self._kline_limit(request)
        except BadRequest:
            return 1
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10

    def kline_rows(self, interval: str) -> list[list[Any]]:
        """Every kline of the recording's trades (up to the history point) in Binance's array form."""
        history = self.clock.history_point()
        count = len(self.market.trades_until(history))
        ts, price, qty, buy = (a[:count] for a in self._arrays)
        tables = candles.aggregate(ts, price, qty, buy, timeframes=[interval])
        table = tables[interval]
        cols = {name: table.column(name).to_numpy() for name in
                ("open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume",
                 "taker_buy_quote_volume")}
        opens = table.column("open_time").cast("int64").to_numpy()
        quote, buy_quote = cols["quote_volume"], cols["taker_buy_quote_volume"]
        size = self.instrument.contract_size
        if size:
            # COIN-M: volume in contracts, the "quote" field is the base-asset volume.
            base = candles.aggregate(ts, price, qty * size / price, buy, timeframes=[interval])[interval]
            quote = base.column("volume").to_numpy()
            buy_quote = base.column("taker_buy_volume").to_numpy()
        width = interval_ms(interval)
        rows: list[list[Any]] = []
        for i in range(table.num_rows):
            fields = self._kline_fields(cols["open"][i], cols["high"][i], cols["low"][i], cols["close"][i],
                                        cols["volume"][i], quote[i], cols["taker_buy_volume"][i], buy_quote[i])
            open_time = int(opens[i])
            rows.append([open_time, fields[0], fields[1], fields[2], fields[3], fields[4], open_time + width - 1,
                         fields[5], int(cols["trades"][i]), fields[6], fields[7], "0"])
        return rows

    async def klines(self, request: web.Request) -> web.StreamResponse:
        self._symbol(request)
        interval = request.query.get("interval")
        if not interval:
            raise BadRequest(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
        if interval not in INTERVALS or (interval == "1s" and self.market.futures):
            raise BadRequest(-1120, "Invalid interval.")
        limit = self._kline_limit(request)
        start = _int_param(request, "startTime", None)
        end = _int_param(request, "endTime", None)
        if start is not None and end is not None and start > end:
            raise BadRequest(-1023, "Start time is greater than end time.")
        rows = [r for r in self.kline_rows(interval)
                if (start is None or r[0] >= start) and (end is None or r[0] <= end)]
        # From startTime: the first `limit` bars; otherwise the latest `limit` bars (up to endTime).
        rows = rows[:limit] if start is not None else rows[-limit:]
        return json_response(rows)

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        body: dict[str, Any] = {"id": trade.id, "price": trade.price, "qty": trade.qty}
        places = _decimals(trade.price) + _decimals(trade.qty)
        if self.instrument.contract_size:
            base = Decimal(trade.qty) * self.instrument.contract_size / Decimal(trade.price)
            body["baseQty"] = _decimal(base, 8)
        else:
            body["quoteQty"] = _decimal(Decimal(trade.price) * Decimal(trade.qty), min(places, 8))
        body["time"] = trade.time_ms
        body["isBuyerMaker"] = trade.buyer_maker
        if not self.market.futures:
            body["isBestMatch"] = True
        return body

    def _trade_limit(self, request: web.Request, most: int = 1000) -> int:
        limit = _int_param(request, "limit", 500)
        if not 1 <= limit <= most:
            raise BadRequest(-1130, "Data sent for parameter 'limit' is not valid.")
        return limit

    async def trades(self, request: web.Request) -> web.StreamResponse:
        self._symbol(request)
        limit = self._trade_limit(request)
        recent = self.market.trades_until(self.clock.history_point())[-limit:]
        return json_response([self._trade_json(t) for t in recent])

    async def historical_trades(self, request: web.Request) -> web.StreamResponse:
        self._symbol(request)
        limit = self._trade_limit(request, 500 if self.market.futures else 1000)
        from_id = _int_param(request, "fromId", None)
        known = self.market.trades_until(self.clock.history_point())
        if from_id is None:
            chosen = known[-limit:]
        else:
            chosen = [t for t in known if t.id >= from_id][:limit]
        return json_response([self._trade_json(t) for t in chosen])

    async def agg_trades_rest(self, request: web.Request) -> web.StreamResponse:
        self._symbol(request)
        limit = self._trade_limit(request)
        from_id = _int_param(request, "fromId", None)
        start = _int_param(request, "startTime", None)
        end = _int_param(request, "endTime", None)
        if start is not None and end is not None:
            if end < start:
                raise BadRequest(-1023, "Start time is greater than end time.")
            if end - start > 3_600_000:
                raise BadRequest(-1127, "More than 1 hours between startTime and endTime.")
        everything = self.agg_trades()
        history = self.clock.history_point()
        known = everything if history is None else [a for a in everything if a.point <= history]
        if from_id is not None:
            chosen = [a for a in known if a.id >= from_id]
        else:
            chosen = [a for a in known if (start is None or a.time_ms >= start) and (end is None or a.time_ms <= end)]
        chosen = chosen[:limit] if from_id is not None or start is not None else chosen[-limit:]
        spot = not self.market.futures
        body = []
        for a in chosen:
            row: dict[str, Any] = {"a": a.id, "p": a.price, "q": a.qty, "f": a.first, "l": a.last, "T": a.time_ms,
                                   "m": a.buyer_maker}
            if spot:
                row["M"] = True
            body.append(row)
        return json_response(body)

    async def exchange_info(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._exchange_info(self.market.venue, [self._symbol_info()]))

    def _empty_exchange_info(self, venue: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return json_response(self._exchange_info(venue, []))
        return handler

    def _exchange_info(self, venue: str, symbols: list[dict[str, Any]]) -> dict[str, Any]:
        limit = 6000 if venue == "binance-spot" else 2400
        return {
            "timezone": "UTC",
            "serverTime": self._now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _symbol_info(self) -> dict[str, Any]:
        ins = self.instrument
        filters = [
            {"filterType": "PRICE_FILTER", "minPrice": ins.tick_size, "maxPrice": "1000000.00", "tickSize": ins.tick_size},
            {"filterType": "LOT_SIZE", "minQty": ins.step_size, "maxQty": "10000", "stepSize": ins.step_size},
            {"filterType": "MARKET_LOT_SIZE", "minQty": ins.step_size, "maxQty": "1000", "stepSize": ins.step_size},
        ]
        common: dict[str, Any] = {"symbol": ins.symbol, "status": "TRADING", "baseAsset": ins.base,
                                  "quoteAsset": ins.quote, "baseAssetPrecision": 8, "quotePrecision": 8}
        if self.market.venue == "binance-spot":
            return {**common, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                    "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": filters[:2] + [{"filterType": "NOTIONAL", "minNotional": "5.00000000",
                                               "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                                               "applyMaxToMarket": False, "avgPriceMins": 5}],
                    "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]}
        futures: dict[str, Any] = {
            **common, "contractType": "PERPETUAL", "deliveryDate": _PERPETUAL_DELIVERY, "onboardDate": 1569398400000,
            "pricePrecision": ins.price_decimals, "quantityPrecision": ins.qty_decimals, "underlyingType": "COIN",
            "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
            "marketTakeBound": "0.05", "filters": filters,
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                           "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }
        if self.market.venue == "binance-usdm":
            futures.update(pair=ins.symbol, marginAsset=ins.quote, maintMarginPercent="2.5000",
                           requiredMarginPercent="5.0000", settlePlan=0)
            return futures
        pair = ins.symbol.split("_")[0]
        futures.update(pair=pair, contractStatus="TRADING", contractSize=ins.contract_size, marginAsset=ins.base,
                       equalQtyPrecision=4, maintMarginPercent="2.5000", requiredMarginPercent="5.0000")
        del futures["status"]
        return futures


@dataclass
class _Bar:
    """An open kline being built trade by trade (floats summed in trade order, as the Rust
    aggregator does, so closed bars print as the REST klines do)."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    quote: float = 0.0
    buy: float = 0.0
    buy_quote: float = 0.0
    trades: int = 0
    first_id: int = -1
    last_id: int = -1
    unpushed: bool = False

    @classmethod
    def empty(cls, open_time: int, price: float) -> _Bar:
        return cls(open_time, price, price, price, price)

    def add(self, trade: Trade, contract_size: int | None) -> None:
        price, qty = float(trade.price), float(trade.qty)
        if self.trades == 0:
            self.open = self.high = self.low = price
            self.first_id = trade.id
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        quote = qty * contract_size / price if contract_size else price * qty
        self.quote += quote
        if not trade.buyer_maker:
            self.buy += qty
            self.buy_quote += quote
        self.trades += 1
        self.last_id = trade.id


@overload
def _int_param(request: web.Request, name: str, default: int) -> int: ...
@overload
def _int_param(request: web.Request, name: str, default: None) -> int | None: ...
def _int_param(request: web.Request, name: str, default: int | None) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 20:
        raise BadRequest(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)
