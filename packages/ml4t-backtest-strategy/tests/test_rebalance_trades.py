"""`rebalance_trades`: the compiled twin gives the numpy version's trades bit for bit."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.strategy import _rebalance_nb
from ml4t.backtest.strategy._rebalance import numpy_trades, rebalance_trades

weights = st.one_of(
    st.just(0.0),
    st.just(float("nan")),
    st.floats(min_value=-0.3, max_value=0.3, allow_nan=False),
    st.sampled_from([0.02, -0.02, 1.0, -1.0, float("inf")]),
)
prices = st.one_of(
    st.floats(min_value=0.01, max_value=5_000.0),
    st.sampled_from([float("nan"), 0.0, -1.0, float("inf"), 100.0]),
)
steps = st.sampled_from([0.0, 1.0, 100.0, 0.001, -1.0, float("nan")])
quantities = st.one_of(
    st.just(0.0),
    st.floats(min_value=-5_000.0, max_value=5_000.0, allow_nan=False),
    st.integers(min_value=-500, max_value=500).map(float),
)
columns = st.tuples(weights, prices, st.sampled_from([1.0, 50.0, 0.5]), steps, quantities)


def _bits(out: tuple[np.ndarray, np.ndarray, int]) -> bytes:
    # pickled, so that NaN and -0.0 compare by their bits
    return pickle.dumps((out[0].astype(np.int64).tolist(), out[1].tobytes(), out[2]))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(columns, min_size=0, max_size=40),
    st.sampled_from([1_000_000.0, 0.0, -5_000.0, 123_456.789]),
    st.sampled_from([0.0, 100.0, 2_500.0, float("inf")]),
)
def test_compiled_twin_matches_numpy(
    cols: list[tuple[float, float, float, float, float]], equity: float, min_value: float
) -> None:
    arrays = [np.array([c[k] for c in cols], dtype=np.float64) for k in range(5)]
    w, p, m, s, cur = arrays
    expected = numpy_trades(w, equity, p, m, s, cur, min_value)
    got = _rebalance_nb.rebalance_trades_nb(w, equity, p, m, s, cur, min_value)
    assert _bits(got) == _bits(expected)
    # the dispatcher (numba is loaded in this process: the compiled twin), read-only views
    ro = [a.view() for a in arrays]
    for a in ro:
        a.flags.writeable = False
    assert _bits(rebalance_trades(ro[0], equity, *ro[1:], min_value)) == _bits(expected)


def test_numpy_trades_by_hand() -> None:
    # equity 10,000; 4 columns: buy 10% at 50 (20 units), sell to a -5% short at 20 from a
    # 10-unit long (-25 -10 = -35), a NaN weight (left alone), a 0 weight on an unpriced
    # holding (flattened: -7), a trade below the minimum value (skipped)
    w = np.array([0.1, -0.05, np.nan, 0.0, 0.0001])
    p = np.array([50.0, 20.0, 10.0, np.nan, 10.0])
    m = np.ones(5)
    s = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    cur = np.array([0.0, 10.0, 4.0, 7.0, 0.0])
    columns, quantities, n_sells = numpy_trades(w, 10_000.0, p, m, s, cur, 5.0)
    assert columns.tolist() == [1, 3, 0]
    assert quantities.tolist() == [-35.0, -7.0, 20.0]
    assert n_sells == 2


def test_dispatcher_does_not_import_numba() -> None:
    code = (
        "import sys, numpy as np\n"
        "from ml4t.backtest.strategy._rebalance import rebalance_trades\n"
        "out = rebalance_trades(np.array([0.5]), 100.0, np.array([10.0]), np.ones(1),"
        " np.ones(1), np.zeros(1), 0.0)\n"
        "assert out[0].tolist() == [0] and out[1].tolist() == [5.0], out\n"
        "assert 'numba' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
