"""Backtest analytics: metrics of a run, Monte Carlo of its trade order, walk-forward
optimisation, and the HTML + JSON report."""

from tradecore.backtest.metrics import Metrics, compute_metrics
from tradecore.backtest.montecarlo import MonteCarlo, Percentiles, monte_carlo
from tradecore.backtest.report import write_report
from tradecore.backtest.walkforward import WalkForward, Window, walk_forward, window_ranges

__all__ = [
    "Metrics",
    "MonteCarlo",
    "Percentiles",
    "WalkForward",
    "Window",
    "compute_metrics",
    "monte_carlo",
    "walk_forward",
    "window_ranges",
    "write_report",
]
