"""``tradecore demo``: the whole pipeline on real market data shipped with the package (see
``data/README.md`` for the sources and licences), with no network.

1. A backtest of the strategy set on a month of real 1m bars of a BTC perpetual (Jan 2022):
   bars → indicators and patterns → regime → strategies → risk → paper fills on the bar model.
2. A paper session on the local exchange: ``tradecore sim`` serves a real Binance USD-M
   recording over websockets, the live feed keeps the book in sync and builds 1s bars, and
   the same engine trades on them, filling against the live book.

Both write an HTML report (and JSON) into the output directory, with the configurations used.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rich.console import Console

DATA = Path(__file__).parent / "data"
RECORDING = DATA / "btcusdt_usdm_20240808.gz"
CANDLES = DATA / "btc_perp_202201_1m.csv.gz"

#: The backtest: the standard strategy set on 1m bars, deciding on 1h/4h (regime on 1h).
BACKTEST_CONFIG = """\
[bot]
name = "demo backtest"
venue = "binance-usdm"
symbols = ["BTCUSDT"]
cash = 10000

[data]
source = "candles"
candles = "{candles}"

[strategies.trend]
[strategies.mean_reversion]
[strategies.breakout]
[strategies.pattern]
[strategies.dca_grid]
[strategies.channel]
[strategies.reversal]

[risk]
reference_symbol = "BTCUSDT"

[report]
monte_carlo_runs = 1000
"""

#: The paper session: the recording is six minutes long, so the bot decides on seconds bars.
PAPER_CONFIG = """\
[bot]
name = "demo paper session"
venue = "binance-usdm"
symbols = ["BTCUSDT"]
base_timeframe = "1s"
cash = 10000

[data]
source = "live"
ws_url = "{ws_url}"
rest_url = "{rest_url}"
warmup_days = 0  # the recording is all there is: no history before it

[regime]
timeframe = "5s"
confirm_bars = 2
ema_fast = 8
ema_slow = 20
range_bars = 10

[selector]
unknown = {{ mean_reversion = 1.0, pattern = 0.9, breakout = 0.8 }}
ranging = {{ mean_reversion = 1.0, pattern = 0.9 }}
trending_up = {{ pattern = 1.0, breakout = 0.9 }}
trending_down = {{ pattern = 1.0, breakout = 0.9 }}
volatile = {{ mean_reversion = 0.8, pattern = 0.8 }}
breakout = {{ breakout = 1.0, pattern = 0.8 }}

[strategies.mean_reversion]
timeframe = "1s"
chop_min = 45
allow_short = true

[strategies.pattern]
timeframe = "5s"
confirm_timeframes = ["15s"]
min_bars = 10
allow_short = true

[strategies.breakout]
timeframe = "5s"
min_break = 0.0005
allow_short = true

[risk]
reference_symbol = "BTCUSDT"
min_trade_spacing_s = 5

[risk.exits]
time_exit_s = 60

[paper.slippage]
model = "book"

[report]
monte_carlo_runs = 1000
"""


def run_demo(out: Path, *, speed: float = 0.0, console: Console | None = None,
             progress_console: Console | None = None) -> list[Path]:
    """Runs both parts; returns the report files written."""
    from tradecore import config as bot_config
    from tradecore.bot import backtest
    from tradecore.trading_cli import bar_progress, result_table

    console = console or Console()
    progress_console = progress_console or console
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    started = time.perf_counter()

    text = BACKTEST_CONFIG.format(candles=CANDLES.as_posix())
    (out / "demo-backtest.toml").write_text(text, encoding="utf-8")
    config = bot_config.parse(text, source="demo-backtest.toml")
    console.print("[bold]1/2[/] backtest: a month of real 1m BTC perpetual bars (Jan 2022), seven strategies")
    with bar_progress("[bold]backtest[/]", progress_console) as progress:
        task = progress.add_task("", total=None)
        result = backtest(config, name="demo-backtest",
                          progress=lambda done, total: progress.update(task, completed=done, total=total))
    result.meta["data"] = "btc_perp_202201_1m.csv.gz — nautilus_trader test data, LGPL-3.0"
    written.extend(result.write_report(out))
    console.print(result_table(result))

    console.print("[bold]2/2[/] paper session: the local exchange serves a real Binance USD-M recording "
                  "(2024-08-08, 345 s) over websockets")
    paper = asyncio.run(_paper_session(out, speed, progress_console))
    written.extend(paper.write_report(out))
    console.print(result_table(paper))
    console.print(f"done in {time.perf_counter() - started:.0f} s; reports:")
    for path in written:
        if path.suffix == ".html":
            console.print(f"  [bold]{path}[/]")
    return written


async def _paper_session(out: Path, speed: float, console: Console) -> Any:
    from tradecore import config as bot_config
    from tradecore.bot import build_engine, live_feed, summarize
    from tradecore.sim import SimServer
    from tradecore.trading_cli import bar_progress

    async with SimServer(RECORDING, speed=speed) as server:
        text = PAPER_CONFIG.format(ws_url=server.ws_url, rest_url=server.rest_url)
        (out / "demo-paper.toml").write_text(text, encoding="utf-8")
        config = bot_config.parse(text, source="demo-paper.toml")
        counts = {"fills": 0}

        def observe(kind: str, payload: Any) -> None:
            if kind == "fill":
                counts["fills"] += 1

        engine = build_engine(config, fills_from="book", observer=observe)
        symbol = config.bot.symbols[0]
        feed, _ = live_feed(engine, config)  # the demo's configuration has no warm-up
        total = sum(len(e.points) for e in server.market.streams.values())
        started = time.perf_counter()
        with bar_progress("[bold]paper[/]", console) as progress:
            task = progress.add_task("connecting", total=total)
            running = asyncio.ensure_future(feed.run())
            await feed.connected.wait()
            while True:
                await asyncio.sleep(0.2)
                frames = feed.core.stats()["frames"]
                progress.update(task, completed=min(frames, total),
                                description=f"{len(engine.bars[symbol][engine.base]):,} bars, {counts['fills']} fills")
                if frames >= total or running.done():
                    break
            await feed.quiet(0.5)
            feed.stop()
            await running
        engine.close_all()
        seconds = time.perf_counter() - started
        bars = engine.bars[symbol][engine.base]
        candles = bars.columns()
        meta = {"title": "demo paper session: Binance USD-M BTCUSDT on the local exchange",
                "data": "btcusdt_usdm_20240808.gz — hftbacktest example data, MIT",
                "feed": {"frames": feed.core.stats()["frames"], "resyncs": feed.stats.resyncs,
                         "malformed": feed.stats.malformed}}
        return summarize("demo-paper", engine, config, candles, seconds, len(bars), meta)
