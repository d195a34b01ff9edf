"""The risk engine: sizes every entry, refuses the ones that break a limit (saying why), plans
the exits, and halts entries on losses, drawdowns, market crashes or the kill switch."""

from tradecore.risk.breakers import Breaker
from tradecore.risk.config import ExitOverrides, ExitParams, RiskConfig
from tradecore.risk.engine import Account, Decision, RiskEngine
from tradecore.risk.exits import ExitPlan

__all__ = ["Account", "Breaker", "Decision", "ExitOverrides", "ExitParams", "ExitPlan", "RiskConfig", "RiskEngine"]
