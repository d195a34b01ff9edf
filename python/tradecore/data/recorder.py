"""Recording raw market data in the recording format (``<recv_ts_ns> <raw message>`` per line,
gzip): one file per symbol and UTC hour, ``<venue>_<symbol>_<YYYYMMDD>T<HH>.gz``, so each file
replays on its own through ``tradecore book``, ``tradecore candles`` and the engine exactly like
the files in ``../shared/data/binance/``.

A new hour's file must start from a book: the recorder asks for a fresh REST snapshot when it
opens one (``on_rotate``), which the feed records into it. The gzip stream is sync-flushed every
``flush_s`` seconds, so a recorder that is killed loses at most that much.
"""

from __future__ import annotations

import gzip
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

#: Frames no symbol could be told for (malformed ones) go to this file name's symbol slot.
UNROUTED = "unrouted"


class Recorder:
    """Writes frames handed to :meth:`write` (the :class:`~tradecore.data.feed.LiveFeed` tap)."""

    def __init__(
        self,
        out: str | Path,
        venue: str,
        *,
        rotate_s: int = 3600,
        flush_s: float = 1.0,
        on_rotate: Callable[[str], None] | None = None,
    ) -> None:
        if rotate_s <= 0 or 3600 % rotate_s and rotate_s % 3600:
            raise ValueError(f"rotate_s must divide an hour or be whole hours, got {rotate_s}")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.venue = venue
        self.rotate_ns = rotate_s * 1_000_000_000
        self.flush_s = flush_s
        self.on_rotate = on_rotate
        self.files: list[Path] = []
        self.lines: Counter[Path] = Counter()
        self._open: dict[str, tuple[int, Path, gzip.GzipFile]] = {}
        self._last_flush = time.monotonic()

    def write(self, recv_ns: int, raw: str | bytes, symbol: str | None) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        if b"\n" in data:
            # Only possible as JSON whitespace (a string cannot hold a raw newline): one line per message.
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        slot = symbol or UNROUTED
        period = recv_ns // self.rotate_ns
        current = self._open.get(slot)
        if current is None or current[0] != period:
            current = self._rotate(slot, period, recv_ns)
        _, path, stream = current
        stream.write(b"%d %s\n" % (recv_ns, data))
        self.lines[path] += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_s:
            self.flush()
            self._last_flush = now

    def _rotate(self, slot: str, period: int, recv_ns: int) -> tuple[int, Path, gzip.GzipFile]:
        old = self._open.pop(slot, None)
        if old is not None:
            old[2].close()
        stamp = datetime.fromtimestamp(recv_ns / 1e9, UTC).strftime("%Y%m%dT%H%M" if self.rotate_ns < 3600e9 else "%Y%m%dT%H")
        base = f"{self.venue}_{slot.lower()}_{stamp}"
        path = self.out / f"{base}.gz"
        n = 1
        while path.exists() or path in self.files:
            path = self.out / f"{base}-{n}.gz"  # a restart within the hour: never overwrite
            n += 1
        stream = gzip.open(path, "wb", compresslevel=6)
        self.files.append(path)
        self._open[slot] = (period, path, stream)
        if old is not None and self.on_rotate is not None and slot != UNROUTED:
            self.on_rotate(slot)
        return self._open[slot]

    def flush(self) -> None:
        for _, _, stream in self._open.values():
            stream.flush()  # GzipFile flushes with Z_SYNC_FLUSH: decodable up to here

    def close(self) -> list[Path]:
        for _, _, stream in self._open.values():
            stream.close()
        self._open.clear()
        return list(self.files)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
