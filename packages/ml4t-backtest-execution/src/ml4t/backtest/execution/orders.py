"""Orders: types, time in force, lifecycle and links (bracket, OCO, OTO).

An `Order` is a small mutable object that moves only along `ORDER_TRANSITIONS`
(``CREATED -> SUBMITTED -> ACCEPTED -> PARTIALLY_FILLED -> FILLED``, or to ``CANCELED``,
``REJECTED`` or ``EXPIRED`` with a reason). An illegal move raises
`InvalidOrderTransitionError` naming both states.

Quantities are unsigned; the direction is `side` (``OrderSide.BUY = 1``, ``SELL = -1``).
Orders get their id when a broker accepts them for submission (``order_id == 0`` before).

Links:

* OCO (one-cancels-other): when one member fills, the others are reduced by the same
  quantity and cancelled once nothing is left (`link_oco`).
* OTO (one-triggers-other): children wait, inactive, until the parent is filled; if the
  parent ends partly filled, the children are cut to the filled quantity (`link_oto`).
* A bracket is an entry whose two children (take profit and stop loss) are an OCO pair
  (`bracket_order`).
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple, cast

from ml4t.backtest.core.enums import (
    ORDER_TRANSITIONS,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ml4t.backtest.core.errors import (
    InvalidOrderTransitionError,
    InvalidPriceError,
    InvalidQuantityError,
    OrderError,
)
from ml4t.backtest.core.events import OrderEvent
from ml4t.backtest.core.types import AssetId, Timestamp

__all__ = [
    "Order",
    "Bracket",
    "bracket_order",
    "link_oco",
    "link_oto",
]

_NAN = math.nan
_NO_LINKS: list[Order] = cast("list[Order]", ())  # shared by orders that can have no links


# Enum members as module constants: `Enum.MEMBER` is a slow class attribute lookup.
_OrderStatus_CREATED: Final = OrderStatus.CREATED
_OrderStatus_FILLED: Final = OrderStatus.FILLED
_OrderStatus_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_OrderType_MARKET: Final = OrderType.MARKET
_TimeInForce_GTD: Final = TimeInForce.GTD


def _check_price(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0.0:
        raise InvalidPriceError(f"invalid `{name}`: must be finite and > 0, was {value!r}")


class Order:
    """One order and its state.

    Build orders with the constructors (`Order.market`, `Order.limit`, `Order.stop`,
    `Order.stop_limit`, `Order.trailing_stop`, `Order.market_on_open`,
    `Order.market_on_close`) rather than the raw initializer.

    Attributes:
        order_id: Id given on submission (0 before).
        asset: Asset id.
        side: BUY or SELL.
        quantity: Total quantity, > 0, in units.
        order_type: How the fill price is found.
        limit_price: Limit for LIMIT and STOP_LIMIT (NaN otherwise).
        stop_price: Trigger for STOP and STOP_LIMIT; the current trailing level for
            TRAILING_STOP (NaN until the broker sets it).
        trail_amount: Absolute trail in price units (TRAILING_STOP), or NaN.
        trail_percent: Trail as a fraction of the reference price (0.05 = 5%), or NaN.
        time_in_force: How long the order works.
        expire_at: Last instant (ns) a GTD order may work, or None.
        status: Current `OrderStatus`.
        filled_quantity: Quantity filled so far.
        average_fill_price: Volume-weighted price of the fills so far (NaN before any).
        reason: Why the order was rejected, cancelled or expired ("" otherwise).
        tag: Free text carried into fills and events.
        parent: The OTO parent, or None.
        children: Orders this one triggers when it fills (OTO).
        oco: The other members of this order's OCO group.
        size_fraction: For an order sized when it fills (`Order.market_sized_at_fill`), the
            fraction of the buying power available at that moment it may use, commission
            included; NaN for an order of a fixed quantity.

    Example:
        >>> order = Order.limit("AAPL", OrderSide.BUY, 100, 189.5)
        >>> order.status.name, order.remaining
        ('CREATED', 100.0)
    """

    __slots__ = (
        "asset",
        "average_fill_price",
        "children",
        "created_at",
        "expire_at",
        "filled_quantity",
        "limit_price",
        "oco",
        "order_id",
        "order_type",
        "parent",
        "quantity",
        "reason",
        "side",
        "size_fraction",
        "status",
        "stop_price",
        "submit_bar",
        "tag",
        "time_in_force",
        "trail_amount",
        "trail_percent",
        "trail_reference",
        "triggered",
    )

    def __init__(
        self,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        order_type: OrderType = OrderType.MARKET,
        *,
        limit_price: float = _NAN,
        stop_price: float = _NAN,
        trail_amount: float = _NAN,
        trail_percent: float = _NAN,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> None:
        quantity = float(quantity)
        if not math.isfinite(quantity) or quantity <= 0.0:
            raise InvalidQuantityError(
                f"invalid `quantity` for {asset!r}: must be finite and > 0 (the direction is "
                f"`side`), was {quantity!r}"
            )
        self.order_id = 0
        self.asset = asset
        # enum members pass as they are (the conversion would return them unchanged)
        self.side = side if type(side) is OrderSide else OrderSide(side)
        self.quantity = quantity
        self.order_type = order_type if type(order_type) is OrderType else OrderType(order_type)
        self.limit_price = float(limit_price)
        self.stop_price = float(stop_price)
        self.trail_amount = float(trail_amount)
        self.trail_percent = float(trail_percent)
        self.time_in_force = (
            time_in_force if type(time_in_force) is TimeInForce else TimeInForce(time_in_force)
        )
        self.expire_at = expire_at
        self.status = _OrderStatus_CREATED
        self.filled_quantity = 0.0
        self.average_fill_price = _NAN
        self.reason = ""
        self.tag = tag
        self.parent: Order | None = None
        self.children: list[Order] = []
        self.oco: list[Order] = []
        self.created_at: Timestamp = 0
        self.submit_bar = -1
        self.triggered = False
        self.trail_reference = _NAN
        self.size_fraction = _NAN
        if self.order_type is not _OrderType_MARKET or self.time_in_force is _TimeInForce_GTD:
            self._check_prices()  # (a plain market order has nothing to check)

    @classmethod
    def _trusted(  # noqa: PLR0917 - internal, positional for speed
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        order_type: OrderType,
        time_in_force: TimeInForce,
        tag: str,
    ) -> Order:
        # A price-less order from arguments already checked by the caller (the broker's
        # batch submission): `quantity` a finite float > 0, enum members, no GTD.
        self = cls.__new__(cls)
        self.order_id = 0
        self.asset = asset
        self.side = side
        self.quantity = quantity
        self.order_type = order_type
        self.limit_price = _NAN
        self.stop_price = _NAN
        self.trail_amount = _NAN
        self.trail_percent = _NAN
        self.time_in_force = time_in_force
        self.expire_at = None
        self.status = _OrderStatus_CREATED
        self.filled_quantity = 0.0
        self.average_fill_price = _NAN
        self.reason = ""
        self.tag = tag
        self.parent = None
        # No links: a batch order is submitted at once, after which `link_oco` / `link_oto`
        # refuse it, so it can share one immutable empty sequence (two fewer objects for the
        # garbage collector to track per order).
        self.children = _NO_LINKS
        self.oco = _NO_LINKS
        self.created_at = 0
        self.submit_bar = -1
        self.triggered = False
        self.trail_reference = _NAN
        self.size_fraction = _NAN
        return self

    def _check_prices(self) -> None:
        kind = self.order_type
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            _check_price("limit_price", self.limit_price)
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            _check_price("stop_price", self.stop_price)
        if kind is OrderType.TRAILING_STOP:
            has_amount = not math.isnan(self.trail_amount)
            has_percent = not math.isnan(self.trail_percent)
            if has_amount == has_percent:
                raise InvalidPriceError(
                    "a TRAILING_STOP needs exactly one of `trail_amount` or `trail_percent`, "
                    f"was trail_amount={self.trail_amount!r}, trail_percent={self.trail_percent!r}"
                )
            if has_amount:
                _check_price("trail_amount", self.trail_amount)
            elif not 0.0 < self.trail_percent < 1.0:
                raise InvalidPriceError(
                    "invalid `trail_percent`: must be a fraction in (0, 1) (0.05 = 5%), "
                    f"was {self.trail_percent!r}"
                )
        if self.time_in_force is TimeInForce.GTD and self.expire_at is None:
            raise OrderError("a GTD order needs `expire_at` (int ns); set it or use GTC")

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def market(
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> Order:
        """Return a market order.

        Example:
            >>> Order.market("AAPL", OrderSide.SELL, 5).order_type.name
            'MARKET'
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.MARKET,
            time_in_force=time_in_force,
            expire_at=expire_at,
            tag=tag,
        )

    @classmethod
    def market_sized_at_fill(
        cls,
        asset: AssetId,
        side: OrderSide,
        fraction: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Order:
        """Return a market order whose quantity is set when it fills.

        At the fill the broker sizes it to the largest whole number of lots that
        ``fraction`` of the buying power then available pays for, commission and slippage
        included: ``q * price * multiplier + commission(q) <= fraction * buying power``,
        where the buying power counts the fills made before it in the same bar (a position
        closed at the same open frees its value first). This is backtesting.py's default
        order (`buy()` with a relative size) and "all in at the next open" in general.
        Until it fills, `quantity` holds an estimate at the last close (set on submission).

        Args:
            asset: Asset id.
            side: BUY or SELL (a SELL opens or adds to a short with the same sizing).
            fraction: In (0, 1].
            time_in_force: How long the order works.
            tag: Free text carried into fills and events.

        Raises:
            InvalidQuantityError: `fraction` is not in (0, 1].

        Example:
            >>> o = Order.market_sized_at_fill("AAPL", OrderSide.BUY, 0.5)
            >>> o.order_type.name, o.size_fraction
            ('MARKET', 0.5)
        """
        fraction = float(fraction)
        if not 0.0 < fraction <= 1.0:
            raise InvalidQuantityError(
                f"invalid `fraction` for {asset!r}: must be in (0, 1] (a share of the buying "
                f"power at the fill), was {fraction!r}"
            )
        order = cls(asset, side, 1.0, OrderType.MARKET, time_in_force=time_in_force, tag=tag)
        order.size_fraction = fraction
        return order

    @classmethod
    def limit(
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        limit_price: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> Order:
        """Return a limit order: BUY at `limit_price` or lower, SELL at it or higher.

        Example:
            >>> Order.limit("AAPL", OrderSide.BUY, 10, 99.5).limit_price
            99.5
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.LIMIT,
            limit_price=limit_price,
            time_in_force=time_in_force,
            expire_at=expire_at,
            tag=tag,
        )

    @classmethod
    def stop(
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        stop_price: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> Order:
        """Return a stop order: becomes a market order once the price reaches `stop_price`.

        Example:
            >>> Order.stop("AAPL", OrderSide.SELL, 10, 95.0).stop_price
            95.0
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.STOP,
            stop_price=stop_price,
            time_in_force=time_in_force,
            expire_at=expire_at,
            tag=tag,
        )

    @classmethod
    def stop_limit(
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        stop_price: float,
        limit_price: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> Order:
        """Return a stop-limit order: becomes a limit order at `limit_price` once triggered.

        Example:
            >>> o = Order.stop_limit("AAPL", OrderSide.BUY, 10, 101.0, 101.5)
            >>> (o.stop_price, o.limit_price)
            (101.0, 101.5)
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.STOP_LIMIT,
            stop_price=stop_price,
            limit_price=limit_price,
            time_in_force=time_in_force,
            expire_at=expire_at,
            tag=tag,
        )

    @classmethod
    def trailing_stop(
        cls,
        asset: AssetId,
        side: OrderSide,
        quantity: float,
        *,
        trail_amount: float = _NAN,
        trail_percent: float = _NAN,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_at: Timestamp | None = None,
        tag: str = "",
    ) -> Order:
        """Return a trailing stop with an absolute (`trail_amount`) or relative trail.

        A SELL trailing stop sits `trail` below the highest price seen since it started
        working; a BUY one sits above the lowest price.

        Example:
            >>> Order.trailing_stop("AAPL", OrderSide.SELL, 10, trail_percent=0.05).trail_percent
            0.05
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.TRAILING_STOP,
            trail_amount=trail_amount,
            trail_percent=trail_percent,
            time_in_force=time_in_force,
            expire_at=expire_at,
            tag=tag,
        )

    @classmethod
    def market_on_open(
        cls, asset: AssetId, side: OrderSide, quantity: float, *, tag: str = ""
    ) -> Order:
        """Return a market-on-open order (opening auction only, time in force OPG).

        Example:
            >>> Order.market_on_open("AAPL", OrderSide.BUY, 1).time_in_force.name
            'OPG'
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.MARKET_ON_OPEN,
            time_in_force=TimeInForce.OPG,
            tag=tag,
        )

    @classmethod
    def market_on_close(
        cls, asset: AssetId, side: OrderSide, quantity: float, *, tag: str = ""
    ) -> Order:
        """Return a market-on-close order (closing auction only, time in force CLS).

        Example:
            >>> Order.market_on_close("AAPL", OrderSide.BUY, 1).time_in_force.name
            'CLS'
        """
        return cls(
            asset,
            side,
            quantity,
            OrderType.MARKET_ON_CLOSE,
            time_in_force=TimeInForce.CLS,
            tag=tag,
        )

    # -- state ----------------------------------------------------------------------------

    @property
    def remaining(self) -> float:
        """Return the quantity still to fill (0 once terminal and fully filled)."""
        return max(self.quantity - self.filled_quantity, 0.0)

    @property
    def signed_quantity(self) -> float:
        """Return the total quantity with the sign of the side."""
        return self.quantity * int(self.side)

    @property
    def is_working(self) -> bool:
        """Return True while the order is live (ACCEPTED or PARTIALLY_FILLED)."""
        return self.status.is_working

    @property
    def is_terminal(self) -> bool:
        """Return True once the order can no longer change."""
        return self.status.is_terminal

    @property
    def parent_id(self) -> int:
        """Return the OTO parent's id, or 0."""
        return self.parent.order_id if self.parent is not None else 0

    @property
    def oco_ids(self) -> tuple[int, ...]:
        """Return the ids of the other members of this order's OCO group."""
        return tuple(o.order_id for o in self.oco)

    @property
    def child_ids(self) -> tuple[int, ...]:
        """Return the ids of the OTO children."""
        return tuple(o.order_id for o in self.children)

    def transition(self, status: OrderStatus, reason: str = "") -> None:
        """Move to `status`, recording `reason` (required for rejections and cancels).

        Args:
            status: The new state; ``(self.status, status)`` must be in `ORDER_TRANSITIONS`.
            reason: Why, in words a user can act on.

        Raises:
            InvalidOrderTransitionError: The move is not allowed.

        Example:
            >>> o = Order.market("AAPL", OrderSide.BUY, 1)
            >>> o.transition(OrderStatus.SUBMITTED)
            >>> o.transition(OrderStatus.CREATED)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ml4t.backtest.core.errors.InvalidOrderTransitionError: order 0 ('AAPL'): ...
        """
        if (self.status, status) not in ORDER_TRANSITIONS:
            raise InvalidOrderTransitionError(
                f"order {self.order_id} ({self.asset!r}): {self.status.name} -> {status.name} "
                "is not an allowed transition"
            )
        self.status = status
        if reason:
            self.reason = reason

    def record_fill(self, quantity: float, price: float) -> None:
        """Add a fill of `quantity` at `price` and move to PARTIALLY_FILLED or FILLED.

        Raises:
            InvalidQuantityError: `quantity` is not positive or exceeds `remaining`.

        Example:
            >>> o = Order.market("AAPL", OrderSide.BUY, 10)
            >>> for s in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED):
            ...     o.transition(s)
            >>> o.record_fill(4, 10.0); o.record_fill(6, 11.0)
            >>> o.status.name, o.average_fill_price
            ('FILLED', 10.6)
        """
        if not quantity > 0.0 or quantity > self.remaining * (1.0 + 1e-12):
            raise InvalidQuantityError(
                f"order {self.order_id}: fill quantity must be in (0, {self.remaining}], "
                f"was {quantity!r}"
            )
        filled = self.filled_quantity + quantity
        if self.filled_quantity == 0.0:
            self.average_fill_price = price
        else:
            self.average_fill_price = (
                self.average_fill_price * self.filled_quantity + price * quantity
            ) / filled
        self.filled_quantity = filled
        done = filled >= self.quantity * (1.0 - 1e-12)
        if done:
            self.filled_quantity = self.quantity
        self.transition(_OrderStatus_FILLED if done else _OrderStatus_PARTIALLY_FILLED)

    def to_event(self, timestamp: Timestamp) -> OrderEvent:
        """Return an `OrderEvent` describing the order now.

        Example:
            >>> Order.market("AAPL", OrderSide.BUY, 3).to_event(0).status.name
            'CREATED'
        """
        return OrderEvent(
            timestamp,
            self.order_id,
            self.asset,
            self.side,
            self.quantity,
            self.order_type,
            self.status,
            self.limit_price,
            self.stop_price,
            self.time_in_force,
            self.filled_quantity,
            self.reason,
            self.tag,
        )

    def __repr__(self) -> str:
        prices = ""
        if not math.isnan(self.limit_price):
            prices += f", limit={self.limit_price}"
        if not math.isnan(self.stop_price):
            prices += f", stop={self.stop_price}"
        return (
            f"Order(id={self.order_id}, {self.asset!r}, {self.side.name} {self.quantity:g}, "
            f"{self.order_type.name}{prices}, {self.time_in_force.name}, {self.status.name}, "
            f"filled={self.filled_quantity:g})"
        )


class Bracket(NamedTuple):
    """An entry order with a take-profit and a stop-loss child that cancel each other."""

    entry: Order
    take_profit: Order
    stop_loss: Order


def link_oco(*orders: Order) -> None:
    """Make `orders` one OCO group: a fill of one reduces (and then cancels) the others.

    Raises:
        OrderError: Fewer than two orders, different assets, or an order already submitted.

    Example:
        >>> a = Order.limit("X", OrderSide.SELL, 1, 110.0)
        >>> b = Order.stop("X", OrderSide.SELL, 1, 95.0)
        >>> link_oco(a, b); a.oco == [b], b.oco == [a]
        (True, True)
    """
    if len(orders) < 2:
        raise OrderError(f"an OCO group needs at least two orders, was {len(orders)}")
    for order in orders:
        if order.status is not OrderStatus.CREATED:
            raise OrderError(
                f"link orders before submitting them; {order!r} is {order.status.name}"
            )
        if order.asset != orders[0].asset:
            raise OrderError(
                f"OCO orders must share one asset, was {orders[0].asset!r} and {order.asset!r}"
            )
    for order in orders:
        order.oco = [o for o in orders if o is not order]


def link_oto(parent: Order, *children: Order) -> None:
    """Make `children` wait until `parent` fills (one-triggers-other).

    Submit only the parent; the broker submits the children with it, keeps them inactive
    until the parent is filled, and cancels them if the parent ends without a fill.

    Raises:
        OrderError: No children, or an order already submitted.

    Example:
        >>> entry = Order.market("X", OrderSide.BUY, 1)
        >>> exit_ = Order.limit("X", OrderSide.SELL, 1, 120.0)
        >>> link_oto(entry, exit_); exit_.parent is entry
        True
    """
    if not children:
        raise OrderError("an OTO link needs at least one child order")
    for order in (parent, *children):
        if order.status is not OrderStatus.CREATED:
            raise OrderError(
                f"link orders before submitting them; {order!r} is {order.status.name}"
            )
    for child in children:
        child.parent = parent
        parent.children.append(child)


def bracket_order(
    asset: AssetId,
    side: OrderSide,
    quantity: float,
    *,
    take_profit: float,
    stop_loss: float,
    entry_limit: float | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    tag: str = "",
) -> Bracket:
    """Build an entry with a take-profit limit and a stop-loss stop (an OCO pair, OTO on entry).

    Args:
        asset: Asset id.
        side: Side of the entry; the exits take the other side.
        quantity: Entry quantity, > 0.
        take_profit: Limit price of the profit-taking exit.
        stop_loss: Stop price of the protective exit.
        entry_limit: Limit price for the entry, or None for a market entry.
        time_in_force: Applied to all three orders.
        tag: Carried by all three orders.

    Raises:
        InvalidPriceError: The exits are on the wrong side of each other (for a BUY entry
            the take profit must be above the stop loss).

    Example:
        >>> b = bracket_order("AAPL", OrderSide.BUY, 10, take_profit=110.0, stop_loss=95.0)
        >>> b.take_profit.side.name, b.stop_loss.oco == [b.take_profit]
        ('SELL', True)
        >>> b.stop_loss.parent is b.entry
        True
    """
    if (take_profit - stop_loss) * int(side) <= 0.0:
        raise InvalidPriceError(
            f"bracket on {asset!r}: for a {side.name} entry `take_profit` ({take_profit}) must be "
            f"{'above' if side is OrderSide.BUY else 'below'} `stop_loss` ({stop_loss})"
        )
    if entry_limit is None:
        entry = Order.market(asset, side, quantity, time_in_force=time_in_force, tag=tag)
    else:
        entry = Order.limit(
            asset, side, quantity, entry_limit, time_in_force=time_in_force, tag=tag
        )
    exit_side = side.opposite()
    target = Order.limit(
        asset, exit_side, quantity, take_profit, time_in_force=time_in_force, tag=tag
    )
    stop = Order.stop(asset, exit_side, quantity, stop_loss, time_in_force=time_in_force, tag=tag)
    link_oco(target, stop)
    link_oto(entry, target, stop)
    return Bracket(entry, target, stop)
