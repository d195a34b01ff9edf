"""The bars of the backtest-throughput benchmark: "a year of 1m bars", shared by its contenders.

The real 45,031 one-minute bars of ../shared/data/candles/btcperp_20211231_20220201_1m.csv.gz
(a BTC perpetual, 2021-12-31 23:01 to 2022-02-01 05:31 UTC, no gaps) repeated to 525,600 bars
(365 days), with continuous timestamps (one a minute from 2022-01-01 00:00 UTC) and continuous
prices: each repetition is rescaled (open, high, low and close times one factor) so that it
opens where the previous one closed. Volume is repeated as it is. The month falls by 17%
(46,319 -> 38,544), so the year drifts from ~46k down to ~5.5k: the same shape of trends and
ranges, at ever lower prices. Every contender gets exactly these columns.

    python benches/backtest_data.py      # builds the year and prints what it is
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRADECORE_DATA", ROOT.parent / "shared" / "data"))
CANDLES = DATA / "candles" / "btcperp_20211231_20220201_1m.csv.gz"
YEAR_BARS = 525_600
#: 2022-01-01 00:00 UTC, the open time of the first bar of the year (ms).
YEAR_START_MS = 1_640_995_200_000
MINUTE_MS = 60_000
PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("time", *PRICE_COLUMNS, "volume")


def read_bars(path: str | os.PathLike[str]) -> dict[str, npt.NDArray[np.generic]]:
    """The bars of a CSV ``timestamp,open,high,low,close,volume`` (timestamp as
    ``YYYY-MM-DD HH:MM:SS[.ffffff]`` UTC; gzip if the name ends in .gz): time as ms since the
    epoch (int64), the rest float64."""
    raw = np.loadtxt(path, delimiter=",", skiprows=1, dtype=str)
    if raw.ndim != 2 or raw.shape[1] != 6:
        raise ValueError(f"{path}: expected 6 columns timestamp,open,high,low,close,volume")
    stamps = np.array([s.replace(" ", "T") for s in raw[:, 0]], dtype="datetime64[ms]")
    bars: dict[str, npt.NDArray[np.generic]] = {"time": stamps.astype(np.int64)}
    for i, name in enumerate(COLUMNS[1:], start=1):
        bars[name] = raw[:, i].astype(np.float64)
    return bars


def year_of_bars(path: str | os.PathLike[str] = CANDLES, bars: int = YEAR_BARS,
                 start_ms: int = YEAR_START_MS) -> dict[str, npt.NDArray[np.generic]]:
    """``bars`` one-minute bars made of the bars in the CSV at ``path`` repeated (see the module
    doc): {"time": int64 ms (open times, one a minute from ``start_ms``), "open", "high", "low",
    "close", "volume": float64}. Repetition k is the original prices times
    close_(k-1)_last / open_first, so it opens exactly where repetition k-1 closed."""
    month = read_bars(path)
    n = len(month["time"])
    if n == 0:
        raise ValueError(f"{path}: no bars")
    repeats = -(-bars // n)
    # The factor of each repetition: a running product of last close / first open.
    step = float(month["close"][-1]) / float(month["open"][0])
    factors = step ** np.arange(repeats, dtype=np.float64)
    out: dict[str, npt.NDArray[np.generic]] = {
        "time": start_ms + MINUTE_MS * np.arange(bars, dtype=np.int64),
    }
    for name in PRICE_COLUMNS:
        column = np.asarray(month[name], dtype=np.float64)
        out[name] = (factors[:, None] * column[None, :]).ravel()[:bars]
    out["volume"] = np.tile(np.asarray(month["volume"], dtype=np.float64), repeats)[:bars]
    # Continuity by construction (up to rounding of the running product): each repetition
    # opens at the close of the one before.
    for k in range(1, repeats):
        if k * n < bars:
            prev_close, next_open = out["close"][k * n - 1], out["open"][k * n]
            if not np.isclose(prev_close, next_open, rtol=1e-12, atol=0.0):
                raise AssertionError(f"repetition {k} opens at {next_open}, previous closed at {prev_close}")
    return out


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CANDLES
    if not path.exists():
        print(f"skipped: {path} not found (set TRADECORE_DATA to the shared data folder)")
        return 0
    year = year_of_bars(path)
    t = year["time"].astype("datetime64[ms]")
    print(f"{len(t):,} bars {t[0]} .. {t[-1]} UTC; open {year['open'][0]:.2f}, last close {year['close'][-1]:.2f}, "
          f"low {year['low'].min():.2f}, high {year['high'].max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
