"""End-to-end cost per order (submit -> match -> fill -> portfolio -> trade tracker).

Scenario: 500 assets x 2,520 daily bars (seeded random walk), a long/short rebalance every
day to the top/bottom 25 by a persistent AR(1) score (equal weight, 100% gross), on a Reg-T
margin account with a per-share commission ($0.005, $1 minimum) and 1 bp slippage; trades
smaller than 0.2% of a position's target value are skipped, exits are submitted before
entries, market orders fill at the next bar's open. This is the order flow of
``bench_engine.py --case rebalance`` without the engine and strategy layers, so it shows
what the execution and portfolio layers cost per order.

Two modes drive the same flow and must give identical fills (checked):

* ``single``: ``broker.submit(Order.market(...))`` per order, ``portfolio.apply_fill`` per fill;
* ``batch``: ``broker.submit_many(asset_positions, signed_quantities)`` once per bar and
  ``portfolio.apply_fills(fills)``.

Reported per mode (best of ``--repeat`` runs, the machine being shared): orders, the time spent
in submit, in ``process_bar`` (matching and fills), in applying fills, their sum per order
(the end-to-end cost), ``process_bar`` / ``process_close`` / ``mark`` per bar, and the whole
loop in asset-bars per second.

Run: ``uv run python benchmarks/bench_orders.py [--assets 500 --bars 2520 --repeat 3]``
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import dataclass

import numpy as np

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.execution import (
    Order,
    PercentageSlippage,
    PerShareCommission,
    SimulationBroker,
)
from ml4t.backtest.portfolio import Portfolio, RegTMargin

DAY = 86_400 * 10**9
CLOCK = time.perf_counter


def make_data(n_t: int, n_a: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    vol = 0.015
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, vol, (n_t, n_a)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, vol / 4, (n_t, n_a)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 4, (n_t, n_a))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 4, (n_t, n_a))))
    volume = rng.uniform(1e5, 1e6, (n_t, n_a))
    rng = np.random.default_rng(seed + 1)
    score = np.zeros((n_t, n_a))
    score[0] = rng.normal(size=n_a)
    noise = rng.normal(size=(n_t, n_a))
    for t in range(1, n_t):
        score[t] = 0.98 * score[t - 1] + 0.2 * noise[t]
    return {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "score": score,
    }


@dataclass
class Timings:
    orders: int = 0
    fills: int = 0
    submit: float = 0.0
    process_bar: float = 0.0
    apply: float = 0.0
    process_close: float = 0.0
    mark: float = 0.0
    total: float = 0.0


def run(
    data: dict[str, np.ndarray], mode: str, n_side: int = 25
) -> tuple[Timings, list[FillEvent]]:
    o, h, lo, c, v, score = (data[k] for k in ("open", "high", "low", "close", "volume", "score"))
    n_t, n_a = c.shape
    names = [f"S{j:03d}" for j in range(n_a)]
    cash = 10_000_000.0
    pf = Portfolio(names, initial_cash=cash, account=RegTMargin())
    broker = SimulationBroker(
        names,
        commission=PerShareCommission(0.005, minimum=1.0),
        slippage=PercentageSlippage(1e-4),
        account=pf,
    )
    min_value = 0.002 * cash / (2 * n_side)
    w = 1.0 / (2 * n_side)
    rows = [(o[t], h[t], lo[t], c[t], v[t]) for t in range(n_t)]
    clock = CLOCK
    tm = Timings()
    all_fills: list[FillEvent] = []
    batch = mode == "batch"
    start_all = clock()
    for t in range(n_t):
        ts = t * DAY
        o_r, h_r, l_r, c_r, v_r = rows[t]
        t0 = clock()
        fills = broker.process_bar(t, ts, o_r, h_r, l_r, c_r, v_r)
        t1 = clock()
        if batch:
            pf.apply_fills(fills)
        else:
            for fill in fills:
                pf.apply_fill(fill)
        t2 = clock()
        pf.mark(ts, c_r, h_r, l_r)
        t3 = clock()
        tm.process_bar += t1 - t0
        tm.apply += t2 - t1
        tm.mark += t3 - t2
        tm.fills += len(fills)
        all_fills.extend(fills)
        broker.drain_order_events()
        # decision: equal-weight top/bottom n_side by score, whole shares, skip small trades
        equity = pf.equity
        rank = np.argsort(score[t])
        target = np.zeros(n_a)
        target[rank[-n_side:]] = w
        target[rank[:n_side]] = -w
        with np.errstate(invalid="ignore", divide="ignore"):
            target_qty = np.trunc(target * equity / c_r)
        delta = target_qty - pf.quantities
        trade = np.abs(delta * c_r) >= np.maximum(min_value, 0.002 * np.abs(target_qty * c_r))
        trade &= delta != 0.0
        held = pf.quantities
        exits = np.flatnonzero(trade & (held * delta < 0))
        entries = np.flatnonzero(trade & ~(held * delta < 0))
        idx = np.concatenate([exits, entries])
        qty = delta[idx]
        t4 = clock()
        if batch:
            broker.submit_many(idx, qty)
        else:
            for a, q in zip(idx.tolist(), qty.tolist(), strict=True):
                side = OrderSide.BUY if q > 0 else OrderSide.SELL
                broker.submit(Order.market(names[a], side, abs(q)))
        t5 = clock()
        tm.submit += t5 - t4
        tm.orders += idx.size
        broker.drain_order_events()
        fills = broker.process_close(t, ts, c_r, v_r)
        tm.process_close += clock() - t5
        assert not fills
    tm.total = clock() - start_all
    pf.check_invariant()
    return tm, all_fills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2_520)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mode", choices=["single", "batch", "both"], default="both")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the cyclic garbage collector during the runs (shows its share: the "
        "orders, events and fills kept are all GC-tracked objects)",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with process CPU time instead of wall time (steadier on a shared machine)",
    )
    args = parser.parse_args()
    if args.cpu:
        global CLOCK  # noqa: PLW0603
        CLOCK = time.process_time
    data = make_data(args.bars, args.assets)
    modes = ["single", "batch"] if args.mode == "both" else [args.mode]
    run(make_data(30, args.assets), modes[0])  # warm-up: numba kernels, imports
    fills_of: dict[str, list[FillEvent]] = {}
    n_t, n_a = data["close"].shape
    gc_note = ", GC off" if args.no_gc else ""
    print(
        f"{n_a} assets x {n_t} daily bars, top/bottom-25 daily rebalance "
        f"(best of {args.repeat}{gc_note})"
    )
    for mode in modes:
        best: Timings | None = None
        for _ in range(args.repeat):
            if args.no_gc:
                gc.collect()
                gc.disable()
            try:
                tm, fills = run(data, mode)
            finally:
                gc.enable()
            fills_of[mode] = fills
            if best is None or tm.total < best.total:
                best = tm
        assert best is not None
        end_to_end = best.submit + best.process_bar + best.apply
        per = 1e6 / max(best.orders, 1)
        print(
            f"{mode:<6}: {best.orders:,} orders, {best.fills:,} fills | per order: submit "
            f"{best.submit * per:.2f} us + process_bar {best.process_bar * per:.2f} us + apply "
            f"{best.apply * per:.2f} us = {end_to_end * per:.2f} us end to end | per bar: "
            f"process_close {best.process_close / n_t * 1e6:.2f} us, mark "
            f"{best.mark / n_t * 1e6:.2f} us | whole loop {best.total:.2f} s = "
            f"{n_t * n_a / best.total:,.0f} asset-bars/s"
        )
    if len(fills_of) == 2:
        same = fills_of["single"] == fills_of["batch"]
        print(f"single and batch fills identical: {same}")
        if not same:
            raise SystemExit("single and batch modes disagree")


if __name__ == "__main__":
    main()
