"""The paper broker: every order type and time in force in candle mode and book mode, with prices
and fees computed by hand. Bars are one minute (M ms); the intra-bar path is O→L→H→C for a
bullish bar and O→H→L→C otherwise, walked at constant speed, so a point's time is
open + M × (path length so far) / (total path length)."""

from __future__ import annotations

import logging
import math
import random
from dataclasses import replace

import pytest
from pydantic import ValidationError

from tradecore.errors import InvalidArgumentError
from tradecore.execution.models import Fees, Latency, PaperConfig, Slippage
from tradecore.execution.orders import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from tradecore.execution.paper import PaperBroker
from tradecore.execution.portfolio import Portfolio

M = 60_000
MAKER, TAKER = 0.0002, 0.001
SYM = "BTCUSDT"


class Record:
    """What the broker reported: fills and a copy of the order at every change."""

    def __init__(self) -> None:
        self.fills: list[tuple[Fill, Order]] = []
        self.orders: list[Order] = []

    def fill(self, fill: Fill, order: Order) -> None:
        self.fills.append((fill, replace(order)))

    def order(self, order: Order) -> None:
        self.orders.append(replace(order))

    def states(self, order_id: str) -> list[OrderStatus]:
        return [o.status for o in self.orders if o.id == order_id]


def make(
    *,
    bps: float = 0.0,
    latency: int = 0,
    jitter: int = 0,
    seed: int = 0,
    participation: float = 1.0,
    queue: str = "trade_through",
    slippage: str = "fixed",
    factor: float = 0.1,
) -> tuple[PaperBroker, Record]:
    config = PaperConfig(
        fees=Fees(maker=MAKER, taker=TAKER),
        slippage=Slippage(model=slippage, bps=bps, volatility_factor=factor),  # type: ignore[arg-type]
        latency=Latency(ms=latency, jitter_ms=jitter, seed=seed),
        participation=participation,
        queue=queue,  # type: ignore[arg-type]
    )
    record = Record()
    return PaperBroker(Portfolio(100_000.0), config, on_fill=record.fill, on_order=record.order), record


def put(b: PaperBroker, side: str, type_: str, qty: float, now: int = 0, **fields: object) -> Order:
    return b.submit(b.new_order(SYM, side, type_, qty, now, **fields), now)  # type: ignore[arg-type]


def bar(b: PaperBroker, i: int, o: float, h: float, l: float, c: float, v: float = 1000.0) -> list[Fill]:  # noqa: E741
    return b.on_bar(SYM, i * M, M, o, h, l, c, v)


class Book:
    """A tiny L2 book: levels as (price, qty), best first."""

    def __init__(self, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        self.bids, self.asks = bids, asks

    def best_bid(self) -> tuple[float, float] | None:
        return self.bids[0] if self.bids else None

    def best_ask(self) -> tuple[float, float] | None:
        return self.asks[0] if self.asks else None

    def sweep(self, side: str, qty: float, limit: float | None) -> tuple[float, float]:
        filled = cost = 0.0
        for price, size in self.asks if side == "buy" else self.bids:
            if limit is not None and (price > limit if side == "buy" else price < limit):
                break
            take = min(size, qty - filled)
            filled, cost = filled + take, cost + take * price
            if filled >= qty:
                break
        return (filled, cost / filled) if filled else (0.0, math.nan)


# --- config models ---------------------------------------------------------------------------


def test_the_config_nests_as_plain_data_and_refuses_bad_values() -> None:
    config = PaperConfig.model_validate(
        {"fees": {"maker": -0.0001}, "slippage": {"model": "book"}, "latency": {"ms": 5}, "queue": "touch"}
    )
    assert (config.fees.maker, config.fees.taker, config.slippage.model, config.latency.ms) == (-0.0001, 0.001, "book", 5)
    assert config.fees.rate(Liquidity.MAKER) == -0.0001 and config.fees.rate(Liquidity.TAKER) == 0.001
    for bad in ({"participation": 0}, {"participation": 1.5}, {"fees": {"taker": math.nan}}, {"latency": {"ms": -1}},
                {"slippage": {"model": "magic"}}, {"slippage": {"bps": -1}}, {"typo": 1}):
        with pytest.raises(ValidationError):
            PaperConfig.model_validate(bad)
    with pytest.raises(ValidationError):
        config.participation = 0.5  # type: ignore[misc]  # frozen


# --- candle mode: market, limit --------------------------------------------------------------


def test_market_orders_fill_at_the_open_plus_slippage_as_takers() -> None:
    b, rec = make(bps=10)
    buy = put(b, "buy", "market", 2, reason="entry")
    [fill] = bar(b, 0, 100, 105, 99, 104)
    assert (fill.qty, fill.price, fill.liquidity, fill.ts_ms, fill.reason) == (2, pytest.approx(100.1), Liquidity.TAKER, 0, "entry")
    assert fill.fee == pytest.approx(2 * 100.1 * TAKER)
    assert (buy.status, buy.filled_qty, buy.avg_price, buy.fees) == (OrderStatus.FILLED, 2, fill.price, fill.fee)
    sell = put(b, "sell", "market", 2, M)
    [fill2] = bar(b, 1, 104, 105, 103, 104)
    assert fill2.price == pytest.approx(104 * 0.999) and fill2.ts_ms == M
    [trade] = b.portfolio.trades
    assert trade.pnl == pytest.approx(2 * (104 * 0.999 - 100.1) - fill.fee - fill2.fee)
    assert rec.states(buy.id) == [OrderStatus.PENDING, OrderStatus.FILLED]
    assert sell.status is OrderStatus.FILLED


def test_volatility_slippage_scales_with_the_bar_range() -> None:
    b, _ = make(slippage="volatility", factor=0.1)
    put(b, "buy", "market", 1)
    [fill] = bar(b, 0, 100, 110, 90, 100)  # range 20 / close 100 → 2% × 0.1... × factor
    assert fill.price == pytest.approx(100 * (1 + 0.1 * 0.2))


def test_book_slippage_without_a_book_falls_back_to_fixed_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    b, _ = make(slippage="book", bps=10)
    caplog.set_level(logging.WARNING, logger="tradecore.execution.paper")
    put(b, "buy", "market", 1)
    [fill] = bar(b, 0, 100, 101, 99, 100)
    bar(b, 1, 100, 101, 99, 100)
    assert fill.price == pytest.approx(100.1)
    assert [r.getMessage() for r in caplog.records].count(
        "candle mode has no order book: 'book' slippage falls back to the fixed bps"
    ) == 1


def test_a_limit_marketable_at_the_open_takes_there_but_never_past_its_limit() -> None:
    b, _ = make(bps=10)
    wide = put(b, "buy", "limit", 1, price=105)
    tight = put(b, "buy", "limit", 1, price=100.05)
    f1, f2 = bar(b, 0, 100, 101, 99.5, 100)
    assert (f1.order_id, f1.price, f1.liquidity) == (wide.id, pytest.approx(100.1), Liquidity.TAKER)
    assert (f2.order_id, f2.price) == (tight.id, 100.05)


def test_a_resting_limit_fills_as_maker_at_its_price_up_to_the_participation_cap() -> None:
    b, rec = make(participation=0.1)
    order = put(b, "buy", "limit", 2.5, price=95, reason="dip")
    # bearish 100→101→94→96: path 1+7+2 = 10; 95 is reached after 1+6 = 7 → 42 s into the bar
    [f1] = bar(b, 0, 100, 101, 94, 96, v=10)
    assert (f1.qty, f1.price, f1.liquidity, f1.ts_ms) == (1.0, 95, Liquidity.MAKER, 42_000)
    assert f1.fee == pytest.approx(95 * MAKER)
    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 1.0)
    assert bar(b, 1, 97, 98, 96, 97, v=10) == []  # not reached: stays open
    [f2] = bar(b, 2, 96, 97, 94.5, 95, v=10)
    [f3] = bar(b, 3, 95.5, 96, 95, 95.5, v=10)
    assert (f2.qty, f3.qty) == (1.0, pytest.approx(0.5))
    assert (order.status, order.filled_qty, order.avg_price) == (OrderStatus.FILLED, 2.5, 95)
    assert order.fees == pytest.approx(2.5 * 95 * MAKER)
    assert rec.states(order.id) == [
        OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
    ]


def test_a_bar_without_volume_fills_no_resting_limit() -> None:
    b, _ = make()
    order = put(b, "buy", "limit", 1, price=95)
    assert bar(b, 0, 100, 101, 90, 96, v=0) == []
    assert order.status is OrderStatus.OPEN


def test_a_resting_limit_gapped_through_fills_at_its_limit_not_the_open() -> None:
    b, _ = make()
    order = put(b, "buy", "limit", 1, price=95)
    assert bar(b, 0, 100, 101, 96, 97) == []
    [fill] = bar(b, 1, 90, 92, 89, 91)
    assert (fill.price, fill.liquidity, fill.ts_ms) == (95, Liquidity.MAKER, M)
    assert order.status is OrderStatus.FILLED


# --- candle mode: stops ----------------------------------------------------------------------


def test_a_stop_fills_at_its_price_where_the_path_reaches_it_plus_slippage() -> None:
    b, _ = make(bps=10)
    order = put(b, "sell", "stop", 1, stop_price=95, reason="stop-loss")
    [fill] = bar(b, 0, 100, 101, 94, 96)  # bearish, reached 42 s in
    assert (fill.price, fill.ts_ms, fill.liquidity, fill.reason) == (pytest.approx(95 * 0.999), 42_000, Liquidity.TAKER, "stop-loss")
    assert "stop 95 triggered at 95" in order.note


def test_a_stop_gapped_through_fills_at_the_open() -> None:
    b, _ = make(bps=10)
    put(b, "sell", "stop", 1, stop_price=95)
    assert bar(b, 0, 100, 101, 96, 97) == []
    [fill] = bar(b, 1, 93, 94, 92, 93.5)
    assert (fill.price, fill.ts_ms) == (pytest.approx(93 * 0.999), M)


def test_a_buy_stop_triggers_on_the_way_up() -> None:
    b, _ = make()
    put(b, "buy", "stop", 1, stop_price=105)
    # bullish 100→99→106→105.5: path 1+7+0.5 = 8.5; 105 after 1+6 = 7
    [fill] = bar(b, 0, 100, 106, 99, 105.5)
    assert fill.price == 105 and fill.ts_ms == math.floor(M * 7 / 8.5)


def test_a_stop_limit_that_triggers_marketable_takes() -> None:
    b, _ = make()
    order = put(b, "buy", "stop_limit", 1, stop_price=105, price=105.5)
    [fill] = bar(b, 0, 100, 106, 99, 105.5)
    assert (fill.price, fill.liquidity) == (105, Liquidity.TAKER)
    assert order.type is OrderType.LIMIT and order.status is OrderStatus.FILLED


def test_a_stop_limit_gapped_past_its_limit_rests_as_a_limit_and_fills_as_maker() -> None:
    b, rec = make()
    order = put(b, "buy", "stop_limit", 1, stop_price=105, price=106)
    # opens at 107: triggered there, 107 > 106 so it rests; bearish 107→108→105→105.5 comes back to 106
    [fill] = bar(b, 0, 107, 108, 105, 105.5)
    assert (fill.price, fill.liquidity) == (106, Liquidity.MAKER)
    # path 1+3+0.5 = 4.5; 106 after 1+2 = 3
    assert fill.ts_ms == M * 3 // 4.5
    assert order.type is OrderType.LIMIT and "stop 105 triggered at 107" in order.note
    assert OrderType.LIMIT in [o.type for o in rec.orders if o.id == order.id and o.status is OrderStatus.OPEN]


def test_a_trailing_stop_arms_at_its_activation_then_ratchets_and_fires() -> None:
    b, rec = make()
    put(b, "buy", "market", 1)
    bar(b, 0, 100, 100.5, 99.5, 100)
    stop = put(b, "sell", "trailing_stop", 1, M, trail=0.05, activation_price=110, reduce_only=True, reason="trail")
    # bullish 100→99→120→118: arms at 110, highest 120 → trigger 114; ends at 118, above it
    assert bar(b, 1, 100, 120, 99, 118) == []
    assert stop.stop_price == pytest.approx(114) and stop.activation_price is None
    assert [o.stop_price for o in rec.orders if o.id == stop.id][-1] == pytest.approx(114)
    # bearish 118→119→110→112: 119 × 0.95 < 114 keeps 114; falls through it after 1+5 of 12
    [fill] = bar(b, 2, 118, 119, 110, 112)
    assert (fill.price, fill.ts_ms, fill.reason) == (pytest.approx(114), 2 * M + 30_000, "trail")
    assert b.portfolio.position(SYM) is None


def test_a_trailing_stop_without_activation_trails_from_where_it_goes_live() -> None:
    b, _ = make()
    stop = put(b, "sell", "trailing_stop", 1, trail=0.1)
    # joins at the open 100 → trigger 90; bullish 100→95→110→108 lifts it to 99
    assert bar(b, 0, 100, 110, 95, 108) == []
    assert stop.stop_price == pytest.approx(99)
    [fill] = bar(b, 1, 108, 108, 98, 100)
    assert fill.price == pytest.approx(99)


def test_a_trailing_stop_given_a_stop_price_starts_from_it_and_never_loosens() -> None:
    b, _ = make()
    stop = put(b, "sell", "trailing_stop", 1, trail=0.2, stop_price=95)
    [fill] = bar(b, 0, 100, 101, 94, 96)  # 100 × 0.8 = 80 would be looser: 95 holds
    assert fill.price == 95 and stop.status is OrderStatus.FILLED


def test_a_buy_trailing_stop_follows_the_lows() -> None:
    b, _ = make()
    stop = put(b, "buy", "trailing_stop", 1, trail=0.1)
    # joins at 100 → trigger 110; bearish 100→101→80→82 lowers it to 88
    assert bar(b, 0, 100, 101, 80, 82) == []
    assert stop.stop_price == pytest.approx(88)
    [fill] = bar(b, 1, 82, 90, 81, 89)  # bullish 82→81→90: 81 × 1.1 > 88 keeps 88; up through it
    assert fill.price == pytest.approx(88)


# --- candle mode: brackets -------------------------------------------------------------------


def bracket(b: PaperBroker, entry_type: str = "limit", qty: float = 1, **entry: object) -> tuple[Order, Order, Order]:
    e = put(b, "buy", entry_type, qty, reason="entry", **entry)
    sl = put(b, "sell", "stop", qty, stop_price=95, parent_id=e.id, oco_group="b1", reduce_only=True, reason="stop-loss")
    tp = put(b, "sell", "limit", qty, price=110, parent_id=e.id, oco_group="b1", reduce_only=True, reason="take-profit")
    return e, sl, tp


def test_bracket_legs_wait_for_the_entry_then_the_take_profit_cancels_the_stop() -> None:
    b, _ = make()
    entry, sl, tp = bracket(b, price=100)
    assert bar(b, 0, 102, 103, 101, 102) == []
    assert (sl.status, tp.status) == (OrderStatus.PENDING, OrderStatus.PENDING) and "waits for" in sl.note
    # bullish 101→99→112→111: entry at 100 (maker), low 99 spares the stop, TP at 110 (maker)
    fills = bar(b, 1, 101, 112, 99, 111)
    assert [(f.order_id, f.price, f.liquidity) for f in fills] == [
        (entry.id, 100, Liquidity.MAKER),
        (tp.id, 110, Liquidity.MAKER),
    ]
    assert sl.status is OrderStatus.CANCELED and sl.note == f"OCO: {tp.id} filled"
    [trade] = b.portfolio.trades
    assert trade.pnl == pytest.approx(10 - 100 * MAKER - 110 * MAKER) and trade.exit_reason == "take-profit"


@pytest.mark.parametrize(
    ("o", "c", "winner"),
    [(100, 105, "stop-loss"), (100, 96, "take-profit")],  # bullish: low first; bearish: high first
)
def test_when_one_bar_reaches_stop_and_target_the_path_order_decides(o: float, c: float, winner: str) -> None:
    b, _ = make()
    entry, sl, tp = bracket(b, "market")
    fills = bar(b, 0, o, 111, 94, c)
    assert [f.reason for f in fills] == ["entry", winner]
    loser = tp if winner == "stop-loss" else sl
    assert loser.status is OrderStatus.CANCELED
    assert b.portfolio.position(SYM) is None


def test_bracket_legs_are_sized_to_what_the_entry_filled() -> None:
    b, _ = make(participation=0.1)
    entry, sl, tp = bracket(b, qty=2, price=100)
    bar(b, 0, 101, 102, 99.5, 101, v=10)  # the entry fills 1 of 2
    assert entry.filled_qty == 1 and (sl.qty, tp.qty) == (1, 1)
    assert (sl.status, tp.status) == (OrderStatus.OPEN, OrderStatus.OPEN)
    bar(b, 1, 101, 102, 99.5, 101, v=10)
    assert entry.status is OrderStatus.FILLED and (sl.qty, tp.qty) == (2, 2)


def test_an_entry_canceled_before_any_fill_takes_its_legs_along() -> None:
    b, rec = make()
    entry, sl, tp = bracket(b, price=90)
    assert b.cancel(entry.id, 5, "signal gone")
    assert entry.note == "signal gone"
    for leg in (sl, tp):
        assert leg.status is OrderStatus.CANCELED and leg.note == f"parent {entry.id} canceled without a fill"
    assert b.orders() == [] and not b.cancel(entry.id, 6, "again")


def test_a_leg_needs_a_known_parent_on_the_same_symbol() -> None:
    b, _ = make()
    orphan = put(b, "sell", "stop", 1, stop_price=90, parent_id="nope")
    assert orphan.status is OrderStatus.REJECTED and "unknown" in orphan.note


# --- candle mode: latency, GTD, IOC/FOK/post-only --------------------------------------------


def test_an_order_does_not_fill_before_its_latency_has_passed() -> None:
    b, rec = make(latency=1000)
    order = put(b, "buy", "market", 1)
    assert b.on_bar(SYM, 0, 1000, 100, 101, 99, 100, 10) == []  # live at 1000: the bar is over
    assert order.status is OrderStatus.PENDING
    [fill] = b.on_bar(SYM, 1000, 1000, 102, 103, 101, 102, 10)
    assert (fill.price, fill.ts_ms) == (102, 1000)


def test_an_order_live_inside_a_bar_joins_the_path_at_its_live_time() -> None:
    b, _ = make(latency=30_000)
    put(b, "buy", "market", 1)
    # bullish 100→90→110→105: path 10+20+5 = 35; at 30 s the path has gone 17.5: 90 + 7.5
    [fill] = bar(b, 0, 100, 110, 90, 105)
    assert (fill.price, fill.ts_ms) == (pytest.approx(97.5), 30_000)


def test_latency_jitter_is_seeded_per_order_id() -> None:
    a, b = Latency(ms=10, jitter_ms=100, seed=7), Latency(ms=10, jitter_ms=100, seed=7)
    delays = [a.delay(f"o{i}") for i in range(50)]
    assert delays == [b.delay(f"o{i}") for i in range(50)]
    assert all(10 <= d <= 110 for d in delays) and len(set(delays)) > 10
    assert delays != [Latency(ms=10, jitter_ms=100, seed=8).delay(f"o{i}") for i in range(50)]


def test_gtd_orders_expire_at_their_time_on_the_path() -> None:
    b, _ = make()
    early = put(b, "buy", "limit", 1, price=95, tif="gtd", expire_ms=30_000)
    late = put(b, "buy", "limit", 1, price=95, tif="gtd", expire_ms=50_000)
    [fill] = bar(b, 0, 100, 101, 94, 96)  # 95 is reached 42 s in
    assert fill.order_id == late.id
    assert (early.status, early.updated_ms, early.note) == (OrderStatus.EXPIRED, 30_000, "GTD: expired at 30000")


def test_an_order_that_expires_as_it_reaches_the_market_never_fills() -> None:
    b, _ = make(latency=100)
    order = put(b, "buy", "limit", 1, price=105, tif="gtd", expire_ms=100)
    assert bar(b, 0, 100, 101, 99, 100) == []
    assert order.status is OrderStatus.EXPIRED


def test_a_triggered_stop_limit_rests_from_the_trigger_on() -> None:
    b, _ = make()
    order = put(b, "sell", "stop_limit", 1, stop_price=95, price=97)
    # bearish 98→99→94→96: 97 is passed before the stop triggers at 95 and never again after
    assert bar(b, 0, 98, 99, 94, 96) == []
    assert (order.type, order.status) == (OrderType.LIMIT, OrderStatus.OPEN)
    [fill] = bar(b, 1, 96, 98, 95.5, 97.5)
    assert (fill.price, fill.liquidity) == (97, Liquidity.MAKER)


def test_ioc_takes_what_it_can_at_once_and_cancels_the_rest() -> None:
    b, _ = make()
    miss = put(b, "buy", "limit", 1, price=99, tif="ioc")
    hit = put(b, "buy", "limit", 1, price=101, tif="ioc")
    [fill] = bar(b, 0, 100, 101, 98, 100)
    assert fill.order_id == hit.id and hit.status is OrderStatus.FILLED
    assert miss.status is OrderStatus.CANCELED and miss.note == "IOC: the 1 not filled at once at 99 or better is canceled"


def test_fok_fills_all_at_once_or_is_rejected() -> None:
    b, _ = make()
    miss = put(b, "buy", "limit", 1, price=99, tif="fok")
    hit = put(b, "buy", "limit", 1, price=101, tif="fok")
    [fill] = bar(b, 0, 100, 101, 98, 100)
    assert fill.order_id == hit.id
    assert miss.status is OrderStatus.REJECTED and miss.note.startswith("FOK")


def test_post_only_is_rejected_when_it_would_take_and_rests_otherwise() -> None:
    b, _ = make()
    taker = put(b, "buy", "limit", 1, price=101, tif="post_only")
    maker = put(b, "buy", "limit", 1, price=99, tif="post_only")
    [fill] = bar(b, 0, 100, 101, 98, 100)
    assert taker.status is OrderStatus.REJECTED and taker.note == "post-only: limit 101 would take liquidity at 100"
    assert (fill.order_id, fill.liquidity, fill.price) == (maker.id, Liquidity.MAKER, 99)


# --- reduce-only, rejections, cancels --------------------------------------------------------


def test_reduce_only_is_refused_without_a_position_and_cut_to_it() -> None:
    b, _ = make()
    flat = put(b, "sell", "market", 1, reduce_only=True)
    assert flat.status is OrderStatus.REJECTED and flat.note == f"reduce-only: no long {SYM} position to reduce"
    put(b, "buy", "market", 1)
    bar(b, 0, 100, 101, 99, 100)
    big = put(b, "sell", "limit", 3, M, price=150, reduce_only=True)
    assert big.qty == 1 and "cut to the open position 1" in big.note
    wrong_way = put(b, "buy", "market", 1, M, reduce_only=True)
    assert wrong_way.status is OrderStatus.REJECTED and "no short" in wrong_way.note


def test_reduce_only_orders_never_flip_the_position() -> None:
    b, _ = make()
    put(b, "buy", "market", 1)
    bar(b, 0, 100, 101, 99, 100)
    first = put(b, "sell", "market", 1, M, reduce_only=True)
    second = put(b, "sell", "market", 1, M, reduce_only=True)
    resting = put(b, "sell", "limit", 1, M, price=200, reduce_only=True)
    [fill] = bar(b, 1, 100, 101, 99, 100)
    assert fill.order_id == first.id
    for order in (second, resting):
        assert order.status is OrderStatus.CANCELED and order.note == f"reduce-only: no long {SYM} position left to reduce"
    assert b.portfolio.position(SYM) is None


def test_reduce_only_is_capped_at_the_position_even_when_it_changed_behind_the_broker() -> None:
    b, _ = make()
    put(b, "buy", "market", 1)
    bar(b, 0, 100, 101, 99, 100)
    order = put(b, "sell", "market", 1, M, reduce_only=True)
    b.portfolio.apply(Fill("manual", "x", SYM, Side.SELL, 0.6, 100, 0.0, Liquidity.TAKER, M))  # e.g. a reconciliation
    [fill] = bar(b, 1, 100, 101, 99, 100)
    assert fill.qty == pytest.approx(0.4) and b.portfolio.position(SYM) is None
    assert order.status is OrderStatus.CANCELED and "reduce-only" in order.note


def test_a_partial_take_profit_shrinks_the_reduce_only_stop() -> None:
    b, _ = make(participation=0.1)
    put(b, "buy", "market", 2)
    bar(b, 0, 100, 101, 99, 100)
    sl = put(b, "sell", "stop", 2, M, stop_price=90, reduce_only=True, oco_group="x")
    tp = put(b, "sell", "limit", 2, M, price=105, reduce_only=True, oco_group="x")
    bar(b, 1, 100, 106, 99, 105, v=10)  # the take-profit fills 1: not complete, so no OCO cancel
    assert tp.filled_qty == 1 and (sl.status, sl.qty, sl.remaining) == (OrderStatus.OPEN, 1, 1)
    assert "cut to the open position 1" in sl.note


@pytest.mark.parametrize(
    ("side", "type_", "qty", "fields", "why"),
    [
        ("buy", "market", 0, {}, "qty must be a number > 0, got 0"),
        ("buy", "market", math.nan, {}, "qty must be a number > 0"),
        ("buy", "limit", 1, {}, "a limit order needs a price"),
        ("buy", "market", 1, {"price": 100}, "a market order takes no price"),
        ("buy", "limit", 1, {"price": -5}, "price must be a number > 0, got -5"),
        ("buy", "stop", 1, {}, "a stop order needs a stop_price"),
        ("buy", "limit", 1, {"price": 100, "stop_price": 90}, "a limit order takes no stop_price"),
        ("sell", "trailing_stop", 1, {}, "a trailing stop needs trail"),
        ("sell", "trailing_stop", 1, {"trail": 1.5}, "a trailing stop needs trail"),
        ("sell", "trailing_stop", 1, {"trail": 0.05, "activation_price": 110, "stop_price": 90}, "not both"),
        ("buy", "limit", 1, {"price": 100, "trail": 0.05}, "takes no trail"),
        ("buy", "market", 1, {"tif": "post_only"}, "post-only applies to limit orders"),
        ("buy", "limit", 1, {"price": 100, "tif": "gtd"}, "a GTD order needs expire_ms"),
        ("buy", "limit", 1, {"price": 100, "tif": "gtd", "expire_ms": 0}, "GTD expire_ms 0 is not after now (0)"),
        ("buy", "limit", 1, {"price": 100, "expire_ms": 10}, "expire_ms is for GTD orders only"),
        ("buy", "limit", 1, {"price": 100, "parent_id": "x"}, "parent x is unknown"),
    ],
)
def test_rejections_say_why(side: str, type_: str, qty: float, fields: dict[str, object], why: str) -> None:
    b, rec = make()
    order = put(b, side, type_, qty, **fields)
    assert order.status is OrderStatus.REJECTED and why in order.note
    assert rec.orders[-1].status is OrderStatus.REJECTED  # reported
    assert b.orders() == [] and bar(b, 0, 100, 101, 99, 100) == []


def test_submit_refuses_reused_ids_and_used_orders() -> None:
    b, _ = make()
    order = put(b, "buy", "market", 1)
    with pytest.raises(InvalidArgumentError, match="already submitted"):
        b.submit(order, 0)
    filled = Order("mine", SYM, Side.BUY, OrderType.MARKET, 1, 0, status=OrderStatus.FILLED)
    with pytest.raises(InvalidArgumentError, match="submit takes new orders"):
        b.submit(filled, 0)
    with pytest.raises(InvalidArgumentError, match="side must be one of"):
        b.new_order(SYM, "long", "market", 1, 0)


def test_cancel_all_cancels_only_the_symbol_asked() -> None:
    b, rec = make()
    a = put(b, "buy", "limit", 1, price=90)
    other = b.submit(b.new_order("ETHUSDT", "buy", "limit", 1, 0, price=9), 0)
    assert b.cancel_all(7, "kill switch", SYM) == [a]
    assert (a.status, a.note, a.updated_ms) == (OrderStatus.CANCELED, "kill switch", 7)
    assert b.orders() == [other] and len(b.orders(active=False)) == 2


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((0, M, 100, 99, 98, 100, 1), "h"),  # high below the open
        ((0, M, 100, 101, 100.5, 100, 1), "l"),  # low above the close
        ((0, 0, 100, 101, 99, 100, 1), "span_ms"),
        ((0, M, 100, 101, 99, 100, -1), "v"),
        ((0, M, math.nan, 101, 99, 100, 1), "o"),
    ],
)
def test_bad_bars_raise_naming_the_value(args: tuple[float, ...], name: str) -> None:
    b, _ = make()
    order = put(b, "buy", "market", 1)
    with pytest.raises(InvalidArgumentError) as err:
        b.on_bar(SYM, *args)  # type: ignore[arg-type]
    assert err.value.name == name and order.status is OrderStatus.PENDING


def test_market_data_must_move_forward() -> None:
    b, _ = make()
    bar(b, 1, 100, 101, 99, 100)
    with pytest.raises(InvalidArgumentError, match="must move forward"):
        bar(b, 0, 100, 101, 99, 100)
    with pytest.raises(InvalidArgumentError, match="must move forward"):
        b.on_book(SYM, M, Book([], []))


# --- determinism and restarts ----------------------------------------------------------------


def scenario(b: PaperBroker, bars: list[tuple[float, float, float, float]], start: int = 0, seed: int = 3) -> list[Fill]:
    """Seeded random orders of every kind, placed at each bar's close (as the engine does), over
    the given bars."""
    rng = random.Random(seed + start)
    fills = []
    for i, (o, h, l, c) in enumerate(bars, start):  # noqa: E741
        fills += b.on_bar(SYM, i * M, M, o, h, l, c, rng.choice([0.0, 5.0, 50.0]))
        now = (i + 1) * M
        for _ in range(rng.randint(0, 2)):
            side = rng.choice(["buy", "sell"])
            kind = rng.choice(["market", "limit", "stop", "stop_limit", "trailing_stop"])
            fields: dict[str, object] = {"reason": f"r{i}"}
            if kind in ("limit", "stop_limit"):
                fields["price"] = round(c * (1 + rng.uniform(-0.03, 0.03)), 2)
            if kind in ("stop", "stop_limit"):
                fields["stop_price"] = round(c * (1 + rng.uniform(-0.03, 0.03)), 2)
            if kind == "trailing_stop":
                fields["trail"] = 0.02
            if kind == "limit":
                fields["tif"] = rng.choice(["gtc", "ioc", "post_only"])
            entry = b.submit(b.new_order(SYM, side, kind, rng.choice([0.5, 1, 2]), now, **fields), now)  # type: ignore[arg-type]
            if kind in ("market", "limit") and rng.random() < 0.5:
                exit_side, up, down = ("sell", 1.02, 0.98) if side == "buy" else ("buy", 0.98, 1.02)
                group = {"parent_id": entry.id, "oco_group": f"g{entry.id}", "reduce_only": True}
                b.submit(b.new_order(SYM, exit_side, "limit", 1, now, price=round(c * up, 2), **group), now)  # type: ignore[arg-type]
                b.submit(b.new_order(SYM, exit_side, "stop", 1, now, stop_price=round(c * down, 2), **group), now)  # type: ignore[arg-type]
    return fills


def random_bars(n: int, seed: int = 11) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    bars, price = [], 100.0
    for _ in range(n):
        o = price
        c = o * (1 + rng.gauss(0, 0.01))
        h, l = max(o, c) * (1 + abs(rng.gauss(0, 0.005))), min(o, c) * (1 - abs(rng.gauss(0, 0.005)))  # noqa: E741
        bars.append((o, h, l, c))
        price = c
    return bars


def test_the_same_inputs_give_identical_fills() -> None:
    bars = random_bars(150)
    runs = []
    for _ in range(2):
        b, rec = make(bps=3, latency=20_000, jitter=30_000, seed=5, participation=0.2)
        runs.append((scenario(b, bars), b.orders(active=False), b.portfolio.to_state(), rec.orders))
    assert runs[0] == runs[1]
    fills = runs[0][0]
    assert len(fills) > 50 and {f.liquidity for f in fills} == {Liquidity.MAKER, Liquidity.TAKER}


def test_a_restart_from_saved_orders_resumes_exactly() -> None:
    bars = random_bars(120, seed=4)
    whole, _ = make(bps=3, latency=20_000, jitter=30_000, participation=0.2)
    expected = scenario(whole, bars[:60], seed=21) + scenario(whole, bars[60:], start=60, seed=21)

    first, _ = make(bps=3, latency=20_000, jitter=30_000, participation=0.2)
    before = scenario(first, bars[:60], seed=21)
    saved = [replace(o) for o in first.orders()]  # what the state store would give back
    # the split catches orders in flight, resting, partly filled and legs waiting for their entry
    assert {OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED} <= {o.status for o in saved}
    assert any(o.parent_id and o.status is OrderStatus.PENDING for o in saved)
    second, _ = make(bps=3, latency=20_000, jitter=30_000, participation=0.2)
    second.portfolio = Portfolio.from_state(first.portfolio.to_state())
    second.restore(saved, first.next_id)
    after = scenario(second, bars[60:], start=60, seed=21)
    assert before + after == expected
    with pytest.raises(InvalidArgumentError, match="already known"):
        second.restore(saved[:1], 1)


def test_restore_refuses_done_orders() -> None:
    b, _ = make()
    done = Order("x", SYM, Side.BUY, OrderType.MARKET, 1, 0, status=OrderStatus.FILLED)
    with pytest.raises(InvalidArgumentError, match="takes active orders"):
        b.restore([done], 5)
    assert b.orders(active=False) == [] and b.next_id == 1


def test_ids_are_sequential_with_the_prefix_and_skip_taken_ones() -> None:
    broker = PaperBroker(Portfolio(1000.0), PaperConfig(latency=Latency(ms=0)), id_prefix="bt-")
    broker.submit(Order("bt-1", SYM, Side.BUY, OrderType.MARKET, 1, 0), 0)
    order = broker.new_order(SYM, "buy", "market", 1, 0)
    assert order.id == "bt-2"
    broker.submit(order, 0)
    fills = broker.on_bar(SYM, 0, M, 100, 101, 99, 100, 1)
    assert [f.id for f in fills] == ["bt-f3", "bt-f4"] and broker.next_id == 5


# --- book mode -------------------------------------------------------------------------------

ASKS = [(100.0, 1.0), (101.0, 2.0)]
BIDS = [(99.0, 1.0), (98.0, 2.0)]


def test_book_market_orders_sweep_the_book() -> None:
    b, _ = make(slippage="book")
    put(b, "buy", "market", 2, reason="entry")
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert (fill.qty, fill.price, fill.liquidity, fill.ts_ms) == (2, 100.5, Liquidity.TAKER, 0)
    assert fill.fee == pytest.approx(201 * TAKER)


def test_book_fixed_slippage_applies_to_the_best_price() -> None:
    b, _ = make(bps=10)
    put(b, "sell", "market", 2)
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert (fill.qty, fill.price) == (2, pytest.approx(99 * 0.999))


def test_book_market_order_rest_is_canceled_ioc_style() -> None:
    b, _ = make(slippage="book")
    big = put(b, "buy", "market", 5)
    none = put(b, "sell", "market", 1)
    [fill] = b.on_book(SYM, 0, Book([], ASKS))
    assert fill.qty == 3 and big.status is OrderStatus.CANCELED
    assert big.note == "market order: the book held only 3 of 5; the rest is canceled"
    assert none.status is OrderStatus.CANCELED and none.note == "market order: no bids to fill it"


def test_book_marketable_limit_sweeps_to_its_limit_and_rests() -> None:
    b, _ = make(slippage="book")
    order = put(b, "buy", "limit", 3, price=100.5)
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert (fill.qty, fill.price, fill.liquidity) == (1, 100, Liquidity.TAKER)
    assert (order.status, order.remaining) == (OrderStatus.PARTIALLY_FILLED, 2)


@pytest.mark.parametrize(("queue", "fills_on_touch"), [("trade_through", False), ("touch", True)])
def test_book_resting_limit_fills_as_maker_when_traded_through(queue: str, fills_on_touch: bool) -> None:
    b, _ = make(queue=queue)
    order = put(b, "buy", "limit", 2, price=99.5)
    assert b.on_book(SYM, 0, Book(BIDS, ASKS)) == []
    touched = b.on_book(SYM, 1, Book([(99.0, 1.0)], [(99.5, 0.4), (100.0, 5.0)]))
    if fills_on_touch:
        assert [(f.qty, f.price, f.liquidity) for f in touched] == [(0.4, 99.5, Liquidity.MAKER)]
    else:
        assert touched == []
    # asks through the limit: 0.5 at 99.2 and 0.5 at 99.4; the 5 at 99.5 count only for "touch"
    [fill] = b.on_book(SYM, 2, Book([(99.0, 1.0)], [(99.2, 0.5), (99.4, 0.5), (99.5, 5.0)]))
    assert (fill.price, fill.liquidity) == (99.5, Liquidity.MAKER)
    assert fill.qty == pytest.approx(1.6 if fills_on_touch else 1.0)
    assert fill.fee == pytest.approx(fill.qty * 99.5 * MAKER)
    assert order.status is (OrderStatus.FILLED if fills_on_touch else OrderStatus.PARTIALLY_FILLED)


def test_book_stops_watch_the_best_ask_or_bid() -> None:
    b, _ = make(slippage="book")
    buy = put(b, "buy", "stop", 1, stop_price=101)
    sell = put(b, "sell", "stop", 1, stop_price=97)
    assert b.on_book(SYM, 0, Book([(100.5, 1)], [(100.8, 1)])) == []
    [f1] = b.on_book(SYM, 1, Book([(100.5, 1)], [(101.0, 0.5), (102.0, 1)]))
    assert (f1.order_id, f1.price) == (buy.id, pytest.approx(101.5))
    [f2] = b.on_book(SYM, 2, Book([(96.5, 3)], [(97.5, 1)]))
    assert (f2.order_id, f2.price) == (sell.id, 96.5)


def test_book_trailing_stop_follows_the_best_bid() -> None:
    b, _ = make(slippage="book")
    stop = put(b, "sell", "trailing_stop", 1, trail=0.02, activation_price=102)
    b.on_book(SYM, 0, Book([(100, 1)], [(100.5, 1)]))
    assert stop.stop_price is None and stop.status is OrderStatus.OPEN
    b.on_book(SYM, 1, Book([(105, 1)], [(105.5, 1)]))
    assert stop.stop_price == pytest.approx(102.9)
    assert b.on_book(SYM, 2, Book([(103, 1)], [(103.5, 1)])) == []
    [fill] = b.on_book(SYM, 3, Book([(102.5, 1)], [(103, 1)]))
    assert fill.price == 102.5


def test_book_fok_needs_the_whole_quantity_now() -> None:
    b, _ = make(slippage="book")
    too_big = put(b, "buy", "market", 4, tif="fok")
    fits = put(b, "buy", "limit", 3, price=101, tif="fok")
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert too_big.status is OrderStatus.REJECTED and "cannot fill all 4" in too_big.note
    assert fill.order_id == fits.id and fill.qty == 3 and fill.price == pytest.approx(302 / 3)


def test_book_post_only_and_ioc() -> None:
    b, _ = make(slippage="book")
    post = put(b, "buy", "limit", 1, price=100, tif="post_only")
    ioc = put(b, "buy", "limit", 3, price=100, tif="ioc")
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert post.status is OrderStatus.REJECTED and "would take liquidity at 100" in post.note
    assert fill.order_id == ioc.id and fill.qty == 1 and ioc.status is OrderStatus.CANCELED


def test_book_orders_wait_out_their_latency() -> None:
    b, _ = make(latency=50, slippage="book")
    order = put(b, "buy", "market", 1, 1000)
    assert b.on_book(SYM, 1049, Book(BIDS, ASKS)) == [] and order.status is OrderStatus.PENDING
    [fill] = b.on_book(SYM, 1050, Book(BIDS, ASKS))
    assert fill.ts_ms == 1050


def test_book_bracket_legs_go_live_on_the_entry_fill_and_gtd_expires() -> None:
    b, _ = make(slippage="book")
    entry = put(b, "buy", "market", 1)
    sl = put(b, "sell", "stop", 1, stop_price=95, parent_id=entry.id, oco_group="g", reduce_only=True)
    tp = put(b, "sell", "limit", 1, price=110, parent_id=entry.id, oco_group="g", reduce_only=True,
             tif="gtd", expire_ms=500)
    [fill] = b.on_book(SYM, 0, Book(BIDS, ASKS))
    assert fill.order_id == entry.id and (sl.status, tp.status) == (OrderStatus.OPEN, OrderStatus.OPEN)
    b.on_book(SYM, 500, Book(BIDS, ASKS))
    assert tp.status is OrderStatus.EXPIRED and sl.status is OrderStatus.OPEN
    [exit_fill] = b.on_book(SYM, 600, Book([(94.0, 5.0)], [(94.5, 5.0)]))
    assert exit_fill.order_id == sl.id and b.portfolio.position(SYM) is None
