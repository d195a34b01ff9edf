"""Live-loop latency from Python, one call at a time (pytest-benchmark):

    python -m pytest benches/test_latency.py --benchmark-only

What a bot pays per websocket frame: applying one real depth diff to a synced book, pushing one
trade, pushing one raw trade message. Timings only, no assertions on them.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradecore import CandleAggregator, OrderBook

DATA = Path(os.environ.get("TRADECORE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
USDM = DATA / "binance" / "usdm_btcusdt_20240808.gz"


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    if not USDM.is_file():
        pytest.skip(f"real market data not found at {USDM}")
    with gzip.open(USDM, "rb") as f:
        return [line.split(b" ", 1)[1].rstrip(b"\n") for line in f]


def test_apply_one_depth_diff(benchmark, lines: list[bytes]) -> None:
    """A synced book applying the recording's diffs, one per call."""
    book = OrderBook("binance-usdm", "BTCUSDT")
    depth = [raw for raw in lines if b"depthUpdate" in raw[:80] or raw.startswith(b'{"lastUpdateId"')]
    stream: Iterator[bytes] = iter(depth)
    for raw in stream:
        if book.apply(raw) == "snapshot":
            break
    diffs = list(stream)
    feed = iter(diffs)
    benchmark.pedantic(lambda: book.apply(next(feed)), rounds=len(diffs) - 1, iterations=1)
    assert book.synced and book.stats()["gap"] == 0


def test_push_one_trade(benchmark) -> None:
    agg = CandleAggregator(["1m", "5m", "15m", "1h", "4h", "1d"])
    ts = iter(range(1_700_000_000_000, 1_800_000_000_000, 37))
    benchmark(lambda: agg.push(next(ts), 61800.3, 0.01, True))


def test_push_one_trade_message(benchmark, lines: list[bytes]) -> None:
    trades = [raw for raw in lines if b'"e":"trade"' in raw[:80]]
    agg = CandleAggregator(["1m", "5m", "15m", "1h", "4h", "1d"])
    feed = iter(trades)
    benchmark.pedantic(lambda: agg.push_message(next(feed)), rounds=len(trades) - 1, iterations=1)
