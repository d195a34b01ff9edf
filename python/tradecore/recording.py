"""Reading recordings: one message per line, ``<receive_ts_ns> <raw message>`` (or bare JSON),
gzip-compressed, zipped (one member) or plain — recognised by their first bytes, not their name.

Recordings are read in chunks of whole lines so memory stays bounded however long they are.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from tradecore.errors import RecordingError

CHUNK_BYTES = 8 << 20
#: Bad lines whose details a replay keeps (all are counted); the Rust core keeps as many per chunk.
ERROR_DETAILS = 1000
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Chunk:
    """Complete lines of a recording; ``first_line`` numbers the first of them (1-based)."""

    data: bytes
    first_line: int


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The decompressed stream and the raw file beneath it (whose position measures progress)."""
    raw = path.open("rb")
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    if magic == _ZIP_MAGIC:
        archive = zipfile.ZipFile(raw)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members) or "none"
            raise RecordingError(f"{path}: a zipped recording must hold exactly one file, found {names}")
        return archive.open(members[0]), raw
    return raw, raw


def chunks(
    path: str | Path,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Chunk]:
    """Yields the recording at ``path`` as chunks of complete lines.

    ``on_progress`` receives how many bytes of the file (compressed) have been read so far.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: no such recording")
    stream, raw = _open(path)
    with raw, stream:
        pending = b""
        line = 1
        while True:
            try:
                block = stream.read(chunk_bytes)
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise RecordingError(f"{path}: cannot be decompressed after line {line}: {exc}") from exc
            if on_progress is not None:
                on_progress(raw.tell())
            if not block:
                break
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending = data
                continue
            complete, pending = data[:cut], data[cut:]
            yield Chunk(complete, line)
            line += complete.count(b"\n")
        if pending.strip():
            # The last line has no newline (a recorder stopped mid-write, or a hand-made file).
            yield Chunk(pending, line)
        if on_progress is not None:
            on_progress(size(path))


def size(path: str | Path) -> int:
    """Size of the recording file in bytes (compressed), for progress bars."""
    try:
        return Path(path).stat().st_size
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such recording") from None
