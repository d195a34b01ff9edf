"""The Parquet store: idempotent appends of real bars and trades (overlapping, repeated, out of
order), the conflict rule, crash safety, range reads against pandas, missing intervals."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import data_file
from tradecore import candles
from tradecore.data import store as store_module
from tradecore.data.store import (
    CANDLE_SCHEMA,
    TIME,
    Interval,
    SeriesInfo,
    Store,
    missing_intervals,
)
from tradecore.errors import ConflictError, InvalidArgumentError, SchemaError

CANDLES_FILE = "candles/btcperp_20211231_20220201_1m.csv.gz"
MINUTE = 60_000
VENUE, SYMBOL = "binance-usdm", "BTC/USDT:USDT"


class Crash(BaseException):
    """A process dying mid-operation (not an error the store could catch)."""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The 45k real 1m bars, read with pandas (an independent reader)."""
    df = pd.read_csv(data_file(CANDLES_FILE), parse_dates=["timestamp"])
    df["open_time"] = df.pop("timestamp").to_numpy().astype("datetime64[ms]").astype(np.int64)
    return df


def bars_table(df: pd.DataFrame, closed: bool | None = None) -> pa.Table:
    columns = {"open_time": pa.array(df["open_time"].to_numpy(), TIME)}
    columns |= {c: pa.array(df[c].to_numpy(dtype=np.float64)) for c in ("open", "high", "low", "close", "volume")}
    if closed is not None:
        columns["closed"] = pa.array(np.full(len(df), closed))
    return pa.table(columns)


@pytest.fixture(scope="module")
def bars(frame: pd.DataFrame) -> pa.Table:
    return bars_table(frame)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the store's root with its bytes: "unchanged" means this is equal."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stored(store: Store) -> pa.Table:
    return store.read_candles(VENUE, SYMBOL, "1m").select(["open_time", "open", "high", "low", "close", "volume"])


# ---- idempotent appends ---------------------------------------------------------------------------


def test_real_bars_in_overlapping_shuffled_windows_give_the_original(tmp_path: Path, bars: pa.Table) -> None:
    store = Store(tmp_path)
    rng = np.random.default_rng(7)
    windows = [(s, min(s + 9_000, bars.num_rows)) for s in range(0, bars.num_rows, 7_000)]  # 2,000-bar overlaps
    rng.shuffle(windows)
    written = unchanged = 0
    for lo, hi in windows:
        window = bars.slice(lo, hi - lo).take(pa.array(rng.permutation(hi - lo)))  # rows out of order too
        result = store.append_candles(VENUE, SYMBOL, "1m", window)
        written, unchanged = written + result.written, unchanged + result.unchanged
    assert written == bars.num_rows == 45_031
    assert unchanged == sum(hi - lo for lo, hi in windows) - bars.num_rows
    assert stored(store).equals(bars)
    before = snapshot(tmp_path)
    again = store.append_candles(VENUE, SYMBOL, "1m", bars)
    assert (again.written, again.unchanged, again.files) == (0, 45_031, [])
    assert snapshot(tmp_path) == before


@settings(max_examples=25, deadline=None)
@given(
    windows=st.lists(st.tuples(st.integers(0, 180), st.integers(1, 60)), min_size=1, max_size=6),
    data=st.data(),
)
def test_any_order_of_overlapping_appends_gives_the_same_store(
    windows: list[tuple[int, int]], data: st.DataObject, bars: pa.Table
) -> None:
    series = bars.slice(0, 240)
    orders = [windows, data.draw(st.permutations(windows)), [*windows, *windows]]
    contents = []
    for order in orders:
        with tempfile.TemporaryDirectory() as root:
            store = Store(root)
            for lo, n in order:
                store.append_candles(VENUE, SYMBOL, "1m", series.slice(lo, n))
            contents.append(stored(store))
    covered = sorted({i for lo, n in windows for i in range(lo, min(lo + n, series.num_rows))})
    expected = series.take(pa.array(covered, pa.int64()))
    for content in contents:
        assert content.equals(expected)


def test_aggregated_candles_store_as_they_are(tmp_path: Path) -> None:
    result = candles.from_recording(data_file("binance/usdm_btcusdt_20240808.gz"), ["1s", "1m"])
    store = Store(tmp_path)
    for tf, table in result.tables.items():
        assert store.append_candles("binance-usdm", "BTCUSDT", tf, table).written == table.num_rows
        back = store.read_candles("binance-usdm", "BTCUSDT", tf)
        assert back.select(candles.SCHEMA.names).equals(table)
        assert pc.all(back.column("closed")).as_py()
    assert store.read_candles("binance-usdm", "BTCUSDT", "1s").num_rows == 344  # 23:54:16 … 23:59:59


# ---- conflicts ------------------------------------------------------------------------------------


def test_a_different_closed_bar_is_a_conflict_and_nothing_changes(tmp_path: Path, frame: pd.DataFrame) -> None:
    store = Store(tmp_path)
    store.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[:1000]))
    before = snapshot(tmp_path)
    changed = frame.iloc[900:1100].copy()
    changed.loc[950, "close"] += 1.0
    changed.loc[960, "volume"] = 0.0
    with pytest.raises(ConflictError) as caught:
        store.append_candles(VENUE, SYMBOL, "1m", bars_table(changed))
    error = caught.value
    assert error.key == int(frame.loc[950, "open_time"]) and error.columns == ("close",) and error.count == 2
    assert "2022-01-01T14:51:00Z" in str(error) and "nothing was written" in str(error)
    assert snapshot(tmp_path) == before  # the 100 new bars of that batch were not written either


def test_unclosed_bar_is_replaced_and_an_older_view_is_skipped(tmp_path: Path, frame: pd.DataFrame) -> None:
    store = Store(tmp_path)
    first = frame.iloc[:10].copy()
    store.append_candles(VENUE, SYMBOL, "1m", bars_table(first.iloc[:9], closed=True))
    forming = first.iloc[9:].copy()
    forming["close"] -= 5.0
    store.append_candles(VENUE, SYMBOL, "1m", bars_table(forming, closed=False))
    assert store.read_candles(VENUE, SYMBOL, "1m").column("closed").to_pylist() == [True] * 9 + [False]

    forming["high"] += 1.0  # still forming, newer: replaces
    assert store.append_candles(VENUE, SYMBOL, "1m", bars_table(forming, closed=False)).replaced == 1
    final = store.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[5:12], closed=True))
    assert (final.replaced, final.unchanged, final.written, final.stale) == (1, 4, 2, 0)
    assert stored(store).equals(bars_table(frame.iloc[:12]))
    assert len(list(store.candle_dir(VENUE, SYMBOL, "1m").glob("part-*"))) == 1  # superseded files deleted

    before = snapshot(tmp_path)
    late = store.append_candles(VENUE, SYMBOL, "1m", bars_table(forming, closed=False))
    assert (late.stale, late.written, late.files) == (1, 0, [])
    assert snapshot(tmp_path) == before


def test_two_different_rows_for_one_bar_in_a_batch_are_refused(tmp_path: Path, frame: pd.DataFrame) -> None:
    batch = pd.concat([frame.iloc[:5], frame.iloc[2:3].assign(low=1.0)])
    with pytest.raises(ConflictError, match="two different rows") as caught:
        Store(tmp_path).append_candles(VENUE, SYMBOL, "1m", bars_table(batch))
    assert caught.value.columns == ("low",)
    assert not any(tmp_path.rglob("*.parquet"))
    twice = pd.concat([frame.iloc[:5], frame.iloc[:5]])  # exact repeats inside a batch are fine
    assert Store(tmp_path).append_candles(VENUE, SYMBOL, "1m", bars_table(twice)).written == 5


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda t: t.set_column(1, "open", t.column("open").cast(pa.float32())), "open"),
        (lambda t: t.set_column(0, "open_time", t.column("open_time").cast(pa.timestamp("ms"))), "open_time"),
        (lambda t: t.append_column("foo", t.column("open")), "foo"),
        (lambda t: t.drop_columns(["close"]), "close"),
        (lambda t: t.set_column(0, "open_time", pa.nulls(t.num_rows, TIME)), "open_time"),
        (lambda t: t.append_column("closed", pa.array([True, None] * (t.num_rows // 2))), "closed"),
    ],
)
def test_wrong_schema_is_refused_naming_the_column(
    tmp_path: Path, bars: pa.Table, change: Callable[[pa.Table], pa.Table], column: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        Store(tmp_path).append_candles(VENUE, SYMBOL, "1m", change(bars.slice(0, 10)))
    assert caught.value.column == column and repr(column) in str(caught.value)
    assert not any(tmp_path.rglob("*"))


def test_bad_names_times_and_grids_are_refused(tmp_path: Path, bars: pa.Table) -> None:
    store = Store(tmp_path)
    for venue, symbol, tf in (("..", "X", "1m"), ("v", "", "1m"), ("v", "X", "1M"), ("v", "X", "m")):
        with pytest.raises(InvalidArgumentError):
            store.append_candles(venue, symbol, tf, bars.slice(0, 3))
    with pytest.raises(InvalidArgumentError, match="not on the 5m grid"):
        store.append_candles(VENUE, SYMBOL, "5m", bars.slice(0, 10))
    with pytest.raises(InvalidArgumentError, match="naive"):
        store.read_candles(VENUE, SYMBOL, "1m", start=datetime(2022, 1, 1))
    assert not any(tmp_path.rglob("*.parquet"))


# ---- crash safety -------------------------------------------------------------------------------


def test_a_write_interrupted_midway_leaves_the_store_unchanged(
    tmp_path: Path, bars: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    store.append_candles(VENUE, SYMBOL, "1m", bars.slice(0, 20_000))
    before, content = snapshot(tmp_path), stored(store)
    real_write = store_module._write_parquet

    def dies_halfway(table: pa.Table, path: Path, row_group_size: int) -> None:
        real_write(table, path, row_group_size)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # half a file on disk
        # What a reader sees at this moment is what it would see if the process were killed now.
        assert stored(Store(tmp_path)).equals(content)
        assert ds.dataset(tmp_path / "candles", format="parquet", partitioning="hive").count_rows() == 20_000
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "_write_parquet", dies_halfway)
    with pytest.raises(OSError, match="disk full"):
        store.append_candles(VENUE, SYMBOL, "1m", bars.slice(10_000, 20_000))
    assert snapshot(tmp_path) == before
    assert Store(tmp_path).read_candles(VENUE, SYMBOL, "1m").select(content.column_names).equals(content)

    monkeypatch.undo()
    assert store.append_candles(VENUE, SYMBOL, "1m", bars.slice(10_000, 20_000)).written == 10_000
    assert stored(store).equals(bars.slice(0, 30_000))


def test_a_temporary_file_left_by_a_killed_writer_is_invisible_and_cleaned(tmp_path: Path, bars: pa.Table) -> None:
    store = Store(tmp_path)
    store.append_candles(VENUE, SYMBOL, "1m", bars.slice(0, 100))
    partition = store.candle_dir(VENUE, SYMBOL, "1m")
    leftover = partition / ".tmp-part-deadbeef.parquet"
    leftover.write_bytes(b"PAR1 half a row group")
    assert stored(Store(tmp_path)).equals(bars.slice(0, 100))
    hive = ds.dataset(tmp_path / "candles", format="parquet", partitioning="hive").to_table()  # outside readers
    assert hive.num_rows == 100 and set(hive.column("symbol").to_pylist()) == {SYMBOL}
    store.append_candles(VENUE, SYMBOL, "1m", bars.slice(100, 10))
    assert not leftover.exists()


def test_a_crash_after_commit_before_clean_up_shows_the_new_content_once(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    store.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[:50], closed=False))
    store.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[50:100], closed=False))

    def crash(path: Path) -> None:
        raise Crash

    monkeypatch.setattr(store_module, "_remove", crash)
    with pytest.raises(Crash):  # replaces bars in both files: one merged file supersedes them
        store.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[40:60], closed=True))
    monkeypatch.undo()
    assert len(list(store.candle_dir(VENUE, SYMBOL, "1m").glob("part-*"))) == 3
    fresh = Store(tmp_path)
    assert stored(fresh).equals(bars_table(frame.iloc[:100]))
    assert fresh.read_candles(VENUE, SYMBOL, "1m").column("closed").to_pylist() == [False] * 40 + [True] * 20 + [
        False
    ] * 40
    assert fresh.inventory()[0].rows == 100
    fresh.append_candles(VENUE, SYMBOL, "1m", bars_table(frame.iloc[100:101]))
    assert len(list(store.candle_dir(VENUE, SYMBOL, "1m").glob("part-*"))) == 2  # merged + new; superseded gone


# ---- reads, listing, missing intervals, compaction -----------------------------------------------


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory, bars: pa.Table) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    for lo in range(0, bars.num_rows, 10_000):  # five files
        store.append_candles(VENUE, SYMBOL, "1m", bars.slice(lo, 10_000))
    return store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.one_of(st.none(), st.integers(1_640_991_000_000, 1_643_700_000_000)),
    length=st.one_of(st.none(), st.integers(0, 20 * 86_400_000)),
    as_datetime=st.booleans(),
)
def test_range_reads_equal_pandas_filtering(
    real_store: Store, frame: pd.DataFrame, start: int | None, length: int | None, as_datetime: bool
) -> None:
    end = None if length is None else (start or 1_640_991_660_000) + length
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= frame["open_time"].to_numpy() >= start
    if end is not None:
        mask &= frame["open_time"].to_numpy() < end

    def when(ms: int | None) -> int | datetime | None:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms) if as_datetime and ms else ms

    got = real_store.read_candles(VENUE, SYMBOL, "1m", when(start), when(end))
    assert got.select(["open_time", "open", "high", "low", "close", "volume"]).equals(bars_table(frame[mask]))


def test_a_range_read_opens_only_the_files_it_needs(real_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []
    real_open = store_module._open
    monkeypatch.setattr(store_module, "_open", lambda kind, files: (opened.append(len(files)), real_open(kind, files))[1])
    start = 1_640_991_660_000 + 12_000 * MINUTE
    assert real_store.read_candles(VENUE, SYMBOL, "1m", start, start + 60 * MINUTE).num_rows == 60
    assert opened == [1]
    assert real_store.read_candles(VENUE, SYMBOL, "1m", 0, 1_000).num_rows == 0 and opened == [1]


def test_inventory_lists_every_series(real_store: Store, bars: pa.Table) -> None:
    assert real_store.inventory() == [
        SeriesInfo("candles", VENUE, SYMBOL, "1m", 1_640_991_660_000, 1_643_693_460_000, 45_031, 5)
    ]


def test_missing_intervals_of_real_bars_with_holes(tmp_path: Path, bars: pa.Table) -> None:
    store = Store(tmp_path)
    holes = [(100, 101), (5_000, 5_360), (44_990, 45_031)]  # one bar, six hours, the tail
    keep = np.ones(bars.num_rows, dtype=bool)
    for lo, hi in holes:
        keep[lo:hi] = False
    store.append_candles(VENUE, SYMBOL, "1m", bars.filter(pa.array(keep)))
    t0 = 1_640_991_660_000
    start, end = t0 - 3 * MINUTE - 1, t0 + 45_031 * MINUTE
    expected = [Interval(t0 - 3 * MINUTE, t0)] + [Interval(t0 + lo * MINUTE, t0 + hi * MINUTE) for lo, hi in holes]
    assert store.missing_candles(VENUE, SYMBOL, "1m", start, end) == expected
    assert [i.bars(MINUTE) for i in expected] == [3, 1, 360, 41]
    assert store.missing_candles(VENUE, SYMBOL, "1m", t0, t0 + 100 * MINUTE) == []
    # An empty 5m series from 23:01 to 23:16: the bars of 23:05, 23:10 and 23:15 are missing.
    assert store.missing_candles(VENUE, SYMBOL, "5m", t0, t0 + 15 * MINUTE) == [Interval(t0 + 4 * MINUTE, t0 + 19 * MINUTE)]


@settings(max_examples=60, deadline=None)
@given(
    present=st.lists(st.integers(0, 60), unique=True),
    start=st.integers(-5, 65),
    span=st.integers(0, 70),
    tf=st.sampled_from(["1m", "1h", "1w"]),
)
def test_missing_intervals_are_exactly_the_uncovered_grid(present: list[int], start: int, span: int, tf: str) -> None:
    step = store_module.timeframe_ms(tf)
    origin = store_module.grid_origin(tf)
    times = [origin + k * step for k in present]
    lo, hi = origin + start * step - step // 2, origin + (start + span) * step
    got = missing_intervals(times, step, lo, hi, origin)
    covered = {t for s, e in got for t in range(s, e, step)}
    grid = {origin + k * step for k in range(start, start + span + 1) if lo <= origin + k * step < hi}
    assert covered == grid - set(times)
    assert all(b.start < b.end and a.end < b.start for a, b in zip(got, got[1:]))  # disjoint, merged
    if tf == "1w":
        assert all(datetime.fromtimestamp(s / 1000, UTC).weekday() == 0 for s, _ in got)  # Mondays


def test_compaction_merges_files_once_and_keeps_content(tmp_path: Path, bars: pa.Table) -> None:
    store = Store(tmp_path)
    for lo in range(0, 3_000, 500):
        store.append_candles(VENUE, SYMBOL, "1m", bars.slice(lo, 700))
    store.append_candles(VENUE, "ETHUSDT", "1h", bars.slice(0, 1).set_column(0, "open_time", pa.array([0], TIME)))
    assert len(list(store.candle_dir(VENUE, SYMBOL, "1m").glob("part-*"))) == 6
    assert store.compact() == 1
    files = list(store.candle_dir(VENUE, SYMBOL, "1m").glob("part-*"))
    assert len(files) == 1 and stored(store).equals(bars.slice(0, 3_200))
    before = snapshot(tmp_path)
    assert store.compact() == 0 and snapshot(tmp_path) == before


# ---- trades -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trades() -> pa.Table:
    """The USD-M recording's trades with their ids, parsed with json."""
    with gzip.open(data_file("binance/usdm_btcusdt_20240808.gz"), "rb") as f:
        rows = [json.loads(line.split(b" ", 1)[1])["data"] for line in f if b'@trade"' in line[:80]]
    rows = [r for r in rows if r.get("X", "MARKET") == "MARKET"]
    return pa.table(
        {
            "ts": pa.array([r["T"] for r in rows], TIME),
            "trade_id": [str(r["t"]) for r in rows],
            "price": [float(r["p"]) for r in rows],
            "qty": [float(r["q"]) for r in rows],
            "taker_buy": [not r["m"] for r in rows],
        }
    )


def test_trades_append_idempotently_and_give_the_same_candles(tmp_path: Path, trades: pa.Table) -> None:
    store = Store(tmp_path)
    n = trades.num_rows
    assert n > 20_000
    store.append_trades("binance-usdm", "BTCUSDT", trades.slice(0, n * 2 // 3))
    result = store.append_trades("binance-usdm", "BTCUSDT", trades.slice(n // 3).take(pa.array(np.arange(n - n // 3)[::-1])))
    assert (result.written, result.unchanged) == (n - n * 2 // 3, n * 2 // 3 - n // 3)
    back = store.read_trades("binance-usdm", "BTCUSDT")
    expected = trades.sort_by([("ts", "ascending"), ("trade_id", "ascending")])
    assert back.equals(expected)
    ms = back.column("ts").cast(pa.int64()).to_numpy()
    assert candles.aggregate(ms, back["price"], back["qty"], back["taker_buy"], timeframes=["1m"])["1m"].equals(
        candles.aggregate(trades["ts"].cast(pa.int64()).to_numpy(), trades["price"], trades["qty"],
                          trades["taker_buy"], timeframes=["1m"])["1m"]
    )
    day = list((tmp_path / "trades").rglob("day=*"))
    assert [p.name for p in day] == ["day=2024-08-08"]
    lo, hi = ms[100], ms[5_000]
    got = store.read_trades("binance-usdm", "BTCUSDT", int(lo), int(hi))
    assert got.equals(expected.filter(pc.and_(pc.greater_equal(expected["ts"].cast(pa.int64()), lo),
                                              pc.less(expected["ts"].cast(pa.int64()), hi))))


def test_trades_over_midnight_split_by_day_and_conflicts_are_refused(tmp_path: Path, trades: pa.Table) -> None:
    store = Store(tmp_path)
    later = trades["ts"].cast(pa.int64()).to_numpy() + 3 * MINUTE  # the recording ends at 23:59:59.6
    shifted = trades.set_column(0, "ts", pa.array(later, TIME))
    ms = shifted["ts"].cast(pa.int64()).to_numpy()
    midnight = (int(ms.max()) // 86_400_000) * 86_400_000
    assert ms.min() < midnight <= ms.max()  # the shift puts midnight inside the recording
    result = store.append_trades("binance-usdm", "BTCUSDT", shifted)
    assert result.written == trades.num_rows and len(result.files) == 2
    assert store.read_trades("binance-usdm", "BTCUSDT", midnight).num_rows == int((ms >= midnight).sum())
    assert store.read_trades("binance-usdm", "BTCUSDT", None, midnight).num_rows == int((ms < midnight).sum())
    [info] = store.inventory()
    assert (info.kind, info.rows, info.files, info.first, info.last) == ("trades", trades.num_rows, 2, ms.min(), ms.max())

    before = snapshot(tmp_path)
    bad = shifted.slice(10, 5).set_column(2, "price", pa.array([1.0] * 5))
    with pytest.raises(ConflictError) as caught:
        store.append_trades("binance-usdm", "BTCUSDT", pa.concat_tables([shifted.slice(0, 10), bad]))
    assert caught.value.key == shifted["trade_id"][10].as_py() and caught.value.columns == ("price",)
    assert caught.value.count == 5 and snapshot(tmp_path) == before


def test_store_schema_is_the_aggregator_schema_plus_closed() -> None:
    assert CANDLE_SCHEMA.names == [*candles.SCHEMA.names, "closed"]
    assert CANDLE_SCHEMA.field("open_time").type == pa.timestamp("ms", tz="UTC")
