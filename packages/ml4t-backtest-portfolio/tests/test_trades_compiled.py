"""`TradeTracker`'s compiled mode gives the Python mode's results bit for bit.

Three trackers take the same random stream of operations (batches of fills with repeated
assets and zero, fractional, NaN and infinite quantities, single fills, excursions with NaN
highs and lows, bars, splits, symbol transfers): one in the Python mode, one compiled from
the start and one switching at a random step. Their closed trades, open lots and counts must
be the same to the last bit (frames compared by their pickles, so NaN and -0.0 count).
"""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ml4t.backtest.portfolio.trades as trades
from ml4t.backtest.portfolio import LotMatching, TradeTracker

N_ASSETS = 4
TAGS = ("", "rebalance", "stop", "take_profit")
Fill = tuple[int, float, float, float, float]  # asset row, signed qty, price, commission, slip

quantities = st.one_of(
    st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 0.0, -0.0, 1e-9, 1e-300]),
    st.floats(min_value=0.001, max_value=50.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([float("nan"), float("inf")]),
).flatmap(lambda q: st.sampled_from([q, -q]))
prices = st.one_of(
    st.floats(min_value=1.0, max_value=200.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, float("nan"), float("inf"), 100.0]),
)
fills: st.SearchStrategy[Fill] = st.tuples(
    st.integers(min_value=0, max_value=N_ASSETS - 1),
    quantities,
    prices,
    st.one_of(st.just(0.0), st.just(-0.0), st.floats(min_value=0.0, max_value=5.0)),
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=2.0)),
)
ranges = st.lists(
    st.tuples(
        st.one_of(st.floats(min_value=0.0, max_value=30.0), st.just(float("nan"))),
        st.one_of(st.floats(min_value=0.0, max_value=30.0), st.just(float("nan"))),
    ),
    min_size=N_ASSETS,
    max_size=N_ASSETS,
)
assets = st.integers(min_value=0, max_value=N_ASSETS - 1)
tags = st.sampled_from(TAGS)
operations = st.one_of(
    st.tuples(st.just("fills"), st.lists(fills, max_size=12), tags),
    st.tuples(st.just("fills"), st.lists(fills, max_size=12), tags),  # (twice as likely)
    st.tuples(st.just("fill"), fills, tags),
    st.tuples(st.just("excursions"), ranges),
    st.tuples(st.just("bar")),
    st.tuples(st.just("split"), assets, st.sampled_from([2.0, 0.5, 3.0, 4])),
    st.tuples(st.just("transfer"), assets, assets),
)


def _apply(tt: TradeTracker, op: tuple[Any, ...], step: int) -> None:
    kind = op[0]
    ts = 1_000 * (step + 1)
    if kind == "fills":
        batch: list[Fill] = op[1]
        tt.on_fills(
            np.array([f[0] for f in batch], dtype=np.int64),
            np.array([f[1] for f in batch], dtype=np.float64),
            np.array([f[2] for f in batch], dtype=np.float64),
            ts,
            np.array([f[3] for f in batch], dtype=np.float64),
            np.array([f[4] for f in batch], dtype=np.float64),
            op[2],
        )
    elif kind == "fill":
        row, q, p, c, s = op[1]
        tt.on_fill(row, q, p, ts, c, s, op[2])
    elif kind == "excursions":
        mid = 100.0
        tt.update_excursions(
            np.array([mid + up for up, _ in op[1]]), np.array([mid - down for _, down in op[1]])
        )
    elif kind == "bar":
        tt.advance_bar()
    elif kind == "split":
        tt.split(op[1], op[2])
    else:
        tt.transfer(op[1], op[2])


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _snapshot(tt: TradeTracker) -> tuple[Any, ...]:
    # everything public, pickled (a frame's pickle holds its buffers: NaN and -0.0 by bits)
    return (
        pickle.dumps(tt.to_polars()),
        pickle.dumps(tt.open_trades()),
        [_bits(tt.open_quantity(a)) for a in range(len(tt._assets))],
        tt.open_lot_count,
        tt.bar,
    )


def _assert_same(got: TradeTracker, want: TradeTracker) -> None:
    a = _snapshot(got)
    b = _snapshot(want)
    if a != b:  # a readable failure
        from polars.testing import assert_frame_equal  # noqa: PLC0415

        assert_frame_equal(got.to_polars(), want.to_polars(), check_exact=True)
        assert_frame_equal(got.open_trades(), want.open_trades(), check_exact=True)
    assert a == b


def _trackers(
    matching: LotMatching, multipliers: list[float] | None, capacity: int
) -> tuple[TradeTracker, TradeTracker, TradeTracker]:
    names = [f"A{i}" for i in range(N_ASSETS)]
    kw: dict[str, Any] = {
        "matching": matching,
        "multipliers": multipliers,
        "capacity": capacity,
        "compile_after": None,
    }
    py = TradeTracker(names, **kw)
    compiled = TradeTracker(names, **kw)
    assert compiled.use_compiled()
    assert compiled.use_compiled()  # idempotent
    switching = TradeTracker(names, **kw)
    return py, compiled, switching


@settings(max_examples=400, deadline=None)
@given(
    ops=st.lists(operations, max_size=30),
    switch_at=st.integers(min_value=0, max_value=30),
    matching=st.sampled_from(list(LotMatching)),
    multipliers=st.one_of(st.none(), st.just([1.0, 50.0, 0.5, 0.0])),
    capacity=st.sampled_from([1, 2, 256]),
)
def test_compiled_mode_equals_the_python_mode(
    ops: list[tuple[Any, ...]],
    switch_at: int,
    matching: LotMatching,
    multipliers: list[float] | None,
    capacity: int,
) -> None:
    py, compiled, switching = _trackers(matching, multipliers, capacity)
    assert not py.is_compiled
    assert compiled.is_compiled
    for step, op in enumerate(ops):
        if step == switch_at:
            assert switching.use_compiled()
        for tt in (py, compiled, switching):
            _apply(tt, op, step)
        assert compiled.open_lot_count == py.open_lot_count == switching.open_lot_count
    assert not py.is_compiled
    _assert_same(compiled, py)
    _assert_same(switching, py)
    # and after a pickle round trip, both modes go on alike
    copies = [pickle.loads(pickle.dumps(tt)) for tt in (py, compiled, switching)]
    assert [type(c) for c in copies] == [type(tt) for tt in (py, compiled, switching)]
    for step, op in enumerate(ops[:8]):
        for tt in copies:
            _apply(tt, op, 100 + step)
    _assert_same(copies[1], copies[0])
    _assert_same(copies[2], copies[0])


def _flow(seed: int, matching: LotMatching, bars: int) -> None:
    # many bars of rebalances of distinct assets: reversals, exits, adds, partial closes;
    # the arrays grow many times (capacity 1)
    rng = np.random.default_rng(seed)
    n_assets = 12
    pos = np.zeros(n_assets)
    names = [f"A{i}" for i in range(n_assets)]
    py = TradeTracker(names, matching=matching, capacity=1, compile_after=None)
    compiled = TradeTracker(names, matching=matching, capacity=1, compile_after=None)
    compiled.use_compiled()
    switching = TradeTracker(names, matching=matching, capacity=1, compile_after=None)
    switch_at = int(rng.integers(0, bars))
    for bar in range(bars):
        if bar == switch_at:
            switching.use_compiled()
        rows = rng.choice(n_assets, 6, replace=False)
        target = np.where(
            rng.random(6) < 0.25, 0.0, np.sign(rng.normal(size=6)) * rng.integers(1, 20, 6)
        )
        q = target - pos[rows]
        pos[rows] = target
        price = rng.uniform(50.0, 150.0, 6)
        commission = np.abs(q) * 0.01
        high = rng.uniform(100.0, 160.0, n_assets)
        low = rng.uniform(40.0, 100.0, n_assets)
        for tt in (py, compiled, switching):
            tt.on_fills(rows, q, price, bar, commission, np.zeros(6), "rebalance")
            tt.update_excursions(high, low)
            tt.advance_bar()
    _assert_same(compiled, py)
    _assert_same(switching, py)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    matching=st.sampled_from(list(LotMatching)),
)
def test_compiled_mode_on_a_long_short_rebalance_flow(seed: int, matching: LotMatching) -> None:
    _flow(seed, matching, 40)


@pytest.mark.parametrize("matching", list(LotMatching))
@pytest.mark.parametrize("seed", range(3))
def test_closed_trades_over_many_chunks(
    seed: int, matching: LotMatching, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chunks just large enough for the next batch: a new chunk almost every bar
    monkeypatch.setattr(trades, "_closed_capacity", lambda need: need + seed)
    _flow(seed, matching, 200)


def test_the_switch_carries_over_the_trades_and_lots_in_order() -> None:
    for matching in LotMatching:
        py = TradeTracker(["A", "B"], matching=matching, compile_after=None)
        switching = TradeTracker(["A", "B"], matching=matching, compile_after=None)
        for tt in (py, switching):
            tt.on_fill(0, 10.0, 100.0, 1, commission=1.0)
            tt.on_fill(0, 5.0, 101.0, 2)
            tt.on_fill(1, -5.0, 50.0, 2)
            tt.on_fill(0, -3.0, 102.0, 3, tag="first")
            tt.on_fill(1, 2.0, 49.0, 3, tag="second")
        switching.use_compiled()
        _assert_same(switching, py)
        for tt in (py, switching):
            tt.on_fills(
                np.array([0, 1, 0]),
                np.array([-4.0, 10.0, 20.0]),
                np.array([103.0, 48.0, 104.0]),
                4,
                np.zeros(3),
                np.zeros(3),
                "third",
            )
        _assert_same(switching, py)
        assert switching.to_polars().get_column("exit_reason").to_list()[:2] == [
            "first",
            "second",
        ]


def _batch(tt: TradeTracker, rows: list[int], qty: list[float], ts: int) -> None:
    n = len(rows)
    tt.on_fills(
        np.array(rows, dtype=np.int64),
        np.array(qty),
        np.full(n, 100.0),
        ts,
        np.zeros(n),
        np.zeros(n),
        "x",
    )


def _without_numba(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    # `trades` sees a process without numba (the real `sys.modules` stays as it is)
    modules = {k: v for k, v in sys.modules.items() if k != "numba"} | extra
    monkeypatch.setattr(trades, "sys", SimpleNamespace(modules=modules))


def test_switches_after_compile_after_fills_through_on_fills(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_numba(monkeypatch)  # (numba not loaded: the fills are counted)
    tt = TradeTracker(["A", "B"], compile_after=5)
    py = TradeTracker(["A", "B"], compile_after=None)
    for _ in range(10):  # single fills never switch
        tt.on_fill(0, 1.0, 100.0, 0)
        py.on_fill(0, 1.0, 100.0, 0)
    assert not tt.is_compiled
    _batch(tt, [0, 1], [1.0, -1.0], 1)
    _batch(py, [0, 1], [1.0, -1.0], 1)
    assert not tt.is_compiled
    _batch(tt, [0, 1], [-1.0, 1.0], 2)
    _batch(py, [0, 1], [-1.0, 1.0], 2)
    assert not tt.is_compiled  # 4 fills
    _batch(tt, [0], [-3.0], 3)
    _batch(py, [0], [-3.0], 3)
    assert tt.is_compiled  # 5 fills
    _batch(tt, [0, 1], [-2.0, 5.0], 4)
    _batch(py, [0, 1], [-2.0, 5.0], 4)
    _assert_same(tt, py)


def test_compiled_from_the_first_batch_when_numba_is_loaded() -> None:
    import numba  # noqa: F401, PLC0415 - loaded in this process

    tt = TradeTracker(["A"])
    tt.on_fill(0, 1.0, 100.0, 0)
    assert not tt.is_compiled  # single fills stay in the Python mode
    _batch(tt, [0], [1.0], 1)
    assert tt.is_compiled
    never = TradeTracker(["A"], compile_after=None)
    _batch(never, [0], [1.0], 1)
    assert not never.is_compiled


def test_a_failed_numba_import_keeps_the_python_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    kernels = "ml4t.backtest.portfolio._trades_nb"
    _without_numba(monkeypatch, **{kernels: None})
    monkeypatch.setitem(sys.modules, kernels, None)  # importing the kernels: ImportError
    tt = TradeTracker(["A"], compile_after=1)
    _batch(tt, [0], [1.0], 1)
    _batch(tt, [0], [-1.0], 2)
    assert not tt.is_compiled
    assert not tt.use_compiled()
    assert tt.to_polars().height == 1


def test_compiled_mode_rejects_rows_outside_the_assets() -> None:
    tt = TradeTracker(["A", "B"], compile_after=None)
    tt.use_compiled()
    with pytest.raises(IndexError):
        _batch(tt, [0, 2], [1.0, 1.0], 1)
    with pytest.raises(IndexError):
        tt.on_fill(2, 1.0, 100.0, 1)
    assert tt.open_lot_count == 0


def test_a_small_run_does_not_import_numba() -> None:
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import ml4t.backtest.portfolio as p
        tt = p.TradeTracker(["A", "B"])
        for t in range(100):
            tt.on_fills(np.array([0, 1]), np.array([1.0, -1.0]) * (-1) ** t,
                        np.array([10.0, 11.0]), t, np.zeros(2), np.zeros(2), "x")
            tt.on_fill(0, 1.0, 10.0, t)
        tt.update_excursions(np.array([12.0, 12.0]), np.array([9.0, 9.0]))
        assert tt.to_polars().height > 0
        print("numba" in sys.modules, tt.is_compiled)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False"]
