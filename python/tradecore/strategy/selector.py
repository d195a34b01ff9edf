"""Which strategies trade in which regime, and which of their signals go on to the risk engine."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.errors import InvalidArgumentError
from tradecore.params import Params
from tradecore.strategy.base import Signal, Strategy
from tradecore.strategy.registry import STRATEGIES

log = logging.getLogger("tradecore.strategy.selector")

Weights = dict[str, float]


def _weights(**weights: float) -> Weights:
    return weights


class SelectorConfig(Params):
    """For each regime the strategies active in it, each with its priority weight (0–1): a
    signal's confidence is multiplied by it, so in a conflict of one direction the market's
    favourite strategy wins. A strategy not listed for a regime does not trade in it."""

    model_config = ConfigDict(title="selector")

    trending_up: Weights = Field(default_factory=lambda: _weights(trend=1.0, pattern=0.8, breakout=0.7))
    trending_down: Weights = Field(default_factory=lambda: _weights(trend=1.0, pattern=0.8, breakout=0.7))
    ranging: Weights = Field(default_factory=lambda: _weights(mean_reversion=1.0, channel=0.9, dca_grid=0.8))
    volatile: Weights = Field(default_factory=lambda: _weights(dca_grid=0.6, reversal=0.5))
    breakout: Weights = Field(default_factory=lambda: _weights(breakout=1.0, trend=0.8))
    unknown: Weights = Field(default_factory=dict)

    @model_validator(mode="after")
    def _weights_in_range(self) -> SelectorConfig:
        for regime in Regime:
            for name, weight in self.weights(regime).items():
                if not 0.0 <= weight <= 1.0:
                    raise ValueError(f"{regime}.{name} = {weight!r}: a weight must be within 0..1")
        return self

    def weights(self, regime: Regime) -> Weights:
        weights: Weights = getattr(self, regime.value)
        return weights


@dataclass(slots=True)
class Resolution:
    """The signals that go on (confidence × weight) and those dropped, each with why."""

    accepted: list[Signal] = field(default_factory=list)
    rejected: list[tuple[Signal, str]] = field(default_factory=list)

    def drop(self, signal: Signal, why: str) -> None:
        self.rejected.append((signal, why))
        log.info("dropped %s %s %s from %s: %s", signal.symbol, signal.side, signal.tag or "signal", signal.strategy, why)


class Selector:
    """Picks the strategies of the current regime (:meth:`active`) and settles their signals
    (:meth:`resolve`): exits always pass; an entry on a symbol that an exit on the same bar
    contradicts is dropped; opposing entries on one symbol cancel each other; among entries of
    one direction the strategy with the highest weighted confidence wins, with all of its
    signals (the levels of a grid)."""

    def __init__(self, strategies: Iterable[Strategy], config: SelectorConfig | None = None) -> None:
        self.config = config or SelectorConfig()
        self._active: dict[Regime, list[Strategy]] = {}  # the config is frozen: computed once per regime
        self.strategies: dict[str, Strategy] = {}
        for strategy in strategies:
            if strategy.name in self.strategies:
                raise InvalidArgumentError(f"two strategies named '{strategy.name}'", name="strategies")
            self.strategies[strategy.name] = strategy
        known = set(STRATEGIES) | set(self.strategies)
        for regime in Regime:
            unknown = sorted(set(self.config.weights(regime)) - known)
            if unknown:
                raise InvalidArgumentError(
                    f"selector.{regime}: unknown strategies {unknown} (known: {', '.join(sorted(known))})", name=f"selector.{regime}"
                )

    def weight(self, strategy: str, regime: Regime) -> float:
        return self.config.weights(regime).get(strategy, 0.0)

    def active(self, regime: Regime) -> list[Strategy]:
        """The loaded strategies listed for ``regime``, highest weight first."""
        found = self._active.get(regime)
        if found is None:
            weights = self.config.weights(regime)
            listed = sorted((name for name in weights if name in self.strategies), key=lambda name: -weights[name])
            found = self._active[regime] = [self.strategies[name] for name in listed]
        return list(found)

    def resolve(self, signals: Sequence[Signal], regime: Regime) -> list[Signal]:
        return self.decide(signals, regime).accepted

    def decide(self, signals: Sequence[Signal], regime: Regime) -> Resolution:
        """Like :meth:`resolve`, also telling what was dropped and why. Accepted signals keep
        their input order."""
        out = Resolution()
        kept: dict[int, Signal] = {}
        exits = {(s.symbol, s.side) for s in signals if s.exit}
        by_symbol: dict[str, list[tuple[int, Signal]]] = {}
        for i, s in enumerate(signals):
            if s.exit:
                kept[i] = s
            elif (s.symbol, s.side.opposite) in exits:
                out.drop(s, f"an exit on the same bar closes the {s.side} position this entry would add to")
            elif self.weight(s.strategy, regime) <= 0:
                out.drop(s, f"{s.strategy} does not trade in the {regime} regime")
            else:
                by_symbol.setdefault(s.symbol, []).append((i, s))
        for entries in by_symbol.values():
            kept.update(self._settle(entries, regime, out))
        out.accepted = [kept[i] for i in sorted(kept)]
        return out

    def _settle(self, entries: list[tuple[int, Signal]], regime: Regime, out: Resolution) -> dict[int, Signal]:
        """The entries of one symbol that go on, by their index, with weighted confidence."""
        sides = sorted({s.side for _, s in entries})
        if len(sides) > 1:
            names = {side: sorted({s.strategy for _, s in entries if s.side is side}) for side in sides}
            why = "opposing entries cancel: " + " vs ".join(f"{side} from {', '.join(names[side])}" for side in sides)
            for _, s in entries:
                out.drop(s, why)
            return {}
        weighted = {i: replace(s, confidence=s.confidence * self.weight(s.strategy, regime)) for i, s in entries}
        best: dict[str, float] = {}
        for s in weighted.values():
            best[s.strategy] = max(best.get(s.strategy, 0.0), s.confidence)
        winner = max(best, key=lambda name: best[name])  # of equals the first given
        for i, s in entries:
            if s.strategy != winner:
                out.drop(s, f"{winner} wins with weighted confidence {best[winner]:.2f} over {best[s.strategy]:.2f}")
        return {i: s for i, s in weighted.items() if s.strategy == winner}


__all__ = ["Resolution", "Selector", "SelectorConfig"]
