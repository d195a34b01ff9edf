"""Reading recordings: one message per line, ``<receive_ts_ns> <raw message>`` (or bare JSON),
gzip-compressed, zipped (one member) or plain — recognised by their first bytes, not their name.

Recordings are read in chunks of whole lines so memory stays bounded however long they are.
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tradecore.errors import RecordingError

log = logging.getLogger("tradecore.recording")

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


def _gunzip(raw: IO[bytes], block: int) -> Iterator[bytes]:
    """Decompresses gzip members one after another, like GzipFile, except that a stream cut short
    (a recorder killed mid-write; it sync-flushes every second) ends with the last decodable byte
    instead of losing the whole last block to an error."""
    inflate = zlib.decompressobj(wbits=31)
    started = False  # has the current member received any input?
    while data := raw.read(block):
        while data:
            if not started:
                data = data.lstrip(b"\0")  # zero padding between or after members, as GzipFile allows
                if not data:
                    break
                started = True
            if out := inflate.decompress(data):
                yield out
            if not inflate.eof:
                break
            data = inflate.unused_data
            inflate, started = zlib.decompressobj(wbits=31), False
    if started:
        if out := inflate.flush():
            yield out
        log.warning("%s ends before its gzip end marker (a recorder stopped mid-write?): "
                    "read up to the last complete line", getattr(raw, "name", "recording"))


def _blocks(path: Path, raw: IO[bytes], block: int) -> Iterator[bytes]:
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        yield from _gunzip(raw, block)
        return
    if magic == _ZIP_MAGIC:
        archive = zipfile.ZipFile(raw)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members) or "none"
            raise RecordingError(f"{path}: a zipped recording must hold exactly one file, found {names}")
        with archive.open(members[0]) as member:
            while data := member.read(block):
                yield data
        return
    while data := raw.read(block):
        yield data


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
    with path.open("rb") as raw:
        pending = b""
        line = 1
        blocks = _blocks(path, raw, chunk_bytes)
        while True:
            try:
                block = next(blocks, b"")
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
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
