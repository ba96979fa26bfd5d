from __future__ import annotations

import math
import pickle

import pytest

from ml4t.backtest.core.enums import (
    CorporateActionType,
    EventType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ml4t.backtest.core.events import (
    CorporateActionEvent,
    FillEvent,
    MarketEvent,
    OrderEvent,
    SignalEvent,
)


def test_market_event_fields_and_type() -> None:
    bar = MarketEvent(1, "AAPL", 10.0, 11.0, 9.0, 10.5, 1_000.0)
    assert bar.close == 10.5
    assert bar.event_type is EventType.MARKET
    assert bar._fields == ("timestamp", "asset", "open", "high", "low", "close", "volume")


def test_events_are_immutable_and_pickle() -> None:
    bar = MarketEvent(1, "AAPL", 10.0, 11.0, 9.0, 10.5, 1_000.0)
    with pytest.raises(AttributeError):
        bar.close = 1.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(bar)) == bar


def test_signal_event() -> None:
    sig = SignalEvent(5, "MSFT", "momentum", 0.7)
    assert (sig.name, sig.value, sig.event_type) == ("momentum", 0.7, EventType.SIGNAL)


def test_order_event_defaults() -> None:
    ev = OrderEvent(1, 42, "AAPL", OrderSide.BUY, 10.0, OrderType.LIMIT, OrderStatus.ACCEPTED)
    assert math.isnan(ev.limit_price)
    assert math.isnan(ev.stop_price)
    assert ev.time_in_force is TimeInForce.GTC
    assert (ev.filled_quantity, ev.reason, ev.tag) == (0.0, "", "")
    assert ev.event_type is EventType.ORDER


def test_fill_event_signed_quantity_notional_and_costs() -> None:
    fill = FillEvent(
        0,
        1,
        "ES",
        OrderSide.SELL,
        2.0,
        4500.25,
        reference_price=4500.5,
        commission=4.0,
        slippage=25.0,
        impact=1.5,
        multiplier=50.0,
    )
    assert fill.signed_quantity == -2.0
    assert fill.notional == 2.0 * 4500.25 * 50.0 == 450_025.0
    assert fill.total_cost == 30.5
    assert fill.event_type is EventType.FILL


def test_corporate_action_event_defaults() -> None:
    split = CorporateActionEvent(10, "AAPL", CorporateActionType.SPLIT, ratio=4.0)
    assert split.ratio == 4.0
    assert math.isnan(split.cash_amount)
    assert (split.new_asset, split.pay_timestamp) == ("", 0)
    assert split.event_type is EventType.CORPORATE_ACTION
