"""tradecore's 61 candlestick patterns against TA-Lib itself (the `talib` package), bar by bar:
on real 1m bars, on candles aggregated from real trades, on generated adversarial series that make
every pattern fire, under changed candle settings and penetrations, and on hypothesis-made input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pattern_inputs
from tests.conftest import BINANCE_FILES, data_file
from tradecore import candles, patterns

talib = pytest.importorskip("talib")

NAMES = talib.get_function_groups()["Pattern Recognition"]
F64 = npt.NDArray[np.float64]


def reference(name: str, o: F64, h: F64, lo: F64, c: F64, **options: float) -> npt.NDArray[np.int32]:
    return np.asarray(getattr(talib, name)(o, h, lo, c, **options), dtype=np.int32)


def assert_same(label: str, o: F64, h: F64, lo: F64, c: F64, **kwargs: object) -> dict[str, int]:
    """Every pattern's codes equal TA-Lib's at every bar; returns how often each fired."""
    ours = patterns.detect(o, h, lo, c, **kwargs)  # type: ignore[arg-type]
    fired = {}
    for name in NAMES:
        expected = reference(name, o, h, lo, c)
        got = ours[name]
        if not np.array_equal(got, expected):
            k = int(np.flatnonzero(got != expected)[0])
            pytest.fail(f"{label}: {name} differs first at bar {k}: TA-Lib {expected[k]}, tradecore {got[k]}")
        fired[name] = int(np.count_nonzero(expected))
    return fired


def test_the_names_are_talibs_in_its_order() -> None:
    assert list(patterns.NAMES) == NAMES
    assert len(NAMES) == 61


@pytest.fixture(scope="module")
def real_bars() -> tuple[F64, F64, F64, F64]:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(data_file("candles/btcperp_20211231_20220201_1m.csv.gz"))
    return tuple(table.column(c).to_numpy() for c in ("open", "high", "low", "close"))  # type: ignore[return-value]


@pytest.mark.parametrize("threads", [1, 2])
def test_real_1m_bars(real_bars: tuple[F64, F64, F64, F64], threads: int) -> None:
    # Two threads score two consecutive parts of the month, the second engine starting mid-series.
    fired = assert_same(f"45k real 1m bars, {threads} threads", *real_bars, threads=threads)
    # The data README: 50 of the 61 patterns fire on this month.
    assert sum(1 for n in fired.values() if n) == 50


@pytest.mark.parametrize("file", sorted(BINANCE_FILES))
def test_candles_aggregated_from_real_trades(file: str) -> None:
    result = candles.from_recording(data_file(f"binance/{file}"), ["1s", "5s"])
    for tf, table in result.tables.items():
        cols = [table.column(c).to_numpy() for c in ("open", "high", "low", "close")]
        assert len(cols[0]) > 50
        assert_same(f"{file} {tf}", *cols)


def test_generated_series_make_every_pattern_fire() -> None:
    total = dict.fromkeys(NAMES, 0)
    for label, series in pattern_inputs.suite().items():
        for name, count in assert_same(label, *series).items():
            total[name] += count
    never = [name for name, count in total.items() if count == 0]
    assert not never, f"never fired, so never really tested: {never}"


@contextmanager
def talib_settings(changes: dict[str, tuple[str, int, float]]) -> Iterator[None]:
    kinds = talib._ta_lib.CandleSettingType
    ranges = {"RealBody": 0, "HighLow": 1, "Shadows": 2}
    try:
        for name, (range_type, period, factor) in changes.items():
            talib._ta_lib._ta_set_candle_settings(getattr(kinds, name), ranges[range_type], period, factor)
        yield
    finally:
        talib._ta_lib._ta_restore_candle_default_settings(kinds.AllCandleSettings)


@pytest.mark.parametrize(
    "changes",
    [
        {"BodyDoji": ("HighLow", 5, 0.2), "BodyLong": ("HighLow", 20, 0.5)},
        {"ShadowLong": ("Shadows", 3, 1.5), "ShadowVeryLong": ("HighLow", 7, 0.8), "BodyShort": ("Shadows", 4, 1.2)},
        {"Near": ("RealBody", 12, 0.5), "Far": ("Shadows", 2, 1.0), "Equal": ("HighLow", 0, 0.1)},
        {"ShadowVeryShort": ("RealBody", 1, 0.3), "ShadowShort": ("HighLow", 15, 0.2), "BodyVeryLong": ("HighLow", 0, 0.9)},
    ],
    ids=["doji-long", "shadows", "near-far-equal", "short-shadows"],
)
def test_changed_candle_settings(changes: dict[str, tuple[str, int, float]]) -> None:
    series = pattern_inputs.walk(8_000, 11)
    with talib_settings(changes):
        expected = {name: reference(name, *series) for name in NAMES}
    ours = patterns.detect(*series, settings=changes)
    for name in NAMES:
        assert np.array_equal(ours[name], expected[name]), f"{name} under {changes}"


@pytest.mark.parametrize("name", sorted(patterns.DEFAULT_PENETRATION))
@pytest.mark.parametrize("penetration", [0.0, 0.1, 0.9, 1.5])
def test_penetration(name: str, penetration: float) -> None:
    series = pattern_inputs.trends(10_000, 12)
    expected = reference(name, *series, penetration=penetration)
    got = patterns.detect(*series, [name], penetration={name: penetration})[name]
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 10, 11, 12, 13, 15])
def test_series_shorter_than_the_lookback(n: int) -> None:
    o, h, lo, c = pattern_inputs.walk(max(n, 1), 5)
    assert_same(f"{n} bars", o[:n], h[:n], lo[:n], c[:n])


@st.composite
def tick_series(draw: st.DrawFn) -> tuple[F64, F64, F64, F64]:
    """Bars on a tick grid: open gap, body, wicks in ticks; some bars flat (zero range)."""
    n = draw(st.integers(1, 90))
    tick = draw(st.sampled_from([1.0, 0.5, 0.25, 0.01]))
    level = draw(st.integers(200, 5000))
    move = st.tuples(st.integers(-6, 6), st.integers(-6, 6), st.integers(0, 3), st.integers(0, 3), st.integers(0, 9))
    bars = draw(st.lists(move, min_size=n, max_size=n))
    rows = []
    for gap, body, up, down, flat in bars:
        op = level + gap
        cl = op if flat == 0 else op + body
        hi = max(op, cl) + (0 if flat == 0 else up)
        lo = min(op, cl) - (0 if flat == 0 else down)
        rows.append((op, hi, lo, cl))
        level = cl
    arr = np.array(rows, dtype=np.float64)
    arr -= min(0.0, arr.min()) - 1  # keep prices positive
    return tuple(np.ascontiguousarray(arr[:, j] * tick) for j in range(4))  # type: ignore[return-value]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tick_series())
def test_hypothesis_tick_grids(series: tuple[F64, F64, F64, F64]) -> None:
    assert_same("generated", *series)
