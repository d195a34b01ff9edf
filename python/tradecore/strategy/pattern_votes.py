"""Each bar's candlestick-pattern vote, computed once per series and cached with its indicators.

The vote of bar i is :func:`tradecore.patterns.vote_of` of the pattern engine's graded signals
on bar i: the accepted signals' directions weighted by confidence decide the side, the
strongest signal on that side gives the confidence — and here also its ``height`` (pattern
high − low), which sizes stops. The engine streams, so bar i's vote reads bars ≤ i only: a vote
computed over a preloaded history equals the live one.
"""

from __future__ import annotations

import numpy as np

from tradecore.analysis.series import Bars, Floats
from tradecore.patterns import ScoreConfig, score

DIRECTION, CONFIDENCE, HEIGHT = 0, 1, 2  # columns of :func:`pattern_votes`


def pattern_votes(bars: Bars, config: ScoreConfig | None = None) -> Floats:
    """Rows aligned with the visible bars, columns (direction +1/−1/0, confidence, height)."""
    config = config or ScoreConfig()
    return bars.ind.custom(f"pattern_votes {config!r}", lambda b: _votes(b, config))


def _votes(bars: Bars, config: ScoreConfig) -> Floats:
    held = bars.held
    out = np.zeros((held, 3), dtype=np.float64)
    if held == 0:
        return out
    o, h, lo, c, v = (bars.full(column) for column in ("open", "high", "low", "close", "volume"))
    table = score(o, h, lo, c, v, config=config)
    accepted = table.column("accepted").to_numpy(zero_copy_only=False)
    direction = table.column("direction").to_numpy().astype(np.float64)[accepted]
    keep = direction != 0
    row_bar = table.column("bar").to_numpy().astype(np.int64)[accepted][keep]
    confidence = table.column("confidence").to_numpy()[accepted][keep]
    height = table.column("height").to_numpy()[accepted][keep]
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
