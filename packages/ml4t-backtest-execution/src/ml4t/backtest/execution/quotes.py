"""Quote-aware reference prices: buys pay the ask, sells receive the bid.

When the data carries bid and ask columns (passed as ``bid=`` / ``ask=`` rows), the broker
prices MARKET orders from them instead of from the bar's open or close. Auction orders
(market-on-open/close) take the auction price (open/close); limit and stop orders follow the
OHLC rules. Where one side of the quote is missing (NaN) the bar price is used. Without
quotes, model the spread with `SpreadSlippage` instead (never both, or the spread is paid
twice).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderSide

__all__ = ["quote_price", "quote_prices", "mid_price"]


def quote_price(side: OrderSide, bid: float, ask: float, fallback: float) -> float:
    """Return the ask for a BUY and the bid for a SELL, or `fallback` when that side is NaN.

    Example:
        >>> quote_price(OrderSide.BUY, 99.98, 100.02, 100.0)
        100.02
        >>> quote_price(OrderSide.SELL, float("nan"), 100.02, 100.0)
        100.0
    """
    value = ask if side is OrderSide.BUY else bid
    return fallback if math.isnan(value) else value


def quote_prices(
    side: npt.NDArray[np.int8],
    bid: npt.NDArray[np.float64],
    ask: npt.NDArray[np.float64],
    fallback: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Vectorised `quote_price` over aligned arrays (side +1 buy, -1 sell).

    Example:
        >>> quote_prices(np.array([1, -1], np.int8), np.array([9.9, 9.9]),
        ...              np.array([10.1, 10.1]), np.array([10.0, 10.0])).tolist()
        [10.1, 9.9]
    """
    chosen = np.where(side > 0, ask, bid)
    return np.where(np.isnan(chosen), fallback, chosen)


def mid_price(bid: float, ask: float) -> float:
    """Return ``(bid + ask) / 2``.

    Example:
        >>> mid_price(99.0, 101.0)
        100.0
    """
    return 0.5 * (bid + ask)
