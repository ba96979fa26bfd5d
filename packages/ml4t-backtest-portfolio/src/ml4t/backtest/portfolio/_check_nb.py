"""Compiled twin of `Portfolio.check_orders`, used only when numba is already loaded.

For a batch of orders given as asset rows in a one-currency book whose short permissions
are known per asset: the same operations as the numpy form, element by element (numpy's
NaN rule of ``np.maximum``; ``x * fx`` with ``fx = 1.0`` kept), so the answers are the
same (tests/test_check_compiled.py). Importing it imports numba (ADR 0008, ADR 0011).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["check_orders_nb"]


@njit(cache=True, nogil=True, error_model="numpy")
def check_orders_nb(  # noqa: PLR0917
    idx: npt.NDArray[np.int64],
    sides: npt.NDArray[np.float64],
    quantities: npt.NDArray[np.float64],
    prices: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    blocked: npt.NDArray[np.bool_],
    mult: npt.NDArray[np.float64],
    init_rate: npt.NDArray[np.float64],
    init_pc: npt.NDArray[np.float64],
    threshold: float,
) -> npt.NDArray[np.bool_]:
    """Return `Portfolio.check_orders`'s answer per order (rows; one currency).

    `threshold` is ``available + 1e-9 * max(abs(available), 1.0)``: an opening order whose
    requirement exceeds it is refused.
    """
    n = idx.shape[0]
    n_assets = qty.shape[0]
    fx = 1.0
    ok = np.empty(n, dtype=np.bool_)
    for k in range(n):
        i = idx[k]
        known = 0 <= i < n_assets
        j = i if known else 0
        q = quantities[k]
        price = prices[k]
        good = known and math.isfinite(q) and q > 0.0 and math.isfinite(price)
        old = qty[j]
        signed = q * sides[k]
        new = old + signed
        if old == 0.0 or (old > 0.0) == (signed > 0.0):
            opening = q
        else:
            rest = q - abs(old)
            opening = rest if (rest > 0.0 or math.isnan(rest)) else 0.0  # np.maximum(rest, 0)
        opens = good and opening > 0.0
        if opens and new < 0.0 and blocked[j]:
            good = False
        if opens:
            need = opening * (abs(price) * mult[j] * fx * init_rate[j] + init_pc[j] * fx)
            if need > threshold:
                good = False
        ok[k] = good
    return ok
