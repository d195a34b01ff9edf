"""Everything the risk engine remembers, in one dataclass that pydantic turns into JSON and
back, so the bot's state store can carry halts, peaks, cooldowns, open risk and the Kelly
statistics across a restart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Side
from tradecore.risk.breakers import ReferenceCloses
from tradecore.risk.guards import EquityWatch, LossStreak, SymbolHistory
from tradecore.risk.sizing import KellyStats


@dataclass(slots=True)
class OpenRisk:
    """A symbol's position as the risk engine booked it at its entries."""

    side: Side
    qty: float
    risk: float  # Σ qty × |entry − stop| over the entries: the loss if the stop is hit
    expire_ms: int | None  # time exit of the first entry
    strategy: str  # who opened it ("" if not told)


@dataclass(slots=True)
class RiskState:
    version: Literal[1] = 1
    now_ms: int = 0  # the latest exchange time seen: time-based halts expire against it
    killed: str | None = None
    equity: EquityWatch = field(default_factory=EquityWatch)
    losses: LossStreak = field(default_factory=LossStreak)
    symbols: dict[str, SymbolHistory] = field(default_factory=dict)
    open: dict[str, OpenRisk] = field(default_factory=dict)
    kelly: KellyStats = field(default_factory=KellyStats)
    reference: ReferenceCloses = field(default_factory=ReferenceCloses)


_ADAPTER = TypeAdapter(RiskState)


def dump_state(state: RiskState) -> dict[str, object]:
    dumped: dict[str, object] = _ADAPTER.dump_python(state, mode="json")
    return dumped


def load_state(data: object) -> RiskState:
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidArgumentError(f"not a risk engine state: {exc}", name="state") from exc
