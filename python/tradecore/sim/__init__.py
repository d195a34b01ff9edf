"""The local exchange: a recording replayed over the venue's own wire protocol on 127.0.0.1.

    from tradecore.sim import FaultPlan, SimServer

    plan = FaultPlan(["gap@1200", "rest-503@2"])
    async with SimServer("usdm_btcusdt_20240808.gz", speed=0, faults=plan) as server:
        ...  # connect to server.ws_url, GET server.rest_url + "/fapi/v1/depth?symbol=BTCUSDT"
    plan.injected  # Counter({"gap": 1, "rest-503": 1})

- :mod:`~tradecore.sim.market`: the recording as a timeline, the instrument, the server's book.
- :mod:`~tradecore.sim.binance` / :mod:`~tradecore.sim.bybit`: wire formats and REST routes.
- :mod:`~tradecore.sim.faults`: the fault plan (syntax in its docstring).
- :mod:`~tradecore.sim.server`: the aiohttp app, pacing and the market clock.
"""

from tradecore.sim.faults import Fault, FaultPlan, FaultSpecError
from tradecore.sim.market import Market, load
from tradecore.sim.server import SimServer, serve

__all__ = ["Fault", "FaultPlan", "FaultSpecError", "Market", "SimServer", "load", "serve"]
