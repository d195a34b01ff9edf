"""A recording turned into a replayable market: one timeline of stream messages with their pacing
times, the recorded REST snapshot, the trades, the instrument's precision, and a server-side book
that can be advanced to any point of the timeline.

A *point* is an index into the timeline: "everything up to and including message ``point`` has
happened". ``-1`` is before the first message.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tradecore import recording
from tradecore._core import VENUES, OrderBook
from tradecore.errors import MessageError, RecordingError

_COMBINED = re.compile(rb'^\{"stream":"([^"]+)","data":')
_EVENT_MS = re.compile(rb'"[ET]":(\d{12,14})')
_BYBIT_TS = re.compile(rb'"ts":(\d{12,14})')


@dataclass
class StreamEvents:
    """The messages of one stream: their timeline points (ascending) and payloads (JSON text;
    for Binance the inner ``data`` object, for Bybit the whole message)."""

    points: list[int] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)

    def first_after(self, point: int) -> int:
        """Index of the first event strictly after ``point``."""
        return bisect.bisect_right(self.points, point)


@dataclass(frozen=True)
class Trade:
    """One recorded trade, as strings where the wire has strings (exact decimals survive).
    Bybit's trades are numbered here in recorded order; ``exec_id`` is the venue's own id."""

    id: int
    price: str
    qty: str
    time_ms: int
    buyer_maker: bool
    point: int
    exec_id: str = ""
    block: bool = False


@dataclass(frozen=True)
class Instrument:
    """What a venue would publish about the instrument, derived from the recording.

    ``price_decimals``/``qty_decimals`` are how many decimals the venue prints; ``tick_decimals``/
    ``step_decimals`` are how many are ever significant (trailing zeros stripped), which gives the
    tick and step sizes (Binance USD-M prints ``61800.30`` but its tick is 0.1)."""

    venue: str
    symbol: str
    base: str
    quote: str
    price_decimals: int
    qty_decimals: int
    tick_decimals: int
    step_decimals: int

    @property
    def tick_size(self) -> str:
        return _unit(self.tick_decimals, self.price_decimals)

    @property
    def step_size(self) -> str:
        return _unit(self.step_decimals, self.qty_decimals)

    @property
    def contract_size(self) -> int | None:
        """COIN-M contracts are worth 100 USD for BTC, 10 USD for the others; None elsewhere."""
        if self.venue != "binance-coinm":
            return None
        return 100 if self.base == "BTC" else 10

    def price(self, value: float) -> str:
        return f"{value:.{self.price_decimals}f}"

    def qty(self, value: float) -> str:
        return f"{value:.{self.qty_decimals}f}"


def _unit(significant: int, printed: int) -> str:
    if significant <= 0:
        return "1" if printed == 0 else "1." + "0" * printed
    return f"{10.0 ** -significant:.{max(significant, printed)}f}"


class _Decimals:
    """Tracks printed and significant decimals of numeric strings."""

    def __init__(self) -> None:
        self.printed = 0
        self.significant = 0

    def see(self, text: str) -> None:
        dot = text.find(".")
        if dot < 0:
            return
        fraction = text[dot + 1 :]
        self.printed = max(self.printed, len(fraction))
        self.significant = max(self.significant, len(fraction.rstrip("0")))


_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY")


def split_symbol(venue: str, symbol: str) -> tuple[str, str]:
    """Base and quote asset of a symbol (``BTCUSD_PERP`` -> BTC, USD)."""
    pair = symbol.split("_")[0]
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    raise RecordingError(f"cannot tell the base and quote assets of {symbol!r} on {venue}")


def detect_venue(lines: list[bytes]) -> str:
    """The venue of a recording from its first messages (names as :class:`OrderBook` takes them)."""
    for line in lines:
        raw = _strip_ts(line)[1]
        if not raw.startswith(b"{"):
            continue
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if "topic" in message:
            return "bybit"
        data = message.get("data")
        if not isinstance(data, dict) or "s" not in data:
            continue
        if "ps" in data or "_" in str(data["s"]):
            return "binance-coinm"
        event = data.get("e")
        if event == "depthUpdate":
            return "binance-usdm" if "pu" in data else "binance-spot"
        if event == "trade":
            return "binance-usdm" if "X" in data else "binance-spot"
        if "u" in data and "b" in data:  # bookTicker: the futures one carries an event type
            return "binance-usdm" if "e" in data else "binance-spot"
    raise RecordingError("cannot tell the venue from the recording's first messages; pass venue=")


def _strip_ts(line: bytes) -> tuple[int | None, bytes]:
    line = line.strip()
    if line[:1].isdigit():
        head, _, rest = line.partition(b" ")
        if head.isdigit():
            return int(head), rest.strip()
    return None, line


class Market:
    """A recording as a replayable market (see the module docstring)."""

    def __init__(self, venue: str, symbol: str) -> None:
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
        self.venue = venue
        self.symbol = symbol
        self.source = ""
        self.streams: dict[str, StreamEvents] = {}
        self.snapshot: str | None = None
        self.trades: list[Trade] = []
        self.bad_lines = 0
        self.depth_stream: str | None = None
        self._times: list[int] = []
        self._exchange_ms: list[int] = []
        self.times_ns: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self.exchange_ms: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self.trade_points: list[int] = []
        self.instrument: Instrument

    @property
    def size(self) -> int:
        """Number of messages in the timeline."""
        return len(self.times_ns)

    @property
    def futures(self) -> bool:
        return self.venue in ("binance-usdm", "binance-coinm")

    def point_at(self, offset_ns: int) -> int:
        """The last point whose pacing time is at most ``offset_ns`` after the first message."""
        if not self.size:
            return -1
        target = int(self.times_ns[0]) + offset_ns
        return int(np.searchsorted(self.times_ns, target, side="right")) - 1

    def offset_ns(self, point: int) -> int:
        """Pacing time of ``point`` relative to the first message."""
        if point < 0 or not self.size:
            return 0
        return int(self.times_ns[point] - self.times_ns[0])

    def time_ms(self, point: int) -> int:
        """The exchange's clock at ``point`` (ms): the latest event time seen so far."""
        if not self.size:
            return 0
        return int(self.exchange_ms[max(point, 0)])

    def trades_until(self, point: int | None) -> list[Trade]:
        """The trades that have happened by ``point`` (all of them for None)."""
        if point is None:
            return self.trades
        return self.trades[: bisect.bisect_right(self.trade_points, point)]

    # -- loading -----------------------------------------------------------------------------

    def _add(self, stream: str, payload: str, ts_ns: int, exchange_ms: int) -> None:
        point = len(self._times)
        self._times.append(ts_ns)
        self._exchange_ms.append(exchange_ms)
        events = self.streams.setdefault(stream, StreamEvents())
        events.points.append(point)
        events.payloads.append(payload)

    def _finish(self) -> None:
        times = np.asarray(self._times, dtype=np.int64)
        # Pacing never goes backwards; the exchange clock is the latest event time seen.
        self.times_ns = np.maximum.accumulate(times) if len(times) else times
        ms = np.asarray(self._exchange_ms, dtype=np.int64)
        if len(ms):
            ms[ms <= 0] = 0
            ms = np.maximum.accumulate(ms)
            first = ms[ms > 0][0] if (ms > 0).any() else 0
            ms[ms == 0] = first
        self.exchange_ms = ms
        self.trade_points = [t.point for t in self.trades]
        del self._times, self._exchange_ms


def load(path: str | Path, venue: str | None = None) -> Market:
    """Reads a recording (``<recv_ts_ns> <json>`` lines or bare JSON; gzip, zip or plain) into a
    :class:`Market`. ``venue`` defaults to what the first messages say."""
    path = Path(path)
    lines: list[bytes] = []
    for chunk in recording.chunks(path):
        lines.extend(chunk.data.splitlines())
    if venue is None:
        venue = detect_venue(lines[:200])
    elif venue not in VENUES:
        raise RecordingError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
    else:
        try:
            detected = detect_venue(lines[:200])
        except RecordingError:
            detected = venue
        if detected != venue:
            raise RecordingError(f"{path}: the recording's messages are {detected}'s, not {venue}'s")
    if venue == "bybit":
        market = _load_bybit(lines)
    else:
        market = _load_binance(lines, venue)
    market.source = path.name
    if market.size == 0:
        raise RecordingError(f"{path}: no stream messages of {venue} found")
    return market


def _load_binance(lines: list[bytes], venue: str) -> Market:
    market = Market(venue, "")
    prices, qtys = _Decimals(), _Decimals()
    symbols: set[str] = set()
    last_ts = 0
    for line in lines:
        ts, raw = _strip_ts(line)
        if not raw:
            continue
        ts = last_ts if ts is None else ts
        last_ts = ts
        if raw.startswith(b'{"lastUpdateId"'):
            if market.snapshot is None:
                market.snapshot = raw.decode()
                _see_levels(raw, prices, qtys)
            continue
        found = _COMBINED.match(raw)
        if found is not None and raw.endswith(b"}"):
            stream = found.group(1).decode()
            payload = raw[found.end() : -1].decode()
        else:
            try:
                message = json.loads(raw)
                stream = str(message["stream"])
                payload = json.dumps(message["data"], separators=(",", ":"))
            except (ValueError, KeyError, TypeError):
                market.bad_lines += 1
                continue
        event = _EVENT_MS.search(raw)
        market._add(stream, payload, ts, int(event.group(1)) if event else 0)
        kind = stream.split("@", 1)[1] if "@" in stream else ""
        if kind.startswith("depth") and market.depth_stream is None:
            market.depth_stream = stream
        if kind == "trade":
            try:
                data = json.loads(payload)
                trade = Trade(int(data["t"]), str(data["p"]), str(data["q"]), int(data["T"]), bool(data["m"]),
                              len(market._times) - 1)
            except (ValueError, KeyError, TypeError):
                market.bad_lines += 1
                continue
            symbols.add(str(data["s"]))
            prices.see(trade.price)
            qtys.see(trade.qty)
            market.trades.append(trade)
    market._finish()
    symbol = _binance_symbol(market, symbols)
    market.symbol = symbol
    base, quote = split_symbol(venue, symbol)
    market.instrument = Instrument(venue, symbol, base, quote, prices.printed, qtys.printed,
                                   prices.significant, qtys.significant)
    return market


def _binance_symbol(market: Market, symbols: set[str]) -> str:
    names = {stream.split("@", 1)[0].upper() for stream in market.streams}
    names |= symbols
    if len(names) != 1:
        raise RecordingError(f"the recording holds several symbols ({', '.join(sorted(names))}); "
                             "the local exchange replays one")
    return names.pop()


def _see_levels(raw: bytes, prices: _Decimals, qtys: _Decimals) -> None:
    try:
        snapshot = json.loads(raw)
        levels = snapshot.get("bids", []) + snapshot.get("asks", [])
    except (ValueError, AttributeError, TypeError):
        return
    for level in levels:
        if isinstance(level, list) and len(level) >= 2:
            prices.see(str(level[0]))
            qtys.see(str(level[1]))


def _load_bybit(lines: list[bytes]) -> Market:
    market = Market("bybit", "")
    prices, qtys = _Decimals(), _Decimals()
    symbols: set[str] = set()
    for line in lines:
        ts, raw = _strip_ts(line)
        if not raw:
            continue
        try:
            message = json.loads(raw)
            topic = str(message["topic"])
        except (ValueError, KeyError, TypeError):
            market.bad_lines += 1
            continue
        found = _BYBIT_TS.search(raw)
        ts_ms = int(found.group(1)) if found else 0
        # Bybit lines carry no receive time: pace by the message's own "ts".
        market._add(topic, raw.decode(), ts if ts is not None else ts_ms * 1_000_000, ts_ms)
        symbols.add(topic.rsplit(".", 1)[-1])
        data = message.get("data")
        if topic.startswith("publicTrade.") and isinstance(data, list):
            try:
                for item in data:
                    trade = Trade(len(market.trades) + 1, str(item["p"]), str(item["v"]), int(item["T"]),
                                  item["S"] == "Sell", len(market._times) - 1, str(item["i"]), bool(item.get("BT")))
                    prices.see(trade.price)
                    qtys.see(trade.qty)
                    market.trades.append(trade)
            except (KeyError, TypeError, ValueError):
                market.bad_lines += 1
        if topic.startswith("orderbook.") and isinstance(data, dict):
            if market.depth_stream is None:
                market.depth_stream = topic
            for level in list(data.get("b", [])) + list(data.get("a", [])):
                if isinstance(level, list) and len(level) >= 2:
                    prices.see(str(level[0]))
                    qtys.see(str(level[1]))
    market._finish()
    if len(symbols) != 1:
        raise RecordingError(f"the recording holds several symbols ({', '.join(sorted(symbols))}); "
                             "the local exchange replays one")
    market.symbol = symbols.pop()
    base, quote = split_symbol("bybit", market.symbol)
    market.instrument = Instrument("bybit", market.symbol, base, quote, prices.printed, qtys.printed,
                                   prices.significant, qtys.significant)
    return market


class MarketBook:
    """The exchange's own book, advanced through the recorded depth messages up to a point.

    It only moves forward (points handed to it never decrease in either clock mode), so each
    diff is applied once."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.book = OrderBook(market.venue, market.symbol)
        self.point = -1
        self._next = 0
        self.errors = 0
        #: The last depth message applied (Bybit's REST answer quotes its seq and cts).
        self.last_payload = ""
        self._events = market.streams.get(market.depth_stream or "", StreamEvents())
        if market.snapshot is not None:
            # The recorded snapshot is the state before the first diff; the book's sequencing
            # then drops the diffs it already contains.
            self.book.apply(market.snapshot)
        elif self._events.points:
            # Bybit: the first message is a snapshot; the book exists from then on.
            self.advance(self._events.points[0])

    def advance(self, point: int) -> None:
        if point <= self.point:
            return
        events = self._events
        while self._next < len(events.points) and events.points[self._next] <= point:
            payload = events.payloads[self._next]
            self._next += 1
            try:
                self.book.apply(payload)
                self.last_payload = payload
            except MessageError:
                self.errors += 1
        self.point = point
