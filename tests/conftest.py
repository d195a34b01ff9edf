"""Shared fixtures: the real market data in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRADECORE_DATA", ROOT.parent / "shared" / "data"))

BINANCE_FILES = {
    "usdm_btcusdt_20240808.gz": "binance-usdm",
    "cm_btcusd_perp_20240808.gz": "binance-coinm",
    "spot_btcusdt_20240808.gz": "binance-spot",
}
BYBIT_FILE = "bybit/xrpusdt-ob500.data.zip"


def data_file(relative: str) -> Path:
    """A file of the shared real data, or skip the test saying what is missing."""
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"real market data not found at {path} (set TRADECORE_DATA to its folder)")
    return path


def start_sim_cli(path: Path, *options: str) -> tuple[subprocess.Popen[str], str, str, str]:
    """Starts `tradecore sim --recording PATH OPTIONS...` in a subprocess and reads what it prints up
    to "Ctrl-C": returns the process, that text, the websocket URL and the REST API URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tradecore.cli", "sim", "--recording", str(path), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("Ctrl-C"):
            break
    text = "".join(printed)
    words = text.split()
    ws_url = next((w for w in words if w.startswith("ws://") and w.endswith("/stream")), None)
    api_url = next((w for w in words if w.startswith("http://")), None)
    if ws_url is None or api_url is None:
        process.kill()
        raise AssertionError(f"tradecore sim did not start: {text}{process.stderr.read() if process.stderr else ''}")
    return process, text, ws_url, api_url
