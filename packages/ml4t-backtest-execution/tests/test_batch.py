"""Batch and lazy paths of the broker give what the one-at-a-time paths give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml4t.backtest.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ml4t.backtest.core.errors import InvalidQuantityError, OrderError
from ml4t.backtest.execution import (
    Order,
    PercentageSlippage,
    PerShareCommission,
    SimpleAccount,
    SimulationBroker,
)
from ml4t.backtest.execution.fills import FillTiming


def _bars(n_t: int, n_a: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0))
    close[rng.random((n_t, n_a)) < 0.05] = np.nan  # missing bars
    return close


def _drive(batch: bool, timing: FillTiming, seed: int) -> tuple[list[object], list[object]]:
    n_t, n_a = 40, 12
    close = _bars(n_t, n_a, seed)
    names = [f"A{j}" for j in range(n_a)]
    account = SimpleAccount(20_000.0)
    broker = SimulationBroker(
        names,
        account=account,
        fill_timing=timing,
        commission=PerShareCommission(0.01, minimum=1.0),
        slippage=PercentageSlippage(0.001),
    )
    rng = np.random.default_rng(seed + 100)
    fills_all: list[object] = []
    events: list[object] = []
    for t in range(n_t):
        c = close[t]
        for fills in (broker.process_bar(t, t, c, c, c, c, np.full(n_a, 1e5)),):
            for f in fills:
                account.apply_fill(f)
            fills_all.extend(fills)
        k = int(rng.integers(0, 8))
        idx = rng.choice(n_a, size=k, replace=False)
        qty = rng.integers(-60, 60, size=k).astype(float) + rng.choice([0.0, 0.5], size=k)
        qty[qty == 0.0] = 3.0
        if batch:
            broker.submit_many(idx, qty, tag="b")
        else:
            for a, q in zip(idx.tolist(), qty.tolist(), strict=True):
                side = OrderSide.BUY if q > 0 else OrderSide.SELL
                broker.submit(Order.market(names[a], side, abs(q), tag="b"))
        fills = broker.process_close(t, t, c, np.full(n_a, 1e5))
        for f in fills:
            account.apply_fill(f)
        fills_all.extend(fills)
        events.extend(broker.drain_order_events())
    return fills_all, events


@pytest.mark.parametrize("timing", [FillTiming.NEXT_BAR_OPEN, FillTiming.SAME_BAR_CLOSE])
@pytest.mark.parametrize("seed", range(6))
def test_submit_many_gives_the_events_and_fills_of_single_submits(
    timing: FillTiming, seed: int
) -> None:
    fills_one, events_one = _drive(False, timing, seed)
    fills_many, events_many = _drive(True, timing, seed)
    assert fills_one  # the scenario trades
    assert any(e.status is OrderStatus.REJECTED for e in events_one)  # and refuses some
    assert fills_many == fills_one
    assert events_many == events_one


def test_submit_many_returns_orders_aligned_to_inputs() -> None:
    broker = SimulationBroker(["A", "B", "C"])
    orders = broker.submit_many(
        [2, 0, 1], [-5.0, 10.0, 0.4], order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY
    )
    assert [(o.asset, o.side, o.quantity) for o in orders] == [
        ("C", OrderSide.SELL, 5.0),
        ("A", OrderSide.BUY, 10.0),
        ("B", OrderSide.BUY, 0.4),
    ]
    assert [o.status for o in orders] == [
        OrderStatus.ACCEPTED,
        OrderStatus.ACCEPTED,
        OrderStatus.REJECTED,  # below one lot
    ]
    assert [o.order_id for o in orders] == [1, 2, 3]
    assert broker.active_order_count == 2
    assert all(o.time_in_force is TimeInForce.DAY for o in orders)
    assert broker.submit_many([], []) == []


@pytest.mark.parametrize(
    ("assets", "qty", "kw", "error"),
    [
        ([0], [0.0], {}, InvalidQuantityError),
        ([0], [math.nan], {}, InvalidQuantityError),
        ([3], [1.0], {}, OrderError),
        ([-1], [1.0], {}, OrderError),
        ([0, 1], [1.0], {}, OrderError),
        ([0], [1.0], {"order_type": OrderType.LIMIT}, OrderError),
        ([0], [1.0], {"time_in_force": TimeInForce.GTD}, OrderError),
    ],
)
def test_submit_many_refuses_bad_input_before_submitting_anything(
    assets: list[int], qty: list[float], kw: dict[str, object], error: type[Exception]
) -> None:
    broker = SimulationBroker(["A", "B", "C"])
    with pytest.raises(error):
        broker.submit_many(assets, qty, **kw)  # type: ignore[arg-type]
    assert broker.drain_order_events() == []


def test_empty_book_bars_are_folded_into_last_closes_exactly() -> None:
    # More bars than the broker keeps unfolded; NaN and inf closes; process_close keeps an
    # inf close (it only skips NaN) while process_bar keeps finite closes only.
    n_t, n_a = 600, 4
    rng = np.random.default_rng(3)
    close = 100.0 + rng.random((n_t, n_a))
    close[:, 1] = np.nan  # never priced
    close[n_t - 300 :, 2] = np.nan  # last price long ago
    close[n_t - 1, 3] = np.inf
    names = ["W", "X", "Y", "Z"]
    broker = SimulationBroker(names)
    last = np.full(n_a, np.nan)
    for t in range(n_t):
        c = close[t]
        broker.process_bar(t, t, c, c, c, c, np.ones(n_a))
        last[np.isfinite(c)] = c[np.isfinite(c)]
        if t < n_t - 1:
            broker.process_close(t, t, c)
            last[~np.isnan(c)] = c[~np.isnan(c)]
    stops = [
        broker.submit(Order.trailing_stop(a, OrderSide.SELL, 1, trail_amount=1.0)) for a in names
    ]
    refs = [o.trail_reference for o in stops]
    assert refs[0] == last[0]
    assert math.isnan(refs[1])
    assert refs[2] == close[n_t - 301, 2]
    assert refs[3] == close[n_t - 2, 3]  # the inf close at the last bar came via process_bar
    assert refs == pytest.approx(last.tolist(), nan_ok=True)
