"""Turns analytics results into plain JSON values: finite floats or ``None`` (never NaN or
Infinity, which strict JSON parsers refuse), enums as their values, dataclasses as dicts."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np


def finite_or_none(x: float) -> float | None:
    """``x`` if finite, else ``None`` (an undefined or unbounded ratio)."""
    return x if math.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy of ``value``; anything unknown becomes its ``str``."""
    if isinstance(value, enum.Enum):  # before str: a StrEnum is a str
        return json_safe(value.value)
    if value is None or isinstance(value, bool | str):  # before int: a bool is an int
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(float(value))
    if hasattr(value, "as_dict"):
        return json_safe(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return str(value)
