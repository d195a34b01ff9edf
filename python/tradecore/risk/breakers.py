"""Market circuit breakers: the reference asset's (BTC's) recent moves decide whether the whole
market is calm, falling (CAUTION: smaller sizes), crashing (PANIC: no entries) or euphoric
(EUPHORIA: smaller sizes).

The change over a horizon is ``close_now / close_then − 1`` where ``close_now`` is the newest
close fed in and ``close_then`` the newest close whose time is at or before ``now − horizon``
(60 or 240 minutes). Until a close that old has been seen the change is unknown and trips
nothing. Thresholds are inclusive: a 1h change of exactly −3% is CAUTION."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from tradecore.errors import InvalidArgumentError
from tradecore.risk.config import RiskConfig

MINUTE_MS = 60_000
HORIZONS_MIN = (60, 240)
_EPS = 1e-12  # so that 97/100 − 1 counts as exactly −3%


class Breaker(StrEnum):
    NORMAL = "normal"
    CAUTION = "caution"
    PANIC = "panic"
    EUPHORIA = "euphoria"


@dataclass(slots=True)
class ReferenceCloses:
    """The reference asset's closes of the last 4 hours (and the one just before them)."""

    closes: deque[tuple[int, float]] = field(default_factory=deque)
    _changes: dict[int, float | None] = field(default_factory=dict)  # per horizon, until the next close

    def add(self, time_ms: int, close: float) -> None:
        if not math.isfinite(close) or close <= 0:
            raise InvalidArgumentError(f"reference close must be a positive number, got {close!r}", name="close")
        if self.closes and time_ms < self.closes[-1][0]:
            raise InvalidArgumentError(
                f"reference close at {time_ms} is older than the last one at {self.closes[-1][0]}", name="close_time_ms"
            )
        if self.closes and time_ms == self.closes[-1][0]:
            self.closes.pop()  # the same bar again: the newer value wins
        self.closes.append((time_ms, close))
        self._changes.clear()
        oldest_needed = time_ms - max(HORIZONS_MIN) * MINUTE_MS
        while len(self.closes) >= 2 and self.closes[1][0] <= oldest_needed:
            self.closes.popleft()

    def change(self, minutes: int) -> float | None:
        """The change over the last ``minutes`` (see the module's doc), None if unknown."""
        if minutes in self._changes:
            return self._changes[minutes]
        change = None
        if self.closes:
            now_ms, now_close = self.closes[-1]
            at = bisect_right(self.closes, now_ms - minutes * MINUTE_MS, key=_time_of) - 1
            if at >= 0:
                change = now_close / self.closes[at][1] - 1
        self._changes[minutes] = change
        return change


def _time_of(close: tuple[int, float]) -> int:
    return close[0]


def breaker_of(config: RiskConfig, change_1h: float | None, change_4h: float | None) -> Breaker:
    if config.reference_symbol is None:
        return Breaker.NORMAL
    if change_1h is not None and change_1h <= config.panic_1h_change + _EPS:
        return Breaker.PANIC
    if change_4h is not None and change_4h <= config.panic_4h_change + _EPS:
        return Breaker.PANIC
    if change_1h is not None and change_1h <= config.caution_1h_change + _EPS:
        return Breaker.CAUTION
    if change_1h is not None and change_1h >= config.euphoria_1h_change - _EPS:
        return Breaker.EUPHORIA
    return Breaker.NORMAL


def breaker_multiplier(config: RiskConfig, breaker: Breaker) -> float:
    """Size multiplier of a breaker state (PANIC halts entries instead, so it never sizes)."""
    if breaker is Breaker.CAUTION:
        return config.caution_multiplier
    if breaker is Breaker.EUPHORIA:
        return config.euphoria_multiplier
    return 1.0
