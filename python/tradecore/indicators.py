"""Indicators computed in Rust exactly as TA-Lib computes them (its functions are the reference
in the tests). They are the ones the pattern scores read; NaN marks the warm-up bars."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tradecore import _core


def _column(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.ascontiguousarray(values, dtype=np.float64)


def ema(values: npt.ArrayLike, period: int) -> npt.NDArray[np.float64]:
    """Exponential moving average, seeded with the mean of the first ``period`` values
    (``talib.EMA``)."""
    return _core.ema(_column(values), period)


def adx(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> npt.NDArray[np.float64]:
    """Wilder's average directional index, 0–100 (``talib.ADX``)."""
    return _core.adx(_column(high), _column(low), _column(close), period)


__all__ = ["adx", "ema"]
