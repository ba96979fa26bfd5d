from __future__ import annotations

from enum import IntEnum

import pytest

from ml4t.backtest.core.enums import (
    ORDER_TRANSITIONS,
    TERMINAL_ORDER_STATUSES,
    AssetClass,
    CorporateActionType,
    EventType,
    OptionRight,
    OrderSide,
    OrderStatus,
    OrderType,
    RoundingMode,
    TimeInForce,
)

ALL_ENUMS = [
    AssetClass,
    CorporateActionType,
    EventType,
    OptionRight,
    OrderSide,
    OrderStatus,
    OrderType,
    RoundingMode,
    TimeInForce,
]


@pytest.mark.parametrize("enum", ALL_ENUMS)
def test_every_enum_is_an_int_enum_with_upper_case_unique_members(enum: type[IntEnum]) -> None:
    assert issubclass(enum, IntEnum)
    values = [m.value for m in enum]
    assert len(values) == len(set(values))
    assert all(m.name.isupper() for m in enum)


class TestOrderSide:
    def test_side_is_the_sign_it_gives_a_quantity(self) -> None:
        assert OrderSide.BUY * 10 == 10
        assert OrderSide.SELL * 10 == -10
        assert (OrderSide.BUY.sign, OrderSide.SELL.sign) == (1, -1)

    def test_opposite(self) -> None:
        assert OrderSide.BUY.opposite() is OrderSide.SELL
        assert OrderSide.SELL.opposite() is OrderSide.BUY


class TestOrderTransitions:
    def test_terminal_statuses_have_no_way_out(self) -> None:
        assert {
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        } == TERMINAL_ORDER_STATUSES
        for src, _ in ORDER_TRANSITIONS:
            assert src not in TERMINAL_ORDER_STATUSES

    def test_every_status_is_reachable_from_created(self) -> None:
        reached = {OrderStatus.CREATED}
        frontier = [OrderStatus.CREATED]
        while frontier:
            here = frontier.pop()
            for src, dst in ORDER_TRANSITIONS:
                if src == here and dst not in reached:
                    reached.add(dst)
                    frontier.append(dst)
        assert reached == set(OrderStatus)

    def test_every_non_terminal_status_can_end(self) -> None:
        for status in set(OrderStatus) - TERMINAL_ORDER_STATUSES:
            assert any(src == status for src, _ in ORDER_TRANSITIONS), status

    def test_nothing_returns_to_created_and_only_created_is_submitted(self) -> None:
        assert all(dst != OrderStatus.CREATED for _, dst in ORDER_TRANSITIONS)
        into_submitted = {src for src, dst in ORDER_TRANSITIONS if dst == OrderStatus.SUBMITTED}
        assert into_submitted == {OrderStatus.CREATED}

    @pytest.mark.parametrize(
        ("src", "dst", "allowed"),
        [
            (OrderStatus.CREATED, OrderStatus.SUBMITTED, True),
            (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, True),
            (OrderStatus.ACCEPTED, OrderStatus.FILLED, True),
            (OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, True),
            (OrderStatus.CREATED, OrderStatus.FILLED, False),
            (OrderStatus.FILLED, OrderStatus.CANCELED, False),
            (OrderStatus.PARTIALLY_FILLED, OrderStatus.REJECTED, False),
        ],
    )
    def test_table_entries(self, src: OrderStatus, dst: OrderStatus, allowed: bool) -> None:
        assert ((src, dst) in ORDER_TRANSITIONS) is allowed

    def test_is_terminal_and_is_working(self) -> None:
        assert OrderStatus.FILLED.is_terminal
        assert not OrderStatus.ACCEPTED.is_terminal
        working = {s for s in OrderStatus if s.is_working}
        assert working == {OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED}


def test_option_right_is_signed() -> None:
    assert (OptionRight.CALL, OptionRight.PUT) == (1, -1)
