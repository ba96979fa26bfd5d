"""The trades of `Strategy.rebalance`: target quantities from weights, as arrays.

`rebalance_trades` turns target weights into the orders that move the book there: the
target of each asset is ``weight * equity / (price * multiplier)`` rounded toward zero to
its quantity step, the trade is the target minus the held and pending quantity, and trades
worth less than the minimum trade value are skipped (a full exit always trades). It is about
55 numpy calls on arrays of the universe's width, which on a daily 500-asset rebalance cost
about as much as the arithmetic; when numba is already loaded in the process (ADR 0008: this
module never imports it), the compiled twin `_rebalance_nb.rebalance_trades_nb` does the
same float operations in one loop. `tests/test_rebalance_trades.py` checks them bit for bit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.compiled import compiled_twins

__all__ = ["EPS", "numpy_trades", "rebalance_trades"]

EPS = 1e-9  # tolerance when snapping a quantity to its grid (`round_quantity` uses it too)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def rebalance_trades(  # noqa: PLR0917 - internal, positional arrays
    target_w: FloatArray,
    equity: float,
    prices: FloatArray,
    mult: FloatArray,
    steps: FloatArray,
    current: FloatArray,
    min_trade_value: float,
) -> tuple[IntArray, FloatArray, int]:
    """Return the columns to trade, their signed quantities and the number of sells.

    Sells come first, then buys, each in column order.

    Args:
        target_w: Target weight per column (NaN: leave the column alone).
        equity: Equity the weights are fractions of.
        prices: Last price per column (not finite or <= 0: unpriced).
        mult: Contract multiplier per column.
        steps: Quantity step per column (<= 0: any quantity).
        current: Held plus pending quantity per column.
        min_trade_value: Trades worth less than this are skipped (full exits are not).

    Returns:
        ``(columns, quantities, n_sells)``; an unpriced column with a zero weight is
        flattened (``-current``) whatever the price the fill will find.
    """
    nb = compiled_twins("ml4t.backtest.strategy._rebalance_nb")
    if nb is not None:
        f64 = np.float64
        columns, quantities, n_sells = nb.rebalance_trades_nb(
            np.ascontiguousarray(target_w, dtype=f64),
            float(equity),
            np.ascontiguousarray(prices, dtype=f64),
            np.ascontiguousarray(mult, dtype=f64),
            np.ascontiguousarray(steps, dtype=f64),
            np.ascontiguousarray(current, dtype=f64),
            float(min_trade_value),
        )
        return columns, quantities, int(n_sells)
    return numpy_trades(target_w, equity, prices, mult, steps, current, min_trade_value)


def numpy_trades(  # noqa: PLR0917 - internal, positional arrays
    target_w: FloatArray,
    equity: float,
    prices: FloatArray,
    mult: FloatArray,
    steps: FloatArray,
    current: FloatArray,
    min_trade_value: float,
) -> tuple[IntArray, FloatArray, int]:
    """`rebalance_trades` with numpy alone (the reference of the compiled twin)."""
    valid = ~np.isnan(target_w)
    priced = np.isfinite(prices) & (prices > 0.0)
    stepped = steps > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(valid & priced, target_w * equity / (prices * mult), 0.0)
        units = np.floor(np.abs(raw) / np.where(stepped, steps, 1.0) + EPS)
        target = np.where(stepped, np.copysign(units * steps, raw), raw)
        target = np.where(raw == 0.0, 0.0, target)
        delta = target - current
        full_exit = valid & (target == 0.0) & (current != 0.0)  # always allowed
        big = np.abs(delta) * prices * mult >= min_trade_value
    trade = valid & priced & (delta != 0.0) & big
    # no price: a zero weight can still flatten (at whatever price the fill finds)
    trade |= full_exit & (priced | (target_w == 0.0))
    delta = np.where(priced, delta, -current)
    sells = (trade & (delta < 0)).nonzero()[0]
    buys = (trade & (delta > 0)).nonzero()[0]
    columns = np.concatenate([sells, buys]).astype(np.int64, copy=False)
    return columns, delta[columns], int(sells.shape[0])
