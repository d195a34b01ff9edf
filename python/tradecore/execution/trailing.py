"""The emulated trailing stop's state, kept in the order itself so a restart resumes it:
``stop_price`` is the current trigger (None until the stop is armed) and ``activation_price`` is
cleared once reached.

A SELL trailing stop protects a long: it arms when the price reaches ``activation_price`` (or at
once without one), then its trigger follows the highest price since, ``trail`` below it, and never
moves down; it fires when the price falls to the trigger. A BUY one mirrors it for shorts."""

from __future__ import annotations

from dataclasses import dataclass

from tradecore.execution.intrabar import BarPath
from tradecore.execution.orders import Order, Side


@dataclass(slots=True)
class Trail:
    side: Side
    trail: float
    trigger: float | None
    activation: float | None

    @classmethod
    def of(cls, order: Order) -> Trail:
        assert order.trail is not None  # the broker refuses trailing stops without one
        return cls(order.side, order.trail, order.stop_price, order.activation_price)

    def store(self, order: Order) -> bool:
        """Writes the state into ``order``; True when that changed it."""
        changed = (order.stop_price, order.activation_price) != (self.trigger, self.activation)
        order.stop_price, order.activation_price = self.trigger, self.activation
        return changed

    def observe(self, price: float) -> bool:
        """Moves the state to a new price; True when the stop fires there."""
        sell = self.side is Side.SELL
        level = price * (1 - self.trail) if sell else price * (1 + self.trail)
        if self.trigger is None:
            if self.activation is not None and (price < self.activation if sell else price > self.activation):
                return False
            self.trigger, self.activation = level, None
            return False
        self.trigger = max(self.trigger, level) if sell else min(self.trigger, level)
        return price <= self.trigger if sell else price >= self.trigger

    def walk(self, path: BarPath, t_from: float) -> tuple[float, float] | None:
        """Follows ``path`` from ``t_from``: the (time, price) where the stop fires, or None with
        the state as at the bar's end. While the price moves the stop's way (up for a SELL
        stop) the trigger rises behind it and cannot be met, so each piece needs only its ends."""
        sell = self.side is Side.SELL
        for leg in path.pieces(t_from):
            if self.observe(leg.p0):
                return leg.t0, leg.p0
            if (leg.p1 > leg.p0) if sell else (leg.p1 < leg.p0):
                self.observe(leg.p1)
            elif self.trigger is not None and ((leg.p1 <= self.trigger) if sell else (leg.p1 >= self.trigger)):
                return leg.time_at(self.trigger), self.trigger
        return None
