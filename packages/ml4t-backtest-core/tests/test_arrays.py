"""`all_distinct` against `np.unique` on random integer arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ml4t.backtest.core.arrays import all_distinct


@given(st.lists(st.integers(0, 30), max_size=40))
def test_all_distinct_agrees_with_unique(values: list[int]) -> None:
    a = np.array(values, dtype=np.int64)
    assert all_distinct(a, 31) == (np.unique(a).size == a.size)


def test_all_distinct_edge_cases() -> None:
    assert all_distinct(np.array([], dtype=np.intp), 0)
    assert all_distinct(np.array([4]), 5)
    assert not all_distinct(np.array([0, 0]), 1)
    assert all_distinct(np.array([0, 1, 2]).astype(np.int8), 3)  # any integer dtype
