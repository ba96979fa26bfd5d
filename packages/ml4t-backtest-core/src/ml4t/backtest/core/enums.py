"""Enumerations shared by every layer of ml4t-backtest.

All enums are ``IntEnum`` so that numba kernels and numpy arrays can carry them as plain
integers. ``OrderSide`` is signed (``BUY = 1``, ``SELL = -1``) so that a side multiplies a
quantity or a price offset directly.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "AssetClass",
    "CorporateActionType",
    "EventType",
    "OptionRight",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "RoundingMode",
    "TimeInForce",
    "ORDER_TRANSITIONS",
    "TERMINAL_ORDER_STATUSES",
]


class OrderSide(IntEnum):
    """Direction of an order or fill; the value is the sign it gives a quantity."""

    BUY = 1
    SELL = -1

    @property
    def sign(self) -> int:
        """Return +1 for BUY and -1 for SELL."""
        return int(self)

    def opposite(self) -> OrderSide:
        """Return the other side."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(IntEnum):
    """How an order's fill price is determined."""

    MARKET = 0
    LIMIT = 1
    STOP = 2
    STOP_LIMIT = 3
    TRAILING_STOP = 4
    MARKET_ON_OPEN = 5
    MARKET_ON_CLOSE = 6


class TimeInForce(IntEnum):
    """How long an order stays working."""

    DAY = 0  # until the end of the session it was accepted in
    GTC = 1  # good till cancelled
    GTD = 2  # good till a given timestamp
    IOC = 3  # immediate or cancel: fill what is possible on the first bar, cancel the rest
    FOK = 4  # fill or kill: the whole quantity on the first bar or nothing
    OPG = 5  # at the opening auction only
    CLS = 6  # at the closing auction only


class OrderStatus(IntEnum):
    """Where an order is in its life; moves only along `ORDER_TRANSITIONS`."""

    CREATED = 0
    SUBMITTED = 1
    ACCEPTED = 2
    PARTIALLY_FILLED = 3
    FILLED = 4
    CANCELED = 5
    REJECTED = 6
    EXPIRED = 7

    @property
    def is_terminal(self) -> bool:
        """Return True when the order can no longer change."""
        return self in TERMINAL_ORDER_STATUSES

    @property
    def is_working(self) -> bool:
        """Return True when the order is live in the book."""
        return self in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


TERMINAL_ORDER_STATUSES: Final = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

ORDER_TRANSITIONS: Final = frozenset(
    {
        (OrderStatus.CREATED, OrderStatus.SUBMITTED),
        (OrderStatus.CREATED, OrderStatus.REJECTED),  # failed local validation
        (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED),
        (OrderStatus.SUBMITTED, OrderStatus.REJECTED),
        (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED),
        (OrderStatus.ACCEPTED, OrderStatus.FILLED),
        (OrderStatus.ACCEPTED, OrderStatus.CANCELED),
        (OrderStatus.ACCEPTED, OrderStatus.EXPIRED),
        (OrderStatus.ACCEPTED, OrderStatus.REJECTED),  # e.g. buying power gone at fill time
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELED),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED),
    }
)


class AssetClass(IntEnum):
    """Kind of instrument; decides multiplier, margin and quantity rules."""

    EQUITY = 0
    FUTURE = 1
    OPTION = 2
    FX = 3
    CRYPTO = 4


class OptionRight(IntEnum):
    """Call or put."""

    CALL = 1
    PUT = -1


class EventType(IntEnum):
    """Kind of event travelling through the engine."""

    MARKET = 0
    SIGNAL = 1
    ORDER = 2
    FILL = 3
    CORPORATE_ACTION = 4


class CorporateActionType(IntEnum):
    """Kind of corporate action applied to positions point-in-time."""

    SPLIT = 0  # includes reverse splits (ratio < 1)
    CASH_DIVIDEND = 1
    STOCK_DIVIDEND = 2
    SYMBOL_CHANGE = 3
    MERGER = 4
    DELISTING = 5


class RoundingMode(IntEnum):
    """How a value is moved onto a grid (tick size for prices, lot size for quantities)."""

    NEAREST = 0  # closest grid point; exact ties go away from zero
    DOWN = 1  # toward minus infinity (floor)
    UP = 2  # toward plus infinity (ceiling)
    TOWARD_ZERO = 3  # truncate: never increases the magnitude
    AWAY_FROM_ZERO = 4  # never decreases the magnitude
