"""`Portfolio._book_arrays`: the compiled twin books what the numpy version books, bit for bit."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.portfolio import Portfolio
from ml4t.backtest.portfolio._book_nb import book_arrays_nb

N_ASSETS = 6
quantity = st.one_of(
    st.sampled_from([1.0, 5.0, 10.0, 100.0, 1e-13]),
    st.floats(min_value=1e-6, max_value=1e4, allow_nan=False, allow_infinity=False),
).flatmap(lambda q: st.sampled_from([q, -q]))
fill = st.tuples(
    quantity,
    st.one_of(st.floats(0.01, 500.0), st.sampled_from([0.0, 100.0, float("nan")])),
    st.one_of(st.just(0.0), st.floats(0.0, 10.0), st.just(float("nan"))),
)
# a batch: fills on distinct assets (in a random order)
batch = st.permutations(list(range(N_ASSETS))).flatmap(
    lambda order: st.lists(fill, min_size=1, max_size=N_ASSETS).map(
        lambda fs: [(order[k], *f) for k, f in enumerate(fs)]
    )
)


def _bits(x: Any) -> bytes:
    # the bits of every value, -0.0 included; every NaN counts as one (the sign of a NaN
    # is not specified: LLVM may compile ``x + -y`` as ``x - y``, which keeps y's sign)
    a = np.asarray(x, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).tobytes()


def _state(pf: Portfolio) -> bytes:
    # every array and total the booking touches
    parts: list[Any] = [
        _bits(pf._qty),
        _bits(pf._avg),
        _bits(pf._realized),
        _bits(pf._last),
        _bits(pf._cash),
        _bits(pf._costs),
        _bits([pf.totals["commission"], pf.totals["traded_notional"]]),
    ]
    return pickle.dumps(parts)


@settings(max_examples=300, deadline=None)
@given(st.lists(batch, min_size=1, max_size=8), st.sampled_from([1.0, 50.0]))
def test_compiled_booking_matches_numpy(
    batches: list[list[tuple[int, float, float, float]]], mult: float
) -> None:
    names = [f"A{j}" for j in range(N_ASSETS)]
    ref = Portfolio(names, initial_cash=1e6)
    got = Portfolio(names, initial_cash=1e6)
    for pf in (ref, got):
        pf._mult[:] = mult
    for b in batches:
        idx = np.array([f[0] for f in b], dtype=np.int64)
        signed = np.array([f[1] for f in b])
        price = np.array([f[2] for f in b])
        commission = np.array([f[3] for f in b])
        ref._book_arrays_numpy(idx, signed, price, commission)
        got._book_arrays(idx, signed, price, commission)  # numba is loaded: the twin
        assert _state(got) == _state(ref)


def test_kernel_by_hand() -> None:
    # buy 10 at 100 on a flat book, then sell 4 at 110 (realizes 40), commission 1 each
    qty, avg, realized = np.zeros(1), np.zeros(1), np.zeros(1)
    last = np.full(1, np.nan)
    totals = np.array([1_000.0, 0.0, 0.0, 0.0])
    args = (np.ones(1), qty, avg, realized, last, totals, 1e-12)
    book_arrays_nb(np.zeros(1, np.int64), np.array([10.0]), np.array([100.0]), np.ones(1), *args)
    book_arrays_nb(np.zeros(1, np.int64), np.array([-4.0]), np.array([110.0]), np.ones(1), *args)
    assert qty.tolist() == [6.0]
    assert avg.tolist() == [100.0]
    assert realized.tolist() == [40.0]
    assert last.tolist() == [100.0]
    assert totals.tolist() == [1_000.0 - 1_000.0 - 1.0 + 440.0 - 1.0, 2.0, 2.0, 1_440.0]


def test_portfolio_does_not_import_numba_to_book() -> None:
    code = (
        "import sys, numpy as np\n"
        "from ml4t.backtest.portfolio import Portfolio\n"
        "pf = Portfolio(['A', 'B'], initial_cash=1e4)\n"
        "pf._book_arrays(np.array([0, 1]), np.array([2.0, -1.0]), np.array([10.0, 5.0]),"
        " np.zeros(2))\n"
        "assert pf.cash == 1e4 - 20.0 + 5.0, pf.cash\n"
        "assert 'numba' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
