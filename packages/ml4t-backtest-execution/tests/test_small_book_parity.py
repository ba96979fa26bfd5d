"""The broker's small-book matching (Python, slot by slot) equals its array path (numba)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.enums import OrderSide, TimeInForce
from ml4t.backtest.execution import broker as broker_module
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.commission import PerShareCommission
from ml4t.backtest.execution.fills import FillTiming
from ml4t.backtest.execution.orders import Order
from ml4t.backtest.execution.slippage import PercentageSlippage

ASSETS = ["A", "B", "C"]

_order = st.tuples(
    st.sampled_from(["market", "limit", "stop", "stop_limit", "moo", "limit_opg", "ioc", "moc"]),
    st.integers(0, len(ASSETS) - 1),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.integers(1, 50),
    st.floats(-4.0, 4.0),  # level offset from 100
    st.floats(-4.0, 4.0),  # second level offset (stop-limit's limit)
    st.integers(0, 5),  # bar at which it is submitted
)


def _make(kind, asset, side, qty, d1, d2):
    name = ASSETS[asset]
    if kind == "market":
        return Order.market(name, side, qty)
    if kind == "limit":
        return Order.limit(name, side, qty, 100.0 + d1)
    if kind == "stop":
        return Order.stop(name, side, qty, 100.0 + d1)
    if kind == "stop_limit":
        return Order.stop_limit(name, side, qty, 100.0 + d1, 100.0 + d2)
    if kind == "limit_opg":  # an opening-auction limit: sees only the open
        return Order.limit(name, side, qty, 100.0 + d1, time_in_force=TimeInForce.OPG)
    if kind == "ioc":
        return Order.limit(name, side, qty, 100.0 + d1, time_in_force=TimeInForce.IOC)
    if kind == "moc":
        return Order.market_on_close(name, side, qty)
    return Order.market_on_open(name, side, qty)


def _run(orders, bars, sessions, price_column):
    broker = SimulationBroker(
        ASSETS,
        commission=PerShareCommission(),
        slippage=PercentageSlippage(0.0002),
        fill_timing=FillTiming.PRICE_COLUMN if price_column else FillTiming.NEXT_BAR_OPEN,
    )
    placed = []
    fills = []
    for t, (o, h, lo, c) in enumerate(bars):
        for spec in orders:
            if spec[-1] == t:
                placed.append(broker.submit(_make(*spec[:-1])))
        fills.extend(
            broker.process_bar(
                t,
                t * 60_000_000_000,
                o,
                h,
                lo,
                c,
                np.full(len(ASSETS), 1e6),
                session_start=sessions[t],
                fill_price=(o + lo) / 2.0 if price_column else None,
            )
        )
        fills.extend(broker.process_close(t, t * 60_000_000_000 + 1, c))
    return fills, [(x.status, x.filled_quantity, x.triggered, x.reason) for x in placed]


@st.composite
def _bars(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        o = np.array([100.0 + draw(st.floats(-5.0, 5.0)) for _ in ASSETS])
        up = np.array([draw(st.floats(0.0, 3.0)) for _ in ASSETS])
        down = np.array([draw(st.floats(0.0, 3.0)) for _ in ASSETS])
        c = o + np.array([draw(st.floats(-2.0, 2.0)) for _ in ASSETS])
        h = np.maximum(np.maximum(o, c), o + up)
        lo = np.minimum(np.minimum(o, c), o - down)
        if draw(st.booleans()):  # an asset without a bar
            k = draw(st.integers(0, len(ASSETS) - 1))
            o[k] = h[k] = lo[k] = c[k] = np.nan
        rows.append((o, h, lo, c))
    sessions = [True] + [draw(st.booleans()) for _ in range(n - 1)]
    return rows, sessions


@settings(max_examples=150, deadline=None)
@given(orders=st.lists(_order, min_size=1, max_size=12), data=_bars(), price_column=st.booleans())
def test_small_book_path_equals_array_path(orders, data, price_column):
    bars, sessions = data
    small = _run(orders, bars, sessions, price_column)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(broker_module, "_SMALL_PASS", -1)  # every book takes the array path
        array = _run(orders, bars, sessions, price_column)
    finally:
        mp.undo()
    assert small == array
