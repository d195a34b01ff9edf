"""Pattern-engine benchmarks: all 61 TA-Lib candlestick patterns, side by side with TA-Lib.

    python benches/patterns.py            # full run (about a minute)
    python benches/patterns.py --quick    # tiny inputs, one repeat: checks the script still works

Batch: the 45,031 real 1m bars of ../shared/data/candles/ tiled 22 times (990,682 bars), through
  - TA-Lib: the 61 `talib.CDL*` calls, one after another (what every bot does);
  - tradecore: one `patterns.detect` call computing all 61 in one fused pass: as called by default
    (the series cut in consecutive parts, one per core, up to 4), and with `threads=1`.
Live loop: one new bar arrives, the codes of all 61 patterns for it are wanted:
  - TA-Lib: the 61 calls over the last 100 bars, for every new bar (its only way);
  - tradecore: one `PatternEngine.push` call per bar (the Python call included).

Contenders run in the same process, interleaved, repeated; medians and ratios are printed, since
these machines are noisy. Both sides produce identical codes (checked here too).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from foundation import measure  # median seconds per contender, interleaved

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRADECORE_DATA", ROOT.parent / "shared" / "data"))
CANDLES = DATA / "candles" / "btcperp_20211231_20220201_1m.csv.gz"
WINDOW = 100
CORES = min(os.cpu_count() or 1, 4)
DEFAULT = "tradecore patterns.detect, default threads"
ONE_CORE = "tradecore patterns.detect, threads=1"

Bars = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def real_bars(copies: int) -> Bars:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(CANDLES)
    columns = (table.column(k).to_numpy() for k in ("open", "high", "low", "close"))
    # Tiled as they are: one price jump per 45k bars where a copy meets the next.
    return tuple(np.ascontiguousarray(np.tile(x, copies)) for x in columns)  # type: ignore[return-value]


def bench(quick: bool) -> list[tuple[str, str, float, int]]:
    import talib

    from tradecore import patterns

    names = talib.get_function_groups()["Pattern Recognition"]
    functions = [getattr(talib, n) for n in names]
    bars = real_bars(1 if quick else 22)
    if quick:
        bars = tuple(x[:5_000] for x in bars)  # type: ignore[assignment]
    o, h, lo, c = bars
    n = len(o)

    ours = patterns.detect(o, h, lo, c)
    for name, f in zip(names, functions, strict=True):
        assert np.array_equal(ours[name], f(o, h, lo, c)), f"{name} differs from TA-Lib"

    results = []
    batch = measure(
        {
            "TA-Lib, 61 CDL* calls": lambda: [f(o, h, lo, c) for f in functions],
            DEFAULT: lambda: patterns.detect(o, h, lo, c),
            ONE_CORE: lambda: patterns.detect(o, h, lo, c, threads=1),
        },
        1 if quick else 5,
    )
    results += [("batch, all 61", name, s, n) for name, s in batch.items()]

    live_bars = 200 if quick else 20_000
    talib_bars = 20 if quick else 400
    start = 10_000 if not quick else 200

    def tradecore_live() -> None:
        engine = patterns.PatternEngine()
        engine.run(o[:start], h[:start], lo[:start], c[:start])
        push = engine.push
        for k in range(start, start + live_bars):
            push(o[k], h[k], lo[k], c[k])

    def talib_live() -> None:
        for k in range(start, start + talib_bars):
            a = k + 1 - WINDOW
            window = (o[a : k + 1], h[a : k + 1], lo[a : k + 1], c[a : k + 1])
            for f in functions:
                f(*window)[-1]

    # The warm-up `run` of the engine is not part of the live loop: time it separately and subtract.
    warm = measure({"warm": lambda: patterns.PatternEngine().run(o[:start], h[:start], lo[:start], c[:start])}, 3)
    live = measure({"TA-Lib, 61 calls on the last 100 bars": talib_live, "tradecore PatternEngine.push": tradecore_live}, 1 if quick else 5)
    results.append(("live, one new bar", "TA-Lib, 61 calls on the last 100 bars", live["TA-Lib, 61 calls on the last 100 bars"], talib_bars))
    results.append(("live, one new bar", "tradecore PatternEngine.push", live["tradecore PatternEngine.push"] - warm["warm"], live_bars))
    return results


def per_bar(seconds: float, bars: int) -> str:
    ns = seconds / bars * 1e9
    return f"{ns / 1e3:.2f} µs/bar" if ns >= 1e3 else f"{ns:.1f} ns/bar"


def report(results: list[tuple[str, str, float, int]]) -> str:
    rows = ["| benchmark | contender | bars | per bar | vs tradecore |", "|---|---|---:|---:|---:|"]
    for group in dict.fromkeys(r[0] for r in results):
        members = [r for r in results if r[0] == group]
        ours = members[-1] if group.startswith("live") else next(r for r in members if r[1] == DEFAULT)
        ours_per_bar = ours[2] / ours[3]
        for g, name, seconds, bars in sorted(members, key=lambda r: r[2] / r[3]):
            ratio = (seconds / bars) / ours_per_bar
            if name == ours[1]:
                versus = "reference"
            elif ratio >= 1.05:
                versus = f"{ratio:.1f}x slower"
            elif ratio <= 0.95:
                versus = f"{1 / ratio:.1f}x faster"
            else:
                versus = "about the same"
            rows.append(f"| {g} | {name} | {bars:,} | {per_bar(seconds, bars)} | {versus} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat (a smoke test)")
    args = parser.parse_args()
    if not CANDLES.is_file():
        print(f"the shared market data is missing: {CANDLES} (set TRADECORE_DATA)", file=sys.stderr)
        return 2
    results = bench(args.quick)
    print(report(results))
    by = {r[1]: r[2] / r[3] for r in results}
    print()
    print(
        f"goals: batch <= 60 ns/bar: {by[DEFAULT] * 1e9:.1f} ns/bar with the default threads ({CORES} cores here), "
        f"{by[ONE_CORE] * 1e9:.1f} ns/bar on one core; "
        f"live <= 2 µs/bar including the Python call: {by['tradecore PatternEngine.push'] * 1e6:.2f} µs/bar"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
