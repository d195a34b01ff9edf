"""Orders and fills: the vocabulary shared by strategies, the risk engine, the brokers and the
state store. Times are exchange time in UTC milliseconds; quantities are in the base asset,
prices and money in the quote asset."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # becomes a market order once the stop price trades
    STOP_LIMIT = "stop_limit"  # becomes a limit order at `price` once `stop_price` trades
    TRAILING_STOP = "trailing_stop"  # emulated: a stop that follows the best price by `trail`


class TimeInForce(StrEnum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # fill what can be filled now, cancel the rest
    FOK = "fok"  # fill everything now or nothing
    GTD = "gtd"  # good till `expire_ms`
    POST_ONLY = "post_only"  # rejected if it would take liquidity


class OrderStatus(StrEnum):
    PENDING = "pending"  # accepted, not yet at the venue (the latency model holds it)
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def done(self) -> bool:
        return self in _DONE


_DONE = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(slots=True)
class Order:
    """One order. ``id`` is unique per bot and stable across restarts (the state store's key);
    ``reason`` says why it exists ("trend entry", "stop-loss", "take-profit", "kill switch"…)."""

    id: str
    symbol: str
    side: Side
    type: OrderType
    qty: float
    created_ms: int
    price: float | None = None  # limit price (LIMIT, STOP_LIMIT)
    stop_price: float | None = None  # trigger (STOP, STOP_LIMIT; TRAILING_STOP: current trigger)
    trail: float | None = None  # TRAILING_STOP: distance as a fraction of the best price (0.01 = 1%)
    activation_price: float | None = None  # TRAILING_STOP: starts trailing once the market reaches it
    tif: TimeInForce = TimeInForce.GTC
    expire_ms: int | None = None  # GTD
    reduce_only: bool = False
    oco_group: str | None = None  # orders of one group cancel each other when one fills
    parent_id: str | None = None  # a bracket's legs name their entry; they go live when it fills
    strategy: str = ""
    reason: str = ""
    status: OrderStatus = OrderStatus.PENDING
    filled_qty: float = 0.0
    avg_price: float = 0.0
    fees: float = 0.0
    updated_ms: int = 0
    note: str = ""  # why it was rejected, cancelled or expired

    @property
    def remaining(self) -> float:
        return max(self.qty - self.filled_qty, 0.0)

    @property
    def active(self) -> bool:
        return not self.status.done


@dataclass(slots=True, frozen=True)
class Fill:
    """One execution: part or all of an order."""

    id: str
    order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float  # in the quote asset
    liquidity: Liquidity
    ts_ms: int
    reason: str = ""  # the order's reason ("take-profit"…), kept with the fill


@dataclass(slots=True)
class Position:
    """A net position: ``qty`` > 0 long, < 0 short; ``entry_price`` is the average cost."""

    symbol: str
    qty: float = 0.0
    entry_price: float = 0.0
    realized_pnl: float = 0.0
    opened_ms: int = 0
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def flat(self) -> bool:
        return abs(self.qty) < 1e-12

    def unrealized(self, mark: float) -> float:
        return self.qty * (mark - self.entry_price)


@dataclass(slots=True, frozen=True)
class Trade:
    """A round trip: a position opened and closed (or reduced) on one symbol."""

    symbol: str
    side: Side  # BUY: a long round trip, SELL: a short one
    qty: float
    entry_ms: int
    exit_ms: int
    entry_price: float
    exit_price: float
    pnl: float  # realised, after the fees of both legs
    fees: float
    exit_reason: str = ""
    strategy: str = ""

    @property
    def return_pct(self) -> float:
        cost = self.qty * self.entry_price
        return self.pnl / cost if cost else 0.0
