"""Throughput of the portfolio hot paths: apply_fill, mark, snapshot record.

Scenario: 500 assets, 2,000 bars, 50 fills per bar (random assets and sides, Reg-T margin,
commission on every fill) and one mark per bar with high/low rows (MAE/MFE update over the
open lots). Prints fills/s, marks/s, records/s and the peak RSS of the process. Fills go in
through ``Portfolio.apply_fills`` once per bar (``--single``: ``apply_fill`` per fill; older
versions without ``apply_fills`` use that too).

Run: ``uv run python benchmarks/bench_portfolio.py [--assets 500 --bars 2000 --fills 50]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import Portfolio, RegTMargin, SnapshotRecorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2_000)
    parser.add_argument("--fills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--single", action="store_true", help="apply_fill per fill instead of apply_fills per bar"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    n_assets, n_bars, per_bar = args.assets, args.bars, args.fills
    assets = [f"A{i:04d}" for i in range(n_assets)]
    steps = rng.normal(0.0, 0.01, size=(n_bars, n_assets))
    close = 100.0 * np.exp(np.cumsum(steps, axis=0))
    high = close * 1.005
    low = close * 0.995
    pick = rng.integers(0, n_assets, size=(n_bars, per_bar))
    sides = rng.choice([OrderSide.BUY, OrderSide.SELL], size=(n_bars, per_bar))
    qty = rng.integers(1, 100, size=(n_bars, per_bar)).astype(float)
    day = 86_400_000_000_000

    # Fill events are built up front so that only apply_fill is timed.
    fills = [
        [
            FillEvent(
                t * day,
                t * per_bar + j,
                assets[int(pick[t, j])],
                OrderSide(int(sides[t, j])),
                float(qty[t, j]),
                float(close[t, pick[t, j]]),
                commission=1.0,
            )
            for j in range(per_bar)
        ]
        for t in range(n_bars)
    ]
    try:  # as in the engine, where the broker has loaded its numba module: the portfolio
        # then uses its compiled MAE/MFE update (warmed up here, outside the timing)
        import ml4t.backtest.execution.nb  # noqa: F401, PLC0415

        warm = Portfolio(assets[:1], initial_cash=1e6)
        warm.apply_fill(FillEvent(0, 1, assets[0], OrderSide.BUY, 1.0, 1.0))
        warm.mark(0, np.ones(1), np.ones(1), np.ones(1))
    except ImportError:
        pass
    batch = hasattr(Portfolio, "apply_fills") and not args.single
    pf = Portfolio(assets, initial_cash=1e9, account=RegTMargin())
    rec = SnapshotRecorder(assets, capacity=n_bars)

    fill_time = mark_time = record_time = 0.0
    clock = time.perf_counter
    for t in range(n_bars):
        start = clock()
        if batch:
            pf.apply_fills(fills[t])
        else:
            for fill in fills[t]:
                pf.apply_fill(fill)
        mid = clock()
        pf.mark(t * day, close[t], high[t], low[t])
        end = clock()
        rec.record(t * day, pf)
        fill_time += mid - start
        mark_time += end - mid
        record_time += clock() - end
    pf.check_invariant()

    n_fills = n_bars * per_bar
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024
    how = "apply_fills per bar" if batch else "apply_fill per fill"
    print(f"portfolio benchmark: {n_assets} assets, {n_bars} bars, {per_bar} fills/bar ({how})")
    rows = [
        ("apply_fill", n_fills / fill_time, "fills/s", fill_time * 1e6 / n_fills, "fill"),
        ("mark", n_bars / mark_time, "marks/s", mark_time * 1e6 / n_bars, "mark"),
        ("record", n_bars / record_time, "records/s", record_time * 1e6 / n_bars, "record"),
    ]
    for name, rate, unit, micros, per in rows:
        print(f"{name:<11}: {rate:12,.0f} {unit:<9} ({micros:.2f} us/{per})")
    closed = pf.tracker.to_polars().height
    print(f"open lots at end: {pf.tracker.open_lot_count}, closed trades: {closed}")
    print(f"peak RSS: {peak_mb:.1f} MB")


if __name__ == "__main__":
    main()
