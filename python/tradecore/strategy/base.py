"""What a strategy is: it reads closed bars through a :class:`Context` and returns
:class:`Signal`\\ s. It never places orders itself — the risk engine sizes and checks every
signal, then the broker executes it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tradecore.analysis.regime import Regime
from tradecore.analysis.series import Bars
from tradecore.execution.orders import Position, Side

if TYPE_CHECKING:
    from tradecore.strategy.common import StrategyParams


@dataclass(slots=True, frozen=True)
class Signal:
    """A strategy's wish. ``side`` BUY opens or adds to a long, SELL a short; ``exit`` closes the
    symbol's position instead. ``stop`` is the protective stop price the risk engine sizes from
    (|entry − stop| is the risk per unit); without one it uses its ATR stop. ``limit_price``
    None means a market order. ``quote_size`` fixes the order's size in quote currency (the DCA
    grid): the risk engine then skips sizing but still applies every limit."""

    symbol: str
    side: Side
    strategy: str
    confidence: float  # 0–1
    reason: str
    stop: float | None = None
    take_profit: float | None = None
    limit_price: float | None = None
    quote_size: float | None = None
    exit: bool = False
    tag: str = ""  # identifies one of several signals of a strategy on a bar (grid level)


class Context:
    """What a strategy may see at a bar close: the symbol's closed bars on each timeframe the
    engine keeps, the current regime, its position and the account's equity. Nothing later."""

    __slots__ = ("symbol", "now_ms", "_bars", "regime", "position", "equity", "_extra")

    def __init__(
        self,
        symbol: str,
        now_ms: int,
        bars: Mapping[str, Bars],
        regime: Regime,
        position: Position | None,
        equity: float,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.symbol = symbol
        self.now_ms = now_ms
        self._bars = bars
        self.regime = regime
        self.position = position
        self.equity = equity
        self._extra = extra or {}

    def bars(self, timeframe: str) -> Bars:
        try:
            return self._bars[timeframe]
        except KeyError:
            raise KeyError(f"the engine keeps no {timeframe} bars for {self.symbol}; it keeps {sorted(self._bars)}") from None

    @property
    def timeframes(self) -> list[str]:
        return list(self._bars)

    def get(self, key: str, default: Any = None) -> Any:
        """Engine-provided extras (e.g. ``"book"``: the live order book when there is one)."""
        return self._extra.get(key, default)


class Strategy(ABC):
    """Base of all strategies. Subclasses set ``name``, the ``timeframe`` they decide on (the
    engine calls :meth:`on_bar` when a bar of it closes), the other ``timeframes`` they read
    and the ``regimes`` they are made for; parameters come from keyword arguments (the
    configuration file's table for the strategy), checked by the class's ``Params`` model into
    ``p``; subclasses declare ``p: Params`` for their own model's type."""

    name: ClassVar[str]
    timeframe: str = "1m"
    timeframes: tuple[str, ...] = ()
    regimes: ClassVar[frozenset[Regime]] = frozenset(Regime)
    Params: ClassVar[type[StrategyParams]]
    p: StrategyParams

    def __init__(self, **params: Any) -> None:
        self.p = self.Params(**params)
        self.timeframe = self.p.timeframe

    @abstractmethod
    def on_bar(self, ctx: Context) -> Sequence[Signal]:
        """Signals for the bar that just closed on ``self.timeframe`` (usually none)."""

    def warmup(self) -> int:
        """Bars of ``self.timeframe`` needed before the first signal can come."""
        return 0
