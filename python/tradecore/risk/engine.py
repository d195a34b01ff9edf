"""The risk engine: every signal passes it. Entries are sized (sizing.py) and checked against the
halts and limits (guards.py, limits.py, breakers.py); exits are always approved, since risk must
never stop a bot from getting out. Every decision carries its reason in words.

The trading engine keeps it informed: ``on_entry`` when an entry fills, ``on_trade_closed`` for
each round trip, ``on_flat`` when a position is gone, ``on_reference_close`` with the reference
asset's 1m closes and ``on_equity`` as equity moves. All times are exchange time (UTC ms) from
the arguments; the wall clock is never read."""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Position, Side, Trade
from tradecore.risk.breakers import Breaker, breaker_multiplier, breaker_of
from tradecore.risk.config import RiskConfig
from tradecore.risk.exits import ExitPlan, atr_stop, plan_exits, stop_problem, take_profit_problem
from tradecore.risk.guards import SymbolHistory
from tradecore.risk.limits import cap_size, one_position_refusal, open_positions_refusal, portfolio_risk_refusal
from tradecore.risk.sizing import confidence_multiplier, risk_fraction
from tradecore.risk.state import OpenRisk, RiskState, dump_state, load_state
from tradecore.risk.words import pct
from tradecore.strategy.base import Signal

log = logging.getLogger("tradecore.risk")


@dataclass(frozen=True, slots=True)
class Account:
    """What the engine tells the risk engine about the portfolio at decision time."""

    equity: float
    cash: float
    positions: Mapping[str, Position]  # the non-flat ones
    open_orders: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    qty: float  # 0 when rejected
    reason: str  # why rejected, or how it was sized
    stop: float | None
    take_profit: float | None
    multiplier: float  # confidence × breaker multipliers applied


def _reject(reason: str, multiplier: float = 1.0) -> Decision:
    log.debug("rejected: %s", reason)
    return Decision(False, 0.0, reason, None, None, multiplier)


def _time(name: str, value: int) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer of UTC milliseconds, got {value!r}", name=name) from None


def _finite(name: str, value: float, *, positive: bool = False) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise InvalidArgumentError(f"{name} must be {kind}, got {value!r}", name=name)
    return float(value)


def _atr(atr: float | None) -> float | None:
    if atr is not None and _finite("atr", atr) < 0:
        raise InvalidArgumentError(f"atr must be ≥ 0, got {atr!r}", name="atr")
    return None if atr is None else float(atr)


def _signal_problem(signal: Signal, entry: float) -> str | None:
    """What makes a strategy's signal unusable, None if nothing does."""
    if not math.isfinite(signal.confidence) or not 0 <= signal.confidence <= 1:
        return f"confidence {signal.confidence!r} is not within 0–1"
    if signal.limit_price is not None and not (math.isfinite(signal.limit_price) and signal.limit_price > 0):
        return f"limit_price {signal.limit_price!r} is not a positive price"
    if signal.quote_size is not None and not (math.isfinite(signal.quote_size) and signal.quote_size > 0):
        return f"quote_size {signal.quote_size!r} is not a positive amount"
    stop = None if signal.stop is None else stop_problem(signal.side, entry, signal.stop)
    take_profit = None if signal.take_profit is None else take_profit_problem(signal.side, entry, signal.take_profit)
    return stop or take_profit


class RiskEngine:
    __slots__ = ("config", "_s", "_breaker")

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config if config is not None else RiskConfig()
        self._s = RiskState()
        self._breaker: Breaker | None = None  # from the reference closes; recomputed after each new one

    # ---- decisions -------------------------------------------------------------------------

    def evaluate(self, signal: Signal, *, price: float, now_ms: int, account: Account, atr: float | None) -> Decision:
        """Approve and size ``signal`` at ``price`` (the order's price unless it has a
        ``limit_price``), or reject it saying why. The account's equity counts as an equity
        observation (see :meth:`on_equity`). An exit needs nothing but the account's position:
        it is decided before any other argument is looked at, so that nothing can block it."""
        if signal.exit:
            return self._exit(signal, account)
        price = _finite("price", price, positive=True)
        atr = _atr(atr)
        equity = _finite("account.equity", account.equity)
        _finite("account.cash", account.cash)
        now_ms = self._advance(now_ms)
        self._s.equity.observe(self.config, now_ms, equity)
        return self._entry(signal, price, account, atr)

    def _exit(self, signal: Signal, account: Account) -> Decision:
        held = account.positions.get(signal.symbol)
        if held is None or held.flat:
            return _reject(f"exit: no open position on {signal.symbol}")
        side = "long" if held.qty > 0 else "short"
        reason = f"exit: close the {side} of {abs(held.qty):.6g} {signal.symbol} (exits are never refused)"
        return Decision(True, abs(held.qty), reason, None, None, 1.0)

    def _entry(self, signal: Signal, price: float, account: Account, atr: float | None) -> Decision:
        cfg, symbol, side = self.config, signal.symbol, signal.side
        halt = self.halted
        if halt:
            return _reject(halt)
        if account.equity <= 0:
            return _reject(f"no equity to risk: {account.equity:.6g}")
        entry = price if signal.limit_price is None else signal.limit_price
        problem = _signal_problem(signal, entry)
        if problem:
            return _reject(f"bad signal: {problem}")
        held = account.positions.get(symbol)
        held = None if held is None or held.flat else held
        booked = self._s.open.get(symbol)
        refusal = (
            one_position_refusal(
                cfg,
                symbol=symbol,
                side=side,
                strategy=signal.strategy,
                grid=signal.quote_size is not None,
                held=held,
                owner=booked.strategy if booked else "",
            )
            or (open_positions_refusal(cfg, account.positions) if held is None else None)
            or self._history(symbol).refusal(cfg, symbol, self._s.now_ms)
        )
        if refusal:
            return _reject(refusal)

        params = cfg.exits_for(symbol)
        stop = signal.stop if signal.stop is not None else atr_stop(params, side, entry, atr)
        if stop is None:
            return _reject("no stop: the signal gives none and there is no ATR for the ATR stop")
        problem = stop_problem(side, entry, stop)
        if problem:
            return _reject(f"no usable ATR stop: {problem}")
        risk_per_unit = abs(entry - stop)

        qty, multiplier, how = self._size(signal, entry, risk_per_unit, account.equity, atr)
        if qty <= 0:
            return _reject(how)

        capped = cap_size(
            cfg,
            qty,
            symbol=symbol,
            side=side,
            entry=entry,
            equity=account.equity,
            cash=account.cash,
            held_qty=held.qty if held else 0.0,
        )
        if capped.refusal:
            return _reject(capped.refusal, multiplier)
        if capped.caps:
            how += f", capped by {' and '.join(capped.caps)} to {capped.qty:.6g}"
        refusal = portfolio_risk_refusal(
            cfg, open_risk=self.open_risk, trade_risk=capped.qty * risk_per_unit, equity=account.equity
        )
        if refusal:
            return _reject(refusal, multiplier)
        take_profit = plan_exits(
            params, side, entry, atr=atr, stop=stop, take_profit=signal.take_profit, now_ms=self._s.now_ms
        ).take_profit
        return Decision(True, capped.qty, how, stop, take_profit, multiplier)

    def _size(
        self, signal: Signal, entry: float, risk_per_unit: float, equity: float, atr: float | None
    ) -> tuple[float, float, str]:
        """Quantity, multiplier and how they came about, in words (qty 0: no trade, and why)."""
        if signal.quote_size is not None:
            qty = signal.quote_size / entry
            return qty, 1.0, f"quote size {signal.quote_size:.6g} / {entry:.6g} = {qty:.6g} (grid order: not sized)"
        fraction, how = risk_fraction(self.config, self._s.kelly, price=entry, atr=atr)
        if fraction <= 0:
            return 0.0, 1.0, how
        confidence = confidence_multiplier(self.config, signal.confidence)
        how += f" × {confidence:g} confidence ({signal.confidence:g})"
        breaker = self.breaker
        market = breaker_multiplier(self.config, breaker)
        if market != 1.0:
            how += f" × {market:g} {breaker.name} breaker"
        multiplier = confidence * market
        amount = equity * fraction * multiplier
        qty = amount / risk_per_unit
        how += f" = {pct(fraction * multiplier)} of equity: {amount:.6g}"
        how += f" / stop distance {risk_per_unit:.6g} = {qty:.6g}"
        return qty, multiplier, how

    def exit_plan(
        self,
        symbol: str,
        side: Side,
        entry_price: float,
        *,
        atr: float | None,
        stop: float | None,
        take_profit: float | None,
        now_ms: int,
    ) -> ExitPlan:
        """Where the position's stop, take-profit and trailing stop go, with the symbol's tier
        overrides; raises :class:`InvalidArgumentError` if no valid stop can be had."""
        return plan_exits(
            self.config.exits_for(symbol),
            side,
            _finite("entry_price", entry_price, positive=True),
            atr=_atr(atr),
            stop=stop,
            take_profit=take_profit,
            now_ms=_time("now_ms", now_ms),
        )

    # ---- what happened ---------------------------------------------------------------------

    def on_entry(self, symbol: str, plan: ExitPlan, qty: float, now_ms: int, *, strategy: str = "") -> None:
        """An entry of ``qty`` filled under ``plan``: book its risk and the trade time.
        ``strategy`` names the owner, whose grid alone may add to the position."""
        qty = _finite("qty", qty, positive=True)
        _finite("plan.stop", plan.stop, positive=True)
        self._advance(now_ms)
        booked = self._s.open.get(symbol)
        if booked is not None and booked.side is plan.side:
            booked.qty += qty
            booked.risk += qty * plan.risk_per_unit
        else:
            self._s.open[symbol] = OpenRisk(plan.side, qty, qty * plan.risk_per_unit, plan.expire_ms, strategy)
        self._history(symbol).last_trade_ms = self._s.now_ms

    def on_trade_closed(self, trade: Trade) -> None:
        """A round trip closed: losing streak, stop-outs, Kelly statistics, and the symbol's
        booked risk shrinks by the part closed."""
        _finite("trade.pnl", trade.pnl)
        _finite("trade.qty", trade.qty)
        self._advance(trade.exit_ms)
        self._s.losses.record(self.config, trade)
        self._s.kelly.add(trade.return_pct)
        self._history(trade.symbol).record_exit(self.config, trade)
        booked = self._s.open.get(trade.symbol)
        if booked is not None and booked.side is trade.side and booked.qty > 0:
            left = max(booked.qty - trade.qty, 0.0)
            booked.risk *= left / booked.qty
            booked.qty = left

    def on_flat(self, symbol: str) -> None:
        """The symbol's position is gone: its risk and time exit with it."""
        self._s.open.pop(symbol, None)

    def on_reference_close(self, close_time_ms: int, close: float) -> None:
        """A 1m close of ``config.reference_symbol`` (ignored when that is None)."""
        if self.config.reference_symbol is None:
            return
        time_ms = _time("close_time_ms", close_time_ms)
        before = self.breaker
        self._s.reference.add(time_ms, _finite("close", close, positive=True))
        self._breaker = None
        self._advance(time_ms)
        after = self.breaker
        if after is not before:
            log.info("market breaker %s → %s (%s)", before.name, after.name, self._reference_words())

    def on_equity(self, now_ms: int, equity: float) -> None:
        """Equity now: the UTC day's first observation is its start; daily loss and drawdown
        halts trip here."""
        equity = _finite("equity", equity)
        self._s.equity.observe(self.config, self._advance(now_ms), equity)

    def due_time_exits(self, now_ms: int) -> list[str]:
        """Symbols whose time exit has come (they stay listed until :meth:`on_flat`)."""
        self._advance(now_ms)
        now = self._s.now_ms
        return sorted(s for s, b in self._s.open.items() if b.expire_ms is not None and b.expire_ms <= now)

    # ---- halts and the kill switch -----------------------------------------------------------

    @property
    def breaker(self) -> Breaker:
        if self._breaker is None:
            ref = self._s.reference
            self._breaker = breaker_of(self.config, ref.change(60), ref.change(240))
        return self._breaker

    def _reference_words(self) -> str:
        ref = self._s.reference
        changes = {f"{m // 60}h": ref.change(m) for m in (60, 240)}
        known = ", ".join(f"{k} change {pct(v)}" for k, v in changes.items() if v is not None) or "no history yet"
        return f"{self.config.reference_symbol} {known}"

    def _halts(self) -> list[str]:
        s, cfg = self._s, self.config
        halts = []
        if s.killed is not None:
            halts.append(f"kill switch: {s.killed}")
        if self.breaker is Breaker.PANIC:
            halts.append(
                f"market breaker PANIC: {self._reference_words()} (panic at 1h ≤ {pct(cfg.panic_1h_change)}"
                f" or 4h ≤ {pct(cfg.panic_4h_change)})"
            )
        daily = s.equity.daily_halt_at(s.now_ms)
        if daily:
            halts.append(daily)
        if s.equity.drawdown_halt:
            halts.append(s.equity.drawdown_halt)
        if s.losses.halt and (s.losses.until_ms is None or s.now_ms < s.losses.until_ms):
            halts.append(s.losses.halt)
        return halts

    @property
    def halted(self) -> str | None:
        """Why new entries are refused right now, None if they are not."""
        halts = self._halts()
        return halts[0] if halts else None

    @property
    def killed(self) -> bool:
        return self._s.killed is not None

    def kill(self, reason: str) -> None:
        """Refuse every new entry until :meth:`rearm`. The engine cancels the open orders and,
        with ``config.flatten_on_kill``, closes the positions."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidArgumentError(f"kill needs a reason, got {reason!r}", name="reason")
        self._s.killed = reason
        log.warning("kill switch: %s", reason)

    def rearm(self) -> None:
        """Lift the kill switch and the drawdown and losing-streak halts (the daily loss halt
        lasts until the UTC day ends; the breakers follow the market)."""
        s = self._s
        cleared = [f"kill switch ({s.killed})"] if s.killed is not None else []
        s.killed = None
        cleared += [c for c in (s.equity.rearm(), s.losses.clear() if s.losses.halt else None) if c]
        log.warning("rearmed; cleared: %s", "; ".join(cleared) if cleared else "nothing")
        daily = s.equity.daily_halt_at(s.now_ms)
        if daily:
            log.warning("still halted: %s", daily)

    # ---- reports and persistence -------------------------------------------------------------

    @property
    def open_risk(self) -> float:
        """What the booked positions lose if every stop is hit (quote)."""
        return sum(b.risk for b in self._s.open.values())

    def status(self) -> dict[str, object]:
        s = self._s
        equity = s.equity.last
        payoff = s.kelly.payoff
        return {
            "time_ms": s.now_ms,
            "breaker": self.breaker.value,
            "reference_change_1h": s.reference.change(60),
            "reference_change_4h": s.reference.change(240),
            "halted": self.halted,
            "halts": self._halts(),
            "killed": self.killed,
            "equity": equity,
            "peak_equity": s.equity.peak,
            "day_start_equity": s.equity.day_start,
            "open_risk": self.open_risk,
            "open_risk_fraction": self.open_risk / equity if equity > 0 else None,
            "open_risk_by_symbol": {sym: b.risk for sym, b in sorted(s.open.items())},
            "time_exits": {sym: b.expire_ms for sym, b in sorted(s.open.items()) if b.expire_ms is not None},
            "consecutive_losses": s.losses.count,
            "cooldowns": {
                sym: h.cooldown_until_ms
                for sym, h in sorted(s.symbols.items())
                if h.cooldown_until_ms is not None and h.cooldown_until_ms > s.now_ms
            },
            "kelly": {
                "trades": s.kelly.trades,
                "win_rate": s.kelly.win_rate,
                "payoff": payoff if math.isfinite(payoff) else None,
            },
        }

    def to_state(self) -> dict[str, object]:
        """A JSON-serialisable snapshot for the bot's state store."""
        return dump_state(self._s)

    def restore(self, state: Mapping[str, object]) -> None:
        """Continue from a :meth:`to_state` snapshot; a bad one raises
        :class:`InvalidArgumentError` and leaves the engine as it was."""
        self._s = load_state(state)
        self._breaker = None

    # ---- helpers -----------------------------------------------------------------------------

    def _advance(self, now_ms: int) -> int:
        """Exchange time moves on (never back): cool-offs that ran out end. Returns ``now_ms``
        checked."""
        now_ms = _time("now_ms", now_ms)
        self._s.now_ms = max(self._s.now_ms, now_ms)
        self._s.losses.expire(self._s.now_ms)
        return now_ms

    def _history(self, symbol: str) -> SymbolHistory:
        return self._s.symbols.setdefault(symbol, SymbolHistory())
