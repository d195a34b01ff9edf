"""The trading engine: one ordered stream of market events in, orders out — the same code for
backtests, paper runs and (later) live trading.

Per closed bar of the base timeframe (``on_bar``):

1. in candle mode the broker matches the orders placed earlier against the bar's price path;
   in book mode the broker already matched them on every book update (``on_book``);
2. the portfolio is marked to the close, the risk engine sees equity and the reference asset;
3. the bar joins the symbol's series and completes higher timeframes;
4. due time exits are closed;
5. the regime is updated and the strategies active in it decide on the bars that just closed;
6. the selector resolves conflicts, the risk engine sizes and checks every signal, the broker
   takes the orders (entries carry their stop-loss / take-profit / trailing legs as a bracket).

Decisions see closed bars only. Every order and fill goes to the state store (when there is one)
in one transaction with the event's cursor, so a bot killed at any point resumes from its last
complete event: nothing twice, nothing lost.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tradecore.analysis.regime import Regime, RegimeDetector
from tradecore.analysis.series import BarBuilder, Bars, resample
from tradecore.execution.orders import Fill, Order, OrderStatus, OrderType, Position, Side, Trade
from tradecore.execution.models import PaperConfig
from tradecore.execution.paper import BookLike, PaperBroker
from tradecore.execution.portfolio import Portfolio
from tradecore.execution.state import StateStore
from tradecore.errors import InvalidArgumentError, InvalidBarError
from tradecore.patterns import timeframe_seconds
from tradecore.risk import Account, ExitPlan, RiskEngine
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.selector import Selector

log = logging.getLogger("tradecore.engine")


class FeedBook:
    """A :class:`BookLike` view of one symbol's book inside a live ``tradecore.Feed`` (no copy)."""

    __slots__ = ("_feed", "_symbol")

    def __init__(self, feed: Any, symbol: str) -> None:
        self._feed, self._symbol = feed, symbol

    def best_bid(self) -> tuple[float, float] | None:
        level: tuple[float, float] | None = self._feed.best_bid(self._symbol)
        return level

    def best_ask(self) -> tuple[float, float] | None:
        level: tuple[float, float] | None = self._feed.best_ask(self._symbol)
        return level

    def sweep(self, side: str, qty: float, limit: float | None) -> tuple[float, float]:
        got: tuple[float, float] = self._feed.sweep(self._symbol, side, qty, limit)
        return got


class Observer(Protocol):
    """Progress displays and reports listen to the engine through this."""

    def __call__(self, kind: str, payload: Any) -> None: ...


@dataclass(slots=True)
class EquityCurve:
    """Equity after every base bar (amortised appends into numpy arrays)."""

    time: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1024, dtype=np.int64))
    equity: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(1024, dtype=np.float64))
    size: int = 0

    def add(self, t: int, value: float) -> None:
        if self.size and t <= self.time[self.size - 1]:
            self.equity[self.size - 1] = value  # several symbols closing at one time: keep the last
            return
        if self.size == len(self.time):
            self.time = np.resize(self.time, 2 * self.size)
            self.equity = np.resize(self.equity, 2 * self.size)
        self.time[self.size] = t
        self.equity[self.size] = value
        self.size += 1

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        return self.time[: self.size].copy(), self.equity[: self.size].copy()


@dataclass(slots=True)
class Decision:
    """One signal and what became of it (kept for the report and the tests)."""

    time_ms: int
    signal: Signal
    approved: bool
    qty: float
    reason: str
    order_id: str | None = None


class Engine:
    """Wires strategies → selector → risk → broker → portfolio (→ state store).

    ``symbols`` are traded on the ``base`` timeframe; the higher timeframes the strategies and
    the regime detector read are built here from base bars. The risk configuration's
    ``reference_symbol`` (its closes drive the market circuit breakers) is one of the symbols.
    ``fills_from`` is ``"bars"`` (the broker matches on each bar's price path) or ``"book"``
    (on every book update: paper trading and recordings).
    """

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        strategies: Sequence[Strategy],
        selector: Selector,
        risk: RiskEngine,
        portfolio: Portfolio,
        paper: PaperConfig | None = None,
        regime: Callable[[], RegimeDetector],
        regime_timeframe: str = "1h",
        base: str = "1m",
        fills_from: str = "bars",
        store: StateStore | None = None,
        observer: Observer | None = None,
    ) -> None:
        if fills_from not in ("bars", "book"):
            raise InvalidArgumentError(f"fills_from must be 'bars' or 'book', got {fills_from!r}", name="fills_from")
        self.symbols = list(symbols)
        self.strategies = list(strategies)
        self.selector = selector
        self.risk = risk
        self.portfolio = portfolio
        self.broker = PaperBroker(portfolio, paper, on_fill=self._on_fill, on_order=self._on_order)
        self.base = base
        self.base_ms = timeframe_seconds(base) * 1000
        self.fills_from = fills_from
        self.store = store
        self.observer = observer
        self.regime_timeframe = regime_timeframe
        wanted = {base, regime_timeframe}
        for s in self.strategies:
            wanted.add(s.timeframe)
            wanted.update(s.timeframes)
        self.timeframes = sorted(wanted, key=timeframe_seconds)
        for tf in self.timeframes:
            if timeframe_seconds(tf) % timeframe_seconds(base):
                raise InvalidArgumentError(f"timeframe {tf} is not a multiple of the base timeframe {base}", name="timeframes")
        self.bars: dict[str, dict[str, Bars]] = {s: {tf: Bars(tf) for tf in self.timeframes} for s in self.symbols}
        self._builders = {s: {tf: BarBuilder(tf) for tf in self.timeframes if tf != base} for s in self.symbols}
        self._regime = {s: regime() for s in self.symbols}
        self.regimes: dict[str, Regime] = dict.fromkeys(self.symbols, Regime.UNKNOWN)
        self.decisions: list[Decision] = []
        self.fills: list[Fill] = []
        self.curve = EquityCurve()
        self.now_ms = 0
        self.cursor_ms = 0  # the last bar time whose effects are complete (in the state store too)
        self.order_latency_ns: list[int] = []  # frame arrival → order submitted (tick-to-order), ns
        self.bar_latency_ns: list[int] = []  # frame arrival → the closed bar's decisions done, ns
        self.event_started_ns = 0  # wall clock (time.time_ns) when the current event arrived; 0: not measured
        self._dirty_orders: dict[str, Order] = {}
        self._plans: dict[str, ExitPlan] = {}  # entry order id → its exit plan, booked as it fills
        self._trades_seen = 0  # round trips of the portfolio already passed to the risk engine
        self._new_fills: list[Fill] = []

    # --- inputs -----------------------------------------------------------------------------
    def preload(self, symbol: str, columns: Mapping[str, npt.ArrayLike]) -> None:
        """Loads a symbol's whole base-timeframe history for a backtest (``time`` = open time
        in UTC ms, open, high, low, close, volume). Bars become visible only as :meth:`run_preloaded`
        passes their close, so nothing ahead of the clock can be read."""
        cols = {k: np.asarray(v) for k, v in columns.items()}
        check_bars(symbol, cols)
        self.bars[symbol][self.base] = Bars.preload(self.base, *(cols[k] for k in ("time", "open", "high", "low", "close", "volume")))
        for tf in self.timeframes:
            if tf != self.base:
                r = resample(cols, tf)
                self.bars[symbol][tf] = Bars.preload(tf, *(r[k] for k in ("time", "open", "high", "low", "close", "volume")))

    def run_preloaded(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Steps through the preloaded bars of every symbol in time order."""
        times = [self.bars[s][self.base].full_time() for s in self.symbols]
        order = np.argsort(np.concatenate(times), kind="stable")
        owner = np.concatenate([np.full(len(t), i, dtype=np.int64) for i, t in enumerate(times)])[order]
        row = np.concatenate([np.arange(len(t)) for t in times])[order]
        total = len(order)
        step = max(total // 200, 1)
        for k in range(total):
            s = self.symbols[int(owner[k])]
            self._step_preloaded(s, int(row[k]))
            if progress is not None and k % step == 0:
                progress(k, total)
        if progress is not None:
            progress(total, total)

    def _step_preloaded(self, symbol: str, i: int) -> None:
        t, o, h, lo, c, v = self.bars[symbol][self.base].row(i)
        self._bar(symbol, t, o, h, lo, c, v, preloaded_index=i)

    def on_bar(self, symbol: str, time_ms: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """A closed base-timeframe bar (paper, live, recordings)."""
        if not (0 < lo <= min(o, c) and max(o, c) <= h < math.inf and 0 <= v < math.inf):
            raise InvalidBarError(f"{symbol} bar at {time_ms}: open/high/low/close must be positive with the high and "
                                  f"low enclosing open and close, volume >= 0 (o={o} h={h} l={lo} c={c} v={v})")
        self._bar(symbol, time_ms, o, h, lo, c, v, preloaded_index=None)

    def on_book(self, symbol: str, now_ms: int, book: BookLike) -> None:
        """A book update (book mode): pending orders are matched against it."""
        if now_ms > self.now_ms:
            self.now_ms = now_ms
        if self.fills_from == "book" and self.broker.orders(symbol):
            with self._transaction(None):
                self.broker.on_book(symbol, now_ms, book)

    # --- the bar step ------------------------------------------------------------------------
    def _bar(self, symbol: str, t: int, o: float, h: float, lo: float, c: float, v: float, *, preloaded_index: int | None) -> None:
        close_ms = t + self.base_ms
        self.now_ms = max(self.now_ms, close_ms)
        resuming = close_ms <= self.cursor_ms
        with self._transaction(None if resuming else close_ms):
            if self.fills_from == "bars" and not resuming and self.broker.orders(symbol):
                self.broker.on_bar(symbol, t, self.base_ms, o, h, lo, c, v)
            closed = self._add_bar(symbol, t, o, h, lo, c, v, preloaded_index)
            if resuming:
                self._update_regime(symbol, closed)
                self._rebuild(symbol, closed, close_ms)
                return
            self.portfolio.mark(symbol, c)
            equity = self.portfolio.equity()
            self.curve.add(close_ms, equity)
            self.risk.on_equity(close_ms, equity)
            if symbol == self.risk.config.reference_symbol:
                self.risk.on_reference_close(close_ms, c)
            for due in self.risk.due_time_exits(close_ms):
                self._close_position(due, close_ms, "time exit")
            self._update_regime(symbol, closed)
            self._decide(symbol, closed, close_ms)
            if self.event_started_ns:
                self.bar_latency_ns.append(time.time_ns() - self.event_started_ns)

    def _add_bar(self, symbol: str, t: int, o: float, h: float, lo: float, c: float, v: float, i: int | None) -> list[str]:
        """Adds the bar to the symbol's series; returns the timeframes that closed a bar now."""
        series = self.bars[symbol]
        closed = [self.base]
        if i is not None:
            close_ms = t + self.base_ms
            series[self.base].reveal(i + 1)
            for tf, bars in series.items():
                if tf != self.base and bars.advance(close_ms):
                    closed.append(tf)
            return closed
        series[self.base].append(t, o, h, lo, c, v)
        for tf, builder in self._builders[symbol].items():
            done = builder.push(t, self.base_ms, o, h, lo, c, v)
            if done is not None:
                series[tf].append(*done)
                closed.append(tf)
        return closed

    def _update_regime(self, symbol: str, closed: Sequence[str]) -> None:
        if self.regime_timeframe in closed:
            previous = self.regimes[symbol]
            now = self._regime[symbol].update(self.bars[symbol][self.regime_timeframe])
            self.regimes[symbol] = now
            if now != previous:
                log.info("%s: regime %s → %s", symbol, previous, now)
                self._notify("regime", (symbol, now))

    def _decide(self, symbol: str, closed: Sequence[str], now_ms: int) -> None:
        regime = self.regimes[symbol]
        active = [s for s in self.selector.active(regime) if s.timeframe in closed]
        if not active:
            return
        ctx = Context(symbol, now_ms, self.bars[symbol], regime, self.portfolio.position(symbol), self.portfolio.equity(),
                      {"position_strategy": self.portfolio.opened_by(symbol)})
        signals: list[Signal] = []
        for strategy in active:
            signals.extend(strategy.on_bar(ctx))
        if not signals:
            return
        price = self.bars[symbol][self.base].last("close")
        atr = self._atr(symbol)
        for signal in self.selector.resolve(signals, regime):
            self._act(signal, price, atr, now_ms)

    def _rebuild(self, symbol: str, closed: Sequence[str], now_ms: int) -> None:
        """Catching up after a restart: the strategies see the bars again (their few pieces of
        state derive from bars, e.g. the grid of the current drop) and what they say is dropped —
        those decisions were taken before the restart and their orders are in the store."""
        regime = self.regimes[symbol]
        ctx = Context(symbol, now_ms, self.bars[symbol], regime, None, self.portfolio.equity())
        for strategy in self.selector.active(regime):
            if strategy.timeframe in closed:
                strategy.on_bar(ctx)

    def _atr(self, symbol: str) -> float | None:
        bars = self.bars[symbol][self.regime_timeframe]
        if len(bars) < 15:
            bars = self.bars[symbol][self.base]
        if len(bars) < 15:
            return None
        value = float(bars.ind.atr(14)[-1])
        return value if math.isfinite(value) else None

    # --- acting ---------------------------------------------------------------------------------
    def account(self) -> Account:
        return Account(
            equity=self.portfolio.equity(),
            cash=self.portfolio.cash,
            positions={s: p for s, p in self.portfolio.positions.items() if not p.flat},
            open_orders=len(self.broker.orders()),
        )

    def _act(self, signal: Signal, price: float, atr: float | None, now_ms: int) -> None:
        """Every signal passes the risk engine (an exit is always approved while there is a
        position to close); an approved entry becomes an order with its exit legs."""
        decision = self.risk.evaluate(signal, price=price, now_ms=now_ms, account=self.account(), atr=atr)
        record = Decision(now_ms, signal, decision.approved, decision.qty, decision.reason)
        self.decisions.append(record)
        self._notify("decision", record)
        if not decision.approved:
            log.info("%s %s %s refused: %s", signal.symbol, signal.strategy, signal.side, decision.reason)
            return
        if signal.exit:
            self._close_position(signal.symbol, now_ms, f"{signal.strategy} exit: {signal.reason}")
            return
        entry_price = signal.limit_price if signal.limit_price is not None else price
        plan = self.risk.exit_plan(signal.symbol, signal.side, entry_price, atr=atr, stop=decision.stop,
                                   take_profit=decision.take_profit, now_ms=now_ms)
        entry = self.broker.new_order(
            symbol=signal.symbol, side=signal.side,
            type=OrderType.MARKET if signal.limit_price is None else OrderType.LIMIT,
            qty=decision.qty, price=signal.limit_price, now_ms=now_ms,
            strategy=signal.strategy, reason=f"{signal.strategy} entry: {signal.reason}",
        )
        group = f"exit-{entry.id}"
        legs = [self.broker.new_order(
            symbol=signal.symbol, side=signal.side.opposite, type=OrderType.STOP, qty=decision.qty,
            stop_price=plan.stop, now_ms=now_ms, reduce_only=True, oco_group=group, parent_id=entry.id,
            strategy=signal.strategy, reason="stop-loss",
        )]
        if plan.take_profit is not None:
            legs.append(self.broker.new_order(
                symbol=signal.symbol, side=signal.side.opposite, type=OrderType.LIMIT, qty=decision.qty,
                price=plan.take_profit, now_ms=now_ms, reduce_only=True, oco_group=group, parent_id=entry.id,
                strategy=signal.strategy, reason="take-profit",
            ))
        if plan.trail is not None:
            legs.append(self.broker.new_order(
                symbol=signal.symbol, side=signal.side.opposite, type=OrderType.TRAILING_STOP, qty=decision.qty,
                trail=plan.trail, activation_price=plan.trail_activation, now_ms=now_ms, reduce_only=True,
                oco_group=group, parent_id=entry.id, strategy=signal.strategy, reason="trailing stop",
            ))
        submitted = self.broker.submit(entry, now_ms)
        record.order_id = submitted.id
        if self.event_started_ns:
            self.order_latency_ns.append(time.time_ns() - self.event_started_ns)
        if submitted.status is OrderStatus.REJECTED:
            log.warning("%s entry rejected by the broker: %s", signal.symbol, submitted.note)
            return
        for leg in legs:
            self.broker.submit(leg, now_ms)
        self._plans[submitted.id] = plan

    def _close_position(self, symbol: str, now_ms: int, reason: str) -> None:
        position = self.portfolio.position(symbol)
        self.broker.cancel_all(now_ms, f"closing: {reason}", symbol)
        if position is None:
            return
        side = Side.SELL if position.qty > 0 else Side.BUY
        order = self.broker.new_order(symbol=symbol, side=side, type=OrderType.MARKET, qty=abs(position.qty),
                                      now_ms=now_ms, reduce_only=True, reason=reason)
        self.broker.submit(order, now_ms)

    def kill(self, reason: str, *, flatten: bool | None = None) -> None:
        """The kill switch: cancel every order, optionally flatten, refuse entries until :meth:`rearm`."""
        self.risk.kill(reason)
        self.broker.cancel_all(self.now_ms, f"kill switch: {reason}")
        if flatten if flatten is not None else self.risk.config.flatten_on_kill:
            for symbol in list(self.portfolio.positions):
                self._close_position(symbol, self.now_ms, f"kill switch: {reason}")
        self._notify("kill", reason)

    def rearm(self) -> None:
        self.risk.rearm()
        self._notify("rearm", None)

    # --- broker callbacks ------------------------------------------------------------------------
    def _on_fill(self, fill: Fill, order: Order) -> None:
        plan = self._plans.get(order.id)
        if plan is not None:  # an entry: its risk counts from now on
            self.risk.on_entry(fill.symbol, plan, fill.qty, fill.ts_ms, strategy=order.strategy)
            if not order.active:
                del self._plans[order.id]
        self.fills.append(fill)
        self._new_fills.append(fill)
        # The broker booked the fill into the portfolio already; round trips it closed are new here.
        closed = self.portfolio.trades[self._trades_seen:]
        self._trades_seen = len(self.portfolio.trades)
        trade: Trade
        for trade in closed:
            self.risk.on_trade_closed(trade)
            self._notify("trade", trade)
        if self.portfolio.position(fill.symbol) is None:
            self.risk.on_flat(fill.symbol)
            for leftover in self.broker.orders(fill.symbol):
                if leftover.reduce_only:
                    self.broker.cancel(leftover.id, fill.ts_ms, "position closed")
        self._notify("fill", fill)

    def _on_order(self, order: Order) -> None:
        self._dirty_orders[order.id] = order
        if not order.active:
            self._plans.pop(order.id, None)

    # --- state ------------------------------------------------------------------------------------
    def _transaction(self, cursor_ms: int | None) -> _Transaction:
        return _Transaction(self, cursor_ms)

    def _flush(self, cursor_ms: int | None) -> None:
        store = self.store
        if cursor_ms is not None:
            self.cursor_ms = max(self.cursor_ms, cursor_ms)
        if store is None:
            self._dirty_orders.clear()
            self._new_fills.clear()
            return
        if not self._dirty_orders and not self._new_fills and cursor_ms is None:
            return
        with store.transaction():
            for order in self._dirty_orders.values():
                store.save_order(order)
            for fill in self._new_fills:
                store.save_fill(fill)
            if self._new_fills:
                store.save_portfolio(self.portfolio.to_state())
            if cursor_ms is not None:
                store.add_equity(cursor_ms, self.portfolio.equity())
            store.set_meta("cursor_ms", self.cursor_ms)
            store.set_meta("next_id", self.broker.next_id)
            store.set_meta("risk", self.risk.to_state())
        self._dirty_orders.clear()
        self._new_fills.clear()

    def resume(self) -> bool:
        """Restores orders, portfolio, risk state and the cursor from the store. Events up to
        the cursor are then replayed only to rebuild the bar series (no trading). False when
        the store is empty (a fresh start)."""
        if self.store is None:
            return False
        saved = self.store.load()
        cursor = saved.meta.get("cursor_ms")
        if cursor is None:
            return False
        self.cursor_ms = int(cursor)
        if saved.portfolio is not None:
            self.portfolio = self.broker.portfolio = Portfolio.from_state(saved.portfolio)
            self._trades_seen = len(self.portfolio.trades)
        self.broker.restore([o for o in saved.orders if o.active], int(saved.meta.get("next_id", 0)))
        if "risk" in saved.meta:
            self.risk.restore(saved.meta["risk"])
        self.fills = list(saved.fills)
        for t, value in self.store.equity_curve():
            self.curve.add(t, value)
        log.info("resumed at %d with %d open orders", self.cursor_ms, len(self.broker.orders()))
        return True

    def _notify(self, kind: str, payload: Any) -> None:
        if self.observer is not None:
            self.observer(kind, payload)

    # --- results ----------------------------------------------------------------------------------
    @property
    def trades(self) -> list[Trade]:
        return self.portfolio.trades

    def positions(self) -> dict[str, Position]:
        return {s: p for s, p in self.portfolio.positions.items() if not p.flat}

    def close_all(self, reason: str = "end of run") -> None:
        """Marks the end of a run: cancels open orders (positions stay, valued at the last close)."""
        self.broker.cancel_all(self.now_ms, reason)
        self._flush(None)


class _Transaction:
    """Groups one event's state changes; written to the store when the event completes."""

    __slots__ = ("_engine", "_cursor")

    def __init__(self, engine: Engine, cursor_ms: int | None) -> None:
        self._engine, self._cursor = engine, cursor_ms

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._engine._flush(self._cursor)  # noqa: SLF001


def check_bars(symbol: str, cols: Mapping[str, npt.NDArray[Any]]) -> None:
    """Refuses a history with a bar the engine cannot trade on, naming the first one."""
    missing = [k for k in ("time", "open", "high", "low", "close", "volume") if k not in cols]
    if missing:
        raise InvalidBarError(f"{symbol}: the bars have no {', '.join(missing)} column")
    t = np.asarray(cols["time"], dtype=np.int64)
    o, h, lo, c, v = (np.asarray(cols[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))
    with np.errstate(invalid="ignore"):
        bad = ~((lo > 0) & (lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h) & np.isfinite(h) & (v >= 0) & np.isfinite(v))
    unordered = np.flatnonzero(np.diff(t) <= 0) + 1
    if unordered.size:
        bad[unordered] = True
    if bad.any():
        i = int(np.argmax(bad))
        why = "its time is not after the previous bar's" if i in unordered else (
            f"open/high/low/close must be positive with the high and low enclosing open and close, volume >= 0 "
            f"(o={o[i]} h={h[i]} l={lo[i]} c={c[i]} v={v[i]})")
        raise InvalidBarError(f"{symbol}: bar {i} (time {int(t[i])}): {why}; {int(bad.sum())} bad bar(s) in all", index=i)
