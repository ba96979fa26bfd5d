import math

import pytest

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
from ml4t.backtest.execution.orders import Order, bracket_order, link_oco, link_oto

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def accepted(order: Order) -> Order:
    order.transition(OrderStatus.SUBMITTED)
    order.transition(OrderStatus.ACCEPTED)
    return order


class TestOrderConstruction:
    def test_constructors_set_type_and_prices(self):
        assert Order.market("A", BUY, 1).order_type is OrderType.MARKET
        assert Order.limit("A", BUY, 1, 9.5).limit_price == 9.5
        assert Order.stop("A", SELL, 1, 9.0).stop_price == 9.0
        sl = Order.stop_limit("A", BUY, 1, 10.0, 10.5)
        assert (sl.order_type, sl.stop_price, sl.limit_price) == (OrderType.STOP_LIMIT, 10.0, 10.5)
        assert Order.trailing_stop("A", SELL, 1, trail_amount=2.0).trail_amount == 2.0
        moo = Order.market_on_open("A", BUY, 1)
        assert (moo.order_type, moo.time_in_force) == (OrderType.MARKET_ON_OPEN, TimeInForce.OPG)
        moc = Order.market_on_close("A", BUY, 1)
        assert (moc.order_type, moc.time_in_force) == (OrderType.MARKET_ON_CLOSE, TimeInForce.CLS)

    @pytest.mark.parametrize("qty", [0.0, -5.0, math.nan, math.inf])
    def test_non_positive_or_non_finite_quantity_raises(self, qty):
        with pytest.raises(InvalidQuantityError, match="quantity"):
            Order.market("A", BUY, qty)

    def test_limit_without_price_raises(self):
        with pytest.raises(InvalidPriceError, match="limit_price"):
            Order("A", BUY, 1, OrderType.LIMIT)

    def test_trailing_stop_needs_exactly_one_trail(self):
        with pytest.raises(InvalidPriceError, match="exactly one"):
            Order.trailing_stop("A", SELL, 1)
        with pytest.raises(InvalidPriceError, match="exactly one"):
            Order.trailing_stop("A", SELL, 1, trail_amount=1.0, trail_percent=0.1)
        with pytest.raises(InvalidPriceError, match="trail_percent"):
            Order.trailing_stop("A", SELL, 1, trail_percent=5.0)

    def test_gtd_without_expiry_raises(self):
        with pytest.raises(OrderError, match="expire_at"):
            Order.market("A", BUY, 1, time_in_force=TimeInForce.GTD)


class TestLifecycle:
    def test_every_allowed_transition_is_accepted(self):
        for start, end in ORDER_TRANSITIONS:
            order = Order.market("A", BUY, 1)
            order.status = start
            order.transition(end, "why")
            assert order.status is end

    def test_illegal_transition_raises_naming_both_states(self):
        order = accepted(Order.market("A", BUY, 1))
        with pytest.raises(InvalidOrderTransitionError, match="ACCEPTED -> CREATED"):
            order.transition(OrderStatus.CREATED)

    def test_terminal_states_cannot_move(self):
        for terminal in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED):
            order = Order.market("A", BUY, 1)
            order.status = terminal
            with pytest.raises(InvalidOrderTransitionError):
                order.transition(OrderStatus.ACCEPTED)

    def test_partial_then_full_fill_updates_average_and_status(self):
        order = accepted(Order.market("A", BUY, 10))
        order.record_fill(4, 10.0)
        assert order.status is OrderStatus.PARTIALLY_FILLED
        assert order.remaining == 6.0
        order.record_fill(6, 12.5)
        assert order.status is OrderStatus.FILLED
        assert order.average_fill_price == pytest.approx((40 + 75) / 10)

    def test_overfill_raises(self):
        order = accepted(Order.market("A", BUY, 10))
        with pytest.raises(InvalidQuantityError):
            order.record_fill(11, 10.0)

    def test_event_carries_state(self):
        order = accepted(Order.limit("A", SELL, 3, 101.0, tag="t1"))
        event = order.to_event(42)
        assert (event.timestamp, event.status, event.limit_price, event.tag) == (
            42,
            OrderStatus.ACCEPTED,
            101.0,
            "t1",
        )


class TestLinks:
    def test_bracket_links_oco_and_oto(self):
        b = bracket_order("A", BUY, 10, take_profit=110.0, stop_loss=95.0, entry_limit=100.0)
        assert b.entry.order_type is OrderType.LIMIT
        assert b.take_profit.side is SELL
        assert b.stop_loss.side is SELL
        assert b.take_profit.oco == [b.stop_loss]
        assert b.entry.children == [b.take_profit, b.stop_loss]

    def test_short_bracket_needs_target_below_stop(self):
        with pytest.raises(InvalidPriceError, match="below"):
            bracket_order("A", SELL, 10, take_profit=110.0, stop_loss=95.0)

    def test_oco_needs_two_orders_on_one_asset(self):
        with pytest.raises(OrderError, match="at least two"):
            link_oco(Order.market("A", BUY, 1))
        with pytest.raises(OrderError, match="share one asset"):
            link_oco(Order.market("A", BUY, 1), Order.market("B", BUY, 1))

    def test_linking_submitted_orders_raises(self):
        done = accepted(Order.market("A", BUY, 1))
        with pytest.raises(OrderError, match="before submitting"):
            link_oto(done, Order.market("A", SELL, 1))
