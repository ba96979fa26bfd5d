"""Strategy helpers through the engine: quantities, order types, targets, rebalance, brackets."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.enums import OrderType
from ml4t.backtest.core.errors import ConfigError, StrategyError, UnknownAssetError
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import DataWindow, Strategy, round_quantity


class Script(Strategy):
    """Run `actions[t](self, bar)` at bar t and keep what it returns."""

    def __init__(self, actions):
        self.actions = actions
        self.seen = {}

    def on_bar(self, bar):
        action = self.actions.get(bar.index)
        if action is not None:
            self.seen[bar.index] = action(self, bar)


def run(feed, actions, config):
    strategy = Script(actions)
    result = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    return result, strategy.seen


class TestRoundQuantity:
    @pytest.mark.parametrize(
        ("q", "step", "out"),
        [
            (12.7, 1.0, 12.0),
            (-12.7, 1.0, -12.0),
            (299.99999999999, 1.0, 300.0),
            (250.0, 100.0, 200.0),
            (0.5, 0.0, 0.5),
            (0.37, 0.1, 0.30000000000000004),
        ],
    )
    def test_rounds_toward_zero_on_the_grid(self, q, step, out):
        assert round_quantity(q, step) == out


class TestTargets:
    def test_order_target_percent_buys_floor_of_equity_share(self, feed_factory, free_config):
        feed = feed_factory([[30.0, 40.0], [30.0, 40.0], [30.0, 40.0]])
        result, _ = run(
            feed,
            {0: lambda s, b: s.order_target_percent("A0", 0.25)},
            free_config(initial_cash=10_000.0),
        )
        assert result.fills["quantity"].to_list() == [83.0]  # floor(2500 / 30)

    def test_order_target_value_and_quantity_count_pending_orders(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]])

        def act(s, b):
            first = s.order_target_value("A0", 500.0)  # 50 shares, pending
            second = s.order_target_quantity("A0", 50)  # already pending: nothing
            third = s.order_target_quantity("A0", 80)  # 30 more
            return first.quantity, second, third.quantity

        result, seen = run(feed, {0: act}, free_config(initial_cash=10_000.0))
        assert seen[0] == (50.0, None, 30.0)
        assert result.equity_curve["cash"][-1] == pytest.approx(10_000.0 - 800.0)

    def test_buy_percent_adds_on_top_of_holding(self, feed_factory, free_config):
        feed = feed_factory([[20.0], [20.0], [20.0], [20.0]])
        result, _ = run(
            feed,
            {0: lambda s, b: s.buy_percent("A0", 0.1), 1: lambda s, b: s.buy_percent("A0", 0.1)},
            free_config(initial_cash=10_000.0),
        )
        assert result.fills["quantity"].to_list() == [50.0, 50.0]
        assert result.positions["quantity"][-1] == 100.0

    def test_close_position_flattens_and_returns_none_when_flat(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [11.0], [12.0], [13.0]])
        result, seen = run(
            feed,
            {
                0: lambda s, b: s.buy("A0", 7),
                2: lambda s, b: s.close_position("A0"),
                3: lambda s, b: s.close_position("A0"),
            },
            free_config(initial_cash=1_000.0),
        )
        assert seen[3] is None
        assert result.trades["net_pnl"].to_list() == [pytest.approx(7 * (13.0 - 11.0))]


class TestOrderTypes:
    def test_limit_price_alone_makes_a_limit_order_that_waits(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [9.0]], low=[[10.0], [9.8], [8.9]])
        result, seen = run(
            feed,
            {0: lambda s, b: s.buy("A0", 10, limit_price=9.5).order_type},
            free_config(initial_cash=1_000.0),
        )
        assert seen[0] is OrderType.LIMIT
        # bar 1 low 9.8 does not reach 9.5; bar 2 opens at 9.0 (gap below): fills at the open
        assert result.fills["price"].to_list() == [9.0]
        assert result.fills["timestamp"].dt.day().to_list() == [3]

    def test_stop_price_alone_makes_a_stop_order(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]], high=[[10.0], [10.2], [11.0]])
        result, seen = run(
            feed,
            {0: lambda s, b: s.buy("A0", 10, stop_price=10.5).order_type},
            free_config(initial_cash=1_000.0),
        )
        assert seen[0] is OrderType.STOP
        assert result.fills["price"].to_list() == [10.5]

    def test_cancel_removes_a_working_order(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]])
        result, _ = run(
            feed,
            {0: lambda s, b: s.buy("A0", 10, limit_price=5.0), 1: lambda s, b: s.cancel_all("A0")},
            free_config(initial_cash=1_000.0),
        )
        assert result.orders["status"].to_list() == ["CANCELED"]
        assert result.fills.height == 0

    def test_negative_quantity_for_buy_is_rejected(self, feed_factory, free_config):
        feed = feed_factory([[10.0]])
        with pytest.raises(StrategyError, match="must be > 0"):
            run(feed, {0: lambda s, b: s.buy("A0", -1)}, free_config())

    def test_unknown_asset_raises_with_the_ticker(self, feed_factory, free_config):
        feed = feed_factory([[10.0]])
        with pytest.raises(StrategyError, match="ZZZ"):
            run(feed, {0: lambda s, b: s.buy("ZZZ", 1)}, free_config())


class TestRebalance:
    def test_sells_go_before_buys_and_quantities_are_floored(self, feed_factory, free_config):
        feed = feed_factory([[10.0, 20.0, 50.0]] * 4)
        result, seen = run(
            feed,
            {
                0: lambda s, b: s.rebalance({"A0": 0.5, "A1": 0.3}),
                2: lambda s, b: [
                    (o.asset, o.signed_quantity) for o in s.rebalance({"A1": 0.2, "A2": 0.5})
                ],
            },
            free_config(initial_cash=10_000.0),
        )
        # bar 0: A0 floor(5000/10)=500, A1 floor(3000/20)=150
        # bar 2 (equity 10,000): A0 -> 0 (sell 500), A1 -> 100 (sell 50), A2 -> 100 (buy)
        assert seen[2] == [("A0", -500.0), ("A1", -50.0), ("A2", 100.0)]
        assert result.positions.filter(
            result.positions["timestamp"] == result.positions["timestamp"].max()
        ).sort("asset")["quantity"].to_list() == [100.0, 100.0]

    def test_min_trade_value_skips_small_adjustments_but_not_exits(self, feed_factory, free_config):
        feed = feed_factory([[10.0, 10.0], [10.0, 10.0], [10.5, 10.0], [10.5, 10.0]])
        result, seen = run(
            feed,
            {
                0: lambda s, b: s.rebalance({"A0": 0.5, "A1": 0.4}),
                2: lambda s, b: len(s.rebalance({"A0": 0.5}, min_trade_value=300.0)),
            },
            free_config(initial_cash=10_000.0),
        )
        # bar 2: A0 target floor(5000 -> equity 10,250 * .5 / 10.5) = 488 vs 500 held: 12 * 10.5
        # = 126 < 300, skipped; A1 is not named: full exit of 400 always allowed
        assert seen[2] == 1
        assert result.orders["asset"].to_list()[-1] == "A1"

    def test_array_weights_nan_means_leave_alone(self, feed_factory, free_config):
        feed = feed_factory([[10.0, 10.0]] * 3)
        result, _ = run(
            feed,
            {
                0: lambda s, b: s.rebalance(np.array([0.2, 0.3])),
                1: lambda s, b: s.rebalance(np.array([np.nan, 0.1])),
            },
            free_config(initial_cash=10_000.0),
        )
        last = result.positions.filter(result.positions["timestamp"].dt.day() == 3)
        assert last.sort("asset")["quantity"].to_list() == [200.0, 100.0]

    def test_rebalance_unknown_asset_raises(self, feed_factory, free_config):
        feed = feed_factory([[10.0]])
        with pytest.raises(StrategyError, match="not in the feed"):
            run(feed, {0: lambda s, b: s.rebalance({"B": 1.0})}, free_config())


class TestBracket:
    def test_stop_leg_fills_and_target_leg_is_canceled(self, feed_factory, free_config):
        feed = feed_factory(
            [[10.0], [10.0], [9.0], [9.0]],
            low=[[10.0], [10.0], [8.9], [9.0]],
        )
        result, _ = run(
            feed,
            {0: lambda s, b: s.bracket("A0", 10, stop_loss=9.5, take_profit=11.0)},
            free_config(initial_cash=1_000.0),
        )
        assert result.fills["price"].to_list() == [10.0, 9.0]  # entry; stop (gap open 9.0)
        statuses = dict(zip(result.orders["order_type"], result.orders["status"], strict=True))
        assert statuses == {"MARKET": "FILLED", "LIMIT": "CANCELED", "STOP": "FILLED"}

    def test_bracket_needs_a_leg(self, feed_factory, free_config):
        feed = feed_factory([[10.0]])
        with pytest.raises(StrategyError, match="stop_loss"):
            run(feed, {0: lambda s, b: s.bracket("A0", 1)}, free_config())


class TestOutsideARun:
    def test_helpers_outside_a_run_raise_config_error(self):
        with pytest.raises(ConfigError, match="during a run"):
            Strategy().buy("A", 1)
        with pytest.raises(ConfigError, match="during a backtest"):
            Strategy().history("close", 3)

    def test_data_window_rejects_unknown_names(self):
        w = DataWindow({"close": np.ones((3, 1))}, {"vix": np.ones(3)}, ("A",))
        w.t = 2
        assert w.history("vix", 2).tolist() == [1.0, 1.0]
        with pytest.raises(KeyError, match="known: close, vix"):
            w.history("open", 2)
        with pytest.raises(UnknownAssetError):
            w.history("close", 2, "B")
