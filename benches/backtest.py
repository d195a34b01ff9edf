"""Trading engine speed, side by side in one run (issue 5's benchmark).

1. Backtest throughput: a year of 1m bars (`backtest_data.year_of_bars`: the real month repeated
   with continuous prices, 525,600 bars), the trend strategy (EMA 20/50/200 on 1h, ADX, momentum,
   4h/1d confirmation) with every risk check (sizing, limits, daily loss, drawdown, losing
   streak, spacing, the BTC circuit breakers on every bar, exits as bracket orders), against
   freqtrade backtesting an equivalent strategy on the same bars (`freqtrade_peer.py`; skipped,
   saying so, when freqtrade is not installed). tradecore's time includes loading nothing but
   the engine's own work (the bars are in memory); freqtrade's is its whole `backtesting`
   command, so its startup is measured separately and shown.
2. Tick-to-order latency of the paper engine on real recordings (Binance USD-M, COIN-M, spot):
   from the arrival of the frame that closes a bar to the order handed to the broker (the bar's
   strategies, indicators, pattern scores, selector and risk in between), median and p99; and,
   for every bar close, frame → decisions done (whether or not an order came of it).

    python benches/backtest.py [--runs 3] [--no-freqtrade]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtest_data import CANDLES, DATA, year_of_bars  # noqa: E402

from tradecore import config as bot_config  # noqa: E402
from tradecore import demo  # noqa: E402
from tradecore.bot import build_engine, replay_recording  # noqa: E402

TREND = """\
[bot]
symbols = ["BTCUSDT"]
[strategies.trend]
[risk]
reference_symbol = "BTCUSDT"
"""

RECORDINGS = (
    ("binance-usdm", "BTCUSDT", DATA / "binance" / "usdm_btcusdt_20240808.gz"),
    ("binance-coinm", "BTCUSD_PERP", DATA / "binance" / "cm_btcusd_perp_20240808.gz"),
    ("binance-spot", "BTCUSDT", DATA / "binance" / "spot_btcusdt_20240808.gz"),
)


def tradecore_year(columns: dict[str, np.ndarray], runs: int) -> tuple[float, int]:
    """Median seconds for the year, and the trades made."""
    config = bot_config.parse(TREND)
    seconds, trades = [], 0
    for _ in range(runs):
        engine = build_engine(config, fills_from="bars")
        started = time.perf_counter()
        engine.preload("BTCUSDT", columns)
        engine.run_preloaded()
        seconds.append(time.perf_counter() - started)
        trades = len(engine.trades)
    return statistics.median(seconds), trades


def latency_config(venue: str, symbol: str) -> bot_config.BotConfig:
    """The demo's paper session, deciding on every 1s bar, with the halts that would stop it
    trading (loss streaks, drawdown, spacing) opened up so that there are orders to time."""
    text = demo.PAPER_CONFIG.format(ws_url="ws://127.0.0.1:1/stream", rest_url="http://127.0.0.1:1")
    text = text.replace('venue = "binance-usdm"', f'venue = "{venue}"').replace('symbols = ["BTCUSDT"]', f'symbols = ["{symbol}"]')
    text = text.replace('reference_symbol = "BTCUSDT"', f'reference_symbol = "{symbol}"')
    text = text.replace("min_trade_spacing_s = 5", "min_trade_spacing_s = 0\nmax_consecutive_losses = 1000\n"
                        "max_daily_loss = 1.0\nmax_drawdown = 1.0\nstop_outs_for_cooldown = 1000")
    text = text.replace('[strategies.pattern]\ntimeframe = "5s"', '[strategies.pattern]\ntimeframe = "1s"')
    return bot_config.parse(text)


def tick_to_order(runs: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(order latencies µs, bar-close latencies µs, recordings used)."""
    orders: list[int] = []
    bars: list[int] = []
    used = 0
    for venue, symbol, path in RECORDINGS:
        if not path.is_file():
            continue
        used += 1
        for _ in range(runs):
            engine = build_engine(latency_config(venue, symbol), fills_from="book")
            replay_recording(engine, path, venue)
            orders.extend(engine.order_latency_ns)
            bars.extend(engine.bar_latency_ns)
    return np.array(orders) / 1e3, np.array(bars) / 1e3, used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per contender; medians shown (default 3)")
    parser.add_argument("--no-freqtrade", action="store_true", help="skip freqtrade (it takes ~30 s)")
    args = parser.parse_args()
    if not CANDLES.is_file():
        print(f"skipped: {CANDLES} not found (set TRADECORE_DATA to the shared data folder)")
        return 0
    columns = year_of_bars(CANDLES)
    n = len(columns["time"])
    ours, trades = tradecore_year(columns, args.runs)
    rows = [("tradecore", ours, n / ours, trades, "")]
    if not args.no_freqtrade:
        from freqtrade_peer import FreqtradeMissing, run_freqtrade

        try:
            with tempfile.TemporaryDirectory(prefix="ftbench-") as work:
                year = run_freqtrade(columns, Path(work) / "year")
                day = run_freqtrade(columns, Path(work) / "day", days=1)
            rows.append(("freqtrade backtesting", year["seconds"], n / year["seconds"], year["trades"],
                         f"whole command; its startup alone (1-day run) {day['seconds']:.1f} s"))
            loop = year["seconds"] - day["seconds"]
            rows.append(("freqtrade less its startup", loop, (n - day["bars"]) / loop, year["trades"], ""))
        except FreqtradeMissing as exc:
            print(f"freqtrade skipped: {exc}")
    print(f"backtest: {n:,} 1m bars (a year), trend strategy + full risk checks; medians of {args.runs} run(s) for tradecore")
    print()
    print(f"| {'contender':<28} | {'seconds':>8} | {'bars/s':>10} | {'vs tradecore':>12} | {'trades':>6} | note")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 12}|{'-' * 14}|{'-' * 8}|------")
    for name, seconds, rate, made, note in rows:
        ratio = "reference" if name == "tradecore" else f"{(n / ours) / rate:.1f}x slower"
        print(f"| {name:<28} | {seconds:8.2f} | {rate:10,.0f} | {ratio:>12} | {made:>6} | {note}")
    print()
    order_us, bar_us, used = tick_to_order(args.runs)
    if used:
        print(f"paper engine on {used} real recording(s), {args.runs} replay(s) each, 1s bars (frame arrival -> ...):")
        print()
        print(f"| {'measure':<34} | {'samples':>7} | {'median':>9} | {'p99':>9} |")
        print(f"|{'-' * 36}|{'-' * 9}|{'-' * 11}|{'-' * 11}|")
        for label, values in (("tick -> order submitted", order_us), ("bar-closing tick -> decisions done", bar_us)):
            if len(values):
                print(f"| {label:<34} | {len(values):>7,} | {np.median(values):7.0f} µs | {np.percentile(values, 99):7.0f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
