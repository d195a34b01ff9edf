"""The freqtrade side of the backtest-throughput benchmark: the trend-following strategy on a year
of 1m bars (`backtest_data.year_of_bars`), backtested by freqtrade in its own virtualenv.

    python benches/freqtrade_peer.py                 # the year, then a 1-day run (freqtrade's startup)
    python benches/freqtrade_peer.py --no-startup    # the year only
    python benches/freqtrade_peer.py --keep DIR      # leave config, strategy, data and results in DIR

freqtrade is not a dependency of tradecore (its pins conflict with ours): it is run as a program,
`$FREQTRADE_BIN` if set, else `freqtrade` on PATH, else /work/ftvenv/bin/freqtrade; when none is
there the bench prints why and skips (exit status 0).

What `run_freqtrade(columns, workdir)` does:
  - writes the bars as freqtrade's data (feather: `user_data/data/binance/BTC_USDT-1m.feather`,
    date as timestamp[ms, UTC], OHLCV float64), and their 1h bars beside them (`BTC_USDT-1h.feather`:
    freqtrade's informative timeframes read their own files, as `download-data` leaves them; it
    does not resample), the strategy (`TradecoreTrend`, below) and a config into `workdir`;
  - starts tradecore's local exchange (`python -m tradecore.cli sim --venue binance-spot`, on the
    spot recording) and points freqtrade's ccxt at it (`exchange.ccxt_config` and
    `ccxt_async_config` `urls.api`, as `tradecore.data.history.binance_api_urls`): freqtrade
    loads Binance's markets through ccxt before it backtests, and there is no internet here;
  - runs `freqtrade backtesting --timerange ... --cache none --export trades` in a subprocess
    (wall time of that subprocess = "seconds": freqtrade's startup, data loading, indicators,
    the backtest loop and its report), then stops the exchange;
  - reads the trade count and total profit from freqtrade's exported result.

The strategy (interface 3, timeframe 1m, 1h informative by `@informative('1h')`): long when, on
the last closed 1h bar, EMA20 > EMA50 > EMA200 and ADX(14) >= 25 and at least 2 of 3 momentum
confirmations hold (RSI(14) > 50; MACD(12,26,9) above its signal; Stochastic(14,3,3) slow %K above
%D); exit when the EMA alignment breaks; stop-loss -4% (freqtrade's stoploss, on the 1m bars),
no ROI (`minimal_roi {"0": 100}`), fee 0.1% a side, one trade at a time with the whole wallet
(`stake_amount: "unlimited"`, 10,000 USDT, freqtrade's default tradable_balance_ratio 0.99) in
place of tradecore's 2% risk sizing (sizing changes neither the signals nor the work per bar).
Indicators are TA-Lib's (freqtrade's venv has TA-Lib, as tradecore does). freqtrade merges the 1h
columns into the 1m frame with forward fill, a 1h bar showing first on the 1m bar that closes
it (no look-ahead).

At startup freqtrade's backtesting asks the exchange only for exchangeInfo (ccxt's Binance class
loads spot /api/v3, USD-M /fapi/v1 and COIN-M /dapi/v1 markets), which the local exchange serves;
nothing else goes over the network. (`freqtrade list-markets` also wants /api/v3/ticker/24hr,
which the local exchange does not have; backtesting with a StaticPairList does not.)

Measured on the 2-core development machine (freqtrade 2026.9, two runs, shared and noisy: load
average ~1 before starting): the year 21.9 s and 29.4 s (24,000 and 17,900 bars/s), 31 trades
(26 exits on the broken alignment, 5 stop-losses), profit -45.00% (the market: -89.6%); the
1-day run (freqtrade's fixed cost: interpreter and imports, config, markets from the exchange,
strategy, report) 3.4 s and 4.4 s, ~15% of the year's run. From freqtrade's log in the first
run: loading the 1m data 0.5 s, freqtrade's tick-size detection over every price 5.2 s
(`get_tick_size_over_time`, a Python call per value), 1h indicators, merge and signals 0.75 s,
the backtest loop 10.3 s, the rest (startup, stats, report and the exported zip) ~5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backtest_data import CANDLES, DATA, MINUTE_MS, year_of_bars  # noqa: E402

SPOT = DATA / "binance" / "spot_btcusdt_20240808.gz"
FTVENV_BIN = Path("/work/ftvenv/bin/freqtrade")
PAIR = "BTC/USDT"
STRATEGY = "TradecoreTrend"
SIM_START_TIMEOUT_S = 60.0
#: A day of 1m bars: the run that measures freqtrade's fixed cost (startup and report).
DAY_MS = 86_400_000

STRATEGY_SOURCE = '''\
"""tradecore's trend following, as a freqtrade strategy (written by benches/freqtrade_peer.py)."""

import talib.abstract as ta
from pandas import DataFrame

from freqtrade.strategy import IStrategy, informative


class TradecoreTrend(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = False
    minimal_roi = {"0": 100}
    stoploss = -0.04
    trailing_stop = False
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = False
    process_only_new_candles = True
    # The indicators warm up on the data itself (EMA200 on 1h bars: 200 hours); no signal can
    # fire before they have values, so no bars are set aside.
    startup_candle_count = 0

    @informative("1h")
    def populate_indicators_1h(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema20"] = ta.EMA(dataframe, timeperiod=20)
        dataframe["ema50"] = ta.EMA(dataframe, timeperiod=50)
        dataframe["ema200"] = ta.EMA(dataframe, timeperiod=200)
        dataframe["adx"] = ta.ADX(dataframe, timeperiod=14)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        macd = ta.MACD(dataframe, fastperiod=12, slowperiod=26, signalperiod=9)
        dataframe["macd"] = macd["macd"]
        dataframe["macdsignal"] = macd["macdsignal"]
        stoch = ta.STOCH(dataframe, fastk_period=14, slowk_period=3, slowk_matype=0,
                         slowd_period=3, slowd_matype=0)
        dataframe["slowk"] = stoch["slowk"]
        dataframe["slowd"] = stoch["slowd"]
        aligned = (dataframe["ema20"] > dataframe["ema50"]) & (dataframe["ema50"] > dataframe["ema200"])
        confirmations = (
            (dataframe["rsi"] > 50).astype(int)
            + (dataframe["macd"] > dataframe["macdsignal"]).astype(int)
            + (dataframe["slowk"] > dataframe["slowd"]).astype(int)
        )
        dataframe["aligned"] = aligned.astype(int)
        dataframe["entry"] = (aligned & (dataframe["adx"] >= 25) & (confirmations >= 2)).astype(int)
        return dataframe

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["entry_1h"] == 1, ["enter_long", "enter_tag"]] = (1, "trend")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["aligned_1h"] == 0, ["exit_long", "exit_tag"]] = (1, "alignment broken")
        return dataframe
'''


class FreqtradeMissing(RuntimeError):
    """No freqtrade program to run: the bench skips."""


def freqtrade_bin() -> str:
    """The freqtrade program: $FREQTRADE_BIN, else `freqtrade` on PATH, else /work/ftvenv's.
    Raises FreqtradeMissing, saying where it looked, when there is none."""
    wanted = os.environ.get("FREQTRADE_BIN")
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise FreqtradeMissing(f"FREQTRADE_BIN={wanted!r} is not an executable")
        return found
    found = shutil.which("freqtrade")
    if found is not None:
        return found
    if os.access(FTVENV_BIN, os.X_OK):
        return str(FTVENV_BIN)
    raise FreqtradeMissing(f"no freqtrade: FREQTRADE_BIN is unset, none on PATH and none at {FTVENV_BIN} "
                           "(install freqtrade in a virtualenv of its own and set FREQTRADE_BIN)")


def _child_env() -> dict[str, str]:
    """The environment for freqtrade: ours without the variables that would put our virtualenv's
    packages (or tradecore) on its path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def hourly(columns: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """1h bars of the 1m bars (by open time floored to the hour: first open, highest high, lowest
    low, last close, summed volume), as freqtrade's `download-data` would have stored them beside
    the 1m ones."""
    t = np.asarray(columns["time"], dtype=np.int64)
    hour = t - t % 3_600_000
    starts = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1]])
    ends = np.r_[starts[1:], len(t)] - 1
    return {
        "time": hour[starts],
        "open": np.asarray(columns["open"], dtype=np.float64)[starts],
        "high": np.maximum.reduceat(np.asarray(columns["high"], dtype=np.float64), starts),
        "low": np.minimum.reduceat(np.asarray(columns["low"], dtype=np.float64), starts),
        "close": np.asarray(columns["close"], dtype=np.float64)[ends],
        "volume": np.add.reduceat(np.asarray(columns["volume"], dtype=np.float64), starts),
    }


def write_data(columns: Mapping[str, npt.NDArray[Any]], datadir: Path, timeframe: str = "1m") -> Path:
    """Bars as freqtrade's feather file for BTC/USDT spot, in `datadir`."""
    import pyarrow as pa
    import pyarrow.feather as feather

    table = pa.table({
        "date": pa.array(np.asarray(columns["time"], dtype=np.int64), type=pa.timestamp("ms", tz="UTC")),
        **{name: pa.array(np.asarray(columns[name], dtype=np.float64))
           for name in ("open", "high", "low", "close", "volume")},
    })
    datadir.mkdir(parents=True, exist_ok=True)
    path = datadir / f"{PAIR.replace('/', '_')}-{timeframe}.feather"
    feather.write_feather(table, path, compression="lz4", compression_level=9)
    return path


def write_config(workdir: Path, rest_url: str) -> Path:
    """freqtrade's config for the bench, its ccxt pointed at the local exchange at `rest_url`."""
    from tradecore.data.history import binance_api_urls

    base = rest_url.rstrip("/")
    base = base[: -len("/api/v3")] if base.endswith("/api/v3") else base
    ccxt = {"enableRateLimit": False, "urls": {"api": binance_api_urls(base)}}
    config = {
        "bot_name": "tradecore-bench",
        "trading_mode": "spot",
        "margin_mode": "",
        "dry_run": True,
        "dry_run_wallet": 10_000,
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "max_open_trades": 1,
        "fee": 0.001,
        "timeframe": "1m",
        "minimal_roi": {"0": 100},
        "stoploss": -0.04,
        "entry_pricing": {"price_side": "same", "use_order_book": False, "price_last_balance": 0.0},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "exchange": {
            "name": "binance",
            "key": "",
            "secret": "",
            "ccxt_config": ccxt,
            "ccxt_async_config": ccxt,
            "pair_whitelist": [PAIR],
            "pair_blacklist": [],
        },
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "feather",
        "dataformat_trades": "feather",
        "user_data_dir": str(workdir / "user_data"),
        "datadir": str(workdir / "user_data" / "data" / "binance"),
        "strategy_path": str(workdir / "strategies"),
        "db_url": "sqlite://",
        "internals": {"process_throttle_secs": 5},
    }
    path = workdir / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_strategy(workdir: Path) -> Path:
    path = workdir / "strategies" / f"{STRATEGY}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STRATEGY_SOURCE)
    return path


@contextlib.contextmanager
def local_exchange(recording: Path = SPOT) -> Iterator[str]:
    """tradecore's local Binance spot exchange in a subprocess (as tests/conftest.py's
    start_sim_cli); yields its REST URL, stops it (Ctrl-C) on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tradecore.cli", "sim", "--recording", str(recording), "--venue", "binance-spot",
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Ctrl-C"):
                break
        rest = next((w for w in "".join(printed).split() if w.startswith("http://")), None)
        if rest is None:
            err = process.stderr.read() if process.stderr and process.poll() is not None else ""
            raise RuntimeError(f"tradecore sim did not start: {''.join(printed)}{err}")
        yield rest
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _day(ms: int) -> str:
    return str(np.datetime64(ms, "ms").astype("datetime64[D]")).replace("-", "")


def timerange(columns: Mapping[str, npt.NDArray[Any]], days: int | None = None) -> str:
    """freqtrade's --timerange over the bars (whole days: the bars start at midnight), or over
    their first `days` days."""
    t = np.asarray(columns["time"], dtype=np.int64)
    start = int(t[0])
    end = start + days * DAY_MS if days is not None else int(t[-1]) + MINUTE_MS
    return f"{_day(start)}-{_day(end)}"


def read_result(results_dir: Path) -> dict[str, Any]:
    """The strategy's stats from freqtrade's last exported backtest (a zip holding the JSON)."""
    last = json.loads((results_dir / ".last_result.json").read_text())["latest_backtest"]
    path = results_dir / last
    if path.suffix == ".zip":
        # The zip holds <name>.json (the results) beside the config, strategy and feather files.
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read(path.stem + ".json"))
    else:
        data = json.loads(path.read_text())
    stats: dict[str, Any] = data["strategy"][STRATEGY]
    return stats


def run_freqtrade(columns: Mapping[str, npt.NDArray[Any]], workdir: str | os.PathLike[str], *,
                  days: int | None = None, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Backtests the trend strategy on `columns` (as `year_of_bars` gives) with freqtrade, in
    `workdir` (data, config, strategy and results are written there). `days` limits the
    timerange to the first days of the bars. Returns {"seconds": wall time of the freqtrade
    subprocess, "bars": 1m bars in the timerange, "trades", "profit_pct": total profit in % of
    the starting wallet, "timerange", "freqtrade": the program}. Raises FreqtradeMissing when
    there is no freqtrade, RuntimeError when it fails."""
    program = freqtrade_bin()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    datadir = work / "user_data" / "data" / "binance"
    results = work / "user_data" / "backtest_results"
    results.mkdir(parents=True, exist_ok=True)
    write_data(columns, datadir, "1m")
    write_data(hourly(columns), datadir, "1h")
    write_strategy(work)
    span = timerange(columns, days)
    t = np.asarray(columns["time"], dtype=np.int64)
    bars = len(t) if days is None else int(np.count_nonzero(t < t[0] + days * DAY_MS))
    with local_exchange() as rest_url:
        config = write_config(work, rest_url)
        command = [program, "backtesting", "--config", str(config), "--strategy", STRATEGY,
                   "--timerange", span, "--cache", "none", "--export", "trades",
                   "--backtest-directory", str(results), "--logfile", str(work / "freqtrade.log")]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=work, env=_child_env(), capture_output=True, text=True,
                              timeout=timeout_s)
        seconds = time.perf_counter() - started
    (work / "freqtrade.out").write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not (results / ".last_result.json").exists():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"freqtrade backtesting failed (exit status {done.returncode}; all it printed is in "
                           f"{work / 'freqtrade.out'}):\n{tail}")
    stats = read_result(results)
    return {
        "seconds": seconds,
        "bars": bars,
        "trades": int(stats["total_trades"]),
        "profit_pct": float(stats["profit_total"]) * 100.0,
        "timerange": span,
        "freqtrade": program,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-startup", action="store_true", help="skip the 1-day run that measures startup")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    try:
        program = freqtrade_bin()
    except FreqtradeMissing as e:
        print(f"skipped: {e}")
        return 0
    for needed in (CANDLES, SPOT):
        if not needed.exists():
            print(f"skipped: {needed} not found (set TRADECORE_DATA to the shared data folder)")
            return 0
    columns = year_of_bars(CANDLES)
    version = subprocess.run([program, "--version"], capture_output=True, text=True, env=_child_env()).stdout
    print(f"freqtrade: {program} ({next((l.split()[-1] for l in version.splitlines() if 'Freqtrade' in l), '?')})")
    runs: list[tuple[str, int | None]] = [("year", None)] + ([] if args.no_startup else [("1 day", 1)])
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        base = args.keep if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ftbench-")))
        for label, days in runs:
            r = run_freqtrade(columns, base / label.replace(" ", ""), days=days)
            results[label] = r
            print(f"{label:>6}: {r['bars']:>9,} bars  {r['seconds']:7.2f} s  {r['bars'] / r['seconds']:>10,.0f} bars/s  "
                  f"{r['trades']:>5} trades  profit {r['profit_pct']:+.2f}%  (--timerange {r['timerange']})")
    if "1 day" in results:
        year, day = results["year"], results["1 day"]
        work = year["seconds"] - day["seconds"]
        print(f"startup (1-day run) {day['seconds']:.2f} s = {day['seconds'] / year['seconds']:.0%} of the year's run; "
              f"the year less that: {work:.2f} s, {(year['bars'] - day['bars']) / work:,.0f} bars/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
