"""Throughput of SimulationBroker matching: 500 assets, each with a working limit order.

Scenario: the S&P 500 5-year daily bars in shared/data/sp500_5yr_iex beside the repo (505 tickers,
1,259 days; the first 500 tickers by name) or, with ``--synthetic``, a random walk. Every asset
always has one working GTC buy limit at 98% of the last close and one GTC sell stop at 95%
of it; when either fills it is replaced. So about 1,000 orders are matched every bar.

Reports, for the ``process_bar`` calls alone:
* orders matched per second (working orders checked against a bar, summed over bars / time),
* fills per second,
* microseconds per ``process_bar`` call with an empty book (best of 5 passes),
and the peak RSS of the process. Costs (slippage, commission, volume cap) are on.

Run: ``uv run python benchmarks/bench_broker.py [--assets 500 --bars 1259 --synthetic]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.execution import (
    Order,
    PerShareCommission,
    SimulationBroker,
    VolumeShareSlippage,
)

DATA = Path(__file__).resolve().parents[2] / "shared/data/sp500_5yr_iex/all_stocks_5yr.parquet"


def load_real(n_assets: int, n_bars: int) -> tuple[list[str], dict[str, np.ndarray]]:
    import polars as pl  # noqa: PLC0415 - benchmark-only dependency

    df = pl.read_parquet(DATA)
    names = sorted(df["symbol"].unique().to_list())[:n_assets]
    df = df.filter(pl.col("symbol").is_in(names)).sort("date")
    cols = {}
    for field in ("open", "high", "low", "close", "volume"):
        wide = df.pivot(on="symbol", index="date", values=field).sort("date")
        cols[field] = wide.select(names).to_numpy().astype(np.float64)[:n_bars]
    return names, cols


def load_synthetic(
    n_assets: int, n_bars: int, seed: int
) -> tuple[list[str], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, (n_bars, n_assets)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.005, close.shape))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0, 0.01, close.shape))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0, 0.01, close.shape))
    volume = rng.uniform(1e5, 1e7, close.shape)
    names = [f"A{i:04d}" for i in range(n_assets)]
    return names, {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=1259)
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    if args.synthetic or not DATA.exists():
        source = "synthetic random walk"
        names, cols = load_synthetic(args.assets, args.bars, args.seed)
    else:
        source = str(DATA)
        names, cols = load_real(args.assets, args.bars)
    o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    n_bars, n_assets = c.shape
    day = 86_400_000_000_000

    broker = SimulationBroker(
        names,
        slippage=VolumeShareSlippage(),
        commission=PerShareCommission(0.005, minimum=1.0),
        volume_limit=0.025,
    )
    # warm up the numba kernels outside the timed loop
    warm = SimulationBroker(["W"])
    warm.submit(Order.limit("W", OrderSide.BUY, 1, 1.0))
    one = np.ones(1)
    warm.process_bar(0, 0, one, one, one, one, one)

    buy_of: dict[str, Order | None] = dict.fromkeys(names)
    stop_of: dict[str, Order | None] = dict.fromkeys(names)
    matched = 0
    n_fills = 0
    t_match = 0.0
    t_total0 = time.perf_counter()
    for t in range(n_bars):
        matched += broker.active_order_count  # working orders checked on this bar
        start = time.perf_counter()
        fills = broker.process_bar(t, t * day, o[t], h[t], lo[t], c[t], v[t])
        t_match += time.perf_counter() - start
        n_fills += len(fills)
        broker.process_close(t, t * day, c[t], v[t])
        for j, asset in enumerate(names):
            price = c[t, j]
            if not price > 0:
                continue
            bo = buy_of[asset]
            if bo is None or not bo.is_working:
                buy_of[asset] = broker.submit(Order.limit(asset, OrderSide.BUY, 100, price * 0.98))
            so = stop_of[asset]
            if so is None or not so.is_working:
                stop_of[asset] = broker.submit(Order.stop(asset, OrderSide.SELL, 100, price * 0.95))
        broker.drain_order_events()
    total = time.perf_counter() - t_total0

    # empty book: the bar rows are sliced beforehand so that only process_bar is timed;
    # best of 5 passes (the machine is shared)
    rows = [(o[t], h[t], lo[t], c[t], v[t]) for t in range(n_bars)]
    empty_us = float("inf")
    for _ in range(5):
        empty = SimulationBroker(names)
        start = time.perf_counter()
        for t, (o_t, h_t, l_t, c_t, v_t) in enumerate(rows):
            empty.process_bar(t, t * day, o_t, h_t, l_t, c_t, v_t)
        empty_us = min(empty_us, (time.perf_counter() - start) / n_bars * 1e6)

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss_kb / 1024 if sys.platform != "darwin" else rss_kb / 1024 / 1024
    print(f"data: {source}")
    print(f"assets={n_assets} bars={n_bars} working orders/bar ~{matched / n_bars:,.0f}")
    print(f"process_bar time: {t_match:.3f} s ({t_match / n_bars * 1e6:,.0f} us/bar)")
    print(f"orders matched/s: {matched / t_match:,.0f}")
    print(f"fills: {n_fills:,}  fills/s (within process_bar): {n_fills / t_match:,.0f}")
    print(f"empty book: {empty_us:,.1f} us/bar")
    print(f"whole loop incl. strategy resubmits: {total:.2f} s")
    print(f"peak RSS: {rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
