"""A live bot's warm start: history before the first decision.

Strategies need warm indicators before they can decide (EMA 200 on 1h bars is 200 hours). A
live bot therefore fetches the bars before its first complete live bar from the venue's REST
API (``tradecore download``'s machinery: paginated, rate-limited, kept in a store so a restart
fetches only what is new), feeds them to the engine without trading, then goes on live.

The first live bar of each symbol is dropped: the feed joined in the middle of it, so it lacks
the trades before the connection — REST has that bar whole. When the second live bar (the
first complete one) closes, the history up to its open is fetched; live bars arriving in the
meantime wait, then follow in order. No bar is missing or counted twice between history and
live.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np

from tradecore._core import Candle
from tradecore.data.history import download
from tradecore.data.store import Store
from tradecore.engine import Engine

log = logging.getLogger("tradecore.warmup")

#: The ccxt exchange of each venue (the one whose REST API serves its klines).
CCXT_IDS = {"binance-spot": "binance", "binance-usdm": "binanceusdm", "binance-coinm": "binancecoinm", "bybit": "bybit"}
DAY_MS = 86_400_000


class WarmStart:
    """Stands between a live feed's closed bars and the engine until each symbol is warm."""

    def __init__(self, engine: Engine, venue: str, *, days: float, store: Path, rest_url: str | None = None) -> None:
        self.engine = engine
        self.venue = venue
        self.days = days
        self.store = Store(store)
        self.rest_url = rest_url
        self.seen: dict[str, int] = {}
        self.waiting: dict[str, list[Candle]] = {}
        self.warm: set[str] = set()
        self.history: dict[str, int] = {}  # bars of history each symbol got
        self.failed: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_candle(self, symbol: str, candle: Candle) -> None:
        if candle.timeframe != self.engine.base:
            return
        if symbol in self.warm:
            self._feed(symbol, candle)
            return
        count = self.seen[symbol] = self.seen.get(symbol, 0) + 1
        if count == 1:
            return  # joined mid-bar: its history comes whole from REST
        self.waiting.setdefault(symbol, []).append(candle)
        if count == 2:
            task = asyncio.ensure_future(self._warm(symbol, candle.open_time))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _warm(self, symbol: str, until_ms: int) -> None:
        since = until_ms - int(self.days * DAY_MS)
        exchange = CCXT_IDS[self.venue]
        try:
            reports = await download(exchange, self.store, [symbol], [self.engine.base], since, until_ms,
                                     rest_url=self.rest_url)
            report = reports[0]
            table = self.store.read_candles(report.venue, report.symbol, self.engine.base, since, until_ms)
        except Exception as exc:  # noqa: BLE001 - the bot trades on; it says why it starts cold
            self.failed[symbol] = str(exc)
            log.error("%s: no history (%s); trading starts without a warm-up", symbol, exc)
            table = None
        if table is not None and table.num_rows:
            times = np.asarray(table.column("open_time").cast("int64").to_numpy(), dtype=np.int64)
            closed = np.asarray(table.column("closed").to_numpy(zero_copy_only=False), dtype=bool)
            cols = {k: table.column(k).to_numpy() for k in ("open", "high", "low", "close", "volume")}
            self.engine.cursor_ms = max(self.engine.cursor_ms, int(times[-1]) + self.engine.base_ms)
            n = 0
            for i in np.flatnonzero(closed):
                self.engine.on_bar(symbol, int(times[i]), *(float(cols[k][i]) for k in ("open", "high", "low", "close", "volume")))
                n += 1
            self.history[symbol] = n
            log.info("%s: warmed up on %d bars of history", symbol, n)
        self.warm.add(symbol)
        for candle in self.waiting.pop(symbol, []):
            self._feed(symbol, candle)

    def _feed(self, symbol: str, candle: Candle) -> None:
        self.engine.on_bar(symbol, candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)

    async def settled(self) -> None:
        """Waits for the history fetches under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
