"""The portfolio: cash, average-cost positions, round trips with apportioned fees, and the
accounting identity equity = initial cash + realised + unrealised − fees."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Liquidity, Side
from tradecore.execution.portfolio import Portfolio


def fill(side: str, qty: float, price: float, fee: float, ts: int, symbol: str = "BTC", reason: str = "") -> Fill:
    return Fill(f"f{ts}", f"o{ts}", symbol, Side(side), qty, price, fee, Liquidity.TAKER, ts, reason)


def test_reduce_flip_and_close_book_round_trips_with_apportioned_fees() -> None:
    p = Portfolio(100_000.0)
    assert p.apply(fill("buy", 2, 100, 0.2, 1), strategy="trend") == []
    assert (p.cash, p.position("BTC").qty, p.position("BTC").entry_price) == (pytest.approx(99_799.8), 2, 100)  # type: ignore[union-attr]

    [t1] = p.apply(fill("sell", 1, 110, 0.11, 2, reason="take-profit"), strategy="exit")
    assert (t1.side, t1.qty, t1.entry_ms, t1.exit_ms, t1.entry_price, t1.exit_price) == (Side.BUY, 1, 1, 2, 100, 110)
    assert (t1.fees, t1.pnl) == (pytest.approx(0.21), pytest.approx(10 - 0.21))  # half the entry fee
    assert (t1.exit_reason, t1.strategy) == ("take-profit", "trend")  # the strategy that opened it

    [t2] = p.apply(fill("sell", 3, 120, 0.36, 3), strategy="reversal")  # closes 1, opens a short of 2
    assert (t2.qty, t2.fees, t2.pnl) == (1, pytest.approx(0.1 + 0.12), pytest.approx(20 - 0.22))
    pos = p.position("BTC")
    assert pos is not None and (pos.qty, pos.entry_price, pos.opened_ms, pos.realized_pnl) == (-2, 120, 3, 30)
    assert p.cash == pytest.approx(100_269.33)

    p.mark("BTC", 115)
    assert p.unrealized() == pytest.approx(10)
    assert p.equity() == pytest.approx(100_269.33 - 2 * 115)
    assert p.equity() == pytest.approx(100_000 + 30 + 10 - 0.67)

    [t3] = p.apply(fill("buy", 2, 110, 0.22, 4))
    assert (t3.side, t3.qty, t3.strategy) == (Side.SELL, 2, "reversal")
    assert t3.pnl == pytest.approx(20 - 0.24 - 0.22)
    assert p.position("BTC") is None and p.positions["BTC"].qty == 0
    assert p.realized() == 50 and p.fees_paid == pytest.approx(0.89)
    assert sum(t.pnl for t in p.trades) == pytest.approx(p.realized() - p.fees_paid)
    assert p.equity() == pytest.approx(100_000 + 50 - 0.89)


def test_adding_averages_the_entry_price() -> None:
    p = Portfolio(1000.0)
    p.apply(fill("buy", 1, 100, 0, 1))
    p.apply(fill("buy", 3, 110, 0, 2))
    pos = p.position("BTC")
    assert pos is not None and (pos.qty, pos.entry_price, pos.opened_ms) == (4, 107.5, 1)


def test_closing_to_float_dust_leaves_the_position_flat() -> None:
    p = Portfolio(1000.0)
    p.apply(fill("buy", 0.1, 100, 0, 1))
    p.apply(fill("buy", 0.2, 100, 0, 2))
    [trade] = p.apply(fill("sell", 0.3, 101, 0, 3))  # 0.1 + 0.2 != 0.3 in floats
    assert p.position("BTC") is None and p.positions["BTC"].qty == 0
    assert trade.qty == pytest.approx(0.3)


def test_the_mark_defaults_to_the_last_fill_price() -> None:
    p = Portfolio(1000.0)
    p.apply(fill("buy", 1, 100, 0, 1))
    p.apply(fill("buy", 1, 120, 0, 2, symbol="ETH"))
    assert p.unrealized() == 0 and p.equity() == 1000
    p.mark("BTC", 90)
    assert p.unrealized() == -10 and p.equity() == 990


@pytest.mark.parametrize("cash", [-1.0, math.nan, math.inf])
def test_bad_cash_is_refused(cash: float) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        Portfolio(cash)
    assert err.value.name == "cash"


def test_bad_fills_and_marks_are_refused_and_change_nothing() -> None:
    p = Portfolio(1000.0)
    p.apply(fill("buy", 1, 100, 0.1, 1))
    before = p.to_state()
    for bad in (fill("buy", 0, 100, 0, 2), fill("buy", 1, -1, 0, 2), fill("buy", 1, 100, math.nan, 2)):
        with pytest.raises(InvalidArgumentError):
            p.apply(bad)
    with pytest.raises(InvalidArgumentError, match="mark price"):
        p.mark("BTC", 0)
    assert p.to_state() == before


def test_state_round_trips_through_json() -> None:
    p = Portfolio(5000.0, quote="USDC")
    p.apply(fill("buy", 2, 100, 0.2, 1), strategy="grid")
    p.apply(fill("sell", 1, 105, 0.1, 2, reason="tp"))
    p.apply(fill("sell", 1, 50, 0.05, 3, symbol="ETH"), strategy="mr")
    p.mark("BTC", 103)
    q = Portfolio.from_state(json.loads(json.dumps(p.to_state())))
    assert q.to_state() == p.to_state()
    assert (q.quote, q.equity(), q.unrealized(), q.realized(), q.trades) == (p.quote, p.equity(), p.unrealized(), p.realized(), p.trades)
    # it carries on identically: entry fees and strategies of open positions were kept
    assert q.apply(fill("sell", 1, 110, 0.1, 4)) == p.apply(fill("sell", 1, 110, 0.1, 4))


def test_a_broken_state_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="not a portfolio state"):
        Portfolio.from_state({"cash": 1})


fills = st.lists(
    st.tuples(
        st.sampled_from(["BTC", "ETH"]),
        st.sampled_from(["buy", "sell"]),
        st.floats(0.001, 10),
        st.floats(1, 1000),
        st.floats(0, 1),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(fills, st.floats(1, 1000), st.floats(1, 1000))
def test_equity_identity_and_round_trip_pnls_hold_for_any_fills(
    sequence: list[tuple[str, str, float, float, float]], mark_btc: float, mark_eth: float
) -> None:
    p = Portfolio(10_000.0)
    for ts, (symbol, side, qty, price, fee) in enumerate(sequence):
        p.apply(fill(side, qty, price, fee, ts, symbol))
        # every round trip so far: realised minus the fees already in round trips
        assert sum(t.pnl for t in p.trades) == pytest.approx(p.realized() - p.fees_paid + p.open_entry_fees(), abs=1e-6)
    p.mark("BTC", mark_btc)
    p.mark("ETH", mark_eth)
    assert p.equity() == pytest.approx(10_000 + p.realized() + p.unrealized() - p.fees_paid, rel=1e-9, abs=1e-6)
    # close everything: then the round trips account for all realised profit and all fees
    for ts, pos in enumerate(list(p.positions.values()), len(sequence)):
        if not pos.flat:
            p.apply(fill("sell" if pos.qty > 0 else "buy", abs(pos.qty), 100, 0.01, ts, pos.symbol))
    assert p.open_entry_fees() == pytest.approx(0, abs=1e-9)
    assert sum(t.pnl for t in p.trades) == pytest.approx(p.realized() - p.fees_paid, abs=1e-6)
    assert p.equity() == pytest.approx(p.cash) and p.cash == pytest.approx(10_000 + p.realized() - p.fees_paid, abs=1e-6)
