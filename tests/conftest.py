"""Shared fixtures: the real market data in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
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
