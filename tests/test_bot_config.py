"""The bot's TOML configuration: validated at start, errors name the key, no secrets in files;
and the trading commands of the command line (demo, backtest, run) end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradecore import config as bot_config
from tradecore import demo
from tradecore.bot import with_params
from tradecore.errors import ConfigError

from conftest import start_sim_cli


def test_the_demo_configurations_are_valid_and_complete() -> None:
    backtest = bot_config.parse(demo.BACKTEST_CONFIG.format(candles="x.csv"))
    assert set(backtest.enabled_strategies()) == {"trend", "mean_reversion", "breakout", "pattern", "dca_grid", "channel", "reversal"}
    paper = bot_config.parse(demo.PAPER_CONFIG.format(ws_url="ws://127.0.0.1:1/stream", rest_url="http://127.0.0.1:1"))
    assert paper.bot.base_timeframe == "1s" and paper.paper.slippage.model == "book"


def test_defaults_are_paper_trading_with_the_documented_risk_limits() -> None:
    config = bot_config.parse("")
    assert config.bot.live is False
    assert config.risk.risk_per_trade == 0.02 and config.risk.max_drawdown == 0.15
    assert config.paper.fees.taker == 0.001


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[risk]\nmax_drawdown = 2\n", "risk.max_drawdown"),
        ("[risk]\nmax_drawdwn = 0.1\n", "risk.max_drawdwn"),
        ("[bot]\nvenue = 'kraken'\n", "bot.venue"),
        ("[bot]\ncash = -5\n", "bot.cash"),
        ("[strategies.trnd]\n", "trnd"),
        ("[strategies.trend]\nadx_min = 'high'\n", "adx_min"),
        ("[strategies.trend]\nema_fst = 5\n", "ema_fst"),
        ("[paper.slippage]\nmodel = 'magic'\n", "paper.slippage.model"),
        ("[data]\nsource = 'candles'\n", "candles"),
        ("[bot\nname = 1\n", "not valid TOML"),
    ],
)
def test_a_bad_key_or_value_is_refused_naming_it(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_config.parse(text, source="bot.toml")
    assert named in str(caught.value) and "bot.toml" in str(caught.value)


@pytest.mark.parametrize("key", ["api_key", "secret", "API_SECRET", "telegram_token"])
def test_secrets_never_live_in_the_file(key: str) -> None:
    with pytest.raises(ConfigError, match="environment"):
        bot_config.parse(f"[live]\n{key} = 'abc123'\n")
    # ...only the names of the environment variables that hold them
    assert bot_config.parse("[live]\napi_key_env = 'MY_KEY'\n").live.api_key_env == "MY_KEY"


def test_secrets_come_from_the_environment_and_their_absence_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADECORE_TEST_SECRET", "s3cr3t")
    assert bot_config.secret("TRADECORE_TEST_SECRET") == "s3cr3t"
    monkeypatch.delenv("TRADECORE_TEST_SECRET")
    with pytest.raises(ConfigError, match="TRADECORE_TEST_SECRET is not set") as caught:
        bot_config.secret("TRADECORE_TEST_SECRET")
    assert "s3cr3t" not in str(caught.value)


def test_walk_forward_overrides_name_real_parameters() -> None:
    config = bot_config.parse("[strategies.trend]\n")
    assert with_params(config, {"trend.adx_min": 30, "risk.risk_per_trade": 0.01}).strategies["trend"]["adx_min"] == 30
    with pytest.raises(ConfigError, match="neither an enabled strategy"):
        with_params(config, {"breakout.lookback": 10})
    with pytest.raises(ConfigError, match="adx_min"):
        with_params(config, {"trend.adx_min": "x"})


# --- the commands -----------------------------------------------------------------------------------
def tradecore(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradecore.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_tradecore_demo_runs_the_whole_pipeline_and_writes_its_reports(tmp_path: Path) -> None:
    done = tradecore("demo", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for name in ("demo-backtest", "demo-paper"):
        html = (tmp_path / f"{name}.html").read_text()
        assert "<script src=" not in html and "Plotly" in html
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["metrics"]["n_trades"] > 0, f"{name}: the demo should trade"
        assert (tmp_path / f"{name}.toml").is_file()
    assert "demo-backtest.html" in done.stdout and "demo-paper.html" in done.stdout
    paper = json.loads((tmp_path / "demo-paper.json").read_text())
    assert paper["meta"]["feed"]["resyncs"] == 0 and paper["meta"]["feed"]["frames"] > 20_000


def test_tradecore_backtest_reports_and_refuses_a_bad_configuration(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(demo.BACKTEST_CONFIG.format(candles=demo.CANDLES.as_posix()) + "[walk_forward]\n"
                      'train_bars = 20160\ntest_bars = 10080\ngrid = { "trend.adx_min" = [20, 30] }\n')
    done = tradecore("backtest", "--config", str(config), "--out", str(tmp_path / "out"), "--walk-forward", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "walk-forward" in done.stdout and "total return" in done.stdout
    report = json.loads((tmp_path / "out" / "backtest.json").read_text())
    assert len(report["walk_forward"]["windows"]) == 3
    config.write_text("[risk]\nmax_drawdown = 7\n")
    bad = tradecore("backtest", "--config", str(config))
    assert bad.returncode == 1 and "risk.max_drawdown" in bad.stderr and "Traceback" not in bad.stderr


def test_tradecore_run_paper_trades_on_the_local_exchange_and_refuses_live(tmp_path: Path) -> None:
    process, _, ws_url, api_url = start_sim_cli(demo.RECORDING, "--venue", "binance-usdm", "--speed", "0")
    try:
        config = tmp_path / "bot.toml"
        config.write_text(demo.PAPER_CONFIG.format(ws_url=ws_url, rest_url=api_url.removesuffix("/fapi/v1")))
        done = tradecore("run", "--config", str(config), "--duration", "8", "--out", str(tmp_path / "out"))
        assert done.returncode == 0, done.stderr
        assert "fill" in done.stdout and "decision(s)" in done.stdout
        report = json.loads((tmp_path / "out" / "run.json").read_text())
        assert report["metrics"]["n_trades"] > 0
        refused = tradecore("run", "--config", str(config), "--live")
        assert refused.returncode == 1 and "paper only" in refused.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_backtest_reads_its_bars_from_the_store_that_download_fills(tmp_path: Path) -> None:
    import pyarrow as pa

    from tradecore.bot import backtest, read_candles
    from tradecore.data.store import Store

    cols = read_candles(demo.CANDLES)
    table = pa.table({"open_time": pa.array(cols["time"], pa.timestamp("ms", tz="UTC")),
                      **{k: cols[k] for k in ("open", "high", "low", "close", "volume")}})
    Store(tmp_path / "store").append_candles("binance", "BTCUSDT", "1m", table)
    text = demo.BACKTEST_CONFIG.format(candles=(tmp_path / "store").as_posix())
    ranged = text.replace("[data]\n", '[data]\nsince = "2022-01-05"\nuntil = "2022-01-25T12:00"\n')
    from_store = backtest(bot_config.parse(ranged))
    from_file = backtest(bot_config.parse(demo.BACKTEST_CONFIG.format(candles=demo.CANDLES.as_posix())))
    t = from_store.candles["time"]
    assert t[0] == 1641340800000 and t[-1] == 1643112000000 - 60_000
    assert from_file.candles["time"][0] < t[0]
    missing = text.replace('symbols = ["BTCUSDT"]', 'symbols = ["ETHUSDT"]')
    with pytest.raises(ConfigError, match="tradecore download --exchange binance --symbols ETHUSDT"):
        backtest(bot_config.parse(missing))
