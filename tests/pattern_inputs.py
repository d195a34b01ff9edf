"""Generated candle series for the pattern tests: coarse tick grids (so ties, dojis, zero-range
bars and equal highs/lows are common), gaps up and down, flat runs, trending stretches, and
series planted with the rare multi-candle patterns. Deterministic (seeded)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Series = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def walk(n: int, seed: int, *, body: int = 4, wick: int = 2, drift: int = 0, tick: float = 1.0) -> Series:
    """A random walk on a tick grid: 5% zero-range bars, 5% gaps of up to 8 ticks."""
    rng = np.random.default_rng(seed)
    o, h, l, c = (np.empty(n) for _ in range(4))
    price = 100.0
    for k in range(n):
        mode = rng.random()
        if mode < 0.05:
            op = cl = hi = lo = price
        else:
            jump = 8 if mode < 0.10 else 1
            op = price + tick * rng.integers(-jump, jump + 1)
            cl = op + tick * (rng.integers(-body, body + 1) + drift)
            hi = max(op, cl) + tick * rng.integers(0, wick + 1)
            lo = min(op, cl) - tick * rng.integers(0, wick + 1)
        lo = max(lo, tick)
        op, cl = max(op, lo), max(cl, lo)
        o[k], h[k], l[k], c[k] = op, max(hi, op, cl), lo, cl
        price = cl
    return o, h, l, c


def trends(n: int, seed: int) -> Series:
    """Stretches of 5–30 bars drifting up, down or sideways with varying body and wick sizes."""
    rng = np.random.default_rng(seed)
    parts: list[list[npt.NDArray[np.float64]]] = [[], [], [], []]
    last, total = 1000.0, 0
    while total < n:
        size = int(rng.integers(5, 30))
        piece = walk(size, int(rng.integers(1 << 30)), body=int(rng.integers(1, 6)), wick=int(rng.integers(0, 4)),
                     drift=int(rng.choice([-3, -2, 0, 2, 3])))
        shift = last - piece[0][0] + int(rng.integers(-3, 4))
        for column, values in zip(parts, piece, strict=True):
            column.append(values + shift)
        last, total = piece[3][-1] + shift, total + size
    o, h, l, c = (np.concatenate(column)[:n] for column in parts)
    floor = l.min()
    if floor < 1:
        o, h, l, c = (x - floor + 1 for x in (o, h, l, c))
    return o, h, l, c


def suite() -> dict[str, Series]:
    """Every generated series the parity tests use, by name."""
    return {
        "walk": walk(20_000, 1),
        "walk-wide": walk(20_000, 2, body=8, wick=5),
        "walk-tight": walk(20_000, 3, body=1, wick=1),
        "walk-cents": walk(10_000, 6, tick=0.01),
        "trends": trends(30_000, 4),
        "trends-2": trends(30_000, 5),
    }
