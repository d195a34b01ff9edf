"""Backtest analytics: metrics, Monte Carlo, walk-forward and the report, against hand-computed
values, a pandas cross-check and invariants."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore.backtest import (
    Metrics,
    compute_metrics as compute_metrics_of_run,
    monte_carlo,
    walk_forward,
    window_ranges,
    write_report,
)
from tradecore.backtest.montecarlo import trade_returns
from tradecore.backtest.report import downsample_candles, downsample_curve
from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Fill, Liquidity, Side, Trade

# The curves here span minutes; the hand-checked ratios are annualised anyway.
compute_metrics = functools.partial(compute_metrics_of_run, min_annualised_ms=0)

DAY = 86_400_000
HOUR = 3_600_000


def trade(pnl: float, entry_ms: int = 0, exit_ms: int = 1, side: Side = Side.BUY, reason: str = "") -> Trade:
    return Trade("BTCUSDT", side, 1.0, entry_ms, exit_ms, 100.0, 100.0 + pnl, pnl, 0.0, reason, "test")


def days(*equity: float) -> tuple[np.ndarray, np.ndarray]:
    """An equity curve sampled once a day."""
    return np.arange(len(equity), dtype=np.int64) * DAY, np.array(equity, dtype=np.float64)


# --- metrics -----------------------------------------------------------------------------
def test_flat_curve_scores_zero() -> None:
    t = np.arange(3, dtype=np.int64) * HOUR
    m = compute_metrics(t, np.full(3, 100.0), [], fees_paid=0.0)
    assert (m.total_return, m.cagr, m.sharpe, m.sortino, m.calmar) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert (m.max_drawdown, m.max_drawdown_duration_ms, m.n_trades, m.win_rate, m.profit_factor) == (0.0, 0, 0, 0.0, 0.0)
    assert m.exposure == 0.0 and m.expectancy == 0.0
    assert m.periods_per_year == 365 * 24  # hourly samples


def test_curve_metrics_by_hand() -> None:
    t, e = days(100, 110, 99, 121, 110)
    m = compute_metrics(t, e, [], fees_paid=3.5)
    r = [0.1, -0.1, 121 / 99 - 1, 110 / 121 - 1]
    mean = sum(r) / 4
    assert m.periods_per_year == 365
    assert m.total_return == pytest.approx(0.1)
    assert m.sharpe == pytest.approx(mean / statistics.stdev(r) * math.sqrt(365))
    downside = math.sqrt((0.1**2 + (110 / 121 - 1) ** 2) / 4)
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365))
    # deepest fall: 110 → 99 (10 %), from day 1 until equity is back at 110 on day 3
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.max_drawdown_duration_ms == 2 * DAY
    assert m.cagr == pytest.approx(1.1 ** (365 / 4) - 1)
    assert m.calmar == pytest.approx(m.cagr / 0.1)
    assert (m.start_equity, m.end_equity, m.fees_paid) == (100.0, 110.0, 3.5)
    assert (m.start_ms, m.end_ms) == (0, 4 * DAY)


def test_drawdown_that_never_recovers_lasts_to_the_end() -> None:
    t, e = days(100, 120, 90, 100, 95)
    m = compute_metrics(t, e, [], fees_paid=0.0)
    assert m.max_drawdown == pytest.approx(0.25)  # 120 → 90
    assert m.max_drawdown_duration_ms == 3 * DAY  # from the peak on day 1 to the end on day 4


def test_drawdown_duration_starts_at_the_last_visit_of_the_peak() -> None:
    t, e = days(100, 120, 110, 120, 60, 130)
    m = compute_metrics(t, e, [], fees_paid=0.0)
    assert m.max_drawdown == pytest.approx(0.5)
    assert m.max_drawdown_duration_ms == 2 * DAY  # 120 on day 3 → 130 on day 5


def test_single_winning_trade() -> None:
    t, e = days(100, 100, 105, 110, 110)
    m = compute_metrics(t, e, [trade(10.0, DAY, 3 * DAY)], fees_paid=0.2)
    assert (m.n_trades, m.win_rate, m.expectancy, m.avg_win, m.avg_loss) == (1, 1.0, 10.0, 10.0, 0.0)
    assert m.profit_factor == math.inf
    assert m.as_dict()["profit_factor"] is None  # JSON has no infinity
    assert m.exposure == pytest.approx(0.5)  # open 2 of 4 days
    assert m.sortino == math.inf  # gains, never a losing period


def test_all_losing_trades() -> None:
    t, e = days(100, 95, 80)
    m = compute_metrics(t, e, [trade(-5.0), trade(-15.0)], fees_paid=1.0)
    assert (m.win_rate, m.profit_factor, m.expectancy, m.avg_win, m.avg_loss) == (0.0, 0.0, -10.0, 0.0, -10.0)
    assert m.max_drawdown == pytest.approx(0.2)
    assert m.max_drawdown_duration_ms == 2 * DAY
    assert m.calmar < 0 and m.sharpe < 0


def test_mixed_trades() -> None:
    t, e = days(100, 125)
    m = compute_metrics(t, e, [trade(10.0), trade(-5.0), trade(20.0), trade(0.0)], fees_paid=0.0)
    assert (m.win_rate, m.profit_factor, m.expectancy) == (0.5, 6.0, 6.25)
    assert (m.avg_win, m.avg_loss) == (15.0, -5.0)


def test_exposure_merges_overlapping_trades_and_clips_to_the_curve() -> None:
    t, e = days(100, 100, 100, 100, 100)  # 4 days
    trades = [trade(1, 0, 2 * DAY), trade(1, DAY // 4, DAY // 2), trade(1, DAY, 3 * DAY), trade(1, 3 * DAY + DAY // 2, 9 * DAY)]
    m = compute_metrics(t, e, trades, fees_paid=0.0)
    assert m.exposure == pytest.approx(3.5 / 4)  # [0, 3d] ∪ [3.5d, 4d]; the second lies inside the first
    assert compute_metrics(t, e, trades, fees_paid=0.0, exposure=0.25).exposure == 0.25


def test_periods_per_year_can_be_given() -> None:
    t, e = days(100, 101, 100, 102)
    m = compute_metrics(t, e, [], fees_paid=0.0, periods_per_year=252)
    assert m.periods_per_year == 252
    assert m.sharpe == pytest.approx(compute_metrics(t, e, [], fees_paid=0.0).sharpe * math.sqrt(252 / 365))


def test_sharpe_and_drawdown_match_pandas_on_a_random_curve() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 900_000  # 15-minute samples
    e = 10_000 * np.exp(np.cumsum(rng.normal(0.0001, 0.004, n)))
    m = compute_metrics(t, e, [], fees_paid=0.0)
    s = pd.Series(e)
    r = s.pct_change().dropna()
    assert m.sharpe == pytest.approx(r.mean() / r.std() * math.sqrt(365 * 96))
    assert m.max_drawdown == pytest.approx(-(s / s.cummax() - 1).min())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=30))
def test_max_drawdown_is_the_worst_fall_between_any_two_samples(values: list[float]) -> None:
    e = np.array(values)
    m = compute_metrics(np.arange(len(e), dtype=np.int64), e, [], fees_paid=0.0)
    worst = max((1 - e[j] / e[i] for i in range(len(e)) for j in range(i, len(e))), default=0.0)
    assert m.max_drawdown == pytest.approx(max(worst, 0.0), abs=1e-12)
    assert 0 <= m.max_drawdown < 1 and 0 <= m.max_drawdown_duration_ms <= len(e) - 1
    json.dumps(m.as_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"equity_time_ms": np.array([0, 1]), "equity": np.array([1.0])}, "equity"),
        ({"equity_time_ms": np.array([], dtype=np.int64), "equity": np.array([])}, "equity"),
        ({"equity_time_ms": np.array([0, 0]), "equity": np.array([1.0, 1.0])}, "equity_time_ms"),
        ({"equity_time_ms": np.array([0, 1]), "equity": np.array([1.0, np.nan])}, "equity"),
        ({"equity_time_ms": np.array([0, 1]), "equity": np.array([0.0, 1.0])}, "equity"),
        ({"periods_per_year": 0.0}, "periods_per_year"),
        ({"exposure": 1.5}, "exposure"),
        ({"fees_paid": math.inf}, "fees_paid"),
    ],
)
def test_bad_metric_inputs_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {"equity_time_ms": np.array([0, 1]), "equity": np.array([1.0, 2.0]), "fees_paid": 0.0}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError) as err:
        compute_metrics(trades=[], **args)
    assert err.value.name == name


# --- Monte Carlo -------------------------------------------------------------------------
def test_shuffle_keeps_the_final_return_and_varies_the_drawdown() -> None:
    returns = np.random.default_rng(3).normal(0.002, 0.02, 200)
    mc = monte_carlo(returns, 1_000.0, runs=500, seed=1)
    expected = np.prod(1 + returns) - 1
    assert np.allclose(mc.final_returns, expected)
    assert mc.actual_final_return == pytest.approx(expected)
    assert mc.max_drawdown.p5 < mc.max_drawdown.p95


def test_known_case_by_hand() -> None:
    # three orders, each a third of the runs: (−,−,+) and (+,−,−) fall 19 %, (−,+,−) only 10 %
    mc = monte_carlo(np.array([-0.1, -0.1, 0.2]), 100.0, runs=3_000, seed=5)
    assert set(np.round(mc.max_drawdowns, 12)) == {0.1, 0.19}
    assert (mc.max_drawdown.p5, mc.max_drawdown.p25, mc.max_drawdown.p95) == pytest.approx((0.1, 0.1, 0.19))
    assert (mc.losing_streak.p5, mc.losing_streak.p95) == (1.0, 2.0)
    assert mc.final_return.p50 == pytest.approx(0.9 * 0.9 * 1.2 - 1)
    assert mc.prob_loss == 1.0
    assert (mc.actual_max_drawdown, mc.actual_losing_streak) == (pytest.approx(0.19), 2)
    assert abs(np.mean(np.isclose(mc.max_drawdowns, 0.1)) - 1 / 3) < 0.05


def test_trade_returns_compound_back_to_the_pnl() -> None:
    # back to back: a trade entered in the millisecond another exits builds on its pnl
    trades = [trade(100.0, 0, 10), trade(-110.0, 10, 30), trade(49.5, 30, 50)]
    r = trade_returns(trades, 1_000.0)
    assert r == pytest.approx([0.1, -0.1, 0.05])  # over equity 1000, 1100, 990
    mc = monte_carlo(trades, 1_000.0, runs=50)
    assert mc.actual_final_return == pytest.approx((1_000 + 100 - 110 + 49.5) / 1_000 - 1)


def test_overlapping_trades_see_only_the_pnl_closed_before_their_entry() -> None:
    # in exit order: the +20 opens at 5, before the +100 closes at 10, so its base is the start
    # equity; the −50 opens at 12, after the +100 closed but before the +20 did
    trades = [trade(-50.0, 12, 20), trade(100.0, 0, 10), trade(20.0, 5, 15)]
    assert trade_returns(trades, 1_000.0) == pytest.approx([0.1, 0.02, -50 / 1_100])


def test_bootstrap_varies_the_final_return_and_percentiles_are_ordered() -> None:
    returns = np.random.default_rng(4).normal(0.001, 0.03, 100)
    mc = monte_carlo(returns, 1_000.0, runs=1_000, seed=2, method="bootstrap")
    assert np.ptp(mc.final_returns) > 0.1
    for dist in (mc.final_return, mc.max_drawdown, mc.losing_streak):
        values = list(dist.as_dict().values())
        assert values == sorted(values)
    assert 0 < mc.prob_loss < 1


def test_monte_carlo_is_reproducible_with_a_seed() -> None:
    returns = np.random.default_rng(5).normal(0, 0.02, 60)
    for method in ("shuffle", "bootstrap"):
        a = monte_carlo(returns, 1.0, seed=9, method=method)  # type: ignore[arg-type]
        b = monte_carlo(returns, 1.0, seed=9, method=method)  # type: ignore[arg-type]
        c = monte_carlo(returns, 1.0, seed=10, method=method)  # type: ignore[arg-type]
        assert a == b and np.array_equal(a.max_drawdowns, b.max_drawdowns)
        assert not np.array_equal(a.max_drawdowns, c.max_drawdowns)


def test_chunked_runs_cover_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tradecore.backtest.montecarlo._CHUNK_CELLS", 7 * 10)  # 7 runs a chunk
    returns = np.array([0.05, -0.03, 0.02, -0.04, 0.01, 0.03, -0.02, 0.04, -0.01, 0.02])
    mc = monte_carlo(returns, 1.0, runs=50, seed=0)
    assert len(mc.max_drawdowns) == 50 and np.all(mc.max_drawdowns > 0)  # every run filled in
    assert np.allclose(mc.final_returns, np.prod(1 + returns) - 1)


def test_ruin_stops_equity_at_zero() -> None:
    mc = monte_carlo(np.array([0.5, -1.5, 0.5]), 1.0, runs=20)
    assert np.allclose(mc.final_returns, -1.0) and np.allclose(mc.max_drawdowns, 1.0)


def test_no_trades_gives_zeros_and_json() -> None:
    mc = monte_carlo([], 1_000.0)
    assert mc.n_trades == 0 and mc.final_return.p95 == 0.0 and mc.max_drawdown.p95 == 0.0
    json.dumps(mc.as_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"start_equity": 0.0}, "start_equity"), ({"runs": 0}, "runs"), ({"method": "sorted"}, "method"),
     ({"trades": np.array([0.1, np.inf])}, "trades"), ({"trades": [trade(-2_000.0, 0, 1), trade(1.0, 2, 3)]}, "trades")],
)
def test_bad_monte_carlo_inputs_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {"trades": np.array([0.1, -0.1]), "start_equity": 1_000.0}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError) as err:
        monte_carlo(**args)
    assert err.value.name == name


# --- walk-forward ------------------------------------------------------------------------
BASE = compute_metrics(np.array([0, 1], dtype=np.int64), np.array([1.0, 1.0]), [], fees_paid=0.0)
REGIME = np.r_[np.full(50, 1), np.full(30, 2), np.full(40, 3)]  # the parameter that fits each bar


def fit_run(regime: np.ndarray, params: dict[str, Any], start: int, end: int) -> Metrics:
    """Scores the share of bars in [start, end) whose regime is ``params["p"]``; reads no other bar."""
    fit = float(np.mean(regime[start:end] == params["p"]))
    return dataclasses.replace(BASE, sharpe=fit, total_return=0.01 * fit, max_drawdown=1.0 - fit)


def test_rolling_and_anchored_ranges() -> None:
    assert window_ranges(100, train=40, test=20) == [(0, 40, 40, 60), (20, 60, 60, 80), (40, 80, 80, 100)]
    assert window_ranges(95, train=40, test=20, anchored=True) == [(0, 40, 40, 60), (0, 60, 60, 80), (0, 80, 80, 95)]
    assert window_ranges(100, train=40, test=20, step=30) == [(0, 40, 40, 60), (30, 70, 70, 90)]


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 400), st.integers(1, 100), st.integers(1, 100), st.integers(0, 50), st.booleans())
def test_windows_never_mix_train_and_test_and_tests_tile(n: int, train: int, test: int, extra: int, anchored: bool) -> None:
    if n <= train:
        with pytest.raises(InvalidArgumentError):
            window_ranges(n, train=train, test=test)
        return
    ranges = window_ranges(n, train=train, test=test, step=test + extra, anchored=anchored)
    for train_start, train_end, test_start, test_end in ranges:
        assert 0 <= train_start < train_end == test_start < test_end <= n  # train ends where test begins
        assert train_end - train_start == (train_end if anchored else train)
    tests = [(lo, hi) for _, _, lo, hi in ranges]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(tests))  # test ranges never overlap
    if extra == 0:  # step == test: they tile every bar after the first training range
        assert tests[0][0] == train and tests[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(tests))


def test_the_chosen_parameter_is_the_in_sample_best_and_follows_the_regime() -> None:
    calls: list[tuple[int, int, int]] = []

    def run(params: Any, start: int, end: int) -> Metrics:
        calls.append((params["p"], start, end))
        return fit_run(REGIME, params, start, end)

    wf = walk_forward(len(REGIME), train=20, test=10, grid={"p": [1, 2, 3]}, run=run)
    # training ranges 40–60 and 70–90 straddle two regimes half and half: the first in grid order wins
    assert [w.params["p"] for w in wf.windows] == [1, 1, 1, 1, 1, 2, 2, 2, 3, 3]
    for w in wf.windows:
        scores = {p: fit_run(REGIME, {"p": p}, w.train_start, w.train_end).sharpe for p in (1, 2, 3)}
        assert w.in_sample_score == max(scores.values()) == scores[w.params["p"]]
        assert w.out_of_sample == fit_run(REGIME, w.params, w.test_start, w.test_end)
        assert w.out_of_sample_score == w.out_of_sample.sharpe
        # the test range was run once, with the chosen parameter only
        assert [c for c in calls if c[1:] == (w.test_start, w.test_end)] == [(w.params["p"], w.test_start, w.test_end)]
    assert len(calls) == len(wf.windows) * 4 and wf.candidates == 3


def test_nothing_in_a_test_range_changes_its_choice() -> None:
    base = walk_forward(len(REGIME), train=20, test=10, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, REGIME))
    for w in base.windows:
        # rewrite this test range and every bar after it so that the choice now fits it perfectly,
        # or not at all if it already did
        chosen = w.params["p"]
        altered = REGIME.copy()
        altered[w.test_start :] = chosen if w.out_of_sample_score < 1 else chosen % 3 + 1
        again = walk_forward(len(altered), train=20, test=10, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, altered))
        same = again.windows[w.index]
        assert (same.params, same.in_sample_score) == (w.params, w.in_sample_score)
        assert same.out_of_sample_score != w.out_of_sample_score  # the test range itself was read


def test_summary_by_hand() -> None:
    wf = walk_forward(len(REGIME), train=20, test=10, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, REGIME))
    oos = [w.out_of_sample_score for w in wf.windows]
    ins = [w.in_sample_score for w in wf.windows]
    assert wf.oos_mean == pytest.approx(sum(oos) / len(oos))
    assert wf.oos_median == statistics.median(oos)
    assert wf.oos_return == pytest.approx(math.prod(1 + 0.01 * s for s in oos) - 1)
    assert wf.efficiency == pytest.approx((sum(oos) / len(oos)) / (sum(ins) / len(ins)))
    assert [(w.test_start, w.test_end) for w in wf.windows][:2] == [(20, 30), (30, 40)]
    json.dumps(wf.as_dict(), allow_nan=False)


def test_drawdown_objective_is_minimised() -> None:
    wf = walk_forward(
        len(REGIME), train=20, test=10, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, REGIME),
        objective="max_drawdown",
    )
    assert [w.params["p"] for w in wf.windows] == [1, 1, 1, 1, 1, 2, 2, 2, 3, 3]
    assert wf.windows[0].in_sample_score == 0.0


def test_anchored_training_grows_from_bar_zero() -> None:
    wf = walk_forward(
        len(REGIME), train=20, test=10, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, REGIME), anchored=True
    )
    assert all(w.train_start == 0 and w.train_end == w.test_start for w in wf.windows)
    assert wf.windows[5].params["p"] == 1  # 50 bars of regime 1 still outweigh 20 of regime 2 in 0..70


def test_a_process_pool_gives_the_same_result() -> None:
    kwargs: dict[str, Any] = {"train": 40, "test": 20, "grid": {"p": [1, 2, 3]}, "run": functools.partial(fit_run, REGIME)}
    assert walk_forward(len(REGIME), workers=2, **kwargs) == walk_forward(len(REGIME), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"step": 5}, "step"), ({"train": 200}, "n_bars"), ({"objective": "luck"}, "objective"),
     ({"grid": {"p": []}}, "grid"), ({"grid": {"p": "123"}}, "grid"), ({"workers": 0}, "workers"), ({"test": 0}, "test")],
)
def test_bad_walk_forward_inputs_are_refused_by_name(kwargs: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {"train": 20, "test": 10, "grid": {"p": [1, 2]}, "run": functools.partial(fit_run, REGIME)}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError) as err:
        walk_forward(len(REGIME), **args)
    assert err.value.name == name


# --- report ------------------------------------------------------------------------------
def candles(n: int, step_ms: int = 60_000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    return {
        "time": 1_722_470_400_000 + np.arange(n, dtype=np.int64) * step_ms,
        "open": open_,
        "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999,
        "close": close,
        "volume": rng.random(n),
    }


def refuse(constant: str) -> None:
    raise ValueError(f"non-finite JSON constant {constant}")


def report(tmp_path: Path, n: int = 500, **kwargs: Any) -> tuple[str, dict[str, Any], Path, Path]:
    c = candles(n)
    t = c["time"]
    trades = [
        Trade("BTCUSDT", Side.BUY, 0.5, int(t[10]), int(t[40]), c["close"][10], c["close"][40], 3.0, 0.1, "take-profit", "trend"),
        Trade("BTCUSDT", Side.SELL, 0.5, int(t[60]), int(t[90]), c["close"][60], c["close"][90], -1.0, 0.1, "stop-loss", "trend"),
    ]
    fills = [
        Fill("f1", "o1", "BTCUSDT", Side.BUY, 0.5, c["close"][10], 0.05, Liquidity.TAKER, int(t[10]), "trend entry"),
        Fill("f2", "o2", "BTCUSDT", Side.SELL, 0.5, c["close"][40], 0.05, Liquidity.MAKER, int(t[40]), "take-profit"),
    ]
    equity = 1_000 + np.cumsum(np.random.default_rng(1).normal(0, 1, n))
    metrics = compute_metrics(t, equity, trades, fees_paid=0.4)
    args: dict[str, Any] = {
        "candles": c, "trades": trades, "fills": fills, "equity_time_ms": t, "equity": equity, "metrics": metrics,
        "markers": [(int(t[20]), "hammer", 1), (int(t[70]), "shooting star", -1)], "title": "Trend on BTCUSDT",
        "meta": {"strategy": "trend", "config": {"fast": 10, "weird": math.nan}, "data source": "synthetic"},
    }
    args.update(kwargs)
    html_path, json_path = write_report(tmp_path / "out", "run1", **args)
    return html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text(), parse_constant=refuse), html_path, json_path


def test_report_files_are_self_contained_and_strict_json(tmp_path: Path) -> None:
    mc = monte_carlo(np.array([0.02, -0.01, 0.03, -0.02]), 1_000.0, runs=100)
    wf = walk_forward(len(REGIME), train=40, test=20, grid={"p": [1, 2, 3]}, run=functools.partial(fit_run, REGIME))
    page, doc, html_path, json_path = report(tmp_path, monte_carlo=mc, walk_forward=wf)
    assert html_path == tmp_path / "out" / "run1.html" and json_path == tmp_path / "out" / "run1.json"
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)  # nothing fetched: plotly.js is inline
    assert "Plotly.newPlot" in page and len(page) > 3_000_000
    for text in ("Trend on BTCUSDT", "take-profit", "stop-loss", "Monte Carlo", "Walk-forward", "synthetic", "hammer"):
        assert text in page
    assert [tr["exit_reason"] for tr in doc["trades"]] == ["take-profit", "stop-loss"]
    assert doc["trades"][0]["side"] == "buy" and doc["trades"][1]["pnl"] == -1.0
    assert doc["metrics"]["n_trades"] == 2 and doc["meta"]["config"] == {"fast": 10, "weird": None}
    assert doc["monte_carlo"]["runs"] == 100 and len(doc["walk_forward"]["windows"]) == 4
    assert doc["chart"]["candles_shown"] == doc["chart"]["candles"] == 500


def test_without_fills_the_trades_mark_entries_and_exits(tmp_path: Path) -> None:
    page, _, _, _ = report(tmp_path, fills=[])
    assert page.count("(entry)") == 2 and page.count("(exit)") == 2
    with_fills, _, _, _ = report(tmp_path)
    assert "(exit)" not in with_fills and "trend entry" in with_fills


def test_unbounded_metrics_become_null(tmp_path: Path) -> None:
    c = candles(10)
    m = compute_metrics(c["time"], np.linspace(100, 110, 10), [trade(10.0)], fees_paid=0.0)
    assert m.profit_factor == math.inf and m.sortino == math.inf
    _, doc, _, _ = report(tmp_path, metrics=m)
    assert doc["metrics"]["profit_factor"] is None and doc["metrics"]["sortino"] is None


def test_text_from_the_run_cannot_inject_markup(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script>"
    c = candles(100)
    fills = [Fill("f", "o", "BTCUSDT", Side.BUY, 1.0, 100.0, 0.0, Liquidity.TAKER, int(c["time"][5]), evil)]
    page, doc, _, _ = report(
        tmp_path, n=100, fills=fills, trades=[trade(1.0, reason=evil)], markers=[(int(c["time"][3]), evil, 1)],
        title=evil, meta={evil: evil},
    )
    assert "<script>alert" not in page
    assert doc["trades"][0]["exit_reason"] == evil


def test_candles_above_the_threshold_are_resampled_for_the_chart(tmp_path: Path) -> None:
    page, doc, html_path, _ = report(tmp_path, n=200_000)  # 139 days of minutes
    chart = doc["chart"]
    assert chart["candles"] == 200_000 and chart["candle_timeframe"] == "1m"
    assert chart["candle_timeframe_shown"] == "1h" and chart["candles_shown"] <= 5_000
    assert chart["equity_points_shown"] <= 10_000 < chart["equity_points"]
    assert "resampled" in page and "points shown" in page
    assert html_path.stat().st_size < 7_000_000  # plotly.js (~4.8 MB) plus a few thousand candles


def test_resampling_aggregates_each_bucket() -> None:
    c = candles(6_001)  # one minute over the default limit
    shown, tf = downsample_candles(c, 5_000)
    assert tf == "3m" and len(shown["time"]) == 2_001  # the last, partial bucket is kept
    assert shown["time"][1] == c["time"][0] + 180_000  # the series starts on a 3-minute boundary
    assert shown["open"][1] == c["open"][3] and shown["close"][1] == c["close"][5]
    assert shown["high"][1] == c["high"][3:6].max() and shown["low"][1] == c["low"][3:6].min()
    assert shown["volume"].sum() == pytest.approx(c["volume"].sum())
    same, none = downsample_candles(candles(5_000), 5_000)
    assert none is None and len(same["time"]) == 5_000


def test_equity_thinning_keeps_the_extremes() -> None:
    rng = np.random.default_rng(2)
    e = 1_000 + np.cumsum(rng.normal(0, 1, 50_001))
    keep = downsample_curve(e, 1_000)
    dd = e / np.maximum.accumulate(e)
    assert len(keep) <= 1_000 and np.all(np.diff(keep) > 0)
    assert {0, 50_000, int(np.argmin(e)), int(np.argmax(e)), int(np.argmin(dd))} <= set(keep.tolist())
    assert np.array_equal(downsample_curve(e[:999], 1_000), np.arange(999))


@pytest.mark.parametrize(("kwargs", "name"), [({"name": "../x"}, "name"), ({"name": ""}, "name")])
def test_bad_report_inputs_are_refused_by_name(tmp_path: Path, kwargs: dict[str, Any], name: str) -> None:
    c = candles(10)
    m = compute_metrics(c["time"], np.full(10, 1.0), [], fees_paid=0.0)
    args: dict[str, Any] = {"name": "ok", "candles": c, "trades": [], "fills": [], "equity_time_ms": c["time"],
                            "equity": np.full(10, 1.0), "metrics": m}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError) as err:
        write_report(tmp_path, **args)
    assert err.value.name == name
    assert not any(tmp_path.iterdir())  # nothing written


def test_candles_missing_a_column_are_refused(tmp_path: Path) -> None:
    c = candles(10)
    del c["volume"]
    m = compute_metrics(c["time"], np.full(10, 1.0), [], fees_paid=0.0)
    with pytest.raises(InvalidArgumentError, match="volume"):
        write_report(tmp_path, "x", candles=c, trades=[], fills=[], equity_time_ms=c["time"], equity=np.full(10, 1.0), metrics=m)


def test_runs_shorter_than_a_day_get_no_annualised_figures() -> None:
    t = np.arange(10, dtype=np.int64) * 60_000
    m = compute_metrics_of_run(t, np.linspace(100, 101, 10), [], fees_paid=0.0)
    assert math.isnan(m.cagr) and math.isnan(m.sharpe) and math.isnan(m.sortino) and math.isnan(m.calmar)
    assert m.total_return == pytest.approx(0.01)
    day = compute_metrics_of_run(t * 1440, np.linspace(100, 101, 10), [], fees_paid=0.0)
    assert math.isfinite(day.cagr) and math.isfinite(day.sharpe)
