"""Parameter models: what a user's configuration table may say to a strategy, the regime detector
or the selector. Pydantic, frozen, strict (no "20" for 20), unknown keys and NaN refused; a bad
table raises :class:`~tradecore.errors.InvalidArgumentError` naming the parameter and its value.

Subclasses set ``model_config = ConfigDict(title=...)`` to say whose parameters they are
("strategy 'trend'"); the title starts every error message."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tradecore.errors import InvalidArgumentError
from tradecore.patterns import timeframe_seconds


class Params(BaseModel):
    """Base of every parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise _refusal(type(self), error) from None


def _refusal(model: type[BaseModel], error: ValidationError) -> InvalidArgumentError:
    owner = model.model_config.get("title") or model.__qualname__
    problems: list[str] = []
    first: str | None = None
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        first = first or where or None
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown parameter '{where}' (known: {', '.join(model.model_fields)})")
        elif item["type"] == "missing":
            problems.append(f"parameter '{where}' is required")
        elif not where:  # a check across several fields
            problems.append(str(item["msg"]).removeprefix("Value error, "))
        else:
            problems.append(f"{where} = {item['input']!r}: {str(item['msg']).removeprefix('Value error, ')}")
    return InvalidArgumentError(f"{owner}: {'; '.join(problems)}", name=first)


def check_timeframe(value: str) -> str:
    """A field validator: the timeframe must parse (``15m``, ``1h``, ``1d``)."""
    timeframe_seconds(value)  # ValueError naming the bad timeframe
    return value
