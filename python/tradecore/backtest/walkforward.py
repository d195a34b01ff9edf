"""Walk-forward optimisation over bar index ranges.

The bars are cut into windows: a training range followed by a test range. On each window every
combination of the parameter grid is run on the training range only, the best by the objective
is kept, and that one choice is then run on the test range, which it has never seen. Rolling
windows slide the training range along; anchored ones keep it starting at bar 0 and let it grow.
``step`` (the slide) defaults to ``test``, so the test ranges follow each other and tile every
bar after the first training range; the last one may be shorter.

``run(params, start, end)`` backtests bars ``start`` ≤ i < ``end`` with ``params`` and returns
its :class:`Metrics`. It must use nothing at or after ``end`` (warm-up before ``start`` is fine).
With ``workers`` > 1 the runs go to a process pool, so ``run`` must then be picklable: a
module-level function or a ``functools.partial`` of one, not a lambda or a closure.

The objective is a numeric field of :class:`Metrics`; it is maximised, except ``max_drawdown``,
``max_drawdown_duration_ms`` and ``fees_paid``, which are minimised. A NaN score loses; ties go
to the earlier combination in grid order.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tradecore.backtest._json import json_safe
from tradecore.backtest.metrics import Metrics
from tradecore.errors import InvalidArgumentError

Run = Callable[[Mapping[str, Any], int, int], Metrics]
Job = tuple[Mapping[str, Any], int, int]
OBJECTIVES = frozenset(f.name for f in dataclasses.fields(Metrics)) - {"start_ms", "end_ms", "periods_per_year"}
LOWER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_duration_ms", "fees_paid"})


@dataclass(slots=True, frozen=True)
class Window:
    """One train/test split (bar index ranges, end exclusive) and what was chosen on it."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    params: Mapping[str, Any]
    in_sample_score: float
    out_of_sample_score: float
    out_of_sample: Metrics

    def as_dict(self) -> dict[str, Any]:
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(slots=True, frozen=True)
class WalkForward:
    """The windows and the out-of-sample summary. ``efficiency`` = mean out-of-sample score /
    mean in-sample score of the chosen parameters (NaN when the in-sample mean is not > 0);
    ``oos_return`` compounds the test windows' total returns, as if traded one after another."""

    objective: str
    anchored: bool
    train: int
    test: int
    step: int
    candidates: int  # parameter combinations tried on each window
    windows: tuple[Window, ...]
    is_mean: float
    oos_mean: float
    oos_median: float
    oos_return: float
    efficiency: float

    def as_dict(self) -> dict[str, Any]:
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}


def window_ranges(
    n_bars: int, *, train: int, test: int, step: int | None = None, anchored: bool = False
) -> list[tuple[int, int, int, int]]:
    """``(train_start, train_end, test_start, test_end)`` of each window, ends exclusive."""
    step = test if step is None else step
    _check_sizes(n_bars, train, test, step)
    return [
        (0 if anchored else train_end - train, train_end, train_end, min(train_end + test, n_bars))
        for train_end in range(train, n_bars, step)
    ]


def walk_forward(
    n_bars: int,
    *,
    train: int,
    test: int,
    step: int | None = None,
    grid: Mapping[str, Sequence[Any]],
    run: Run,
    objective: str = "sharpe",
    anchored: bool = False,
    workers: int = 1,
) -> WalkForward:
    """Optimises ``grid`` on each training range and scores the choice on the test range after
    it; see the module's docstring."""
    if objective not in OBJECTIVES:
        raise InvalidArgumentError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}", name="objective")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be an integer ≥ 1, got {workers!r}", name="workers")
    combos = _combinations(grid)
    step = test if step is None else step
    ranges = window_ranges(n_bars, train=train, test=test, step=step, anchored=anchored)
    lower = objective in LOWER_IS_BETTER

    with _executor(workers) as execute:
        in_sample = execute(run, [(params, lo, hi) for lo, hi, _, _ in ranges for params in combos])
        chosen = []
        for w in range(len(ranges)):
            scores = [float(getattr(m, objective)) for m in in_sample[w * len(combos) : (w + 1) * len(combos)]]
            best = _best(scores, lower)
            chosen.append((combos[best], scores[best]))
        out_of_sample = execute(run, [(params, lo, hi) for (params, _), (_, _, lo, hi) in zip(chosen, ranges, strict=True)])

    windows = tuple(
        Window(
            index=i,
            train_start=r[0],
            train_end=r[1],
            test_start=r[2],
            test_end=r[3],
            params=params,
            in_sample_score=score,
            out_of_sample_score=float(getattr(oos, objective)),
            out_of_sample=oos,
        )
        for i, (r, (params, score), oos) in enumerate(zip(ranges, chosen, out_of_sample, strict=True))
    )
    is_mean = statistics.fmean(w.in_sample_score for w in windows)
    oos_scores = [w.out_of_sample_score for w in windows]
    oos_mean = statistics.fmean(oos_scores)
    return WalkForward(
        objective=objective,
        anchored=anchored,
        train=train,
        test=test,
        step=step,
        candidates=len(combos),
        windows=windows,
        is_mean=is_mean,
        oos_mean=oos_mean,
        oos_median=statistics.median(oos_scores),
        oos_return=math.prod(1.0 + w.out_of_sample.total_return for w in windows) - 1.0,
        efficiency=oos_mean / is_mean if is_mean > 0 else math.nan,
    )


def _check_sizes(n_bars: int, train: int, test: int, step: int) -> None:
    for name, value in (("n_bars", n_bars), ("train", train), ("test", test), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"{name} must be an integer ≥ 1, got {value!r}", name=name)
    if step < test:
        raise InvalidArgumentError(
            f"step ({step}) must be ≥ test ({test}): a smaller step makes the test ranges overlap", name="step"
        )
    if n_bars <= train:
        raise InvalidArgumentError(
            f"n_bars ({n_bars}) must exceed train ({train}) to leave bars to test on", name="n_bars"
        )


def _combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in grid order ({} gives one empty combination)."""
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) == 0:
            raise InvalidArgumentError(f"grid[{name!r}] must be a non-empty sequence of values, got {values!r}", name="grid")
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def _best(scores: Sequence[float], lower_is_better: bool) -> int:
    """The index of the best score: NaN loses, ties go to the first."""
    sign = -1.0 if lower_is_better else 1.0
    keyed = [-math.inf if math.isnan(s) else sign * s for s in scores]
    return max(range(len(keyed)), key=keyed.__getitem__)


@contextmanager
def _executor(workers: int) -> Iterator[Callable[[Run, Sequence[Job]], list[Metrics]]]:
    """A function that runs jobs in order: here, or in a process pool kept for the whole search."""
    if workers == 1:
        yield lambda run, jobs: [run(*job) for job in jobs]
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:

        def execute(run: Run, jobs: Sequence[Job]) -> list[Metrics]:
            if not jobs:
                return []
            chunk = max(1, len(jobs) // (4 * workers))
            return list(pool.map(run, *zip(*jobs, strict=True), chunksize=chunk))

        yield execute
