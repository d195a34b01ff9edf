"""Candle aggregation: real trades against a pandas reference, streaming against batch for any
chunking, late trades, and bad input."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradecore
from conftest import BINANCE_FILES, data_file
from tradecore import CandleAggregator, candles
from tradecore._core import read_trades

TIMEFRAMES = ["1s", "1m", "5m", "15m", "1h", "4h", "1d"]
PANDAS_RULES = {"1s": "1s", "1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}


def recording_trades(name: str) -> dict[str, np.ndarray]:
    """The recording's trades parsed independently with json, checked against tradecore's parser."""
    with gzip.open(data_file(f"binance/{name}"), "rb") as f:
        data = f.read()
    trades = [json.loads(line.split(b" ", 1)[1])["data"] for line in data.splitlines() if b'@trade"' in line[:80]]
    trades = [t for t in trades if t.get("X", "MARKET") == "MARKET"]
    reference = {
        "ts_ms": np.array([t["T"] for t in trades], dtype=np.int64),
        "price": np.array([float(t["p"]) for t in trades]),
        "qty": np.array([float(t["q"]) for t in trades]),
        "taker_buy": np.array([not t["m"] for t in trades]),
    }
    columns, symbols, bad, _ = read_trades(data)
    assert bad == 0 and len(symbols) == 1 and len(trades) > 2000
    for key, values in reference.items():
        np.testing.assert_array_equal(columns[key], values, err_msg=key)
    return reference


def pandas_bars(trades: dict[str, np.ndarray], tf: str) -> pd.DataFrame:
    """The reference: pandas resample over the time-sorted trades, empty bars filled like klines."""
    frame = pd.DataFrame(
        {"price": trades["price"], "qty": trades["qty"], "buy": trades["qty"] * trades["taker_buy"]},
        index=pd.to_datetime(trades["ts_ms"], unit="ms", utc=True),
    ).sort_index(kind="stable")
    bins = frame.resample(PANDAS_RULES[tf])
    out = bins["price"].ohlc()
    out["volume"] = bins["qty"].sum()
    out["trades"] = bins["price"].count()
    out["taker_buy_volume"] = bins["buy"].sum()
    out["close"] = out["close"].ffill()
    for col in ("open", "high", "low"):
        out[col] = out[col].fillna(out["close"])
    return out


@pytest.mark.parametrize("name", BINANCE_FILES)
def test_real_trades_match_pandas(name: str) -> None:
    trades = recording_trades(name)
    tables = candles.aggregate(trades["ts_ms"], trades["price"], trades["qty"], trades["taker_buy"],
                               timeframes=TIMEFRAMES)
    for tf in TIMEFRAMES:
        ours = tables[tf].to_pandas().set_index("open_time")
        want = pandas_bars(trades, tf)
        assert list(ours.index) == list(want.index), tf
        for col in ("open", "high", "low", "close"):
            np.testing.assert_array_equal(ours[col], want[col], err_msg=f"{tf} {col}")
        np.testing.assert_array_equal(ours["trades"], want["trades"], err_msg=tf)
        np.testing.assert_allclose(ours["volume"], want["volume"], rtol=1e-12, err_msg=tf)
        np.testing.assert_allclose(ours["taker_buy_volume"], want["taker_buy_volume"], rtol=1e-12, atol=1e-12)
        quote = pd.Series(trades["price"] * trades["qty"], index=pd.to_datetime(trades["ts_ms"], unit="ms", utc=True))
        np.testing.assert_allclose(ours["quote_volume"], quote.resample(PANDAS_RULES[tf]).sum(), rtol=1e-12)
        traded = ours["volume"] > 0
        np.testing.assert_allclose(ours["vwap"][traded], (ours["quote_volume"] / ours["volume"])[traded])
        assert (ours["low"] <= ours[["open", "close"]].min(axis=1)).all()
        assert (ours["high"] >= ours[["open", "close"]].max(axis=1)).all()


def test_streaming_messages_equal_the_batch() -> None:
    """Raw trade messages pushed one at a time give exactly the batch's bars."""
    path = data_file("binance/spot_btcusdt_20240808.gz")
    with gzip.open(path, "rb") as f:
        lines = f.read().splitlines()
    agg = CandleAggregator(["1s", "1m", "5m"])
    streamed: dict[str, list[tradecore.Candle]] = {"1s": [], "1m": [], "5m": []}
    for line in lines:
        for bar in agg.push_message(line.split(b" ", 1)[1]):
            streamed[bar.timeframe].append(bar)
    for bar in agg.flush():
        streamed[bar.timeframe].append(bar)
    assert agg.symbol == "BTCUSDT"
    batch = candles.from_recording(path, ["1s", "1m", "5m"])
    for tf, bars in streamed.items():
        table = batch.tables[tf]
        assert len(bars) == table.num_rows > 0
        got = pa.table({
            "open_time": [b.open_time for b in bars], "open": [b.open for b in bars], "high": [b.high for b in bars],
            "low": [b.low for b in bars], "close": [b.close for b in bars], "volume": [b.volume for b in bars],
            "trades": [b.trades for b in bars], "vwap": [b.vwap for b in bars],
        })
        for col in ("open", "high", "low", "close", "volume", "trades", "vwap"):
            assert got.column(col).to_pylist() == table.column(col).to_pylist(), (tf, col)
        assert got.column("open_time").to_pylist() == table.column("open_time").cast(pa.int64()).to_pylist()


trade_steps = st.lists(
    st.tuples(st.sampled_from([0, 0, 1, 7, 250, 999, 60_000, 3_600_000]), st.integers(1, 5000),
              st.integers(0, 400), st.booleans()),
    min_size=1, max_size=400,
)


def columns(steps) -> dict[str, np.ndarray]:
    ts = 1_700_000_000_000 + np.cumsum([s[0] for s in steps], dtype=np.int64)
    return {
        "ts_ms": ts,
        "price": np.array([s[1] / 4 for s in steps]),
        "qty": np.array([s[2] / 8 for s in steps]),
        "taker_buy": np.array([s[3] for s in steps]),
    }


def collect(closed: dict, into: dict[str, list[pa.Table]]) -> None:
    for tf, cols in closed.items():
        into.setdefault(tf, []).append(candles.to_table(cols))


@settings(max_examples=120, deadline=None)
@given(steps=trade_steps, cuts=st.lists(st.integers(0, 400), max_size=8), fill=st.booleans())
def test_any_chunking_gives_the_batch_result(steps, cuts, fill) -> None:
    t = columns(steps)
    whole = candles.aggregate(t["ts_ms"], t["price"], t["qty"], t["taker_buy"], timeframes=TIMEFRAMES, fill_gaps=fill)
    agg = CandleAggregator(TIMEFRAMES, fill_gaps=fill)
    parts: dict[str, list[pa.Table]] = {}
    bounds = sorted({0, len(steps), *(c for c in cuts if c < len(steps))})
    for lo, hi in zip(bounds, bounds[1:]):
        collect(agg.push_arrays(*(t[k][lo:hi] for k in ("ts_ms", "price", "qty", "taker_buy"))), parts)
    collect(agg.flush_arrays(), parts)
    for tf in TIMEFRAMES:
        assert pa.concat_tables(parts[tf]).equals(whole[tf]), tf
    # One trade at a time through the scalar API: the same bars, bit for bit.
    single = CandleAggregator(TIMEFRAMES, fill_gaps=fill)
    bars = [b for i in range(len(steps)) for b in single.push(
        int(t["ts_ms"][i]), float(t["price"][i]), float(t["qty"][i]), bool(t["taker_buy"][i]))]
    bars += single.flush()
    for tf in TIMEFRAMES:
        mine = [b for b in bars if b.timeframe == tf]
        assert [b.close for b in mine] == whole[tf].column("close").to_pylist()
        assert [b.volume for b in mine] == whole[tf].column("volume").to_pylist()
        assert [b.trades for b in mine] == whole[tf].column("trades").to_pylist()


def test_late_trades_follow_the_policy() -> None:
    agg = CandleAggregator(["1m", "1h"])
    agg.push(60_000, 10.0, 1.0, True)
    closed = agg.push(180_000, 11.0, 1.0, False)
    assert [(b.timeframe, b.open_time) for b in closed] == [("1m", 60_000), ("1m", 120_000)]
    assert agg.push(90_000, 99.0, 1.0, True) == []  # its 1m bar is released, its 1h bar open
    assert dict(agg.late_dropped) == {"1m": 1, "1h": 0}
    hour = [b for b in agg.flush() if b.timeframe == "1h"]
    assert hour[0].high == 99.0 and hour[0].trades == 3

    strict = CandleAggregator(["1m"], late="error")
    strict.push(180_000, 11.0, 1.0, False)
    with pytest.raises(tradecore.LateTradeError) as caught:
        strict.push_arrays(np.array([190_000, 60_000]), np.ones(2), np.ones(2), np.ones(2, dtype=bool))
    assert caught.value.ts_ms == 60_000 and caught.value.timeframe == "1m"
    assert strict.trade_count == 1


@pytest.mark.parametrize(
    ("ts", "price", "qty", "field", "needle"),
    [
        (1_700_000_000_000, float("nan"), 1.0, "price[1]", "positive and finite"),
        (1_700_000_000_000, -5.0, 1.0, "price[1]", "positive"),
        (1_700_000_000_000, 5.0, float("inf"), "qty[1]", "finite"),
        (1_700_000_000_000_000_000, 5.0, 1.0, "ts[1]", "nanoseconds"),
    ],
)
def test_bad_trades_are_refused_whole(ts, price, qty, field, needle) -> None:
    agg = CandleAggregator(["1m"])
    with pytest.raises(tradecore.InvalidValueError, match=needle) as caught:
        agg.push_arrays(np.array([1_700_000_000_000, ts]), np.array([1.0, price]), np.array([1.0, qty]),
                        np.array([True, True]))
    assert caught.value.field == field and caught.value.offset == 1
    assert agg.trade_count == 0
    with pytest.raises(tradecore.InvalidArgumentError):
        agg.push_arrays(np.array([1, 2]), np.array([1.0]), np.array([1.0, 1.0]), np.array([True, True]))
    with pytest.raises(tradecore.InvalidArgumentError, match="months"):
        CandleAggregator(["1M"])
    with pytest.raises(tradecore.WrongSymbolError):
        CandleAggregator(["1m"], symbol="ETHUSDT").push_message(
            '{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}')


def test_tables_share_numpy_buffers_and_are_typed() -> None:
    agg = CandleAggregator(["1m"])
    agg.push_arrays(np.array([0, 60_000], dtype=np.int64), np.ones(2), np.ones(2), np.zeros(2, dtype=bool))
    cols = agg.flush_arrays()["1m"]
    table = candles.to_table(cols)
    assert table.schema == candles.SCHEMA
    assert table.column("open_time").type == pa.timestamp("ms", tz="UTC")
    # Arrow reads the very memory numpy holds: no copy.
    buffer = table.column("close").chunk(0).buffers()[1]
    assert buffer.address == cols["close"].ctypes.data


def test_aggregate_without_sides_reports_unknown_taker_volume() -> None:
    tables = candles.aggregate([0, 1, 60_000], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0], timeframes=["1m"])
    assert np.isnan(tables["1m"].column("taker_buy_volume").to_numpy()).all()
    assert tables["1m"].column("volume").to_pylist() == [2.0, 1.0]


def test_a_bad_trade_message_adds_nothing() -> None:
    """A Bybit message carries several trades: one bad trade refuses the whole message."""
    agg = CandleAggregator(["1m"])
    good = {"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50", "i": "a", "BT": False}
    in_nanoseconds = {**good, "T": 1672304486866 * 1_000_000, "i": "b"}
    message = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1, "data": [good, in_nanoseconds]}
    with pytest.raises(tradecore.InvalidValueError, match="trade\\[1\\]"):
        agg.push_message(json.dumps(message))
    assert agg.trade_count == 0 and agg.symbol is None
    other_symbol = {**good, "s": "ETHUSDT", "i": "c"}
    with pytest.raises(tradecore.WrongSymbolError):
        agg.push_message(json.dumps({**message, "data": [good, other_symbol]}))
    assert agg.trade_count == 0 and agg.symbol is None
    agg.push_message(json.dumps({**message, "data": [good, {**good, "S": "Sell", "i": "d"}]}))
    assert agg.trade_count == 2 and agg.symbol == "BTCUSDT"
    bar = agg.flush()[0]
    assert (bar.trades, bar.volume, bar.taker_buy_volume) == (2, 0.002, 0.001)


def test_a_silence_too_long_to_fill_is_left_as_a_counted_gap() -> None:
    """Filling 12 days of 1s bars would write a million flat bars: the gap stays, and is counted."""
    agg = CandleAggregator(["1s", "1d"])
    agg.push(1_700_000_000_000, 10.0, 1.0, True)
    closed = agg.push(1_700_000_000_000 + 12 * 86_400_000, 11.0, 1.0, True)
    assert dict(agg.gaps_unfilled) == {"1s": 1, "1d": 0}
    assert [b.open_time for b in closed if b.timeframe == "1s"] == [1_700_000_000_000]
    assert len([b for b in closed if b.timeframe == "1d"]) == 12  # daily bars are filled as usual
