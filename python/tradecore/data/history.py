"""Downloading history into the store: OHLCV bars, and trades where the venue has them, through
ccxt's async API; paginated, resumable and kind to the exchange's rate limits.

    import ccxt.async_support as ccxt
    from tradecore.data.history import Downloader
    from tradecore.data.store import Store

    exchange = ccxt.binanceusdm({"enableRateLimit": True})
    try:
        reports = await Downloader(exchange, Store("data")).run(
            ["BTC/USDT:USDT"], ["1m", "1h"], since="2024-08-01", until="2024-08-08", trades=True)
    finally:
        await exchange.close()

or ``await download("binanceusdm", "data", [...], [...], since=...)``, which opens and closes the
exchange itself (``rest_url=`` points it at a local exchange, see :func:`point_at`).

- **Venue names** in the store are ccxt exchange ids (``binance``, ``binanceusdm``,
  ``binancecoinm``, ``bybit``, ...) and symbols are ccxt's unified symbols (``BTC/USDT:USDT``;
  exchange ids such as ``BTCUSDT`` are accepted and translated). ``binance`` and ``binanceusdm``
  are different venues even for the same perpetual: download each market through one class.
- **Resumable**: for each (symbol, timeframe) only the bars the store does not hold yet in
  ``[since, until)`` are fetched (:meth:`Store.missing_candles`, plus stored bars that were
  still forming), page by page with ``fetch_ohlcv(symbol, tf, since=..., limit=...)``. Every page
  is written as it arrives, so an interrupted run keeps what it got and the next run fetches
  only the rest; a run over a complete range sends no kline request at all.
- **Closed bars**: a bar is stored ``closed`` when its close time is at or before the exchange's
  clock (its ``fetch_time``, measured once per run and carried forward on the local monotonic
  clock, erring early) or when the exchange returned a later bar. The newest bar may still be
  forming: it is stored unclosed and replaced by a later run. Each page asks for one bar past
  the range, so the last bar of a past range is known to be closed without another request.
- **Trades** (``trades=True``, where ``exchange.has['fetchTrades']``): on Binance ccxt's
  ``fetch_trades`` serves *aggregate* trades (one row per taker order, price and time;
  ``trade_id`` is the aggregate trade id): found by time once, then paged by ``fromId``, skipping
  id runs the store already holds. Elsewhere pages follow the trade time, resuming after the
  newest stored trade of the range.
- **Rate limits**: one :class:`RateLimiter` per exchange instance (= per account) is shared by
  every task of every run on it: ccxt's own throttle (``enableRateLimit``: requests spaced
  ``rateLimit × cost`` ms apart), at most ``max_in_flight`` requests at once (default 1), and a
  shared back-off. A 429 or 418 closes the gate for every task for ``Retry-After`` seconds (or
  an exponential back-off with jitter) and doubles ``exchange.rateLimit`` (capped); successes
  ease it back by 10% of the excess each. A storm of 429s thus slows the client down instead of
  having it hammer on into a ban. Network errors and 5xx answers are retried with exponential
  back-off up to ``retries`` times; then (or on a refusal such as an unknown interval) the task
  fails with :class:`~tradecore.errors.DownloadError` naming the exchange, symbol, timeframe and
  the interval still missing, while the other tasks carry on.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tradecore.data.store import TIME, Interval, Store, align_up, grid_origin, iso, timeframe_ms, to_ms
from tradecore.errors import ConflictError, DownloadError, InvalidArgumentError

#: Where ccxt's Binance classes look for each API, relative to a local exchange's base URL.
BINANCE_API_PATHS = {
    "public": "/api/v3", "private": "/api/v3", "v1": "/api/v1",
    "fapiPublic": "/fapi/v1", "fapiPublicV2": "/fapi/v2", "fapiPublicV3": "/fapi/v3", "fapiPrivate": "/fapi/v1",
    "dapiPublic": "/dapi/v1", "dapiPrivate": "/dapi/v1",
}
BINANCE_IDS = frozenset({"binance", "binanceusdm", "binancecoinm"})
#: API prefixes a pasted base URL may end with (what ``tradecore sim`` prints as its REST URL).
_URL_SUFFIXES = ("/api/v3", "/fapi/v1", "/dapi/v1", "/v5/market")
#: Binance answers a trades query by time with at most one hour from ``since``.
_BINANCE_TRADE_WINDOW_MS = 3_600_000
_DEFAULT_PAGE = 500

TimeArg = int | datetime | str
ProgressCallback = Callable[["TaskReport"], None]

#: The HTTP status and headers of the last answer the current asyncio task received from ccxt.
_LAST_RESPONSE: contextvars.ContextVar[tuple[int, dict[str, str]] | None] = contextvars.ContextVar(
    "tradecore_last_response", default=None
)


def _ccxt() -> Any:
    """ccxt's async classes, imported on first use (the import takes about a second)."""
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

    return ccxt_async


def parse_time(value: TimeArg) -> int:
    """Epoch ms from ms (an int or a string of digits), an aware datetime, or an ISO date or
    datetime string (``2024-08-08``, ``2024-08-08T12:00``, ``2024-08-08 12:00:00Z``, offsets
    allowed; without one it is UTC)."""
    if isinstance(value, (int, datetime)):
        return to_ms(value)
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(
            f"bad time {value!r}: expected an ISO date or datetime (UTC unless an offset is given, "
            "e.g. 2024-08-08 or 2024-08-08T12:30:00Z) or milliseconds since the epoch",
            name="time",
        ) from None
    return to_ms(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def binance_api_urls(base_url: str) -> dict[str, str]:
    """``urls['api']`` overrides that send ccxt's Binance classes to ``base_url`` (a local exchange)."""
    base = base_url.rstrip("/")
    return {name: base + path for name, path in BINANCE_API_PATHS.items()}


def point_at(exchange: Any, rest_url: str) -> None:
    """Sends ``exchange``'s REST calls to ``rest_url``: for ccxt's Binance classes each API at its
    path under that base (as :meth:`tradecore.sim.SimServer.ccxt_urls`), for other exchanges
    every API URL replaced by it. A trailing API prefix (``/fapi/v1``, ``/v5/market``...) is
    dropped, so the REST URL ``tradecore sim`` prints works as it is."""
    base = rest_url.strip().rstrip("/")
    if not re.match(r"https?://[^/]+", base):
        raise InvalidArgumentError(f"bad REST URL {rest_url!r}: expected http(s)://host[:port]", name="rest_url")
    for suffix in _URL_SUFFIXES:
        if base.endswith(suffix) and re.match(r"https?://[^/]+$", base[: -len(suffix)]):
            base = base[: -len(suffix)]
    api = exchange.urls.get("api")
    if exchange.id in BINANCE_IDS and isinstance(api, dict):
        exchange.urls["api"] = {**api, **binance_api_urls(base)}
    elif isinstance(api, dict):
        exchange.urls["api"] = {name: base if isinstance(url, str) else url for name, url in api.items()}
    else:
        exchange.urls["api"] = base


def check_exchange(exchange_id: str) -> str:
    """``exchange_id`` if ccxt has such an exchange, else :class:`InvalidArgumentError` with the
    closest names."""
    known = _ccxt().exchanges
    if exchange_id not in known:
        close = difflib.get_close_matches(exchange_id.lower(), known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " (a ccxt id, e.g. binance, binanceusdm, bybit)"
        raise InvalidArgumentError(f"unknown exchange {exchange_id!r}{hint}", name="exchange")
    return exchange_id


def create_exchange(exchange_id: str, *, rest_url: str | None = None, config: Mapping[str, Any] | None = None) -> Any:
    """A ``ccxt.async_support`` exchange with ccxt's rate limiting on (close it when done)."""
    exchange = getattr(_ccxt(), check_exchange(exchange_id))({"enableRateLimit": True, **(config or {})})
    if rest_url is not None:
        point_at(exchange, rest_url)
    return exchange


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                seconds = float(value)
            except ValueError:
                return None  # an HTTP date: fall back to the exponential back-off
            return seconds if seconds >= 0 else None
    return None


class RateLimiter:
    """The one limiter of an exchange instance, shared by every request made through it.

    It keeps ccxt's throttle (``rateLimit × cost`` ms between requests) and adds a gate in front
    of it: at most ``max_in_flight`` requests at once (through :attr:`slots`), and no request
    while a back-off is running. A 429 or 418 answer (seen as it arrives, before ccxt raises)
    starts a back-off for everyone of ``Retry-After`` seconds, or ``backoff × 2^(n-1)`` with
    jitter for the n-th in a row, and multiplies ``exchange.rateLimit`` by ``slow_factor`` up to
    ``max_rate_limit_ms``; each success takes back ``ease`` of the excess over the exchange's
    own rate. Get it with :meth:`of` so that an exchange never gets two."""

    def __init__(
        self,
        exchange: Any,
        *,
        max_in_flight: int = 1,
        slow_factor: float = 2.0,
        ease: float = 0.1,
        max_rate_limit_ms: float = 10_000.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1:
            raise InvalidArgumentError(f"max_in_flight must be 1 or more, got {max_in_flight}", name="max_in_flight")
        if getattr(exchange, "_tradecore_limiter", None) is not None:
            raise InvalidArgumentError(f"{exchange.id} already has a rate limiter: use RateLimiter.of(exchange)")
        self.exchange = exchange
        exchange.enableRateLimit = True
        self.base_ms = float(exchange.rateLimit)
        self.slow_factor = slow_factor
        self.ease = ease
        self.max_rate_limit_ms = max(max_rate_limit_ms, self.base_ms)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.slots = asyncio.Semaphore(max_in_flight)
        self.resume_at = 0.0
        #: 429 and 418 answers seen, the seconds of back-off they caused and the slowest pace.
        self.rate_limited = 0
        self.banned = 0
        self.waited = 0.0
        self.peak_ms = self.base_ms
        self._clock = clock
        self._in_a_row = 0
        self._throttle = exchange.throttle
        self._on_rest_response = exchange.on_rest_response
        exchange.throttle = self._gated_throttle
        exchange.on_rest_response = self._on_response
        exchange._tradecore_limiter = self

    @classmethod
    def of(cls, exchange: Any, **options: Any) -> RateLimiter:
        """The exchange's limiter, created (with ``options``) on first use."""
        existing = getattr(exchange, "_tradecore_limiter", None)
        return existing if isinstance(existing, RateLimiter) else cls(exchange, **options)

    @property
    def rate_limit_ms(self) -> float:
        return float(self.exchange.rateLimit)

    def _set_rate_limit(self, ms: float) -> None:
        exchange = self.exchange
        exchange.rateLimit = ms
        self.peak_ms = max(self.peak_ms, ms)
        refill = 1.0 / ms
        if isinstance(exchange.tokenBucket, dict):
            exchange.tokenBucket["refillRate"] = refill
        config = getattr(getattr(exchange, "throttler", None), "config", None)
        if isinstance(config, dict):
            config["refillRate"] = refill
            if config.get("algorithm") == "rollingWindow":
                config["maxWeight"] = config["windowSize"] / ms

    def _on_response(self, code: Any, reason: Any, url: Any, method: Any, headers: Any, *rest: Any) -> Any:
        status = int(code) if code else 0
        _LAST_RESPONSE.set((status, dict(headers or {})))
        if status in (418, 429):
            self.limited(status, headers)
        return self._on_rest_response(code, reason, url, method, headers, *rest)

    def limited(self, status: int | None, headers: Mapping[str, str] | None = None) -> float:
        """Starts (or extends) the shared back-off after a 429/418 and slows the pace; returns
        the back-off in seconds."""
        if status == 418:
            self.banned += 1
        else:
            self.rate_limited += 1
        self._in_a_row += 1
        pause = _retry_after(headers)
        if pause is None:
            pause = min(self.max_backoff, self.backoff * 2 ** (self._in_a_row - 1)) * random.uniform(0.5, 1.0)
        self._set_rate_limit(min(self.max_rate_limit_ms, self.rate_limit_ms * self.slow_factor))
        now = self._clock()
        until = max(self.resume_at, now + pause)
        self.waited += until - max(self.resume_at, now)
        self.resume_at = until
        return pause

    def succeeded(self) -> None:
        self._in_a_row = 0
        if self.rate_limit_ms > self.base_ms:
            eased = self.rate_limit_ms - (self.rate_limit_ms - self.base_ms) * self.ease
            self._set_rate_limit(eased if eased - self.base_ms > 0.5 else self.base_ms)

    def backing_off(self) -> float:
        """Seconds left of the current back-off (0 when none)."""
        return max(0.0, self.resume_at - self._clock())

    async def wait(self) -> None:
        while (left := self.backing_off()) > 0:
            await asyncio.sleep(left)

    async def _gated_throttle(self, cost: Any = None) -> Any:
        while True:
            await self.wait()
            result = await self._throttle(cost)
            if not self.backing_off():  # a back-off that began while queued holds this one too
                return result


@dataclass
class TaskReport:
    """What one (symbol, timeframe) task did; ``timeframe`` is None for trades. ``to_fetch`` is
    how many bars were missing in ``[start, end)`` (None for trades: unknowable), ``present``
    how many were already stored, ``fetched`` the bars (or trades) received and stored, ``done``
    the bars settled so far (progress), ``requests`` HTTP requests sent (retries included),
    ``rate_limit_waits`` 429/418 answers it waited out, ``retries`` transient failures retried.
    ``open_bar``: the newest stored bar is still forming. ``error``: why the task gave up."""

    venue: str
    symbol: str
    timeframe: str | None
    start: int
    end: int
    to_fetch: int | None = 0
    present: int = 0
    fetched: int = 0
    done: int = 0
    requests: int = 0
    rate_limit_waits: int = 0
    retries: int = 0
    open_bar: bool = False
    note: str = ""
    error: DownloadError | None = None
    intervals: list[Interval] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "trades" if self.timeframe is None else "candles"

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.timeframe or 'trades'}"


@dataclass
class _Attempt:
    """What a request is for, to name it when giving up."""

    report: TaskReport | None
    symbol: str
    timeframe: str | None
    start: int
    end: int


def _floats(values: Iterable[Any]) -> pa.Array:
    return pa.array([None if v is None else float(v) for v in values], pa.float64())


def _times(values: Iterable[int]) -> pa.Array:
    return pa.array(list(values), pa.int64()).cast(TIME)


class Downloader:
    """Downloads into ``store`` through one ccxt async ``exchange`` (see the module documentation).

    ``page`` bars per kline request (default: ccxt's documented maximum for the market, else
    500; at least 2), ``trade_page`` trades per trade request (default 500). ``retries``
    transient failures (network errors, 5xx) per request, backing off ``backoff × 2^(n-1)`` s
    (capped at ``max_backoff``, jittered); ``max_rate_limit_waits`` 429/418 answers in a row per
    request and ``max_retry_after`` seconds of back-off before giving up. ``venue`` defaults to
    the ccxt id. ``now`` overrides the exchange clock (ms) that decides which bars are closed.
    Further keywords go to :class:`RateLimiter` when the exchange does not have one yet."""

    def __init__(
        self,
        exchange: Any,
        store: Store | str | Path,
        *,
        venue: str | None = None,
        page: int | None = None,
        trade_page: int | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rate_limit_waits: int = 30,
        max_retry_after: float = 300.0,
        now: Callable[[], int] | None = None,
        **limiter_options: Any,
    ) -> None:
        if page is not None and page < 2:
            raise InvalidArgumentError(f"page must be 2 or more bars, got {page}", name="page")
        if trade_page is not None and trade_page < 1:
            raise InvalidArgumentError(f"trade_page must be 1 or more, got {trade_page}", name="trade_page")
        if retries < 0:
            raise InvalidArgumentError(f"retries must be 0 or more, got {retries}", name="retries")
        self.exchange = exchange
        self.store = store if isinstance(store, Store) else Store(store)
        self.venue = venue or str(exchange.id)
        self.page = page
        self.trade_page = trade_page
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_retry_after = max_retry_after
        self.limiter = RateLimiter.of(exchange, **limiter_options)
        self._now = now
        self._offset: int | None = None
        #: ccxt calls made for the run itself (loading the markets, reading the exchange clock).
        self.setup_requests = 0

    # -- the run --------------------------------------------------------------------------------

    async def run(
        self,
        symbols: Sequence[str],
        timeframes: Sequence[str],
        since: TimeArg,
        until: TimeArg | None = None,
        *,
        trades: bool = False,
        on_progress: ProgressCallback | None = None,
        raise_errors: bool = True,
    ) -> list[TaskReport]:
        """Fetches what the store lacks of every symbol × timeframe in ``[since, until)``
        (``until`` defaults to the exchange's now, so the forming bar is included), and the
        trades with ``trades``; all tasks run at once through the exchange's limiter. Returns one
        report per task; with ``raise_errors`` raises the first task's :class:`DownloadError`
        once every task has finished (without, the errors are in the reports)."""
        start = parse_time(since)
        end = None if until is None else parse_time(until)
        if not symbols:
            raise InvalidArgumentError("no symbols given", name="symbols")
        if not timeframes and not trades:
            raise InvalidArgumentError("nothing to download: give timeframes, or trades", name="timeframes")
        steps = {tf: timeframe_ms(tf) for tf in timeframes}
        setup = _Attempt(None, "markets", None, start, end if end is not None else start)
        await self._call(setup, self.exchange.load_markets)
        markets = self._resolve(symbols)
        self._check_timeframes(timeframes, trades)
        if end is None:
            end = self.now() + 1 if self._now is not None else await self._calibrate() + 1
        if end <= start:
            raise InvalidArgumentError(f"until ({iso(end)}) must be after since ({iso(start)})", name="until")

        reports: list[TaskReport] = []
        for symbol in markets:
            for tf, step in steps.items():
                report = TaskReport(self.venue, symbol, tf, start, end)
                report.intervals = self._to_fetch(symbol, tf, start, end)
                first, stop = align_up(start, step, grid_origin(tf)), align_up(end, step, grid_origin(tf))
                report.to_fetch = sum(iv.bars(step) for iv in report.intervals)
                report.present = max(0, Interval(first, stop).bars(step) - report.to_fetch) if stop > first else 0
                reports.append(report)
            if trades:
                report = TaskReport(self.venue, symbol, None, start, end, to_fetch=None)
                if not self.exchange.has.get("fetchTrades"):
                    report.note = f"{self.exchange.id} offers no trades"
                reports.append(report)
        if any(r.to_fetch or (r.timeframe is None and not r.note) for r in reports):
            await self._calibrate()
        for report in reports:
            if on_progress is not None:
                on_progress(report)
        await asyncio.gather(*(self._task(r, on_progress) for r in reports))
        failed = [r.error for r in reports if r.error is not None]
        if raise_errors and failed:
            raise failed[0]
        return reports

    def _resolve(self, symbols: Sequence[str]) -> list[str]:
        ccxt = _ccxt()
        found: list[str] = []
        for text in symbols:
            try:
                symbol = str(self.exchange.market(text)["symbol"])
            except ccxt.BadSymbol:
                known = list(self.exchange.symbols or [])
                close = difflib.get_close_matches(text.upper(), known, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(known)} markets)"
                raise InvalidArgumentError(f"{self.exchange.id} has no market {text!r}{hint}", name="symbol") from None
            if symbol not in found:
                found.append(symbol)
        return found

    def _check_timeframes(self, timeframes: Sequence[str], trades: bool) -> None:
        if timeframes and not self.exchange.has.get("fetchOHLCV"):
            raise InvalidArgumentError(f"{self.exchange.id} offers no OHLCV history", name="timeframes")
        offered = self.exchange.timeframes or {}
        for tf in timeframes:
            if tf not in offered:
                raise InvalidArgumentError(
                    f"{self.exchange.id} has no {tf} bars; it offers {', '.join(offered)}", name="timeframe"
                )

    def _to_fetch(self, symbol: str, timeframe: str, start: int, end: int) -> list[Interval]:
        """The store's missing intervals plus its stored bars that were still forming, merged."""
        step = timeframe_ms(timeframe)
        missing = self.store.missing_candles(self.venue, symbol, timeframe, start, end)
        stored = self.store.read_candles(self.venue, symbol, timeframe, start, end, columns=["open_time", "closed"])
        forming = stored.filter(pc.invert(stored.column("closed")))
        times = forming.column("open_time").cast(pa.int64()).to_pylist()
        merged: list[Interval] = []
        for iv in sorted([*missing, *(Interval(t, t + step) for t in times)]):
            if merged and iv.start <= merged[-1].end:
                merged[-1] = Interval(merged[-1].start, max(merged[-1].end, iv.end))
            else:
                merged.append(iv)
        return merged

    async def _calibrate(self) -> int:
        """Measures the exchange clock's offset from ours (once); returns the exchange's now."""
        if self._now is not None:
            return self._now()
        if self._offset is None:
            self._offset = 0
            if self.exchange.has.get("fetchTime"):
                setup = _Attempt(None, "server time", None, 0, 0)
                server = await self._call(setup, self.exchange.fetch_time)
                # Read after the answer arrived: the exchange clock is at least this far along.
                self._offset = int(server) - int(self.exchange.milliseconds())
        return self.now()

    def now(self) -> int:
        """The exchange's clock (ms), erring early."""
        if self._now is not None:
            return self._now()
        return int(self.exchange.milliseconds()) + (self._offset or 0)

    async def _task(self, report: TaskReport, on_progress: ProgressCallback | None) -> None:
        try:
            if report.timeframe is None:
                if not report.note:
                    await self._trades(report, on_progress)
            else:
                for interval in report.intervals:
                    await self._candles(report, interval, on_progress)
        except DownloadError as exc:
            report.error = exc
        if on_progress is not None:
            on_progress(report)

    # -- requests -------------------------------------------------------------------------------

    async def _call(self, attempt: _Attempt, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One ccxt call through the limiter, retried as the module documentation says."""
        ccxt = _ccxt()
        failures = waits = 0
        while True:
            async with self.limiter.slots:
                _LAST_RESPONSE.set(None)
                if attempt.report is not None:
                    attempt.report.requests += 1
                else:
                    self.setup_requests += 1
                try:
                    result = await fn(*args, **kwargs)
                except ccxt.BaseError as exc:
                    error: Exception = exc
                else:
                    self.limiter.succeeded()
                    return result
            status, headers = _LAST_RESPONSE.get() or (0, {})
            if status in (418, 429) or isinstance(error, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
                if status not in (418, 429):  # no HTTP status seen (e.g. refused by the message)
                    self.limiter.limited(None, headers)
                waits += 1
                if attempt.report is not None:
                    attempt.report.rate_limit_waits += 1
                if waits > self.max_rate_limit_waits:
                    raise self._give_up(attempt, f"still rate-limited after {waits - 1} waits", error, failures + waits)
                if self.limiter.backing_off() > self.max_retry_after:
                    raise self._give_up(
                        attempt, f"the exchange asks to wait {self.limiter.backing_off():.0f} s "
                        f"(over max_retry_after={self.max_retry_after:g} s)", error, failures + waits,
                    )
                continue  # the shared gate holds the next request until the back-off is over
            if status >= 500 or (status < 400 and isinstance(error, ccxt.NetworkError)):
                failures += 1
                if failures > self.retries:
                    raise self._give_up(attempt, f"failed {failures} times", error, failures + waits)
                if attempt.report is not None:
                    attempt.report.retries += 1
                delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                continue
            raise self._give_up(attempt, "refused", error, failures + waits + 1)

    def _give_up(self, attempt: _Attempt, why: str, error: Exception, attempts: int) -> DownloadError:
        what = attempt.timeframe or ("trades" if attempt.report is not None else "")
        where = f"{attempt.symbol} {what}".strip()
        span = f" [{iso(attempt.start)}, {iso(attempt.end)})" if attempt.end > attempt.start else ""
        return DownloadError(
            f"{self.exchange.id} {where}{span}: {why}: {type(error).__name__}: {error}",
            exchange=str(self.exchange.id), symbol=attempt.symbol, timeframe=attempt.timeframe,
            interval=(attempt.start, attempt.end), attempts=attempts,
        )

    # -- candles --------------------------------------------------------------------------------

    def _page_size(self, symbol: str) -> int:
        if self.page is not None:
            return self.page
        market = self.exchange.market(symbol)
        kind = str(market.get("type") or "spot")
        features = (self.exchange.features or {}).get(kind) or {}
        if kind != "spot":
            features = features.get("linear" if market.get("linear") else "inverse") or {}
        limit = ((features or {}).get("fetchOHLCV") or {}).get("limit")
        return max(2, int(limit)) if isinstance(limit, (int, float)) and limit else _DEFAULT_PAGE

    async def _candles(self, report: TaskReport, interval: Interval, on_progress: ProgressCallback | None) -> None:
        """Pages through one missing interval; each page asks for one bar past what is left."""
        timeframe = report.timeframe or ""
        step = timeframe_ms(timeframe)
        page = self._page_size(report.symbol)
        done_before = report.done
        counted = interval.start - 1  # the newest bar already counted in ``fetched``
        cursor = interval.start
        while cursor < interval.end:
            limit = min(page, Interval(cursor, interval.end).bars(step) + 1)
            now = self.now()
            attempt = _Attempt(report, report.symbol, timeframe, cursor, interval.end)
            rows = await self._call(attempt, self.exchange.fetch_ohlcv, report.symbol, timeframe, cursor, limit)
            by_time = {int(r[0]): r for r in rows or [] if r and r[0] is not None and int(r[0]) >= cursor}
            bars = [by_time[t] for t in sorted(by_time)]
            if not bars:
                break
            closed = [int(b[0]) + step <= now or i < len(bars) - 1 for i, b in enumerate(bars)]
            keep = [i for i, b in enumerate(bars) if int(b[0]) < interval.end]
            if keep:
                self._write_candles(attempt, [bars[i] for i in keep], [closed[i] for i in keep])
                report.fetched += sum(1 for i in keep if int(bars[i][0]) > counted)
                counted = max(counted, int(bars[keep[-1]][0]))
                report.open_bar = not closed[keep[-1]]
            last = int(bars[-1][0])
            settled = last + step if closed[-1] else last
            report.done = done_before + Interval(interval.start, min(settled, interval.end)).bars(step)
            if on_progress is not None:
                on_progress(report)
            if last >= interval.end or (closed[-1] and last + step >= interval.end):
                break  # the interval is covered and its last bar known to be closed
            if not closed[-1] and len(bars) < limit:
                break  # the exchange's newest bar, still forming
            if settled <= cursor:
                break  # no progress: a forming bar alone
            cursor = settled
        report.done = done_before + interval.bars(step)

    def _write_candles(self, attempt: _Attempt, bars: list[Any], closed: list[bool]) -> None:
        table = pa.table({
            "open_time": _times(int(b[0]) for b in bars),
            "open": _floats(b[1] for b in bars),
            "high": _floats(b[2] for b in bars),
            "low": _floats(b[3] for b in bars),
            "close": _floats(b[4] for b in bars),
            "volume": _floats(b[5] if len(b) > 5 else None for b in bars),
            "closed": pa.array(closed, pa.bool_()),
        })
        try:
            self.store.append_candles(self.venue, attempt.symbol, attempt.timeframe or "", table)
        except (ConflictError, InvalidArgumentError) as exc:
            raise self._give_up(attempt, "the bars cannot be stored", exc, 0) from exc

    # -- trades ---------------------------------------------------------------------------------

    async def _trades(self, report: TaskReport, on_progress: ProgressCallback | None) -> None:
        stored = self.store.read_trades(self.venue, report.symbol, report.start, report.end, columns=["ts", "trade_id"])
        ids = [str(i) for i in stored.column("trade_id").to_pylist()]
        report.present = len(ids)
        if self.exchange.id in BINANCE_IDS and all(i.isdigit() for i in ids):
            await self._trades_by_id(report, np.unique(np.array([int(i) for i in ids], dtype=np.int64)), on_progress)
        else:
            times = stored.column("ts").cast(pa.int64()).to_pylist()
            await self._trades_by_time(report, set(ids), max(times, default=None), on_progress)

    def _parse_trades(self, attempt: _Attempt, trades: list[Any]) -> list[tuple[int, str, Any, Any, bool | None]]:
        out = []
        for t in trades or []:
            if t.get("id") is None or t.get("timestamp") is None:
                raise self._give_up(attempt, "a trade without id or time", ValueError(repr(t)[:200]), 0)
            side = t.get("side")
            out.append((int(t["timestamp"]), str(t["id"]), t.get("price"), t.get("amount"),
                        None if side not in ("buy", "sell") else side == "buy"))
        return out

    def _write_trades(self, attempt: _Attempt, rows: list[tuple[int, str, Any, Any, bool | None]]) -> None:
        if not rows:
            return
        table = pa.table({
            "ts": _times(r[0] for r in rows),
            "trade_id": pa.array([r[1] for r in rows], pa.string()),
            "price": _floats(r[2] for r in rows),
            "qty": _floats(r[3] for r in rows),
            "taker_buy": pa.array([r[4] for r in rows], pa.bool_()),
        })
        try:
            self.store.append_trades(self.venue, attempt.symbol, table)
        except ConflictError as exc:
            raise self._give_up(attempt, "the trades cannot be stored", exc, 0) from exc

    def _trade_limit(self) -> int:
        return self.trade_page or _DEFAULT_PAGE

    async def _trades_by_id(self, report: TaskReport, known: Any, on_progress: ProgressCallback | None) -> None:
        """Binance: the first page by time (hour windows until one has trades), then by ``fromId``,
        jumping over runs of consecutive ids already stored."""
        breaks = np.nonzero(np.diff(known) != 1)[0]
        run_starts = known[np.r_[0, breaks + 1]] if len(known) else known
        run_ends = known[np.r_[breaks, len(known) - 1]] + 1 if len(known) else known

        def skip(trade_id: int) -> int:
            k = int(np.searchsorted(run_starts, trade_id, side="right")) - 1
            return int(run_ends[k]) if k >= 0 and trade_id < run_ends[k] else trade_id

        limit = self._trade_limit()
        window = report.start
        next_id: int | None = None
        while True:
            attempt = _Attempt(report, report.symbol, None, window, report.end)
            if next_id is None:
                if window >= report.end:
                    break
                page = await self._call(attempt, self.exchange.fetch_trades, report.symbol, window, limit)
                if not page:
                    window += _BINANCE_TRADE_WINDOW_MS
                    continue
            else:
                page = await self._call(attempt, self.exchange.fetch_trades, report.symbol, None, limit,
                                        {"fromId": next_id})
                if not page:
                    break
            rows = sorted((r for r in self._parse_trades(attempt, page) if next_id is None or int(r[1]) >= next_id),
                          key=lambda r: int(r[1]))
            if not rows:
                break
            fresh = [r for r in rows if report.start <= r[0] < report.end and skip(int(r[1])) == int(r[1])]
            self._write_trades(attempt, fresh)
            report.fetched += len(fresh)
            report.done = report.fetched
            window = rows[-1][0]
            if on_progress is not None:
                on_progress(report)
            if rows[-1][0] >= report.end:
                break
            next_id = skip(int(rows[-1][1]) + 1)

    async def _trades_by_time(
        self, report: TaskReport, seen: set[str], newest: int | None, on_progress: ProgressCallback | None
    ) -> None:
        """Other exchanges: pages by trade time from the newest stored trade (or ``since``)."""
        limit = self._trade_limit()
        cursor = max(report.start, newest) if newest is not None else report.start
        while cursor < report.end:
            attempt = _Attempt(report, report.symbol, None, cursor, report.end)
            page = await self._call(attempt, self.exchange.fetch_trades, report.symbol, cursor, limit)
            rows = sorted((r for r in self._parse_trades(attempt, page) if r[0] >= cursor), key=lambda r: (r[0], r[1]))
            if not rows:
                break
            fresh = [r for r in rows if r[0] < report.end and r[1] not in seen]
            self._write_trades(attempt, fresh)
            seen.update(r[1] for r in fresh)
            report.fetched += len(fresh)
            report.done = report.fetched
            if on_progress is not None:
                on_progress(report)
            # Trades sharing the last millisecond come again on the next page (skipped as seen);
            # a page within one millisecond moves on by one.
            cursor = rows[-1][0] if rows[-1][0] > cursor else cursor + 1


async def download(
    exchange: str | Any,
    store: Store | str | Path,
    symbols: Sequence[str],
    timeframes: Sequence[str],
    since: TimeArg,
    until: TimeArg | None = None,
    *,
    trades: bool = False,
    rest_url: str | None = None,
    on_progress: ProgressCallback | None = None,
    raise_errors: bool = True,
    **options: Any,
) -> list[TaskReport]:
    """:meth:`Downloader.run` on an exchange given by ccxt id (opened and closed here, pointed
    at ``rest_url`` if given) or as a ready ccxt async instance (left open)."""
    own = isinstance(exchange, str)
    instance: Any = create_exchange(exchange, rest_url=rest_url) if isinstance(exchange, str) else exchange
    if not own and rest_url is not None:
        point_at(instance, rest_url)
    try:
        downloader = Downloader(instance, store, **options)
        return await downloader.run(symbols, timeframes, since, until, trades=trades, on_progress=on_progress,
                                    raise_errors=raise_errors)
    finally:
        if own:
            await instance.close()
