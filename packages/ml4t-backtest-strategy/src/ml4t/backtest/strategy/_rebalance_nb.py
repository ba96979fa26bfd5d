"""Compiled twin of `_rebalance.rebalance_trades`, used only when numba is already loaded.

One loop over the columns with the same float operations, element by element, as the numpy
expressions of `rebalance_trades` (products and quotients in the same order, ``floor``,
``copysign``; NaN compares false as in numpy), so the trades are the same bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from ml4t.backtest.strategy._rebalance import EPS

__all__ = ["rebalance_trades_nb"]


@njit(cache=True, nogil=True, error_model="numpy")
def rebalance_trades_nb(  # noqa: PLR0917
    target_w: npt.NDArray[np.float64],
    equity: float,
    prices: npt.NDArray[np.float64],
    mult: npt.NDArray[np.float64],
    steps: npt.NDArray[np.float64],
    current: npt.NDArray[np.float64],
    min_trade_value: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
    """Return ``(columns, quantities, n_sells)`` as `rebalance_trades` does."""
    n = target_w.shape[0]
    delta_of = np.empty(n)
    side = np.zeros(n, dtype=np.int8)  # -1 sell, +1 buy, 0 no trade
    n_sells = 0
    n_buys = 0
    for j in range(n):
        w = target_w[j]
        p = prices[j]
        m = mult[j]
        s = steps[j]
        cur = current[j]
        valid = not math.isnan(w)
        priced = math.isfinite(p) and p > 0.0
        raw = w * equity / (p * m) if valid and priced else 0.0
        stepped = s > 0
        units = np.floor(abs(raw) / (s if stepped else 1.0) + EPS)
        target = math.copysign(units * s, raw) if stepped else raw
        if raw == 0.0:
            target = 0.0
        delta = target - cur
        full_exit = valid and target == 0.0 and cur != 0.0
        big = abs(delta) * p * m >= min_trade_value
        trade = valid and priced and delta != 0.0 and big
        if full_exit and (priced or w == 0.0):
            trade = True
        if not priced:
            delta = -cur
        if trade:
            if delta < 0:
                side[j] = -1
                n_sells += 1
            elif delta > 0:
                side[j] = 1
                n_buys += 1
        delta_of[j] = delta
    columns = np.empty(n_sells + n_buys, dtype=np.int64)
    quantities = np.empty(n_sells + n_buys)
    k_sell = 0
    k_buy = n_sells
    for j in range(n):
        if side[j] < 0:
            columns[k_sell] = j
            quantities[k_sell] = delta_of[j]
            k_sell += 1
        elif side[j] > 0:
            columns[k_buy] = j
            quantities[k_buy] = delta_of[j]
            k_buy += 1
    return columns, quantities, n_sells
