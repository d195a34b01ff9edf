"""Numbers and times as the risk engine's reasons write them."""

from __future__ import annotations

import datetime as dt


def pct(fraction: float) -> str:
    """0.0512 → '5.12%': three significant digits, so boundary cases stay distinguishable."""
    return f"{fraction * 100:.3g}%"


def utc(ms: int) -> str:
    """UTC milliseconds → '2024-01-02 03:04:05 UTC' (exchange time; no wall clock involved)."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
