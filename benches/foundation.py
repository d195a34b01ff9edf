"""Foundation benchmarks: order-book ingestion and candle aggregation, side by side with peers.

    python benches/foundation.py            # full run (about two minutes)
    python benches/foundation.py --quick    # tiny inputs, one repeat: checks the script still works

Order book: the raw depth lines of ../shared/data/binance/usdm_btcusdt_20240808.gz (the REST
snapshot and every depth diff, already decompressed in memory), fed to
  - the usual Python way: json.loads and a dict per side, with the sequence checks;
  - nautilus_trader's OrderBook through its Python API (json.loads, Price/Quantity per level);
  - tradecore, one `OrderBook.apply` call per message;
  - tradecore, one `OrderBook.replay` call over all the lines.
Candles: 10 M trades (the real trades of the same recording, tiled in time) into 1m, 5m, 15m,
1h, 4h and 1d bars (OHLC, volume, quote volume, trade count, taker-buy volume), with
  - pandas `resample`, polars `group_by_dynamic`, and `tradecore.candles.aggregate`.

Every contender runs in the same process, interleaved, repeated; the table shows medians and
ratios, since these machines are noisy. No contender's time includes decompression.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRADECORE_DATA", ROOT.parent / "shared" / "data"))
USDM = DATA / "binance" / "usdm_btcusdt_20240808.gz"
TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "1d"]


@dataclass
class Result:
    group: str
    name: str
    seconds: float
    items: int
    unit: str

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    @property
    def ns_per_item(self) -> float:
        return self.seconds / self.items * 1e9


def measure(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per contender; contenders are interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# --- order book --------------------------------------------------------------------------------


def depth_lines(limit: int | None) -> list[tuple[bytes, bytes]]:
    """(recv_ts, raw message) of the snapshot and every depth diff, in file order."""
    out = []
    with gzip.open(USDM, "rb") as f:
        for line in f:
            ts, raw = line.rstrip(b"\n").split(b" ", 1)
            if b'"depthUpdate"' in raw[:80] or raw.startswith(b'{"lastUpdateId"'):
                out.append((ts, raw))
                if limit and len(out) >= limit:
                    break
    return out


def level_count(messages: list[bytes]) -> int:
    total = 0
    for raw in messages:
        m = json.loads(raw)
        event = m.get("data", m)
        total += len(event.get("b", event.get("bids", []))) + len(event.get("a", event.get("asks", [])))
    return total


def python_dicts(messages: list[bytes]) -> None:
    """The way most Python bots do it: json.loads, a dict per side, Binance futures rules."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    last = None
    buffered = []
    first = True
    for raw in messages:
        m = json.loads(raw)
        if "lastUpdateId" in m:
            bids = {float(p): float(q) for p, q in m["bids"]}
            asks = {float(p): float(q) for p, q in m["asks"]}
            last = m["lastUpdateId"]
            pending, buffered = buffered, []
        else:
            pending = [m["data"]]
        for d in pending:
            if last is None:
                buffered.append(d)
                continue
            if (first and d["u"] < last) or (not first and d["u"] <= last):
                continue
            if (first and not d["U"] <= last <= d["u"]) or (not first and d["pu"] != last):
                raise RuntimeError("gap")
            for side, levels in ((bids, d["b"]), (asks, d["a"])):
                for p, q in levels:
                    if float(q) == 0.0:
                        side.pop(float(p), None)
                    else:
                        side[float(p)] = float(q)
            last = d["u"]
            first = False


def nautilus_book(messages: list[bytes]) -> None:
    """nautilus_trader's L2 OrderBook fed through its Python API."""
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder
    from nautilus_trader.model.enums import BookType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    book = OrderBook(InstrumentId.from_str("BTCUSDT-PERP.BINANCE"), BookType.L2_MBP)
    sequence = 0
    for raw in messages:
        m = json.loads(raw)
        event = m.get("data", m)
        if "lastUpdateId" in event:
            book.clear(0, 0)
        for side, key in ((OrderSide.BUY, "b"), (OrderSide.SELL, "a")):
            for p, q in event.get(key, event.get("bids" if key == "b" else "asks", [])):
                sequence += 1
                order = BookOrder(side, Price.from_str(p), Quantity.from_str(q), 0)
                if float(q) == 0.0:
                    book.delete(order, 0, sequence=sequence)
                else:
                    book.update(order, 0, sequence=sequence)


def bench_book(repeats: int, limit: int | None) -> list[Result]:
    from tradecore import OrderBook

    lines = depth_lines(limit)
    messages = [raw for _, raw in lines]
    data = b"".join(ts + b" " + raw + b"\n" for ts, raw in lines)
    levels = level_count(messages)

    def per_message() -> None:
        book = OrderBook("binance-usdm", "BTCUSDT")
        apply = book.apply
        for raw in messages:
            apply(raw)

    def batch() -> None:
        rows, bad, _ = OrderBook("binance-usdm", "BTCUSDT").replay(data)
        assert bad == 0 and len(rows["status"]) == len(messages)

    runs: dict[str, Callable[[], object]] = {
        "json.loads + dict per side": lambda: python_dicts(messages),
        "tradecore OrderBook.apply, per message": per_message,
        "tradecore OrderBook.replay, one batch call": batch,
    }
    try:
        import nautilus_trader.model.book  # noqa: F401  (imported here, not inside the timing)

        runs["nautilus_trader OrderBook (Python API)"] = lambda: nautilus_book(messages)
    except ImportError:
        print("nautilus_trader is not installed: skipping it", file=sys.stderr)
    medians = measure(runs, repeats)
    return [Result("order book", name, s, levels, "level updates") for name, s in medians.items()]


# --- candles -----------------------------------------------------------------------------------


def tiled_trades(count: int) -> dict[str, np.ndarray]:
    """`count` trades: the recording's real trades, repeated back to back in time."""
    ts, price, qty, buy = [], [], [], []
    with gzip.open(USDM, "rb") as f:
        for line in f:
            if b'"e":"trade"' not in line[:120]:
                continue
            t = json.loads(line.split(b" ", 1)[1])["data"]
            ts.append(t["T"])
            price.append(float(t["p"]))
            qty.append(float(t["q"]))
            buy.append(not t["m"])
    base = np.array(ts, dtype=np.int64)
    span = int(base[-1] - base[0]) + 1
    reps = -(-count // len(base))
    offsets = np.repeat(np.arange(reps, dtype=np.int64) * span, len(base))
    return {
        "ts": (np.tile(base, reps) + offsets)[:count],
        "price": np.tile(np.array(price), reps)[:count],
        "qty": np.tile(np.array(qty), reps)[:count],
        "taker_buy": np.tile(np.array(buy), reps)[:count],
    }


def bench_candles(repeats: int, count: int) -> list[Result]:
    import pandas as pd
    import polars as pl

    from tradecore import candles

    t = tiled_trades(count)
    quote = t["price"] * t["qty"]
    frame = pd.DataFrame(
        {"price": t["price"], "qty": t["qty"], "quote": quote, "buy_qty": t["qty"] * t["taker_buy"]},
        index=pd.to_datetime(t["ts"], unit="ms", utc=True),
    )
    table = pl.DataFrame(
        {
            "ts": pl.Series(t["ts"]).cast(pl.Datetime("ms")),
            "price": t["price"],
            "qty": t["qty"],
            "quote": quote,
            "buy_qty": t["qty"] * t["taker_buy"],
        }
    )

    rules = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}

    def with_pandas() -> None:
        # The fastest idiomatic form we found (.agg with a dict of lists is ~2x slower).
        for tf in TIMEFRAMES:
            bins = frame.resample(rules[tf])
            bins["price"].ohlc()
            bins["price"].count()
            bins[["qty", "quote", "buy_qty"]].sum()

    def with_polars() -> None:
        for tf in TIMEFRAMES:
            table.group_by_dynamic("ts", every=tf).agg(
                pl.col("price").first().alias("open"),
                pl.col("price").max().alias("high"),
                pl.col("price").min().alias("low"),
                pl.col("price").last().alias("close"),
                pl.col("qty").sum().alias("volume"),
                pl.col("quote").sum().alias("quote_volume"),
                pl.len().alias("trades"),
                pl.col("buy_qty").sum().alias("taker_buy_volume"),
            )

    def with_tradecore() -> None:
        candles.aggregate(t["ts"], t["price"], t["qty"], t["taker_buy"], timeframes=TIMEFRAMES)

    medians = measure(
        {
            "pandas resample": with_pandas,
            "polars group_by_dynamic": with_polars,
            "tradecore candles.aggregate": with_tradecore,
        },
        repeats,
    )
    return [Result("candles", name, s, count, "trades") for name, s in medians.items()]


# --- report ------------------------------------------------------------------------------------


def report(results: list[Result]) -> str:
    rows = ["| benchmark | contender | median | throughput | vs tradecore |", "|---|---|---:|---:|---:|"]
    for group in dict.fromkeys(r.group for r in results):
        members = [r for r in results if r.group == group]
        ours = min((r for r in members if r.name.startswith("tradecore")), key=lambda r: r.seconds)
        for r in sorted(members, key=lambda r: r.seconds):
            if r.unit == "trades":
                speed = f"{r.ns_per_item:.1f} ns/trade"
            else:
                speed = f"{r.rate / 1e6:.2f} M {r.unit}/s"
            ratio = r.seconds / ours.seconds
            versus = "fastest" if r is ours else "about the same" if ratio < 1.05 else f"{ratio:.1f}x slower"
            rows.append(f"| {group} | {r.name} | {r.seconds * 1e3:.1f} ms | {speed} | {versus} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat (a smoke test)")
    args = parser.parse_args()
    if not USDM.is_file():
        print(f"the shared market data is missing: {USDM} (set TRADECORE_DATA)", file=sys.stderr)
        return 2
    repeats = 1 if args.quick else 7
    results = bench_book(repeats, limit=200 if args.quick else None)
    results += bench_candles(1 if args.quick else 5, count=20_000 if args.quick else 10_000_000)
    print(report(results))
    book = {r.name: r for r in results if r.group == "order book"}
    print()
    print(
        f"goals: per message >= 10 M level updates/s: "
        f"{book['tradecore OrderBook.apply, per message'].rate / 1e6:.1f} M/s; "
        f"one batch call >= 25 M/s: {book['tradecore OrderBook.replay, one batch call'].rate / 1e6:.1f} M/s; "
        f"candles <= 4 ns/trade and >= 5x polars: "
        + ", ".join(
            f"{r.ns_per_item:.1f} ns/trade" for r in results if r.name == "tradecore candles.aggregate"
        )
        + f" ({next(r for r in results if r.name.startswith('polars')).seconds / next(r for r in results if r.name == 'tradecore candles.aggregate').seconds:.1f}x polars)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
