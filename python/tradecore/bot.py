"""A bot from a configuration: the engine built from its sections, fed by one of three sources —
stored candles (a backtest), a recording (a backtest on the book), or a live feed (paper trading,
against an exchange or ``tradecore sim``) — and the run's results and report.

The recording source and the live feed drive the engine through the same :class:`FeedDriver`
over the same Rust feed core, so a paper run and a backtest over one recording see the same
events in the same order and make the same trades.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tradecore import recording
from tradecore._core import Candle, Feed
from tradecore.analysis.regime import RegimeDetector
from tradecore.backtest.metrics import Metrics, compute_metrics
from tradecore.backtest.montecarlo import MonteCarlo, monte_carlo
from tradecore.backtest.walkforward import WalkForward, walk_forward
from tradecore.backtest.report import write_report
from tradecore.config import BotConfig
from tradecore.data import validate
from tradecore.engine import Engine, FeedBook, Observer
from tradecore.data.history import parse_time
from tradecore.errors import ConfigError, InvalidArgumentError, MessageError
from tradecore.execution.portfolio import Portfolio
from tradecore.execution.state import StateStore
from tradecore.risk import RiskEngine
from tradecore.strategy import create
from tradecore.strategy.selector import Selector

if TYPE_CHECKING:
    from tradecore.data.feed import FeedStats, LiveFeed
    from tradecore.warmup import WarmStart

log = logging.getLogger("tradecore.bot")

Columns = dict[str, npt.NDArray[Any]]


def build_engine(config: BotConfig, *, fills_from: str, observer: Observer | None = None, resume: bool = True) -> Engine:
    """The engine a configuration describes (with its state store when ``[bot] state`` is set)."""
    strategies = [create(name, **params) for name, params in config.enabled_strategies().items()]
    portfolio = Portfolio(config.bot.cash, quote=config.bot.quote)
    store = StateStore(config.bot.state) if config.bot.state else None
    engine = Engine(
        symbols=config.bot.symbols,
        strategies=strategies,
        selector=Selector(strategies, config.selector),
        risk=RiskEngine(config.risk),
        portfolio=portfolio,
        paper=config.paper,
        regime=lambda: RegimeDetector(config.regime),
        regime_timeframe=config.regime.timeframe,
        base=config.bot.base_timeframe,
        fills_from=fills_from,
        store=store,
        observer=observer,
    )
    if resume and store is not None and engine.resume():
        log.info("resuming from %s", config.bot.state)
    return engine


# --- sources ------------------------------------------------------------------------------------
def _columns(table: pa.Table, time_column: str) -> Columns:
    cols: Columns = {"time": validate.times_ms(table.column(time_column), time_column)}
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in table.column_names]
    if missing:
        raise ConfigError(f"the candles have no {', '.join(missing)} column; they have {', '.join(table.column_names)}")
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = np.asarray(table.column(name).cast(pa.float64()).to_numpy(), dtype=np.float64)
    return cols


def read_candles(path: str | Path, *, since_ms: int | None = None, until_ms: int | None = None) -> Columns:
    """A candles file (CSV/Parquet with a time column and open/high/low/close/volume) as
    columns with ``time`` in UTC ms."""
    table = validate.read_candle_file(Path(path))
    cols = _columns(table, validate.time_column(table))
    keep = np.ones(len(cols["time"]), dtype=bool)
    if since_ms is not None:
        keep &= cols["time"] >= since_ms
    if until_ms is not None:
        keep &= cols["time"] < until_ms
    return {k: v[keep] for k, v in cols.items()}


def _utc_ms(text: str | None, key: str) -> int | None:
    """``[data] since``/``until`` (UTC unless an offset is given) in ms."""
    try:
        return None if text is None else parse_time(text)
    except InvalidArgumentError as exc:
        raise ConfigError(f"data.{key}: {exc}") from None


def load_candles(config: BotConfig) -> Columns:
    """The bars of ``[data] candles``: a CSV/Parquet file, or a store directory (as ``tradecore
    download`` fills it: ``[data] exchange``, the first symbol, the base timeframe), cut to
    ``since``/``until``."""
    assert config.data.candles is not None
    path = Path(config.data.candles)
    since, until = _utc_ms(config.data.since, "since"), _utc_ms(config.data.until, "until")
    if not path.is_dir():
        return read_candles(path, since_ms=since, until_ms=until)
    from tradecore.data.store import Store

    symbol, timeframe = config.bot.symbols[0], config.bot.base_timeframe
    table = Store(path).read_candles(config.data.exchange, symbol, timeframe, since, until)
    if table.num_rows == 0:
        raise ConfigError(f"{path}: no {config.data.exchange} {symbol} {timeframe} candles stored in that range; "
                          f"fetch them first: tradecore download --exchange {config.data.exchange} --symbols {symbol} "
                          f"--timeframes {timeframe} --since ...")
    return _columns(table, "open_time")


class FeedDriver:
    """Follows a feed core for the engine: every synced book update goes to the broker's
    matching, every closed base bar to the engine's bar step."""

    def __init__(self, engine: Engine, core: Feed, symbols: Sequence[str]) -> None:
        self.engine = engine
        self.core = core
        self.symbols = symbols  # the feed's own list (it grows with subscriptions)
        self._books: dict[str, FeedBook] = {}

    def on_flags(self, flags: int, recv_ns: int) -> None:
        self.engine.event_started_ns = recv_ns  # tick-to-order latency counts from the frame's arrival
        if flags & Feed.KIND != Feed.DEPTH:
            return
        symbol = self.symbols[flags >> Feed.SYMBOL_SHIFT]
        if not self.core.synced(symbol):
            return
        t = self.core.event_time(symbol)
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = FeedBook(self.core, symbol)
        if t is not None:
            self.engine.on_book(symbol, t, book)

    def on_candle(self, symbol: str, candle: Candle) -> None:
        if candle.timeframe == self.engine.base and symbol in self.engine.bars:
            self.engine.on_bar(symbol, candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)


def replay_recording(engine: Engine, path: str | Path, venue: str, *, close_delay_ms: int = 1000,
                     progress: Callable[[int, int], None] | None = None) -> int:
    """Drives the engine with a recording (book mode); returns the malformed lines skipped."""
    symbols = list(engine.symbols)
    core = Feed(venue, symbols, timeframes=[engine.base], close_delay_ms=close_delay_ms)
    driver = FeedDriver(engine, core, symbols)
    total = recording.size(path)
    malformed = 0
    for chunk in recording.chunks(path, on_progress=(lambda n: progress(n, total)) if progress else None):
        for line in chunk.data.splitlines():
            stamp, _, raw = line.partition(b" ")
            if not raw:
                continue
            try:
                recv = int(stamp)
                arrived = time.time_ns()
                if raw.startswith(b'{"stream"') or raw.startswith(b'{"topic"'):
                    flags = core.on_frame(raw, recv)
                else:  # a REST snapshot recorded in the stream
                    core.apply_snapshot(symbols[0], raw, recv)
                    continue
            except (MessageError, ValueError) as exc:
                malformed += 1
                log.debug("skipped a bad recording line: %s", exc)
                continue
            driver.on_flags(flags, arrived)
            if flags & Feed.CANDLES:
                for symbol, candle in core.take_closed():
                    driver.on_candle(symbol, candle)
    return malformed


def live_feed(engine: Engine, config: BotConfig) -> tuple[LiveFeed, WarmStart | None]:
    """A live feed of the configuration's symbols (``[data] ws_url``/``rest_url``: the venue's
    or ``tradecore sim``'s) whose frames drive ``engine``; its bars go through a warm start
    first when ``[data] warmup_days`` > 0 (see :mod:`tradecore.warmup`)."""
    from tradecore.data.feed import LiveFeed
    from tradecore.warmup import WarmStart

    feed = LiveFeed(config.bot.venue, config.bot.symbols, timeframes=[engine.base], ws_url=config.data.ws_url,
                    rest_url=config.data.rest_url)
    driver = FeedDriver(engine, feed.core, feed.symbols)
    feed.on_flags = driver.on_flags
    warm = None
    if config.data.warmup_days > 0:
        warm = WarmStart(engine, config.bot.venue, days=config.data.warmup_days, store=Path(config.data.history),
                         rest_url=config.data.rest_url)
        feed.on_candle = warm.on_candle
    else:
        feed.on_candle = driver.on_candle
    return feed, warm


async def run_live(engine: Engine, config: BotConfig, *, duration: float | None = None) -> FeedStats:
    """Paper-trades on :func:`live_feed` for ``duration`` seconds (or until cancelled)."""
    feed, warm = live_feed(engine, config)
    stats = await feed.run(duration=duration)
    if warm is not None:
        await warm.settled()
    return stats


# --- results --------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a run did, measured."""

    name: str
    engine: Engine
    metrics: Metrics
    candles: Columns
    seconds: float
    events: int
    monte_carlo: MonteCarlo | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    walk_forward: WalkForward | None = None

    def write_report(self, out: str | Path) -> tuple[Path, Path]:
        t, equity = self.engine.curve.arrays()
        markers = _pattern_markers(self.candles)
        return write_report(
            Path(out), self.name, candles=self.candles, trades=self.engine.trades, fills=self.engine.fills,
            equity_time_ms=t, equity=equity, metrics=self.metrics, markers=markers,
            monte_carlo=self.monte_carlo, walk_forward=self.walk_forward, title=self.meta.get("title", self.name), meta=self.meta,
        )


def _pattern_markers(candles: Mapping[str, npt.NDArray[Any]], limit: int = 400) -> list[tuple[int, str, int]]:
    """The strongest accepted candlestick-pattern signals, for the chart."""
    from tradecore import patterns

    if len(candles.get("time", ())) < 20:
        return []
    signals = patterns.score(candles["open"], candles["high"], candles["low"], candles["close"], candles["volume"])
    rows = [r for r in signals.to_pylist() if r.get("accepted")]
    rows.sort(key=lambda r: -float(r.get("confidence", 0.0)))
    t = candles["time"]
    return [(int(t[r["bar"]]), str(r["pattern"]), 1 if int(r["direction"]) > 0 else -1) for r in rows[:limit]]


def summarize(name: str, engine: Engine, config: BotConfig, candles: Columns, seconds: float, events: int,
              meta: Mapping[str, Any]) -> RunResult:
    t, equity = engine.curve.arrays()
    if len(t) == 0:
        t, equity = np.array([engine.now_ms], dtype=np.int64), np.array([config.bot.cash])
    metrics = compute_metrics(t, equity, engine.trades, fees_paid=engine.portfolio.fees_paid)
    mc = None
    if config.report.monte_carlo_runs and len(engine.trades) >= 2:
        mc = monte_carlo(engine.trades, config.bot.cash, runs=config.report.monte_carlo_runs, seed=config.report.seed)
    return RunResult(name, engine, metrics, candles, seconds, events, mc, dict(meta))


def backtest(config: BotConfig, *, progress: Callable[[int, int], None] | None = None,
             observer: Observer | None = None, name: str = "backtest") -> RunResult:
    """A backtest over ``[data] candles`` (one file per run: its bars are the first symbol's)
    or ``[data] recording``."""
    started = time.perf_counter()
    if config.data.source == "candles":
        assert config.data.candles is not None
        engine = build_engine(config, fills_from="bars", observer=observer)
        cols = load_candles(config)
        if len(config.bot.symbols) != 1:
            raise ConfigError("a backtest on a candles file trades one symbol: set [bot] symbols to one symbol")
        engine.preload(config.bot.symbols[0], cols)
        engine.run_preloaded(progress)
        events = len(cols["time"])
    elif config.data.source == "recording":
        assert config.data.recording is not None
        engine = build_engine(config, fills_from="book", observer=observer)
        replay_recording(engine, config.data.recording, config.bot.venue, progress=progress)
        sym = config.bot.symbols[0]
        bars = engine.bars[sym][engine.base]
        cols = bars.columns()
        events = len(cols["time"])
    else:
        raise ConfigError("data.source: a backtest needs 'candles' or 'recording' (use `tradecore run` for 'live')")
    engine.close_all()
    seconds = time.perf_counter() - started
    meta = {"title": f"{config.bot.name}: backtest", "strategies": list(config.enabled_strategies()),
            "symbols": config.bot.symbols, "source": config.data.candles or config.data.recording}
    return summarize(name, engine, config, cols, seconds, events, meta)


# --- walk-forward ---------------------------------------------------------------------------------
def with_params(config: BotConfig, params: Mapping[str, Any]) -> BotConfig:
    """``config`` with ``"section.name"`` overrides: a strategy's name (``"trend.adx_min"``) or
    ``risk``, ``regime``, ``paper``, ``selector``."""
    data = config.model_dump(mode="json")
    for key, value in params.items():
        section, _, name = key.partition(".")
        if not name:
            raise ConfigError(f"walk_forward.grid: {key!r} must look like 'strategy.parameter' or 'risk.parameter'")
        if section in data["strategies"]:
            data["strategies"][section][name] = value
        elif section in ("risk", "regime", "paper", "selector"):
            data[section][name] = value
        else:
            raise ConfigError(f"walk_forward.grid: {key!r}: {section!r} is neither an enabled strategy nor risk/regime/paper/selector")
    try:
        return BotConfig.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"walk_forward.grid: {exc}") from None


@functools.lru_cache(maxsize=2)
def _cached_candles(config_json: str) -> Columns:
    return load_candles(BotConfig.model_validate_json(config_json))


def run_window(config_json: str, params: Mapping[str, Any], start: int, end: int) -> Metrics:
    """Backtests bars ``start`` ≤ i < ``end`` of the configuration's candles with ``params``;
    the bars before ``start`` only warm the indicators up (no trading). Module-level, so a
    process pool can run it."""
    config = with_params(BotConfig.model_validate_json(config_json), params)
    cols = _cached_candles(config_json)
    engine = build_engine(config.model_copy(update={"bot": config.bot.model_copy(update={"state": None})}),
                          fills_from="bars", resume=False)
    engine.preload(config.bot.symbols[0], {k: v[:end] for k, v in cols.items()})
    if start > 0:
        engine.cursor_ms = int(cols["time"][start - 1]) + engine.base_ms  # warm-up: replayed, not traded
    engine.run_preloaded()
    engine.close_all()
    t, equity = engine.curve.arrays()
    if len(t) < 2:
        t = np.array([int(cols["time"][start]), int(cols["time"][end - 1]) + engine.base_ms], dtype=np.int64)
        equity = np.array([config.bot.cash, config.bot.cash])
    return compute_metrics(t, equity, engine.trades, fees_paid=engine.portfolio.fees_paid)


def optimise(config: BotConfig, *, workers: int = 2) -> WalkForward:
    """Walk-forward optimisation of ``[walk_forward] grid`` over the configuration's candles."""
    wf = config.walk_forward
    if config.data.source != "candles" or config.data.candles is None:
        raise ConfigError("walk-forward runs on candles: set [data] source = 'candles'")
    if not wf.grid:
        raise ConfigError('walk_forward.grid is empty: give parameters to try, e.g. "trend.adx_min" = [20, 25, 30]')
    with_params(config, {k: v[0] for k, v in wf.grid.items()})  # every key names something real
    n = len(load_candles(config)["time"])
    run = functools.partial(run_window, config.model_dump_json())
    return walk_forward(n, train=wf.train_bars, test=wf.test_bars, grid=wf.grid, run=run,
                        objective=wf.objective, workers=workers)
