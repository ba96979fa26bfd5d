"""End-to-end throughput of the signal fast path, with a breakdown of where the time goes.

Workload: issue 6's third case, 1 asset x N minute bars (default 1,000,000), an SMA(10/30)
crossover expressed as entry/exit columns, run by ``run_signals`` (the same data and config
as ``bench_engine.py --case fast``). Every timed run also reads the complete result:
equity curve, trades, fills, orders, positions and metrics (the fast path builds them on
first read), so the figures are end to end; ``returns`` is the time until ``run_signals``
returns alone.

Three end-to-end figures, each the best of ``--repeat`` runs after a warm-up run:

* ``warm``: the same `DataFeed` every run, each result dropped before the next run, as a
  parameter sweep does; the feed's fingerprint is computed on the first run and kept (the
  feed is immutable), and each run reuses the output buffer of the one before.
* ``warm, results kept``: the same, but every result is kept alive, so that every run
  writes fresh memory (page faults) as a single run in a new process does.
* ``cold``: a new `DataFeed` object (over the same arrays) every run, so every run also
  hashes the data.

The breakdown times the parts separately: the numba kernel (``metadata["kernel_seconds"]``),
``compute_metrics`` on the result frames, the fingerprint of a fresh feed, and the rest
(input checks and frame building) as warm end-to-end minus kernel and metrics.

Run: ``uv run python benchmarks/bench_fast_path.py [--bars N] [--repeat K]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy import BacktestConfig, SignalStrategy, _venue, run_signals

DAY = 86_400 * 10**9
MINUTE = 60 * 10**9


def _fields(n_t: int) -> dict[str, np.ndarray]:
    # the same series as bench_engine.py's `case_fast` (seed 3, 0.1% vol per bar)
    rng = np.random.default_rng(3)
    vol = 0.001
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, vol, (n_t, 1)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, vol / 4, (n_t, 1)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 4, (n_t, 1))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 4, (n_t, 1))))
    volume = rng.uniform(1e5, 1e6, (n_t, 1))
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    c = np.cumsum(close, axis=0)
    sma = {}
    for n in (10, 30):
        out = np.full_like(close, np.nan)
        out[n - 1 :] = (c[n - 1 :] - np.vstack([np.zeros((1, 1)), c[:-n]])) / n
        sma[n] = out
    above = sma[10] > sma[30]
    prev = np.vstack([np.zeros((1, 1), dtype=bool), above[:-1]])
    fields["entry"] = (above & ~prev).astype(float)
    fields["exit"] = (~above & prev).astype(float)
    return fields


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _read(result: Any) -> Any:
    # Read every frame and the metrics (built on first read).
    for name in ("equity_curve", "trades", "fills", "orders", "positions", "metrics"):
        getattr(result, name)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n_t = args.bars
    fields = _fields(n_t)
    ts = 19_000 * DAY + np.arange(n_t, dtype=np.int64) * MINUTE

    def new_feed() -> DataFeed:
        return DataFeed(ts, ["ES"], fields, signal_names=["entry", "exit"])

    feed = new_feed()
    config = BacktestConfig(
        initial_cash=1_000_000.0, sizing={"method": "fixed_quantity", "quantity": 100}
    )
    strategy = SignalStrategy("entry", "exit")
    _read(run_signals(feed, strategy, config))  # warm-up: numba cache load, first touch

    warm = _best(lambda: _read(run_signals(feed, strategy, config)), args.repeat)
    returns = _best(lambda: run_signals(feed, strategy, config), args.repeat)
    kept: list[Any] = []
    fresh = _best(lambda: kept.append(_read(run_signals(feed, strategy, config))), args.repeat)
    kept.clear()
    feeds = [new_feed() for _ in range(args.repeat)]
    cold_runs = []
    for f in feeds:
        start = time.perf_counter()
        _read(run_signals(f, strategy, config))
        cold_runs.append(time.perf_counter() - start)
    cold = min(cold_runs)

    kernel = float("inf")
    for _ in range(args.repeat):
        result = run_signals(feed, strategy, config)
        kernel = min(kernel, float(result.metadata["kernel_seconds"]))
        if _ < args.repeat - 1:
            del result
    metrics = _best(
        lambda: _venue.compute_metrics(result.equity_curve, result.trades, config), args.repeat
    )
    fingerprint = _best(lambda: new_feed().fingerprint(), args.repeat)
    rest = warm - kernel - metrics

    def rate(seconds: float) -> str:
        return f"{n_t / seconds:>14,.0f} asset-bars/s"

    print(
        f"fast path, 1 asset x {n_t:,} minute bars, SMA 10/30 (best of {args.repeat}; "
        f"fills={result.fills.height}, trades={result.trades.height}, "
        f"positions={result.positions.height})"
    )
    print(f"  end-to-end, warm feed  {warm * 1e3:8.1f} ms {rate(warm)}")
    print(f"  ... results kept       {fresh * 1e3:8.1f} ms {rate(fresh)}")
    print(f"  end-to-end, cold feed  {cold * 1e3:8.1f} ms {rate(cold)}")
    print(f"  run_signals returns    {returns * 1e3:8.1f} ms {rate(returns)}")
    print(f"  kernel alone           {kernel * 1e3:8.1f} ms {rate(kernel)}")
    print(f"  compute_metrics        {metrics * 1e3:8.1f} ms")
    print(f"  fingerprint (new feed) {fingerprint * 1e3:8.1f} ms")
    print(f"  rest (checks, frames)  {rest * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
