"""The ``tradecore`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tradecore import __version__, book, candles, recording
from tradecore._core import VENUES
from tradecore.errors import MessageError, TradecoreError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK = 0
EXIT_PROBLEM = 1


@contextmanager
def _progress(path: Path, verb: str) -> Iterator[Callable[[int], None]]:
    """A progress bar over the recording's (compressed) bytes, on stderr."""
    with Progress(
        TextColumn(f"{verb} [bold]{path.name}[/]"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(verb, total=recording.size(path))
        yield lambda done: progress.update(task, completed=done)


def _report_errors(count: int, errors: Sequence[MessageError]) -> None:
    if not count:
        return
    err.print(f"[yellow]{count:,} bad line(s) skipped[/]; the first:")
    for e in errors[:5]:
        err.print(f"  {e}")
    if count > 5:
        err.print(f"  ... and {count - 5:,} more")


def _rate(count: float, seconds: float) -> str:
    per_second = count / seconds if seconds > 0 else float("inf")
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.1f} {unit}/s"
    return f"{per_second:.0f}/s"


def cmd_book(args: argparse.Namespace) -> int:
    path = Path(args.file)
    with _progress(path, "replaying") as on_progress:
        result = book.replay_recording(path, args.venue, args.symbol, strict=args.strict, on_progress=on_progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"tradecore.venue": args.venue, "tradecore.symbol": result.book.symbol, "tradecore.source": path.name}
    pq.write_table(result.table.replace_schema_metadata(metadata), args.out)

    out.print(f"[bold]{result.book.symbol}[/] on {args.venue}: {path.name}")
    summary = Table()
    summary.add_column("status")
    summary.add_column("messages", justify="right")
    for status, count in result.statuses.items():
        summary.add_row(status, f"{count:,}")
    out.print(summary)
    if result.other_symbols:
        out.print(f"skipped {result.other_symbols:,} depth messages of other symbols")
    _report_errors(result.error_count, result.errors)
    depth_rows = result.table.num_rows
    out.print(
        f"{depth_rows:,} depth messages, {result.level_updates:,} level updates in {result.seconds:.2f} s "
        f"({_rate(depth_rows, result.seconds)} messages, {_rate(result.level_updates, result.seconds)} level updates, "
        "decompression included)"
    )
    out.print(f"wrote {depth_rows:,} rows to {args.out}")
    if result.problem:
        err.print(f"[bold red]error:[/] {result.problem}")
        return EXIT_PROBLEM
    bid, ask = result.book.best_bid(), result.book.best_ask()
    out.print(f"final book at update id {result.book.last_update_id}: best bid {_level(bid)}, best ask {_level(ask)}")
    return EXIT_OK


def _level(level: tuple[float, float] | None) -> str:
    return "none" if level is None else f"{level[0]} × {level[1]}"


def cmd_candles(args: argparse.Namespace) -> int:
    path = Path(args.file)
    timeframes = [tf.strip() for tf in args.timeframes.split(",") if tf.strip()]
    with _progress(path, "aggregating") as on_progress:
        result = candles.from_recording(
            path, timeframes, symbol=args.symbol, fill_gaps=not args.no_fill_gaps, strict=args.strict,
            on_progress=on_progress,
        )
    _report_errors(result.error_count, result.errors)
    if result.trades == 0:
        err.print(f"[bold red]error:[/] {path.name} has no trades" + (f" of {args.symbol}" if args.symbol else ""))
        return EXIT_PROBLEM
    args.out.mkdir(parents=True, exist_ok=True)
    out.print(f"[bold]{result.symbol}[/]: {result.trades:,} trades from {path.name}")
    summary = Table()
    for column in ("timeframe", "bars", "first bar (UTC)", "file"):
        summary.add_column(column)
    for tf, table in result.tables.items():
        target = args.out / f"{result.symbol}-{tf}.parquet"
        metadata = {"tradecore.symbol": str(result.symbol), "tradecore.timeframe": tf, "tradecore.source": path.name}
        pq.write_table(table.replace_schema_metadata(metadata), target)
        first = table.column("open_time")[0].as_py() if table.num_rows else None
        summary.add_row(tf, f"{table.num_rows:,}", f"{first:%Y-%m-%d %H:%M}" if first else "-", str(target))
    out.print(summary)
    late = {tf: n for tf, n in result.late_dropped.items() if n}
    if late:
        out.print(f"late trades left out of already-closed bars: {late}")
    out.print(f"{_rate(result.trades, result.seconds)} trades, decompression and parsing included")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradecore", description="A crypto trading core: order books and candles from exchange data."
    )
    parser.add_argument("--version", action="version", version=f"tradecore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "book",
        help="replay a recording's depth messages through an order book, top of book per message to Parquet",
        description="Replays the depth diffs and snapshots of a recording (lines '<recv_ts_ns> <json>' or "
        "bare JSON; gzip, zip or plain) through the venue's sequencing rules and writes one row per depth "
        "message: recv_ts_ns, update_id, status, bid/ask price and quantity (null while unsynced). Exits "
        "with status 1 if the book ends out of sync (no snapshot, or a gap never healed).",
    )
    p.add_argument("file", help="recording file")
    p.add_argument("--venue", required=True, choices=VENUES)
    p.add_argument("--symbol", help="instrument (default: the symbol of the first depth message)")
    p.add_argument("--out", required=True, type=Path, help="output Parquet file")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line instead of skipping it")
    p.set_defaults(run=cmd_book)

    p = commands.add_parser(
        "candles",
        help="aggregate a recording's trades into bars, one Parquet file per timeframe",
        description="Aggregates the trades of a recording (Binance trade/aggTrade, Bybit publicTrade) into "
        "exchange-style bars for each timeframe and writes DIR/<SYMBOL>-<timeframe>.parquet.",
    )
    p.add_argument("file", help="recording file")
    p.add_argument("--timeframes", default=",".join(candles.DEFAULT_TIMEFRAMES), help="comma-separated, e.g. 1m,5m,1h")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--symbol", help="instrument (required if the recording has trades of several)")
    p.add_argument("--no-fill-gaps", action="store_true", help="leave out bars of intervals without trades")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line instead of skipping it")
    p.set_defaults(run=cmd_candles)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (TradecoreError, OSError, pa.ArrowException) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
