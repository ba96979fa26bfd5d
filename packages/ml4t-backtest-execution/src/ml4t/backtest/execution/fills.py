"""Fill rules for bars: timing, OHLC matching of each order type and the intrabar path.

These are the pure Python rules; `ml4t.backtest.execution.nb` holds their array twins that
the broker runs for all working orders at once (a parity test keeps them identical).

Matching one order against one bar (``o, h, l`` = open, high, low; ``m`` = the market
price for market orders: the open, a chosen price column, or the bid/ask):

============== ======================================== =================================
order          fills when                               at
============== ======================================== =================================
MARKET/MOO/MOC always (bar exists)                      ``m``
BUY LIMIT L    ``o <= L`` (gap through) / ``l <= L``    ``o`` (price improvement) / ``L``
SELL LIMIT L   ``o >= L`` / ``h >= L``                  ``o`` / ``L``
BUY STOP S     ``o >= S`` (gap through) / ``h >= S``    ``o`` (worse than S) / ``S``
SELL STOP S    ``o <= S`` / ``l <= S``                  ``o`` / ``S``
STOP LIMIT     trigger as STOP at price ``p``; fills at ``p`` if ``p`` is within the limit;
               if triggered at the open but ``p`` is outside the limit, the rest of the bar
               follows the trigger, so it fills at ``L`` if the bar then reaches ``L``;
               if triggered inside the bar and ``p`` is outside the limit, it is *armed*
               and works as a LIMIT from the next bar (the bar's path cannot tell whether
               the limit was reached after the trigger).
TRAILING STOP  as STOP at its current level (set from prices up to the open of this bar)
============== ======================================== =================================

Hence, before costs: a BUY limit fills at ``min(o, L)`` and never above ``L``; a SELL limit
at ``max(o, L)``, never below. A SELL stop fills at ``min(o, S)``: at ``S`` when the bar
opened above it and traded down through it, below ``S`` only when the bar opened below it
(a gap); a BUY stop at ``max(o, S)``. Slippage and impact then move the price against the
trader; for limit-type fills the broker caps the result at the limit.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderType

__all__ = [
    "FillTiming",
    "IntrabarPolicy",
    "FundsPolicy",
    "BracketActivation",
    "TrailReference",
    "MatchCode",
    "match_order",
    "match_orders",
    "intrabar_path",
    "first_touch",
    "trailing_stop_level",
    "update_trailing",
]

_NAN = math.nan


class FillTiming(IntEnum):
    """When a market order decided on bar ``t`` fills."""

    NEXT_BAR_OPEN = 0  # default: at the open of bar t+1
    SAME_BAR_CLOSE = 1  # at the close of bar t ("cheat on close"; the strategy saw it)
    NEXT_BAR_CLOSE = 2  # at the close of bar t+1
    PRICE_COLUMN = 3  # at bar t+1's value of a chosen column (e.g. "vwap")


class IntrabarPolicy(IntEnum):
    """Which order wins when several OCO members could fill inside one bar."""

    WORST_CASE = 0  # default: the fill worst for the trader (e.g. the stop loss)
    OHLC = 1  # path open -> high -> low -> close; the first level touched wins
    OLHC = 2  # path open -> low -> high -> close


class FundsPolicy(IntEnum):
    """What happens when buying power is short at fill time."""

    REJECT = 0  # default: the order is rejected (or its remainder cancelled)
    RESIZE = 1  # fill what is affordable, cancel the rest
    # as RESIZE, but the quantity is the largest whose cost plus its own commission fits:
    # q * price * multiplier + commission(q) <= buying power (VectorBT's allow_partial:
    # q = (cash - fixed_fees) / (price * (1 + fees))); RESIZE subtracts the commission of
    # the original, larger quantity first, so it buys slightly less
    RESIZE_FEE_INCLUSIVE = 2


class TrailReference(IntEnum):
    """Which price a trailing stop follows."""

    EXTREME = 0  # default: the open, then each bar's high (SELL stop) / low (BUY stop)
    CLOSE = 1  # only each bar's close (Backtrader's StopTrail: order.trailadjust(pclose))


class BracketActivation(IntEnum):
    """From which bar the OTO children (a bracket's stop and target) of a filled order work."""

    SAME_BAR = 0  # default: the rest of the entry's bar when it filled at the open
    NEXT_BAR = 1  # always the bar after the entry fill (Backtrader)


class MatchCode(IntEnum):
    """How an order matched a bar."""

    NONE = 0  # no fill
    MARKET = 1  # at the market price
    GAP = 2  # at the open, which was already through the order's level
    TOUCH = 3  # at the order's own price inside the bar
    ARMED = 4  # a stop-limit was triggered but not filled; it now works as a limit


def _limit(side: int, limit: float, o: float, h: float, l: float) -> tuple[float, int]:  # noqa: E741
    if side > 0:
        if o <= limit:
            return o, MatchCode.GAP
        if l <= limit:
            return limit, MatchCode.TOUCH
    else:
        if o >= limit:
            return o, MatchCode.GAP
        if h >= limit:
            return limit, MatchCode.TOUCH
    return _NAN, MatchCode.NONE


def _stop(side: int, stop: float, o: float, h: float, l: float) -> tuple[float, int]:  # noqa: E741
    if side > 0:
        if o >= stop:
            return o, MatchCode.GAP
        if h >= stop:
            return stop, MatchCode.TOUCH
    else:
        if o <= stop:
            return o, MatchCode.GAP
        if l <= stop:
            return stop, MatchCode.TOUCH
    return _NAN, MatchCode.NONE


def match_order(  # noqa: PLR0917 - twin of a numba kernel
    side: int,
    order_type: int,
    limit: float,
    stop: float,
    triggered: bool,
    open_: float,
    high: float,
    low: float,
    market: float,
) -> tuple[float, int]:
    """Return ``(price, MatchCode)`` for one order against one bar (NaN price: no fill).

    Args:
        side: +1 BUY, -1 SELL.
        order_type: An `OrderType` value.
        limit: Limit price (NaN if none).
        stop: Stop or trailing level (NaN if none).
        triggered: True for a stop-limit already armed on an earlier bar.
        open_: Bar open (NaN: the asset has no bar, nothing fills).
        high: Bar high.
        low: Bar low.
        market: Price for market-type orders (NaN: use the open).

    Example:
        >>> match_order(1, OrderType.LIMIT, 99.0, math.nan, False, 98.5, 100.0, 98.0, 98.5)
        (98.5, <MatchCode.GAP: 2>)
        >>> match_order(-1, OrderType.STOP, math.nan, 95.0, False, 97.0, 98.0, 94.0, 97.0)
        (95.0, <MatchCode.TOUCH: 3>)
    """
    if math.isnan(open_):
        return _NAN, MatchCode.NONE
    if order_type in (OrderType.MARKET, OrderType.MARKET_ON_OPEN, OrderType.MARKET_ON_CLOSE):
        return (open_ if math.isnan(market) else market), MatchCode.MARKET
    if order_type == OrderType.LIMIT:
        return _limit(side, limit, open_, high, low)
    if order_type in (OrderType.STOP, OrderType.TRAILING_STOP):
        if math.isnan(stop):
            return _NAN, MatchCode.NONE
        return _stop(side, stop, open_, high, low)
    # STOP_LIMIT
    if triggered:
        return _limit(side, limit, open_, high, low)
    price, code = _stop(side, stop, open_, high, low)
    if code == MatchCode.NONE:
        return _NAN, MatchCode.NONE
    if (limit - price) * side >= 0.0:
        return price, code
    if code == MatchCode.GAP:  # triggered at the open: the whole bar follows the trigger
        reached = low <= limit if side > 0 else high >= limit
        if reached:
            return limit, MatchCode.TOUCH
    return _NAN, MatchCode.ARMED


def match_orders(  # noqa: PLR0917 - twin of a numba kernel
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
    """Apply `match_order` element-wise (arrays aligned by order); the twin of `match_orders_nb`.

    Example:
        >>> price, code = match_orders(np.array([1], np.int8), np.array([1], np.int8),
        ...     np.array([99.0]), np.array([np.nan]), np.array([False]), np.array([100.0]),
        ...     np.array([101.0]), np.array([98.0]), np.array([100.0]))
        >>> price.tolist(), code.tolist()
        ([99.0], [3])
    """
    n = side.shape[0]
    price = np.full(n, np.nan)
    code = np.zeros(n, dtype=np.int8)
    for i in range(n):
        p, c = match_order(
            int(side[i]),
            int(order_type[i]),
            float(limit[i]),
            float(stop[i]),
            bool(triggered[i]),
            float(open_[i]),
            float(high[i]),
            float(low[i]),
            float(market[i]),
        )
        price[i] = p
        code[i] = c
    return price, code


def intrabar_path(
    policy: IntrabarPolicy, open_: float, high: float, low: float, close: float
) -> tuple[float, float, float, float]:
    """Return the assumed price path through a bar under `policy` (OLHC for OLHC, else OHLC).

    Example:
        >>> intrabar_path(IntrabarPolicy.OLHC, 10.0, 12.0, 9.0, 11.0)
        (10.0, 9.0, 12.0, 11.0)
    """
    if policy is IntrabarPolicy.OLHC:
        return (open_, low, high, close)
    return (open_, high, low, close)


def first_touch(level: float, above: bool, path: tuple[float, float, float, float]) -> float:
    """Return when the straight-line `path` first reaches `level` (inf: never).

    Time runs from 0 (the open) to 3 (the close), one unit per leg; a level already met at
    the open returns 0. `above` means the condition is ``price >= level`` (sell limits,
    buy stops), otherwise ``price <= level`` (buy limits, sell stops).

    Example:
        >>> path = (10.0, 12.0, 9.0, 11.0)      # O -> H -> L -> C
        >>> first_touch(11.0, True, path), round(first_touch(9.5, False, path), 6)
        (0.5, 1.833333)
    """

    def met(price: float) -> bool:
        return price >= level if above else price <= level

    if met(path[0]):
        return 0.0
    for leg in range(1, 4):
        a, b = path[leg - 1], path[leg]
        if met(b):
            return (leg - 1) + ((level - a) / (b - a) if b != a else 1.0)
    return math.inf


def trailing_stop_level(side: int, reference: float, amount: float, percent: float) -> float:
    """Return a trailing stop's level: below the reference for SELL, above it for BUY.

    Formula::

        SELL: reference - amount   or  reference * (1 - percent)
        BUY:  reference + amount   or  reference * (1 + percent)

    Example:
        >>> trailing_stop_level(-1, 100.0, 2.5, math.nan)
        97.5
        >>> trailing_stop_level(1, 100.0, math.nan, 0.05)
        105.0
    """
    if math.isnan(amount):
        return reference * (1.0 + percent) if side > 0 else reference * (1.0 - percent)
    return reference + amount if side > 0 else reference - amount


def update_trailing(  # noqa: PLR0917 - twin of a numba kernel
    side: int, reference: float, amount: float, percent: float, high: float, low: float
) -> tuple[float, float]:
    """Move the reference to the new extreme and return ``(reference, level)``.

    A SELL trailing stop follows the highest `high`, a BUY one the lowest `low`; a NaN
    reference starts at the given price. NaN prices leave it unchanged.

    Example:
        >>> update_trailing(-1, 100.0, 2.0, math.nan, 103.0, 99.0)
        (103.0, 101.0)
    """
    price = high if side < 0 else low
    if not math.isnan(price) and (
        math.isnan(reference) or (price > reference if side < 0 else price < reference)
    ):
        reference = price
    if math.isnan(reference):
        return reference, _NAN
    return reference, trailing_stop_level(side, reference, amount, percent)
