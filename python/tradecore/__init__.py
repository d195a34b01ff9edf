"""tradecore: a crypto trading core whose hot paths are Rust.

- :class:`OrderBook` keeps an L2 book in sync from a venue's raw depth messages.
- :class:`CandleAggregator` turns trades into bars for many timeframes at once.
- :mod:`tradecore.candles` and :mod:`tradecore.book` work on whole recordings and arrays.
"""

from tradecore._core import VENUES, Candle, CandleAggregator, OrderBook, __version__
from tradecore.errors import (
    BookNotSyncedError,
    InvalidArgumentError,
    InvalidValueError,
    LateTradeError,
    MalformedMessageError,
    MessageError,
    MissingFieldError,
    RecordingError,
    TradecoreError,
    WrongSymbolError,
    WrongVenueError,
)

__all__ = [
    "VENUES",
    "BookNotSyncedError",
    "Candle",
    "CandleAggregator",
    "InvalidArgumentError",
    "InvalidValueError",
    "LateTradeError",
    "MalformedMessageError",
    "MessageError",
    "MissingFieldError",
    "OrderBook",
    "RecordingError",
    "TradecoreError",
    "WrongSymbolError",
    "WrongVenueError",
    "__version__",
]
