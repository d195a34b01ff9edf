"""tradecore: a crypto trading core whose hot paths are Rust.

- :class:`OrderBook` keeps an L2 book in sync from a venue's raw depth messages.
- :class:`CandleAggregator` turns trades into bars for many timeframes at once.
- :class:`Feed` routes a live connection's raw frames to books, trade sequencing and bars
  (:mod:`tradecore.data.feed` does the websocket and REST work around it).
- :class:`PatternEngine` detects TA-Lib's 61 candlestick patterns bar by bar (identical codes).
- :mod:`tradecore.candles`, :mod:`tradecore.book` and :mod:`tradecore.patterns` work on whole
  recordings and arrays.
"""

from tradecore import errors
from tradecore._core import VENUES, Candle, CandleAggregator, Feed, OrderBook, __version__
from tradecore.errors import *  # noqa: F403  (the exception classes, listed in errors.__all__)
from tradecore.patterns import PatternEngine

__all__ = ["VENUES", "Candle", "CandleAggregator", "Feed", "OrderBook", "PatternEngine", "__version__", *errors.__all__]
