"""Market orders sized when they fill (`Order.market_sized_at_fill`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml4t.backtest.core.enums import OrderSide, OrderStatus
from ml4t.backtest.core.errors import InvalidQuantityError
from ml4t.backtest.execution import (
    Order,
    PercentageCommission,
    SimpleAccount,
    SimulationBroker,
)


def _bar(broker: SimulationBroker, t: int, open_: float, close: float) -> list:
    o, c = np.array([open_]), np.array([close])
    fills = broker.process_bar(t, t, o, np.fmax(o, c), np.fmin(o, c), c, np.array([1e6]))
    fills += broker.process_close(t, t, c, np.array([1e6]))
    return fills


def test_the_quantity_is_set_at_the_fill_price_with_commission() -> None:
    account = SimpleAccount(10_000.0)
    broker = SimulationBroker(["A"], account=account, commission=PercentageCommission(0.002))
    _bar(broker, 0, 100.0, 100.0)
    order = broker.submit(Order.market_sized_at_fill("A", OrderSide.BUY, 0.5))
    assert order.status is OrderStatus.ACCEPTED
    assert order.quantity == 49.0  # the estimate at the last close: 49 * 100 * 1.002 <= 5000
    (fill,) = _bar(broker, 1, 80.0, 81.0)  # the open gapped down: more shares fit
    assert fill.quantity == 62.0  # 62 * 80 * 1.002 = 4969.9 <= 5000 < 63 * 80 * 1.002
    assert fill.quantity * fill.price + fill.commission <= 5_000.0
    assert (fill.quantity + 1) * fill.price * 1.002 > 5_000.0
    assert order.quantity == 62.0
    assert order.status is OrderStatus.FILLED


def test_an_exit_filled_first_in_the_same_bar_funds_the_sized_order() -> None:
    account = SimpleAccount(10_000.0)
    broker = SimulationBroker(["A"], account=account)
    _bar(broker, 0, 100.0, 100.0)
    broker.submit(Order.market("A", OrderSide.BUY, 100.0))
    account.apply_fills(_bar(broker, 1, 100.0, 100.0))
    assert account.position("A") == 100.0
    assert account.buying_power() == 0.0
    broker.submit(Order.market("A", OrderSide.SELL, 100.0))  # close the long, then
    sized = broker.submit(Order.market_sized_at_fill("A", OrderSide.SELL, 1.0))  # all in short
    fills = _bar(broker, 2, 125.0, 125.0)
    assert [f.quantity for f in fills] == [100.0, 100.0]  # 12,500 freed -> 100 short at 125
    assert sized.status is OrderStatus.FILLED


def test_an_unaffordable_sized_order_is_canceled_with_the_reason() -> None:
    account = SimpleAccount(50.0)
    broker = SimulationBroker(["A"], account=account)
    _bar(broker, 0, 10.0, 10.0)
    order = broker.submit(Order.market_sized_at_fill("A", OrderSide.BUY, 1.0))
    assert order.quantity == 5.0
    assert _bar(broker, 1, 60.0, 60.0) == []
    assert order.status is OrderStatus.CANCELED
    assert "does not pay for one lot" in order.reason


def test_a_sized_order_needs_an_account_and_a_fraction_in_range() -> None:
    broker = SimulationBroker(["A"])
    order = broker.submit(Order.market_sized_at_fill("A", OrderSide.BUY, 0.3))
    assert order.status is OrderStatus.REJECTED
    assert "needs an account" in order.reason
    for bad in (0.0, -0.5, 1.5, math.nan):
        with pytest.raises(InvalidQuantityError, match="fraction"):
            Order.market_sized_at_fill("A", OrderSide.BUY, bad)
