"""`Portfolio.check_orders`: the compiled twin answers as the numpy version, order by order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import (
    CashAccount,
    Portfolio,
    RegTMargin,
    _check_nb,  # noqa: F401 - loads numba: the twin runs
)

N_ASSETS = 5
order = st.tuples(
    st.integers(min_value=-1, max_value=N_ASSETS),  # rows; -1 and N_ASSETS are unknown
    st.sampled_from([1.0, -1.0]),
    st.one_of(
        st.floats(min_value=0.5, max_value=5_000.0),
        st.sampled_from([0.0, -3.0, float("nan"), float("inf"), 10.0]),
    ),
    st.one_of(
        st.floats(min_value=1.0, max_value=500.0),
        st.sampled_from([float("nan"), float("inf"), -20.0, 50.0]),
    ),
)
holding = st.tuples(st.integers(0, N_ASSETS - 1), st.sampled_from([-300.0, -5.0, 7.0, 400.0]))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(order, min_size=1, max_size=30),
    st.lists(holding, max_size=6),
    st.sampled_from(["cash", "regt", "regt_100"]),
    st.lists(st.booleans(), min_size=N_ASSETS, max_size=N_ASSETS),
    st.sampled_from([2_000.0, 50_000.0, 1e7]),
)
def test_compiled_check_matches_numpy(
    orders: list[tuple[int, float, float, float]],
    holdings: list[tuple[int, float]],
    policy: str,
    shortable: list[bool],
    cash: float,
) -> None:
    names = [f"A{j}" for j in range(N_ASSETS)]
    registry = AssetRegistry(
        [Equity(asset_id=n, shortable=s) for n, s in zip(names, shortable, strict=True)]
    )
    account = {"cash": CashAccount(), "regt": RegTMargin(), "regt_100": RegTMargin(1.0, 1.0)}
    pf = Portfolio(names, registry, initial_cash=cash, account=account[policy])
    for k, (a, q) in enumerate(holdings):
        if policy == "cash" and q < 0:
            continue
        side = OrderSide.BUY if q > 0 else OrderSide.SELL
        pf.apply_fill(FillEvent(0, k + 1, names[a], side, abs(q), 40.0))
    pf.mark(1, np.linspace(20.0, 60.0, N_ASSETS))
    rows = np.array([o[0] for o in orders], dtype=np.int64)
    sides = np.array([o[1] for o in orders])
    qty = np.array([o[2] for o in orders])
    price = np.array([o[3] for o in orders])
    assert pf._short_blocked is not None
    want = pf._check_orders_numpy(rows, sides, qty, price)
    got = pf.check_orders(rows, sides, qty, price)
    assert got.dtype == np.bool_
    assert got.tolist() == want.tolist()
