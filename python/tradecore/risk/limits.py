"""The limits an entry must pass, as plain functions of the facts at decision time. Each returns
why it refuses (None if it does not), naming the rule and the numbers. Size limits (max position
fraction, cash) shrink the order instead and refuse only when what is left is below the minimum
notional; count and risk limits refuse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tradecore.execution.orders import Position, Side
from tradecore.risk.config import RiskConfig
from tradecore.risk.words import pct

_EPS = 1e-12


def _side_words(qty: float) -> str:
    return "long" if qty > 0 else "short"


def one_position_refusal(
    config: RiskConfig, *, symbol: str, side: Side, strategy: str, grid: bool, held: Position | None, owner: str
) -> str | None:
    """One position per symbol; with ``grid_adds`` the owner's quote_size (grid) signals may add
    on the position's side. ``owner`` is the strategy that opened the position ("" if unknown)."""
    if held is None:
        return None
    holding = f"{symbol} already has a {_side_words(held.qty)} of {abs(held.qty):.6g}"
    if not (grid and config.grid_adds):
        only = " (only quote_size grid orders of its strategy may add)" if config.grid_adds else ""
        return f"one position per symbol: {holding}{only}"
    if side.sign * held.qty < 0:
        return f"one position per symbol: {holding}; a {side} entry would reduce it (close with an exit signal)"
    if owner and owner != strategy:
        return f"one position per symbol: {holding} opened by {owner}; only its own grid may add"
    return None


def open_positions_refusal(config: RiskConfig, positions: Mapping[str, Position]) -> str | None:
    """Max open positions, for an entry on a symbol without one."""
    open_count = sum(not p.flat for p in positions.values())
    if open_count >= config.max_open_positions:
        return f"max open positions: {open_count} open, limit {config.max_open_positions}"
    return None


@dataclass(frozen=True, slots=True)
class Capped:
    qty: float
    caps: tuple[str, ...]  # the limits that shrank the order, in words
    refusal: str | None  # set when what is left is too small to trade


def cap_size(
    config: RiskConfig,
    qty: float,
    *,
    symbol: str,
    side: Side,
    entry: float,
    equity: float,
    cash: float,
    held_qty: float,
) -> Capped:
    """Shrink ``qty`` to the max position fraction (counting what ``symbol`` already holds) and,
    for a buy, to the cash; refuse if the order's value falls below ``min_notional``."""
    caps: list[str] = []
    held_value = abs(held_qty) * entry
    room = config.max_position_fraction * equity - held_value
    if qty * entry > room:
        held = f", {symbol} already holds {pct(held_value / equity)}" if held_qty else ""
        caps.append(f"max position {pct(config.max_position_fraction)} of equity {equity:.6g}{held}")
        qty = max(room, 0.0) / entry
    if side is Side.BUY and qty * entry > cash:
        caps.append(f"cash {cash:.6g}")
        qty = max(cash, 0.0) / entry
    value = qty * entry
    refusal = None
    if value <= 0 or value < config.min_notional:
        rule = caps[-1] if caps else "min notional"
        refusal = f"{rule}: leaves an order worth {value:.6g}, below the min notional {config.min_notional:g}"
    return Capped(qty, tuple(caps), refusal)


def portfolio_risk_refusal(config: RiskConfig, *, open_risk: float, trade_risk: float, equity: float) -> str | None:
    """Max portfolio risk: what the open positions and this trade lose if every stop is hit."""
    if (open_risk + trade_risk) / equity > config.max_portfolio_risk + _EPS:
        return (
            f"max portfolio risk: open {pct(open_risk / equity)} + this {pct(trade_risk / equity)}"
            f" > {pct(config.max_portfolio_risk)}"
        )
    return None
