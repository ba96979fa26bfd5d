"""The comparison rules of the suite, on hand-made fills."""

from __future__ import annotations

import collections
import collections.abc
from datetime import datetime

import polars as pl
from validation.common import RunResult, compare, fills_frame
from validation.compat import apply_backtrader_shim
from validation.signals import sma_cross, sma_cross_exact

D1 = datetime(2020, 1, 2)
D2 = datetime(2020, 1, 3)


def _run(rows: list[tuple[datetime, str, int, float, float]], equity: float) -> RunResult:
    return RunResult(engine="x", fills=fills_frame(rows), final_equity=equity)


def test_reversal_as_two_orders_merges_into_one_fill_at_the_weighted_price() -> None:
    # close 100 at 10.0 and open 100 short at 10.2 == one 200-unit sale at 10.1
    frame = fills_frame([(D1, "A", -1, 100.0, 10.0), (D1, "A", -1, 100.0, 10.2)])
    assert frame.rows() == [(D1, "A", -1, 200.0, 10.1)]


def test_identical_fills_and_equity_match() -> None:
    rows = [(D1, "A", 1, 10.0, 5.0), (D2, "A", -1, 10.0, 6.0)]
    c = compare(_run(rows, 1010.0), _run(rows, 1010.0))
    assert c.fills_equal
    assert c.trades_matched == 2
    assert c.relative_difference == 0.0


def test_a_price_off_by_a_cent_is_the_first_mismatch() -> None:
    peer = _run([(D1, "A", 1, 10.0, 5.0), (D2, "A", -1, 10.0, 6.0)], 1010.0)
    ours = _run([(D1, "A", 1, 10.0, 5.0), (D2, "A", -1, 10.0, 6.01)], 1010.1)
    c = compare(peer, ours)
    assert not c.fills_equal
    assert c.trades_matched == 1
    assert c.first_mismatch is not None
    assert c.first_mismatch.startswith("fill #1")
    # 0.1 / 1010 = 9.90e-5 > 2e-5
    assert abs(c.relative_difference - 0.1 / 1010.0) < 1e-15
    assert not c.value_within_tolerance


def test_a_missing_fill_is_reported() -> None:
    peer = _run([(D1, "A", 1, 10.0, 5.0), (D2, "A", -1, 10.0, 6.0)], 1010.0)
    ours = _run([(D1, "A", 1, 10.0, 5.0)], 1010.0)
    c = compare(peer, ours)
    assert c.first_mismatch == (
        "fill #1: only peer has {'timestamp': datetime.datetime(2020, 1, 3, 0, 0), "
        "'asset': 'A', 'side': -1, 'quantity': 10.0, 'price': 6.0}"
    )


def test_equity_within_two_thousandths_of_a_percent_passes() -> None:
    rows = [(D1, "A", 1, 10.0, 5.0)]
    c = compare(_run(rows, 100_000.0), _run(rows, 100_001.9))
    assert c.value_within_tolerance  # 1.9e-5 <= 2e-5
    c = compare(_run(rows, 100_000.0), _run(rows, 100_002.1))
    assert not c.value_within_tolerance


def test_sma_cross_marks_the_bar_where_the_difference_changes_sign() -> None:
    # SMA(1) - SMA(2) of 3, 2, 4, 1: diff = [-, -0.5, 1.0, -1.5]: entry at 2, exit at 3
    df = pl.DataFrame({"timestamp": [D1] * 4, "asset": ["A"] * 4, "close": [3.0, 2.0, 4.0, 1.0]})
    out = sma_cross(df, 1, 2)
    assert out["entry"].to_list() == [0.0, 0.0, 1.0, 0.0]
    assert out["exit"].to_list() == [0.0, 0.0, 0.0, 1.0]


def test_exact_cross_looks_through_a_zero_difference_like_backtrader() -> None:
    # diff of SMA(1)-SMA(2) on 2, 1, 1, 3: [-, -0.5, 0.0, 1.0]; the previous non-zero
    # difference (-0.5) makes bar 3 a cross above; the plain rule misses it
    df = pl.DataFrame({"timestamp": [D1] * 4, "asset": ["A"] * 4, "close": [2.0, 1.0, 1.0, 3.0]})
    assert sma_cross_exact(df, 1, 2)["entry"].to_list() == [0.0, 0.0, 0.0, 1.0]
    assert sma_cross(df, 1, 2)["entry"].to_list() == [0.0, 0.0, 0.0, 0.0]


def test_backtrader_shim_restores_collections_iterable() -> None:
    apply_backtrader_shim()
    assert collections.Iterable is collections.abc.Iterable  # type: ignore[attr-defined]
