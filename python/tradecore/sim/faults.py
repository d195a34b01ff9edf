"""Fault injection for the local exchange: a plan of faults, mutable while the server runs, and the
count of every fault actually injected (so tests can assert on what a client should have seen).

A fault is written ``KIND@N[xCOUNT][:ARG][:every]``:

========================  ==============================================================
``drop-connection@N``     abort the TCP connection right after market message N
``drop@N[xK]``            do not send messages N .. N+K-1
``duplicate@N[xK]``       send each of messages N .. N+K-1 twice
``reorder@N``             swap message N with message N+1
``delay@N:SECONDS``       hold message N (and so everything after it) for SECONDS
``gap@N[xK]``             skip the first K depth messages from message N on (a sequence gap)
``malformed@N[:VARIANT]`` replace message N by a broken frame: ``truncated`` (cut JSON,
                          default), ``text`` (not JSON at all) or ``types`` (valid JSON whose
                          fields have the wrong types)
``rest-503@N[xK]``        answer REST requests N .. N+K-1 (counted over the server) with 503
``rate-limit@W[:SECONDS]`` allow W request weight per window of SECONDS (default 60); beyond
                          it HTTP 429 with Retry-After, and 418 with Retry-After for requests
                          made during that back-off
========================  ==============================================================

N counts the market messages sent on one websocket connection (1-based; replies to subscribe
requests do not count). A websocket fault fires on the first connection that reaches it;
``:every`` makes it fire on every connection (so a reconnecting client meets it again).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tradecore.errors import TradecoreError

WS_KINDS: Final = ("drop-connection", "drop", "duplicate", "reorder", "delay", "gap", "malformed")
REST_KINDS: Final = ("rest-503", "rate-limit")
KINDS: Final = WS_KINDS + REST_KINDS
MALFORMED_VARIANTS: Final = ("truncated", "text", "types")
#: What a 429/418 answer counts as in :attr:`FaultPlan.injected`.
RATE_LIMITED, BANNED = "rate-limit", "ban"


class FaultSpecError(TradecoreError, ValueError):
    """A fault specification that cannot be understood; the message says which part and why."""


@dataclass(eq=False)
class Fault:
    """One fault of a :class:`FaultPlan` (see the module docstring for what each kind does)."""

    kind: str
    at: int
    count: int = 1
    arg: str | None = None
    every_connection: bool = False
    #: The connection that claimed a once-only websocket fault.
    claimed_by: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.at < 1:
            raise FaultSpecError(f"{self.kind}: the position must be 1 or more, got {self.at}")
        if self.count < 1:
            raise FaultSpecError(f"{self.kind}: the count must be 1 or more, got {self.count}")
        if self.kind == "delay":
            if self.arg is None or not _is_seconds(self.arg):
                raise FaultSpecError(f"delay@{self.at}: needs the delay in seconds, e.g. delay@{self.at}:2.5")
        elif self.kind == "malformed":
            self.arg = self.arg or "truncated"
            if self.arg not in MALFORMED_VARIANTS:
                raise FaultSpecError(f"malformed@{self.at}: unknown variant {self.arg!r}; "
                                     f"expected one of {', '.join(MALFORMED_VARIANTS)}")
        elif self.kind == "rate-limit":
            self.arg = self.arg or "60"
            if not _is_seconds(self.arg) or float(self.arg) <= 0:
                raise FaultSpecError(f"rate-limit@{self.at}: the window must be a positive number of seconds, "
                                     f"got {self.arg!r}")
        elif self.arg is not None:
            raise FaultSpecError(f"{self.kind}@{self.at}: takes no argument, got {self.arg!r}")
        if self.kind in ("reorder", "drop-connection", "delay", "rate-limit") and self.count != 1:
            raise FaultSpecError(f"{self.kind}@{self.at}: takes no count")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """A fault from its command-line form, e.g. ``gap@1200`` or ``delay@50:1.5:every``."""
        text = spec.strip()
        kind, at_sign, rest = text.partition("@")
        if not at_sign or not rest:
            raise FaultSpecError(f"fault {spec!r}: expected KIND@N[xCOUNT][:ARG][:every], e.g. gap@1200")
        position, *options = rest.split(":")
        every = "every" in options
        options = [o for o in options if o != "every"]
        if len(options) > 1:
            raise FaultSpecError(f"fault {spec!r}: at most one argument after ':', got {', '.join(options)}")
        at_text, _, count_text = position.partition("x")
        if not at_text.isdigit() or (count_text and not count_text.isdigit()):
            raise FaultSpecError(f"fault {spec!r}: position {position!r} is not N or NxCOUNT (whole numbers)")
        return cls(kind.strip().lower(), int(at_text), int(count_text) if count_text else 1,
                   options[0] if options else None, every)

    def __str__(self) -> str:
        text = f"{self.kind}@{self.at}" + (f"x{self.count}" if self.count != 1 else "")
        return text + (f":{self.arg}" if self.arg is not None else "") + (":every" if self.every_connection else "")

    def covers(self, n: int) -> bool:
        return self.at <= n < self.at + self.count


def _is_seconds(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0


@dataclass(frozen=True)
class Injection:
    """One injected fault: what, on which connection (None for REST) at which message/request."""

    kind: str
    connection: int | None
    number: int
    detail: str = ""


class FaultPlan:
    """The faults a server injects. Add or remove faults while the server runs (from its event
    loop's thread); :attr:`injected` counts what was actually injected, by kind."""

    def __init__(self, faults: Iterable[Fault | str] = (), *, clock: Callable[[], float] = time.monotonic) -> None:
        self.faults: list[Fault] = []
        self.injected: Counter[str] = Counter()
        self.log: list[Injection] = []
        self.rest_requests = 0
        self.limiter = WeightWindow(clock)
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault | str) -> Fault:
        parsed = Fault.parse(fault) if isinstance(fault, str) else fault
        self.faults.append(parsed)
        return parsed

    def remove(self, fault: Fault) -> None:
        self.faults.remove(fault)

    def clear(self) -> None:
        """Removes every fault and lifts any rate-limit back-off (counts are kept)."""
        self.faults.clear()
        self.limiter.reset()

    def record(self, kind: str, connection: int | None, number: int, detail: str = "") -> None:
        self.injected[kind] += 1
        self.log.append(Injection(kind, connection, number, detail))

    def connection(self, connection_id: int) -> ConnectionFaults:
        return ConnectionFaults(self, connection_id)

    def _active(self, kind: str, connection_id: int) -> Iterable[Fault]:
        for fault in list(self.faults):
            if fault.kind != kind:
                continue
            if fault.every_connection or fault.claimed_by in (None, connection_id):
                yield fault

    # -- REST --------------------------------------------------------------------------------

    def rest(self, weight: int) -> RestVerdict:
        """Counts one REST request of ``weight`` and says how to answer it."""
        self.rest_requests += 1
        number = self.rest_requests
        for fault in self._active("rest-503", 0):
            if fault.covers(number):
                self.record("rest-503", None, number)
                return RestVerdict(503, None, self.limiter.used)
        limit = next(iter(self._active("rate-limit", 0)), None)
        if limit is None:
            self.limiter.charge(weight)
            return RestVerdict(200, None, self.limiter.used)
        verdict = self.limiter.admit(weight, limit.at, float(limit.arg or 60))
        if verdict.status == 429:
            self.record(RATE_LIMITED, None, number, f"used {self.limiter.used} of {limit.at}")
        elif verdict.status == 418:
            self.record(BANNED, None, number, "called during the 429 back-off")
        return verdict


@dataclass(frozen=True)
class RestVerdict:
    """How to answer a REST request: 200 (serve it), 503, 429 or 418 (with Retry-After)."""

    status: int
    retry_after: int | None
    used_weight: int


class WeightWindow:
    """Request weight used in fixed windows; enforces a budget when a rate-limit fault is set.

    Past the budget the client gets 429 until the window ends; calling again during that
    back-off bans it (418) for the rest of the back-off plus one more window, as Binance
    escalates bans for clients that ignore Retry-After."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._window_start = clock()
        self._window = 60.0
        self.used = 0
        self._backoff_until = 0.0
        self._banned_until = 0.0

    def reset(self) -> None:
        self._window_start = self._clock()
        self.used = 0
        self._backoff_until = self._banned_until = 0.0

    def _roll(self, window: float) -> float:
        now = self._clock()
        if window != self._window or now - self._window_start >= window:
            self._window = window
            elapsed = now - self._window_start
            self._window_start += (elapsed // window) * window if elapsed >= 0 else 0
            self.used = 0
        return now

    def charge(self, weight: int) -> None:
        self._roll(60.0)
        self.used += weight

    def admit(self, weight: int, budget: int, window: float) -> RestVerdict:
        now = self._roll(window)
        if now < self._banned_until:
            self._banned_until = now + (self._banned_until - now) + window
            return RestVerdict(418, math.ceil(self._banned_until - now), self.used)
        if now < self._backoff_until:
            self._banned_until = self._backoff_until + window
            return RestVerdict(418, math.ceil(self._banned_until - now), self.used)
        if self.used + weight > budget:
            self._backoff_until = self._window_start + window
            return RestVerdict(429, max(1, math.ceil(self._backoff_until - now)), self.used)
        self.used += weight
        return RestVerdict(200, None, self.used)


# -- websocket -------------------------------------------------------------------------------

Action = tuple[Literal["send", "sleep", "abort"], Any]


class ConnectionFaults:
    """Applies a plan to the market messages of one websocket connection."""

    def __init__(self, plan: FaultPlan, connection_id: int) -> None:
        self.plan = plan
        self.id = connection_id
        self.sent = 0
        self._held: str | None = None
        self._gaps_owed = 0
        self._gaps_seen: set[int] = set()

    def _claim(self, fault: Fault) -> None:
        if not fault.every_connection and fault.claimed_by is None:
            fault.claimed_by = self.id

    def _hits(self, kind: str, n: int) -> list[Fault]:
        hits = [f for f in self.plan._active(kind, self.id) if f.covers(n)]
        for fault in hits:
            self._claim(fault)
        return hits

    def process(self, frame: str, is_depth: bool) -> list[Action]:
        """What to do for the next market message: sends, pauses, or aborting the connection."""
        self.sent += 1
        n = self.sent
        actions: list[Action] = []
        for fault in self._hits("delay", n):
            self.plan.record("delay", self.id, n, f"{fault.arg} s")
            actions.append(("sleep", float(fault.arg or 0)))
        for fault in self.plan._active("gap", self.id):
            if id(fault) not in self._gaps_seen and n >= fault.at:
                self._gaps_seen.add(id(fault))
                self._claim(fault)
                self._gaps_owed += fault.count
        if self._hits("drop", n):
            self.plan.record("drop", self.id, n)
            return actions + self._after(n)
        if is_depth and self._gaps_owed:
            self._gaps_owed -= 1
            self.plan.record("gap", self.id, n)
            return actions + self._after(n)
        for fault in self._hits("malformed", n):
            variant = fault.arg or "truncated"
            frame = malform(frame, variant)
            self.plan.record("malformed", self.id, n, variant)
        copies = [frame]
        if self._hits("duplicate", n):
            self.plan.record("duplicate", self.id, n)
            copies.append(frame)
        if self._held is not None:
            # The previous message was held back: it goes out after this one.
            copies.append(self._held)
            self._held = None
        elif self._hits("reorder", n):
            self.plan.record("reorder", self.id, n)
            self._held = copies.pop(0)
        actions.extend(("send", c) for c in copies)
        return actions + self._after(n)

    def _after(self, n: int) -> list[Action]:
        if self._hits("drop-connection", n):
            self.plan.record("drop-connection", self.id, n)
            return [("abort", None)]
        return []

    def flush(self) -> list[Action]:
        """Messages still held back (a reorder at the very end of the replay)."""
        if self._held is None:
            return []
        held, self._held = self._held, None
        return [("send", held)]


_KEEP = frozenset({"e", "s", "stream", "topic", "type"})


def malform(frame: str, variant: str) -> str:
    """A deliberately broken version of a frame (see ``malformed`` in the module docstring)."""
    if variant == "truncated":
        return frame[: max(1, len(frame) // 2)]
    if variant == "text":
        return "<html><body><h1>502 Bad Gateway</h1></body></html>"
    if variant == "types":
        try:
            message = json.loads(frame)
        except ValueError:
            return frame  # already broken by another fault on the same message
        target = message.get("data", message) if isinstance(message, dict) else message
        if isinstance(target, dict):
            for key, value in list(target.items()):
                if key not in _KEEP:
                    target[key] = _wrong_type(value)
        return json.dumps(message, separators=(",", ":"))
    raise FaultSpecError(f"unknown malformed variant {variant!r}; expected one of {', '.join(MALFORMED_VARIANTS)}")


def _wrong_type(value: object) -> object:
    """A value of another JSON type than ``value``: numbers become words, strings numbers,
    lists and objects strings."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return "not-a-number"
    if isinstance(value, str):
        return 12345
    return "not-a-list"
