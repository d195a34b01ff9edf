"""The package as a whole: stubs match the extension, panics stay exceptions, batch work
releases the GIL, and the README, CI script and benchmark stay runnable."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import _core

ROOT = Path(__file__).resolve().parents[1]


def test_stubs_match_the_built_module() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "tradecore._core"],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_package_is_typed_and_versioned() -> None:
    assert resources.files("tradecore").joinpath("py.typed").is_file()
    assert resources.files("tradecore").joinpath("_core.pyi").is_file()
    assert tradecore.__version__ == metadata.version("tradecore")


def test_a_rust_panic_is_a_python_exception_not_an_abort() -> None:
    with pytest.raises(BaseException) as caught:
        _core._debug_panic("boom")
    assert type(caught.value).__name__ == "PanicException" and "boom" in str(caught.value)
    # The interpreter is fine afterwards.
    assert tradecore.OrderBook("bybit", "BTCUSDT").synced is False


def _runs_concurrently(work) -> bool:
    """Whether a Python thread makes progress while `work` runs."""
    counter = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.05)
    before = counter
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    during = counter - before
    stop.set()
    thread.join()
    assert elapsed > 0.05, "the work must be long enough to tell"
    return during > 10_000


def test_batch_work_releases_the_gil() -> None:
    n = 20_000_000
    ts = np.arange(n, dtype=np.int64) * 10 + 1_700_000_000_000
    px, qty, buy = np.ones(n), np.ones(n), np.zeros(n, dtype=bool)
    assert _runs_concurrently(lambda: tradecore.CandleAggregator(["1m", "1h"]).push_arrays(ts, px, qty, buy))

    line = b'1 {"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":1,"b":[["1.0","1"]],"a":[]}\n'
    data = line * 600_000
    assert _runs_concurrently(lambda: tradecore.OrderBook("binance-spot", "BTCUSDT").replay(data))

    from tradecore import patterns

    bars = 300_000
    close = 100 + np.sin(np.arange(bars) / 7.0) * 5
    assert _runs_concurrently(lambda: patterns.detect(close, close + 1, close - 1, close))


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README.md marks its test command with <!-- test-command -->"
    return block.group(1).strip()


def test_ci_runs_the_readmes_test_command() -> None:
    command = readme_test_command()
    assert "cargo test" in command and "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci, ".ci/run takes the command from the README, so they cannot drift"
    # The README opens with the install command and the main job.
    first = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[0].splitlines()
    assert first == ["pip install .", "tradecore demo"]


def test_the_benchmark_script_runs(tmp_path: Path) -> None:
    from conftest import data_file

    data_file("binance/usdm_btcusdt_20240808.gz")
    run = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "foundation.py"), "--quick"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "| order book | tradecore OrderBook.replay, one batch call |" in run.stdout
    assert "| candles | polars group_by_dynamic |" in run.stdout


def test_the_pattern_benchmark_runs(tmp_path: Path) -> None:
    from conftest import data_file

    data_file("candles/btcperp_20211231_20220201_1m.csv.gz")
    run = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "patterns.py"), "--quick"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "| batch, all 61 | TA-Lib, 61 CDL* calls |" in run.stdout
    assert "| live, one new bar | tradecore PatternEngine.push |" in run.stdout


def test_the_feed_benchmark_runs(tmp_path: Path) -> None:
    from conftest import data_file

    path = data_file("binance/cm_btcusd_perp_20240808.gz")  # the smaller futures recording
    run = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "feed.py"), "--runs", "1", "--file", str(path)],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "| tradecore LiveFeed (Rust Feed) |" in run.stdout
    assert "| json.loads + dicts, max()/min() per diff |" in run.stdout


def test_the_package_type_checks_strictly() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["cargo", "fmt", "--all", "--check"],
        ["cargo", "clippy", "--workspace", "--all-targets", "--features", "python", "--quiet", "--", "-D", "warnings"],
    ],
    ids=["rustfmt", "clippy"],
)
def test_rust_code_is_formatted_and_lint_free(command: list[str]) -> None:
    run = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_merge_conflict_is_left_in_the_sources() -> None:
    """A merge resolved by hand must not leave its markers behind (one once reached the README)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
    left = [name for name in tracked if (ROOT / name).suffix in {".md", ".py", ".rs", ".toml", ".pyi", ".yml", ""}
            and (ROOT / name).is_file() and marker.search((ROOT / name).read_text(errors="replace"))]
    assert left == []


def test_the_trading_engine_benchmark_runs(tmp_path: Path) -> None:
    from conftest import data_file

    data_file("candles/btcperp_20211231_20220201_1m.csv.gz")
    run = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "backtest.py"), "--runs", "1", "--no-freqtrade"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "| tradecore                    |" in run.stdout
    assert "| tick -> order submitted" in run.stdout
