"""The pattern API beyond parity: streaming equals batch, bad bars, settings validation, the
scores, hit statistics, multi-timeframe confluence and the `tradecore patterns` command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import tradecore
from tests import pattern_inputs
from tests.conftest import data_file
from tradecore import indicators, patterns
from tradecore.cli import main
from tradecore.errors import InvalidArgumentError, InvalidBarError

F64 = npt.NDArray[np.float64]


def test_streaming_equals_batch_at_every_index() -> None:
    o, h, lo, c = pattern_inputs.trends(3_000, 21)
    batch, names = patterns.detect_array(o, h, lo, c)
    engine = tradecore.PatternEngine()
    assert engine.names == names
    for k in range(len(o)):
        assert np.array_equal(engine.push(o[k], h[k], lo[k], c[k]), batch[:, k]), f"bar {k}"
    assert engine.bars_seen == len(o)


def test_run_continues_the_stream_and_detect_returns_views() -> None:
    o, h, lo, c = pattern_inputs.walk(1_000, 22)
    whole, _ = patterns.detect_array(o, h, lo, c)
    engine = patterns.PatternEngine()
    parts = [engine.run(o[a:b], h[a:b], lo[a:b], c[a:b]) for a, b in ((0, 1), (1, 130), (130, 1_000))]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    codes = patterns.detect(o, h, lo, c)
    assert all(v.dtype == np.int16 and v.flags.c_contiguous for v in codes.values())
    assert np.array_equal(np.stack(list(codes.values())), whole)


def test_selected_patterns_in_the_order_asked() -> None:
    o, h, lo, c = pattern_inputs.walk(500, 23)
    codes = patterns.detect(o, h, lo, c, ["cdlhammer", "CDLDOJI"])
    assert list(codes) == ["CDLHAMMER", "CDLDOJI"]
    everything = patterns.detect(o, h, lo, c)
    assert np.array_equal(codes["CDLDOJI"], everything["CDLDOJI"])


@pytest.mark.parametrize(
    ("bar", "words"),
    [
        ((math.nan, 11.0, 9.0, 10.0), "open is NaN"),
        ((10.0, 9.0, 8.0, 10.0), "high 9 is below the body"),
        ((10.0, 12.0, 10.5, 11.0), "low 10.5 is above the body"),
        ((-1.0, 1.0, -2.0, 0.5), "open is negative"),
        ((10.0, math.inf, 9.0, 10.0), "high is inf"),
    ],
)
def test_bad_bars_are_refused_by_index_and_change_nothing(bar: tuple[float, ...], words: str) -> None:
    o, h, lo, c = (np.array(x) for x in zip(*([(10.0, 11.0, 9.0, 10.5)] * 5 + [bar] + [(10.0, 11.0, 9.0, 10.5)]), strict=True))
    with pytest.raises(InvalidBarError, match=words) as raised:
        patterns.detect(o, h, lo, c)
    assert raised.value.index == 5
    engine = patterns.PatternEngine()
    engine.run(o[:5], h[:5], lo[:5], c[:5])
    with pytest.raises(InvalidBarError) as raised:
        engine.push(*bar)
    assert raised.value.index == 5 and engine.bars_seen == 5
    with pytest.raises(InvalidBarError):
        engine.run(o, h, lo, c)  # bar 10 of the stream is bad: nothing of the batch is taken
    assert engine.bars_seen == 5


def test_bad_arguments_are_named() -> None:
    one = np.ones(3)
    with pytest.raises(InvalidArgumentError, match="different lengths"):
        patterns.detect(one, one, one, np.ones(2))
    with pytest.raises(InvalidArgumentError, match="'CDLNOTHING' is not a TA-Lib candlestick pattern"):
        patterns.detect(one, one, one, one, ["CDLNOTHING"])
    with pytest.raises(InvalidArgumentError, match="'Bodyish' is not a candle setting"):
        patterns.detect(one, one, one, one, settings={"Bodyish": ("RealBody", 10, 1.0)})
    with pytest.raises(InvalidArgumentError, match="not one of RealBody"):
        patterns.detect(one, one, one, one, settings={"BodyLong": ("Body", 10, 1.0)})
    with pytest.raises(InvalidArgumentError, match="period"):
        patterns.detect(one, one, one, one, settings={"BodyLong": ("RealBody", 10**6, 1.0)})
    with pytest.raises(InvalidArgumentError, match="takes no penetration"):
        patterns.detect(one, one, one, one, penetration={"CDLDOJI": 0.5})
    with pytest.raises(InvalidArgumentError, match="unknown scoring setting 'min_qualty'"):
        tradecore._core.PatternEngine(scoring={"min_qualty": 0.5})
    with pytest.raises(InvalidArgumentError, match="min_trend must be a finite number"):
        patterns.PatternEngine(scoring=patterns.ScoreConfig(min_trend=math.nan))
    with pytest.raises(InvalidArgumentError, match="volume"):
        patterns.score(one, one, one, one, np.ones(2))
    with pytest.raises(InvalidBarError, match="volume is -1"):
        patterns.score(one, one, one, one, np.array([1.0, -1.0, 1.0]))


def test_defaults_are_talibs() -> None:
    assert patterns.DEFAULT_SETTINGS["BodyDoji"] == ("HighLow", 10, 0.1)
    assert patterns.DEFAULT_SETTINGS["ShadowShort"] == ("Shadows", 10, 1.0)
    assert patterns.DEFAULT_PENETRATION == {
        "CDLABANDONEDBABY": 0.3, "CDLDARKCLOUDCOVER": 0.5, "CDLEVENINGDOJISTAR": 0.3, "CDLEVENINGSTAR": 0.3,
        "CDLMATHOLD": 0.5, "CDLMORNINGDOJISTAR": 0.3, "CDLMORNINGSTAR": 0.3,
    }
    assert set(patterns.KINDS.values()) == {"reversal", "continuation", "indecision"}


@pytest.fixture(scope="module")
def real() -> dict[str, F64]:
    table = pacsv.read_csv(data_file("candles/btcperp_20211231_20220201_1m.csv.gz"))
    return {c: table.column(c).to_numpy() for c in ("open", "high", "low", "close", "volume")}


def test_ema_and_adx_are_talibs(real: dict[str, F64]) -> None:
    talib = pytest.importorskip("talib")
    h, lo, c = real["high"], real["low"], real["close"]
    for period in (3, 14, 20):
        assert np.array_equal(indicators.ema(c, period), talib.EMA(c, period), equal_nan=True)
        assert np.array_equal(indicators.adx(h, lo, c, period), talib.ADX(h, lo, c, period), equal_nan=True)


def test_scores_follow_their_definitions(real: dict[str, F64]) -> None:
    signals = patterns.score(real["open"], real["high"], real["low"], real["close"], real["volume"]).to_pandas()
    codes = patterns.detect(real["open"], real["high"], real["low"], real["close"])
    assert len(signals) == sum(int(np.count_nonzero(v)) for v in codes.values())
    for column in ("quality", "volume", "trend", "confidence"):
        assert signals[column].between(0, 1).all(), column
    assert np.allclose(signals.confidence, 0.4 * signals.quality + 0.3 * signals.volume + 0.3 * signals.trend)
    accepted = (
        (signals.direction != 0) & (signals.quality >= 0.5) & (signals.confidence >= 0.6)
        & (signals.volume >= 0.4) & (signals.trend >= 0.7)
    )
    assert (signals.accepted == accepted).all() and 0 < accepted.sum() < len(signals)
    expected_size = np.where(signals.confidence > 0.8, 1.0, np.where(signals.confidence >= 0.6, 0.75, 0.5))
    assert np.array_equal(signals.size_multiplier, expected_size)
    assert np.allclose(signals.stop_tight, 0.5 * signals.height) and np.allclose(signals.stop_wide, signals.height)
    # Direction: the code's sign, fixed for the one-sided patterns, none for indecision.
    assert (signals[signals.pattern == "CDLDOJI"].direction == 0).all()
    assert (signals[signals.pattern == "CDLHAMMER"].direction == 1).all()
    engulf = signals[signals.pattern == "CDLENGULFING"]
    assert (np.sign(engulf.code) == engulf.direction).all()
    # Height of a one-candle pattern is that candle's range.
    doji = signals[signals.pattern == "CDLDOJI"].iloc[0]
    bar = int(doji.bar)
    assert doji.height == real["high"][bar] - real["low"][bar]


def test_volume_and_trend_scores_mean_what_they_say() -> None:
    # A steady decline, then a hammer on twice the usual volume: a reversal where one is due.
    n = 60
    close = 200.0 - np.arange(n) * 1.0
    o, h, lo, c = close + 0.8, close + 1.0, close - 0.2, close.copy()
    o[-1], c[-1], h[-1], lo[-1] = 141.0, 141.3, 141.35, 136.0  # small body on top, long lower shadow
    volume = np.full(n, 10.0)
    volume[-1] = 20.0
    signals = patterns.score(o, h, lo, c, volume, ["CDLHAMMER"]).to_pylist()
    last = signals[-1]
    assert last["bar"] == n - 1 and last["direction"] == 1
    assert last["volume"] == pytest.approx(1.0)  # twice the 20-bar mean
    assert last["trend"] > 0.9  # a strong downtrend before a bullish reversal
    without_volume = patterns.score(o, h, lo, c, None, ["CDLHAMMER"]).to_pylist()[-1]
    assert without_volume["volume"] == 0.5
    # The same hammer after a steady rise: the trend it needs is missing.
    up = 100.0 + np.arange(n) * 1.0
    o2, h2, lo2, c2 = up - 0.8, up + 0.2, up - 1.0, up.copy()
    o2[-1], c2[-1], h2[-1], lo2[-1] = 157.0, 157.3, 157.35, 152.0
    after_rise = patterns.score(o2, h2, lo2, c2, volume, ["CDLHAMMER"]).to_pylist()[-1]
    assert after_rise["bar"] == n - 1 and after_rise["trend"] < 0.1 and not after_rise["accepted"]


def test_streaming_signals_equal_batch_signals(real: dict[str, F64]) -> None:
    cols = [real[c][:5_000] for c in ("open", "high", "low", "close", "volume")]
    batch = patterns.score(*cols)
    engine = patterns.PatternEngine(scoring=True)
    for k in range(5_000):
        engine.push(*(float(x[k]) for x in cols))
    assert engine.signals().equals(batch)


def test_hit_statistics_count_moves_the_signals_way() -> None:
    close = np.array([10.0, 11.0, 12.0, 11.0, 10.0, 9.0])
    names = ["CDLENGULFING", "CDLHAMMER"]
    signals = pa.table(
        {
            "bar": pa.array([0, 1, 2, 3, 5], pa.uint64()),
            "pattern": pa.DictionaryArray.from_arrays(pa.array([0, 0, 0, 1, 1], pa.int32()), pa.array(names)),
            "direction": pa.array([1, 1, -1, 1, 1], pa.int8()),
            "accepted": [True, False, True, True, True],
        }
    )
    stats = patterns.hit_statistics(signals, close, horizon=1).to_pylist()
    by = {(r["pattern"], r["direction"]): r for r in stats}
    assert by[("CDLENGULFING", 1)]["signals"] == 2 and by[("CDLENGULFING", 1)]["hit_rate"] == 1.0
    assert by[("CDLENGULFING", -1)]["hits"] == 1
    assert by[("CDLHAMMER", 1)]["signals"] == 1 and by[("CDLHAMMER", 1)]["hit_rate"] == 0.0  # bar 5 has no future
    assert by[("CDLENGULFING", 1)]["mean_bps"] == pytest.approx(((11 / 10 - 1) + (12 / 11 - 1)) / 2 * 1e4)
    accepted = patterns.hit_statistics(signals, close, horizon=1, accepted_only=True).to_pylist()
    assert sum(r["signals"] for r in accepted) == 3
    with pytest.raises(ValueError, match="horizon"):
        patterns.hit_statistics(signals, close, horizon=0)


def test_confluence_weights_strength_and_labels() -> None:
    assert patterns.timeframe_weight("1m") == 0.8 and patterns.timeframe_weight("15m") == 0.8
    assert patterns.timeframe_weight("1h") == 1.0 and patterns.timeframe_weight("4h") == 1.0
    assert patterns.timeframe_weight("1d") == 1.2 and patterns.timeframe_weight("1w") == 1.2
    all_up = patterns.confluence({"1m": (1, 1.0), "15m": (1, 1.0), "1h": (1, 1.0), "1d": (1, 1.0)})
    assert all_up.score == pytest.approx(1.0) and all_up.signal == "STRONG_BUY" and all_up.strength == "strong"
    mixed = patterns.confluence({"1m": (1, 1.0), "1h": (-1, 1.0), "4h": (-1, 0.5), "1d": (0, 0.0)})
    # bullish 0.8, bearish 1.0 + 0.5, total 0.8 + 1.0 + 1.0 + 1.2
    assert mixed.score == pytest.approx((0.8 - 1.5) / 4.0)
    assert mixed.signal == "NEUTRAL" and mixed.strength == "medium"
    assert patterns.confluence({"1h": (-1, 0.9)}).signal == "STRONG_SELL"
    assert patterns.confluence({"1h": (-1, 0.5)}).signal == "SELL"
    assert patterns.confluence({"1h": (1, 0.5)}).signal == "BUY"
    weak = patterns.confluence({"5m": (1, 1.0), "1h": (-1, 0.2), "1d": (0, 0.0)})
    assert weak.strength == "weak"
    assert patterns.confluence({}).signal == "NEUTRAL"
    with pytest.raises(ValueError, match="bad timeframe"):
        patterns.confluence({"1x": (1, 1.0)})
    with pytest.raises(ValueError, match="within 0..1"):
        patterns.confluence({"1h": (1, 1.5)})


def test_confluence_over_aggregated_timeframes(real: dict[str, F64]) -> None:
    # Roll the real 1m bars up to 15m and 1h with numpy, then vote on the latest closed bars.
    def roll(k: int) -> pa.Table:
        n = len(real["open"]) // k * k
        block = {c: real[c][:n].reshape(-1, k) for c in real}
        return pa.table({
            "open": block["open"][:, 0], "high": block["high"].max(1), "low": block["low"].min(1),
            "close": block["close"][:, -1], "volume": block["volume"].sum(1),
        })

    result = patterns.confluence_of_candles({"1m": roll(1), "15m": roll(15), "1h": roll(60)})
    assert set(result.votes) == {"1m", "15m", "1h"}
    assert result.signal in {"STRONG_BUY", "BUY", "NEUTRAL", "SELL", "STRONG_SELL"}
    assert result.total == pytest.approx(0.8 + 0.8 + 1.0)


def _write_csv(path: Path, real: dict[str, F64], n: int) -> None:
    table = pa.table({"timestamp": np.arange(n) * 60_000, **{k.upper() if k == "close" else k: v[:n] for k, v in real.items()}})
    pacsv.write_csv(table, path)


def test_cli_writes_one_column_per_pattern(tmp_path: Path, real: dict[str, F64], capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bars.csv"
    _write_csv(source, real, 3_000)
    target = tmp_path / "codes.parquet"
    assert main(["patterns", str(source), "--out", str(target), "--scores", "--horizon", "5"]) == 0
    table = pq.read_table(target)
    assert table.column_names == ["timestamp", *patterns.NAMES]
    expected = patterns.detect(*(real[c][:3_000] for c in ("open", "high", "low", "close")))
    for name in patterns.NAMES:
        assert table.schema.field(name).type == pa.int16()
        assert np.array_equal(table.column(name).to_numpy(), expected[name])
    signals = pq.read_table(tmp_path / "codes.signals.parquet")
    assert signals.num_rows == sum(int(np.count_nonzero(v)) for v in expected.values())
    printed = capsys.readouterr().out
    assert "hit rate" in printed and "CDLENGULFING" in printed

    parquet_in = tmp_path / "bars.parquet"
    pq.write_table(pacsv.read_csv(source), parquet_in)
    assert main(["patterns", str(parquet_in), "--out", str(tmp_path / "b.parquet"), "--names", "CDLDOJI,CDLHAMMER"]) == 0
    assert pq.read_table(tmp_path / "b.parquet").column_names == ["timestamp", "CDLDOJI", "CDLHAMMER"]


def test_cli_refuses_bad_candles_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_close = tmp_path / "no_close.csv"
    no_close.write_text("open,high,low\n1,2,0.5\n")
    assert main(["patterns", str(no_close), "--out", str(tmp_path / "x.parquet")]) == 1
    assert "no close column" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("open,high,low,close\n1,2,0.5,1.5\n1,0.9,0.5,1.5\n")
    assert main(["patterns", str(bad), "--out", str(tmp_path / "x.parquet")]) == 1
    assert "invalid bar 1" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_confluence_over_the_candle_aggregators_timeframes() -> None:
    from tradecore import candles

    result = candles.from_recording(data_file("binance/usdm_btcusdt_20240808.gz"), ["1s", "5s", "15s", "1m"])
    call = patterns.confluence_of_candles(result.tables)
    assert list(call.votes) == ["1s", "5s", "15s", "1m"]
    assert call.total == pytest.approx(4 * 0.8)
    # Each vote is the accepted signals of that timeframe's last closed bar.
    for tf, table in result.tables.items():
        cols = [table.column(c).to_numpy() for c in ("open", "high", "low", "close", "volume")]
        expected = patterns.vote_of(patterns.score(*cols), table.num_rows - 1)
        assert call.votes[tf] == expected
