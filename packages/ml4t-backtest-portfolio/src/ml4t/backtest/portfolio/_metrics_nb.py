"""Compiled twins of two metric passes, used only when numba is already loaded.

`metrics` computes the drawdown depth and duration and the sign split of the returns with
numpy; on a long series (a million minute bars) these one-pass loops are about ten times
faster. Importing numba costs about 60 MB and a second, so `metrics` uses them only in a
process that has loaded numba for something else (the signal fast path, priced orders); the
numbers are the same either way (tests/test_metrics.py compares them).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["drawdown_stats_nb", "split_signs_nb"]


@njit(cache=True, nogil=True)
def drawdown_stats_nb(r: npt.NDArray[np.float64]) -> tuple[float, int]:
    """Return (max drawdown, longest drawdown in bars) in one pass over the returns.

    The same operations as `metrics._growth` (cumulative product of ``1 + r``, running peak
    with np.maximum's NaN rule, ``value / peak - 1``), np.min's NaN rule and
    `metrics._longest_run` of ``drawdown < 0``.
    """
    value = 1.0
    peak = 1.0
    worst = np.inf
    nan = False
    longest = 0
    run = 0
    for t in range(r.shape[0]):
        value = value * (1.0 + r[t])
        if not (peak >= value or math.isnan(peak)):
            peak = value
        dd = value / peak - 1.0
        if math.isnan(dd):
            nan = True
        elif dd < worst:
            worst = dd
        if dd < 0.0:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    return (math.nan if nan else worst), longest


@njit(cache=True, nogil=True)
def split_signs_nb(
    x: npt.NDArray[np.float64], neg: npt.NDArray[np.float64], pos: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return ``(x[x < 0], x[x > 0])`` in one pass, in order, in the given buffers."""
    n_neg = 0
    n_pos = 0
    for v in x:  # branch-free: write always, advance only past a kept value
        neg[n_neg] = v
        n_neg += v < 0.0
        pos[n_pos] = v
        n_pos += v > 0.0
    return neg[:n_neg], pos[:n_pos]
