"""SYNTHETIC Bybit trades for tests, interleaved with the REAL Bybit order-book recording.

The shared Bybit file (``bybit/xrpusdt-ob500.data.zip``) holds order-book messages only: 50 of
them, 100 ms apart (4.8 s). To test trades over several one-minute bars, this module writes a
recording (``<recv_ns> <raw>`` lines, the format ``tradecore record`` writes) where:

- the book messages are the real ones, byte for byte except their times: ``ts`` and ``cts`` are
  stretched ``STRETCH`` times (4.8 s become 6 minutes), so the book's levels and update ids are
  exactly the recording's;
- between them come generated ``publicTrade.XRPUSDT`` messages (deterministic from ``seed``):
  1 to 4 trades each at one millisecond, prices at or a few ticks through the book's touch at
  that point, whole-coin sizes, UUID execIds, times strictly increasing from message to message.
  None of these trades happened; nothing here is market data.

The first ``LEAD_S`` seconds carry no trades, so a client joining a running market (shared
clock) misses none of them.
"""

from __future__ import annotations

import json
import random
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradecore import OrderBook

STRETCH = 75
LEAD_S = 30
SYMBOL = "XRPUSDT"
TICK = 0.0001
#: Receive time after the exchange time, for the recording's ``<recv_ns>`` prefix.
LATENCY_NS = 3_000_000

_TS = re.compile(rb'"ts":(\d+)')
_CTS = re.compile(rb'"cts":(\d+)')


@dataclass(frozen=True)
class Recording:
    """A written recording: its path and what it holds, in timeline order."""

    path: Path
    #: Every message as sent (the local exchange's timeline: point k is ``messages[k]``).
    messages: list[str]
    #: Whether each message is a publicTrade one, and its exchange time (ms).
    is_trade: list[bool]
    times: list[int]
    #: The publicTrade messages alone, and their trades as dicts (``T``, ``p``, ``v``, ``S``, ``i``).
    trade_messages: list[str]
    trades: list[dict[str, Any]]
    #: Exchange time (ms) of the last book message.
    last_book_ts: int


def book_lines(source: Path) -> list[bytes]:
    with zipfile.ZipFile(source) as archive:
        (member,) = archive.namelist()
        return [line.strip() for line in archive.read(member).splitlines() if line.strip()]


def write_recording(source: Path, out: Path, *, seed: int = 1, per_second: float = 1.5) -> Recording:
    """Writes ``out`` from the real book file ``source`` plus generated trades (see the module
    docs): about ``per_second`` trade messages per second of (stretched) time."""
    rng = random.Random(seed)
    lines = book_lines(source)
    first_ts = _ts(lines[0])
    book = OrderBook("bybit", SYMBOL)
    stretched: list[tuple[int, bytes]] = []
    for line in lines:
        ts = _ts(line)
        new_ts = first_ts + (ts - first_ts) * STRETCH
        line = _TS.sub(b'"ts":%d' % new_ts, line, count=1)
        cts = _CTS.search(line)
        if cts is not None:
            line = _CTS.sub(b'"cts":%d' % (new_ts - (ts - int(cts.group(1)))), line, count=1)
        stretched.append((new_ts, line))
    messages: list[tuple[int, bytes, bool]] = []
    trade_messages: list[str] = []
    trades: list[dict[str, Any]] = []
    for (ts, line), (next_ts, _) in zip(stretched, [*stretched[1:], (0, b"")], strict=True):
        messages.append((ts, line, False))
        book.apply(line)
        start = max(ts, first_ts + LEAD_S * 1000)
        if next_ts - start < 2:
            continue
        count = min(next_ts - start - 1, round(per_second * (next_ts - start) / 1000 * rng.uniform(0.5, 1.5)))
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        for at in sorted(rng.sample(range(start + 1, next_ts), count)):
            data = [_trade(rng, at, bid[0], ask[0]) for _ in range(rng.choice((1, 1, 2, 3, 4)))]
            trades.extend(data)
            raw = json.dumps({"topic": f"publicTrade.{SYMBOL}", "type": "snapshot", "ts": at, "data": data},
                             separators=(",", ":"))
            trade_messages.append(raw)
            messages.append((at, raw.encode(), True))
    with out.open("wb") as f:
        for ts, message, _ in messages:
            f.write(b"%d %s\n" % (ts * 1_000_000 + LATENCY_NS, message))
    return Recording(out, [message.decode() for _, message, _ in messages], [t for _, _, t in messages],
                     [ts for ts, _, _ in messages], trade_messages, trades, stretched[-1][0])


def _ts(line: bytes) -> int:
    found = _TS.search(line)
    assert found is not None, line[:80]
    return int(found.group(1))


def _trade(rng: random.Random, at: int, bid: float, ask: float) -> dict[str, Any]:
    """A taker buying at the ask or selling at the bid, sometimes a tick or two through it."""
    buy = rng.random() < 0.5
    through = rng.choice((0, 0, 0, 1, 2)) * TICK
    price = ask + through if buy else bid - through
    size = rng.choice((1, 5, 20, 100)) * rng.randint(1, 50)
    return {"T": at, "s": SYMBOL, "S": "Buy" if buy else "Sell", "v": str(size), "p": f"{price:.4f}",
            "L": "ZeroPlusTick", "i": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "BT": False}
