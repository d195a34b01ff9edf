"""Strategies: each reads closed bars and returns signals (:mod:`.base`); :data:`STRATEGIES` and
:func:`create` make them from a configuration; the :class:`Selector` picks the ones of the
current regime and settles conflicts between their signals."""

from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.breakout import Breakout
from tradecore.strategy.channel import Channel
from tradecore.strategy.dca_grid import DcaGrid
from tradecore.strategy.mean_reversion import MeanReversion
from tradecore.strategy.pattern import PatternConfluence
from tradecore.strategy.registry import STRATEGIES, create
from tradecore.strategy.reversal import Reversal
from tradecore.strategy.selector import Resolution, Selector, SelectorConfig
from tradecore.strategy.trend import TrendFollowing

__all__ = [
    "STRATEGIES",
    "Breakout",
    "Channel",
    "Context",
    "DcaGrid",
    "MeanReversion",
    "PatternConfluence",
    "Resolution",
    "Reversal",
    "Selector",
    "SelectorConfig",
    "Signal",
    "Strategy",
    "TrendFollowing",
    "create",
]
