"""Property tests: random snapshots and diffs against a dict reference, for every venue's rules;
random and mutated bytes never crash a book nor change it."""

from __future__ import annotations

import gzip
import json
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tradecore
from conftest import data_file
from tradecore import OrderBook

PRICES = st.integers(min_value=1, max_value=400).map(lambda n: f"{Decimal(n) / 10 + 1000:.2f}")
QTYS = st.sampled_from(["0", "0.000", "0.001", "1", "2.5", "10.00000001", "123456"])
LEVELS = st.lists(st.tuples(PRICES, QTYS), max_size=12)


def apply_levels(side: dict[Decimal, Decimal], levels: list[tuple[str, str]]) -> None:
    for price, qty in levels:
        if Decimal(qty) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = Decimal(qty)


def message(venue: str, first: int, last: int, prev: int, bids: list, asks: list) -> str:
    if venue == "bybit":
        return json.dumps({"topic": "orderbook.200.BTCUSDT", "type": "delta", "ts": 1,
                           "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": last, "seq": 1}})
    event = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": last, "b": bids, "a": asks}
    if venue != "binance-spot":
        event.update(T=1, pu=prev)
    return json.dumps({"stream": "btcusdt@depth", "data": event})


def snapshot(venue: str, last: int, bids: list, asks: list) -> str:
    if venue == "bybit":
        return json.dumps({"topic": "orderbook.200.BTCUSDT", "type": "snapshot", "ts": 1,
                           "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": last, "seq": 1}})
    return json.dumps({"lastUpdateId": last, "bids": bids, "asks": asks})


@settings(max_examples=150, deadline=None)
@given(
    venue=st.sampled_from(["binance-spot", "binance-usdm", "binance-coinm", "bybit"]),
    snap_bids=LEVELS,
    snap_asks=LEVELS,
    diffs=st.lists(st.tuples(LEVELS, LEVELS, st.integers(1, 5), st.booleans()), min_size=1, max_size=30),
)
def test_random_diffs_match_a_dict_reference(venue, snap_bids, snap_asks, diffs) -> None:
    symbol = "BTCUSD_PERP" if venue == "binance-coinm" else "BTCUSDT"
    book = OrderBook(venue, symbol)
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    apply_levels(bids, snap_bids)
    apply_levels(asks, snap_asks)
    last = 1000
    assert book.apply(snapshot(venue, last, snap_bids, snap_asks).replace("BTCUSDT", symbol)) == "snapshot"
    sent = []
    for b, a, width, duplicate in diffs:
        # Spot chains U to the previous u; futures' first diff must straddle the snapshot
        # (U <= lastUpdateId <= u) and later ones chain by pu; Bybit counts one per message.
        first = last + 1 if venue == "binance-spot" else last
        new_last = last + (width if venue != "bybit" else 1)
        raw = message(venue, first, new_last, last, b, a).replace("BTCUSDT", symbol)
        if venue == "binance-coinm":
            raw = raw.replace('"e": "depthUpdate"', '"e": "depthUpdate", "ps": "BTCUSD"')
        assert book.apply(raw) == "applied"
        apply_levels(bids, b)
        apply_levels(asks, a)
        last = new_last
        sent.append(raw)
        if duplicate:
            # A message delivered twice, or an old one late, is stale and changes nothing.
            assert book.apply(random.Random(last).choice(sent)) == "stale"
    got_bids, got_asks = book.top(10_000)
    assert [tuple(x) for x in got_bids] == sorted(((float(p), float(q)) for p, q in bids.items()), reverse=True)
    assert [tuple(x) for x in got_asks] == sorted((float(p), float(q)) for p, q in asks.items())
    assert book.last_update_id == last


@settings(max_examples=100, deadline=None)
@given(
    venue=st.sampled_from(["binance-spot", "binance-usdm", "bybit"]),
    early=st.integers(0, 5),
    late=st.integers(1, 5),
)
def test_diffs_before_the_snapshot_are_replayed_through_the_same_rules(venue, early, late) -> None:
    """The feed starts before the snapshot: diffs older than it are dropped, the rest applied."""
    book = OrderBook(venue, "BTCUSDT")
    reference: dict[Decimal, Decimal] = {}
    snap_id = 100
    ids = list(range(snap_id - early, snap_id + late + 1))
    for u in ids:
        level = [[f"{1000 + u}.0", "1"]]
        prev = u - 1
        assert book.apply(message(venue, u, u, prev, level, [])) == "buffered"
        # Futures apply the diff that contains the snapshot's id (U <= id <= u); spot and Bybit
        # need the one right after it.
        if u > snap_id or (u == snap_id and venue == "binance-usdm"):
            apply_levels(reference, [(level[0][0], "1")])
    assert book.apply(snapshot(venue, snap_id, [["1.0", "5"]], [["2000.0", "5"]])) == "snapshot"
    apply_levels(reference, [("1.0", "5")])
    assert book.synced and book.last_update_id == ids[-1]
    bids, _ = book.top(100)
    assert sorted(float(p) for p, _ in bids) == sorted(float(p) for p in reference)


@pytest.fixture(scope="module")
def real_messages() -> list[bytes]:
    with gzip.open(data_file("binance/usdm_btcusdt_20240808.gz"), "rb") as f:
        lines = [line.split(b" ", 1)[1].rstrip(b"\n") for line in f]
    return [raw for raw in lines if b"depthUpdate" in raw[:80] or raw.startswith(b'{"lastUpdateId"')][:300]


def state(book: OrderBook) -> tuple:
    top = tuple(a.tolist() for a in book.top(100_000)) if book.synced else None
    return book.synced, book.last_update_id, book.buffered, book.stats(), top


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_messages_never_crash_or_corrupt(real_messages, data) -> None:
    book = OrderBook("binance-usdm", "BTCUSDT")
    upto = data.draw(st.integers(0, len(real_messages) - 1))
    for raw in real_messages[:upto]:
        book.apply(raw)
    raw = bytearray(real_messages[upto])
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            raw[i] = data.draw(st.sampled_from(b'0-9.,"[]{}: x\x00\xff'))
        elif action == "delete":
            del raw[i]
        elif action == "insert":
            raw.insert(i, data.draw(st.sampled_from(b'0-,"[]{}')))
        else:
            del raw[i:]
    before = state(book)
    try:
        status = book.apply(bytes(raw))
    except tradecore.MessageError:
        assert state(book) == before
    else:
        assert status in tradecore._core.STATUSES


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300))
def test_random_input_only_ever_raises_message_errors(raw) -> None:
    for venue in ("binance-spot", "binance-coinm", "bybit"):
        book = OrderBook(venue, "BTCUSDT")
        try:
            assert book.apply(raw) in tradecore._core.STATUSES
        except tradecore.MessageError as exc:
            assert exc.offset is not None and not book.synced
