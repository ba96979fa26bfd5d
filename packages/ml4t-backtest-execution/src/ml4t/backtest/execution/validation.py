"""Order validation and routing: precision from the asset, order-type rules, account checks.

`validate_order` is what the broker runs on `submit`. It first *normalises* the order to
the asset's grids, in the direction that never makes the order more aggressive than asked:

* quantity rounds **down** to a whole number of `Asset.lot_size`;
* a BUY limit rounds **down** and a SELL limit **up** to `Asset.tick_size`;
* a BUY stop rounds **up** and a SELL stop **down** (it never triggers earlier);
* a trailing amount rounds to the nearest tick (at least one tick).

Then it checks, in order, and returns the first failure as a reason (None when accepted):
quantity left after rounding, time in force allowed for the type, short-sale permission
(`Asset.shortable` and `AccountView.can_short`) for the part of a SELL that opens or adds
to a short, and the account's own `AccountView.check_order` (buying power).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from ml4t.backtest.core.assets import Asset
from ml4t.backtest.core.enums import OrderSide, OrderType, TimeInForce
from ml4t.backtest.execution._rounding import ceil_to_step, floor_to_step, nearest_step
from ml4t.backtest.execution.account import AccountView
from ml4t.backtest.execution.orders import Order

__all__ = ["normalize_order", "validate_order", "ALLOWED_TIME_IN_FORCE"]

_ALL_TIF = frozenset(TimeInForce)
ALLOWED_TIME_IN_FORCE: dict[OrderType, frozenset[TimeInForce]] = {
    OrderType.MARKET: _ALL_TIF,
    OrderType.LIMIT: _ALL_TIF,
    OrderType.STOP: _ALL_TIF - {TimeInForce.OPG, TimeInForce.CLS},
    OrderType.STOP_LIMIT: _ALL_TIF - {TimeInForce.OPG, TimeInForce.CLS},
    OrderType.TRAILING_STOP: _ALL_TIF - {TimeInForce.OPG, TimeInForce.CLS},
    OrderType.MARKET_ON_OPEN: frozenset({TimeInForce.OPG}),
    OrderType.MARKET_ON_CLOSE: frozenset({TimeInForce.CLS}),
}
"""Which time-in-force values each order type accepts (auction types only their auction)."""


# Enum members as module constants: `Enum.MEMBER` is a slow class attribute lookup.
_OrderSide_BUY: Final = OrderSide.BUY
_OrderSide_SELL: Final = OrderSide.SELL
_OrderType_TRAILING_STOP: Final = OrderType.TRAILING_STOP


def normalize_order(order: Order, asset: Asset) -> str | None:
    """Round `order` in place to the asset's lot and tick grids; return a reason if nothing is left.

    Example:
        >>> from ml4t.backtest.core.assets import Equity
        >>> o = Order.limit("AAPL", OrderSide.BUY, 10.7, 189.237)
        >>> normalize_order(o, Equity(asset_id="AAPL")), o.quantity, o.limit_price
        (None, 10.0, 189.23)
        >>> normalize_order(Order.market("AAPL", OrderSide.BUY, 0.4), Equity(asset_id="AAPL"))
        "quantity 0.4 of 'AAPL' is below one lot (lot_size=1.0); order at least 1.0"
    """
    quantity = floor_to_step(order.quantity, asset.lot_size)
    if quantity <= 0.0:
        return (
            f"quantity {order.quantity:g} of {order.asset!r} is below one lot "
            f"(lot_size={asset.lot_size}); order at least {asset.lot_size}"
        )
    order.quantity = quantity
    tick = asset.tick_size
    buy = order.side is _OrderSide_BUY
    if not math.isnan(order.limit_price):
        rounded = (floor_to_step if buy else ceil_to_step)(order.limit_price, tick)
        if rounded <= 0.0:
            return f"limit price {order.limit_price} of {order.asset!r} rounds to 0 (tick {tick})"
        order.limit_price = rounded
    if not math.isnan(order.stop_price) and order.order_type is not _OrderType_TRAILING_STOP:
        rounded = (ceil_to_step if buy else floor_to_step)(order.stop_price, tick)
        if rounded <= 0.0:
            return f"stop price {order.stop_price} of {order.asset!r} rounds to 0 (tick {tick})"
        order.stop_price = rounded
    if not math.isnan(order.trail_amount):
        order.trail_amount = max(nearest_step(order.trail_amount, tick), tick)
    return None


def validate_order(
    order: Order,
    asset: Asset,
    *,
    account: AccountView | None = None,
    reference_price: float = math.nan,
    pending_position: float = 0.0,
    releasable: Callable[[], float] | None = None,
) -> str | None:
    """Normalise `order` to `asset` and return why it must be rejected, or None.

    Args:
        order: The order (its quantity and prices may be rounded in place).
        asset: The asset definition (tick, lot, shortable).
        account: Asked about positions, short permission and buying power; None skips
            the account checks.
        reference_price: Price used for the buying-power check: the limit or stop when
            the order has one, else this (e.g. the last close); NaN skips that check.
        pending_position: Quantity already filled but not yet applied to the account.
        releasable: Returns the buying power that working exit orders will release; when
            the account refuses for buying power, the order is still accepted if
            ``opening value <= buying_power() + releasable()`` (a rebalance that sells
            first). The broker re-checks at fill time.

    Returns:
        A reason a user can act on, or None when the order may be accepted.

    Example:
        >>> from ml4t.backtest.core.assets import Equity
        >>> from ml4t.backtest.execution.account import SimpleAccount
        >>> gme = Equity(asset_id="GME", shortable=False)
        >>> validate_order(Order.market("GME", OrderSide.SELL, 5), gme, account=SimpleAccount(1e4))
        "short sale not permitted for 'GME': the asset is not shortable (position 0, sell 5)"
    """
    reason = normalize_order(order, asset)
    if reason is not None:
        return reason
    allowed = ALLOWED_TIME_IN_FORCE[order.order_type]
    if order.time_in_force not in allowed:
        names = ", ".join(sorted(t.name for t in allowed))
        return (
            f"time in force {order.time_in_force.name} is not allowed for "
            f"{order.order_type.name} orders; use one of {names}"
        )
    if account is None:
        return None
    held = account.position(order.asset) + pending_position
    closing = min(order.quantity, abs(held)) if held * int(order.side) < 0 else 0.0
    opening = order.quantity - closing
    if order.side is _OrderSide_SELL and opening > 0.0:
        if not asset.shortable:
            why = "the asset is not shortable"
        elif not account.can_short(order.asset):
            why = "the account may not short it"
        else:
            why = ""
        if why:
            return (
                f"short sale not permitted for {order.asset!r}: {why} "
                f"(position {held:g}, sell {order.quantity:g})"
            )
    price = order.limit_price
    if math.isnan(price):
        price = order.stop_price
    if math.isnan(price):
        price = reference_price
    if opening > 0.0 and not math.isnan(price):
        reason = account.check_order(order.asset, order.side, opening, price)
        if reason is not None and releasable is not None:
            need = opening * price * asset.multiplier
            if need <= account.buying_power() + releasable():
                return None
        return reason
    return None
