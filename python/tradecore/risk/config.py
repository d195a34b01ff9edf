"""The risk engine's settings: a pydantic model, so a bad key or value in the configuration file
fails with an error that names it. Fractions are of equity unless said otherwise; times are
seconds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Fraction = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[int, Field(ge=0)]

# The exit parameters, shared by the defaults (ExitParams) and the per-tier overrides
# (ExitOverrides) so both validate alike. 0 turns an optional exit off (TOML has no null).
AtrStop = Annotated[float, Field(gt=0)]
TakeProfitR = Annotated[float, Field(ge=0)]
TrailActivation = Annotated[float, Field(ge=0)]
Trail = Annotated[float, Field(ge=0, lt=1)]


class _Strict(BaseModel):
    # Field docstrings become the fields' descriptions.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ExitParams(_Strict):
    """How a position is protected and closed: the plan the engine turns into a stop, a
    take-profit and a trailing stop in one OCO group, plus a time exit."""

    atr_stop: AtrStop = 2.0
    """Stop distance in ATRs, used when a signal gives no stop."""
    take_profit_r: TakeProfitR = 2.0
    """Take-profit distance in R (R = |entry − stop|); 0: no take-profit."""
    trail_activation: TrailActivation = 0.02
    """Profit (fraction of the entry price) at which the trailing stop starts; 0: at once."""
    trail: Trail = 0.01
    """Trailing distance as a fraction of the best price; 0: no trailing stop."""
    time_exit_s: Seconds = 86_400
    """Close the position this many seconds after its entry; 0: no time exit."""


class ExitOverrides(_Strict):
    """A tier's changes to :class:`ExitParams`; a parameter left out keeps the default."""

    atr_stop: AtrStop | None = None
    """See ExitParams.atr_stop."""
    take_profit_r: TakeProfitR | None = None
    """See ExitParams.take_profit_r."""
    trail_activation: TrailActivation | None = None
    """See ExitParams.trail_activation."""
    trail: Trail | None = None
    """See ExitParams.trail."""
    time_exit_s: Seconds | None = None
    """See ExitParams.time_exit_s."""


class RiskConfig(_Strict):
    """Sizing, limits, market circuit breakers and exits; the defaults are the issue's."""

    # ---- sizing ----
    sizing: Literal["fixed_fractional", "kelly", "volatility"] = "fixed_fractional"
    """How much equity a trade risks: a fixed fraction, half-Kelly or volatility-scaled."""
    risk_per_trade: Fraction = 0.02
    """Equity a trade risks (loses if its stop is hit) under fixed fractional sizing, and the
    base that volatility sizing scales and Kelly falls back to."""
    kelly_fraction: Fraction = 0.5
    """The part of the full Kelly fraction risked (0.5: half-Kelly)."""
    kelly_cap: Fraction = 0.25
    """The most equity a Kelly-sized trade may risk, however big the edge."""
    kelly_min_trades: Count = 20
    """Closed trades needed before Kelly trusts their statistics; fixed fractional until then."""
    target_volatility: float = Field(default=0.01, gt=0)
    """Volatility sizing: the ATR (as a fraction of price) at which a trade risks risk_per_trade."""
    volatility_scale_cap: float = Field(default=2.0, gt=0)
    """Volatility sizing: the largest scale on risk_per_trade."""
    high_confidence: Fraction = 0.8
    """Signals with a confidence above this get high_confidence_multiplier."""
    low_confidence: Fraction = 0.6
    """Signals with a confidence below this get low_confidence_multiplier."""
    high_confidence_multiplier: Fraction = 1.0
    """Size multiplier for confidence above high_confidence."""
    mid_confidence_multiplier: Fraction = 0.75
    """Size multiplier for confidence from low_confidence to high_confidence, both included."""
    low_confidence_multiplier: Fraction = 0.5
    """Size multiplier for confidence below low_confidence."""

    # ---- limits ----
    max_position_fraction: Fraction = 0.25
    """Largest position notional / equity; a bigger order is shrunk to fit."""
    max_open_positions: Count = 5
    """Most symbols with an open position at once."""
    grid_adds: bool = True
    """One position per symbol, except that quote_size signals (a DCA grid) of the strategy that
    holds the position may add to it on its side. False: strictly one entry per symbol."""
    max_portfolio_risk: Fraction = 0.06
    """Largest sum of qty × |entry − stop| over the open positions and the new trade, / equity."""
    max_daily_loss: Fraction = 0.05
    """Loss from the UTC day's starting equity that halts entries for the rest of that day."""
    max_drawdown: Fraction = 0.15
    """Drawdown from peak equity that halts entries until rearm()."""
    max_consecutive_losses: Count = 5
    """Losing trades in a row that halt entries."""
    loss_streak_cooloff_s: Seconds = 0
    """How long the consecutive-loss halt lasts; 0: until rearm()."""
    min_trade_spacing_s: Seconds = 300
    """Least time between two trades (entries or exits) on one symbol."""
    stop_outs_for_cooldown: Count = 3
    """Stop-loss exits in a row on a symbol that start its cooldown."""
    stop_out_cooldown_s: Seconds = 3_600
    """How long a symbol takes no entries after those stop-outs."""
    min_notional: float = Field(default=10.0, ge=0)
    """Smallest order value (quote): a smaller order, e.g. one a limit shrank, is rejected."""

    # ---- market circuit breakers (changes of the reference asset's close, see breakers.py) ----
    reference_symbol: str | None = Field(default="BTCUSDT", min_length=1)
    """The asset whose moves trip the breakers; None: no breakers."""
    panic_1h_change: float = Field(default=-0.05, lt=0)
    """PANIC (entries halted) when the 1h change is at or below this."""
    panic_4h_change: float = Field(default=-0.10, lt=0)
    """PANIC when the 4h change is at or below this."""
    caution_1h_change: float = Field(default=-0.03, lt=0)
    """CAUTION when the 1h change is at or below this (and above panic_1h_change)."""
    euphoria_1h_change: float = Field(default=0.05, gt=0)
    """EUPHORIA when the 1h change is at or above this."""
    caution_multiplier: Fraction = 0.5
    """Size multiplier under CAUTION."""
    euphoria_multiplier: Fraction = 0.7
    """Size multiplier under EUPHORIA."""

    # ---- exits ----
    exits: ExitParams = Field(default_factory=ExitParams)
    """The default exit parameters."""
    tiers: dict[str, ExitOverrides] = Field(default_factory=dict)
    """Named exit overrides, e.g. {"alts": {"atr_stop": 3.0}}."""
    symbol_tiers: dict[str, str] = Field(default_factory=dict)
    """Symbol → tier name, e.g. {"SOLUSDT": "alts"}; other symbols use the defaults."""

    # ---- kill switch ----
    flatten_on_kill: bool = False
    """On kill(), the engine also closes every position (it always cancels the open orders)."""

    # Each check sits on the later field of its pair, so the error names that field.
    @field_validator("low_confidence")
    @classmethod
    def _below_high_confidence(cls, value: float, info: ValidationInfo) -> float:
        high = info.data.get("high_confidence")
        if high is not None and value > high:
            raise ValueError(f"low_confidence {value} is above high_confidence {high}")
        return value

    @field_validator("caution_1h_change")
    @classmethod
    def _above_panic(cls, value: float, info: ValidationInfo) -> float:
        panic = info.data.get("panic_1h_change")
        if panic is not None and value <= panic:
            raise ValueError(f"caution_1h_change {value} must be above panic_1h_change {panic}")
        return value

    @field_validator("symbol_tiers")
    @classmethod
    def _known_tiers(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        tiers = info.data.get("tiers", {})
        for symbol, tier in value.items():
            if tier not in tiers:
                raise ValueError(f"{symbol!r} names tier {tier!r}, not one of tiers {sorted(tiers)}")
        return value

    def exits_for(self, symbol: str) -> ExitParams:
        """The exit parameters of ``symbol``: the defaults with its tier's overrides."""
        tier = self.symbol_tiers.get(symbol)
        if tier is None:
            return self.exits
        return self.exits.model_copy(update=self.tiers[tier].model_dump(exclude_none=True))
