"""The account: cash in the quote asset, net positions per symbol, realised profit and the round
trips it came from.

Cash model: a margin-style account without leverage limits. Buying q at p costs q·p + fee, selling
returns q·p − fee, shorts are negative positions, and equity = cash + Σ qty·mark. Realised profit
is per position on average cost, before fees; fees are counted apart (``fees_paid``), so at all
times equity = initial cash + realised + unrealised − fees. A round trip (:class:`Trade`) is
booked whenever a fill reduces, closes or flips a position; its pnl is after the fees of both
legs — the entry fees apportioned to the part closed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Position, Side, Trade

_REL_TOL = 1e-12  # a position closed to within this fraction of its size is flat (float dust)


@dataclass(slots=True)
class _Opening:
    """What the open part of a position still carries from its entries."""

    fees: float = 0.0
    strategy: str = ""


class Portfolio:
    def __init__(self, cash: float, *, quote: str = "USDT") -> None:
        if not isinstance(cash, (int, float)) or not math.isfinite(cash) or cash < 0:
            raise InvalidArgumentError(f"cash must be a finite amount >= 0, got {cash!r}", name="cash")
        self.quote = quote
        self.initial_cash = float(cash)
        self.cash = float(cash)
        self.positions: dict[str, Position] = {}  # every symbol traded, flat ones included
        self.fees_paid = 0.0
        self.trades: list[Trade] = []
        self._marks: dict[str, float] = {}
        self._open: dict[str, _Opening] = {}

    # --- changes -------------------------------------------------------------------------
    def apply(self, fill: Fill, *, strategy: str = "") -> list[Trade]:
        """Books a fill; returns the round trips it completed. A round trip carries the strategy
        that opened the position (``strategy`` of the opening fill)."""
        _check_fill(fill)
        self.cash -= fill.side.sign * fill.qty * fill.price + fill.fee
        self.fees_paid += fill.fee
        self._marks[fill.symbol] = fill.price
        pos = self.positions.setdefault(fill.symbol, Position(fill.symbol))
        opening = self._open.setdefault(fill.symbol, _Opening())
        qty, fee, trades = fill.qty, fill.fee, []
        if not pos.flat and (pos.qty > 0) != (fill.side is Side.BUY):
            size = abs(pos.qty)
            closed = size if abs(qty - size) <= _REL_TOL * size else min(qty, size)
            entry_fees = opening.fees * closed / size
            exit_fees = fee * closed / qty
            direction = 1.0 if pos.qty > 0 else -1.0
            gross = direction * closed * (fill.price - pos.entry_price)
            pos.realized_pnl += gross
            opening.fees -= entry_fees
            trade = Trade(
                symbol=fill.symbol,
                side=Side.BUY if direction > 0 else Side.SELL,
                qty=closed,
                entry_ms=pos.opened_ms,
                exit_ms=fill.ts_ms,
                entry_price=pos.entry_price,
                exit_price=fill.price,
                pnl=gross - entry_fees - exit_fees,
                fees=entry_fees + exit_fees,
                exit_reason=fill.reason,
                strategy=opening.strategy or strategy,
            )
            trades.append(trade)
            if closed == size:
                pos.qty, pos.entry_price = 0.0, 0.0
                self._open[fill.symbol] = opening = _Opening()
            else:
                pos.qty -= direction * closed
            qty, fee = qty - closed, fee - exit_fees
        if qty > _REL_TOL * fill.qty:  # opens, adds to or flips into a position
            if pos.flat:
                pos.qty, pos.entry_price, pos.opened_ms = fill.side.sign * qty, fill.price, fill.ts_ms
                opening.strategy = strategy
            else:
                size = abs(pos.qty)
                pos.entry_price = (size * pos.entry_price + qty * fill.price) / (size + qty)
                pos.qty += fill.side.sign * qty
            opening.fees += fee
        self.trades.extend(trades)
        return trades

    def mark(self, symbol: str, price: float) -> None:
        """The price unrealised profit and equity are measured at (the last fill's until then)."""
        if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
            raise InvalidArgumentError(f"mark price for {symbol} must be > 0, got {price!r}", name="price")
        self._marks[symbol] = float(price)

    # --- reading -------------------------------------------------------------------------
    def position(self, symbol: str) -> Position | None:
        """The symbol's position when it is not flat (the live object: read it, don't change it)."""
        pos = self.positions.get(symbol)
        return None if pos is None or pos.flat else pos

    def opened_by(self, symbol: str) -> str:
        """The strategy that opened ``symbol``'s current position ("" when flat or unknown)."""
        opening = self._open.get(symbol)
        return opening.strategy if opening is not None and self.position(symbol) is not None else ""

    def equity(self) -> float:
        return self.cash + sum(p.qty * self._mark(p) for p in self.positions.values() if not p.flat)

    def unrealized(self) -> float:
        return sum(p.unrealized(self._mark(p)) for p in self.positions.values() if not p.flat)

    def realized(self) -> float:
        """Realised profit before fees, over all symbols."""
        return sum(p.realized_pnl for p in self.positions.values())

    def open_entry_fees(self) -> float:
        """Entry fees of the positions still open: not yet in any round trip."""
        return sum(o.fees for o in self._open.values())

    def _mark(self, pos: Position) -> float:
        return self._marks.get(pos.symbol, pos.entry_price)

    # --- persistence ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot that :meth:`from_state` restores exactly."""
        return {
            "quote": self.quote,
            "initial_cash": self.initial_cash,
            "cash": self.cash,
            "fees_paid": self.fees_paid,
            "positions": [{**asdict(p), **asdict(self._open.get(s, _Opening()))} for s, p in self.positions.items()],
            "marks": dict(self._marks),
            "trades": [{**asdict(t), "side": t.side.value} for t in self.trades],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Portfolio:
        try:
            portfolio = cls(state["initial_cash"], quote=state["quote"])
            portfolio.cash = float(state["cash"])
            portfolio.fees_paid = float(state["fees_paid"])
            for row in state["positions"]:
                row = dict(row)
                opening = _Opening(float(row.pop("fees")), str(row.pop("strategy")))
                pos = Position(**row)
                portfolio.positions[pos.symbol] = pos
                portfolio._open[pos.symbol] = opening
            portfolio._marks = {str(k): float(v) for k, v in state["marks"].items()}
            portfolio.trades = [Trade(**{**t, "side": Side(t["side"])}) for t in state["trades"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidArgumentError(f"not a portfolio state: {exc!r}", name="state") from exc
        return portfolio


def _check_fill(fill: Fill) -> None:
    for name, value in (("qty", fill.qty), ("price", fill.price), ("fee", fill.fee)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidArgumentError(f"fill {fill.id}: {name} must be a finite number, got {value!r}", name=name)
    if fill.qty <= 0 or fill.price <= 0:
        raise InvalidArgumentError(f"fill {fill.id}: qty and price must be > 0, got {fill.qty!r} at {fill.price!r}", name="fill")
