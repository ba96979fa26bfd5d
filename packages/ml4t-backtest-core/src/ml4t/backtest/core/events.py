"""Immutable events that flow between data, strategy, broker and portfolio.

Events are ``typing.NamedTuple`` classes: immutable, slotted and the cheapest immutable
record CPython can build (about 0.2 µs for a seven-field `MarketEvent`, against about 0.9 µs
for a frozen slotted dataclass; see docs/architecture/0003-events-are-namedtuples.md).

The engine itself works on columns (timestamps x assets numpy arrays); it creates a
`MarketEvent` only for strategies that ask for one per asset per bar, and a `FillEvent` or
`OrderEvent` only when something actually happens.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ml4t.backtest.core.enums import (
    CorporateActionType,
    EventType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ml4t.backtest.core.types import AssetId, Timestamp

__all__ = [
    "CorporateActionEvent",
    "FillEvent",
    "MarketEvent",
    "OrderEvent",
    "SignalEvent",
]


class MarketEvent(NamedTuple):
    """One bar of one asset, as a strategy's ``on_market_data`` sees it."""

    timestamp: Timestamp
    asset: AssetId
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def event_type(self) -> EventType:
        """Return `EventType.MARKET`."""
        return EventType.MARKET


class SignalEvent(NamedTuple):
    """A named, pre-computed signal value for one asset, visible from `timestamp` on."""

    timestamp: Timestamp
    asset: AssetId
    name: str
    value: float

    @property
    def event_type(self) -> EventType:
        """Return `EventType.SIGNAL`."""
        return EventType.SIGNAL


class OrderEvent(NamedTuple):
    """A change in an order's life: submitted, accepted, filled, cancelled, rejected, expired.

    `quantity` is unsigned; the direction is `side`. `reason` is set for every rejection,
    cancellation and expiry.
    """

    timestamp: Timestamp
    order_id: int
    asset: AssetId
    side: OrderSide
    quantity: float
    order_type: OrderType
    status: OrderStatus
    limit_price: float = math.nan
    stop_price: float = math.nan
    time_in_force: TimeInForce = TimeInForce.GTC
    filled_quantity: float = 0.0
    reason: str = ""
    tag: str = ""

    @property
    def event_type(self) -> EventType:
        """Return `EventType.ORDER`."""
        return EventType.ORDER


class FillEvent(NamedTuple):
    """One execution, with the full cost breakdown so it can be explained afterwards.

    `price` is what was paid or received per unit, slippage and impact included;
    `reference_price` is the market price before them. Costs are in account currency and
    never negative. `remaining` is the quantity of the order still working after this fill
    (e.g. because of a volume cap).

    Example:
        >>> fill = FillEvent(0, 1, "AAPL", OrderSide.SELL, 10.0, 99.9, reference_price=100.0)
        >>> fill.signed_quantity, fill.notional
        (-10.0, 999.0)
    """

    timestamp: Timestamp
    order_id: int
    asset: AssetId
    side: OrderSide
    quantity: float
    price: float
    reference_price: float = math.nan
    commission: float = 0.0
    slippage: float = 0.0
    impact: float = 0.0
    remaining: float = 0.0
    multiplier: float = 1.0
    tag: str = ""

    @property
    def event_type(self) -> EventType:
        """Return `EventType.FILL`."""
        return EventType.FILL

    @property
    def signed_quantity(self) -> float:
        """Return the quantity with the sign of the side (+ buy, - sell)."""
        return self.quantity * int(self.side)

    @property
    def notional(self) -> float:
        """Return ``quantity * price * multiplier`` (unsigned)."""
        return self.quantity * self.price * self.multiplier

    @property
    def total_cost(self) -> float:
        """Return commission + slippage + impact in account currency."""
        return self.commission + self.slippage + self.impact


class CorporateActionEvent(NamedTuple):
    """A corporate action effective at `timestamp` (the ex-date) for `asset`.

    Meaning of the fields by `action_type`:

    * ``SPLIT``: `ratio` new shares per old share (2.0 for 2:1, 0.1 for 1:10 reverse).
    * ``CASH_DIVIDEND``: `cash_amount` per share; paid at `pay_timestamp` (ex-date if 0).
    * ``STOCK_DIVIDEND``: `ratio` new shares per share held (0.05 for 5%).
    * ``SYMBOL_CHANGE``: position moves to `new_asset`.
    * ``MERGER``: per share held, `ratio` shares of `new_asset` plus `cash_amount` cash.
    * ``DELISTING``: position closed at `cash_amount` per share, or at the last price if NaN.
    """

    timestamp: Timestamp
    asset: AssetId
    action_type: CorporateActionType
    ratio: float = math.nan
    cash_amount: float = math.nan
    new_asset: AssetId = ""
    pay_timestamp: Timestamp = 0

    @property
    def event_type(self) -> EventType:
        """Return `EventType.CORPORATE_ACTION`."""
        return EventType.CORPORATE_ACTION
