"""`TradeTracker.on_fills` leaves exactly the state a loop of `on_fill` calls leaves."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ml4t.backtest.portfolio import LotMatching, TradeTracker

N_ASSETS = 4
Fill = tuple[int, float, float, float, float]  # asset row, signed qty, price, commission, slip

quantities = st.one_of(
    st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 0.0]),
    st.floats(min_value=0.001, max_value=50.0, allow_nan=False, allow_infinity=False),
).flatmap(lambda q: st.sampled_from([q, -q]))
fills: st.SearchStrategy[Fill] = st.tuples(
    st.integers(min_value=0, max_value=N_ASSETS - 1),
    quantities,
    st.floats(min_value=1.0, max_value=200.0, allow_nan=False, allow_infinity=False),
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=5.0)),
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=2.0)),
)
# one bar: a batch of fills (assets may repeat), then maybe a high/low per asset
bars = st.tuples(
    st.lists(fills, max_size=12),
    st.one_of(
        st.none(),
        st.lists(
            st.tuples(st.floats(min_value=0.0, max_value=30.0), st.floats(0.0, 30.0)),
            min_size=N_ASSETS,
            max_size=N_ASSETS,
        ),
    ),
)


def _state(tt: TradeTracker) -> tuple[Any, ...]:
    # every slot of the arrays (stale ones past `_n` too), bit for bit
    return (
        [[list(lot) for lot in per_asset] for per_asset in tt._lots],
        [list(lot) for lot in tt._slot_lot],
        tt._n,
        tt._best.tobytes(),
        tt._worst.tobytes(),
        tt._asset_of.tobytes(),
        tt._is_long.tobytes(),
    )


def _assert_same(many: TradeTracker, one: TradeTracker) -> None:
    # pickled, so that NaN and -0.0 compare by their bits
    assert pickle.dumps(_state(many)) == pickle.dumps(_state(one)), (_state(many), _state(one))
    assert pickle.dumps(many._closed) == pickle.dumps(one._closed), (many._closed, one._closed)


def _run(
    stream: list[tuple[list[Fill], list[tuple[float, float]] | None]],
    matching: LotMatching,
    multipliers: list[float] | None,
    capacity: int,
) -> None:
    names = [f"A{i}" for i in range(N_ASSETS)]
    one = TradeTracker(
        names, matching=matching, multipliers=multipliers, capacity=capacity, compile_after=None
    )
    many = TradeTracker(
        names, matching=matching, multipliers=multipliers, capacity=capacity, compile_after=None
    )
    for bar, (batch, excursion) in enumerate(stream):
        ts = 1_000 * (bar + 1)
        tag = f"bar{bar}"
        for row, q, p, c, s in batch:
            one.on_fill(row, q, p, ts, c, s, tag)
        many.on_fills(
            np.array([f[0] for f in batch], dtype=np.int64),
            np.array([f[1] for f in batch], dtype=np.float64),
            np.array([f[2] for f in batch], dtype=np.float64),
            ts,
            np.array([f[3] for f in batch], dtype=np.float64),
            np.array([f[4] for f in batch], dtype=np.float64),
            tag,
        )
        _assert_same(many, one)
        if excursion is not None:
            mid = 100.0
            high = np.array([mid + up for up, _ in excursion])
            low = np.array([mid - down for _, down in excursion])
            high[0] = np.nan  # an asset without a bar
            one.update_excursions(high, low)
            many.update_excursions(high, low)
        one.advance_bar()
        many.advance_bar()
    assert_frame_equal(many.to_polars(), one.to_polars(), check_exact=True)
    assert_frame_equal(many.open_trades(), one.open_trades(), check_exact=True)
    _assert_same(many, one)


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(bars, max_size=8),
    matching=st.sampled_from(list(LotMatching)),
    multipliers=st.one_of(st.none(), st.just([1.0, 50.0, 0.5, 1.0])),
    capacity=st.sampled_from([1, 2, 256]),
)
def test_on_fills_matches_a_loop_of_on_fill(
    stream: list[tuple[list[Fill], list[tuple[float, float]] | None]],
    matching: LotMatching,
    multipliers: list[float] | None,
    capacity: int,
) -> None:
    _run(stream, matching, multipliers, capacity)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    matching=st.sampled_from(list(LotMatching)),
)
def test_on_fills_matches_on_a_long_short_rebalance_flow(seed: int, matching: LotMatching) -> None:
    # many bars of distinct-asset rebalances: reversals, exits, adds, partial closes
    rng = np.random.default_rng(seed)
    n_assets = 12
    pos = np.zeros(n_assets)
    stream: list[tuple[list[Fill], list[tuple[float, float]] | None]] = []
    for _ in range(30):
        rows = rng.choice(n_assets, 5, replace=False)
        target = np.where(
            rng.random(5) < 0.25, 0.0, np.sign(rng.normal(size=5)) * rng.integers(1, 20, 5)
        )
        q = target - pos[rows]
        pos[rows] = target
        price = rng.uniform(50.0, 150.0, 5)
        stream.append(
            (
                [
                    (int(r), float(x), float(p), abs(float(x)) * 0.01, 0.0)
                    for r, x, p in zip(rows, q, price, strict=True)
                ],
                [(float(u), float(d)) for u, d in rng.uniform(0.0, 10.0, (N_ASSETS, 2))],
            )
        )
    names = [f"A{i}" for i in range(n_assets)]
    one = TradeTracker(names, matching=matching, capacity=2, compile_after=None)
    many = TradeTracker(names, matching=matching, capacity=2, compile_after=None)
    for bar, (batch, _) in enumerate(stream):
        for row, x, p, c, s in batch:
            one.on_fill(row, x, p, bar, c, s, "rebalance")
        arr = np.array(batch, dtype=np.float64).reshape(-1, 5)
        many.on_fills(
            arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], bar, arr[:, 3], arr[:, 4], "rebalance"
        )
        high = rng.uniform(100.0, 160.0, n_assets)
        low = rng.uniform(40.0, 100.0, n_assets)
        one.update_excursions(high, low)
        many.update_excursions(high, low)
        one.advance_bar()
        many.advance_bar()
        _assert_same(many, one)
    assert_frame_equal(many.to_polars(), one.to_polars(), check_exact=True)


def test_on_fills_edge_values() -> None:
    # NaN and infinite quantities, a zero price, a zero multiplier: the same as on_fill
    batch: list[Fill] = [
        (0, 5.0, 0.0, 1.0, 0.0),
        (0, -2.0, 10.0, 0.0, 0.0),
        (1, float("nan"), 10.0, 1.0, 0.0),
        (1, 3.0, 11.0, 0.0, 0.0),
        (2, float("inf"), 10.0, 0.0, 0.0),
        (2, 4.0, 10.0, 0.0, 0.0),
        (2, -4.0, 12.0, -0.0, 0.0),
        (3, 1e-300, 10.0, 0.0, 0.0),
        (3, -1e-300, 9.0, 0.0, 0.0),
        (0, -10.0, 9.0, 2.0, 1.0),
    ]
    for matching in LotMatching:
        one = TradeTracker(
            ["A", "B", "C", "D"], matching=matching, multipliers=[1, 1, 0, 1], compile_after=None
        )
        many = TradeTracker(
            ["A", "B", "C", "D"], matching=matching, multipliers=[1, 1, 0, 1], compile_after=None
        )
        for row, q, p, c, s in batch:
            one.on_fill(row, q, p, 7, c, s, "x")
        cols = list(zip(*batch, strict=True))
        many.on_fills(
            np.array(cols[0], dtype=np.int64),
            np.array(cols[1]),
            np.array(cols[2]),
            7,
            np.array(cols[3]),
            np.array(cols[4]),
            "x",
        )
        _assert_same(many, one)
        assert_frame_equal(many.to_polars(), one.to_polars(), check_exact=True)


def test_on_fills_with_no_fills_changes_nothing() -> None:
    tt = TradeTracker(["A"], compile_after=None)
    tt.on_fill(0, 1.0, 10.0, 1)
    before = _state(tt)
    empty = np.empty(0)
    tt.on_fills(np.empty(0, dtype=np.int64), empty, empty, 2, empty, empty, "x")
    assert pickle.dumps(_state(tt)) == pickle.dumps(before)
    assert tt.to_polars().height == 0
    assert isinstance(tt.to_polars(), pl.DataFrame)
