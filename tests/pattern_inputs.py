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


# --- planted patterns ---------------------------------------------------------------------------
# Random series never show some multi-candle patterns. These templates plant them in a quiet
# background on a 0.25 tick: candles as (open, high, low, close) offsets from the price before the
# plant. Plants are jittered by a tick or snapped onto a rule's boundary, so some fire, some
# narrowly miss, and thresholds are hit exactly (the < / <= edges).

TICK = 0.25

TEMPLATES: dict[str, list[tuple[float, float, float, float]]] = {
    # long black, black gapping down, lower highs and lows twice, white closing inside the gap
    "breakaway": [(3, 3.25, -0.25, 0), (-1, -0.75, -2.25, -2), (-2.25, -1, -3, -2.75),
                  (-2.75, -2.5, -3.75, -3.5), (-3.5, -0.25, -3.75, -0.5)],
    # two black marubozu, a black gapping down with an upper shadow into the second body, and a
    # black swallowing it, shadows and all
    "concealbabyswall": [(3, 3, 1, 1), (1, 1, -1, -1), (-1.5, -0.5, -2.75, -2.5), (-0.25, -0.25, -3.25, -3)],
    # long white, small black gapping up, two small candles holding in the first body, white close above
    "mathold": [(0, 4.25, -0.25, 4), (4.75, 5, 4.25, 4.25), (4.25, 4.5, 3.5, 3.75),
                (4, 4.25, 3.25, 3.5), (3.75, 5.5, 3.75, 5.5)],
    # long white, three small blacks drifting down inside it, long white closing above
    "risefall3methods": [(0, 4.25, -0.25, 4), (3.75, 4, 3.25, 3.25), (3.5, 3.5, 2.75, 2.75),
                         (3, 3, 2.25, 2.25), (2.5, 5.25, 2.5, 5)],
    # three white lines stepping up, a black striking back below the first open
    "3linestrike": [(0, 1.5, -0.25, 1.5), (1.25, 2.75, 1.25, 2.75), (2.5, 4, 2.5, 4), (4.25, 4.5, -0.5, -0.25)],
    # long white, small black gapping up, a bigger black engulfing it above the white close
    "upsidegap2crows": [(0, 3, 0, 3), (3.75, 4, 3.25, 3.5), (4, 4.25, 3, 3.25)],
    # long black with a long lower shadow; a smaller black opening higher, trading lower but above
    # the first low; a small black marubozu inside the second's range
    "3starsinsouth": [(6, 6.2, -7, 0), (2, 2, -4, -1), (-1.5, -1.5, -2, -2)],
    # long white; black gapping up above its body; black opening inside it, closing inside the white
    "2crows": [(0, 6.5, -0.5, 6), (9, 9.5, 6.8, 7), (8, 8.2, 2.8, 3)],
    # long black; black harami with a lower low; small white opening above that low
    "unique3river": [(6, 6.5, -0.5, 0), (4, 4.3, -3, 1), (-1, 0, -1.2, -0.2)],
}

# Boundaries to hit exactly: (candle, field, candle, field), fields 0..3 = open, high, low, close;
# each is applied to a plant with probability 0.25, copying the second value onto the first.
SNAPS: dict[str, list[tuple[int, int, int, int]]] = {
    "3starsinsouth": [(1, 2, 0, 2), (1, 0, 0, 1), (1, 0, 0, 3), (2, 2, 1, 2), (2, 1, 1, 1)],
    "2crows": [(2, 0, 1, 0), (2, 0, 1, 3), (2, 3, 0, 3), (2, 3, 0, 0), (1, 3, 0, 3)],
    "unique3river": [(1, 0, 0, 0), (2, 0, 1, 2), (1, 3, 0, 3), (1, 2, 0, 2)],
}


def planted(template: str, seed: int, *, mirrored: bool = False, plants: int = 40) -> Series:
    """A quiet mean-reverting walk with `template` planted every 12–20 bars (mirrored: the
    bearish/bullish twin), scaled 0.7–1.4×, jittered by a tick, sometimes snapped to a boundary."""
    rng = np.random.default_rng(seed)
    rows: list[list[float]] = []

    def snap(x: float) -> float:
        return round(x / TICK) * TICK

    def quiet(count: int) -> None:
        price = rows[-1][3] if rows else 100.0
        for _ in range(count):
            op = snap(price + 0.1 * (100.0 - price) + rng.normal(0, 0.3))
            cl = snap(op + rng.normal(0, 1.2))
            rows.append([op, snap(max(op, cl) + abs(rng.normal(0, 0.5))), snap(min(op, cl) - abs(rng.normal(0, 0.5))), cl])
            price = cl

    quiet(30)
    for _ in range(plants):
        price, scale = rows[-1][3], 1.0 if rng.random() < 0.5 else rng.uniform(0.7, 1.4)
        jitter = rng.random() < 0.5
        plant = []
        for candle in TEMPLATES[template]:
            o, h, lo, c = (-candle[0], -candle[2], -candle[1], -candle[3]) if mirrored else candle
            plant.append([snap(price + scale * v) + (TICK * rng.integers(-1, 2) if jitter and rng.random() < 0.3 else 0.0)
                          for v in (o, h, lo, c)])
        for a, fa, b, fb in SNAPS.get(template, []):
            if rng.random() < 0.25:
                plant[a][fa] = plant[b][fb]
        rows += [[o, max(h, o, c), min(lo, o, c), c] for o, h, lo, c in plant]
        quiet(int(rng.integers(12, 21)))
    arr = np.array(rows)
    arr += max(0.0, 10.0 - arr.min())  # keep prices positive
    return tuple(np.ascontiguousarray(arr[:, j]) for j in range(4))  # type: ignore[return-value]


def suite() -> dict[str, Series]:
    """Every generated series the parity tests use, by name."""
    series = {
        "walk": walk(20_000, 1),
        "walk-wide": walk(20_000, 2, body=8, wick=5),
        "walk-tight": walk(20_000, 3, body=1, wick=1),
        "walk-cents": walk(10_000, 6, tick=0.01),
        "trends": trends(30_000, 4),
        "trends-2": trends(30_000, 5),
    }
    for k, template in enumerate(TEMPLATES):
        series[f"planted-{template}"] = planted(template, 100 + k)
        series[f"planted-{template}-mirrored"] = planted(template, 200 + k, mirrored=True)
    return series
