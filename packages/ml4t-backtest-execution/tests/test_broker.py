import math

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide, OrderStatus, TimeInForce
from ml4t.backtest.core.errors import ConfigError, OrderError, OrderRejectedError
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.core.types import NS_PER_DAY, to_timestamp
from ml4t.backtest.execution.account import SimpleAccount
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.commission import (
    CryptoCommission,
    PerShareCommission,
    TieredCommission,
)
from ml4t.backtest.execution.fills import FillTiming, FundsPolicy, IntrabarPolicy
from ml4t.backtest.execution.impact import KyleLambdaImpact, SquareRootImpact
from ml4t.backtest.execution.orders import Order, bracket_order, link_oco
from ml4t.backtest.execution.slippage import FixedSlippage

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def a(*values):
    return np.array(values, dtype=np.float64)


def bar(broker, t, o, h, lo, c, v=1e6, **kw):
    return broker.process_bar(t, t * NS_PER_DAY, a(o), a(h), a(lo), a(c), a(v), **kw)


def close(broker, t, c, v=1e6, **kw):
    return broker.process_close(t, t * NS_PER_DAY, a(c), a(v), **kw)


class TestDecisionBarRule:
    def test_next_bar_open_fills_at_next_open_never_on_decision_bar(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10.5)
        order = b.submit(Order.market("X", BUY, 5))
        assert close(b, 0, 10.5) == []
        fills = bar(b, 1, 10.8, 11.5, 10.1, 11.0)
        assert [(f.quantity, f.price) for f in fills] == [(5.0, 10.8)]
        assert order.status is OrderStatus.FILLED

    def test_limit_submitted_on_bar_cannot_use_that_bars_range(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.limit("X", BUY, 5, 9.5))  # bar 0 low 9 already passed
        assert close(b, 0, 10.5) == []
        assert bar(b, 1, 10.0, 10.6, 9.8, 10.2) == []
        assert [f.price for f in bar(b, 2, 10.0, 10.2, 9.4, 9.6)] == [9.5]

    def test_same_bar_close_fills_at_decision_bar_close_only(self):
        b = SimulationBroker(["X"], fill_timing=FillTiming.SAME_BAR_CLOSE)
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.market("X", BUY, 5))
        assert [f.price for f in close(b, 0, 10.5)] == [10.5]
        assert bar(b, 1, 12, 12, 12, 12) == []

    def test_same_bar_close_marketable_limit_fills_at_close(self):
        b = SimulationBroker(["X"], fill_timing=FillTiming.SAME_BAR_CLOSE)
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.limit("X", BUY, 5, 10.6))
        b.submit(Order.limit("X", BUY, 5, 10.0))  # below the close: not marketable
        assert [f.price for f in close(b, 0, 10.5)] == [10.5]
        assert len(b.open_orders()) == 1

    def test_next_bar_close_fills_at_next_close(self):
        b = SimulationBroker(["X"], fill_timing=FillTiming.NEXT_BAR_CLOSE)
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.market("X", BUY, 5))
        assert close(b, 0, 10.5) == []
        assert bar(b, 1, 11, 12, 10, 11.5) == []
        assert [f.price for f in close(b, 1, 11.5)] == [11.5]

    def test_price_column_fills_at_next_bar_column_value(self):
        b = SimulationBroker(["X"], fill_timing=FillTiming.PRICE_COLUMN)
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.market("X", BUY, 5))
        fills = bar(b, 1, 11, 12, 10, 11.5, fill_price=a(11.2))
        assert [f.price for f in fills] == [11.2]

    def test_market_on_close_under_next_bar_open_waits_for_next_close(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10.5)
        b.submit(Order.market_on_close("X", BUY, 5))
        assert close(b, 0, 10.5) == []
        bar(b, 1, 11, 12, 10, 11.5)
        assert [f.price for f in close(b, 1, 11.5)] == [11.5]


class TestFillPrices:
    def test_buy_limit_gap_gets_open_price_improvement(self):
        b = SimulationBroker(["X"])
        b.submit(Order.limit("X", BUY, 10, 100.0))
        (fill,) = bar(b, 0, 98.0, 99.0, 97.0, 98.5)
        assert (fill.price, fill.reference_price) == (98.0, 98.0)

    def test_sell_stop_gap_fills_at_worse_open(self):
        b = SimulationBroker(["X"])
        b.submit(Order.stop("X", SELL, 10, 95.0))
        (fill,) = bar(b, 0, 92.0, 93.0, 90.0, 91.0)
        assert fill.price == 92.0

    def test_costs_are_broken_down_on_the_fill(self):
        b = SimulationBroker(
            ["X"], slippage=FixedSlippage(0.05), commission=PerShareCommission(0.01, minimum=1.0)
        )
        b.submit(Order.market("X", BUY, 200))
        (fill,) = bar(b, 0, 50.0, 51.0, 49.0, 50.5)
        assert fill.reference_price == 50.0
        assert fill.price == pytest.approx(50.05)
        assert fill.slippage == pytest.approx(0.05 * 200)
        assert fill.commission == pytest.approx(2.0)
        assert fill.remaining == 0.0

    def test_slippage_never_pushes_a_limit_fill_past_its_limit(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.50))
        b.submit(Order.limit("X", BUY, 10, 100.0))
        (fill,) = bar(b, 0, 99.8, 101.0, 99.0, 100.0)  # gap fill at 99.8; slippage 0.5 capped
        assert fill.price == pytest.approx(100.0)
        assert fill.slippage == pytest.approx(0.2 * 10)

    def test_quotes_buy_at_ask_sell_at_bid(self):
        b = SimulationBroker(["X"])
        b.submit(Order.market("X", BUY, 1))
        b.submit(Order.market("X", SELL, 1))
        fills = bar(b, 0, 100, 101, 99, 100, bid=a(99.95), ask=a(100.05))
        assert sorted((f.side, f.price) for f in fills) == [(SELL, 99.95), (BUY, 100.05)]

    def test_permanent_impact_moves_price_for_later_orders_same_bar(self):
        b = SimulationBroker(["X"], impact=KyleLambdaImpact(1e-4))
        b.submit(Order.market("X", BUY, 100))
        b.submit(Order.market("X", BUY, 100))
        f1, f2 = bar(b, 0, 50.0, 51.0, 49.0, 50.5)
        # first: 50 + 1e-4*100 = 50.01; second sees 50.01 and adds 0.01 more
        assert f1.price == pytest.approx(50.01)
        assert f2.reference_price == pytest.approx(50.01)
        assert f2.price == pytest.approx(50.02)
        assert f1.impact == pytest.approx(0.01 * 100)
        # the shift does not carry into the next bar
        b.submit(Order.market("X", BUY, 100))
        (f3,) = bar(b, 1, 50.0, 51.0, 49.0, 50.5)
        assert f3.reference_price == 50.0

    def test_asset_without_bar_does_not_fill(self):
        b = SimulationBroker(["X", "Y"])
        b.submit(Order.market("Y", BUY, 1))
        fills = b.process_bar(
            0, 0, a(1, np.nan), a(1, np.nan), a(1, np.nan), a(1, np.nan), a(1, np.nan)
        )
        assert fills == []
        fills = b.process_bar(1, 1, a(1, 2), a(1, 2), a(1, 2), a(1, 2), a(1, 1))
        assert [(f.asset, f.price) for f in fills] == [("Y", 2.0)]


class TestStopLimitAndTrailing:
    def test_stop_limit_armed_then_fills_as_limit(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.stop_limit("X", BUY, 10, 105.0, 104.0))
        assert bar(b, 0, 103.0, 106.0, 102.0, 105.5) == []
        assert order.triggered
        (fill,) = bar(b, 1, 104.5, 105.0, 103.5, 104.0)
        assert fill.price == 104.0

    def test_trailing_stop_follows_high_and_triggers(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 100, 100, 100, 100)
        order = b.submit(Order.trailing_stop("X", SELL, 10, trail_amount=5.0))
        assert order.stop_price == 95.0
        assert bar(b, 1, 101, 110, 100, 108) == []  # level 95 -> after bar: 105
        assert order.stop_price == 105.0
        (fill,) = bar(b, 2, 107, 108, 104, 104.5)
        assert fill.price == 105.0

    def test_trailing_reference_moves_with_gap_open_before_matching(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 100, 100, 100, 100)
        b.submit(Order.trailing_stop("X", SELL, 1, trail_percent=0.1))
        # opens at 120: level 108 from the open; low 107 triggers it at 108
        (fill,) = bar(b, 1, 120, 121, 107, 110)
        assert fill.price == pytest.approx(108.0)


class TestTimeInForce:
    def test_ioc_limit_not_touched_is_canceled_after_first_bar(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.limit("X", BUY, 10, 90.0, time_in_force=TimeInForce.IOC))
        assert bar(b, 0, 100, 101, 99, 100) == []
        assert order.status is OrderStatus.CANCELED
        assert "IOC" in order.reason

    def test_ioc_partial_remainder_canceled(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 300, time_in_force=TimeInForce.IOC))
        (fill,) = bar(b, 0, 10, 11, 9, 10, v=1000)
        assert fill.quantity == 100.0
        assert fill.remaining == 200.0
        assert order.status is OrderStatus.CANCELED
        assert order.filled_quantity == 100.0

    def test_fok_without_enough_volume_fills_nothing(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 300, time_in_force=TimeInForce.FOK))
        assert bar(b, 0, 10, 11, 9, 10, v=1000) == []
        assert order.status is OrderStatus.CANCELED
        assert "FOK" in order.reason

    def test_fok_with_enough_volume_fills_in_full(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 100, time_in_force=TimeInForce.FOK))
        assert [f.quantity for f in bar(b, 0, 10, 11, 9, 10, v=1000)] == [100.0]
        assert order.status is OrderStatus.FILLED

    def test_gtd_expires_after_its_instant(self):
        b = SimulationBroker(["X"])
        order = b.submit(
            Order.limit("X", BUY, 1, 5.0, time_in_force=TimeInForce.GTD, expire_at=NS_PER_DAY)
        )
        bar(b, 0, 10, 11, 9, 10)
        bar(b, 1, 10, 11, 9, 10)
        assert order.is_working
        bar(b, 2, 10, 11, 9, 10)
        assert order.status is OrderStatus.EXPIRED

    def test_day_order_expires_at_end_of_first_session_it_could_trade(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10)
        order = b.submit(Order.limit("X", BUY, 1, 5.0, time_in_force=TimeInForce.DAY))
        close(b, 0, 10)
        assert order.is_working  # decided after the session it could not trade in
        bar(b, 1, 10, 11, 9, 10)
        close(b, 1, 10)
        assert order.status is OrderStatus.EXPIRED
        assert "DAY" in order.reason

    def test_day_order_intraday_survives_until_session_end(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10)
        order = b.submit(Order.limit("X", BUY, 1, 5.0, time_in_force=TimeInForce.DAY))
        close(b, 0, 10, session_end=False)
        bar(b, 1, 10, 11, 9, 10, session_start=False)
        close(b, 1, 10, session_end=False)
        assert order.is_working
        bar(b, 2, 10, 11, 9, 10, session_start=False)
        close(b, 2, 10, session_end=True)
        assert order.status is OrderStatus.EXPIRED

    def test_opg_limit_fills_only_at_open_or_expires(self):
        b = SimulationBroker(["X"])
        hit = b.submit(Order.limit("X", BUY, 1, 10.0, time_in_force=TimeInForce.OPG))
        miss = b.submit(Order.limit("X", BUY, 1, 9.5, time_in_force=TimeInForce.OPG))
        fills = bar(b, 0, 9.9, 10.5, 9.0, 10.0)  # low 9.0 would touch 9.5, but only the open counts
        assert [(f.order_id, f.price) for f in fills] == [(hit.order_id, 9.9)]
        assert miss.status is OrderStatus.EXPIRED

    def test_market_on_open_waits_for_session_start(self):
        b = SimulationBroker(["X"])
        bar(b, 0, 10, 11, 9, 10)
        order = b.submit(Order.market_on_open("X", BUY, 1))
        assert bar(b, 1, 10, 11, 9, 10, session_start=False) == []
        assert order.is_working
        assert [f.price for f in bar(b, 2, 12, 13, 11, 12)] == [12.0]

    def test_cls_limit_fills_at_close_if_marketable_else_expires(self):
        b = SimulationBroker(["X"])
        hit = b.submit(Order.limit("X", SELL, 1, 10.0, time_in_force=TimeInForce.CLS))
        miss = b.submit(Order.limit("X", SELL, 1, 10.6, time_in_force=TimeInForce.CLS))
        assert bar(b, 0, 10, 11, 9, 10.5) == []  # high 11 would touch both: closing auction only
        fills = close(b, 0, 10.5)
        assert [(f.order_id, f.price) for f in fills] == [(hit.order_id, 10.5)]
        assert miss.status is OrderStatus.EXPIRED


class TestLiquidity:
    def test_partial_fills_across_bars_with_volume_cap(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 250))
        got = [
            [(f.quantity, f.remaining) for f in bar(b, t, 10 + t, 11 + t, 9 + t, 10 + t, v=1000)]
            for t in range(3)
        ]
        assert got == [[(100.0, 150.0)], [(100.0, 50.0)], [(50.0, 0.0)]]
        assert order.average_fill_price == pytest.approx((1000 + 1100 + 600) / 250)

    def test_cap_is_shared_by_orders_on_one_asset(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        first = b.submit(Order.market("X", BUY, 80))
        second = b.submit(Order.market("X", BUY, 80))
        fills = bar(b, 0, 10, 11, 9, 10, v=1000)
        assert [(f.order_id, f.quantity) for f in fills] == [
            (first.order_id, 80.0),
            (second.order_id, 20.0),
        ]

    def test_zero_volume_bar_fills_nothing_and_keeps_order(self):
        b = SimulationBroker(["X"], volume_limit=0.5)
        order = b.submit(Order.market("X", BUY, 1))
        assert bar(b, 0, 10, 10, 10, 10, v=0.0) == []
        assert order.is_working


class TestBrackets:
    @pytest.mark.parametrize(
        ("policy", "winner"),
        [
            (IntrabarPolicy.WORST_CASE, "stop_loss"),
            (IntrabarPolicy.OHLC, "take_profit"),
            (IntrabarPolicy.OLHC, "stop_loss"),
        ],
    )
    def test_stop_and_target_inside_one_bar(self, policy, winner):
        b = SimulationBroker(["X"], intrabar_policy=policy)
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        bar(b, 0, 100, 101, 99, 100)
        assert br.entry.status is OrderStatus.FILLED
        (fill,) = bar(b, 1, 100, 112, 94, 100)
        won = getattr(br, winner)
        lost = br.stop_loss if won is br.take_profit else br.take_profit
        assert fill.order_id == won.order_id
        assert fill.price == (110.0 if won is br.take_profit else 95.0)
        assert lost.status is OrderStatus.CANCELED
        assert f"intrabar policy {policy.name} chose it" in lost.reason

    def test_ohlc_path_when_low_is_touched_before_high_on_short_bracket(self):
        # short bracket: target 90 (buy limit), stop 105 (buy stop); O->H->L: stop first
        b = SimulationBroker(["X"], intrabar_policy=IntrabarPolicy.OHLC)
        br = bracket_order("X", SELL, 10, take_profit=90.0, stop_loss=105.0)
        b.submit(br.entry)
        bar(b, 0, 100, 100, 100, 100)
        (fill,) = bar(b, 1, 100, 106, 89, 95)
        assert fill.order_id == br.stop_loss.order_id

    def test_children_of_open_fill_can_fill_later_in_same_bar(self):
        b = SimulationBroker(["X"])
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        fills = bar(b, 0, 100, 101, 94, 96)
        assert [(f.order_id, f.price) for f in fills] == [
            (br.entry.order_id, 100.0),
            (br.stop_loss.order_id, 95.0),
        ]

    def test_children_wait_inactive_until_entry_fills(self):
        b = SimulationBroker(["X"])
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0, entry_limit=90.0)
        b.submit(br.entry)
        assert bar(b, 0, 100, 120, 91, 100) == []  # would hit the target, but no entry yet
        assert br.take_profit.status is OrderStatus.ACCEPTED

    def test_canceling_unfilled_entry_cancels_children(self):
        b = SimulationBroker(["X"])
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0, entry_limit=90.0)
        b.submit(br.entry)
        assert b.cancel(br.entry.order_id)
        assert br.take_profit.status is OrderStatus.CANCELED
        assert "without a fill" in br.stop_loss.reason

    def test_partly_filled_entry_releases_children_for_filled_quantity(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        br = bracket_order("X", BUY, 300, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        bar(b, 0, 100, 101, 99, 100, v=1000)
        b.cancel(br.entry.order_id)
        assert br.take_profit.quantity == 100.0
        assert br.take_profit.is_working
        (fill,) = bar(b, 1, 100, 111, 99, 100, v=1e6)
        assert (fill.order_id, fill.quantity) == (br.take_profit.order_id, 100.0)

    def test_oco_partial_fill_reduces_sibling(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        target = Order.limit("X", SELL, 200, 110.0)
        stop = Order.stop("X", SELL, 200, 90.0)
        link_oco(target, stop)
        b.submit(target)
        b.submit(stop)
        bar(b, 0, 100, 111, 99, 100, v=1000)
        assert target.filled_quantity == 100.0
        assert stop.quantity == 100.0
        assert stop.is_working


class TestAccountChecks:
    @staticmethod
    def _entry_before_exit(exit_first):
        # Long 100 A; the entry on B (1,000) is submitted first while cash covers it, the
        # exit on A second; then the cash is spent elsewhere, so only the exit can pay.
        acct = SimpleAccount(1000.0)
        acct.apply_fill(_fill("A", BUY, 100, 10.0))
        acct._cash = 1000.0
        b = SimulationBroker(["A", "B"], account=acct, exit_first=exit_first)
        entry = b.submit(Order.limit("B", BUY, 50, 20.0))
        exit_ = b.submit(Order.limit("A", SELL, 100, 10.0))
        assert entry.order_id < exit_.order_id
        acct._cash = 0.0
        fills = b.process_bar(0, 0, a(10, 20), a(10, 20), a(10, 20), a(10, 20), a(1e6, 1e6))
        return fills, entry, exit_

    def test_exit_first_frees_cash_for_entry(self):
        fills, entry, exit_ = self._entry_before_exit(True)
        assert [f.order_id for f in fills] == [exit_.order_id, entry.order_id]

    def test_without_exit_first_entry_is_rejected_for_cash(self):
        fills, entry, exit_ = self._entry_before_exit(False)
        assert [f.order_id for f in fills] == [exit_.order_id]
        assert entry.status is OrderStatus.REJECTED
        assert "insufficient buying power at fill" in entry.reason

    def test_entry_accepted_at_submit_when_working_exit_frees_cash(self):
        acct = SimpleAccount(0.0)
        acct.apply_fill(_fill("A", BUY, 100, 10.0))
        acct._cash = 0.0
        b = SimulationBroker(["A", "B"], account=acct)
        b.submit(Order.limit("A", SELL, 100, 10.0))
        assert b.submit(Order.limit("B", BUY, 50, 20.0)).status is OrderStatus.ACCEPTED
        assert b.submit(Order.limit("B", BUY, 51, 20.0)).status is OrderStatus.REJECTED

    def test_resize_policy_fills_what_is_affordable(self):
        acct = SimpleAccount(1000.0)
        b = SimulationBroker(
            ["X"],
            account=acct,
            funds_policy=FundsPolicy.RESIZE,
            commission=PerShareCommission(0.0, minimum=5.0),
        )
        bar(b, 0, 10, 10, 10, 10)
        order = b.submit(Order.market("X", BUY, 90))  # 90*10 = 900 OK at submit
        (fill,) = bar(b, 1, 12, 12, 12, 12)  # now 90*12 = 1080 + 5 > 1000
        # floor((1000 - 5) / 12) = 82 shares; 82*12 + 5 = 989
        assert fill.quantity == 82.0
        assert order.status is OrderStatus.CANCELED
        assert "resized" in order.reason

    def test_reject_policy_rejects_at_fill(self):
        acct = SimpleAccount(1000.0)
        b = SimulationBroker(["X"], account=acct)
        bar(b, 0, 10, 10, 10, 10)
        order = b.submit(Order.market("X", BUY, 90))
        assert bar(b, 1, 12, 12, 12, 12) == []
        assert order.status is OrderStatus.REJECTED

    def test_submit_rejects_with_reason_and_event(self):
        reg = AssetRegistry([Equity(asset_id="X", shortable=False)])
        b = SimulationBroker(["X"], reg, account=SimpleAccount(1e6))
        order = b.submit(Order.market("X", SELL, 1))
        assert order.status is OrderStatus.REJECTED
        events = b.drain_order_events()
        assert [e.status for e in events] == [OrderStatus.SUBMITTED, OrderStatus.REJECTED]
        assert "not shortable" in events[-1].reason

    def test_unknown_asset_is_rejected(self):
        b = SimulationBroker(["X"])
        assert "not traded by this broker" in b.submit(Order.market("Z", BUY, 1)).reason


class TestOrderManagement:
    def test_modify_limit_price_rounds_and_takes_effect(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.limit("X", BUY, 10, 90.0))
        b.modify(order.order_id, limit_price=99.509)
        assert order.limit_price == 99.5
        (fill,) = bar(b, 0, 100, 101, 99.5, 100)
        assert fill.price == 99.5

    def test_modify_quantity_below_filled_raises(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 300))
        bar(b, 0, 10, 10, 10, 10, v=1000)
        with pytest.raises(OrderRejectedError, match="must exceed the filled"):
            b.modify(order.order_id, quantity=100)
        b.modify(order.order_id, quantity=150)
        (fill,) = bar(b, 1, 10, 10, 10, 10, v=1000)
        assert fill.quantity == 50.0

    def test_modify_stop_on_limit_order_raises(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.limit("X", BUY, 10, 90.0))
        with pytest.raises(OrderRejectedError, match="no `stop_price`"):
            b.modify(order.order_id, stop_price=95.0)

    def test_cancel_and_unknown_ids(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.limit("X", BUY, 10, 90.0))
        assert b.cancel(order.order_id) is True
        assert b.cancel(order.order_id) is False
        assert order.reason == "canceled by user"
        with pytest.raises(OrderError, match="no order with id 99"):
            b.cancel(99)
        assert b.open_orders() == []

    def test_open_orders_filters_by_asset(self):
        b = SimulationBroker(["X", "Y"])
        x = b.submit(Order.limit("X", BUY, 1, 1.0))
        y = b.submit(Order.limit("Y", BUY, 1, 1.0))
        assert b.open_orders() == [x, y]
        assert b.open_orders("Y") == [y]

    def test_split_adjusts_quantity_and_prices(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.limit("X", BUY, 10, 90.01))
        b.adjust_for_split("X", 2.0)
        assert (order.quantity, order.limit_price) == (20.0, 45.0)  # 45.005 rounds down for a buy
        with pytest.raises(ConfigError):
            b.adjust_for_split("X", 0.0)

    def test_events_follow_the_lifecycle(self):
        b = SimulationBroker(["X"], volume_limit=0.1)
        order = b.submit(Order.market("X", BUY, 150))
        bar(b, 0, 10, 10, 10, 10, v=1000)
        bar(b, 1, 10, 10, 10, 10, v=1000)
        statuses = [e.status for e in b.drain_order_events() if e.order_id == order.order_id]
        assert statuses == [
            OrderStatus.SUBMITTED,
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
        ]
        assert b.drain_order_events() == []

    def test_resubmitting_raises(self):
        b = SimulationBroker(["X"])
        order = b.submit(Order.market("X", BUY, 1))
        with pytest.raises(OrderError, match="already submitted"):
            b.submit(order)

    def test_empty_book_returns_no_fills_and_grows_when_needed(self):
        b = SimulationBroker(["X"])
        for t in range(3):
            assert bar(b, t, 10, 10, 10, 10) == []
        for _ in range(200):  # beyond the initial capacity of 64 slots
            b.submit(Order.limit("X", BUY, 1, 5.0))
        assert len(b.open_orders()) == 200
        assert len(bar(b, 3, 6, 6, 4, 5)) == 200


def test_config_errors():
    with pytest.raises(ConfigError, match="duplicate"):
        SimulationBroker(["X", "X"])
    with pytest.raises(ConfigError, match="bars_per_day"):
        SimulationBroker(["X"], bars_per_day=0.0)
    with pytest.raises(ConfigError, match="fraction"):
        SimulationBroker(["X"], volume_limit=2.0)


def _fill(asset, side, qty, price):
    return FillEvent(0, 0, asset, side, float(qty), price)


def test_no_math_nan_leaks_into_fill_fields():
    b = SimulationBroker(["X"])
    b.submit(Order.market("X", BUY, 1))
    (fill,) = bar(b, 0, 10, 10, 10, 10)
    assert not any(isinstance(v, float) and math.isnan(v) for v in fill)


class TestCostInputs:
    def test_maker_fee_for_resting_limit_touch_taker_for_market(self):
        b = SimulationBroker(["X"], commission=CryptoCommission(maker_bps=1.0, taker_bps=5.0))
        b.submit(Order.limit("X", BUY, 10, 99.0))
        b.submit(Order.market("X", BUY, 10))
        fills = {f.order_id: f for f in bar(b, 0, 100.0, 101.0, 98.0, 100.0)}
        assert fills[1].commission == pytest.approx(10 * 99.0 * 1e-4)  # maker
        assert fills[2].commission == pytest.approx(10 * 100.0 * 5e-4)  # taker

    def test_tiered_commission_uses_month_to_date_volume_and_resets(self):
        tiers = TieredCommission(
            ((100.0, 0.01), (math.inf, 0.005)), minimum=0.0, max_fraction=math.inf
        )
        b = SimulationBroker(["X"], commission=tiers)
        days = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01"]
        got = []
        for t, day in enumerate(days):
            b.submit(Order.market("X", BUY, 80))
            (fill,) = b.process_bar(t, to_timestamp(day), a(10), a(10), a(10), a(10), a(1e6))
            got.append(fill.commission)
        # month volume before each fill: 0, 80, 160 (-> second tier), then February: 0
        assert got == pytest.approx([0.8, 0.8, 0.4, 0.8])

    def test_square_root_impact_with_given_market_stats(self):
        b = SimulationBroker(["X"], impact=SquareRootImpact(1.0))
        b.set_market_stats(adv=[1e6], volatility=[0.02])
        b.submit(Order.market("X", BUY, 10_000))
        (fill,) = bar(b, 0, 50.0, 51.0, 49.0, 50.0)
        # 1.0 * 0.02 * sqrt(10,000 / 1,000,000) * 50 = 0.1 a share
        assert fill.price == pytest.approx(50.1)
        assert fill.impact == pytest.approx(1000.0)

    def test_impact_stats_fall_back_to_bar_volume_and_default_volatility(self):
        b = SimulationBroker(["X"], impact=SquareRootImpact(1.0), default_volatility=0.03)
        b.submit(Order.market("X", SELL, 40_000))
        (fill,) = bar(b, 0, 20.0, 21.0, 19.0, 20.0, v=1e6)
        # 0.03 * sqrt(0.04) * 20 = 0.12 below the open
        assert fill.price == pytest.approx(19.88)

    def test_many_assets_matched_in_one_call(self):
        b = SimulationBroker(["A", "B", "C"])
        b.submit(Order.limit("A", BUY, 1, 9.0))
        b.submit(Order.stop("B", SELL, 1, 18.0))
        b.submit(Order.limit("C", SELL, 1, 35.0))
        fills = b.process_bar(
            0, 0, a(10, 20, 30), a(11, 21, 31), a(8.5, 19, 29), a(10, 20, 30), a(1e6, 1e6, 1e6)
        )
        assert [(f.asset, f.price) for f in fills] == [("A", 9.0)]
        assert b.active_order_count == 2
