"""The strategies a configuration can name, by their ``name``."""

from __future__ import annotations

from typing import Any

from tradecore.errors import InvalidArgumentError
from tradecore.strategy.base import Strategy
from tradecore.strategy.breakout import Breakout
from tradecore.strategy.channel import Channel
from tradecore.strategy.dca_grid import DcaGrid
from tradecore.strategy.mean_reversion import MeanReversion
from tradecore.strategy.pattern import PatternConfluence
from tradecore.strategy.reversal import Reversal
from tradecore.strategy.trend import TrendFollowing

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (TrendFollowing, MeanReversion, Breakout, Reversal, DcaGrid, Channel, PatternConfluence)
}


def create(name: str, **params: Any) -> Strategy:
    """The strategy called ``name`` with ``params`` (its configuration table); a bad name or
    parameter raises :class:`~tradecore.errors.InvalidArgumentError` saying which."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise InvalidArgumentError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})", name="strategy") from None
    return cls(**params)
