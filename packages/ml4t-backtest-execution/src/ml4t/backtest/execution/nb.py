"""Numba kernels: array twins of the fill rules, run by the broker over all working orders.

Each kernel takes only numpy arrays and scalars and mirrors a Python function (named in its
comment); `tests/test_nb_parity.py` checks they agree element by element.

Integer codes are the `IntEnum` values: ``OrderType`` (MARKET=0, LIMIT=1, STOP=2,
STOP_LIMIT=3, TRAILING_STOP=4, MARKET_ON_OPEN=5, MARKET_ON_CLOSE=6) and ``MatchCode``
(NONE=0, MARKET=1, GAP=2, TOUCH=3, ARMED=4).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "match_orders_nb",
    "update_trailing_nb",
    "volume_share_slippage_1d_nb",
    "update_excursions_nb",
]


@njit(cache=True)
def _limit_nb(side: int, limit: float, o: float, h: float, lo: float) -> tuple[float, int]:
    if side > 0:
        if o <= limit:
            return o, 2
        if lo <= limit:
            return limit, 3
    else:
        if o >= limit:
            return o, 2
        if h >= limit:
            return limit, 3
    return np.nan, 0


@njit(cache=True)
def _stop_nb(side: int, stop: float, o: float, h: float, lo: float) -> tuple[float, int]:
    if side > 0:
        if o >= stop:
            return o, 2
        if h >= stop:
            return stop, 3
    else:
        if o <= stop:
            return o, 2
        if lo <= stop:
            return stop, 3
    return np.nan, 0


@njit(cache=True)
def match_orders_nb(  # noqa: PLR0917
    side: npt.NDArray[np.int8],
    order_type: npt.NDArray[np.int8],
    limit: npt.NDArray[np.float64],
    stop: npt.NDArray[np.float64],
    triggered: npt.NDArray[np.bool_],
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    market: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """Match each order against its bar row; twin of `fills.match_orders`.

    Returns ``(price, code)``: the fill price (NaN: none) and the `MatchCode` per order.
    """
    n = side.shape[0]
    price = np.full(n, np.nan)
    code = np.zeros(n, dtype=np.int8)
    for i in range(n):
        o = open_[i]
        if np.isnan(o):
            continue
        s = side[i]
        t = order_type[i]
        if t in (0, 5, 6):
            m = market[i]
            price[i] = o if np.isnan(m) else m
            code[i] = 1
        elif t == 1:
            p, c = _limit_nb(s, limit[i], o, high[i], low[i])
            price[i] = p
            code[i] = c
        elif t in (2, 4):
            if np.isnan(stop[i]):
                continue
            p, c = _stop_nb(s, stop[i], o, high[i], low[i])
            price[i] = p
            code[i] = c
        elif t == 3:
            if triggered[i]:
                p, c = _limit_nb(s, limit[i], o, high[i], low[i])
                price[i] = p
                code[i] = c
                continue
            p, c = _stop_nb(s, stop[i], o, high[i], low[i])
            if c == 0:
                continue
            if (limit[i] - p) * s >= 0.0:
                price[i] = p
                code[i] = c
                continue
            if c == 2:
                reached = low[i] <= limit[i] if s > 0 else high[i] >= limit[i]
                if reached:
                    price[i] = limit[i]
                    code[i] = 3
                    continue
            code[i] = 4
    return price, code


@njit(cache=True)
def update_trailing_nb(  # noqa: PLR0917
    side: npt.NDArray[np.int8],
    reference: npt.NDArray[np.float64],
    amount: npt.NDArray[np.float64],
    percent: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Move trailing references to new extremes; twin of `fills.update_trailing`.

    Returns ``(reference, level)`` per order.
    """
    n = side.shape[0]
    ref_out = reference.copy()
    level = np.full(n, np.nan)
    for i in range(n):
        s = side[i]
        p = high[i] if s < 0 else low[i]
        r = ref_out[i]
        if not np.isnan(p) and (np.isnan(r) or (p > r if s < 0 else p < r)):
            r = p
        ref_out[i] = r
        if np.isnan(r):
            continue
        if np.isnan(amount[i]):
            level[i] = r * (1.0 + percent[i]) if s > 0 else r * (1.0 - percent[i])
        else:
            level[i] = r + amount[i] if s > 0 else r - amount[i]
    return ref_out, level


@njit(cache=True)
def volume_share_slippage_1d_nb(
    price: npt.NDArray[np.float64],
    quantity: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    price_impact: float,
    volume_limit: float,
) -> npt.NDArray[np.float64]:
    """Per-unit volume-share slippage; twin of `VolumeShareSlippage.slippage`."""
    n = price.shape[0]
    out = np.empty(n)
    for i in range(n):
        v = volume[i]
        share = min(abs(quantity[i]) / v, volume_limit) if v > 0.0 else volume_limit
        out[i] = price[i] * price_impact * share * share
    return out


@njit(cache=True)
def update_excursions_nb(  # noqa: PLR0917
    n: int,
    asset_of: npt.NDArray[np.int64],
    is_long: npt.NDArray[np.bool_],
    best: npt.NDArray[np.float64],
    worst: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
) -> None:
    """Widen the best/worst price of open lots ``0..n-1`` in place with a bar's high/low.

    The kernel of the portfolio's `TradeTracker.update_excursions`: a long lot's best is
    ``fmax(best, high)`` and worst ``fmin(worst, low)``, a short lot's the reverse; NaN
    prices leave a lot unchanged (as ``np.fmax`` / ``np.fmin``).
    """
    for k in range(n):
        a = asset_of[k]
        h = high[a]
        lo = low[a]
        b = best[k]
        w = worst[k]
        if is_long[k]:
            b = np.fmax(b, h)
            w = np.fmin(w, lo)
        else:
            b = np.fmin(b, lo)
            w = np.fmax(w, h)
        best[k] = b
        worst[k] = w
