"""Channel trading: buy near the bottom of a price channel, sell near its top, but only while the
market is calm enough for a channel to hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars
from tradecore.execution.orders import Side
from tradecore.patterns import timeframe_seconds
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, exit_signal, held_side


@dataclass(slots=True, frozen=True)
class PriceChannel:
    """A linear-regression channel at the newest bar: the least-squares line through the
    midprices (high + low) / 2 of the window, shifted up by the largest excursion of the highs
    above it (``upper``) and down by the largest of the lows below it (``lower``)."""

    lower: float
    upper: float
    slope: float  # price per bar

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def position(self, price: float) -> float:
        """Where ``price`` lies: 0 at the lower line, 1 at the upper one."""
        return (price - self.lower) / self.width


def regression_channel(bars: Bars, period: int) -> PriceChannel | None:
    if len(bars) < period:
        return None
    high, low = bars.high[-period:], bars.low[-period:]
    x = np.arange(period, dtype=np.float64)
    slope, intercept = np.polyfit(x, (high + low) / 2, 1)
    line = intercept + slope * x
    upper, lower = line[-1] + float(np.max(high - line)), line[-1] + float(np.min(low - line))
    return PriceChannel(float(lower), float(upper), float(slope)) if upper > lower else None


def daily_volatility(bars: Bars, period: int) -> npt.NDArray[np.float64]:
    """The standard deviation of close-to-close returns over ``period`` bars, scaled to one day
    (× √(bars per day)), in percent: 3 means the price typically moves 3% a day."""
    per_day = 86_400 / timeframe_seconds(bars.timeframe)
    return np.asarray(bars.ind.returns_std(period) * math.sqrt(per_day) * 100.0, dtype=np.float64)


class Channel(Strategy):
    """Buys when the close lies in the bottom ``buy_zone`` of the ``period``-bar regression
    channel (:class:`PriceChannel`) of at least ``min_width`` of the price; exits in its top
    (``exit_zone`` and up), which is also the take profit; stop ``stop_width`` channel widths
    below the lower line. Long only.

    Volatility (:func:`daily_volatility` over ``vol_period`` bars) switches it off above
    ``vol_off`` percent and on again only below ``vol_on`` (hysteresis): the newest of those
    two crossings decides, so the state follows from the bars alone. Exits still work when off.

    Confidence: 0.5 at the edge of the buy zone up to 1.0 at the lower line or below.
    """

    name = "channel"
    timeframe = "1h"
    regimes = frozenset({Regime.RANGING})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'channel'")

        period: int = Field(default=48, ge=5, le=2000, description="bars the channel is fitted over")
        buy_zone: float = Field(default=0.15, gt=0, lt=1, description="bottom fraction of the channel that buys")
        exit_zone: float = Field(default=0.9, gt=0, le=1, description="the channel position (0–1) that exits")
        min_width: float = Field(default=0.01, ge=0, lt=1, description="narrowest channel traded, as a fraction of the price")
        stop_width: float = Field(default=0.25, gt=0, le=10, description="stop distance below the lower line, in channel widths")
        vol_period: int = Field(default=48, ge=2, le=2000)
        vol_off: float = Field(default=8.0, gt=0, description="daily volatility (%) above which the strategy stops buying")
        vol_on: float = Field(default=6.0, gt=0, description="daily volatility (%) below which it buys again")

        @model_validator(mode="after")
        def _consistent(self) -> Channel.Params:
            if self.buy_zone >= self.exit_zone:
                raise ValueError(f"buy_zone ({self.buy_zone:g}) must be below exit_zone ({self.exit_zone:g})")
            if self.vol_on > self.vol_off:
                raise ValueError(f"vol_on ({self.vol_on:g}) must not exceed vol_off ({self.vol_off:g})")
            return self

    p: Params

    def warmup(self) -> int:
        return max(self.p.period, self.p.vol_period + 1)

    def enabled(self, bars: Bars) -> bool:
        """False while the volatility last crossed above ``vol_off`` rather than below ``vol_on``."""
        vol = daily_volatility(bars, self.p.vol_period)
        above, below = np.flatnonzero(vol > self.p.vol_off), np.flatnonzero(vol < self.p.vol_on)
        return not (len(above) and (not len(below) or above[-1] > below[-1]))

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        channel = regression_channel(bars, p.period)
        if channel is None:
            return []
        close = bars.last()
        where = channel.position(close)
        held = held_side(ctx, self.name)
        if held is Side.BUY and where >= p.exit_zone:
            return [exit_signal(ctx, self.name, held, f"close {close:.6g} at {where:.0%} of the channel {channel.lower:.6g}–{channel.upper:.6g}")]
        vol = daily_volatility(bars, p.vol_period)
        if held is Side.BUY or where > p.buy_zone or channel.width < p.min_width * close or not len(vol) or math.isnan(vol[-1]):
            return []
        if not self.enabled(bars):
            return []
        confidence = 0.5 + 0.5 * min(1.0, (p.buy_zone - where) / p.buy_zone)
        reason = (
            f"close {close:.6g} in the bottom {where:.0%} of the {p.period}-bar channel "
            f"{channel.lower:.6g}–{channel.upper:.6g} (slope {channel.slope:+.3g}/bar), volatility {vol[-1]:.1f}%/day"
        )
        stop = channel.lower - p.stop_width * channel.width
        take_profit = channel.lower + p.exit_zone * channel.width
        return [Signal(ctx.symbol, Side.BUY, self.name, confidence, reason, stop=stop, take_profit=take_profit)]
