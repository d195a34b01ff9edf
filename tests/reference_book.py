"""A small, obviously-correct order book to check tradecore against.

Levels are dicts keyed by ``Decimal`` prices; the best level is found with ``max``/``min`` every
time; the venues' documented sequencing rules are written out literally. Slow, and meant to be.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

Level = tuple[Decimal, Decimal]


class ReferenceBook:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id: int | None = None
        self.first_after_snapshot = True
        self.synced = False
        self.buffer: list[dict[str, Any]] = []

    # --- messages -------------------------------------------------------------------------
    def apply(self, raw: str | bytes) -> str:
        message = json.loads(raw)
        event = message.get("data", message) if "stream" in message else message
        if self.venue == "bybit":
            return self._bybit(message)
        if "lastUpdateId" in event:
            return self._snapshot(event["lastUpdateId"], event["bids"], event["asks"])
        if event.get("e") == "depthUpdate":
            if not self.synced:
                self.buffer.append(event)
                return "buffered"
            return self._diff(event)
        return "ignored"

    def _bybit(self, message: dict[str, Any]) -> str:
        if not message.get("topic", "").startswith("orderbook."):
            return "ignored"
        data = message["data"]
        if message["type"] == "snapshot" or data["u"] == 1:
            self._load(data["b"], data["a"])
            self.update_id = data["u"]
            self.synced = True
            return "snapshot"
        if not self.synced:
            return "buffered"
        if data["u"] <= self.update_id:
            return "stale"
        if data["u"] != self.update_id + 1:
            self.synced = False
            return "gap"
        self._set_levels(data["b"], data["a"])
        self.update_id = data["u"]
        return "applied"

    def _snapshot(self, last_update_id: int, bids: list[list[str]], asks: list[list[str]]) -> str:
        self._load(bids, asks)
        self.update_id = last_update_id
        self.first_after_snapshot = True
        self.synced = True
        for event in self.buffer:
            if self._diff(event) == "gap":
                raise AssertionError("the shared recordings have no gaps")
        self.buffer.clear()
        return "snapshot"

    def _diff(self, event: dict[str, Any]) -> str:
        first, last = event["U"], event["u"]
        assert self.update_id is not None
        if self.venue == "binance-spot":
            # Binance spot: drop u <= lastUpdateId; first U <= lastUpdateId+1 <= u; then U == prev u + 1.
            if last <= self.update_id:
                return "stale"
            if self.first_after_snapshot:
                ok = first <= self.update_id + 1 <= last
            else:
                ok = first == self.update_id + 1
        else:
            # Binance futures: drop u < lastUpdateId; first U <= lastUpdateId <= u; then pu == prev u.
            if self.first_after_snapshot:
                if last < self.update_id:
                    return "stale"
                ok = first <= self.update_id <= last
            else:
                if last <= self.update_id:
                    return "stale"
                ok = event["pu"] == self.update_id
        if not ok:
            self.synced = False
            return "gap"
        self._set_levels(event["b"], event["a"])
        self.update_id = last
        self.first_after_snapshot = False
        return "applied"

    # --- levels ---------------------------------------------------------------------------
    def _load(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids.clear()
        self.asks.clear()
        self._set_levels(bids, asks)

    def _set_levels(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)

    def best_bid(self) -> Level | None:
        if not self.bids:
            return None
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> Level | None:
        if not self.asks:
            return None
        price = min(self.asks)
        return price, self.asks[price]


def as_floats(level: Level | None) -> tuple[float, float] | None:
    return None if level is None else (float(level[0]), float(level[1]))
