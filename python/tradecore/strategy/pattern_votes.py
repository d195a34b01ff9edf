"""Each bar's candlestick-pattern vote, computed once per series and cached with its indicators.

The vote of bar i is :func:`tradecore.patterns.vote_of` of the pattern engine's graded signals
on bar i (the streaming engine, fed each new bar once): the accepted signals' directions weighted by confidence decide the side, the
strongest signal on that side gives the confidence — and here also its ``height`` (pattern
high − low), which sizes stops. The engine streams, so bar i's vote reads bars ≤ i only: a vote
computed over a preloaded history equals the live one.
"""

from __future__ import annotations

import numpy as np

from tradecore.analysis.series import Bars, Floats
from tradecore.patterns import PatternEngine, ScoreConfig

DIRECTION, CONFIDENCE, HEIGHT = 0, 1, 2  # columns of :func:`pattern_votes`


def pattern_votes(bars: Bars, config: ScoreConfig | None = None) -> Floats:
    """Rows aligned with the visible bars, columns (direction +1/−1/0, confidence, height)."""
    config = config or ScoreConfig()
    return bars.ind.streamed(f"pattern_votes {config!r}", lambda: PatternEngine(scoring=config), _votes)


def _votes(engine: PatternEngine, bars: Bars, start: int, end: int) -> Floats:
    """The votes of held bars start ≤ i < end: the streaming engine takes just those bars."""
    o, h, lo, c, v = (bars.full(column)[start:end] for column in ("open", "high", "low", "close", "volume"))
    engine.run(o, h, lo, c, v)
    signals = engine.take_signals()
    held = end - start
    out = np.zeros((held, 3), dtype=np.float64)
    accepted = signals["accepted"]
    direction = signals["direction"].astype(np.float64)[accepted]
    keep = direction != 0
    row_bar = signals["bar"].astype(np.int64)[accepted][keep] - start
    confidence = signals["confidence"][accepted][keep]
    height = signals["height"][accepted][keep]
    direction = direction[keep]

    net = np.zeros(held)
    np.add.at(net, row_bar, direction * confidence)
    winning = direction == np.sign(net[row_bar])
    # The strongest winning signal of each bar: sorted by (bar, confidence), the last per bar.
    order = np.lexsort((confidence[winning], row_bar[winning]))
    bar_w, conf_w, height_w = row_bar[winning][order], confidence[winning][order], height[winning][order]
    last = np.r_[bar_w[1:] != bar_w[:-1], True] if len(bar_w) else np.zeros(0, dtype=bool)
    out[bar_w[last], DIRECTION] = np.sign(net[bar_w[last]])
    out[bar_w[last], CONFIDENCE] = conf_w[last]
    out[bar_w[last], HEIGHT] = height_w[last]
    return out
