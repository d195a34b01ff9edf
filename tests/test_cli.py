"""The command line: tradecore book / candles on real recordings and on broken ones."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import BYBIT_FILE, data_file
from tradecore.cli import main

USDM = "binance/usdm_btcusdt_20240808.gz"


def lines_of(name: str) -> list[bytes]:
    with gzip.open(data_file(name), "rb") as f:
        return f.read().splitlines(keepends=True)


def write(path: Path, lines: list[bytes], compress: bool = True) -> Path:
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_book_writes_one_row_per_depth_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "book.parquet"
    assert main(["book", str(data_file(USDM)), "--venue", "binance-usdm", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.column_names[:7] == ["recv_ts_ns", "update_id", "status", "bid_px", "bid_qty", "ask_px", "ask_qty"]
    statuses = table.column("status").to_pylist()
    assert statuses.count("snapshot") == 1 and statuses.count("gap") == 0
    assert len(statuses) == 6552 and "ignored" not in statuses
    # Null while unsynced (the diffs before the snapshot), filled afterwards.
    first_synced = statuses.index("snapshot")
    assert table.column("bid_px")[: first_synced].null_count == first_synced
    assert table.column("bid_px")[first_synced:].null_count == 0
    assert pq.read_metadata(out).metadata[b"tradecore.symbol"] == b"BTCUSDT"
    printed = capsys.readouterr().out
    assert "applied" in printed and "level updates" in printed and "final book" in printed


def test_book_on_bybit_zip(tmp_path: Path) -> None:
    out = tmp_path / "bybit.parquet"
    assert main(["book", str(data_file(BYBIT_FILE)), "--venue", "bybit", "--out", str(out)]) == 0
    statuses = pq.read_table(out).column("status").to_pylist()
    assert statuses[0] == "snapshot" and set(statuses[1:]) == {"applied"}


def test_no_snapshot_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for line in lines_of(USDM) if b"lastUpdateId" not in line]
    path = write(tmp_path / "no_snapshot.gz", lines)
    assert main(["book", str(path), "--venue", "binance-usdm", "--out", str(tmp_path / "o.parquet")]) == 1
    assert "no usable depth snapshot" in capsys.readouterr().err


def test_unhealed_gap_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = lines_of(USDM)
    diffs = [i for i, line in enumerate(lines) if b"depthUpdate" in line[:120]]
    del lines[diffs[3000]]
    path = write(tmp_path / "gap.txt", lines, compress=False)  # plain text works too
    assert main(["book", str(path), "--venue", "binance-usdm", "--out", str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert "out of sync" in err and "gap after update id" in err
    statuses = pq.read_table(tmp_path / "o.parquet").column("status").to_pylist()
    assert statuses.count("gap") == 1


def test_corrupt_lines_are_skipped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = lines_of(USDM)
    lines.insert(500, b"1723161255030314667 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUp\n")
    lines.append(b"1723161255030314667 {\"truncated")  # a recorder killed mid-line
    path = write(tmp_path / "corrupt.gz", lines)
    out = tmp_path / "o.parquet"
    assert main(["book", str(path), "--venue", "binance-usdm", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 bad line(s)" in err and "line 501:" in err
    assert main(["book", str(path), "--venue", "binance-usdm", "--out", str(out), "--strict"]) == 1
    assert "line 501" in capsys.readouterr().err


def test_wrong_venue_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for venue in ("binance-spot", "binance-coinm", "bybit"):
        assert main(["book", str(data_file(USDM)), "--venue", venue, "--out", str(tmp_path / "o.parquet")]) == 1
        err = capsys.readouterr().err
        assert "is the venue right?" in err
        assert "message of another venue" in err or "no depth message of bybit" in err


def test_candles_writes_one_file_per_timeframe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "candles"
    assert main(["candles", str(data_file(USDM)), "--timeframes", "1m,5m,15m,1h,4h,1d", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"BTCUSDT-{tf}.parquet" for tf in ("1m", "5m", "15m", "1h", "4h", "1d"))
    minute = pq.read_table(out / "BTCUSDT-1m.parquet")
    trade_times = [int(line.split(b'"T":')[1].split(b",")[0]) for line in lines_of(USDM) if b'@trade"' in line[:80]]
    assert minute.num_rows == trade_times[-1] // 60_000 - trade_times[0] // 60_000 + 1
    assert sum(minute.column("trades").to_pylist()) == len(trade_times) == 21313
    assert "21,313 trades" in capsys.readouterr().out


def test_candles_of_a_file_without_trades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = data_file(BYBIT_FILE)
    copy = tmp_path / "book_only.zip"
    shutil.copy(src, copy)
    assert main(["candles", str(copy), "--out", str(tmp_path / "c")]) == 1
    assert "has no trades" in capsys.readouterr().err


def test_usage_errors_and_the_installed_command(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tradecore.cli", "book", str(tmp_path / "missing.gz"), "--venue", "bybit", "--out",
         str(tmp_path / "o.parquet")],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 1 and "no such recording" in run.stderr
    run = subprocess.run([sys.executable, "-m", "tradecore.cli", "book", "x", "--venue", "kraken", "--out", "o"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and "invalid choice" in run.stderr
    tradecore_bin = shutil.which("tradecore", path=str(Path(sys.executable).parent))
    assert tradecore_bin, "the tradecore command is installed next to the interpreter"
    run = subprocess.run([tradecore_bin, "--version"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.startswith("tradecore ")
