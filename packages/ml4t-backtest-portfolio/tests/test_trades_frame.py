"""`TradeTracker.to_polars` derives each trade's numbers as arrays: the scalar formulas agree.

The tracker stores raw rows per closed (part of a) lot and computes P&L, costs, return and
MAE/MFE for all of them at once. Here every row is recomputed with the module docstring's
formulas in plain Python floats (the arithmetic the tracker did per trade before) and must
match to the last bit, on random fill streams with NaN, infinite and zero prices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml4t.backtest.portfolio.trades import LotMatching, TradeTracker


def _expected(tracker: TradeTracker) -> list[tuple[object, ...]]:
    out = []
    names = tracker._assets
    tags = list(tracker._tags)
    for row in tracker._closed:
        asset, side, take, t0, t1, entry, price, lot_cpu, cpu, lot_spu, spu = row[:11]
        worst, best, bar0, bar1, tag = row[11:]
        mult = tracker._mult[asset]  # type: ignore[index]
        gross = side * (price - entry) * take * mult  # type: ignore[operator]
        commission = take * (lot_cpu + cpu)  # type: ignore[operator]
        net = gross - commission
        basis = entry * take * mult  # type: ignore[operator]
        out.append(
            (
                names[asset],  # type: ignore[index]
                side,
                take,
                t0,
                t1,
                entry,
                price,
                gross,
                net,
                commission,
                take * (lot_spu + spu),  # type: ignore[operator]
                net / basis if basis != 0.0 else math.nan,
                side * (worst - entry) / entry if entry != 0.0 else math.nan,  # type: ignore[operator]
                side * (best - entry) / entry if entry != 0.0 else math.nan,  # type: ignore[operator]
                bar1 - bar0,  # type: ignore[operator]
                tags[tag],  # type: ignore[index]
            )
        )
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return a == b


@pytest.mark.parametrize("matching", list(LotMatching))
@pytest.mark.parametrize("seed", range(8))
def test_frame_rows_equal_the_scalar_formulas(matching: LotMatching, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a = 4
    tracker = TradeTracker(
        [f"A{j}" for j in range(n_a)],
        matching=matching,
        multipliers=[1.0, 50.0, 0.5, 0.0],
        compile_after=None,  # (the raw rows `_expected` reads are the Python mode's)
    )
    for step in range(80):
        k = int(rng.integers(1, 6))
        rows = rng.integers(0, n_a, k)
        qty = rng.choice([-1.0, 1.0], k) * rng.choice([1.0, 3.0, 10.5, 1e-9], k)
        price = rng.choice([10.0, 0.0, np.nan, 99.5, np.inf], k, p=[0.5, 0.05, 0.05, 0.35, 0.05])
        commission = rng.choice([0.0, -0.0, 1.0, 2.5], k)
        slippage = rng.choice([0.0, 0.3], k)
        tag = ["rebalance", "stop", ""][step % 3]
        tracker.on_fills(rows, qty, price, 10**18 + step, commission, slippage, tag)
        high = rng.uniform(5, 120, n_a)
        tracker.update_excursions(high, high - rng.uniform(0, 5, n_a))
        tracker.advance_bar()
    frame = tracker.to_polars()
    want = _expected(tracker)
    assert frame.height == len(want) > 20
    for got, exp in zip(frame.iter_rows(), want, strict=True):
        for j, (g, e) in enumerate(zip(got, exp, strict=True)):
            if j in (3, 4):  # times: compared below as integers
                continue
            assert _same(g, e), (j, g, e)
    ns = frame.select(frame["entry_time"].dt.epoch("ns"), frame["exit_time"].dt.epoch("ns")).rows()
    assert ns == [(e[3], e[4]) for e in want]
