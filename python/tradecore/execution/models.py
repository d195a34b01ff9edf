"""The paper broker's cost models — fees, slippage, latency — as pydantic config models, so the
engine's TOML config can nest them (``[paper.fees]``, ``[paper.slippage]``…). Everything here is
deterministic: the latency jitter is drawn from the seed and the order id, never from the clock."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tradecore.execution.orders import Liquidity

_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Fees(BaseModel):
    """Fees as fractions of a fill's notional, paid in the quote asset. A negative maker fee is
    a rebate."""

    model_config = _FROZEN

    maker: float = Field(default=0.0002, ge=-0.01, le=0.1)
    taker: float = Field(default=0.001, ge=0.0, le=0.1)

    def rate(self, liquidity: Liquidity) -> float:
        return self.maker if liquidity is Liquidity.MAKER else self.taker


class Slippage(BaseModel):
    """How much worse than the reference price a taker fills.

    - ``fixed``: ``bps`` basis points.
    - ``volatility``: ``volatility_factor`` × the fill bar's (high − low) / close; where there is
      no bar (book mode) it falls back to ``fixed``.
    - ``book``: walk the live order book (the average price of the sweep is the fill price);
      where there is no book (candle mode) it falls back to ``fixed``.

    Maker fills never slip: they fill at their own limit price."""

    model_config = _FROZEN

    model: Literal["fixed", "book", "volatility"] = "fixed"
    bps: float = Field(default=5.0, ge=0.0, le=10_000.0)
    volatility_factor: float = Field(default=0.1, ge=0.0, le=10.0)

    def fraction(self, bar_range: float | None) -> float:
        """The slippage as a fraction of price. ``bar_range`` is the bar's (high − low) / close,
        None in book mode."""
        if self.model == "volatility" and bar_range is not None:
            return self.volatility_factor * bar_range
        return self.bps / 10_000.0


class Latency(BaseModel):
    """An order submitted at t reaches the market at t + ``ms`` + a jitter drawn uniformly from
    [0, ``jitter_ms``]. The jitter of an order depends only on ``seed`` and the order's id, so a
    rerun — or a restart that reloads the order — gives it the same delay."""

    model_config = _FROZEN

    ms: int = Field(default=50, ge=0)
    jitter_ms: int = Field(default=0, ge=0)
    seed: int = 0

    def delay(self, order_id: str) -> int:
        if self.jitter_ms == 0:
            return self.ms
        # A str seed is hashed with SHA-512 by `random`, so this is stable across processes.
        return self.ms + random.Random(f"{self.seed}:{order_id}").randint(0, self.jitter_ms)


class PaperConfig(BaseModel):
    """The paper broker's settings. ``participation``: the largest fraction of a candle's volume
    one resting limit order may fill in that bar (candle mode; the rest stays open — a partial
    fill). ``queue``: when a resting limit fills in book mode — ``trade_through`` when the other
    side's best price is strictly better than the limit, ``touch`` when it reaches it."""

    model_config = _FROZEN

    # the models are frozen, so one shared default instance is safe
    fees: Fees = Fees()
    slippage: Slippage = Slippage()
    latency: Latency = Latency()
    participation: float = Field(default=0.1, gt=0.0, le=1.0)
    queue: Literal["trade_through", "touch"] = "trade_through"
