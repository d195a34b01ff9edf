"""Market regimes. (The detector with hysteresis is added below this enum.)"""

from __future__ import annotations

from enum import StrEnum


class Regime(StrEnum):
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    RANGING = "ranging"
    VOLATILE = "volatile"
    BREAKOUT = "breakout"
    UNKNOWN = "unknown"  # warm-up: not enough bars yet
