"""Candlestick patterns: TA-Lib's 61 ``CDL*`` functions, identical codes, in one Rust pass.

- :func:`detect` runs every requested pattern over whole arrays at once (GIL released) and
  returns ``{name: int16 codes}`` (or one 2-D array with :func:`detect_array`).
- :class:`PatternEngine` takes one bar at a time and returns the codes of the newest bar for all
  patterns; at every index they equal the batch codes.
- :func:`score` grades each detected pattern (quality, volume, trend, confidence, size
  multiplier, stop distances); :func:`hit_statistics` shows which patterns worked on a market;
  :func:`confluence` combines the signals of several timeframes.

Codes are TA-Lib's: 0 (none), ±100 (bullish/bearish), ±80 (weaker Engulfing/Kicking forms) and
±200 (confirmed Hikkake). Candle settings (``BodyLong``, ``BodyDoji``, ``Near`` ...) default to
TA-Lib's and can be changed per call, like ``TA_SetCandleSettings`` but without global state.

Bars must be finite, non-negative, with high ≥ max(open, close) and low ≤ min(open, close); a
bar that is not raises :class:`~tradecore.errors.InvalidBarError` naming its index, and nothing
is computed (TA-Lib would silently return codes for such bars).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tradecore import _core

ArrayLike = npt.ArrayLike
Codes = npt.NDArray[np.int16]

#: The 61 patterns in TA-Lib's order (``talib.get_function_groups()["Pattern Recognition"]``).
NAMES: tuple[str, ...] = tuple(name for name, _, _ in _core.pattern_catalog())

#: What each pattern says: "reversal", "continuation" or "indecision" (no direction).
KINDS: dict[str, str] = {name: kind for name, kind, _ in _core.pattern_catalog()}


class CandleSetting(NamedTuple):
    """One candle setting: ``factor`` × the average ``range_type`` over ``period`` bars."""

    range_type: str  # "RealBody", "HighLow" or "Shadows"
    period: int
    factor: float


#: TA-Lib's default candle settings.
DEFAULT_SETTINGS: dict[str, CandleSetting] = {
    name: CandleSetting(range_type, period, factor) for name, range_type, period, factor in _core.default_candle_settings()
}

#: The patterns that take a ``penetration`` and TA-Lib's default for it.
DEFAULT_PENETRATION: dict[str, float] = dict(_core.default_penetration())


@dataclass(frozen=True)
class ScoreConfig:
    """How signals are graded (see :func:`score`). Defaults as documented there."""

    volume_period: int = 20
    ema_period: int = 20
    slope_bars: int = 5
    adx_period: int = 14
    adx_full: float = 50.0
    weight_quality: float = 0.4
    weight_volume: float = 0.3
    weight_trend: float = 0.3
    min_quality: float = 0.5
    min_confidence: float = 0.6
    min_volume: float = 0.4
    min_trend: float = 0.7
    size_full: float = 0.8
    size_medium: float = 0.6
    stop_tight: float = 0.5
    stop_wide: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _settings(settings: Mapping[str, CandleSetting | tuple[str, int, float]] | None) -> dict[str, tuple[str, int, float]] | None:
    if settings is None:
        return None
    return {name: (str(v[0]), int(v[1]), float(v[2])) for name, v in settings.items()}


def _column(values: ArrayLike) -> npt.NDArray[np.float64]:
    return np.ascontiguousarray(values, dtype=np.float64)


class PatternEngine(_core.PatternEngine):
    """Streaming detection: :meth:`push` one bar, get every pattern's code for it.

    ``names`` selects patterns (default: all 61, in :data:`NAMES` order); ``settings`` overrides
    candle settings by name, ``penetration`` the penetration of the patterns that have one. With
    ``scoring`` (True or a :class:`ScoreConfig`), detected patterns are also graded and collected
    for :meth:`signals`. :meth:`push` (inherited from the Rust core) returns the int16 codes of
    the new bar in :attr:`names` order.
    """

    def __new__(
        cls,
        names: Sequence[str] | None = None,
        *,
        settings: Mapping[str, CandleSetting | tuple[str, int, float]] | None = None,
        penetration: Mapping[str, float] | None = None,
        scoring: ScoreConfig | bool = False,
    ) -> PatternEngine:
        config = ScoreConfig() if scoring is True else scoring or None
        return super().__new__(
            cls,
            list(names) if names is not None else None,
            settings=_settings(settings),
            penetration=dict(penetration) if penetration else None,
            scoring=config.as_dict() if config else None,
        )

    def run(
        self,
        open: ArrayLike,  # noqa: A002
        high: ArrayLike,
        low: ArrayLike,
        close: ArrayLike,
        volume: ArrayLike | None = None,
    ) -> Codes:
        """Many bars at once: codes of shape (patterns, bars), continuing the stream."""
        v = None if volume is None else _column(volume)
        return super().run(_column(open), _column(high), _column(low), _column(close), v)

    def signals(self) -> pa.Table:
        """The graded signals since the last call (see :func:`score` for the columns)."""
        return _signal_table(self.take_signals(), self.names)


def detect_array(
    open: ArrayLike,  # noqa: A002
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    names: Sequence[str] | None = None,
    *,
    settings: Mapping[str, CandleSetting | tuple[str, int, float]] | None = None,
    penetration: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> tuple[Codes, list[str]]:
    """All requested patterns in one pass: (int16 codes of shape (patterns, bars), names), row
    ``k`` like ``talib.<names[k]>(open, high, low, close)``. Runs without the GIL; long series
    are cut into consecutive parts scored on up to ``threads`` cores (default: one per core, up
    to 4, from 100k bars on), with the same codes as one pass."""
    return _core.detect(
        _column(open), _column(high), _column(low), _column(close),
        list(names) if names is not None else None,
        settings=_settings(settings),
        penetration=dict(penetration) if penetration else None,
        threads=0 if threads is None else max(1, threads),
    )


def detect(
    open: ArrayLike,  # noqa: A002
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    names: Sequence[str] | None = None,
    *,
    settings: Mapping[str, CandleSetting | tuple[str, int, float]] | None = None,
    penetration: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> dict[str, Codes]:
    """Like :func:`detect_array`, as ``{name: int16 codes}`` (views of its rows)."""
    codes, order = detect_array(
        open, high, low, close, names, settings=settings, penetration=penetration, threads=threads
    )
    return dict(zip(order, codes, strict=True))


#: Columns of a signal table.
SIGNAL_SCHEMA = pa.schema(
    [
        ("bar", pa.uint64()),
        ("pattern", pa.dictionary(pa.int32(), pa.string())),
        ("code", pa.int32()),
        ("direction", pa.int8()),
        ("quality", pa.float64()),
        ("volume", pa.float64()),
        ("trend", pa.float64()),
        ("confidence", pa.float64()),
        ("accepted", pa.bool_()),
        ("size_multiplier", pa.float64()),
        ("height", pa.float64()),
        ("stop_tight", pa.float64()),
        ("stop_wide", pa.float64()),
    ]
)


def _signal_table(columns: Mapping[str, npt.NDArray[np.generic]], names: Sequence[str]) -> pa.Table:
    arrays: list[pa.Array] = []
    for f in SIGNAL_SCHEMA:
        if f.name == "pattern":
            indices = pa.array(np.asarray(columns["pattern"], dtype=np.int32))
            arrays.append(pa.DictionaryArray.from_arrays(indices, pa.array(list(names), pa.string())))
        else:
            arrays.append(pa.array(columns[f.name], type=f.type))
    return pa.Table.from_arrays(arrays, schema=SIGNAL_SCHEMA)


def score(
    open: ArrayLike,  # noqa: A002
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    *,
    config: ScoreConfig | None = None,
    settings: Mapping[str, CandleSetting | tuple[str, int, float]] | None = None,
    penetration: Mapping[str, float] | None = None,
) -> pa.Table:
    """Every detected pattern, graded: one row per (bar, pattern) with a non-zero code.

    - ``direction``: +1 bullish, −1 bearish, 0 for patterns without one (dojis, spinning tops).
    - ``quality`` 0–1: how decisively the candles clear the thresholds defining the pattern.
    - ``volume`` 0–1: the bar's volume against the mean of the previous ``volume_period`` bars
      (0.5 at the mean, 1 at twice it; 0.5 without volume).
    - ``trend`` 0–1: whether the trend before the pattern (EMA slope over ``slope_bars``) is the
      one it needs — opposite for reversals, same for continuations — 0.5 ± 0.5 × ADX/``adx_full``.
    - ``confidence`` = 0.4·quality + 0.3·volume + 0.3·trend; ``accepted`` when it has a direction
      and quality ≥ 0.5, confidence ≥ 0.6, volume ≥ 0.4 and trend ≥ 0.7 (all configurable).
    - ``size_multiplier``: 1.0 above confidence 0.8, 0.75 from 0.6, else 0.5.
    - ``height`` (pattern high − low) and ``stop_tight``/``stop_wide`` = 0.5×/1.0× it.
    """
    engine = PatternEngine(names, settings=settings, penetration=penetration, scoring=config or ScoreConfig())
    engine.run(open, high, low, close, volume)
    return engine.signals()


def hit_statistics(signals: pa.Table, close: ArrayLike, horizon: int = 10, *, accepted_only: bool = False) -> pa.Table:
    """How often each pattern's direction was right: for every directional signal whose bar is
    at least ``horizon`` bars from the end, the close ``horizon`` bars later against the close of
    the signal bar. Rows per (pattern, direction), best hit rate first; returns in basis points."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    closes = _column(close)
    table = signals.filter(pc.field("accepted")) if accepted_only else signals
    bars = table.column("bar").to_numpy().astype(np.int64)
    direction = table.column("direction").to_numpy().astype(np.int64)
    pattern = table.column("pattern").combine_chunks().dictionary_decode().to_numpy(zero_copy_only=False)
    usable = (direction != 0) & (bars + horizon < len(closes))
    bars, direction, pattern = bars[usable], direction[usable], pattern[usable]
    signed = direction * (closes[bars + horizon] / closes[bars] - 1.0) * 1e4
    rows: dict[str, list[object]] = {k: [] for k in ("pattern", "direction", "signals", "hits", "hit_rate", "mean_bps", "median_bps")}
    for name in sorted(set(pattern.tolist())):
        for d in (1, -1):
            pick = (pattern == name) & (direction == d)
            if not pick.any():
                continue
            r = signed[pick]
            rows["pattern"].append(name)
            rows["direction"].append(d)
            rows["signals"].append(int(pick.sum()))
            rows["hits"].append(int((r > 0).sum()))
            rows["hit_rate"].append(float((r > 0).mean()))
            rows["mean_bps"].append(float(r.mean()))
            rows["median_bps"].append(float(np.median(r)))
    out = pa.table(rows, schema=pa.schema([
        ("pattern", pa.string()), ("direction", pa.int8()), ("signals", pa.int64()), ("hits", pa.int64()),
        ("hit_rate", pa.float64()), ("mean_bps", pa.float64()), ("median_bps", pa.float64()),
    ]))
    return out.sort_by([("hit_rate", "descending"), ("signals", "descending")])


# --- multi-timeframe confluence -------------------------------------------------------------

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def timeframe_seconds(timeframe: str) -> int:
    """``"15m"`` → 900. Units s, m, h, d, w."""
    match = re.fullmatch(r"(\d+)([smhdw])", timeframe)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad timeframe '{timeframe}': expected a number and one of s, m, h, d, w (e.g. 15m)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def timeframe_weight(timeframe: str) -> float:
    """Signals on longer timeframes count more: below 1h ×0.8, 1h up to 1d ×1.0, 1d and up ×1.2."""
    seconds = timeframe_seconds(timeframe)
    if seconds < 3600:
        return 0.8
    return 1.0 if seconds < 86400 else 1.2


class Vote(NamedTuple):
    """One timeframe's say: direction (+1, −1, 0 for none) with its confidence (0–1)."""

    direction: int
    confidence: float


@dataclass(frozen=True)
class Confluence:
    """Agreement of several timeframes. ``score`` = (bullish − bearish) / total, where bullish
    and bearish sum weight × confidence of the timeframes voting that way and total sums the
    weights of all timeframes considered. ``strength`` counts the longest run of consecutive
    timeframes (by duration) voting the winning way: strong ≥ 3, medium 2, weak 1, none 0."""

    score: float
    signal: str
    strength: str
    bullish: float
    bearish: float
    total: float
    votes: dict[str, Vote] = field(default_factory=dict)


def _label(score: float, strong: float, mild: float) -> str:
    if score > strong:
        return "STRONG_BUY"
    if score > mild:
        return "BUY"
    if score < -strong:
        return "STRONG_SELL"
    if score < -mild:
        return "SELL"
    return "NEUTRAL"


def confluence(
    votes: Mapping[str, Vote | tuple[int, float]],
    *,
    weights: Mapping[str, float] | None = None,
    strong: float = 0.7,
    mild: float = 0.3,
) -> Confluence:
    """Combines per-timeframe votes into one call: STRONG_BUY above ``strong``, BUY above
    ``mild``, SELL below −``mild``, STRONG_SELL below −``strong``, else NEUTRAL."""
    ordered = sorted(((tf, Vote(int(np.sign(v[0])), float(v[1]))) for tf, v in votes.items()), key=lambda x: timeframe_seconds(x[0]))
    bullish = bearish = total = 0.0
    for tf, vote in ordered:
        if not 0.0 <= vote.confidence <= 1.0:
            raise ValueError(f"confidence of {tf} must be within 0..1, got {vote.confidence}")
        w = weights[tf] if weights and tf in weights else timeframe_weight(tf)
        total += w
        if vote.direction > 0:
            bullish += w * vote.confidence
        elif vote.direction < 0:
            bearish += w * vote.confidence
    score_ = (bullish - bearish) / total if total > 0 else 0.0
    winner = 1 if bullish > bearish else -1 if bearish > bullish else 0
    run = best = 0
    for _, vote in ordered:
        run = run + 1 if winner != 0 and vote.direction == winner else 0
        best = max(best, run)
    strength = "strong" if best >= 3 else "medium" if best == 2 else "weak" if best == 1 else "none"
    return Confluence(score_, _label(score_, strong, mild), strength, bullish, bearish, total, dict(ordered))


def vote_of(signals: pa.Table, bar: int) -> Vote:
    """A timeframe's vote from its signals on one bar: the accepted signals' direction weighted
    by confidence; the confidence of the strongest signal on the winning side."""
    on_bar = signals.filter(pc.and_(pc.equal(signals["bar"], bar), signals["accepted"]))
    direction = on_bar.column("direction").to_numpy().astype(np.float64)
    confidence = on_bar.column("confidence").to_numpy()
    net = float((direction * confidence).sum())
    if net == 0.0:
        return Vote(0, 0.0)
    side = 1 if net > 0 else -1
    return Vote(side, float(confidence[direction == side].max()))


def confluence_of_candles(
    candles: Mapping[str, pa.Table],
    *,
    config: ScoreConfig | None = None,
    weights: Mapping[str, float] | None = None,
) -> Confluence:
    """Confluence on the latest closed bar of each timeframe's candles (tables with open, high,
    low, close and optionally volume, as :func:`tradecore.candles.aggregate` produces)."""
    votes: dict[str, Vote] = {}
    for tf, table in candles.items():
        n = table.num_rows
        if n == 0:
            votes[tf] = Vote(0, 0.0)
            continue
        volume = table.column("volume").to_numpy() if "volume" in table.column_names else None
        o, h, lo, c = (table.column(name).to_numpy() for name in ("open", "high", "low", "close"))
        signals = score(o, h, lo, c, volume, config=config)
        votes[tf] = vote_of(signals, n - 1)
    return confluence(votes, weights=weights)


__all__ = [
    "DEFAULT_PENETRATION",
    "DEFAULT_SETTINGS",
    "KINDS",
    "NAMES",
    "SIGNAL_SCHEMA",
    "CandleSetting",
    "Confluence",
    "PatternEngine",
    "ScoreConfig",
    "Vote",
    "confluence",
    "confluence_of_candles",
    "detect",
    "detect_array",
    "hit_statistics",
    "score",
    "timeframe_seconds",
    "timeframe_weight",
    "vote_of",
]
