"""The price path assumed inside a candle, for filling orders from bars alone.

The path runs open → low → high → close for a bullish bar (close ≥ open) and open → high → low →
close otherwise, in straight lines, at a constant speed: each leg takes a share of the bar's span
proportional to its length, so a point of the path has a time. A flat bar (all four prices equal)
is one constant leg spanning the whole bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Leg:
    """One straight move: price ``p0`` at time ``t0`` to ``p1`` at ``t1`` (ms, ``t1`` > ``t0``)."""

    t0: float
    t1: float
    p0: float
    p1: float

    def price_at(self, t: float) -> float:
        return self.p0 + (self.p1 - self.p0) * (t - self.t0) / (self.t1 - self.t0)

    def time_at(self, price: float) -> float:
        """When the leg passes ``price`` (which lies between ``p0`` and ``p1``, ``p0`` ≠ ``p1``)."""
        return self.t0 + (price - self.p0) / (self.p1 - self.p0) * (self.t1 - self.t0)


class BarPath:
    """The assumed path of one bar, from ``start`` (its open time) to ``end`` (open + span)."""

    __slots__ = ("start", "end", "legs")

    def __init__(self, open_ms: int, span_ms: int, o: float, h: float, l: float, c: float) -> None:  # noqa: E741
        self.start = float(open_ms)
        self.end = float(open_ms + span_ms)
        points = (o, l, h, c) if c >= o else (o, h, l, c)
        moves = [(a, b) for a, b in zip(points, points[1:]) if a != b]
        total = sum(abs(b - a) for a, b in moves)
        if total == 0:
            self.legs: tuple[Leg, ...] = (Leg(self.start, self.end, o, o),)
            return
        legs = []
        t = self.start
        for a, b in moves:
            t1 = t + span_ms * abs(b - a) / total
            if t1 > t:  # a move too small to take any time is skipped (it cannot be timed)
                legs.append(Leg(t, t1, a, b))
            t = t1
        last = legs[-1]
        legs[-1] = Leg(last.t0, self.end, last.p0, last.p1)  # no rounding gap at the close
        self.legs = tuple(legs)

    def price_at(self, t: float) -> float:
        for leg in self.legs:
            if t <= leg.t1:
                return leg.price_at(max(t, leg.t0))
        return self.legs[-1].p1

    def pieces(self, t_from: float) -> Iterator[Leg]:
        """The path after ``t_from``, leg by leg (the first one cut at ``t_from``)."""
        for leg in self.legs:
            if leg.t1 <= t_from:
                continue
            yield leg if leg.t0 >= t_from else Leg(t_from, leg.t1, leg.price_at(t_from), leg.p1)

    def first_reach(self, t_from: float, level: float, up: bool) -> tuple[float, float] | None:
        """The first point at or after ``t_from`` where the price is ≥ ``level`` (``up``) or ≤ it,
        as (time, price): the price is the level itself where the path crosses it, or the path's
        price when it is already beyond the level at the start of a piece (a gap)."""
        for leg in self.pieces(t_from):
            if (leg.p0 >= level) if up else (leg.p0 <= level):
                return leg.t0, leg.p0
            if (leg.p1 >= level) if up else (leg.p1 <= level):
                return leg.time_at(level), level
        return None
