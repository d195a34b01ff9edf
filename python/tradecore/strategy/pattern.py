"""Candlestick patterns agreeing across timeframes: the pattern engine's confluence, traded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars
from tradecore.execution.orders import Side
from tradecore.patterns import ScoreConfig, Vote, confluence
from tradecore.strategy.base import Context, Signal, Strategy
from tradecore.strategy.common import StrategyParams, check_longer, clip01, exit_signal, held_side, latest
from tradecore.strategy.pattern_votes import CONFIDENCE, DIRECTION, HEIGHT, pattern_votes

_BUY, _SELL = frozenset({"BUY", "STRONG_BUY"}), frozenset({"SELL", "STRONG_SELL"})


class PatternConfluence(Strategy):
    """Each timeframe votes with the graded candlestick patterns of its newest closed bar
    (:func:`tradecore.patterns.vote_of`) — neutrally while it has fewer than ``min_bars`` bars,
    as :func:`tradecore.patterns.confluence_of_candles` does for an empty one —, and
    :func:`tradecore.patterns.confluence` combines the votes. Enters long on BUY or STRONG_BUY — when
    ``require_entry_vote``, only if the decision timeframe's own newest bar votes that way, so
    an old higher-timeframe pattern does not trigger on every bar. Shorts on SELL/STRONG_SELL
    when ``allow_short``. Exits when the confluence turns against the position.

    Confidence is the confluence score's size (0–1). The stop lies the pattern engine's stop
    distance away (``ScoreConfig.stop_wide`` or ``stop_tight`` × the strongest pattern's height
    on the decision bar), at least ``min_stop_atr`` ATRs; the target ``reward_risk`` × that.
    """

    name = "pattern"
    timeframe = "1h"
    timeframes: tuple[str, ...] = ("4h", "1d")
    regimes = frozenset({Regime.TRENDING_UP, Regime.TRENDING_DOWN})

    class Params(StrategyParams):
        model_config = ConfigDict(title="strategy 'pattern'")

        confirm_timeframes: Annotated[tuple[str, ...], Field(strict=False)] = Field(
            default=("4h", "1d"), description="higher timeframes that vote too"
        )
        min_bars: int = Field(default=30, ge=1, le=10_000, description="bars a timeframe needs before it votes")
        strong: float = Field(default=0.7, gt=0, le=1, description="confluence score above which it is STRONG")
        mild: float = Field(default=0.3, gt=0, le=1, description="confluence score above which it is BUY/SELL")
        require_entry_vote: bool = Field(default=True, description="the decision bar itself must vote the entry's way")
        stop: Literal["tight", "wide"] = Field(default="wide", description="which of the pattern engine's stop distances")
        min_stop_atr: float = Field(default=0.5, ge=0, le=50, description="the stop is at least this many ATRs away")
        atr_period: int = Field(default=14, ge=1, le=200)
        reward_risk: float = Field(default=2.0, gt=0, le=50)
        allow_short: bool = False

        @model_validator(mode="after")
        def _consistent(self) -> PatternConfluence.Params:
            if self.mild >= self.strong:
                raise ValueError(f"mild ({self.mild:g}) must be below strong ({self.strong:g})")
            check_longer(self.timeframe, self.confirm_timeframes, "confirm_timeframes")
            return self

    p: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.timeframes = self.p.confirm_timeframes
        self.scoring = ScoreConfig()

    def _vote(self, bars: Bars) -> Vote:
        if len(bars) < self.p.min_bars:
            return Vote(0, 0.0)
        row = pattern_votes(bars, self.scoring)[-1]
        return Vote(int(row[DIRECTION]), float(row[CONFIDENCE]))

    def warmup(self) -> int:
        return max(self.p.min_bars, self.p.atr_period + 1)

    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        p = self.p
        bars = ctx.bars(self.timeframe)
        if len(bars) < p.min_bars:
            return []
        votes: dict[str, Vote] = {}
        for tf in (self.timeframe, *self.timeframes):
            if tf in ctx.timeframes:
                votes[tf] = self._vote(ctx.bars(tf))
        call = confluence(votes, strong=p.strong, mild=p.mild)
        said = ", ".join(f"{tf} {v.direction * v.confidence:+.2f}" for tf, v in call.votes.items())
        words = f"confluence {call.signal} (score {call.score:+.2f}, {call.strength}: {said})"

        held = held_side(ctx, self.name)
        against = _SELL if held is Side.BUY else _BUY if held is Side.SELL else frozenset()
        if held is not None and call.signal in against:
            return [exit_signal(ctx, self.name, held, f"{words} against the position")]
        if call.signal in _BUY:
            side = Side.BUY
        elif call.signal in _SELL and p.allow_short:
            side = Side.SELL
        else:
            return []
        own = votes[self.timeframe]
        if held is side or (p.require_entry_vote and own.direction != side.sign):
            return []
        values = latest(bars.close, bars.ind.atr(p.atr_period))
        if values is None:
            return []
        close, atr = values
        factor = self.scoring.stop_wide if p.stop == "wide" else self.scoring.stop_tight
        height = float(pattern_votes(bars, self.scoring)[-1, HEIGHT]) if own.direction == side.sign else 0.0
        distance = max(factor * height, p.min_stop_atr * atr)
        if distance <= 0:
            return []
        stop = close - side.sign * distance
        target = close + side.sign * p.reward_risk * distance
        reason = f"{words}; stop {distance:.6g} away ({factor:g}× pattern height {height:.6g}, at least {p.min_stop_atr:g} ATR)"
        return [Signal(ctx.symbol, side, self.name, clip01(abs(call.score)), reason, stop=stop, take_profit=target)]
