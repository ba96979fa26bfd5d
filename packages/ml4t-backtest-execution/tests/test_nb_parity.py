import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.execution.fills import match_orders, update_trailing
from ml4t.backtest.execution.nb import (
    match_orders_nb,
    update_trailing_nb,
    volume_share_slippage_1d_nb,
)
from ml4t.backtest.execution.slippage import VolumeShareSlippage

price = st.floats(50.0, 150.0)
maybe_nan = st.one_of(st.just(np.nan), price)


@st.composite
def books(draw):
    n = draw(st.integers(1, 40))
    rows = []
    for _ in range(n):
        o = draw(st.one_of(st.just(np.nan), price))
        a, b = draw(price), draw(price)
        hi = max(a, b, o if o == o else a)
        lo = min(a, b, o if o == o else a)
        rows.append(
            (
                draw(st.sampled_from([1, -1])),
                draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6])),
                draw(price),
                draw(maybe_nan),
                draw(st.booleans()),
                o,
                hi,
                lo,
                draw(maybe_nan),
            )
        )
    cols = list(zip(*rows, strict=True))
    return (
        np.array(cols[0], np.int8),
        np.array(cols[1], np.int8),
        np.array(cols[2]),
        np.array(cols[3]),
        np.array(cols[4], np.bool_),
        np.array(cols[5]),
        np.array(cols[6]),
        np.array(cols[7]),
        np.array(cols[8]),
    )


@settings(max_examples=80, deadline=None)
@given(book=books())
def test_match_orders_nb_equals_python_twin(book):
    p_nb, c_nb = match_orders_nb(*book)
    p_py, c_py = match_orders(*book)
    np.testing.assert_array_equal(c_nb, c_py)
    np.testing.assert_array_equal(p_nb, p_py)  # NaN == NaN in this comparison


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([1, -1]),
            maybe_nan,
            st.one_of(st.just(np.nan), st.floats(0.01, 5.0)),
            st.floats(0.001, 0.5),
            maybe_nan,
            maybe_nan,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_update_trailing_nb_equals_python_twin(rows):
    side = np.array([r[0] for r in rows], np.int8)
    ref = np.array([r[1] for r in rows])
    amount = np.array([r[2] for r in rows])
    pct = np.array([np.nan if not np.isnan(r[2]) else r[3] for r in rows])
    high = np.array([r[4] for r in rows])
    low = np.array([r[5] for r in rows])
    ref_nb, level_nb = update_trailing_nb(side, ref, amount, pct, high, low)
    for i in range(len(rows)):
        r, lvl = update_trailing(int(side[i]), ref[i], amount[i], pct[i], high[i], low[i])
        np.testing.assert_equal(ref_nb[i], r)
        np.testing.assert_equal(level_nb[i], lvl)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0.01, 1e4), st.floats(0.0, 1e6), st.one_of(st.just(np.nan), st.floats(0, 1e7))
        ),
        min_size=1,
        max_size=30,
    )
)
def test_volume_share_kernel_equals_model(rows):
    model = VolumeShareSlippage(price_impact=0.2, volume_limit=0.05)
    p = np.array([r[0] for r in rows])
    q = np.array([r[1] for r in rows])
    v = np.array([r[2] for r in rows])
    out = volume_share_slippage_1d_nb(p, q, v, 0.2, 0.05)
    expected = [model.slippage(r[0], r[1], volume=r[2]) for r in rows]
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)
