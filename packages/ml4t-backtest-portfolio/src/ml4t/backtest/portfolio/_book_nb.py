"""Compiled twin of `Portfolio._book_arrays`, used only when numba is already loaded.

`Portfolio.apply_fills` books a batch of fills on distinct assets (one currency, no futures,
no settlement) as arrays: about 45 numpy calls, which on a 500-asset daily rebalance (about
54 fills a bar) cost far more than their arithmetic. This loop makes the same float
operations element by element (``np.minimum``/``np.maximum`` with their NaN rule; the cash
and the totals as the left-to-right running sums that ``np.add.accumulate`` makes), so the
book is the same bit for bit (tests/test_book_compiled.py). Importing it imports numba
(ADR 0008): `portfolio` imports it only when numba is already loaded.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["book_arrays_nb"]


@njit(cache=True, nogil=True, error_model="numpy")
def book_arrays_nb(  # noqa: PLR0917
    idx: npt.NDArray[np.int64],
    signed: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
    commission: npt.NDArray[np.float64],
    mult_all: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    avg: npt.NDArray[np.float64],
    realized: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64],
    totals: npt.NDArray[np.float64],
    zero: float,
) -> None:
    """Book fills on distinct rows `idx` in place, as `Portfolio._book_arrays`.

    `totals` holds ``[cash, costs, commission total, traded notional]`` on entry and on
    return.
    """
    cash = totals[0]
    costs = totals[1]
    charged_total = totals[2]
    notional = totals[3]
    for k in range(idx.shape[0]):
        i = idx[k]
        s = signed[k]
        p = price[k]
        c = commission[k]
        m = mult_all[i]
        old = qty[i]
        avg_old = avg[i]
        new = old + s
        abs_old = abs(old)
        abs_s = abs(s)
        abs_new = abs(new)
        long_old = old > 0.0
        same = old == 0.0 or long_old == (s > 0.0)
        avg_add = (avg_old * abs_old + p * abs_s) / abs_new
        # np.minimum / np.maximum: NaN when either is NaN
        if math.isnan(abs_s) or math.isnan(abs_old):
            lo = math.nan
            hi = math.nan
        else:
            lo = abs_s if abs_s < abs_old else abs_old
            hi = abs_old if abs_old > abs_s else abs_s
        real = lo * (p - avg_old) * m
        if old < 0.0:
            real = -real
        flat = (not same) and abs_new <= zero * hi
        flip = (not same) and (not flat) and ((new > 0.0) != long_old)
        if same:
            avg[i] = avg_add
        elif flat:
            avg[i] = 0.0
        elif flip:
            avg[i] = p
        else:
            avg[i] = avg_old
        qty[i] = 0.0 if flat else new
        if not same:
            realized[i] = realized[i] + real
        flow = s * p * m
        cash = cash + -flow
        cash = cash + -c
        if c != 0.0:
            costs = costs + c
            charged_total = charged_total + c
        notional = notional + abs(flow)
        if math.isnan(last[i]):
            last[i] = p
    totals[0] = cash
    totals[1] = costs
    totals[2] = charged_total
    totals[3] = notional
