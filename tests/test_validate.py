"""Candle validation: the real bars and candles aggregated from real trades, every check made to fire
(and shown quiet on clean series), the score, repair and re-fetching, and `tradecore validate`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import data_file
from tradecore import candles
from tradecore.cli import main
from tradecore.data.store import TIME, Interval, Store, timeframe_ms
from tradecore.data.validate import (
    Report,
    fill_missing,
    quality_score,
    read_candle_file,
    repair,
    validate_candles,
)
from tradecore.errors import InvalidArgumentError, SchemaError

CANDLES_FILE = "candles/btcperp_20211231_20220201_1m.csv.gz"
MINUTE = 60_000
ERROR_CHECKS = ("ohlc", "volume", "finite", "order", "duplicates", "gaps")


def counts(report: Report) -> dict[str, int]:
    return {c.name: c.count for c in report.checks}


def only(report: Report, **expected: int) -> None:
    """The report's counts are ``expected`` for the named checks and zero for every other one."""
    assert counts(report) == {name: expected.get(name, 0) for name in counts(report)}


def table_of(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


# ---- real data ----------------------------------------------------------------------------------


def test_the_real_bars_are_clean_and_their_outliers_match_pandas() -> None:
    report = validate_candles(read_candle_file(data_file(CANDLES_FILE)))
    assert (report.bars, report.timeframe, report.step_inferred) == (45_031, "1m", True)
    assert (report.first, report.last) == (1_640_991_660_000, 1_643_693_460_000)
    assert all(report.check(name).count == 0 for name in ERROR_CHECKS)
    assert not report.has_errors and report.score == 100.0

    closes = pd.read_csv(data_file(CANDLES_FILE))["close"]
    returns = closes.pct_change().dropna()
    q1, q3 = returns.quantile([0.25, 0.75])
    fences = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    flagged = returns[(returns < fences[0]) | (returns > fences[1])]
    outliers = report.check("outliers")
    assert outliers.count == len(flagged) == 2_836
    assert [r["index"] for r in outliers.rows] == list(flagged.index)
    assert outliers.details["low_fence"] == pytest.approx(fences[0], rel=1e-12)


@pytest.mark.parametrize(
    ("name", "seconds_without_trades"),
    [("usdm_btcusdt_20240808.gz", 0), ("spot_btcusdt_20240808.gz", 2), ("cm_btcusd_perp_20240808.gz", 142)],
)
def test_candles_aggregated_from_real_trades_are_clean_and_unfilled_gaps_are_counted(
    name: str, seconds_without_trades: int
) -> None:
    path = data_file(f"binance/{name}")
    filled = candles.from_recording(path, ["1s", "1m"]).tables
    unfilled = candles.from_recording(path, ["1s"], fill_gaps=False).tables["1s"]
    for tf, table in filled.items():
        report = validate_candles(table)
        assert report.timeframe == tf and not report.has_errors and report.score == 100.0
    report = validate_candles(unfilled, "1s")
    assert filled["1s"].num_rows - unfilled.num_rows == seconds_without_trades
    assert report.check("gaps").count == seconds_without_trades
    assert all(report.check(n).count == 0 for n in ERROR_CHECKS if n != "gaps")


# ---- every check fires, and stays quiet on clean series -----------------------------------------


@st.composite
def clean_series(draw: st.DrawFn) -> tuple[pd.DataFrame, str]:
    """Consistent bars on a timeframe's grid whose returns are a shuffled even spread over ±1 %,
    so that none lies beyond the IQR fences (they are at ±2 %)."""
    n = draw(st.integers(8, 120))
    tf = draw(st.sampled_from(["1m", "5m", "1h"]))
    step = timeframe_ms(tf)
    start = draw(st.integers(1_500_000_000, 1_800_000_000)) * 1000 // step * step
    returns = np.array(draw(st.permutations(list(np.linspace(-0.01, 0.01, n - 1)))))
    close = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wicks = np.array(draw(st.lists(st.floats(0, 0.005), min_size=2 * n, max_size=2 * n)))
    volume = draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(start + step * np.arange(n), unit="ms"),
        "open": open_, "high": np.maximum(open_, close) * (1 + wicks[:n]),
        "low": np.minimum(open_, close) * (1 - wicks[n:]), "close": close, "volume": volume,
    })
    return frame, tf


SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(clean_series())
def test_clean_series_raise_nothing(series: tuple[pd.DataFrame, str]) -> None:
    frame, tf = series
    report = validate_candles(table_of(frame))
    only(report)
    assert report.timeframe == tf and report.score == 100.0


@SETTINGS
@given(clean_series(), st.data())
def test_ohlc_fires_on_a_high_below_the_body(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    i = data.draw(st.integers(0, len(frame) - 1))
    frame.loc[i, "high"] = max(frame.loc[i, "open"], frame.loc[i, "close"]) * 0.999
    report = validate_candles(table_of(frame), tf)
    assert report.check("ohlc").count == 1 and report.check("ohlc").rows[0]["index"] == i
    assert "high < max(open, close)" in report.check("ohlc").rows[0]["reason"]
    assert all(report.check(n).count == 0 for n in ERROR_CHECKS if n != "ohlc")
    assert report.has_errors and report.score == math.floor(10_000 * (1 - 1 / len(frame))) / 100


@SETTINGS
@given(clean_series(), st.data())
def test_volume_fires_on_a_negative_volume(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    i = data.draw(st.integers(0, len(frame) - 1))
    frame.loc[i, "volume"] = -data.draw(st.floats(1e-9, 1e9))
    report = validate_candles(table_of(frame), tf)
    only(report, volume=1)
    assert report.check("volume").rows[0]["index"] == i and report.has_errors


@SETTINGS
@given(clean_series(), st.data())
def test_finite_fires_on_nan_infinity_and_nulls(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    i = data.draw(st.integers(1, len(frame) - 2))
    column = data.draw(st.sampled_from(["open", "high", "low", "close", "volume"]))
    frame.loc[i, column] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf, None]))
    report = validate_candles(table_of(frame), tf)
    assert report.check("finite").count == 1 and report.check("finite").rows[0]["reason"] == column
    assert all(report.check(n).count == 0 for n in ERROR_CHECKS if n != "finite")
    assert report.has_errors and json.dumps(report.to_dict())  # no NaN leaks into the JSON


@SETTINGS
@given(clean_series(), st.data())
def test_order_fires_on_swapped_bars(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    i = data.draw(st.integers(0, len(frame) - 2))
    swapped = frame.iloc[[*range(i), i + 1, i, *range(i + 2, len(frame))]]
    report = validate_candles(table_of(swapped), tf)
    only(report, order=1)
    assert report.check("order").rows[0]["index"] == i + 1


@SETTINGS
@given(clean_series(), st.data(), st.booleans())
def test_duplicates_fire_identical_or_conflicting(
    series: tuple[pd.DataFrame, str], data: st.DataObject, conflicting: bool
) -> None:
    frame, tf = series
    i = data.draw(st.integers(0, len(frame) - 1))
    copy = frame.iloc[[i]].copy()
    if conflicting:
        copy["volume"] = copy["volume"] + 1.0
    doubled = pd.concat([frame.iloc[: i + 1], copy, frame.iloc[i + 1 :]])
    report = validate_candles(table_of(doubled), tf)
    dup = report.check("duplicates")
    assert (dup.count, dup.details["identical"], dup.details["conflicting"]) == (1, int(not conflicting), int(conflicting))
    assert [r["index"] for r in dup.rows] == ([i, i + 1] if conflicting else [i + 1])
    assert all(report.check(n).count == 0 for n in ERROR_CHECKS if n != "duplicates")
    expected = (1 - (2 if conflicting else 0.5) / len(doubled)) * 10_000
    assert report.score == math.floor(expected) / 100


@SETTINGS
@given(clean_series(), st.data())
def test_gaps_fire_with_the_exact_interval(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    step = timeframe_ms(tf)
    i = data.draw(st.integers(1, len(frame) - 2))
    k = data.draw(st.integers(1, len(frame) - 1 - i))
    holed = pd.concat([frame.iloc[:i], frame.iloc[i + k :]])
    report = validate_candles(table_of(holed), tf)
    t0 = int(frame["timestamp"].iloc[0].value // 1_000_000)
    only(report, gaps=k, outliers=report.check("outliers").count)
    assert report.check("gaps").rows == [
        {"start": report.check("gaps").rows[0]["start"], "end": report.check("gaps").rows[0]["end"],
         "start_ms": t0 + i * step, "end_ms": t0 + (i + k) * step, "bars": k}
    ]
    assert report.score == math.floor(10_000 * (1 - k / len(frame))) / 100


@SETTINGS
@given(clean_series(), st.data())
def test_outliers_fire_on_a_jump_but_are_not_errors(series: tuple[pd.DataFrame, str], data: st.DataObject) -> None:
    frame, tf = series
    i = data.draw(st.integers(1, len(frame) - 1))
    frame.loc[i:, ["open", "high", "low", "close"]] *= 1.05  # the market jumps 5 % at bar i
    report = validate_candles(table_of(frame), tf)
    only(report, outliers=1)
    assert report.check("outliers").rows[0]["index"] == i
    assert not report.has_errors and report.score == 100.0


def test_the_timeframe_given_overrides_the_median_step() -> None:
    start = 1_600_000_000_000
    frame = pd.DataFrame({"timestamp": [start, start + 60_000, start + 120_000], "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                          "volume": 0.0})
    assert validate_candles(table_of(frame)).timeframe == "1m"
    assert validate_candles(table_of(frame), "30s").check("gaps").count == 2
    assert validate_candles(table_of(frame.assign(timestamp=frame["timestamp"] // 1000))).timeframe == "1m"  # seconds


def test_the_quality_score_formula() -> None:
    assert quality_score(100, 0, 0, 0) == 100.0
    assert quality_score(100, 1, 0, 0) == 99.0
    assert quality_score(90, 3, 2, 10) == 86.0  # (3 + 1 + 10) / 100
    assert quality_score(1_000_000, 1, 0, 0) == 99.99  # rounded down: any error shows
    assert quality_score(0, 0, 0, 0) == 0.0


@pytest.mark.parametrize(
    "column",
    [
        pa.array([1_600_000_000, 1_600_000_060]),  # seconds
        pa.array([1_600_000_000_000, 1_600_000_060_000]),  # ms
        pa.array([1_600_000_000_000_000, 1_600_000_060_000_000]),  # µs
        pa.array([1_600_000_000_000_000_000, 1_600_000_060_000_000_000]),  # ns
        pa.array([1_600_000_000, 1_600_000_060], pa.timestamp("s", tz="UTC")),
        pa.array([1_600_000_000_000_000_000, 1_600_000_060_000_000_000], pa.timestamp("ns")),  # naive is UTC
    ],
)
def test_times_in_any_unit_are_read_as_ms(column: pa.Array) -> None:
    table = pa.table({"time": column, "open": [1.0, 1.0], "high": [1.0, 1.0], "low": [1.0, 1.0],
                      "close": [1.0, 1.0], "volume": [1.0, 1.0]})
    report = validate_candles(table)
    assert (report.first, report.last, report.timeframe) == (1_600_000_000_000, 1_600_000_060_000, "1m")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        (pa.table({"timestamp": pa.array([1_600_000_000_000_000_001], pa.timestamp("ns")), "open": [1.0],
                   "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]}), "timestamp"),
        (pa.table({"timestamp": ["yesterday"], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0],
                   "volume": [1.0]}), "timestamp"),
        (pa.table({"ts": [1], "open": [1.0]}), "timestamp"),
        (pa.table({"timestamp": [1_600_000_000_000], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}),
         "volume"),
    ],
)
def test_unreadable_tables_are_refused_naming_the_column(table: pa.Table, column: str) -> None:
    with pytest.raises(SchemaError) as caught:
        validate_candles(table)
    assert caught.value.column == column


# ---- repair and re-fetching ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return pd.read_csv(data_file(CANDLES_FILE), parse_dates=["timestamp"]).iloc[:200]


def broken(real: pd.DataFrame) -> pd.DataFrame:
    """The first 200 real bars with one of each problem."""
    frame = real.copy()
    frame.loc[30, "high"] = frame.loc[30, "close"] - 1.0  # invalid bar
    conflicting = frame.iloc[[20]].assign(volume=frame.loc[20, "volume"] + 1)
    frame = pd.concat([frame.iloc[:11], frame.iloc[[10]], frame.iloc[11:21], conflicting, frame.iloc[21:40],
                       frame.iloc[45:50], frame.iloc[[51, 50]], frame.iloc[52:]])  # 40-44 missing, 50/51 swapped
    return frame.reset_index(drop=True)


def ms_of(real: pd.DataFrame, i: int) -> int:
    return int(real["timestamp"].iloc[i].value // 1_000_000)


def test_repair_drops_what_it_cannot_trust_and_lists_it_for_fetching(real: pd.DataFrame) -> None:
    table = table_of(broken(real))
    report = validate_candles(table)
    only(report, ohlc=1, duplicates=2, order=1, gaps=5, outliers=report.check("outliers").count)
    assert report.check("duplicates").details == {"identical": 1, "conflicting": 1, "conflicting_rows": 2}
    fixed = repair(table, report)
    assert (fixed.dropped_identical, fixed.dropped_conflicting, fixed.dropped_invalid) == (1, 2, 1)
    assert fixed.table.num_rows == 200 - 5 - 2
    assert fixed.table.column_names == table.column_names and fixed.table.schema == table.schema
    refetch = [Interval(ms_of(real, a), ms_of(real, b)) for a, b in ((20, 21), (30, 31), (40, 45))]
    assert fixed.refetch == refetch
    again = validate_candles(fixed.table, "1m")
    only(again, gaps=7, outliers=again.check("outliers").count)
    assert [(r["start_ms"], r["end_ms"]) for r in again.check("gaps").rows] == refetch


def test_fill_missing_with_a_fetcher_restores_the_original(real: pd.DataFrame) -> None:
    original = table_of(real)
    table = table_of(broken(real))
    fixed = repair(table, validate_candles(table))
    asked: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> pa.Table:
        asked.append((start, end))
        ms = real["timestamp"].to_numpy().astype("datetime64[ms]").astype(np.int64)
        return table_of(real[(ms >= start) & (ms < end)])

    filled = fill_missing(fixed.table, fixed.refetch, fetch, MINUTE)
    assert asked == [tuple(i) for i in fixed.refetch]
    assert (filled.fetched, filled.still_missing) == (7, [])
    assert filled.table.equals(original)
    assert not validate_candles(filled.table).has_errors

    nothing = fill_missing(fixed.table, fixed.refetch, lambda s, e: table_of(real.iloc[:0]), MINUTE)
    assert (nothing.fetched, nothing.still_missing, nothing.table.num_rows) == (0, fixed.refetch, 193)
    with pytest.raises(InvalidArgumentError, match="outside"):
        fill_missing(fixed.table, fixed.refetch, lambda s, e: table_of(real.iloc[:1]), MINUTE)
    with pytest.raises(SchemaError) as caught:
        fill_missing(fixed.table, fixed.refetch, lambda s, e: table_of(real.iloc[:0]).drop_columns(["low"]), MINUTE)
    assert caught.value.column == "low"


# ---- the command line -----------------------------------------------------------------------------


def run_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report.json"
    code = main(["validate", *args, "--report", str(report)])
    return code, json.loads(report.read_text())


def test_cli_on_the_real_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(tmp_path, str(data_file(CANDLES_FILE)))
    assert code == 0 and document["errors"] is False
    [entry] = document["reports"]  # type: ignore[misc]
    assert (entry["bars"], entry["timeframe"], entry["score"]) == (45_031, "1m", 100.0)
    assert entry["checks"]["outliers"]["count"] == len(entry["checks"]["outliers"]["rows"]) == 2_836
    assert all(entry["checks"][name]["count"] == 0 for name in ERROR_CHECKS)
    printed = capsys.readouterr().out
    assert "quality score 100.00 / 100 (no errors)" in printed and "first 5 of 2,836" in printed


def test_cli_on_a_broken_csv_with_repair(tmp_path: Path, real: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bars.csv.gz"
    broken(real).to_csv(source, index=False)
    before = source.read_bytes()
    code, document = run_json(tmp_path, str(source), "--timeframe", "1m", "--repair")
    assert code == 1 and document["errors"] is True
    [entry] = document["reports"]  # type: ignore[misc]
    checks = entry["checks"]
    assert {n: checks[n]["count"] for n in ERROR_CHECKS} == {
        "ohlc": 1, "volume": 0, "finite": 0, "order": 1, "duplicates": 2, "gaps": 5
    }
    assert checks["gaps"]["rows"][0]["start"] == "2021-12-31T23:41:00Z" and checks["gaps"]["rows"][0]["bars"] == 5
    # 197 rows: bad are the invalid bar, the one out of order and the two conflicting; ½ for the
    # identical repeat; 5 missing bars.
    assert entry["score"] == math.floor(10_000 * (1 - (1 + 1 + 2 + 0.5 + 5) / (197 + 5))) / 100 == 95.29
    assert source.read_bytes() == before  # the input is never touched
    target = tmp_path / "bars.repaired.parquet"
    assert entry["repair"]["path"] == str(target) and entry["repair"]["dropped_identical"] == 1
    assert [(r["start_ms"], r["end_ms"]) for r in entry["repair"]["refetch"]] == [
        (ms_of(real, a), ms_of(real, b)) for a, b in ((20, 21), (30, 31), (40, 45))
    ]
    repaired = pq.read_table(target)
    assert repaired.num_rows == 193
    assert main(["validate", str(target), "--timeframe", "1m"]) == 1  # still the gaps to fetch
    printed = capsys.readouterr().out
    assert "OHLC consistency" in printed and "to fetch again (3 interval(s)" in printed


def test_cli_on_a_store(tmp_path: Path, real: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    bars = pa.table({
        "open_time": pa.array(real["timestamp"].to_numpy().astype("datetime64[ms]").astype(np.int64), TIME),
        **{c: pa.array(real[c].to_numpy()) for c in ("open", "high", "low", "close", "volume")},
    })
    store = Store(tmp_path / "store")
    store.append_candles("binance-usdm", "BTCUSDT", "1m", bars.slice(0, 100))
    store.append_candles("binance-usdm", "BTCUSDT", "1m", bars.slice(110))
    code, document = run_json(tmp_path, str(tmp_path / "store"))
    [entry] = document["reports"]  # type: ignore[misc]
    assert code == 1 and entry["timeframe"] == "1m" and entry["timeframe_inferred"] is False
    assert entry["checks"]["gaps"]["count"] == 10 and entry["bars"] == 190
    assert main(["validate", str(tmp_path / "store"), "--repair"]) == 1
    assert "--repair works on a candles file" in capsys.readouterr().err


def test_cli_refuses_a_file_without_the_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bars.csv"
    source.write_text("timestamp,open,high,low\n2022-01-01 00:00:00,1,1,1\n")
    assert main(["validate", str(source)]) == 1
    assert "no 'close' column" in capsys.readouterr().err
