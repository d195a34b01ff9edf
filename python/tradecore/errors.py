"""Exceptions raised by tradecore.

Every error tradecore raises on purpose derives from :class:`TradecoreError`. Errors about a bad
message, value or argument are also ``ValueError``\\ s and say which field is wrong and where: the
byte ``offset`` in the message (or the element index in an array) and, when replaying a
recording, the ``line``.
"""

from __future__ import annotations


class TradecoreError(Exception):
    """Base class of tradecore's errors."""


class MessageError(TradecoreError, ValueError):
    """A message (or a value in a batch) was refused; the object it was given to is unchanged."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.offset = offset
        self.line = line


class MalformedMessageError(MessageError):
    """The bytes are not well-formed JSON (or not a recording line)."""


class MissingFieldError(MessageError):
    """A field the message kind requires is absent."""


class InvalidValueError(MessageError):
    """A field's value is unusable: not a number, negative, too precise, out of range."""


class WrongSymbolError(MessageError):
    """The message is for another instrument."""


class WrongVenueError(MessageError):
    """The message comes from another venue or market (e.g. spot data on a futures book)."""


class BookNotSyncedError(TradecoreError, RuntimeError):
    """A top-of-book query on a book that lost (or never had) sync; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class LateTradeError(TradecoreError, ValueError):
    """A trade for a bar that was already released, under the ``late="error"`` policy."""

    def __init__(self, message: str, *, ts_ms: int | None = None, timeframe: str | None = None) -> None:
        super().__init__(message)
        self.ts_ms = ts_ms
        self.timeframe = timeframe


class InvalidArgumentError(TradecoreError, ValueError):
    """A bad argument: unknown venue, bad timeframe, mismatched arrays, ..."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class InvalidBarError(TradecoreError, ValueError):
    """A candle that cannot be scored: NaN or infinite, negative, or a high/low that does not
    enclose open and close. ``index`` is the bar's position in the series."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class RecordingError(TradecoreError):
    """A recording cannot be replayed to a trustworthy result (no snapshot, unhealed gap, ...)."""


class SchemaError(TradecoreError, ValueError):
    """A table whose columns are not what was expected: a column missing, unknown, of the wrong
    type, or with nulls where none may be. ``column`` names it; nothing was written."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class ConflictError(TradecoreError, ValueError):
    """Data that contradicts data already stored (or itself): a bar or trade with the same key but
    other values. ``key`` is the first one (open time in ms or trade id), ``columns`` the columns
    that differ there and ``count`` how many keys conflict; nothing was written."""

    def __init__(
        self, message: str, *, key: int | str | None = None, columns: tuple[str, ...] = (), count: int = 0
    ) -> None:
        super().__init__(message)
        self.key = key
        self.columns = columns
        self.count = count


class DownloadError(TradecoreError):
    """A download that gave up: the exchange kept failing (retries or rate-limit waits used up) or
    refused the request. Names the ``exchange``, ``symbol``, ``timeframe`` (None for trades) and the
    ``interval`` ``(start_ms, end_ms)`` that was being fetched; what was fetched before is stored."""

    def __init__(
        self,
        message: str,
        *,
        exchange: str,
        symbol: str,
        timeframe: str | None,
        interval: tuple[int, int],
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.interval = interval
        self.attempts = attempts


class ConfigError(TradecoreError, ValueError):
    """The bot's configuration file is unusable: ``problems`` lists each one with its key
    (``risk.max_drawdown: …``); the bot did not start."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


__all__ = [
    "BookNotSyncedError",
    "ConfigError",
    "ConflictError",
    "DownloadError",
    "InvalidArgumentError",
    "InvalidBarError",
    "InvalidValueError",
    "LateTradeError",
    "MalformedMessageError",
    "MessageError",
    "MissingFieldError",
    "RecordingError",
    "SchemaError",
    "TradecoreError",
    "WrongSymbolError",
    "WrongVenueError",
]
