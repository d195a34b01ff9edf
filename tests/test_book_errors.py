"""Bad input never hurts: every malformed message gets a typed error naming the field and the
byte offset, and leaves the book exactly as it was."""

from __future__ import annotations

import json

import pytest

import tradecore
from tradecore import OrderBook

SNAPSHOT = json.dumps({"lastUpdateId": 100, "E": 1, "T": 1, "bids": [["10.0", "1"], ["9.5", "2"]], "asks": [["10.5", "3"]]})


def diff(**changes: object) -> dict:
    event = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 95, "u": 105, "pu": 94,
             "b": [["10.0", "4"]], "a": [["10.5", "0"], ["11.0", "1"]]}
    event.update(changes)
    return event


def wrapped(event: dict) -> str:
    return json.dumps({"stream": "btcusdt@depth@0ms", "data": event})


def state(book: OrderBook) -> tuple:
    """Everything observable about a book."""
    bids, asks = book.top(10_000) if book.synced else (None, None)
    return (
        book.synced, book.reason, book.last_update_id, book.buffered, book.levels, book.stats(),
        None if bids is None else bids.tolist(), None if asks is None else asks.tolist(),
    )


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook("binance-usdm", "BTCUSDT")
    assert b.apply(SNAPSHOT) == "snapshot"
    return b


GOOD = wrapped(diff())
BAD_MESSAGES = [
    # (message, exception class, field, offset)
    (GOOD[:-5], tradecore.MalformedMessageError, None, len(GOOD) - 5),
    (GOOD.replace('"u": 105', '"u": 105,'), tradecore.MalformedMessageError, None, GOOD.index('"u": 105') + 9),
    (b"\xff\xfe not json", tradecore.MalformedMessageError, None, 0),
    ("", tradecore.MalformedMessageError, None, 0),
    (wrapped(diff(s="ETHUSDT")), tradecore.WrongSymbolError, "symbol", None),
    (wrapped(diff(b=[["10.0", "-4"]])), tradecore.InvalidValueError, "b[0] quantity", None),
    (wrapped(diff(a=[["abc", "1"]])), tradecore.InvalidValueError, "a[0] price", None),
    (wrapped(diff(a=[["0", "1"]])), tradecore.InvalidValueError, "a[0] price", None),
    (wrapped(diff(b=[["10.0000000001", "1"]])), tradecore.InvalidValueError, "b[0] price", None),
    (wrapped(diff(b=[["1e5", "1"]])), tradecore.InvalidValueError, "b[0] price", None),
    (wrapped(diff(b=[["10.0"]])), tradecore.InvalidValueError, "b[0]", None),
    (wrapped(diff(U="95")), tradecore.InvalidValueError, "U", None),
    (wrapped(diff(U=200)), tradecore.InvalidValueError, "U", None),
    (wrapped({k: v for k, v in diff().items() if k != "u"}), tradecore.MissingFieldError, "u", None),
    (wrapped({k: v for k, v in diff().items() if k != "b"}), tradecore.MissingFieldError, "b", None),
    (wrapped({k: v for k, v in diff().items() if k != "pu"}), tradecore.WrongVenueError, None, None),
    (wrapped(diff(ps="BTCUSD")), tradecore.WrongVenueError, None, None),
    (json.dumps({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1,
                 "data": {"s": "BTCUSDT", "b": [], "a": [], "u": 7}}), tradecore.WrongVenueError, None, None),
    (json.dumps({"lastUpdateId": 200, "bids": [["1", "1"]]}), tradecore.MissingFieldError, "asks", None),
    (json.dumps({"lastUpdateId": 200, "symbol": "ETHUSD_PERP", "pair": "ETHUSD", "bids": [], "asks": []}),
     tradecore.WrongSymbolError, "symbol", None),
    ("[" * 100_000, tradecore.MalformedMessageError, None, None),
]


@pytest.mark.parametrize(("raw", "error", "field", "offset"), BAD_MESSAGES)
def test_bad_messages_raise_typed_errors_and_change_nothing(
    book: OrderBook, raw: str | bytes, error: type, field: str | None, offset: int | None
) -> None:
    assert book.apply(GOOD.replace('"U": 95', '"U": 90')) == "applied"
    before = state(book)
    with pytest.raises(error) as caught:
        book.apply(raw)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, tradecore.TradecoreError)
    assert caught.value.field == field
    assert caught.value.offset is not None
    if offset is not None:
        assert caught.value.offset == offset, str(caught.value)
    assert str(caught.value)
    assert state(book) == before
    # ... and the book goes on working.
    assert book.apply(wrapped(diff(U=106, u=110, pu=105, b=[["9.0", "1"]]))) == "applied"


def test_queries_on_an_unsynced_book_say_why() -> None:
    book = OrderBook("binance-spot", "btcusdt")
    assert book.symbol == "BTCUSDT" and not book.synced
    for query in (book.best_bid, book.best_ask, book.spread, book.mid, book.microprice, lambda: book.top(5),
                  lambda: book.depth(10), lambda: book.imbalance(3), lambda: book.fill_price("buy", 1)):
        with pytest.raises(tradecore.BookNotSyncedError) as caught:
            query()
        assert "no snapshot yet" in caught.value.reason
    spot = lambda u_first, u_last: json.dumps(  # noqa: E731
        {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": u_first, "u": u_last, "b": [], "a": []}
    )
    book.apply(json.dumps({"lastUpdateId": 10, "bids": [["1", "1"]], "asks": [["2", "1"]]}))
    assert book.apply(spot(11, 12)) == "applied"
    assert book.apply(spot(20, 21)) == "gap"
    with pytest.raises(tradecore.BookNotSyncedError, match="gap after update id 12"):
        book.mid()
    assert "gap after update id 12" in (book.reason or "")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: OrderBook("kraken", "BTCUSD"), tradecore.InvalidArgumentError),
        (lambda: OrderBook("bybit", ""), tradecore.InvalidArgumentError),
        (lambda: OrderBook("bybit", "BTC USDT"), tradecore.InvalidArgumentError),
        (lambda: OrderBook("bybit", "BTCUSDT").apply(42), tradecore.InvalidArgumentError),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments(call, error: type) -> None:
    with pytest.raises(error):
        call()


def test_bad_query_arguments(book: OrderBook) -> None:
    with pytest.raises(tradecore.InvalidArgumentError, match="'buy' or 'sell'"):
        book.fill_price("long", 1.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(tradecore.InvalidArgumentError):
            book.fill_price("buy", bad)
    with pytest.raises(tradecore.InvalidArgumentError):
        book.imbalance(0)
    with pytest.raises(tradecore.InvalidArgumentError):
        book.depth(-5)


def test_replay_reports_bad_lines_with_their_numbers() -> None:
    book = OrderBook("binance-usdm", "BTCUSDT")
    data = "\n".join([f"1 {SNAPSHOT}", "2 {broken", f"3 {GOOD}", "garbage", ""]).encode()
    rows, bad, errors = book.replay(data, first_line=40)
    assert bad == 2
    assert [e.line for e in errors] == [41, 43]
    assert isinstance(errors[0], tradecore.MalformedMessageError) and str(errors[0]).startswith("line 41:")
    assert list(rows["line"]) == [40, 42]
    with pytest.raises(tradecore.MalformedMessageError) as caught:
        OrderBook("binance-usdm", "BTCUSDT").replay(data, strict=True)
    assert caught.value.line == 2
