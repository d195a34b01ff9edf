"""The strategies, their registry and the selector: each strategy fires on the market it is made
for and stays quiet otherwise, with stops on the losing side and hand-checked prices; none of
them looks ahead; bad parameters are refused by name."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bar_series import (
    HOUR,
    Columns,
    bars_of,
    candles,
    check_side,
    choppy,
    context,
    frames,
    long,
    real_hourly,
    replay,
    walk,
)
from tradecore import patterns
from tradecore.analysis.regime import Regime
from tradecore.errors import InvalidArgumentError
from tradecore.execution.orders import Position, Side
from tradecore.strategy import (
    STRATEGIES,
    Breakout,
    Channel,
    DcaGrid,
    MeanReversion,
    PatternConfluence,
    Reversal,
    Selector,
    SelectorConfig,
    Signal,
    Strategy,
    TrendFollowing,
    create,
)
from tradecore.strategy.channel import daily_volatility, regression_channel
from tradecore.strategy.pattern_votes import CONFIDENCE, DIRECTION, HEIGHT, pattern_votes
from tests.conftest import data_file

REAL_CANDLES = "candles/btcperp_20211231_20220201_1m.csv.gz"


def with_shorts(name: str) -> dict[str, Any]:
    return {"allow_short": True} if "allow_short" in STRATEGIES[name].Params.model_fields else {}


def entries(signals: list[list[Signal]]) -> list[tuple[int, Signal]]:
    return [(i, s) for i, bar in enumerate(signals) for s in bar if not s.exit]


def exits(signals: list[list[Signal]]) -> list[tuple[int, Signal]]:
    return [(i, s) for i, bar in enumerate(signals) for s in bar if s.exit]


# --- parameters and registry ----------------------------------------------------------------


def test_the_registry_names_every_strategy_by_its_config_key() -> None:
    assert set(STRATEGIES) == {"trend", "mean_reversion", "breakout", "reversal", "dca_grid", "channel", "pattern"}
    for name, cls in STRATEGIES.items():
        strategy = create(name)
        assert isinstance(strategy, cls) and strategy.name == name
        assert strategy.timeframe == "1h" and strategy.warmup() > 0 and strategy.regimes
        assert cls.Params.model_config["title"] == f"strategy '{name}'"


def test_create_refuses_an_unknown_strategy_listing_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown strategy 'trnd'.*mean_reversion") as error:
        create("trnd")
    assert error.value.name == "strategy"


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_an_unknown_parameter_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"strategy '{name}': unknown parameter 'typo' \(known: timeframe") as error:
        create(name, typo=1)
    assert error.value.name == "typo"


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("trend", {"adx_min": "25"}, r"adx_min = '25': Input should be a valid number"),
        ("trend", {"ema_fast": 60}, r"need ema_fast < ema_mid < ema_slow, got 60, 50, 200"),
        ("trend", {"confirm_timeframes": ["30m"]}, r"confirm_timeframes must be longer than timeframe 1h, got 30m"),
        ("trend", {"momentum_min": 4}, r"momentum_min = 4: Input should be less than or equal to 3"),
        ("mean_reversion", {"rsi_low": 80}, r"rsi_low \(80\) must be below rsi_high \(70\)"),
        ("breakout", {"min_break": math.nan}, r"min_break = nan"),
        ("breakout", {"timeframe": "1x"}, r"timeframe = '1x': bad timeframe '1x'"),
        ("dca_grid", {"drop_min": 0.06}, r"drop_min \(0.06\) must be below drop_max \(0.05\)"),
        ("dca_grid", {"quote_size": -5.0}, r"quote_size = -5.0: Input should be greater than 0"),
        ("dca_grid", {"levels": 30, "level_step": 0.05}, r"30 levels 0.05 apart would reach a price of zero"),
        ("channel", {"vol_on": 9.0}, r"vol_on \(9\) must not exceed vol_off \(8\)"),
        ("reversal", {"recent": 20, "min_gap": 10}, r"recent \+ min_gap \(20 \+ 10\) must be below lookback \(30\)"),
        ("pattern", {"stop": "loose"}, r"stop = 'loose'"),
        ("pattern", {"allow_short": "yes"}, r"allow_short = 'yes': Input should be a valid boolean"),
    ],
)
def test_a_bad_value_is_refused_naming_it(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        create(name, **params)


def test_params_are_frozen_and_toml_lists_become_tuples() -> None:
    trend = TrendFollowing(confirm_timeframes=["4h"], allow_short=True)
    assert trend.timeframes == ("4h",) and trend.p.allow_short
    with pytest.raises(Exception, match="frozen"):
        trend.p.adx_min = 10  # type: ignore[misc]
    assert TrendFollowing(timeframe="4h", confirm_timeframes=["1d"]).timeframe == "4h"


# --- trend following ------------------------------------------------------------------------

UP = walk(400, drift=0.002, seed=1)
DOWN = walk(400, drift=-0.002, seed=1)


def test_trend_buys_a_clear_up_trend_with_an_atr_stop_and_meaningful_confidence() -> None:
    data = frames(candles(UP))
    found = entries(replay(TrendFollowing(), data, preload=False))
    assert found and all(s.side is Side.BUY for _, s in found)
    i, signal = found[0]
    bars = bars_of("1h", data["1h"], visible=i + 1)
    close, atr, adx = bars.last(), bars.ind.atr(14)[-1], bars.ind.adx(14)[-1]
    assert signal.stop == pytest.approx(close - 2.0 * atr)
    assert signal.take_profit is None
    assert signal.reason.startswith(f"EMA20>EMA50>EMA200, ADX {adx:.0f}, RSI")
    assert "4h up, 1d n/a" in signal.reason  # 400 hours: 4h has its EMAs, 1d not yet
    momentum = sum(word in signal.reason for word in ("RSI", "MACD above", "%K above")) / 3
    assert signal.confidence == pytest.approx((min(1.0, adx / 50) + momentum + 1.0) / 3)
    assert i + 1 >= TrendFollowing().warmup()


def test_trend_stays_long_only_unless_shorts_are_allowed() -> None:
    data = frames(candles(DOWN))
    assert not entries(replay(TrendFollowing(), data, preload=False))
    shorts = entries(replay(TrendFollowing(allow_short=True), data, preload=False))
    assert shorts and all(s.side is Side.SELL for _, s in shorts)
    for i, s in shorts:
        check_side(s, float(data["1h"]["close"][i]))
        assert s.reason.startswith("EMA20<EMA50<EMA200")


def test_trend_ignores_a_range_and_a_trend_too_weak_for_its_adx() -> None:
    sideways = candles(choppy(400, pull=0.8, seed=2))
    assert np.nanmax(bars_of("1h", sideways).ind.adx(14)[199:]) < 25  # after the warm-up, a range by its own measure
    assert not entries(replay(TrendFollowing(allow_short=True), frames(sideways), preload=False))
    adx = bars_of("1h", candles(UP)).ind.adx(14)
    assert not entries(replay(TrendFollowing(adx_min=float(np.nanmax(adx)) + 0.1), frames(candles(UP)), preload=False))


def test_trend_waits_while_a_higher_timeframe_trends_the_other_way() -> None:
    hourly = bars_of("1h", candles(UP))
    falling = candles(DOWN[:120], span=4 * HOUR)
    rising = candles(UP[:120], span=4 * HOUR)
    trend = TrendFollowing(confirm_timeframes=["4h"])
    assert trend.on_bar(context({"1h": hourly, "4h": bars_of("4h", rising)}))
    assert not trend.on_bar(context({"1h": hourly, "4h": bars_of("4h", falling)}))
    assert trend.on_bar(context({"1h": hourly}))  # a higher timeframe the engine does not keep is not asked


def test_trend_exits_when_the_alignment_breaks() -> None:
    close = np.r_[UP, UP[-1] * walk(150, drift=-0.004, seed=3, start=1.0)]
    signals = replay(TrendFollowing(), frames(candles(close)), preload=False)
    (first, entry), = entries(signals)[:1]
    out = exits(signals)
    assert out and out[0][0] > first and out[0][1].side is Side.SELL
    assert "EMA20/50/200 alignment broke" in out[0][1].reason


def test_an_exit_leaves_alone_a_position_another_strategy_opened() -> None:
    bars = bars_of("1h", candles(DOWN))  # alignment down: a long would be exited
    trend = TrendFollowing()
    assert trend.on_bar(context({"1h": bars}, position=long()))[0].exit
    assert not trend.on_bar(context({"1h": bars}, position=long(), extra={"position_strategy": "dca_grid"}))
    assert trend.on_bar(context({"1h": bars}, position=long(), extra={"position_strategy": "trend"}))[0].exit


# --- mean reversion -------------------------------------------------------------------------


def range_then_dip(before: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``before`` cut where its Choppiness peaks, then three falling bars and a recovery."""
    chop = bars_of("1h", candles(before)).ind.choppiness(14)
    cut = 200 + int(np.nanargmax(chop[200:]))
    last = before[cut]
    return np.r_[before[: cut + 1], last * np.cumprod([0.99, 0.985, 0.98]), last * np.array([0.975, 0.985, 0.995, 1.0])]


def test_mean_reversion_buys_a_stretch_below_the_band_in_a_range_and_exits_at_the_middle() -> None:
    close = range_then_dip(choppy(300))
    signals = replay(MeanReversion(), frames(candles(close)), preload=False)
    (i, entry), = entries(signals)
    bars = bars_of("1h", candles(close), visible=i + 1)
    upper, middle, lower = (b[-1] for b in bars.ind.bbands(20, 2.0))
    rsi, atr, c = bars.ind.rsi(14)[-1], bars.ind.atr(14)[-1], bars.last()
    assert c <= lower and rsi <= 30 and bars.ind.choppiness(14)[-4] >= 61.8
    assert entry.side is Side.BUY and entry.take_profit == middle
    assert entry.stop == pytest.approx(c - 1.5 * atr)
    expected = 0.5 + 0.25 * min(1, (lower - c) / (upper - lower) / 0.25) + 0.25 * min(1, (30 - rsi) / 15)
    assert entry.confidence == pytest.approx(expected)
    (j, out), = exits(signals)
    assert j > i and "back at the middle band" in out.reason
    assert close[j] >= bars_of("1h", candles(close), visible=j + 1).ind.bbands(20, 2.0)[1][-1]


def test_mean_reversion_ignores_the_same_stretch_in_a_trend() -> None:
    close = range_then_dip(walk(300, drift=0.003, seed=5))
    assert not entries(replay(MeanReversion(), frames(candles(close)), preload=False))


# --- breakout -------------------------------------------------------------------------------

FLAT = np.tile([100.0, 100.5], 30)  # bars: highs 100.701 (100.5 × 1.002), lows 99.8 (100 × 0.998)


def breakout_bars(last: float, volume: float) -> dict[str, Any]:
    return {"1h": bars_of("1h", candles(np.r_[FLAT, last], volume=np.r_[np.full(60, 100.0), volume]))}


def test_breakout_buys_a_clear_close_above_resistance_on_volume() -> None:
    bars = breakout_bars(102.6, 200.0)
    (signal,) = Breakout().on_bar(context(bars))
    atr = bars["1h"].ind.atr(14)[-1]
    assert signal.side is Side.BUY
    assert signal.stop == pytest.approx(100.701 - atr)  # one ATR under the broken resistance
    assert signal.take_profit == pytest.approx(102.6 + (100.701 - 99.8))  # the range's height again
    broke = 102.6 / 100.701 - 1
    assert signal.confidence == pytest.approx(0.5 + 0.25 * min(1, (2.0 - 1.3) / 1.3) + 0.25 * min(1, (broke - 0.01) / 0.02))
    assert "1.9% beyond the 20-bar resistance 100.701 on 2.0× volume" in signal.reason


@pytest.mark.parametrize(
    ("last", "volume", "fires"),
    [(102.6, 129.9, False), (102.6, 130.0, True), (101.6, 200.0, False), (101.71, 200.0, True)],
)
def test_breakout_needs_both_the_break_and_the_volume(last: float, volume: float, fires: bool) -> None:
    # 1.3 × the mean volume of 100, 1% above 100.701 = 101.708
    assert bool(Breakout().on_bar(context(breakout_bars(last, volume)))) is fires


def test_breakdowns_are_shorted_only_when_allowed() -> None:
    bars = breakout_bars(97.5, 200.0)
    assert not Breakout().on_bar(context(bars))
    (signal,) = Breakout(allow_short=True).on_bar(context(bars))
    assert signal.side is Side.SELL and signal.stop > 99.8 and signal.take_profit == pytest.approx(97.5 - 0.901)


# --- reversal -------------------------------------------------------------------------------


def v_reversal(second_leg: float = 0.9965, legs: int = 12) -> Columns:
    """A range, a sharp fall (RSI ~16), a bounce, a slow slide to a slightly lower low (RSI and
    MACD higher: divergence), then a bullish engulfing bar on 2.5× volume and a recovery."""
    base = choppy(120)
    leg1 = base[-1] * np.cumprod(np.full(8, 0.988))
    bounce = leg1[-1] * np.cumprod(np.full(6, 1.006))
    leg2 = bounce[-1] * np.cumprod(np.full(legs, second_leg))
    turn = leg2[-1] * np.cumprod([1.012, 1.006, 1.004, 1.003])
    cols = candles(np.r_[base, leg1, bounce, leg2, turn])
    k = 120 + 8 + 6 + legs  # the turn: open below the last close, close above the last open
    cols["open"][k], cols["close"][k] = cols["close"][k - 1] * 0.998, cols["open"][k - 1] * 1.004
    cols["volume"][k] = 250.0
    for j in range(k, len(cols["close"])):
        if j > k:
            cols["open"][j] = cols["close"][j - 1]
        cols["high"][j] = max(cols["open"][j], cols["close"][j]) * 1.002
        cols["low"][j] = min(cols["open"][j], cols["close"][j]) * 0.998
    return cols


def test_reversal_buys_a_new_low_that_rsi_and_macd_do_not_confirm() -> None:
    cols = v_reversal()
    signals = replay(Reversal(), frames(cols), preload=False)
    (i, signal), = entries(signals)
    bars = bars_of("1h", cols, visible=i + 1)
    low = float(bars.low[-30:].min())
    assert signal.side is Side.BUY and "RSI and MACD diverging" in signal.reason
    j = len(bars) - 30 + int(np.flatnonzero(bars.low[-30:] == low)[-1])
    assert signal.stop == pytest.approx(low - 0.5 * bars.ind.atr(14)[j])
    assert signal.take_profit == pytest.approx(bars.last() + 2 * (bars.last() - signal.stop))
    assert signal.confidence == pytest.approx(0.4 + 0.2)  # both divergences, a long move, no pattern yet


def test_reversal_confidence_counts_the_candlestick_pattern() -> None:
    cols = v_reversal()
    k = 120 + 8 + 6 + 12
    bars = bars_of("1h", cols, visible=k + 1)
    vote = pattern_votes(bars)[-1]
    assert vote[DIRECTION] == 1 and vote[CONFIDENCE] > 0.6  # the engulfing bar, accepted
    (signal,) = Reversal().on_bar(context({"1h": bars}))
    assert signal.confidence == pytest.approx(0.4 + 0.4 * vote[CONFIDENCE] + 0.2)
    assert f"candlestick pattern vote {vote[CONFIDENCE]:.2f}" in signal.reason


def test_reversal_ignores_a_fall_that_momentum_confirms() -> None:
    # One accelerating fall: every new low comes with a lower RSI and MACD.
    close = np.r_[choppy(120), choppy(120)[-1] * np.cumprod(1 - np.linspace(0.002, 0.012, 30))]
    assert not entries(replay(Reversal(allow_short=True), frames(candles(close)), preload=False))


def test_reversal_of_a_rally_is_shorted_when_allowed() -> None:
    cols = v_reversal()
    mirrored = {**cols, "open": 200 - cols["open"], "close": 200 - cols["close"], "high": 200 - cols["low"], "low": 200 - cols["high"]}
    assert not entries(replay(Reversal(), frames(mirrored), preload=False))
    shorts = entries(replay(Reversal(allow_short=True), frames(mirrored), preload=False))
    assert shorts and all(s.side is Side.SELL and "new 30-bar high" in s.reason for _, s in shorts)
    for i, s in shorts:
        check_side(s, float(mirrored["close"][i]))


# --- DCA grid -------------------------------------------------------------------------------


def grid_series(*closes: float) -> Columns:
    """48 flat hours at 100 (highs 100.2), then ``closes``."""
    return candles(np.r_[np.full(48, 100.0), closes])


def test_a_3pct_drop_places_five_levels_1pct_apart_once() -> None:
    signals = replay(DcaGrid(quote_size=250.0), frames(grid_series(97.0, 96.9, 96.5)), preload=False)
    placed = entries(signals)
    assert [i for i, _ in placed] == [48] * 5  # not again at 96.9 or 96.5: same drop
    levels = [s for _, s in placed]
    assert [s.tag for s in levels] == ["level-1", "level-2", "level-3", "level-4", "level-5"]
    assert [s.limit_price for s in levels] == pytest.approx([97.0, 96.03, 95.06, 94.09, 93.12])
    for s in levels:
        assert s.side is Side.BUY and s.quote_size == 250.0 and not s.exit
        assert s.stop == pytest.approx(93.12 * 0.98) and s.take_profit == pytest.approx(100.2)
        assert s.confidence == pytest.approx(0.5 + 0.3 * (1 - 97 / 100.2 - 0.025) / 0.025)
        check_side(s, 97.0)
    assert "3.2% below the recent high 100.2: grid level 1 of 5 at 97" in levels[0].reason


@given(drop=st.floats(0.026, 0.049), levels=st.integers(1, 12), step=st.floats(0.001, 0.05), below=st.floats(0.001, 0.2))
@settings(max_examples=60, deadline=None)
def test_grid_levels_for_any_drop_in_the_band(drop: float, levels: int, step: float, below: float) -> None:
    close = 100.2 * (1 - drop)
    grid = DcaGrid(levels=levels, level_step=step, stop_below=below)
    bars = frames(grid_series(close))
    placed = grid.on_bar(context({tf: bars_of(tf, cols) for tf, cols in bars.items()}))
    assert [s.limit_price for s in placed] == pytest.approx([close * (1 - k * step) for k in range(levels)])
    assert len({s.tag for s in placed}) == levels
    for s in placed:
        assert s.stop == pytest.approx(close * (1 - (levels - 1) * step) * (1 - below))
        check_side(s, close)


@pytest.mark.parametrize("close", [98.0, 94.0])
def test_no_grid_for_a_small_dip_or_a_crash(close: float) -> None:  # 2.2% and 6.2% below 100.2
    assert not entries(replay(DcaGrid(), frames(grid_series(close)), preload=False))


def test_a_new_grid_comes_only_after_the_drop_is_over() -> None:
    # 97: grid; 100.5 reaches its high (100.2): over; 97.5 (3.2% below the new high 100.701): new grid.
    signals = replay(DcaGrid(), frames(grid_series(97.0, 98.0, 100.5, 97.5)), preload=False)
    assert sorted({i for i, _ in entries(signals)}) == [48, 51]


def test_the_grid_exits_at_the_recent_high_or_its_profit() -> None:
    grid = DcaGrid(take_profit=0.02)
    bars = {"1h": bars_of("1h", grid_series(97.0, 99.0)), "4h": bars_of("4h", frames(grid_series(97.0, 99.0))["4h"])}
    assert not grid.on_bar(context(bars, position=long(entry=97.5)))  # 1.5% up, below the high
    (out,) = grid.on_bar(context(bars, position=long(entry=97.0)))  # 2.06% up
    assert out.exit and out.side is Side.SELL and "2.1% above the average entry 97" in out.reason
    bars = {"1h": bars_of("1h", grid_series(97.0, 100.3)), "4h": bars_of("4h", frames(grid_series(97.0, 100.3))["4h"])}
    (out,) = DcaGrid(take_profit=0.5).on_bar(context(bars, position=long(entry=99.0)))
    assert out.exit and "back at the recent high 100.2" in out.reason


# --- channel --------------------------------------------------------------------------------


def test_the_regression_channel_of_a_perfect_line() -> None:
    mid = 100 + 0.5 * np.arange(60.0)
    bars = bars_of("1h", {"time": np.arange(60) * HOUR, "open": mid, "high": mid + 1, "low": mid - 1, "close": mid, "volume": np.ones(60)})
    channel = regression_channel(bars, 48)
    assert channel is not None
    assert channel.slope == pytest.approx(0.5)
    assert (channel.lower, channel.upper) == pytest.approx((mid[-1] - 1, mid[-1] + 1))
    assert channel.position(mid[-1]) == pytest.approx(0.5)


def sine_range(n: int, noise: float, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    return 100 * (1 + 0.02 * np.sin(2 * np.pi * np.arange(n) / 24)) * np.exp(noise * rng.standard_normal(n))


def test_channel_volatility_switches_off_above_8pct_and_on_only_below_6pct() -> None:
    # calm, medium (between 6 and 8), wild, medium again, calm: daily volatility of 1h returns.
    close = np.concatenate([sine_range(150, s, i) for i, s in enumerate((0.001, 0.0135, 0.03, 0.0135, 0.001))])
    bars = bars_of("1h", candles(close), visible=0)
    channel = Channel()
    states = []
    for n in range(1, len(close) + 1):
        bars.reveal(n)
        states.append((daily_volatility(bars, 48)[-1], channel.enabled(bars)))
    vol = np.array([v for v, _ in states])
    on = np.array([e for _, e in states])
    middle = (vol > 6) & (vol < 8)
    first_wild = int(np.argmax(vol > 8))
    assert middle[:first_wild].any() and on[:first_wild].all()  # never above 8 yet: on
    after = np.arange(len(vol)) > first_wild
    calm_again = int(np.argmax(after & (vol < 6)))
    assert (middle & after)[:calm_again].any() and not on[first_wild:calm_again].any()  # off until below 6
    assert on[calm_again]
    signals = replay(channel, {"1h": candles(close)}, preload=False)
    buys = entries(signals)
    assert buys and all(on[i] for i, _ in buys)


def test_channel_buys_the_bottom_and_exits_at_the_top() -> None:
    close = sine_range(200, 0.001, 1)
    signals = replay(Channel(), {"1h": candles(close)}, preload=False)
    buys, sells = entries(signals), exits(signals)
    assert buys and sells
    for i, s in buys:
        bars = bars_of("1h", candles(close), visible=i + 1)
        channel = regression_channel(bars, 48)
        assert channel is not None
        where = channel.position(close[i])
        assert where <= 0.15 and s.confidence == pytest.approx(0.5 + 0.5 * (0.15 - where) / 0.15)
        assert s.stop == pytest.approx(channel.lower - 0.25 * channel.width)
        assert s.take_profit == pytest.approx(channel.lower + 0.9 * channel.width)
        check_side(s, close[i])
    for i, s in sells:
        channel = regression_channel(bars_of("1h", candles(close), visible=i + 1), 48)
        assert channel is not None and channel.position(close[i]) >= 0.9


# --- pattern confluence ---------------------------------------------------------------------


def reference_votes(cols: Columns, bar: int) -> patterns.Vote:
    table = patterns.score(*(cols[c][: bar + 1] for c in ("open", "high", "low", "close", "volume")))
    return patterns.vote_of(table, bar)


def test_pattern_votes_are_the_pattern_engines_vote_of_each_bar() -> None:
    cols = v_reversal()
    bars = bars_of("1h", cols)
    votes = pattern_votes(bars)
    table = patterns.score(bars.open, bars.high, bars.low, bars.close, bars.volume)
    voted = 0
    for i in range(len(bars)):
        vote = patterns.vote_of(table, i)
        assert (votes[i, DIRECTION], votes[i, CONFIDENCE]) == (vote.direction, pytest.approx(vote.confidence))
        voted += vote.direction != 0
    assert voted >= 2


def test_pattern_votes_match_the_engine_on_real_candles() -> None:
    hourly = real_hourly(data_file(REAL_CANDLES))
    for tf, cols in frames(hourly, ("4h",)).items():
        bars = bars_of(tf, cols)
        votes = pattern_votes(bars)
        table = patterns.score(bars.open, bars.high, bars.low, bars.close, bars.volume)
        for i in range(len(bars)):
            vote = patterns.vote_of(table, i)
            assert votes[i, DIRECTION] == vote.direction and votes[i, CONFIDENCE] == pytest.approx(vote.confidence), (tf, i)


def test_pattern_enters_on_the_engulfing_bar_with_the_confluence_as_confidence() -> None:
    cols = v_reversal()
    k = 120 + 8 + 6 + 12
    data = frames(cols, ("4h",))
    bars = {"1h": bars_of("1h", data["1h"], visible=k + 1), "4h": bars_of("4h", data["4h"])}
    bars["4h"].advance(bars["1h"].close_time)
    assert len(bars["4h"]) >= 30
    votes = {"1h": reference_votes(data["1h"], k), "4h": reference_votes(data["4h"], len(bars["4h"]) - 1)}
    call = patterns.confluence(votes)
    assert call.signal in ("BUY", "STRONG_BUY")
    (signal,) = PatternConfluence(confirm_timeframes=["4h"]).on_bar(context(bars))
    assert signal.side is Side.BUY and signal.confidence == pytest.approx(abs(call.score))
    height, atr, close = pattern_votes(bars["1h"])[-1, HEIGHT], bars["1h"].ind.atr(14)[-1], cols["close"][k]
    distance = max(1.0 * height, 0.5 * atr)
    assert signal.stop == pytest.approx(close - distance) and signal.take_profit == pytest.approx(close + 2 * distance)
    assert signal.reason.startswith(f"confluence {call.signal}")
    # Two bars later (the next one is a Three Outside Up) the 1h bar no longer votes: no entry.
    bars["1h"].reveal(k + 3)
    assert pattern_votes(bars["1h"])[-1, DIRECTION] != 1
    assert not PatternConfluence(confirm_timeframes=["4h"]).on_bar(context(bars))


def test_a_timeframe_with_too_few_bars_votes_neutral() -> None:
    cols = v_reversal()
    k = 120 + 8 + 6 + 12
    one = {"1h": bars_of("1h", cols, visible=k + 1)}
    alone = PatternConfluence(confirm_timeframes=[]).on_bar(context(one))
    vote = reference_votes(cols, k)
    assert alone[0].confidence == pytest.approx(vote.confidence)  # score = the only vote
    few = {**one, "1d": bars_of("1d", frames(cols)["1d"])}  # 6 days < 30 bars: votes 0
    (signal,) = PatternConfluence(confirm_timeframes=["1d"]).on_bar(context(few))
    assert signal.confidence == pytest.approx(vote.confidence * 1.0 / (1.0 + 1.2))


def test_pattern_exits_when_the_confluence_turns_against_the_position() -> None:
    cols = v_reversal()
    k = 120 + 8 + 6 + 12
    bars = {"1h": bars_of("1h", cols, visible=k + 1)}
    short = Position("BTCUSDT", -1.0, 95.0)
    (out,) = PatternConfluence(confirm_timeframes=[]).on_bar(context(bars, position=short))
    assert out.exit and out.side is Side.BUY and "against the position" in out.reason


# --- every strategy on real candles and on a synthetic tour ---------------------------------


def tour() -> Columns:
    """1220 hours through a range, a rally, a range, a slide, a wild stretch and a range."""
    pieces = [choppy(300, seed=3)]
    for piece in (walk(250, drift=0.003, noise=0.006, seed=4), choppy(150, seed=5), walk(120, drift=-0.004, noise=0.008, seed=6),
                  walk(200, noise=0.02, seed=8), choppy(200, seed=9)):
        pieces.append(pieces[-1][-1] / piece[0] * piece)
    close = np.concatenate(pieces)
    volume = 100 * np.exp(0.5 * np.random.default_rng(7).standard_normal(len(close)))
    return candles(close, volume=volume, wick=0.003)


@pytest.fixture(scope="module")
def real() -> dict[str, Columns]:
    return frames(real_hourly(data_file(REAL_CANDLES)))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_on_a_month_of_real_btc_candles(real: dict[str, Columns], name: str) -> None:
    strategy = create(name, **with_shorts(name))
    signals = replay(strategy, real, preload=True)
    assert any(signals), f"{name} never fired in a month of hourly BTC"
    for i, bar in enumerate(signals):
        for s in bar:
            assert s.strategy == name and s.symbol == "BTCUSDT"
            if not s.exit:
                check_side(s, float(real["1h"]["close"][i]))
                assert i + 1 >= strategy.warmup()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_no_strategy_looks_ahead(name: str) -> None:
    """Signals bar by bar on the bars so far (appended live) equal those with 500 more bars
    preloaded but hidden — on the synthetic tour, where every strategy fires."""
    data = frames(tour())
    compared = len(data["1h"]["time"]) - 500
    live = replay(create(name, **with_shorts(name)), data, preload=False, bars=compared)
    hidden = replay(create(name, **with_shorts(name)), data, preload=True, bars=compared)
    assert any(live), f"{name} never fired on the tour, so the comparison proves nothing"
    assert live == hidden


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_no_strategy_looks_ahead_on_real_candles(real: dict[str, Columns], name: str) -> None:
    compared = len(real["1h"]["time"]) - 500
    live = replay(create(name, **with_shorts(name)), real, preload=False, bars=compared)
    hidden = replay(create(name, **with_shorts(name)), real, preload=True, bars=compared)
    assert live == hidden


# --- the selector ---------------------------------------------------------------------------


def signal(strategy: str, side: Side = Side.BUY, confidence: float = 0.8, *, symbol: str = "BTCUSDT", exit: bool = False,
           tag: str = "") -> Signal:
    return Signal(symbol, side, strategy, confidence, f"{strategy} says so", stop=None if exit else 90.0, exit=exit, tag=tag)


def selector() -> Selector:
    return Selector([create(name) for name in STRATEGIES])


def test_active_strategies_follow_the_regime_by_priority() -> None:
    chosen = selector()
    assert [s.name for s in chosen.active(Regime.TRENDING_UP)] == ["trend", "pattern", "breakout"]
    assert [s.name for s in chosen.active(Regime.RANGING)] == ["mean_reversion", "channel", "dca_grid"]
    assert [s.name for s in chosen.active(Regime.VOLATILE)] == ["dca_grid", "reversal"]
    assert [s.name for s in chosen.active(Regime.BREAKOUT)] == ["breakout", "trend"]
    assert chosen.active(Regime.UNKNOWN) == []
    only_two = Selector([create("trend"), create("breakout")])
    assert [s.name for s in only_two.active(Regime.TRENDING_DOWN)] == ["trend", "breakout"]


def test_the_default_selection_matches_each_strategys_regimes() -> None:
    config = SelectorConfig()
    for name, cls in STRATEGIES.items():
        assert {r for r in Regime if name in config.weights(r)} == set(cls.regimes), name


def test_the_highest_weighted_confidence_wins_and_carries_its_weight() -> None:
    # trending_up weights: trend 1.0, pattern 0.8, breakout 0.7
    out = selector().decide([signal("pattern", confidence=0.9), signal("trend", confidence=0.7), signal("breakout", confidence=1.0)],
                            Regime.TRENDING_UP)
    assert [(s.strategy, s.confidence) for s in out.accepted] == [("pattern", pytest.approx(0.72))]
    assert [(s.strategy, why) for s, why in out.rejected] == [
        ("trend", "pattern wins with weighted confidence 0.72 over 0.70"),
        ("breakout", "pattern wins with weighted confidence 0.72 over 0.70"),
    ]


def test_opposing_entries_cancel_and_exits_always_pass() -> None:
    chosen = selector()
    batch = [signal("trend"), signal("pattern", Side.SELL), signal("breakout", Side.SELL, exit=True, symbol="ETHUSDT"),
             signal("breakout", confidence=0.5, symbol="ETHUSDT")]
    out = chosen.decide(batch, Regime.TRENDING_UP)
    assert out.accepted == [batch[2]]  # the exit, untouched
    reasons = dict((s.strategy + s.symbol, why) for s, why in out.rejected)
    assert reasons["trendBTCUSDT"] == reasons["patternBTCUSDT"] == "opposing entries cancel: buy from trend vs sell from pattern"
    assert reasons["breakoutETHUSDT"] == "an exit on the same bar closes the buy position this entry would add to"
    assert chosen.resolve([signal("reversal", exit=True)], Regime.UNKNOWN) == [signal("reversal", exit=True)]


def test_a_winning_grid_passes_with_all_its_levels() -> None:
    levels = [signal("dca_grid", confidence=0.7, tag=f"level-{k}") for k in range(1, 6)]
    out = selector().resolve([signal("channel", confidence=0.6), *levels], Regime.RANGING)
    assert [s.tag for s in out] == [f"level-{k}" for k in range(1, 6)]
    assert all(s.confidence == pytest.approx(0.56) for s in out)  # 0.7 × 0.8 beats 0.6 × 0.9


def test_a_strategy_outside_its_regime_is_dropped_saying_why() -> None:
    out = selector().decide([signal("trend")], Regime.RANGING)
    assert out.accepted == [] and out.rejected[0][1] == "trend does not trade in the ranging regime"


def test_selector_config_is_checked() -> None:
    with pytest.raises(InvalidArgumentError, match=r"selector: ranging.channel = 1.5: a weight must be within 0..1"):
        SelectorConfig(ranging={"channel": 1.5})
    with pytest.raises(InvalidArgumentError, match=r"unknown parameter 'sideways'"):
        SelectorConfig(sideways={})
    with pytest.raises(InvalidArgumentError, match=r"selector.volatile: unknown strategies \['revesal'\]"):
        Selector([create("trend")], SelectorConfig(volatile={"revesal": 0.5}))
    with pytest.raises(InvalidArgumentError, match="two strategies named 'trend'"):
        Selector([create("trend"), create("trend")])
    custom = Selector([create("trend")], SelectorConfig(unknown={"trend": 0.3}))
    assert [s.name for s in custom.active(Regime.UNKNOWN)] == ["trend"]


def test_strategies_read_only_the_context() -> None:
    strategy: Strategy = create("trend")
    bars = bars_of("1h", candles(UP))
    before = bars.close.copy()
    strategy.on_bar(context({"1h": bars}))
    assert np.array_equal(bars.close, before) and len(bars) == len(UP)


@st.composite
def signal_batches(draw: st.DrawFn) -> list[Signal]:
    names = sorted(STRATEGIES)
    batch = []
    for _ in range(draw(st.integers(0, 12))):
        batch.append(signal(
            draw(st.sampled_from(names)), draw(st.sampled_from(list(Side))), draw(st.floats(0.0, 1.0)),
            symbol=draw(st.sampled_from(["BTCUSDT", "ETHUSDT"])), exit=draw(st.booleans()), tag=draw(st.sampled_from(["", "level-1", "level-2"])),
        ))
    return batch


@given(batch=signal_batches(), regime=st.sampled_from(list(Regime)))
@settings(max_examples=200, deadline=None)
def test_resolution_rules_hold_for_any_batch(batch: list[Signal], regime: Regime) -> None:
    chosen = selector()
    out = chosen.decide(batch, regime)
    assert len(out.accepted) + len(out.rejected) == len(batch)  # every signal is accounted for
    assert [s for s in batch if s.exit] == [s for s in out.accepted if s.exit]  # exits pass untouched
    for symbol in ("BTCUSDT", "ETHUSDT"):
        taken = [s for s in out.accepted if s.symbol == symbol and not s.exit]
        assert len({s.side for s in taken}) <= 1 and len({s.strategy for s in taken}) <= 1
        exits = {s.side for s in batch if s.symbol == symbol and s.exit}
        candidates = [replace(s, confidence=s.confidence * chosen.weight(s.strategy, regime)) for s in batch
                      if s.symbol == symbol and not s.exit and chosen.weight(s.strategy, regime) > 0 and s.side.opposite not in exits]
        assert all(s in candidates for s in taken)
        if taken:  # the winner had the highest weighted confidence
            assert max(s.confidence for s in taken) == max(s.confidence for s in candidates)
        elif candidates:  # nothing taken: they must have disagreed
            assert len({s.side for s in candidates}) == 2
    assert all(why for _, why in out.rejected)
