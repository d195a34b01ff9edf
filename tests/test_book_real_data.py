"""The order book on the real recordings in ../shared/data, checked after every message against
an obviously-correct reference and, where the exchange published it, against its own bookTicker."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections import Counter

import numpy as np
import pytest

from conftest import BINANCE_FILES, BYBIT_FILE, data_file
from reference_book import ReferenceBook, as_floats
from tradecore import OrderBook

SYMBOLS = {"binance-usdm": "BTCUSDT", "binance-coinm": "BTCUSD_PERP", "binance-spot": "BTCUSDT"}


def recording_lines(name: str) -> list[bytes]:
    """The raw messages of a shared Binance recording, without their receive timestamps."""
    with gzip.open(data_file(f"binance/{name}"), "rb") as f:
        return [line.split(b" ", 1)[1] for line in f.read().splitlines()]


def event_of(raw: bytes) -> dict:
    message = json.loads(raw)
    return message.get("data", message) if "stream" in message else message


@pytest.mark.parametrize(("name", "venue"), BINANCE_FILES.items())
def test_every_message_matches_the_reference(name: str, venue: str) -> None:
    book, reference = OrderBook(venue, SYMBOLS[venue]), ReferenceBook(venue)
    statuses: Counter[str] = Counter()
    for raw in recording_lines(name):
        status = book.apply(raw)
        assert status == reference.apply(raw)
        statuses[status] += 1
        if status in ("applied", "snapshot"):
            assert book.best_bid() == as_floats(reference.best_bid())
            assert book.best_ask() == as_floats(reference.best_ask())
    assert statuses["snapshot"] == 1 and statuses["gap"] == 0
    assert statuses["applied"] > 3000
    assert book.synced and book.last_update_id == reference.update_id
    # The whole book, not just its top, ends identical.
    bids, asks = book.top(1_000_000)
    assert [tuple(level) for level in bids] == sorted(
        ((float(p), float(q)) for p, q in reference.bids.items()), reverse=True
    )
    assert [tuple(level) for level in asks] == sorted((float(p), float(q)) for p, q in reference.asks.items())


@pytest.mark.parametrize(
    ("name", "venue", "expected"),
    [
        ("usdm_btcusdt_20240808.gz", "binance-usdm", 629),
        ("cm_btcusd_perp_20240808.gz", "binance-coinm", 1124),
        ("spot_btcusdt_20240808.gz", "binance-spot", 564),
    ],
)
def test_best_bid_ask_equals_the_exchanges_book_ticker(name: str, venue: str, expected: int) -> None:
    """A bookTicker carrying the update id of an applied diff is the exchange's own top of book."""
    lines = recording_lines(name)
    tickers = {}
    for raw in lines:
        event = event_of(raw)
        # bookTicker: its bid/ask are strings (spot's has no "e" field)
        if isinstance(event.get("b"), str) and "u" in event:
            tickers[event["u"]] = ((float(event["b"]), float(event["B"])), (float(event["a"]), float(event["A"])))
    book = OrderBook(venue, SYMBOLS[venue])
    checked = 0
    for raw in lines:
        if book.apply(raw) == "applied":
            u = event_of(raw)["u"]
            if u in tickers:
                assert (book.best_bid(), book.best_ask()) == tickers[u], f"update id {u}"
                checked += 1
    assert checked == expected


@pytest.mark.parametrize(("name", "venue"), BINANCE_FILES.items())
def test_batch_replay_gives_the_same_rows_as_message_by_message(name: str, venue: str) -> None:
    path = data_file(f"binance/{name}")
    data = gzip.open(path, "rb").read()
    rows, bad, errors = OrderBook(venue, SYMBOLS[venue]).replay(data)
    assert (bad, errors) == (0, [])
    book = OrderBook(venue, SYMBOLS[venue])
    expected = []
    for line in data.splitlines():
        ts, raw = line.split(b" ", 1)
        status = book.apply(raw)
        if status == "ignored":
            continue
        top = (book.best_bid(), book.best_ask()) if book.synced else (None, None)
        expected.append((int(ts), status, top))
    assert len(rows["status"]) == len(expected)
    statuses = ["snapshot", "applied", "buffered", "stale", "gap", "ignored"]
    for i, (ts, status, (bid, ask)) in enumerate(expected):
        assert rows["recv_ts_ns"][i] == ts
        assert statuses[rows["status"][i]] == status
        got_bid = None if np.isnan(rows["bid_px"][i]) else (rows["bid_px"][i], rows["bid_qty"][i])
        got_ask = None if np.isnan(rows["ask_px"][i]) else (rows["ask_px"][i], rows["ask_qty"][i])
        assert (got_bid, got_ask) == (bid, ask)


def test_bybit_replays_without_a_gap_and_matches_the_reference() -> None:
    with zipfile.ZipFile(data_file(BYBIT_FILE)) as archive:
        lines = archive.read(archive.namelist()[0]).splitlines()
    book, reference = OrderBook("bybit", "XRPUSDT"), ReferenceBook("bybit")
    statuses: Counter[str] = Counter()
    for raw in lines:
        status = book.apply(raw)
        assert status == reference.apply(raw)
        statuses[status] += 1
        assert book.best_bid() == as_floats(reference.best_bid())
        assert book.best_ask() == as_floats(reference.best_ask())
    assert statuses == Counter({"snapshot": 1, "applied": len(lines) - 1})
    bids, asks = book.top(10_000)
    assert len(bids) == len(reference.bids) and len(asks) == len(reference.asks)
