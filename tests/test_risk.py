"""The risk engine: hand-computed sizes for every sizing mode and confidence tier, every limit
refusing at its boundary and passing just inside it, the market breakers on a synthetic
reference series, the time-based halts, exit plans for longs and shorts, the kill switch,
persistence, configuration errors, and a property test that no approved order breaks the max
position fraction or the max portfolio risk."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Position, Side, Trade
from tradecore.risk import Account, Breaker, Decision, ExitPlan, RiskConfig, RiskEngine
from tradecore.strategy.base import Signal

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 19_700 * DAY + 12 * HOUR  # noon UTC
SYMBOL = "ETHUSDT"


def signal(
    side: Side = Side.BUY,
    *,
    confidence: float = 0.9,
    stop: float | None = 90.0,
    symbol: str = SYMBOL,
    strategy: str = "trend",
    **extra: object,
) -> Signal:
    return Signal(symbol, side, strategy, confidence, "test", stop=stop, **extra)


def account(equity: float = 10_000.0, cash: float | None = None, positions: Iterable[Position] = ()) -> Account:
    return Account(equity, equity if cash is None else cash, {p.symbol: p for p in positions})


def evaluate(
    engine: RiskEngine,
    sig: Signal,
    *,
    price: float = 100.0,
    now_ms: int = T0,
    acct: Account | None = None,
    atr: float | None = None,
) -> Decision:
    return engine.evaluate(sig, price=price, now_ms=now_ms, account=acct or account(), atr=atr)


def trade(
    pnl: float,
    *,
    symbol: str = SYMBOL,
    exit_ms: int = T0,
    reason: str = "",
    side: Side = Side.BUY,
    qty: float = 1.0,
) -> Trade:
    """A round trip of ``qty`` at 100, so its return is pnl / (100 × qty)."""
    return Trade(symbol, side, qty, exit_ms - HOUR, exit_ms, 100.0, 100.0 + pnl / qty, pnl, 0.0, reason, "trend")


def plan(entry: float = 100.0, stop: float = 90.0, side: Side = Side.BUY, expire_ms: int | None = None) -> ExitPlan:
    return ExitPlan(side, entry, stop, None, None, None, expire_ms)


def book(engine: RiskEngine, symbol: str, risk: float, *, now_ms: int = T0 - DAY) -> None:
    """Book an open position on ``symbol`` whose stop loses ``risk`` (entry 100, stop 90)."""
    engine.on_entry(symbol, plan(), risk / 10, now_ms)


def approved(decision: Decision) -> Decision:
    assert decision.approved, decision.reason
    return decision


def rejected(decision: Decision, *words: str) -> Decision:
    assert not decision.approved and decision.qty == 0, decision
    for w in words:
        assert w in decision.reason, (w, decision.reason)
    return decision


# ---- sizing ------------------------------------------------------------------------------------

# equity 10 000, entry 100, stop 90: risk per unit 10; fixed 2% risks 200 → 20 units at full size


@pytest.mark.parametrize(
    ("confidence", "multiplier"),
    [(1.0, 1.0), (0.81, 1.0), (0.8, 0.75), (0.7, 0.75), (0.6, 0.75), (0.59, 0.5), (0.0, 0.5)],
)
def test_fixed_fractional_size_per_confidence_tier(confidence: float, multiplier: float) -> None:
    d = approved(evaluate(RiskEngine(), signal(confidence=confidence)))
    assert d.qty == pytest.approx(20 * multiplier)
    assert d.multiplier == multiplier
    assert (d.stop, d.take_profit) == (90.0, 120.0)  # 2R above the entry
    assert d.reason.startswith(f"2% risk × {multiplier:g} confidence ({confidence:g}) = {2 * multiplier:g}% of equity")


def test_confidence_thresholds_and_multipliers_are_configurable() -> None:
    config = RiskConfig(high_confidence=0.9, low_confidence=0.5, mid_confidence_multiplier=0.6)
    assert approved(evaluate(RiskEngine(config), signal(confidence=0.85))).qty == pytest.approx(12)
    assert approved(evaluate(RiskEngine(config), signal(confidence=0.5))).qty == pytest.approx(12)
    assert approved(evaluate(RiskEngine(config), signal(confidence=0.49))).qty == pytest.approx(10)


def test_without_a_stop_the_atr_stop_sizes_long_and_short() -> None:
    long = approved(evaluate(RiskEngine(), signal(stop=None), atr=5.0))  # stop 100 − 2 × 5
    assert (long.qty, long.stop, long.take_profit) == (pytest.approx(20), 90.0, 120.0)
    short = approved(evaluate(RiskEngine(), signal(Side.SELL, stop=None), atr=5.0))
    assert (short.qty, short.stop, short.take_profit) == (pytest.approx(20), 110.0, 80.0)
    rejected(evaluate(RiskEngine(), signal(stop=None), atr=None), "no stop")


def test_a_limit_price_is_the_entry() -> None:
    d = approved(evaluate(RiskEngine(), signal(limit_price=95.0, stop=85.0), price=100.0))
    assert d.qty == pytest.approx(20)  # 200 / (95 − 85)


def feed_trades(engine: RiskEngine, returns: list[float]) -> None:
    """Closed trades with these returns, each on its own symbol (no spacing or stop-out rules)."""
    for i, r in enumerate(returns):
        engine.on_trade_closed(trade(100.0 * r, symbol=f"K{i}", exit_ms=T0 - DAY + i * MINUTE))


def alternate(wins: int, win: float, losses: int, loss: float) -> list[float]:
    """Wins and losses spread evenly, so that no losing streak gets long."""
    n = wins + losses
    return [loss if (i + 1) * losses // n > i * losses // n else win for i in range(n)]


KELLY = {"sizing": "kelly", "max_position_fraction": 1.0, "max_portfolio_risk": 1.0}


def test_kelly_falls_back_to_fixed_fractional_until_enough_trades() -> None:
    engine = RiskEngine(RiskConfig(**KELLY))
    feed_trades(engine, alternate(11, 0.03, 8, -0.02))  # 19 trades
    d = approved(evaluate(engine, signal()))
    assert d.qty == pytest.approx(20)
    assert "fixed 2% risk (kelly needs 20 closed trades, has 19)" in d.reason


def test_half_kelly_from_win_rate_and_payoff() -> None:
    engine = RiskEngine(RiskConfig(**KELLY))
    feed_trades(engine, alternate(12, 0.03, 8, -0.02))
    # W = 0.6, R = 3% / 2% = 1.5: kelly = 0.6 − 0.4 / 1.5 = 1/3; half = 1/6 of 10 000 over a 50 stop
    d = approved(evaluate(engine, signal(stop=50.0)))
    assert d.qty == pytest.approx(10_000 / 6 / 50)
    assert "0.5 × kelly 33.3% = 16.7% risk (win rate 60%, payoff 1.5, 20 trades)" in d.reason


def test_half_kelly_is_capped() -> None:
    engine = RiskEngine(RiskConfig(**KELLY))
    feed_trades(engine, alternate(19, 0.10, 1, -0.01))  # kelly 0.95 − 0.05 / 10 = 0.945
    d = approved(evaluate(engine, signal(stop=50.0)))
    assert d.qty == pytest.approx(2_500 / 50)  # the 25% cap
    assert "capped at 25%" in d.reason


def test_kelly_without_an_edge_rejects() -> None:
    engine = RiskEngine(RiskConfig(**KELLY))
    feed_trades(engine, alternate(8, 0.01, 12, -0.02))  # 0.4 − 0.6 / 0.5 = −0.8
    rejected(evaluate(engine, signal()), "kelly: no edge", "kelly -80%")


@pytest.mark.parametrize(
    ("atr", "qty", "words"),
    [
        (2.0, 5.0, "× 0.5 volatility scale"),  # ATR 2% of price: 1% / 2% = 0.5 → 100 risk / 20
        (0.25, 20.0, "× 2 volatility scale"),  # 1% / 0.25% = 4, capped at 2 → 400 / 20
        (None, 10.0, "needs an ATR"),  # fixed 200 / 20
    ],
)
def test_volatility_scaled_size(atr: float | None, qty: float, words: str) -> None:
    d = approved(evaluate(RiskEngine(RiskConfig(sizing="volatility")), signal(stop=80.0), atr=atr))
    assert d.qty == pytest.approx(qty)
    assert words in d.reason


def test_quote_size_skips_sizing_but_not_the_limits() -> None:
    d = approved(evaluate(RiskEngine(), signal(confidence=0.1, stop=None, quote_size=500.0), atr=5.0))
    assert (d.qty, d.multiplier, d.stop) == (5.0, 1.0, 90.0)
    assert "grid order: not sized" in d.reason
    capped = approved(evaluate(RiskEngine(), signal(stop=None, quote_size=4_000.0), atr=5.0))
    assert capped.qty == pytest.approx(25)  # max position 25% of 10 000 at 100


# ---- limits ------------------------------------------------------------------------------------


def test_max_position_fraction_shrinks_the_order() -> None:
    d = approved(evaluate(RiskEngine(), signal(stop=95.0)))  # 200 / 5 = 40 units = 40% of equity
    assert d.qty == pytest.approx(25)
    assert "capped by max position 25% of equity 10000 to 25" in d.reason
    inside = approved(evaluate(RiskEngine(), signal(stop=92.0)))  # 200 / 8 = 25 units: exactly 25%
    assert inside.qty == pytest.approx(25) and "capped" not in inside.reason


def test_max_position_fraction_counts_the_held_position_and_rejects_when_nothing_is_left() -> None:
    grid = signal(stop=None, quote_size=500.0, strategy="grid")
    held = account(positions=[Position(SYMBOL, 24.5, 100.0)])
    d = approved(evaluate(RiskEngine(), grid, acct=held, atr=5.0))
    assert d.qty == pytest.approx(0.5)  # 50 of room left
    full = account(positions=[Position(SYMBOL, 24.95, 100.0)])
    d = evaluate(RiskEngine(), grid, acct=full, atr=5.0)
    rejected(d, "max position 25%", "already holds 24.9%", "min notional 10")


def test_buys_are_capped_by_cash() -> None:
    d = approved(evaluate(RiskEngine(), signal(), acct=account(cash=1_000.0)))
    assert d.qty == pytest.approx(10) and "cash 1000" in d.reason
    rejected(evaluate(RiskEngine(), signal(), acct=account(cash=5.0)), "cash 5: leaves an order worth 5")
    short = approved(evaluate(RiskEngine(), signal(Side.SELL, stop=110.0), acct=account(cash=0.0)))
    assert short.qty == pytest.approx(20)  # cash does not limit a short


def test_max_open_positions() -> None:
    four = [Position(f"S{i}", 1.0, 100.0) for i in range(4)]
    approved(evaluate(RiskEngine(), signal(), acct=account(positions=four)))
    five = [*four, Position("S4", -1.0, 100.0), Position("FLAT", 0.0, 0.0)]
    rejected(evaluate(RiskEngine(), signal(), acct=account(positions=five)), "max open positions: 5 open, limit 5")


def test_one_position_per_symbol_and_grid_adds() -> None:
    held = account(positions=[Position(SYMBOL, 5.0, 100.0)])
    engine = RiskEngine()
    engine.on_entry(SYMBOL, plan(), 5.0, T0 - DAY, strategy="grid")
    rejected(evaluate(engine, signal(), acct=held), "one position per symbol: ETHUSDT already has a long of 5")
    add = signal(stop=None, quote_size=100.0, strategy="grid")
    assert approved(evaluate(engine, add, acct=held, atr=5.0)).qty == pytest.approx(1)
    other = signal(stop=None, quote_size=100.0, strategy="dca2")
    rejected(evaluate(engine, other, acct=held, atr=5.0), "opened by grid")
    rejected(evaluate(engine, signal(Side.SELL, stop=None, quote_size=100.0, strategy="grid"), acct=held, atr=5.0),
             "would reduce it")
    strict = RiskEngine(RiskConfig(grid_adds=False))
    rejected(evaluate(strict, add, acct=held, atr=5.0), "one position per symbol")


def test_max_portfolio_risk() -> None:
    engine = RiskEngine()
    book(engine, "A", 400.0)  # 4% open + this trade's 2% = the 6% limit
    approved(evaluate(engine, signal()))
    book(engine, "B", 10.0)
    rejected(evaluate(engine, signal()), "max portfolio risk: open 4.1% + this 2% > 6%")
    engine.on_flat("B")
    approved(evaluate(engine, signal()))


def test_a_partial_close_shrinks_the_booked_risk() -> None:
    engine = RiskEngine()
    book(engine, "A", 500.0)  # 50 units
    rejected(evaluate(engine, signal()), "max portfolio risk")
    engine.on_trade_closed(trade(10.0, symbol="A", qty=10.0, exit_ms=T0 - HOUR))  # 40 left: 4%
    assert engine.open_risk == pytest.approx(400)
    approved(evaluate(engine, signal()))


def test_daily_loss_halts_until_the_utc_day_ends() -> None:
    engine = RiskEngine()
    engine.on_equity(T0, 10_000.0)
    engine.on_equity(T0 + HOUR, 9_501.0)  # 4.99%
    assert engine.halted is None
    engine.on_equity(T0 + 2 * HOUR, 9_500.0)  # 5%
    assert engine.halted is not None and engine.halted.startswith("daily loss: equity 9500 is 5% below")
    engine.on_equity(T0 + 3 * HOUR, 10_000.0)  # recovering does not lift it
    midnight = T0 + 12 * HOUR
    rejected(evaluate(engine, signal(), now_ms=midnight - 1), "daily loss", "entries resume at")
    approved(evaluate(engine, signal(), now_ms=midnight, acct=account(9_000.0)))
    assert engine.status()["day_start_equity"] == 9_000.0  # the new day's first equity
    engine.on_equity(midnight + HOUR, 8_551.0)  # 4.99% below 9 000
    assert engine.halted is None


def test_drawdown_halts_until_rearmed() -> None:
    engine = RiskEngine()
    engine.on_equity(T0, 12_000.0)
    engine.on_equity(T0 + DAY, 10_201.0)  # 14.99% below the peak; a new day, so no daily loss
    assert engine.halted is None
    engine.on_equity(T0 + DAY + 1, 10_200.0)  # 15%
    assert engine.halted == (
        "max drawdown: equity 10200 is 15% below the peak 12000 (limit 15%); entries halted until rearm()"
    )
    rejected(evaluate(engine, signal(), now_ms=T0 + 5 * DAY, acct=account(10_500.0)), "max drawdown")
    engine.rearm()
    assert engine.halted is None
    approved(evaluate(engine, signal(), now_ms=T0 + 5 * DAY, acct=account(10_500.0)))
    assert engine.status()["peak_equity"] == 10_500.0


def test_consecutive_losses_halt_until_rearmed() -> None:
    engine = RiskEngine()
    for i, pnl in enumerate([-1, -1, -1, -1, 2, -1, -1, -1, -1]):  # the win resets the streak
        engine.on_trade_closed(trade(pnl, symbol=f"L{i}", exit_ms=T0 - HOUR + i))
    assert engine.halted is None and engine.status()["consecutive_losses"] == 4
    engine.on_trade_closed(trade(-1, symbol="L9", exit_ms=T0 - HOUR + 9))
    assert engine.halted == "5 losing trades in a row (limit 5); entries halted until rearm()"
    rejected(evaluate(engine, signal(), now_ms=T0 + 30 * DAY), "5 losing trades in a row")
    engine.rearm()
    assert engine.status()["consecutive_losses"] == 0
    approved(evaluate(engine, signal(), now_ms=T0 + 30 * DAY))


def test_consecutive_losses_with_a_cooloff() -> None:
    engine = RiskEngine(RiskConfig(loss_streak_cooloff_s=3_600))
    for i in range(5):
        engine.on_trade_closed(trade(-1, symbol=f"L{i}", exit_ms=T0 - HOUR + i))
    last_exit = T0 - HOUR + 4
    rejected(evaluate(engine, signal(), now_ms=last_exit + HOUR - 1), "losing trades in a row", "until 20")
    approved(evaluate(engine, signal(), now_ms=last_exit + HOUR))
    engine.on_trade_closed(trade(-1, symbol="L5", exit_ms=last_exit + HOUR))
    assert engine.halted is None  # the streak started over after the cool-off


def test_min_spacing_between_trades_on_a_symbol() -> None:
    engine = RiskEngine()
    engine.on_trade_closed(trade(5.0, exit_ms=T0))
    d = evaluate(engine, signal(), now_ms=T0 + 299_999)
    rejected(d, "min trade spacing: last trade on ETHUSDT 299.999 s ago < 300 s")
    approved(evaluate(engine, signal(symbol="BTCUSDT"), now_ms=T0 + 1))  # other symbols are free
    approved(evaluate(engine, signal(), now_ms=T0 + 300_000))
    engine.on_entry(SYMBOL, plan(), 1.0, T0 + 400_000)  # an entry counts too
    rejected(evaluate(engine, signal(stop=None, quote_size=100.0, strategy=""), now_ms=T0 + 600_000, atr=5.0),
             "min trade spacing")


def test_stop_out_cooldown() -> None:
    engine = RiskEngine()
    exits = [T0, T0 + 10 * MINUTE, T0 + 20 * MINUTE]
    for reason, exit_ms in zip(["stop-loss", "take-profit", "stop-loss"], exits, strict=True):
        engine.on_trade_closed(trade(-1.0 if reason == "stop-loss" else 1.0, exit_ms=exit_ms, reason=reason))
    approved(evaluate(engine, signal(), now_ms=exits[-1] + HOUR - 1))  # the take-profit broke the run
    engine.on_trade_closed(trade(-1.0, exit_ms=exits[-1] + HOUR, reason="stop-loss"))
    third = exits[-1] + 2 * HOUR
    engine.on_trade_closed(trade(-1.0, exit_ms=third, reason="stop-loss"))
    d = evaluate(engine, signal(), now_ms=third + HOUR - 1)
    rejected(d, "stop-out cooldown: 3 stop-losses in a row on ETHUSDT")
    assert engine.status()["cooldowns"] == {SYMBOL: third + HOUR}
    approved(evaluate(engine, signal(), now_ms=third + HOUR))
    short = RiskEngine(RiskConfig(stop_out_cooldown_s=600))
    for i in range(3):
        short.on_trade_closed(trade(-1.0, exit_ms=T0 + i * HOUR, reason="stop-loss"))
    approved(evaluate(short, signal(), now_ms=T0 + 2 * HOUR + 600_000))


# ---- market breakers ---------------------------------------------------------------------------


def reference(engine: RiskEngine, closes: dict[int, float], *, minutes: int = 300, base: float = 100.0) -> None:
    """1m reference closes for ``minutes`` minutes ending at T0; ``closes`` maps minutes before T0
    to a close (all others are ``base``)."""
    for m in range(minutes, -1, -1):
        engine.on_reference_close(T0 - m * MINUTE, closes.get(m, base))


@pytest.mark.parametrize(
    ("now_close", "breaker"),
    [
        (97.01, Breaker.NORMAL),
        (97.0, Breaker.CAUTION),  # −3% exactly
        (95.01, Breaker.CAUTION),
        (95.0, Breaker.PANIC),  # −5% exactly
        (104.99, Breaker.NORMAL),
        (105.0, Breaker.EUPHORIA),  # +5% exactly
    ],
)
def test_one_hour_breakers_at_their_boundaries(now_close: float, breaker: Breaker) -> None:
    engine = RiskEngine()
    reference(engine, {0: now_close})
    assert engine.breaker is breaker
    assert engine.status()["reference_change_1h"] == pytest.approx(now_close / 100 - 1)


@pytest.mark.parametrize(("now_close", "breaker"), [(90.01, Breaker.NORMAL), (90.0, Breaker.PANIC)])
def test_four_hour_panic_at_its_boundary(now_close: float, breaker: Breaker) -> None:
    engine = RiskEngine()
    # a slide: 100 until four hours ago, 91 from an hour ago: the 1h change stays above −3%
    reference(engine, {m: 91.0 for m in range(1, 61)} | {0: now_close})
    assert engine.breaker is breaker


def test_the_change_is_against_the_close_sixty_minutes_earlier() -> None:
    engine = RiskEngine()
    reference(engine, {59: 90.0, 61: 90.0, 0: 97.0})  # only the close at exactly −60 min counts
    assert engine.breaker is Breaker.CAUTION
    gap = RiskEngine()  # no close at −60 min: the newest close before it is the anchor
    for m, close in [(240, 100.0), (75, 100.0), (55, 90.0), (0, 96.5)]:
        gap.on_reference_close(T0 - m * MINUTE, close)
    assert gap.status()["reference_change_1h"] == pytest.approx(-0.035)
    assert gap.breaker is Breaker.CAUTION


def test_breakers_need_history_and_can_be_disabled() -> None:
    young = RiskEngine()
    reference(young, {0: 80.0}, minutes=59)  # no close an hour old yet
    assert young.breaker is Breaker.NORMAL
    off = RiskEngine(RiskConfig(reference_symbol=None))
    reference(off, {0: 80.0})
    assert off.breaker is Breaker.NORMAL and off.status()["reference_change_1h"] is None


def test_breakers_scale_sizes_and_panic_halts_entries_but_not_exits() -> None:
    caution, euphoria, panic = RiskEngine(), RiskEngine(), RiskEngine()
    reference(caution, {0: 96.0})
    reference(euphoria, {0: 106.0})
    reference(panic, {0: 94.0})
    d = approved(evaluate(caution, signal()))
    assert (d.qty, d.multiplier) == (pytest.approx(10), 0.5) and "× 0.5 CAUTION breaker" in d.reason
    d = approved(evaluate(euphoria, signal(confidence=0.7)))
    assert (d.qty, d.multiplier) == (pytest.approx(20 * 0.75 * 0.7), pytest.approx(0.525))
    rejected(evaluate(panic, signal()), "market breaker PANIC: BTCUSDT 1h change -6%")
    held = account(positions=[Position(SYMBOL, 3.0, 100.0)])
    assert approved(evaluate(panic, signal(exit=True, stop=None), acct=held)).qty == 3.0
    panic.on_reference_close(T0 + MINUTE, 100.0)  # the market recovers: the panic lifts
    assert panic.breaker is Breaker.NORMAL and panic.halted is None


def test_reference_closes_must_move_forward() -> None:
    engine = RiskEngine()
    engine.on_reference_close(T0, 100.0)
    engine.on_reference_close(T0, 99.0)  # the same bar again replaces it
    with pytest.raises(InvalidArgumentError) as err:
        engine.on_reference_close(T0 - MINUTE, 100.0)
    assert err.value.name == "close_time_ms"
    with pytest.raises(InvalidArgumentError, match="close"):
        engine.on_reference_close(T0 + MINUTE, math.nan)


# ---- exits -------------------------------------------------------------------------------------


def test_exit_plan_long_and_short() -> None:
    engine = RiskEngine()
    long = engine.exit_plan(SYMBOL, Side.BUY, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    assert long == ExitPlan(Side.BUY, 100.0, 96.0, 108.0, 102.0, 0.01, T0 + DAY)
    short = engine.exit_plan(SYMBOL, Side.SELL, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    assert short == ExitPlan(Side.SELL, 100.0, 104.0, 92.0, 98.0, 0.01, T0 + DAY)
    given_stop = engine.exit_plan(SYMBOL, Side.SELL, 100.0, atr=None, stop=105.0, take_profit=None, now_ms=T0)
    assert given_stop.take_profit == 90.0  # 2R below
    given_tp = engine.exit_plan(SYMBOL, Side.BUY, 100.0, atr=2.0, stop=None, take_profit=103.0, now_ms=T0)
    assert given_tp.take_profit == 103.0


def test_tier_overrides_change_only_what_they_name() -> None:
    config = RiskConfig(
        tiers={"alts": {"atr_stop": 3.0, "take_profit_r": 0, "trail": 0, "time_exit_s": 3_600}},
        symbol_tiers={"SOLUSDT": "alts"},
    )
    engine = RiskEngine(config)
    alt = engine.exit_plan("SOLUSDT", Side.SELL, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    assert alt == ExitPlan(Side.SELL, 100.0, 106.0, None, None, None, T0 + HOUR)
    major = engine.exit_plan("BTCUSDT", Side.SELL, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    assert major == ExitPlan(Side.SELL, 100.0, 104.0, 92.0, 98.0, 0.01, T0 + DAY)
    d = approved(evaluate(engine, signal(Side.SELL, stop=None, symbol="SOLUSDT"), atr=4.0))
    assert (d.stop, d.take_profit, d.qty) == (112.0, None, pytest.approx(200 / 12))


def test_trailing_activation_follows_the_configured_profit() -> None:
    engine = RiskEngine(RiskConfig(exits={"trail_activation": 0.05, "trail": 0.02}))
    p = engine.exit_plan(SYMBOL, Side.BUY, 200.0, atr=1.0, stop=None, take_profit=None, now_ms=T0)
    assert (p.trail_activation, p.trail) == (210.0, 0.02)
    p = engine.exit_plan(SYMBOL, Side.SELL, 200.0, atr=1.0, stop=None, take_profit=None, now_ms=T0)
    assert (p.trail_activation, p.trail) == (190.0, 0.02)


def test_bad_exit_plans_raise() -> None:
    engine = RiskEngine()
    with pytest.raises(InvalidArgumentError, match="not below the entry 100 of a long") as err:
        engine.exit_plan(SYMBOL, Side.BUY, 100.0, atr=None, stop=101.0, take_profit=None, now_ms=T0)
    assert err.value.name == "stop"
    with pytest.raises(InvalidArgumentError, match="no stop"):
        engine.exit_plan(SYMBOL, Side.BUY, 100.0, atr=None, stop=None, take_profit=None, now_ms=T0)
    with pytest.raises(InvalidArgumentError, match="not below the entry 100 of a short") as err:
        engine.exit_plan(SYMBOL, Side.SELL, 100.0, atr=None, stop=105.0, take_profit=101.0, now_ms=T0)
    assert err.value.name == "take_profit"


def test_time_exits_come_due() -> None:
    engine = RiskEngine()
    p = engine.exit_plan(SYMBOL, Side.BUY, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    engine.on_entry(SYMBOL, p, 1.0, T0)
    assert engine.due_time_exits(T0 + DAY - 1) == []
    assert engine.due_time_exits(T0 + DAY) == [SYMBOL]
    engine.on_flat(SYMBOL)
    assert engine.due_time_exits(T0 + 2 * DAY) == []


# ---- kill switch -------------------------------------------------------------------------------


def test_kill_switch_refuses_entries_but_approves_exits() -> None:
    engine = RiskEngine()
    engine.kill("operator pressed stop")
    assert engine.killed and engine.halted == "kill switch: operator pressed stop"
    rejected(evaluate(engine, signal()), "kill switch: operator pressed stop")
    held = account(positions=[Position(SYMBOL, -2.5, 100.0)])
    d = approved(evaluate(engine, signal(Side.BUY, exit=True, stop=None), acct=held))
    assert (d.qty, d.stop) == (2.5, None) and "close the short of 2.5" in d.reason
    rejected(evaluate(engine, signal(exit=True, stop=None, symbol="XRPUSDT"), acct=held), "no open position on XRPUSDT")
    engine.rearm()
    assert not engine.killed
    approved(evaluate(engine, signal()))
    with pytest.raises(InvalidArgumentError):
        engine.kill("  ")


def test_exits_pass_every_halt_and_need_no_other_argument() -> None:
    engine = RiskEngine()
    engine.on_equity(T0, 10_000.0)
    for i in range(5):
        engine.on_trade_closed(trade(-1, symbol=f"L{i}", exit_ms=T0 + i))
    engine.on_equity(T0 + 10, 8_000.0)  # daily loss and drawdown
    engine.kill("test")
    reference(engine, {0: 80.0})  # and a market crash
    assert len(engine.status()["halts"]) == 5
    held = account(positions=[Position(SYMBOL, 1.0, 100.0)])
    d = engine.evaluate(signal(exit=True, stop=None), price=math.nan, now_ms=-1, account=held, atr=-1.0)
    assert d == Decision(True, 1.0, "exit: close the long of 1 ETHUSDT (exits are never refused)", None, None, 1.0)


# ---- persistence -------------------------------------------------------------------------------


def busy_engine(config: RiskConfig) -> RiskEngine:
    """An engine with something in every part of its state."""
    engine = RiskEngine(config)
    reference(engine, {0: 96.5})  # CAUTION
    engine.on_equity(T0 - DAY, 11_000.0)
    engine.on_equity(T0, 10_000.0)
    feed_trades(engine, alternate(12, 0.03, 8, -0.02))
    for i in range(3):
        engine.on_trade_closed(trade(-1.0, symbol="SOLUSDT", exit_ms=T0 - 3 * MINUTE + i, reason="stop-loss"))
    engine.on_trade_closed(trade(-1.0, symbol="XRPUSDT", exit_ms=T0 - MINUTE))
    p = engine.exit_plan("ADAUSDT", Side.BUY, 100.0, atr=2.0, stop=None, take_profit=None, now_ms=T0)
    engine.on_entry("ADAUSDT", p, 50.0, T0, strategy="grid")
    return engine


def test_state_round_trip_gives_identical_decisions() -> None:
    config = RiskConfig(sizing="kelly", max_consecutive_losses=6)
    original = busy_engine(config)
    state = json.loads(json.dumps(original.to_state()))
    restored = RiskEngine(config)
    restored.restore(state)
    assert restored.to_state() == original.to_state()
    assert restored.status() == original.status()
    held = account(positions=[Position("ADAUSDT", 20.0, 100.0)])
    probes = [
        (signal(stop=50.0), T0 + MINUTE),  # Kelly × CAUTION, capped by max position: too much risk
        (signal(stop=99.0), T0 + MINUTE),
        (signal(symbol="SOLUSDT"), T0 + MINUTE),  # cooldown
        (signal(symbol="XRPUSDT"), T0 + 2 * MINUTE),  # spacing
        (signal(symbol="ADAUSDT", stop=None, quote_size=100.0, strategy="grid"), T0 + 10 * MINUTE),
        (signal(symbol="SOLUSDT"), T0 + 2 * HOUR),
    ]
    decisions = []
    for sig, now_ms in probes:
        decisions.append(original.evaluate(sig, price=100.0, now_ms=now_ms, account=held, atr=2.0))
        assert restored.evaluate(sig, price=100.0, now_ms=now_ms, account=held, atr=2.0) == decisions[-1]
    assert [d.approved for d in decisions] == [False, True, False, False, True, True]
    assert original.due_time_exits(T0 + DAY) == restored.due_time_exits(T0 + DAY) == ["ADAUSDT"]
    original.kill("restart test")
    again = RiskEngine(config)
    again.restore(json.loads(json.dumps(original.to_state())))
    assert again.killed and again.halted == "kill switch: restart test"


def test_a_bad_state_is_refused_and_changes_nothing() -> None:
    engine = busy_engine(RiskConfig())
    before = engine.to_state()
    broken = json.loads(json.dumps(before))
    broken["losses"]["count"] = "many"
    with pytest.raises(InvalidArgumentError, match="losses.count") as err:
        engine.restore(broken)
    assert err.value.name == "state"
    with pytest.raises(InvalidArgumentError, match="version"):
        engine.restore(before | {"version": 2})
    assert engine.to_state() == before


# ---- configuration and arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"risk_per_trade": 0}, "risk_per_trade"),
        ({"risk_per_trade": 1.5}, "risk_per_trade"),
        ({"max_position_fraction": -0.1}, "max_position_fraction"),
        ({"max_open_positions": 0}, "max_open_positions"),
        ({"min_trade_spacing_s": -1}, "min_trade_spacing_s"),
        ({"sizing": "martingale"}, "sizing"),
        ({"reference_symbol": ""}, "reference_symbol"),
        ({"panic_1h_change": 0.05}, "panic_1h_change"),
        ({"caution_1h_change": -0.06}, "caution_1h_change"),
        ({"low_confidence": 0.9}, "low_confidence"),
        ({"max_drawdwn": 0.2}, "max_drawdwn"),
        ({"exits": {"trail": 1.0}}, "exits.trail"),
        ({"tiers": {"alts": {"atr_stp": 3}}}, "tiers.alts.atr_stp"),
        ({"symbol_tiers": {"SOLUSDT": "alts"}}, "symbol_tiers"),
    ],
)
def test_bad_config_names_the_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        RiskConfig(**values)
    assert [".".join(map(str, e["loc"])) for e in err.value.errors()] == [field]
    assert field in str(err.value)


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        RiskConfig().risk_per_trade = 0.5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"price": 0.0}, "price"),
        ({"price": math.inf}, "price"),
        ({"atr": -1.0}, "atr"),
        ({"atr": math.nan}, "atr"),
        ({"now_ms": 1.5}, "now_ms"),
        ({"acct": Account(math.nan, 0.0, {})}, "account.equity"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], name: str) -> None:
    engine = RiskEngine()
    before = engine.to_state()
    with pytest.raises(InvalidArgumentError) as err:
        evaluate(engine, signal(), **kwargs)
    assert err.value.name == name and name.split(".")[-1] in str(err.value)
    assert engine.to_state() == before


@pytest.mark.parametrize(
    ("sig", "words"),
    [
        (signal(confidence=1.5), "bad signal: confidence 1.5 is not within 0–1"),
        (signal(stop=101.0), "bad signal: stop 101 is not below the entry 100 of a long"),
        (signal(Side.SELL, stop=99.0), "bad signal: stop 99 is not above the entry 100 of a short"),
        (signal(take_profit=99.0), "bad signal: take-profit 99 is not above the entry 100 of a long"),
        (signal(quote_size=-5.0), "bad signal: quote_size -5.0 is not a positive amount"),
        (signal(limit_price=0.0), "bad signal: limit_price 0.0 is not a positive price"),
    ],
)
def test_bad_signals_are_rejected_saying_why(sig: Signal, words: str) -> None:
    rejected(evaluate(RiskEngine(), sig), words)


def test_bad_reports_raise_and_change_nothing() -> None:
    engine = busy_engine(RiskConfig(max_consecutive_losses=6))
    before = engine.to_state()
    for bad_call, name in [
        (lambda: engine.on_trade_closed(trade(math.nan)), "trade.pnl"),
        (lambda: engine.on_entry(SYMBOL, plan(), 0.0, T0), "qty"),
        (lambda: engine.on_entry(SYMBOL, plan(stop=math.nan), 1.0, T0), "plan.stop"),
        (lambda: engine.on_equity(T0, math.inf), "equity"),
        (lambda: engine.on_equity("noon", 1.0), "now_ms"),
        (lambda: engine.due_time_exits(None), "now_ms"),
    ]:
        with pytest.raises(InvalidArgumentError) as err:
            bad_call()
        assert err.value.name == name
    assert engine.to_state() == before


def test_numpy_times_and_prices_are_fine() -> None:
    np = pytest.importorskip("numpy")
    engine = RiskEngine()
    d = engine.evaluate(signal(), price=np.float64(100.0), now_ms=np.int64(T0), account=account(), atr=np.float64(5.0))
    assert approved(d).qty == pytest.approx(20)
    json.dumps(engine.to_state())


def test_every_setting_is_documented() -> None:
    from tradecore.risk import ExitOverrides, ExitParams

    for model in (RiskConfig, ExitParams, ExitOverrides):
        undocumented = [name for name, f in model.model_fields.items() if not f.description]
        assert undocumented == [], model.__name__


def test_no_equity_no_entry() -> None:
    rejected(evaluate(RiskEngine(), signal(), acct=account(0.0)), "no equity")


def test_status_is_json() -> None:
    status = busy_engine(RiskConfig(max_consecutive_losses=6)).status()
    json.dumps(status)
    assert (status["breaker"], status["halted"], status["consecutive_losses"]) == ("caution", None, 5)
    assert status["cooldowns"] == {"SOLUSDT": T0 - 3 * MINUTE + 2 + HOUR}
    assert status["open_risk_by_symbol"] == {"ADAUSDT": pytest.approx(200.0)}  # 50 × (100 − 96)


# ---- property: approved orders respect the size limits -----------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    sizing=st.sampled_from(["fixed_fractional", "kelly", "volatility"]),
    equity=st.floats(100, 1e7),
    cash_share=st.floats(0, 2),
    price=st.floats(0.01, 1e5),
    stop_distance=st.floats(0.001, 0.5),
    confidence=st.floats(0, 1),
    atr_share=st.none() | st.floats(0, 0.2),
    side=st.sampled_from(list(Side)),
    held_share=st.floats(0, 0.4),
    booked_risk=st.lists(st.floats(0.001, 0.05), max_size=4),
    quote_share=st.none() | st.floats(0.001, 1),
    win_rate=st.floats(0.3, 1),
)
def test_approved_orders_never_break_max_position_or_portfolio_risk(
    sizing: str,
    equity: float,
    cash_share: float,
    price: float,
    stop_distance: float,
    confidence: float,
    atr_share: float | None,
    side: Side,
    held_share: float,
    booked_risk: list[float],
    quote_share: float | None,
    win_rate: float,
) -> None:
    config = RiskConfig(sizing=sizing, kelly_min_trades=10, min_notional=0.01)
    engine = RiskEngine(config)
    wins = round(10 * win_rate)
    feed_trades(engine, alternate(wins, 0.04, 10 - wins, -0.02))
    for i, share in enumerate(booked_risk):
        book(engine, f"B{i}", share * equity)
    stop = price * (1 - side.sign * stop_distance)
    held = []
    if quote_share is not None and held_share:  # a grid adding to its position
        held = [Position(SYMBOL, side.sign * held_share * equity / price, price)]
    acct = account(equity, cash_share * equity, held)
    sig = signal(
        side,
        confidence=confidence,
        stop=stop,
        strategy="",
        quote_size=None if quote_share is None else quote_share * equity,
    )
    atr = None if atr_share is None else atr_share * price
    d = engine.evaluate(sig, price=price, now_ms=T0, account=acct, atr=atr)
    event("approved" if d.approved else d.reason.split(":")[0].split(" of ")[0])
    if not d.approved:
        return
    held_qty = abs(held[0].qty) if held else 0.0
    assert (held_qty + d.qty) * price <= config.max_position_fraction * equity * (1 + 1e-9)
    trade_risk = d.qty * abs(price - stop)
    assert engine.open_risk + trade_risk <= config.max_portfolio_risk * equity * (1 + 1e-9)
    if side is Side.BUY:
        assert d.qty * price <= acct.cash * (1 + 1e-9)
