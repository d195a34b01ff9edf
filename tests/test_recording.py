"""Reading recordings: gzip, zip and plain files, in chunks of whole lines."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from tradecore import RecordingError, recording

LINES = [f"{1000 + i} {{\"n\":{i}}}\n".encode() for i in range(500)]


@pytest.fixture(params=["plain", "gzip", "zip"])
def recorded(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    data = b"".join(LINES)
    path = tmp_path / "rec.bin"  # the format is recognised by content, not by name
    if request.param == "gzip":
        path.write_bytes(gzip.compress(data))
    elif request.param == "zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("inner.data", data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("chunk_bytes", [7, 100, 1 << 20])
def test_chunks_are_whole_lines_with_their_numbers(recorded: Path, chunk_bytes: int) -> None:
    seen: list[tuple[int, bytes]] = []
    progress: list[int] = []
    for chunk in recording.chunks(recorded, chunk_bytes=chunk_bytes, on_progress=progress.append):
        lines = chunk.data.splitlines(keepends=True)
        assert all(line.endswith(b"\n") for line in lines)
        seen.extend(enumerate(lines, start=chunk.first_line))
    assert seen == list(enumerate(LINES, start=1))
    assert progress[-1] == recorded.stat().st_size


def test_a_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r"
    path.write_bytes(b"1 {}\n2 {\"cut\"")
    chunks = list(recording.chunks(path))
    assert [(c.first_line, c.data) for c in chunks] == [(1, b"1 {}\n"), (2, b'2 {"cut"')]


def test_unreadable_recordings(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording"):
        list(recording.chunks(tmp_path / "missing"))
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a", "1 {}\n")
        z.writestr("b", "2 {}\n")
    with pytest.raises(RecordingError, match="exactly one file"):
        list(recording.chunks(two))
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(gzip.compress(b"1 {}\n" * 1000)[:30] + b"not deflate data" * 10)
    with pytest.raises(RecordingError, match="cannot be decompressed"):
        list(recording.chunks(corrupt))


def test_a_recording_cut_short_keeps_every_complete_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A recorder killed mid-write leaves no gzip end marker: what it flushed is still read."""
    cut = tmp_path / "cut.gz"
    with cut.open("wb") as raw:
        writer = gzip.GzipFile(fileobj=raw, mode="wb")
        writer.write(b"".join(b"%d {}\n" % i for i in range(5000)))
        writer.flush()  # what the recorder does every second
        end = raw.tell()
        writer.write(b"5000 {} and more")
    cut.write_bytes(cut.read_bytes()[:end])
    with caplog.at_level("WARNING", logger="tradecore.recording"):
        lines = b"".join(c.data for c in recording.chunks(cut, chunk_bytes=4096)).splitlines()
    assert lines == [b"%d {}" % i for i in range(5000)]
    assert "ends before its gzip end marker" in caplog.text
