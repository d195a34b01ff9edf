"""The ``tradecore`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tradecore import __version__, book, candles, patterns, recording
from tradecore._core import VENUES
from tradecore.data import validate
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


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "·" * (width - filled)


def cmd_patterns(args: argparse.Namespace) -> int:
    path = Path(args.file)
    with err.status(f"reading {path.name}"):
        table = validate.read_candle_file(path)
    missing = [c for c in ("open", "high", "low", "close") if c not in table.column_names]
    if missing:
        err.print(f"[bold red]error:[/] {path.name} has no {', '.join(missing)} column(s); it has: {', '.join(table.column_names)}")
        return EXIT_PROBLEM
    o, h, lo, c = (table.column(name).to_numpy() for name in ("open", "high", "low", "close"))
    volume = table.column("volume").to_numpy() if "volume" in table.column_names else None
    names = [n.strip().upper() for n in args.names.split(",")] if args.names else None
    started = time.perf_counter()
    with err.status(f"detecting patterns in {table.num_rows:,} bars"):
        codes, order = patterns.detect_array(o, h, lo, c, names)
    seconds = time.perf_counter() - started
    time_column = next((c for c in validate.TIME_COLUMNS if c in table.column_names), None)
    fields = ([(time_column, table.column(time_column))] if time_column else []) + [
        (name, pa.array(row)) for name, row in zip(order, codes, strict=True)
    ]
    result = pa.table(dict(fields))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(result, args.out)
    out.print(f"{table.num_rows:,} bars × {len(order)} patterns → [bold]{args.out}[/] "
              f"({_rate(table.num_rows, seconds)} bars)")
    fired = Table(title="patterns found")
    for column, justify in (("pattern", "left"), ("bullish", "right"), ("bearish", "right"), ("kind", "left")):
        fired.add_column(column, justify=justify)  # type: ignore[arg-type]
    counts = sorted(
        ((name, int((row > 0).sum()), int((row < 0).sum())) for name, row in zip(order, codes, strict=True)),
        key=lambda r: -(r[1] + r[2]),
    )
    for name, up, down in counts:
        if up or down:
            fired.add_row(name, f"{up:,}", f"{down:,}", patterns.KINDS[name])
    out.print(fired)
    silent = [name for name, up, down in counts if not up and not down]
    if silent:
        out.print(f"not found: {', '.join(silent)}")
    if args.scores:
        signals = patterns.score(o, h, lo, c, volume, names)
        target = args.out.with_name(args.out.name.removesuffix(".parquet") + ".signals.parquet")
        pq.write_table(signals, target)
        accepted = int(pc.sum(signals.column("accepted")).as_py() or 0)
        out.print(f"{signals.num_rows:,} graded signals ({accepted:,} accepted) → [bold]{target}[/]")
        stats = patterns.hit_statistics(signals, c, args.horizon)
        view = Table(title=f"hit rate: close {args.horizon} bars later moved the signal's way")
        for column, justify in (("pattern", "left"), ("side", "left"), ("signals", "right"), ("hit rate", "right"),
                                ("", "left"), ("mean bps", "right")):
            view.add_column(column, justify=justify)  # type: ignore[arg-type]
        for row in stats.to_pylist():
            view.add_row(row["pattern"], "bull" if row["direction"] > 0 else "bear", f"{row['signals']:,}",
                         f"{row['hit_rate']:.1%}", _bar(row["hit_rate"]), f"{row['mean_bps']:+.1f}")
        out.print(view)
    return EXIT_OK


_SHOWN = 5
#: The columns shown for each check's first offenders (the JSON report has every field).
_OFFENDER_COLUMNS = {
    "ohlc": ("index", "time", "open", "high", "low", "close", "reason"),
    "volume": ("index", "time", "volume"),
    "finite": ("index", "time", "reason"),
    "order": ("index", "time", "previous"),
    "duplicates": ("index", "time", "kind", "open", "high", "low", "close", "volume"),
    "gaps": ("start", "end", "bars"),
    "outliers": ("index", "time", "close", "ret"),
}
_LEFT = ("time", "previous", "start", "end", "reason", "kind")


def cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if args.repair and path.is_dir():
        err.print("[bold red]error:[/] --repair works on a candles file; a store is repaired by fetching "
                  "the missing intervals again")
        return EXIT_PROBLEM
    with err.status(f"validating {path.name}"):
        results = validate.validate_path(path, args.timeframe)
    entries = []
    for table, report in results:
        _print_validation(report)
        entry = report.to_dict()
        if args.repair:
            entry["repair"] = _write_repair(path, table, report)
        entries.append(entry)
    failed = any(entry["errors"] for entry in entries)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps({"path": str(path), "errors": failed, "reports": entries}, indent=1))
        out.print(f"report → [bold]{args.report}[/]")
    return EXIT_PROBLEM if failed else EXIT_OK


def _print_validation(report: validate.Report) -> None:
    span = "no bars" if report.first is None or report.last is None else (
        f"{_when(validate.iso(report.first))} … {_when(validate.iso(report.last))}"
    )
    timeframe = f"{report.timeframe} ({'median step' if report.step_inferred else 'given'})"
    out.print(f"[bold]{report.source}[/]: {report.bars:,} bars, {span} UTC, timeframe {timeframe}")
    summary = Table()
    for column, justify in (("check", "left"), ("result", "left"), ("count", "right"), ("details", "left")):
        summary.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in report.checks:
        result = "[red]error[/]" if check.failed else "[yellow]note[/]" if check.count else "[green]ok[/]"
        summary.add_row(check.title, result, f"{check.count:,}", _details(check))
    out.print(summary)
    for check in report.checks:
        if check.rows:
            out.print(_offenders(check))
    colour = "green" if report.score >= 99 else "yellow" if report.score >= 90 else "red"
    verdict = "errors found" if report.has_errors else "no errors"
    out.print(f"quality score [bold {colour}]{report.score:.2f}[/] / 100 ({verdict})")


def _details(check: validate.Check) -> str:
    d = check.details
    if "skipped" in d:
        return f"skipped: {d['skipped']}"
    if check.name == "duplicates":
        return f"{d['identical']:,} identical, {d['conflicting']:,} conflicting"
    if check.name == "gaps":
        return f"{d['intervals']:,} interval(s)"
    if check.name == "outliers":
        return f"returns outside {d['low_fence']:+.3%} … {d['high_fence']:+.3%}"
    return ""


def _when(text: str) -> str:
    return text.replace("T", " ").removesuffix("Z")


def _cell(key: str, value: object) -> str:
    if key == "ret" and isinstance(value, float):
        return f"{value:+.3%}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1e4 else f"{value:.6g}"
    if key in ("time", "previous", "start", "end"):
        return _when(str(value))
    return f"{value:,}" if isinstance(value, int) else str(value)


def _offenders(check: validate.Check) -> Table:
    shown = check.rows[:_SHOWN]
    more = f" (first {len(shown)} of {len(check.rows):,})" if len(check.rows) > len(shown) else ""
    view = Table(title=f"{check.title}{more}", title_justify="left")
    keys = _OFFENDER_COLUMNS[check.name]
    for key in keys:
        view.add_column(key, justify="left" if key in _LEFT else "right")
    for row in shown:
        view.add_row(*(_cell(k, row[k]) for k in keys))
    return view


def _write_repair(path: Path, table: pa.Table, report: validate.Report) -> dict[str, object]:
    fixed = validate.repair(table, report)
    target = validate.repaired_path(path)
    if target.resolve() == path.resolve():
        raise TradecoreError(f"the repaired copy would overwrite {path}")
    pq.write_table(fixed.table, target)
    out.print(
        f"repaired copy → [bold]{target}[/]: {fixed.table.num_rows:,} bars; dropped {fixed.dropped_identical:,} "
        f"identical duplicate(s), {fixed.dropped_conflicting:,} conflicting duplicate row(s), "
        f"{fixed.dropped_invalid:,} invalid bar(s)"
    )
    if fixed.refetch:
        step = report.step_ms or 1
        listed = ", ".join(f"{_when(validate.iso(s))} … {_when(validate.iso(e))} ({validate.Interval(s, e).bars(step)})"
                           for s, e in fixed.refetch[:_SHOWN])
        more = f" and {len(fixed.refetch) - _SHOWN:,} more" if len(fixed.refetch) > _SHOWN else ""
        out.print(f"to fetch again ({len(fixed.refetch):,} interval(s), [start … end) UTC and bars): {listed}{more}")
    return {"path": str(target), **fixed.to_dict()}


def _download_time(text: str) -> int:
    from tradecore.data.history import parse_time

    try:
        return parse_time(text)
    except TradecoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _download_exchange(text: str) -> str:
    from tradecore.data.history import check_exchange

    try:
        return check_exchange(text)
    except TradecoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _download_timeframes(text: str) -> str:
    from tradecore.data.store import timeframe_ms

    try:
        for tf in text.split(","):
            if tf.strip():
                timeframe_ms(tf.strip())
    except TradecoreError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def cmd_download(args: argparse.Namespace) -> int:
    import asyncio

    from rich import box
    from rich.measure import Measurement
    from rich.progress import MofNCompleteColumn, TaskID

    from tradecore.data import history
    from tradecore.data.store import iso

    symbols = [s.strip() for text in args.symbols for s in text.split(",") if s.strip()]
    timeframes = [t.strip() for text in args.timeframes or [] for t in text.split(",") if t.strip()]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
        TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        bars: dict[tuple[str, str | None], TaskID] = {}

        def on_progress(report: history.TaskReport) -> None:
            key = (report.symbol, report.timeframe)
            unit = "trades" if report.timeframe is None else "bars"
            if key not in bars:
                bars[key] = progress.add_task(report.label, total=report.to_fetch, unit=unit)
            progress.update(bars[key], completed=report.done)

        reports = asyncio.run(history.download(
            args.exchange, args.store, symbols, timeframes, args.since, args.until, trades=args.trades,
            rest_url=args.rest_url, on_progress=on_progress, raise_errors=False,
        ))
    start, end = reports[0].start, reports[0].end
    out.print(f"[bold]{args.exchange}[/] {_when(iso(start))} … {_when(iso(end))} UTC → {args.store}")
    summary = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in (("symbol", "left"), ("data", "left"), ("missing", "right"), ("fetched", "right"),
                            ("stored", "right"), ("requests", "right"), ("429 waits", "right"), ("status", "left")):
        summary.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in reports:
        status = ("[red]failed[/]" if r.error else r.note or ("up to date" if r.to_fetch == 0 else
                  "ok, last bar forming" if r.open_bar else "ok"))
        summary.add_row(r.symbol, r.timeframe or "trades", "?" if r.to_fetch is None else f"{r.to_fetch:,}",
                        f"{r.fetched:,}", f"{r.present:,}", f"{r.requests:,}", f"{r.rate_limit_waits:,}", status)
    # A pipe or file gets the whole table, however wide (a terminal gets it fitted to its width).
    fitted = out.width
    if not out.is_terminal:
        out.width = max(fitted, Measurement.get(out, out.options.update_width(1000), summary).maximum)
    out.print(summary)
    out.width = fitted
    candles_fetched = sum(r.fetched for r in reports if r.timeframe is not None)
    trades_fetched = sum(r.fetched for r in reports if r.timeframe is None)
    requests = sum(r.requests for r in reports)
    if not any(r.to_fetch for r in reports) and not trades_fetched and not any(r.error for r in reports):
        out.print("nothing to fetch: the store already has every bar of the range")
    else:
        out.print(f"fetched {candles_fetched:,} bar(s)" + (f" and {trades_fetched:,} trade(s)" if args.trades else "")
                  + f" in {requests:,} request(s)")
    failed = [r.error for r in reports if r.error is not None]
    for error in failed:
        err.print(f"[bold red]error:[/] {error}")
    if failed:
        err.print("what was fetched is stored; run the same command again to fetch the rest")
    return EXIT_PROBLEM if failed else EXIT_OK


_FAULT_HELP = """\
faults (--fault, repeatable), written KIND@N[xCOUNT][:ARG][:every]:
  drop-connection@N     abort the connection right after market message N
  drop@N[xK]            do not send messages N .. N+K-1
  duplicate@N[xK]       send messages N .. N+K-1 twice
  reorder@N             swap message N with message N+1
  delay@N:SECONDS       hold message N (and everything after it) for SECONDS
  gap@N[xK]             skip the first K depth diffs from message N on (a sequence gap)
  malformed@N[:V]       replace message N by a broken frame; V = truncated (default),
                        text (not JSON) or types (valid JSON, wrong field types)
  rest-503@N[xK]        answer REST requests N .. N+K-1 with HTTP 503
  rate-limit@W[:SEC]    W request weight per SEC-second window (default 60); then HTTP 429
                        with Retry-After, and 418 with Retry-After if called during it
N counts market messages per websocket connection (1-based), or REST requests over the server.
A websocket fault fires on the first connection that reaches it; ':every' on every connection.

example:
  tradecore sim --recording usdm_btcusdt_20240808.gz --speed 10 --fault gap@1200 --fault rest-503@2
"""


def _fault(spec: str) -> str:
    from tradecore.sim.faults import Fault, FaultSpecError

    try:
        return str(Fault.parse(spec))
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_sim(args: argparse.Namespace) -> int:
    import asyncio

    from tradecore.sim import FaultPlan, SimServer, load

    with err.status(f"loading {Path(args.recording).name}"):
        market = load(args.recording, args.venue)
    plan = FaultPlan(args.fault)
    server = SimServer(market, speed=args.speed, clock=args.clock, history=args.history, faults=plan, port=args.port)

    async def run() -> None:
        async with server:
            counts = ", ".join(f"{len(e.points):,} {name}" for name, e in market.streams.items())
            out.print(f"[bold]{market.symbol}[/] on {market.venue} from {market.source}: {counts}")
            out.print(f"websocket  {server.ws_url}")
            if market.venue != "bybit":
                out.print(f"           ws://{server.host}:{server.port}/ws/<stream>")
            out.print(f"REST       {server.api_url}")
            pace = "as fast as each client reads" if args.speed == 0 else f"{args.speed:g}x real time"
            faults = f"; faults: {', '.join(args.fault)}" if args.fault else ""
            out.print(f"replay     {pace}, clock per {args.clock}{faults}")
            out.print("Ctrl-C stops the server")
            sys.stdout.flush()
            await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    injected = ", ".join(f"{kind} {n}" for kind, n in sorted(plan.injected.items())) or "none"
    out.print(f"stopped after {server.connections_opened} connection(s); faults injected: {injected}")
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from rich.live import Live

    from tradecore.data.feed import LiveFeed
    from tradecore.data.recorder import Recorder

    symbols = [s for group in args.symbols for s in group.split(",") if s]
    recorder = Recorder(args.out, args.venue, rotate_s=args.rotate)
    feed = LiveFeed(args.venue, symbols, ws_url=args.ws_url, rest_url=args.rest_url, tap=recorder.write,
                    timeframes=["1m"])
    recorder.on_rotate = feed.record_snapshot
    started = time.monotonic()

    def status() -> Table:
        table = Table(box=None, title=f"recording {args.venue} to {args.out}", title_justify="left")
        for column in ("symbol", "book", "messages", "problems"):
            table.add_column(column)
        health = feed.health()
        for symbol in feed.symbols:
            h = health[symbol]
            problems = [p for p in h.problems if not p.startswith("clock skew")]
            table.add_row(symbol, "[green]synced[/]" if h.synced else "[yellow]syncing[/]",
                          f"{int(h.figures['trades']):,} trades", "; ".join(problems) or "[green]ok[/]")
        seconds = time.monotonic() - started
        frames = feed.core.stats()["frames"]
        table.caption = f"{frames:,} frames in {seconds:,.0f} s ({_rate(frames, seconds)}/s), {feed.stats.reconnects} reconnect(s)"
        return table

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, feed.stop)
        task = asyncio.ensure_future(feed.run(duration=args.duration))
        if not err.is_terminal:
            await task
            return
        with Live(status(), console=err, refresh_per_second=2, transient=True) as live:
            while not task.done():
                await asyncio.wait([task], timeout=0.5)
                live.update(status())
        await task

    try:
        asyncio.run(run())
    finally:
        files = recorder.close()
    table = Table(title="recorded", title_justify="left")
    table.add_column("file")
    table.add_column("messages", justify="right")
    for path in files:
        table.add_row(str(path), f"{recorder.lines[path]:,}")
    out.print(table)
    s = feed.stats
    out.print(f"{s.connections} connection(s), {s.reconnects} reconnect(s), {s.snapshots_fetched} snapshot(s), "
              f"{s.resyncs} resync(s), {s.backfills} trade backfill(s), {s.malformed} malformed frame(s)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradecore", description="A crypto trading core: order books, candles and candlestick patterns from exchange data."
    )
    parser.add_argument("--version", action="version", version=f"tradecore {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more: -v what the bot decides and why, -vv everything")
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

    p = commands.add_parser(
        "patterns",
        help="detect TA-Lib's 61 candlestick patterns in candles, one integer column per pattern",
        description="Reads candles (CSV, optionally gzip-compressed, or Parquet) with open, high, low, close "
        "(and optionally volume and a time column) and writes one int16 column per pattern, named as TA-Lib "
        "names it, with TA-Lib's codes (0, ±100, ±80, ±200). With --scores, also grades every signal and "
        "writes OUT.signals.parquet, and shows how often each pattern was right.",
    )
    p.add_argument("file", help="candles file (.csv, .csv.gz or .parquet)")
    p.add_argument("--out", required=True, type=Path, help="output Parquet file")
    p.add_argument("--names", help="comma-separated patterns (default: all 61)")
    p.add_argument("--scores", action="store_true", help="grade signals and show hit statistics")
    p.add_argument("--horizon", type=int, default=10, help="bars ahead for the hit statistics (default 10)")
    p.set_defaults(run=cmd_patterns)

    p = commands.add_parser(
        "validate",
        help="check candles for bad bars, duplicates, gaps and outliers; score them; optionally repair",
        description="Checks candles (a CSV, CSV.gz or Parquet file with a time column and open, high, low, "
        "close, volume; or a store directory, every candle partition under it) for OHLC consistency, "
        "negative volume, non-finite values, timestamp order, duplicates, missing intervals and return "
        "outliers, and gives a 0-100 quality score. Exits with status 1 when there are errors (outliers "
        "alone are not).",
    )
    p.add_argument("path", help="candles file or store directory")
    p.add_argument("--timeframe", help="bar length, e.g. 1m (default: the median step, or the partition's)")
    p.add_argument("--repair", action="store_true",
                   help="write NAME.repaired.parquet next to the file: sorted, exact duplicates dropped, "
                   "conflicting and invalid bars dropped and listed with the gaps for fetching again")
    p.add_argument("--report", type=Path, help="write everything found as JSON to this file")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser(
        "download",
        help="download OHLCV bars (and trades) from an exchange into the Parquet store; resumable",
        description="Downloads bars of every symbol × timeframe in [--since, --until) through ccxt (async, "
        "paginated, at the exchange's rate limit, backing off on 429s) into the store under "
        "candles/venue=<ccxt id>/symbol=<ccxt symbol>/timeframe=<tf>/, and with --trades the trades. Only "
        "what the store lacks is fetched, so running it again resumes an interrupted download. Times are "
        "ISO dates or datetimes (UTC unless an offset is given) or milliseconds since the epoch. Exits with "
        "status 1 if a download failed (what was fetched is kept).",
    )
    p.add_argument("--exchange", required=True, type=_download_exchange, help="ccxt exchange id, e.g. binanceusdm")
    p.add_argument("--symbols", required=True, nargs="+", metavar="SYMBOL",
                   help="ccxt symbols or exchange ids (BTC/USDT:USDT or BTCUSDT); spaces or commas")
    p.add_argument("--timeframes", nargs="+", default=[], type=_download_timeframes, metavar="TF",
                   help="e.g. 1m 1h (or 1m,1h)")
    p.add_argument("--since", required=True, type=_download_time, metavar="WHEN", help="start (inclusive)")
    p.add_argument("--until", type=_download_time, metavar="WHEN",
                   help="end (exclusive; default: the exchange's now, the forming bar included)")
    p.add_argument("--store", type=Path, default=Path("data"), help="store directory (default ./data)")
    p.add_argument("--trades", action="store_true", help="also download trades (where the exchange has them)")
    p.add_argument("--rest-url", metavar="URL",
                   help="send REST calls to this base URL instead, e.g. a local exchange from tradecore sim")
    p.set_defaults(run=cmd_download)

    p = commands.add_parser(
        "sim",
        help="run a local exchange that replays a recording over the venue's websocket and REST API",
        description="Serves a recording on 127.0.0.1 as the venue would: Binance (spot /api/v3, USD-M "
        "/fapi/v1, COIN-M /dapi/v1; websocket /stream?streams=... and /ws/<stream>) or Bybit v5 "
        "(/v5/public/linear, /v5/market/...). Every websocket connection replays the recording from its "
        "start; REST depth snapshots are consistent with what clients were sent. Runs until Ctrl-C.",
        epilog=_FAULT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recording", required=True, help="recording file ('<recv_ts_ns> <json>' lines or bare JSON)")
    p.add_argument("--venue", choices=VENUES, help="default: what the recording's first messages say")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: any free port, printed)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="replay pace: 1 = real time, 10 = ten times faster, 0 = as fast as each client reads")
    p.add_argument("--clock", choices=("connection", "shared"), default="connection",
                   help="connection: each connection replays from the start (default); shared: one market "
                   "clock from server start that connections join (needs --speed > 0)")
    p.add_argument("--history", choices=("all", "clock"), default="all",
                   help="klines/trades endpoints serve the whole recording (all) or only up to the clock")
    p.add_argument("--fault", action="append", default=[], type=_fault, metavar="KIND@N[xK][:ARG]",
                   help="inject a fault (repeatable; syntax below)")
    p.set_defaults(run=cmd_sim)

    p = commands.add_parser(
        "record",
        help="record a venue's live depth, trades and bookTicker (with REST snapshots) to gzip files",
        description="Connects to the venue's websocket streams (depth, trade, bookTicker per symbol), keeps "
        "each book in sync (REST snapshots, which are recorded too) and writes every raw message as "
        "'<recv_ts_ns> <json>' lines to OUT/<venue>_<symbol>_<YYYYMMDD>T<HH>.gz, a new file every hour "
        "(each starting with a fresh snapshot), until --duration or Ctrl-C. Reconnects by itself.",
    )
    p.add_argument("--venue", required=True, choices=VENUES)
    p.add_argument("--symbols", required=True, nargs="+", help="instruments, e.g. BTCUSDT ETHUSDT")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--ws-url", help="websocket URL (default: the venue's; e.g. a local exchange's ws://.../stream)")
    p.add_argument("--rest-url", help="REST base URL (default: the venue's; e.g. http://127.0.0.1:PORT)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--rotate", type=int, default=3600, help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_record)

    from tradecore.trading_cli import add_commands

    add_commands(commands)
    return parser


def _logging(verbose: int) -> None:
    """Warnings by default, on stderr; -v adds the bot's decisions, -vv debugging detail."""
    from rich.logging import RichHandler

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = RichHandler(console=err, show_path=False, log_time_format="%H:%M:%S")
    logging.basicConfig(level=level, format="%(name)s: %(message)s", handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
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
