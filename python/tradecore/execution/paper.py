"""Paper execution: the one fill model of backtests and paper runs. It is deterministic — times
come from the arguments (exchange time, UTC ms), randomness only from the latency seed — so the
same inputs always give the same fills.

Orders go through :meth:`PaperBroker.submit` (validated; refused ones come back REJECTED with a
``note`` saying why), wait out the latency (PENDING) and then meet the market in one of two modes.
Every fill pays the maker or taker fee on its notional, is booked in the portfolio at once (so
reduce-only orders see the position as it is), carries the order's ``reason`` and is reported to
``on_fill``; every change of an order is reported to ``on_order``.

**Candle mode** (:meth:`PaperBroker.on_bar`), from bars alone:

- The price path inside a bar is open → low → high → close for a bullish bar (close ≥ open) and
  open → high → low → close otherwise, walked at constant speed over the bar's span
  (:mod:`tradecore.execution.intrabar`). Everything happens in path order, and each fill is
  stamped with the time of its point on the path.
- An order live at the bar's start meets it at the open; one that goes live inside the bar joins
  the path at its live time (so a short latency after a bar close still trades the next bar,
  from a price a hair away from its open); one live only at or after the bar's end waits.
- A market order fills at once, in full, at the path's price ± slippage (taker).
- A limit marketable when it reaches the market (buy: price ≤ limit) fills in full as a taker at
  that price ± slippage, never past its limit. Otherwise it rests and fills as a maker at its own
  limit price when the path touches it — also when a later bar opens beyond it (a gap) — for at
  most ``participation`` × the bar's volume per bar; the rest stays open (a partial fill).
- Stops (stop, the trigger of a stop-limit, trailing stops) trigger when the path reaches them:
  at the stop price, or at the open when a bar gaps through it — the worse of the two — then fill
  as a market order ± slippage; a triggered stop-limit becomes a limit (its type turns to LIMIT).
  Trailing stops ratchet their trigger from the path's extremes once armed.
- When one bar reaches both a bracket's stop-loss and its take-profit, the path order decides: a
  bullish bar visits its low first, a bearish one its high.
- Slippage ``book`` has no book here and falls back to the fixed bps (logged once).

**Book mode** (:meth:`PaperBroker.on_book`), against a live L2 book at each update:

- A market order sweeps the book as a taker; the rest of it is canceled (IOC semantics). With
  slippage ``book`` the sweep's average price is the fill price; otherwise the fixed bps apply to
  the best price (``volatility`` has no bar here and falls back to fixed, logged once).
- A marketable limit sweeps up to its limit as a taker and the rest rests. A resting buy limit
  fills as a maker at its own price when the best ask trades through it (ask < limit; ≤ with
  ``queue="touch"``), for as much as the book shows at prices through the limit (sells mirror).
- Stops watch the best ask (buy stops) or best bid (sell stops); trailing stops likewise.
- Paper orders do not consume the book: each one sees the whole book of the update (right as long
  as they are small next to it). ``BookLike.sweep`` must only read the book.

**In both modes**: IOC fills what it can at once and cancels the rest; FOK fills all at once or
is REJECTED; POST_ONLY limits that would take are REJECTED — these three are judged when the order
reaches the market, after the latency. GTD orders expire at ``expire_ms`` (in candle mode at that
point of the path). Bracket legs (``parent_id``) wait until their entry first
fills, then go live at once (the venue holds them: no latency), sized to the entry's filled
quantity and resized as it fills more; legs of an entry canceled before any fill are canceled
too. When an order of an ``oco_group`` fills completely, the group's other orders are canceled.
Reduce-only orders never increase or flip a position: refused when there is nothing to reduce,
cut down to the open position, canceled once it is gone. Cancels take effect at once.

The order records carry all of the broker's state, so :meth:`PaperBroker.restore` resumes a run
exactly: a triggered stop-limit turns into a LIMIT, a trailing stop keeps its current trigger in
``stop_price`` (:mod:`tradecore.execution.trailing`), a PENDING order keeps its submission time in
``updated_ms``. Order ids are ``f"{id_prefix}{n}"`` and fill ids ``f"{id_prefix}f{n}"`` from one
counter (:attr:`PaperBroker.next_id`).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeVar

from tradecore.errors import InvalidArgumentError
from tradecore.execution.intrabar import BarPath
from tradecore.execution.models import PaperConfig
from tradecore.execution.orders import Fill, Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.portfolio import Portfolio
from tradecore.execution.trailing import Trail

log = logging.getLogger("tradecore.execution.paper")

_E = TypeVar("_E", bound=Enum)
_EPS = 1e-12  # quantities within this fraction of each other are equal (float dust)
_LIVE = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
_STOPS = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


class BookLike(Protocol):
    def best_bid(self) -> tuple[float, float] | None: ...

    def best_ask(self) -> tuple[float, float] | None: ...

    def sweep(self, side: str, qty: float, limit: float | None) -> tuple[float, float]:
        """What a taker on ``side`` ("buy" walks the asks up from the best) would get for ``qty``
        without going past ``limit``: (filled qty, average price), (0.0, nan) for nothing."""
        ...


def _num(x: float) -> str:
    return f"{x:.10g}"


def _reaches(side: Side, price: float, limit: float) -> bool:
    """Whether a taker on ``side`` may trade at ``price`` under ``limit``."""
    return price <= limit if side is Side.BUY else price >= limit


def _cap(side: Side, price: float, limit: float | None) -> float:
    if limit is None:
        return price
    return min(price, limit) if side is Side.BUY else max(price, limit)


class _CandleMarket:
    """A bar: one price moving along the bar's path, no spread, no depth."""

    def __init__(self, price: float, slip: float) -> None:
        self.price = price
        self.slip = slip

    def quote(self, side: Side) -> float | None:
        return self.price

    def take(self, side: Side, qty: float, limit: float | None) -> tuple[float, float]:
        if limit is not None and not _reaches(side, self.price, limit):
            return 0.0, math.nan
        return qty, _cap(side, self.price * (1 + side.sign * self.slip), limit)


class _BookMarket:
    """An order book update."""

    def __init__(self, book: BookLike, slip: float, walk: bool, touch: bool) -> None:
        self.book = book
        self.slip = slip
        self.walk = walk  # the sweep's average is the fill price ("book" slippage)
        self.touch = touch

    def quote(self, side: Side) -> float | None:
        """The best price a taker on ``side`` meets: the best ask for a buy, bid for a sell."""
        level = self.book.best_ask() if side is Side.BUY else self.book.best_bid()
        return None if level is None else level[0]

    def take(self, side: Side, qty: float, limit: float | None) -> tuple[float, float]:
        best = self.quote(side)
        if best is None or (limit is not None and not _reaches(side, best, limit)):
            return 0.0, math.nan
        filled, average = self.book.sweep(side.value, qty, limit)
        if not filled > 0 or not math.isfinite(average):
            return 0.0, math.nan
        price = average if self.walk else _cap(side, best * (1 + side.sign * self.slip), limit)
        return min(filled, qty), price

    def through(self, side: Side, qty: float, limit: float) -> float:
        """How much of a resting limit on ``side`` fills: what the book shows through it."""
        best = self.quote(side)
        if best is None:
            return 0.0
        if not self.touch:  # only prices strictly better than the limit count
            limit = math.nextafter(limit, -math.inf if side is Side.BUY else math.inf)
        if not _reaches(side, best, limit):
            return 0.0
        filled, _ = self.book.sweep(side.value, qty, limit)
        return min(filled, qty) if filled > 0 else 0.0


@dataclass(slots=True, eq=False)
class _Run:
    """One on_bar/on_book call: the market orders meet, the current time and what happened."""

    symbol: str
    market: _CandleMarket | _BookMarket
    now: float
    last_ms: int  # fills are stamped no later (candle mode: the bar's last millisecond)
    fills: list[Fill] = field(default_factory=list)
    fresh: deque[Order] = field(default_factory=deque)  # reached the market now, not yet looked at
    since: dict[str, float] = field(default_factory=dict)  # candle mode: when an order joined the path
    made: set[str] = field(default_factory=set)  # candle mode: limits that had their maker fill this bar

    @property
    def ts(self) -> int:
        return min(math.floor(self.now + 1e-6), self.last_ms)  # float dust in path times is not a ms


# candle-mode events at one instant happen in this order
_EXPIRE, _JOIN, _HIT = 0, 1, 2


class PaperBroker:
    def __init__(
        self,
        portfolio: Portfolio,
        config: PaperConfig | None = None,
        *,
        on_fill: Callable[[Fill, Order], None] | None = None,
        on_order: Callable[[Order], None] | None = None,
        id_prefix: str = "",
    ) -> None:
        self.portfolio = portfolio
        self.config = config if config is not None else PaperConfig()
        self._on_fill = on_fill
        self._on_order = on_order
        self._prefix = id_prefix
        self._orders: dict[str, Order] = {}  # every order, in submission order
        self._active: dict[str, Order] = {}  # those not done, in submission order
        self._in_flight: dict[str, int] = {}  # submitted, reaching the market at this time
        self._held: set[str] = set()  # bracket legs waiting for their entry's first fill
        self._next_id = 1
        self._clock: dict[str, int] = {}  # per symbol: market time processed so far
        self._warned: set[str] = set()

    # --- ids -----------------------------------------------------------------------------
    @property
    def next_id(self) -> int:
        """The next number of the id sequence (orders and fills share it); persist it with the
        orders to :meth:`restore` them."""
        return self._next_id

    def _new_id(self, kind: str = "") -> str:
        while True:
            candidate = f"{self._prefix}{kind}{self._next_id}"
            self._next_id += 1
            if kind or candidate not in self._orders:
                return candidate

    def new_order(
        self,
        symbol: str,
        side: Side | str,
        type: OrderType | str,  # noqa: A002 - the Order field's name
        qty: float,
        now_ms: int,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        trail: float | None = None,
        activation_price: float | None = None,
        tif: TimeInForce | str = TimeInForce.GTC,
        expire_ms: int | None = None,
        reduce_only: bool = False,
        oco_group: str | None = None,
        parent_id: str | None = None,
        strategy: str = "",
        reason: str = "",
    ) -> Order:
        """An order with the next id, created at ``now_ms`` (not submitted yet)."""
        return Order(
            id=self._new_id(),
            symbol=symbol,
            side=_enum(Side, side, "side"),
            type=_enum(OrderType, type, "type"),
            qty=qty,
            created_ms=now_ms,
            price=price,
            stop_price=stop_price,
            trail=trail,
            activation_price=activation_price,
            tif=_enum(TimeInForce, tif, "tif"),
            expire_ms=expire_ms,
            reduce_only=reduce_only,
            oco_group=oco_group,
            parent_id=parent_id,
            strategy=strategy,
            reason=reason,
            updated_ms=now_ms,
        )

    # --- orders in -----------------------------------------------------------------------
    def submit(self, order: Order, now_ms: int) -> Order:
        """Takes a new order: REJECTED with a ``note`` when it cannot stand, else PENDING until
        now + latency (a bracket leg: until its entry first fills). Returns the order."""
        if order.id in self._orders:
            raise InvalidArgumentError(f"order id {order.id!r} was already submitted", name="order")
        if order.status is not OrderStatus.PENDING or order.filled_qty != 0:
            raise InvalidArgumentError(
                f"order {order.id} is {order.status} with {order.filled_qty} filled: submit takes new orders", name="order"
            )
        order.updated_ms = now_ms
        self._orders[order.id] = order
        problem = self._problem(order, now_ms)
        if problem is not None:
            order.status, order.note = OrderStatus.REJECTED, problem
            log.info("order %s rejected: %s", order.id, problem)
            self._changed(order)
            return order
        self._active[order.id] = order
        parent = self._orders.get(order.parent_id) if order.parent_id is not None else None
        if parent is not None and parent.filled_qty == 0:
            self._held.add(order.id)
            order.note = f"waits for {parent.id} to fill"
        else:
            if parent is not None:
                order.qty = parent.filled_qty
                order.note = f"sized to the {_num(parent.filled_qty)} filled by {parent.id}"
            room = self._room(order)
            if order.reduce_only and order.qty > room:
                order.qty = room
                order.note = f"reduce-only: cut to the open position {_num(room)}"
            self._in_flight[order.id] = now_ms + self.config.latency.delay(order.id)
        self._changed(order)
        return order

    def _problem(self, order: Order, now_ms: int) -> str | None:
        """Why the order cannot be accepted, or None."""
        kind = order.type
        if not order.symbol:
            return "no symbol"
        if not _positive(order.qty):
            return f"qty must be a number > 0, got {order.qty!r}"
        needs_price = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        if needs_price != (order.price is not None):
            return f"a {kind} order {'needs a' if needs_price else 'takes no'} price"
        if order.price is not None and not _positive(order.price):
            return f"price must be a number > 0, got {order.price!r}"
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and order.stop_price is None:
            return f"a {kind} order needs a stop_price"
        if order.stop_price is not None and kind not in _STOPS:
            return f"a {kind} order takes no stop_price"
        if order.stop_price is not None and not _positive(order.stop_price):
            return f"stop_price must be a number > 0, got {order.stop_price!r}"
        if kind is OrderType.TRAILING_STOP:
            if order.trail is None or not 0 < order.trail < 1:
                return f"a trailing stop needs trail, a fraction of the price in (0, 1), got {order.trail!r}"
            if order.activation_price is not None and not _positive(order.activation_price):
                return f"activation_price must be a number > 0, got {order.activation_price!r}"
            if order.activation_price is not None and order.stop_price is not None:
                return "a trailing stop arms at activation_price or starts from stop_price, not both"
        elif order.trail is not None or order.activation_price is not None:
            return f"a {kind} order takes no trail or activation_price (trailing stops only)"
        if order.tif is TimeInForce.POST_ONLY and kind is not OrderType.LIMIT:
            return f"post-only applies to limit orders, not {kind}"
        if order.tif is TimeInForce.GTD:
            if order.expire_ms is None:
                return "a GTD order needs expire_ms"
            if order.expire_ms <= now_ms:
                return f"GTD expire_ms {order.expire_ms} is not after now ({now_ms})"
        elif order.expire_ms is not None:
            return f"expire_ms is for GTD orders only (tif is {order.tif})"
        if order.parent_id is not None:
            parent = self._orders.get(order.parent_id)
            if parent is None or parent is order:
                return f"parent {order.parent_id} is unknown"
            if parent.symbol != order.symbol:
                return f"parent {parent.id} trades {parent.symbol}, not {order.symbol}"
            if parent.filled_qty == 0:
                if not parent.active:
                    return f"parent {parent.id} is {parent.status} without a fill"
                return None  # held until the parent fills: the position comes with it
        if order.reduce_only and self._room(order) <= 0:
            return f"reduce-only: no {'short' if order.side is Side.BUY else 'long'} {order.symbol} position to reduce"
        return None

    def cancel(self, order_id: str, now_ms: int, reason: str) -> bool:
        """Cancels an active order at once; False when it is unknown or already done."""
        order = self._active.get(order_id)
        if order is None:
            return False
        self._finish(order, OrderStatus.CANCELED, reason, now_ms)
        return True

    def cancel_all(self, now_ms: int, reason: str, symbol: str | None = None) -> list[Order]:
        """Cancels every active order (of ``symbol``); returns them."""
        targets = [o for o in self._active.values() if symbol is None or o.symbol == symbol]
        for order in targets:
            if order.active:
                self._finish(order, OrderStatus.CANCELED, reason, now_ms)
        return [o for o in targets if o.status is OrderStatus.CANCELED]

    def orders(self, symbol: str | None = None, *, active: bool = True) -> list[Order]:
        """The orders (active ones, or all), in submission order."""
        source = self._active if active else self._orders
        return [o for o in source.values() if symbol is None or o.symbol == symbol]

    def restore(self, orders: Iterable[Order], next_id: int) -> None:
        """Reloads active orders after a restart (from the state store). An order still PENDING
        reaches the market at its last update + latency, a leg still waits for its entry."""
        orders = list(orders)
        if isinstance(next_id, bool) or not isinstance(next_id, int) or next_id < 1:
            raise InvalidArgumentError(f"next_id must be an int >= 1, got {next_id!r}", name="next_id")
        ids = [o.id for o in orders]
        if len(set(ids)) != len(ids) or any(i in self._orders for i in ids):
            raise InvalidArgumentError(f"restore: order ids repeat or are already known: {ids}", name="orders")
        done = [o.id for o in orders if not o.active]
        if done:
            raise InvalidArgumentError(f"restore takes active orders; these are done: {done}", name="orders")
        for order in orders:
            self._orders[order.id] = self._active[order.id] = order
        for order in orders:
            if order.status is OrderStatus.PENDING:
                parent = self._active.get(order.parent_id) if order.parent_id is not None else None
                if parent is not None and parent.filled_qty == 0:
                    self._held.add(order.id)
                else:
                    self._in_flight[order.id] = order.updated_ms + self.config.latency.delay(order.id)
        self._next_id = max(self._next_id, next_id)

    # --- market data ---------------------------------------------------------------------
    def on_bar(
        self, symbol: str, open_ms: int, span_ms: int, o: float, h: float, l: float, c: float, v: float  # noqa: E741
    ) -> list[Fill]:
        """Candle mode: runs the symbol's orders through one bar; returns its fills."""
        _check_bar(symbol, open_ms, span_ms, o, h, l, c, v)
        self._tick(symbol, open_ms, open_ms + span_ms, "open_ms")
        if not any(order.symbol == symbol for order in self._active.values()):
            return []  # nothing to match (most bars of a backtest)
        path = BarPath(open_ms, span_ms, o, h, l, c)
        market = _CandleMarket(o, self._slip((h - l) / c, candle=True))
        run = _Run(symbol, market, path.start, open_ms + span_ms - 1)
        budget = self.config.participation * v
        while True:
            self._drain(run)
            event = self._next_event(run, path, budget)
            if event is None:
                break
            t, kind, order, price, trail = event
            run.now, market.price = max(t, run.now), price
            if kind == _EXPIRE:
                self._expire(order)
            elif kind == _JOIN:
                del self._in_flight[order.id]
                run.fresh.append(order)
            elif order.type is OrderType.LIMIT:
                assert order.price is not None
                run.made.add(order.id)
                self._fill(run, order, min(order.remaining, budget), order.price, Liquidity.MAKER)
            else:
                if trail is not None:
                    trail.store(order)
                self._trigger(run, order)
        for order in self._live(symbol):  # trailing stops carry their trigger into the next bar
            if order.type is OrderType.TRAILING_STOP:
                trail = Trail.of(order)
                trail.walk(path, run.since.get(order.id, path.start))
                if trail.store(order):
                    order.updated_ms = run.last_ms
                    self._changed(order)
        return run.fills

    def _next_event(
        self, run: _Run, path: BarPath, budget: float
    ) -> tuple[float, int, Order, float, Trail | None] | None:
        """The earliest thing to happen on the rest of the path: an order expires, reaches the
        market, or is reached by the price. Ties go by kind, then submission order."""
        best: tuple[float, int, int] | None = None
        event: tuple[float, int, Order, float, Trail | None] | None = None
        for seq, order in enumerate(self._active.values()):
            if order.symbol != run.symbol:
                continue
            found: list[tuple[float, int, float, Trail | None]] = []
            if order.expire_ms is not None and order.expire_ms <= path.end:
                t = max(float(order.expire_ms), path.start)
                found.append((t, _EXPIRE, path.price_at(t), None))
            if order.id in self._in_flight:
                live = self._in_flight[order.id]
                if live < path.end:
                    t = max(float(live), path.start)
                    found.append((t, _JOIN, path.price_at(t), None))
            elif order.status in _LIVE:
                hit = self._path_hit(run, path, order, budget)
                if hit is not None:
                    found.append((hit[0], _HIT, hit[1], hit[2]))
            for t, kind, price, trail in found:
                if best is None or (t, kind, seq) < best:
                    best, event = (t, kind, seq), (t, kind, order, price, trail)
        return event

    def _path_hit(self, run: _Run, path: BarPath, order: Order, budget: float) -> tuple[float, float, Trail | None] | None:
        """Where the path first reaches a resting order from when it joined: (time, price, the
        trailing state there)."""
        since = run.since.get(order.id, path.start)
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            if order.id in run.made or budget <= 0:
                return None
            hit = path.first_reach(since, order.price, up=order.side is Side.SELL)
            return None if hit is None else (*hit, None)
        if order.type is OrderType.TRAILING_STOP:
            trail = Trail.of(order)
            hit = trail.walk(path, since)
            return None if hit is None else (*hit, trail)
        assert order.stop_price is not None
        hit = path.first_reach(since, order.stop_price, up=order.side is Side.BUY)
        return None if hit is None else (*hit, None)

    def on_book(self, symbol: str, now_ms: int, book: BookLike) -> list[Fill]:
        """Book mode: runs the symbol's orders against one book update; returns the fills.
        Resting orders go first, then those whose latency ends now, each in submission order."""
        self._tick(symbol, now_ms, now_ms, "now_ms")
        s = self.config.slippage
        market = _BookMarket(book, self._slip(None, candle=False), s.model == "book", self.config.queue == "touch")
        run = _Run(symbol, market, float(now_ms), now_ms)
        for order in [o for o in self._active.values() if o.symbol == symbol]:
            if order.expire_ms is not None and order.expire_ms <= now_ms and order.active:
                self._expire(order)
        for order in self._live(symbol):
            if order.active:
                self._rest(run, order)
                self._drain(run)
        for order in [o for o in self._active.values() if o.symbol == symbol]:
            if self._in_flight.get(order.id, now_ms + 1) <= now_ms:
                del self._in_flight[order.id]
                run.fresh.append(order)
                self._drain(run)
        return run.fills

    def _rest(self, run: _Run, order: Order) -> None:
        """Book mode: a resting order looks at the new book."""
        if order.type is OrderType.LIMIT:
            assert order.price is not None and isinstance(run.market, _BookMarket)
            qty = run.market.through(order.side, order.remaining, order.price)
            if qty > 0:
                self._fill(run, order, qty, order.price, Liquidity.MAKER)
        else:
            self._check_stop(run, order)

    # --- meeting the market --------------------------------------------------------------
    def _drain(self, run: _Run) -> None:
        """Gives each order that just reached the market its first look at it."""
        while run.fresh:
            order = run.fresh.popleft()
            if not order.active:
                continue
            run.since[order.id] = run.now
            if order.type is OrderType.MARKET:
                self._market(run, order)
            elif order.type is OrderType.LIMIT:
                self._limit(run, order)
            else:
                self._check_stop(run, order)
            if order.status is OrderStatus.PENDING:  # resting
                order.status, order.updated_ms = OrderStatus.OPEN, run.ts
                self._changed(order)

    def _check_stop(self, run: _Run, order: Order) -> None:
        price = run.market.quote(order.side)
        if price is None:
            return
        if order.type is OrderType.TRAILING_STOP:
            trail = Trail.of(order)
            fired = trail.observe(price)
            if trail.store(order) and order.status is not OrderStatus.PENDING and not fired:
                order.updated_ms = run.ts
                self._changed(order)
        else:
            assert order.stop_price is not None
            fired = price >= order.stop_price if order.side is Side.BUY else price <= order.stop_price
        if fired:
            self._trigger(run, order)

    def _trigger(self, run: _Run, order: Order) -> None:
        """A stop is reached: it becomes a market order, or a stop-limit a limit."""
        price = run.market.quote(order.side)
        assert order.stop_price is not None and price is not None  # a stop triggers at a price
        run.since[order.id] = run.now  # a stop-limit's limit rests from here on
        order.note = f"stop {_num(order.stop_price)} triggered at {_num(price)}"
        if order.type is OrderType.STOP_LIMIT:
            order.type = OrderType.LIMIT
            self._limit(run, order)
            if order.status in _LIVE:
                order.updated_ms = run.ts
                self._changed(order)
        else:
            self._market(run, order)

    def _market(self, run: _Run, order: Order) -> None:
        want = order.remaining
        if order.tif is TimeInForce.FOK and run.market.take(order.side, want, None)[0] < want * (1 - _EPS):
            self._finish(order, OrderStatus.REJECTED, f"FOK: the market cannot fill all {_num(want)} at once", run.ts)
            return
        qty, price = run.market.take(order.side, want, None)
        if qty > 0:
            self._fill(run, order, qty, price, Liquidity.TAKER)
        if order.active:
            note = (
                f"market order: the book held only {_num(order.filled_qty)} of {_num(order.qty)}; the rest is canceled"
                if order.filled_qty
                else f"market order: no {'asks' if order.side is Side.BUY else 'bids'} to fill it"
            )
            self._finish(order, OrderStatus.CANCELED, note, run.ts)

    def _limit(self, run: _Run, order: Order) -> None:
        """A limit reaching the market (or a triggered stop-limit): takes what it can, unless
        post-only; IOC and FOK do not rest."""
        assert order.price is not None
        want = order.remaining
        qty, price = run.market.take(order.side, want, order.price)
        if order.tif is TimeInForce.POST_ONLY and qty > 0:
            quote = run.market.quote(order.side)
            assert quote is not None
            note = f"post-only: limit {_num(order.price)} would take liquidity at {_num(quote)}"
            self._finish(order, OrderStatus.REJECTED, note, run.ts)
            return
        if order.tif is TimeInForce.FOK and qty < want * (1 - _EPS):
            note = f"FOK: only {_num(qty)} of {_num(want)} can fill at once at {_num(order.price)} or better"
            self._finish(order, OrderStatus.REJECTED, note, run.ts)
            return
        if qty > 0:
            self._fill(run, order, qty, price, Liquidity.TAKER)
        if order.active and order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            note = f"IOC: the {_num(order.remaining)} not filled at once at {_num(order.price)} or better is canceled"
            self._finish(order, OrderStatus.CANCELED, note, run.ts)

    # --- fills and what follows ----------------------------------------------------------
    def _fill(self, run: _Run, order: Order, qty: float, price: float, liquidity: Liquidity) -> None:
        if order.reduce_only:
            qty = min(qty, self._room(order))
            if qty <= _EPS * order.qty:
                self._finish(order, OrderStatus.CANCELED, self._nothing_to_reduce(order), run.ts)
                return
        fee = qty * price * self.config.fees.rate(liquidity)
        fill = Fill(self._new_id("f"), order.id, order.symbol, order.side, qty, price, fee, liquidity, run.ts, order.reason)
        total = order.filled_qty + qty
        order.avg_price = (order.avg_price * order.filled_qty + price * qty) / total
        order.fees += fee
        order.updated_ms = run.ts
        if order.qty - total <= _EPS * order.qty:
            order.filled_qty, order.status = order.qty, OrderStatus.FILLED
            self._drop(order)
        else:
            order.filled_qty, order.status = total, OrderStatus.PARTIALLY_FILLED
        self.portfolio.apply(fill, strategy=order.strategy)
        run.fills.append(fill)
        if self._on_fill is not None:
            self._on_fill(fill, order)
        self._changed(order)
        self._after_fill(run, order)

    def _after_fill(self, run: _Run, order: Order) -> None:
        if order.status is OrderStatus.FILLED and order.oco_group is not None:
            for other in [o for o in self._active.values() if o.oco_group == order.oco_group]:
                self._finish(other, OrderStatus.CANCELED, f"OCO: {order.id} filled", run.ts)
        for leg in [o for o in self._active.values() if o.parent_id == order.id]:
            size = max(order.filled_qty, leg.filled_qty)
            resized, leg.qty = leg.qty != size, size
            leg.note = f"sized to the {_num(order.filled_qty)} filled by {order.id}"
            if leg.id in self._held:  # goes live now, at the venue: no latency
                self._held.discard(leg.id)
                run.fresh.append(leg)
            elif resized:
                self._touch(leg, run.ts)
        for other in [o for o in self._active.values() if o.symbol == order.symbol and o.reduce_only]:
            if other.id in self._held:
                continue
            room = self._room(other)
            if room <= _EPS * other.qty:
                self._finish(other, OrderStatus.CANCELED, self._nothing_to_reduce(other), run.ts)
            elif other.remaining > room * (1 + _EPS):
                other.qty = other.filled_qty + room
                other.note = f"reduce-only: cut to the open position {_num(room)}"
                self._touch(other, run.ts)

    def _room(self, order: Order) -> float:
        """How much of the position the order could reduce (0 when it would increase it)."""
        pos = self.portfolio.position(order.symbol)
        return abs(pos.qty) if pos is not None and pos.qty * order.side.sign < 0 else 0.0

    @staticmethod
    def _nothing_to_reduce(order: Order) -> str:
        return f"reduce-only: no {'short' if order.side is Side.BUY else 'long'} {order.symbol} position left to reduce"

    # --- order bookkeeping ---------------------------------------------------------------
    def _expire(self, order: Order) -> None:
        assert order.expire_ms is not None
        self._finish(order, OrderStatus.EXPIRED, f"GTD: expired at {order.expire_ms}", order.expire_ms)

    def _finish(self, order: Order, status: OrderStatus, note: str, ts: int) -> None:
        """Ends an order; an entry ended before any fill takes its waiting legs with it."""
        order.status, order.note, order.updated_ms = status, note, ts
        self._drop(order)
        self._changed(order)
        if order.filled_qty == 0:
            for leg in [o for o in self._active.values() if o.parent_id == order.id and o.id in self._held]:
                self._finish(leg, OrderStatus.CANCELED, f"parent {order.id} {status} without a fill", ts)

    def _drop(self, order: Order) -> None:
        self._active.pop(order.id, None)
        self._in_flight.pop(order.id, None)
        self._held.discard(order.id)

    def _touch(self, order: Order, ts: int) -> None:
        """Reports a change; a PENDING order keeps its submission time (restore needs it)."""
        if order.status is not OrderStatus.PENDING:
            order.updated_ms = ts
        self._changed(order)

    def _changed(self, order: Order) -> None:
        if self._on_order is not None:
            self._on_order(order)

    def _live(self, symbol: str) -> list[Order]:
        """The symbol's orders resting in the market."""
        return [o for o in self._active.values() if o.symbol == symbol and o.status in _LIVE]

    def _tick(self, symbol: str, start: int, end: int, name: str) -> None:
        last = self._clock.get(symbol)
        if last is not None and start < last:
            raise InvalidArgumentError(f"{symbol}: market data must move forward: {name}={start} is before {last}", name=name)
        self._clock[symbol] = end

    def _slip(self, bar_range: float | None, *, candle: bool) -> float:
        model = self.config.slippage.model
        if model == "book" and candle:
            self._warn_once("candle mode has no order book: 'book' slippage falls back to the fixed bps")
        if model == "volatility" and not candle:
            self._warn_once("book mode has no bar: 'volatility' slippage falls back to the fixed bps")
        return self.config.slippage.fraction(bar_range)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning(message)


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _enum(cls: type[_E], value: object, name: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be one of {[m.value for m in cls]}, got {value!r}", name=name) from None


def _check_bar(symbol: str, open_ms: int, span_ms: int, o: float, h: float, l: float, c: float, v: float) -> None:  # noqa: E741
    if span_ms <= 0:
        raise InvalidArgumentError(f"{symbol} bar at {open_ms}: span_ms must be > 0, got {span_ms}", name="span_ms")
    for name, x in (("o", o), ("h", h), ("l", l), ("c", c)):
        if not _positive(x):
            raise InvalidArgumentError(f"{symbol} bar at {open_ms}: {name} must be a price > 0, got {x!r}", name=name)
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
        raise InvalidArgumentError(f"{symbol} bar at {open_ms}: v must be a volume >= 0, got {v!r}", name="v")
    if not l <= min(o, c) <= max(o, c) <= h:
        raise InvalidArgumentError(
            f"{symbol} bar at {open_ms}: high and low must enclose open and close (o={o} h={h} l={l} c={c})",
            name="l" if l > min(o, c) else "h",
        )
