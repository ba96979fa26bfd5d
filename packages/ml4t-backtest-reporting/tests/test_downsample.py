"""Display downsampling: shape-preserving, bounded, never touching the stored data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.reporting.downsample import lttb_indices, stride_indices


def test_lttb_keeps_the_spike_and_both_ends() -> None:
    x = np.arange(10_000, dtype=float)
    y = np.zeros(10_000)
    y[7_321] = 50.0
    idx = lttb_indices(x, y, 100)
    assert idx[0] == 0
    assert idx[-1] == 9_999
    assert 7_321 in idx
    assert len(idx) == 100


def test_lttb_short_series_is_returned_whole() -> None:
    x = np.arange(5, dtype=float)
    assert lttb_indices(x, x, 10).tolist() == [0, 1, 2, 3, 4]


def test_lttb_rejects_too_few_points() -> None:
    with pytest.raises(ValueError, match="max_points"):
        lttb_indices(np.arange(10.0), np.arange(10.0), 2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 3_000), m=st.integers(3, 500), seed=st.integers(0, 1_000))
def test_lttb_indices_are_strictly_increasing_and_bounded(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n).cumsum()
    idx = lttb_indices(np.arange(n, dtype=float), y, m)
    assert len(idx) == min(n, m)
    assert (np.diff(idx) > 0).all()
    assert idx[0] == 0
    assert idx[-1] == n - 1


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5_000), m=st.integers(2, 600))
def test_stride_indices_bounded_with_ends(n: int, m: int) -> None:
    idx = stride_indices(n, m)
    assert len(idx) <= m
    assert idx[0] == 0
    assert idx[-1] == n - 1
    assert (np.diff(idx) > 0).all()
