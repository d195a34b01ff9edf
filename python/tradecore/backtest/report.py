"""A backtest's report: one self-contained HTML page to look at and one JSON file to read back.

The HTML inlines plotly.js, so it opens offline and needs nothing else: candlesticks with the
fills (buy ▲, sell ▼, the reason on hover) and the pattern markers, the equity curve and its
drawdown below on the same time axis, the metrics, the Monte Carlo and walk-forward tables when
given, the trades and the run's meta. Long runs are thinned for the charts only — candles
resampled to a coarser timeframe, the equity curve cut to each bucket's extremes — and the
charts say so; the metrics and the JSON always use everything.

The JSON holds the metrics, trades, Monte Carlo, walk-forward and meta as strict JSON: every
float finite or null (an unbounded ratio such as a profit factor without losses is null).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from tradecore.backtest._json import json_safe
from tradecore.backtest.metrics import Metrics
from tradecore.backtest.montecarlo import MonteCarlo
from tradecore.backtest.walkforward import WalkForward
from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Side, Trade

Candles = Mapping[str, npt.NDArray[Any]]
MAX_CANDLES = 5_000
MAX_EQUITY_POINTS = 10_000
MAX_TRADE_ROWS = 1_000
_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_MINUTE, _HOUR, _DAY, _WEEK = 60_000, 3_600_000, 86_400_000, 604_800_000
_TIMEFRAMES = (
    ("1m", _MINUTE), ("3m", 3 * _MINUTE), ("5m", 5 * _MINUTE), ("15m", 15 * _MINUTE), ("30m", 30 * _MINUTE),
    ("1h", _HOUR), ("2h", 2 * _HOUR), ("4h", 4 * _HOUR), ("6h", 6 * _HOUR), ("12h", 12 * _HOUR),
    ("1d", _DAY), ("3d", 3 * _DAY), ("1w", _WEEK),
)
_BUY, _SELL = "#26a69a", "#ef5350"
_PATTERN_STYLES = (
    (True, "bullish pattern", "star-triangle-up", "#2e7d32"),
    (False, "bearish pattern", "star-triangle-down", "#c62828"),
)


def write_report(
    out_dir: Path,
    name: str,
    *,
    candles: Candles,
    trades: Sequence[Trade],
    fills: Sequence[Fill],
    equity_time_ms: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    metrics: Metrics,
    markers: Sequence[tuple[int, str, int]] = (),
    monte_carlo: MonteCarlo | None = None,
    walk_forward: WalkForward | None = None,
    title: str = "",
    meta: Mapping[str, Any] = MappingProxyType({}),
    max_candles: int = MAX_CANDLES,
    max_equity_points: int = MAX_EQUITY_POINTS,
) -> tuple[Path, Path]:
    """Writes ``<out_dir>/<name>.html`` and ``<out_dir>/<name>.json`` (creating ``out_dir``)
    and returns their paths. ``candles`` has the columns time (open time, UTC ms), open, high,
    low, close, volume; ``markers`` are (time ms, pattern name, direction ±1). Above
    ``max_candles`` candles or ``max_equity_points`` equity samples the charts are thinned."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise InvalidArgumentError(f"name must be a plain file name without folders, got {name!r}", name="name")
    if max_candles < 2:
        raise InvalidArgumentError(f"max_candles must be ≥ 2, got {max_candles!r}", name="max_candles")
    if max_equity_points < 10:
        raise InvalidArgumentError(f"max_equity_points must be ≥ 10, got {max_equity_points!r}", name="max_equity_points")
    given = _check_candles(candles)
    t = np.asarray(equity_time_ms, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if t.shape != e.shape or t.ndim != 1:
        raise InvalidArgumentError(
            f"equity_time_ms and equity must be 1-d and of one length, got shapes {t.shape} and {e.shape}", name="equity"
        )

    shown, shown_tf = downsample_candles(given, max_candles)
    keep = downsample_curve(e, max_equity_points)
    given_tf = _timeframe_label(_step(given["time"]))
    chart = {  # what the charts show; in the JSON too
        "candles": len(given["time"]),
        "candles_shown": len(shown["time"]),
        "candle_timeframe": given_tf,
        "candle_timeframe_shown": shown_tf or given_tf,
        "equity_points": len(e),
        "equity_points_shown": len(keep),
    }
    title = title or name
    figure = _main_figure(shown, chart, trades, fills, markers, t[keep], e[keep], _drawdown(e)[keep])
    page = _page(title, figure, metrics, trades, monte_carlo, walk_forward, meta)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / f"{name}.html", out_dir / f"{name}.json"
    html_path.write_text(page, encoding="utf-8")
    document = {
        "name": name,
        "title": title,
        "meta": meta,
        "metrics": metrics,
        "trades": trades,
        "n_fills": len(fills),
        "monte_carlo": monte_carlo,
        "walk_forward": walk_forward,
        "chart": chart,
    }
    json_path.write_text(json.dumps(json_safe(document), allow_nan=False, indent=1), encoding="utf-8")
    return html_path, json_path


# --- thinning for the charts -------------------------------------------------------------
def downsample_candles(candles: Candles, max_candles: int) -> tuple[dict[str, npt.NDArray[Any]], str | None]:
    """The candles as given when at most ``max_candles``; otherwise resampled to the finest
    usual timeframe that fits (every bucket kept, the last one possibly partial) and its name."""
    t = np.asarray(candles["time"], dtype=np.int64)
    columns = {k: np.asarray(candles[k]) for k in _COLUMNS}
    if len(t) <= max_candles:
        return columns, None
    label, span = _coarser_timeframe(int(t[0]), int(t[-1]), _step(t), max_candles)
    bucket = t - t % span
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(t)]
    return {
        "time": bucket[starts],
        "open": columns["open"][starts],
        "high": np.maximum.reduceat(columns["high"], starts),
        "low": np.minimum.reduceat(columns["low"], starts),
        "close": columns["close"][ends - 1],
        "volume": np.add.reduceat(columns["volume"], starts),
    }, label


def downsample_curve(equity: npt.NDArray[np.float64], max_points: int) -> npt.NDArray[np.intp]:
    """Indices of the equity samples to draw: all of them when at most ``max_points``;
    otherwise per bucket the lowest, the highest and the deepest drawdown, plus both ends, so
    the picture keeps every peak and trough a reader looks for."""
    n = len(equity)
    if n <= max_points:
        return np.arange(n)
    size = math.ceil(3 * n / (max_points - 5))  # ≤ 3 picks per bucket + 2 ends ≤ max_points
    pad = (-n) % size
    base = np.arange(0, n + pad, size)

    def pick(values: npt.NDArray[np.float64], lowest: bool) -> npt.NDArray[np.intp]:
        rows = np.pad(values, (0, pad), mode="edge").reshape(-1, size)
        at: npt.NDArray[np.intp] = base + (np.argmin(rows, axis=1) if lowest else np.argmax(rows, axis=1))
        return at

    dd = _drawdown(equity)
    picked = np.concatenate([[0, n - 1], pick(equity, True), pick(equity, False), pick(dd, True)])
    kept: npt.NDArray[np.intp] = np.unique(np.minimum(picked, n - 1))
    return kept


def _coarser_timeframe(t0: int, t1: int, step: int, limit: int) -> tuple[str, int]:
    def buckets(span: int) -> int:
        return t1 // span - t0 // span + 1

    for label, span in _TIMEFRAMES:
        if span > step and buckets(span) <= limit:
            return label, span
    weeks = 2
    while buckets(weeks * _WEEK) > limit:
        weeks *= 2
    return f"{weeks}w", weeks * _WEEK


def _step(t: npt.NDArray[np.int64]) -> int:
    return int(np.median(np.diff(t))) if len(t) > 1 else 0


def _timeframe_label(step: int) -> str | None:
    return next((label for label, span in _TIMEFRAMES if span == step), f"{step // 1000}s" if step else None)


def _drawdown(equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Underwater curve: ≤ 0, the fall below the running peak as a fraction of it."""
    if len(equity) == 0:
        return equity
    peaks = np.maximum.accumulate(equity)
    return np.divide(equity, peaks, out=np.ones_like(equity), where=peaks > 0) - 1.0


def _check_candles(candles: Candles) -> dict[str, npt.NDArray[Any]]:
    missing = [k for k in _COLUMNS if k not in candles]
    if missing:
        raise InvalidArgumentError(f"candles lack the columns {missing}", name="candles")
    columns = {k: np.asarray(candles[k]) for k in _COLUMNS}
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidArgumentError(f"candles' columns differ in length: {lengths}", name="candles")
    columns["time"] = columns["time"].astype(np.int64)
    if np.any(np.diff(columns["time"]) <= 0):
        raise InvalidArgumentError("candles' times must increase strictly", name="candles")
    return columns


# --- the charts --------------------------------------------------------------------------
def _main_figure(
    candles: Candles,
    chart: Mapping[str, Any],
    trades: Sequence[Trade],
    fills: Sequence[Fill],
    markers: Sequence[tuple[int, str, int]],
    eq_time: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    drawdown: npt.NDArray[np.float64],
) -> go.Figure:
    price_title = f"Price ({chart['candle_timeframe_shown'] or 'candles'})"
    if chart["candles_shown"] < chart["candles"]:
        price_title += (
            f" — {chart['candles']:,} {chart['candle_timeframe']} candles resampled to"
            f" {chart['candles_shown']:,} {chart['candle_timeframe_shown']} candles to keep the report small"
        )
    equity_title = "Equity"
    if chart["equity_points_shown"] < chart["equity_points"]:
        equity_title += (
            f" — {chart['equity_points_shown']:,} of {chart['equity_points']:,} points shown (each bucket's extremes)"
        )
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.6, 0.22, 0.18],
        subplot_titles=(price_title, equity_title, "Drawdown"),
    )
    ct = _ms(candles["time"])
    fig.add_trace(
        go.Candlestick(
            x=ct, open=candles["open"], high=candles["high"], low=candles["low"], close=candles["close"],
            name="price", increasing_line_color=_BUY, decreasing_line_color=_SELL,
        ),
        row=1, col=1,
    )
    for trace in _execution_traces(fills, trades):
        fig.add_trace(trace, row=1, col=1)
    for trace in _pattern_traces(candles, markers):
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(go.Scatter(x=_ms(eq_time), y=equity, name="equity", line={"color": "#1f77b4"}), row=2, col=1)
    fig.add_trace(
        go.Scatter(x=_ms(eq_time), y=drawdown, name="drawdown", fill="tozeroy", line={"color": _SELL}), row=3, col=1
    )
    fig.update_xaxes(type="date")
    fig.update_layout(
        xaxis_rangeslider_visible=False, height=950, margin={"l": 60, "r": 20, "t": 40, "b": 60},
        legend={"orientation": "h", "y": -0.04, "yanchor": "top"}, hovermode="closest",
    )
    fig.update_yaxes(tickformat=".1%", row=3, col=1)
    return fig


def _ms(t: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Times as float ms: a plotly date axis reads numbers as ms since the epoch."""
    return np.asarray(t, dtype=np.float64)


def _execution_traces(fills: Sequence[Fill], trades: Sequence[Trade]) -> list[go.Scatter]:
    """Buy ▲ and sell ▼ at each fill, or at each trade's entry and exit when there are no fills."""
    points = _executions(fills, trades)
    traces = []
    for side, symbol, color in ((Side.BUY, "triangle-up", _BUY), (Side.SELL, "triangle-down", _SELL)):
        chosen = [p for p in points if p[2] is side]
        if chosen:
            traces.append(
                go.Scatter(
                    x=_ms(np.array([p[0] for p in chosen])),
                    y=[p[1] for p in chosen],
                    mode="markers",
                    name=side.value,
                    marker={"symbol": symbol, "size": 12, "color": color, "line": {"width": 1, "color": "#333"}},
                    hovertext=[p[3] for p in chosen],
                    hoverinfo="text+x",
                )
            )
    return traces


def _executions(fills: Sequence[Fill], trades: Sequence[Trade]) -> list[tuple[int, float, Side, str]]:
    """(time ms, price, side, hover text) of each execution."""
    if fills:
        return [
            (f.ts_ms, f.price, f.side, _hover(f"{f.side.value} {f.qty:g} {f.symbol} @ {f.price:g}", f.reason,
                                              f"fee {f.fee:.4g} ({f.liquidity.value})"))
            for f in fills
        ]
    points = []
    for tr in trades:
        entry = _hover(f"{tr.side.value} {tr.qty:g} {tr.symbol} @ {tr.entry_price:g} (entry)", tr.strategy)
        exit_ = _hover(f"{tr.side.opposite.value} {tr.qty:g} {tr.symbol} @ {tr.exit_price:g} (exit)", tr.exit_reason,
                       f"pnl {tr.pnl:.2f}")
        points += [(tr.entry_ms, tr.entry_price, tr.side, entry), (tr.exit_ms, tr.exit_price, tr.side.opposite, exit_)]
    return points


def _hover(*lines: str) -> str:
    """Hover text: plotly renders some HTML tags, so the run's own text is escaped."""
    return "<br>".join(html.escape(line or "—") for line in lines)


def _pattern_traces(candles: Candles, markers: Sequence[tuple[int, str, int]]) -> list[go.Scatter]:
    """Bullish patterns under the candle's low, bearish ones over its high."""
    t = np.asarray(candles["time"], dtype=np.int64)
    if not markers or len(t) == 0:
        return []
    traces = []
    for bullish, label, symbol, color in _PATTERN_STYLES:
        chosen = [m for m in markers if (m[2] > 0) == bullish]
        if not chosen:
            continue
        at = np.clip(np.searchsorted(t, [m[0] for m in chosen], side="right") - 1, 0, len(t) - 1)
        gap = 0.5 * float(np.median(candles["high"] - candles["low"]))  # clear of the candle at any timeframe
        y = candles["low"][at] - gap if bullish else candles["high"][at] + gap
        traces.append(
            go.Scatter(
                x=_ms(np.array([m[0] for m in chosen])), y=y, mode="markers", name=label,
                marker={"symbol": symbol, "size": 8, "color": color, "opacity": 0.7},
                hovertext=[html.escape(m[1]) for m in chosen], hoverinfo="text+x",
            )
        )
    return traces


def _monte_carlo_figure(mc: MonteCarlo) -> go.Figure:
    shown = [("max drawdown", mc.max_drawdowns)]
    if mc.method == "bootstrap":  # a shuffle's final return is the same in every run
        shown.append(("final return", mc.final_returns))
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[f"{label} over {mc.runs:,} runs" for label, _ in shown])
    for col, (label, values) in enumerate(shown, start=1):
        fig.add_trace(go.Histogram(x=values, name=label, nbinsx=50), row=1, col=col)
        fig.update_xaxes(tickformat=".1%", row=1, col=col)
    fig.update_layout(height=320, showlegend=False, margin={"l": 50, "r": 20, "t": 40, "b": 30})
    return fig


# --- the page ----------------------------------------------------------------------------
_METRIC_ROWS = (
    ("total_return", "Total return", "pct"), ("cagr", "CAGR", "pct"), ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"), ("calmar", "Calmar", "ratio"), ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_duration_ms", "Max drawdown duration", "duration"), ("n_trades", "Trades", "int"),
    ("win_rate", "Win rate", "pct"), ("profit_factor", "Profit factor", "ratio"),
    ("expectancy", "Expectancy (per trade)", "money"), ("avg_win", "Average win", "money"),
    ("avg_loss", "Average loss", "money"), ("exposure", "Exposure", "pct"), ("fees_paid", "Fees paid", "money"),
    ("start_equity", "Start equity", "money"), ("end_equity", "End equity", "money"),
    ("start_ms", "Start", "time"), ("end_ms", "End", "time"),
)

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{margin-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.pos{color:#1b7a4a}.neg{color:#b3261e}.note{color:#666}
.grid{display:flex;flex-wrap:wrap;gap:2em}
"""


def _page(
    title: str,
    figure: go.Figure,
    metrics: Metrics,
    trades: Sequence[Trade],
    mc: MonteCarlo | None,
    wf: WalkForward | None,
    meta: Mapping[str, Any],
) -> str:
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _plot(figure),
        "<div class='grid'><div><h2>Metrics</h2>",
        _metrics_table(metrics),
        "<p class='note'>Risk-free rate 0; a year is 365 days; ratios with no downside are shown as ∞.</p></div>",
        f"<div><h2>Run</h2>{_meta_table(meta)}</div></div>",
    ]
    if mc is not None:
        parts += ["<h2>Monte Carlo</h2>", _monte_carlo_table(mc), _plot(_monte_carlo_figure(mc))]
    if wf is not None:
        parts += ["<h2>Walk-forward</h2>", _walk_forward_table(wf)]
    parts += ["<h2>Trades</h2>", _trades_table(trades), "</body></html>"]
    return "\n".join(parts)


def _plot(fig: go.Figure) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def _fmt(value: float, kind: str) -> str:
    if kind == "int":
        return f"{int(value):,}"
    if kind == "time":
        return _time(int(value))
    if kind == "duration":
        return _duration(int(value))
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:.2f}"


def _signed(value: float, kind: str) -> str:
    css = "pos" if value > 0 else "neg" if value < 0 else ""
    return f"<td class='{css}'>{_fmt(value, kind)}</td>"


def _text(text: str) -> str:
    return f"<td class='l'>{html.escape(text)}</td>"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: int) -> str:
    minutes = ms // _MINUTE
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    return " ".join(f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v) or f"{ms / 1000:g}s"


def _metrics_table(m: Metrics) -> str:
    rows = "".join(
        f"<tr><th class='l'>{label}</th><td>{_fmt(getattr(m, field), kind)}</td></tr>" for field, label, kind in _METRIC_ROWS
    )
    return f"<table>{rows}</table>"


def _meta_table(meta: Mapping[str, Any]) -> str:
    if not meta:
        return "<p class='note'>No meta given.</p>"
    rows = []
    for key, value in meta.items():
        text = value if isinstance(value, str) else json.dumps(json_safe(value), indent=1)
        rows.append(f"<tr><th class='l'>{html.escape(str(key))}</th><td class='l'><pre>{html.escape(text)}</pre></td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _monte_carlo_table(mc: MonteCarlo) -> str:
    head = "<tr><th class='l'></th>" + "".join(f"<th>p{p}</th>" for p in (5, 25, 50, 75, 95)) + "<th>actual</th></tr>"
    rows = []
    for label, dist, actual, kind in (
        ("Final return", mc.final_return, mc.actual_final_return, "pct"),
        ("Max drawdown", mc.max_drawdown, mc.actual_max_drawdown, "pct"),
        ("Longest losing streak", mc.losing_streak, float(mc.actual_losing_streak), "ratio"),
    ):
        cells = "".join(f"<td>{_fmt(v, kind)}</td>" for v in dist.as_dict().values())
        rows.append(f"<tr><th class='l'>{label}</th>{cells}<td>{_fmt(actual, kind)}</td></tr>")
    note = (
        f"{mc.runs:,} runs ({mc.method}, seed {mc.seed}) of {mc.n_trades:,} trades; "
        f"{mc.prob_loss:.1%} of runs end below the starting equity."
    )
    if mc.method == "shuffle":
        note += " Shuffling never changes the final return (compounding commutes): the drawdowns are the point."
    return f"<table>{head}{''.join(rows)}</table><p class='note'>{note}</p>"


def _walk_forward_table(wf: WalkForward) -> str:
    head = (
        "<tr><th>#</th><th>train</th><th>test</th><th class='l'>chosen parameters</th>"
        f"<th>in-sample {wf.objective}</th><th>out-of-sample {wf.objective}</th><th>OOS return</th></tr>"
    )
    rows = [
        f"<tr><td>{w.index}</td><td>{w.train_start}–{w.train_end}</td><td>{w.test_start}–{w.test_end}</td>"
        f"<td class='l'>{html.escape(json.dumps(json_safe(w.params)))}</td><td>{_fmt(w.in_sample_score, 'ratio')}</td>"
        f"<td>{_fmt(w.out_of_sample_score, 'ratio')}</td>{_signed(w.out_of_sample.total_return, 'pct')}</tr>"
        for w in wf.windows
    ]
    summary = (
        f"{'Anchored' if wf.anchored else 'Rolling'} windows of {wf.train:,} training and {wf.test:,} test bars "
        f"(step {wf.step:,}), {wf.candidates:,} parameter sets each. Out of sample: mean {wf.objective} "
        f"{_fmt(wf.oos_mean, 'ratio')}, median {_fmt(wf.oos_median, 'ratio')}, stitched return "
        f"{_fmt(wf.oos_return, 'pct')}, efficiency {_fmt(wf.efficiency, 'ratio')} (out-of-sample / in-sample)."
    )
    return f"<p>{summary}</p><table>{head}{''.join(rows)}</table><p class='note'>Ranges are bar indices, end exclusive.</p>"


def _trades_table(trades: Sequence[Trade]) -> str:
    if not trades:
        return "<p class='note'>No trades.</p>"
    head = (
        "<tr><th>#</th><th class='l'>symbol</th><th class='l'>side</th><th>entry</th><th>exit</th><th>qty</th>"
        "<th>entry price</th><th>exit price</th><th>pnl</th><th>return</th><th>fees</th>"
        "<th class='l'>exit reason</th><th class='l'>strategy</th></tr>"
    )
    rows = [
        f"<tr><td>{i}</td>{_text(tr.symbol)}{_text('long' if tr.side is Side.BUY else 'short')}"
        f"<td>{_time(tr.entry_ms)}</td><td>{_time(tr.exit_ms)}</td><td>{tr.qty:g}</td><td>{tr.entry_price:g}</td>"
        f"<td>{tr.exit_price:g}</td>{_signed(tr.pnl, 'money')}{_signed(tr.return_pct, 'pct')}<td>{tr.fees:.4g}</td>"
        f"{_text(tr.exit_reason)}{_text(tr.strategy)}</tr>"
        for i, tr in enumerate(trades[:MAX_TRADE_ROWS])
    ]
    note = (
        f"<p class='note'>The first {MAX_TRADE_ROWS:,} of {len(trades):,} trades; the JSON has them all.</p>"
        if len(trades) > MAX_TRADE_ROWS
        else ""
    )
    return f"{note}<table>{head}{''.join(rows)}</table>"
