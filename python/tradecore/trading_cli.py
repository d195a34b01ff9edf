"""The trading commands of the ``tradecore`` command line: ``demo``, ``backtest`` and ``run``."""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import time
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradecore.errors import ConfigError

if TYPE_CHECKING:  # the engine's modules load only when a trading command runs (TA-Lib, pandas...)
    from tradecore.bot import RunResult

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def bar_progress(label: str, console: Console = err) -> Progress:
    """A progress bar for long trading work (shown on terminals only); tasks may add a description."""
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.description}"), console=console, transient=True, disable=not console.is_terminal)


def result_table(result: RunResult) -> Table:
    """The metrics a trader reads first, as a table."""
    m = result.metrics

    def annual(value: float, spec: str) -> str:
        return "n/a" if math.isnan(value) else format(value, spec)

    table = Table(title=f"{result.name}: {result.events:,} bars in {result.seconds:.1f} s", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("total return", f"{m.total_return:+.2%}"),
        ("CAGR", annual(m.cagr, "+.2%")),
        ("Sharpe / Sortino / Calmar", " / ".join(annual(x, ".2f") for x in (m.sharpe, m.sortino, m.calmar))),
        ("max drawdown", f"{m.max_drawdown:.2%}"),
        ("trades", f"{m.n_trades:,}"),
        ("win rate", f"{m.win_rate:.1%}"),
        ("profit factor", f"{m.profit_factor:.2f}"),
        ("expectancy", f"{m.expectancy:+,.2f}"),
        ("exposure", f"{m.exposure:.1%}"),
        ("fees paid", f"{m.fees_paid:,.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def walk_forward_table(result: RunResult) -> Table:
    wf = result.walk_forward
    assert wf is not None
    table = Table(title=f"walk-forward ({wf.objective})", title_justify="left")
    for column in ("window", "chosen", "in-sample", "out-of-sample", "OOS return"):
        table.add_column(column, justify="left" if column == "chosen" else "right")
    for w in wf.windows:
        chosen = ", ".join(f"{k}={v}" for k, v in w.params.items())
        table.add_row(str(w.index), chosen, f"{w.in_sample_score:.2f}", f"{w.out_of_sample_score:.2f}",
                      f"{w.out_of_sample.total_return:+.2%}")
    return table


def cmd_backtest(args: argparse.Namespace) -> int:
    from tradecore import config as bot_config
    from tradecore.bot import backtest

    config = bot_config.load(args.config)
    with bar_progress(f"backtest [bold]{config.bot.name}[/]") as progress:
        task = progress.add_task("", total=None)
        result = backtest(config, progress=lambda done, total: progress.update(task, completed=done, total=total))
    if args.walk_forward:
        from tradecore.bot import optimise

        with err.status("walk-forward optimisation"):
            result.walk_forward = optimise(config, workers=args.workers)
        out.print(walk_forward_table(result))
    html, js = result.write_report(args.out or config.report.out)
    out.print(result_table(result))
    out.print(f"report [bold]{html}[/] (and {js.name})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tradecore import config as bot_config
    from tradecore.bot import build_engine, run_live, summarize
    from tradecore.engine import Decision
    from tradecore.execution.orders import Fill

    config = bot_config.load(args.config)
    if config.bot.live or args.live:
        raise ConfigError(
            "live trading is not available in this version: tradecore trades on paper only "
            "(the guarded ccxt broker comes with the control and operations release)"
        )
    if config.data.source != "live":
        out.print(f"[dim]data.source is {config.data.source!r}: running it as a backtest[/]")
        return cmd_backtest(args)
    fills: list[Fill] = []
    decisions: list[Decision] = []

    def observe(kind: str, payload: Any) -> None:
        if kind == "fill":
            fills.append(payload)
            out.print(f"fill  {payload.symbol} {payload.side} {payload.qty:.6g} @ {payload.price:,.2f} ({payload.reason})")
        elif kind == "decision":
            decisions.append(payload)

    engine = build_engine(config, fills_from="book", observer=observe)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(run_live(engine, config, duration=args.duration or config.data.duration_s))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    started = time.perf_counter()
    asyncio.run(main())
    engine.close_all("stopped")
    seconds = time.perf_counter() - started
    out.print(f"ran {seconds:.0f} s: {len(decisions)} decision(s), {len(fills)} fill(s), "
              f"equity {engine.portfolio.equity():,.2f} {config.bot.quote}")
    bars = engine.bars[config.bot.symbols[0]][engine.base]
    candles = bars.columns()
    meta = {"title": f"{config.bot.name}: paper run", "strategies": list(config.enabled_strategies()),
            "symbols": config.bot.symbols, "source": config.data.ws_url or config.bot.venue}
    result = summarize("run", engine, config, candles, seconds, len(bars), meta)
    html, _ = result.write_report(args.out or config.report.out)
    out.print(result_table(result))
    out.print(f"report [bold]{html}[/]")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tradecore.demo import run_demo

    run_demo(Path(args.out), speed=args.speed, console=out, progress_console=err)
    return 0


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "demo",
        help="the whole pipeline on real market data shipped with tradecore, no network needed",
        description="Backtests the strategy set on a month of real 1m BTC perpetual bars, then paper-trades a "
        "real Binance USD-M recording served by the local exchange: websocket feed → order book → candles → "
        "patterns → strategies → risk → paper fills on the live book. Writes HTML and JSON reports.",
    )
    p.add_argument("--out", default="tradecore-demo", help="directory for the reports (default: ./tradecore-demo)")
    p.add_argument("--speed", type=float, default=0.0,
                   help="pace of the paper session: 0 = as fast as the bot reads (default), N = N× real time")
    p.set_defaults(run=cmd_demo)

    p = commands.add_parser(
        "backtest",
        help="backtest a configuration on stored candles or a recording, with an HTML/JSON report",
        description="Runs the engine of the configuration over [data] candles (or a recording) and writes "
        "the report (equity, drawdown, candles with trades and patterns, metrics, Monte Carlo).",
    )
    p.add_argument("--config", required=True, help="TOML configuration")
    p.add_argument("--out", help="report directory (default: [report] out)")
    p.add_argument("--walk-forward", action="store_true",
                   help="also run the walk-forward optimisation of [walk_forward] grid (rolling train/test windows)")
    p.add_argument("--workers", type=int, default=2, help="processes for the walk-forward runs (default 2)")
    p.set_defaults(run=cmd_backtest)

    p = commands.add_parser(
        "run",
        help="run a bot from a configuration: paper trading on a live feed (or a local exchange)",
        description="Connects to [data] ws_url/rest_url (the venue's, or tradecore sim's) and paper-trades "
        "the configuration until --duration or Ctrl-C. Live trading must be enabled explicitly and is not "
        "available in this version.",
    )
    p.add_argument("--config", required=True, help="TOML configuration")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--live", action="store_true", help="trade real money (refused in this version)")
    p.add_argument("--out", help="report directory (default: [report] out)")
    p.set_defaults(run=cmd_run)
