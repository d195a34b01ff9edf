"""The regime detector: every regime is reached on the market it names, a new regime must hold
for confirm_bars bars (a one-bar blip never switches), entering and leaving thresholds differ,
and it reads closed bars only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.bar_series import Columns, bars_of, candles, choppy, frames, real_hourly, walk
from tests.conftest import data_file
from tests.test_strategies import REAL_CANDLES, tour
from tradecore.analysis.regime import Regime, RegimeConfig, RegimeDetector, classify
from tradecore.analysis.series import Bars
from tradecore.errors import InvalidArgumentError


def run(cols: Columns, config: RegimeConfig | None = None) -> tuple[list[Regime], list[str]]:
    """The detector after each bar (preloaded, revealed one by one) and its reasons."""
    bars = bars_of("1h", cols, visible=0)
    detector = RegimeDetector(config)
    regimes, reasons = [], []
    for n in range(1, bars.held + 1):
        bars.reveal(n)
        regimes.append(detector.update(bars))
        reasons.append(detector.reason)
    return regimes, reasons


def range_then(after: np.ndarray[Any, Any], volume: float) -> Columns:
    """A quiet range of 200 hours at 100 (volume 100), then ``after`` on ``volume``."""
    close = np.r_[choppy(200, pull=0.8), after]
    return candles(close, volume=np.r_[np.full(200, 100.0), np.full(len(after), volume)])


RISE = 102 * np.cumprod(np.full(8, 1.01))  # the first close 2% above a range topping out near 101


@pytest.mark.parametrize(
    ("close", "regime"),
    [
        (walk(300, drift=0.002, seed=1), Regime.TRENDING_UP),
        (walk(300, drift=-0.002, seed=1), Regime.TRENDING_DOWN),
        (choppy(300, pull=0.8), Regime.RANGING),
        (walk(300, noise=0.03, seed=1), Regime.VOLATILE),
    ],
)
def test_each_regime_is_reached_on_its_market(close: np.ndarray[Any, Any], regime: Regime) -> None:
    regimes, reasons = run(candles(close))
    assert regimes[-1] is regime, reasons[-1]
    assert reasons[-1].startswith(f"{regime}: ")


def test_a_close_leaving_the_range_on_volume_is_a_breakout() -> None:
    regimes, reasons = run(range_then(RISE, 300.0))
    assert regimes[199] is Regime.RANGING
    assert regimes[200:203] == [Regime.RANGING, Regime.RANGING, Regime.BREAKOUT]  # held 3 bars
    assert "breakout for 1 of 3 bars: close left the 20-bar range above" in reasons[200]
    assert reasons[202].endswith("(held 3 bars)")
    quiet, _ = run(range_then(RISE, 100.0))  # the same rise without volume: no breakout
    assert Regime.BREAKOUT not in quiet


def test_unknown_during_the_warm_up() -> None:
    config = RegimeConfig()
    regimes, reasons = run(candles(walk(100, drift=0.002)), config)
    assert regimes[: config.warmup - 1] == [Regime.UNKNOWN] * (config.warmup - 1)
    assert reasons[0] == f"warming up: 1 of {config.warmup} 1h bars"
    assert config.warmup == 56  # EMA50 + 5 bars of slope, plus the bar itself


def test_a_one_bar_blip_does_not_switch() -> None:
    # One bar closes 2% above the range on 3× volume, the next is back inside.
    blip = range_then(np.array([102.0, 100.0, 100.2, 99.9, 100.1]), 100.0)
    blip["volume"][200] = 300.0
    regimes, reasons = run(blip)
    assert "breakout for 1 of 3 bars" in reasons[200]
    assert Regime.BREAKOUT not in regimes
    eager, _ = run(blip, RegimeConfig(confirm_bars=1))
    assert eager[200] is Regime.BREAKOUT


def find(cols: Columns, where: Any) -> tuple[Bars, int]:
    """The first bar where ``where(bars)`` holds, with the bars revealed up to it."""
    bars = bars_of("1h", cols, visible=0)
    for n in range(RegimeConfig().warmup, bars.held + 1):
        bars.reveal(n)
        if where(bars):
            return bars, n
    raise AssertionError("no such bar in the series")


def test_a_trend_enters_at_adx_25_and_leaves_below_20() -> None:
    fading = candles(np.r_[walk(200, drift=0.003, seed=1), walk(200, drift=0.003, seed=1)[-1] * choppy(200, level=1.0, pull=0.05)])

    def between(bars: Bars) -> bool:
        fast, slow, adx = bars.ind.ema(20)[-1], bars.ind.ema(50), bars.ind.adx(14)[-1]
        return bool(20 <= adx < 25 and fast > slow[-1] > slow[-6] and bars.ind.natr(14)[-1] < 1.5)

    bars, _ = find(fading, between)
    config = RegimeConfig()
    assert classify(bars, config, Regime.TRENDING_UP).regime is Regime.TRENDING_UP  # stays
    assert classify(bars, config, Regime.RANGING).regime is not Regime.TRENDING_UP  # does not enter
    assert classify(bars, config, Regime.UNKNOWN).regime is not Regime.TRENDING_UP


def test_volatility_enters_at_natr_2_and_calms_below_1_5() -> None:
    calming = candles(np.r_[walk(150, noise=0.03, seed=2), walk(150, noise=0.03, seed=2)[-1] * choppy(150, level=1.0, noise=0.002)])
    bars, _ = find(calming, lambda b: 1.5 <= b.ind.natr(14)[-1] < 2.0)
    config = RegimeConfig()
    assert classify(bars, config, Regime.VOLATILE).regime is Regime.VOLATILE
    assert classify(bars, config, Regime.RANGING).regime is not Regime.VOLATILE


def states(cols: Columns, config: RegimeConfig) -> tuple[list[Regime], list[Regime]]:
    """The detector's regime after each bar and the raw classification it saw there."""
    bars = bars_of("1h", cols, visible=0)
    detector = RegimeDetector(config)
    regimes, seen = [], []
    for n in range(1, bars.held + 1):
        bars.reveal(n)
        seen.append(classify(bars, config, detector.regime).regime)
        regimes.append(detector.update(bars))
    return regimes, seen


@pytest.mark.parametrize("confirm", [1, 3, 5])
def test_a_switch_happens_exactly_when_a_new_regime_held_confirm_bars(confirm: int) -> None:
    config = RegimeConfig(confirm_bars=confirm)
    regimes, seen = states(tour(), config)
    switches = 0
    for t in range(config.warmup + confirm, len(regimes)):
        before = regimes[t - 1]
        held = seen[t - confirm + 1 : t + 1]
        steady = len(set(regimes[t - confirm : t])) == 1
        if regimes[t] != before:
            switches += 1
            assert held == [regimes[t]] * confirm, t  # it held confirm_bars bars
        elif steady and len(set(held)) == 1 and held[0] != before:
            raise AssertionError(f"bar {t}: {held[0]} held {confirm} bars but the detector stayed {before}")
    assert switches >= 5


def test_every_regime_shows_up_in_a_month_of_real_btc() -> None:
    regimes, _ = run(real_hourly(data_file(REAL_CANDLES)))
    assert set(regimes) == set(Regime)


def test_live_and_preloaded_bars_give_the_same_regimes() -> None:
    cols = tour()
    preloaded, _ = run(cols)
    live = Bars("1h", capacity=8)
    detector = RegimeDetector()
    regimes = []
    for i in range(len(cols["time"])):
        live.append(int(cols["time"][i]), *(float(cols[c][i]) for c in ("open", "high", "low", "close", "volume")))
        regimes.append(detector.update(live))
        assert detector.update(live) is regimes[-1]  # the same bar again changes nothing
    assert regimes == preloaded
    assert len(set(regimes)) >= 4


def test_the_detector_reads_only_its_timeframe() -> None:
    four_hourly = bars_of("4h", frames(candles(walk(100)))["4h"])
    with pytest.raises(InvalidArgumentError, match="the regime detector reads 1h bars, got 4h bars"):
        RegimeDetector().update(four_hourly)
    assert RegimeDetector(RegimeConfig(timeframe="4h")).update(four_hourly) is Regime.UNKNOWN


def test_reset_forgets_the_series() -> None:
    cols = candles(walk(300, drift=0.002, seed=1))
    detector = RegimeDetector()
    detector.update(bars_of("1h", cols))
    detector.reset()
    assert detector.regime is Regime.UNKNOWN and detector.update(bars_of("1h", cols, visible=10)) is Regime.UNKNOWN


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"adx_enter": 15.0}, r"regime: adx_leave \(20\) must not exceed adx_enter \(15\)"),
        ({"chop_leave": 60.0}, r"chop_leave \(60\) must not exceed chop_enter \(55\)"),
        ({"ema_fast": 50}, r"ema_fast \(50\) must be below ema_slow \(50\)"),
        ({"confirm_bars": 0}, r"confirm_bars = 0: Input should be greater than or equal to 1"),
        ({"timeframe": "hourly"}, r"timeframe = 'hourly': bad timeframe"),
        ({"adx": 25}, r"unknown parameter 'adx' \(known: timeframe, confirm_bars"),
    ],
)
def test_a_bad_config_is_refused_naming_the_parameter(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        RegimeConfig(**params)


