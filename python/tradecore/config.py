"""The bot's configuration: one TOML file, validated at start.

A bad key or value stops the bot before it does anything, with an error naming the key
(``risk.max_drawdown: Input should be less than or equal to 1``). Secrets never live in the
file: it names the environment variables that hold them, and only :func:`secret` reads them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tradecore._core import VENUES
from tradecore.analysis.regime import RegimeConfig
from tradecore.errors import ConfigError
from tradecore.execution.models import PaperConfig
from tradecore.risk import RiskConfig
from tradecore.strategy import STRATEGIES
from tradecore.strategy.selector import SelectorConfig

_STRICT = ConfigDict(extra="forbid", frozen=True)
_SECRET_WORDS = ("secret", "password", "api_key", "apikey", "token", "private")


class BotSection(BaseModel):
    """``[bot]``: what to trade."""

    model_config = _STRICT
    name: str = "tradecore"
    venue: str = "binance-usdm"
    symbols: Annotated[list[str], Field(min_length=1)] = ["BTCUSDT"]
    base_timeframe: str = "1m"
    cash: Annotated[float, Field(gt=0)] = 10_000.0
    quote: str = "USDT"
    state: str | None = None  # SQLite file for orders/fills/positions; None keeps state in memory
    live: bool = False  # paper trading unless explicitly enabled (and `tradecore run --live`)

    @field_validator("venue")
    @classmethod
    def _known_venue(cls, venue: str) -> str:
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; known: {', '.join(VENUES)}")
        return venue

    @field_validator("symbols")
    @classmethod
    def _upper(cls, symbols: list[str]) -> list[str]:
        return [s.strip().upper() for s in symbols]


class DataSection(BaseModel):
    """``[data]``: where market events come from.

    ``candles`` (a CSV/Parquet file, or a store directory filled by ``tradecore download`` from
    ``exchange``) for backtests on bars, cut to ``since``/``until`` (UTC); ``recording``
    for a recorded session (book and trades); ``live`` connects to ``ws_url``/``rest_url``
    (the venue's defaults, or ``tradecore sim``) after fetching ``warmup_days`` of bars into
    the ``history`` store, so the strategies start warm."""

    model_config = _STRICT
    source: Literal["candles", "recording", "live"] = "candles"
    candles: str | None = None
    exchange: str = "binance"  # the ccxt exchange a store directory was downloaded from
    recording: str | None = None
    ws_url: str | None = None
    rest_url: str | None = None
    since: str | None = None
    until: str | None = None
    duration_s: Annotated[float, Field(gt=0)] | None = None
    warmup_days: Annotated[float, Field(ge=0, le=3650)] = 14.0  # live: history fetched before trading
    history: str = "tradecore-history"  # live: the store the warm-up history is kept in

    @model_validator(mode="after")
    def _has_input(self) -> DataSection:
        if self.source == "candles" and not self.candles:
            raise ValueError("source = 'candles' needs `candles` (a CSV/Parquet file or a store directory)")
        if self.source == "recording" and not self.recording:
            raise ValueError("source = 'recording' needs `recording` (a recording file)")
        return self


class ReportSection(BaseModel):
    """``[report]``: where the HTML/JSON reports go and what they include."""

    model_config = _STRICT
    out: str = "reports"
    monte_carlo_runs: Annotated[int, Field(ge=0, le=100_000)] = 1000
    seed: int = 0


class WalkForwardSection(BaseModel):
    """``[walk_forward]``: rolling windows in base bars and the parameter grid
    (``"strategy.param" = [values…]``)."""

    model_config = _STRICT
    train_bars: Annotated[int, Field(gt=0)] = 14 * 1440
    test_bars: Annotated[int, Field(gt=0)] = 7 * 1440
    objective: Literal["sharpe", "sortino", "calmar", "total_return", "profit_factor"] = "sharpe"
    grid: dict[str, list[Any]] = {}


class LiveSection(BaseModel):
    """``[live]``: names of the environment variables holding the venue's keys (never the keys)."""

    model_config = _STRICT
    api_key_env: str = "TRADECORE_API_KEY"
    api_secret_env: str = "TRADECORE_API_SECRET"


class BotConfig(BaseModel):
    """The whole file."""

    model_config = _STRICT
    bot: BotSection = BotSection()
    data: DataSection = DataSection(source="live")
    strategies: dict[str, dict[str, Any]] = {"trend": {}}
    regime: RegimeConfig = RegimeConfig()
    selector: SelectorConfig = SelectorConfig()
    risk: RiskConfig = RiskConfig()
    paper: PaperConfig = PaperConfig()
    report: ReportSection = ReportSection()
    walk_forward: WalkForwardSection = WalkForwardSection()
    live: LiveSection = LiveSection()

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, strategies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, params in strategies.items():
            if name not in STRATEGIES:
                raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
            STRATEGIES[name](**{k: v for k, v in params.items() if k != "enabled"})  # validates the parameters
        return strategies

    def enabled_strategies(self) -> dict[str, dict[str, Any]]:
        return {n: {k: v for k, v in p.items() if k != "enabled"} for n, p in self.strategies.items() if p.get("enabled", True)}


def _secret_keys(table: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(table, dict):
        for key, value in table.items():
            where = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            if any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_env"):
                found.append(where)
            found.extend(_secret_keys(value, where))
    return found


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse(text: str, *, source: str = "<config>") -> BotConfig:
    """Validates TOML text; raises :class:`ConfigError` listing every problem with its key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    secrets = _secret_keys(raw)
    if secrets:
        raise ConfigError(
            f"{source}: {', '.join(secrets)}: secrets never go in the configuration file; "
            "put them in environment variables and name those with *_env keys ([live] api_key_env = ...)"
        )
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{source}: " + "; ".join(problems), problems=problems) from None


def load(path: str | Path) -> BotConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc.strerror}") from None
    config = parse(text, source=str(path))
    return config


def secret(name: str) -> str:
    """A secret from the environment variable ``name``; the value is never logged or shown."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set (it should hold a secret the bot needs)")
    return value
