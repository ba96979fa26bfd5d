"""Hand-computed backtests through BacktestEngine: every number checked."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ml4t.backtest.core.enums import CorporateActionType
from ml4t.backtest.core.errors import ConfigError, StrategyError
from ml4t.backtest.core.events import CorporateActionEvent
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import PHASES, BacktestEngine
from ml4t.backtest.strategy.interface import PortfolioView, TradingInterface
from ml4t.backtest.strategy.strategy import Strategy

OPEN = [[10.0], [10.2], [10.9], [11.0]]
HIGH = [[10.5], [11.0], [11.5], [11.3]]
LOW = [[9.5], [10.0], [10.5], [10.7]]
CLOSE = [[10.0], [10.8], [11.2], [11.1]]


class BuyThenSell(Strategy):
    def __init__(self, buy_at: int = 0, sell_at: int = 2, qty: float = 100) -> None:
        self.buy_at, self.sell_at, self.qty = buy_at, sell_at, qty

    def on_bar(self, bar):
        if bar.index == self.buy_at:
            self.buy("A0", self.qty)
        if bar.index == self.sell_at:
            self.close_position("A0")


@pytest.fixture
def feed(feed_factory):
    return feed_factory(CLOSE, open_=OPEN, high=HIGH, low=LOW)


COSTS = BacktestConfig(
    initial_cash=10_000.0,
    commission={"kind": "per_share", "per_share": 0.01, "minimum": 1.0},
    slippage={"kind": "fixed_bps", "bps": 10.0},
)


class TestHandComputedNextOpen:
    # buy 100 at bar 1's open 10.2 + 0.1% = 10.2102, commission max(100*0.01, 1) = 1
    # sell 100 at bar 3's open 11.0 - 0.1% = 10.989, commission 1
    def test_equity_and_cash_every_bar(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        ec = r.equity_curve
        cash1 = 10_000.0 - 100 * 10.2102 - 1.0  # 8977.98
        assert ec["cash"].to_list() == pytest.approx([10_000.0, cash1, cash1, cash1 + 1098.9 - 1])
        assert ec["equity"].to_list() == pytest.approx(
            [10_000.0, cash1 + 1080.0, cash1 + 1120.0, 10_075.88]
        )
        assert ec["market_value"].to_list() == pytest.approx([0.0, 1080.0, 1120.0, 0.0])
        assert ec["returns"][1] == pytest.approx(10_057.98 / 10_000.0 - 1)
        assert ec["drawdown"][3] == pytest.approx(10_075.88 / 10_097.98 - 1)
        assert ec["leverage"][2] == pytest.approx(1120.0 / 10_097.98)

    def test_fills_carry_prices_and_costs(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        f = r.fills
        assert f["price"].to_list() == pytest.approx([10.2102, 10.989])
        assert f["reference_price"].to_list() == [10.2, 11.0]
        assert f["commission"].to_list() == [1.0, 1.0]
        assert f["slippage"].to_list() == pytest.approx([1.02, 1.1])
        assert f["side"].to_list() == [1, -1]
        assert f["timestamp"].dt.day().to_list() == [2, 4]

    def test_trade_pnl_excursions_and_bars_held(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        tr = r.trades.row(0, named=True)
        assert tr["quantity"] == 100.0
        assert tr["side"] == 1
        assert tr["gross_pnl"] == pytest.approx((10.989 - 10.2102) * 100)  # 77.88
        assert tr["commission"] == pytest.approx(2.0)
        assert tr["net_pnl"] == pytest.approx(75.88)
        assert tr["return"] == pytest.approx(75.88 / 1021.02)
        assert tr["mfe"] == pytest.approx((11.5 - 10.2102) / 10.2102)
        assert tr["mae"] == pytest.approx((10.0 - 10.2102) / 10.2102)
        assert tr["bars_held"] == 2
        assert r.metrics["trade_count"] == 1.0

    def test_orders_frame_records_final_status(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        o = r.orders
        assert o["status"].to_list() == ["FILLED", "FILLED"]
        assert o["average_fill_price"].to_list() == pytest.approx([10.2102, 10.989])
        assert o["created_at"].dt.day().to_list() == [1, 3]
        assert o["updated_at"].dt.day().to_list() == [2, 4]

    def test_positions_frame_lists_nonzero_positions(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        p = r.positions
        assert p["quantity"].to_list() == [100.0, 100.0]
        assert p["market_value"].to_list() == pytest.approx([1080.0, 1120.0])

    def test_config_and_metadata_are_stored(self, feed):
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=COSTS).run()
        assert r.config == COSTS
        assert r.completed
        assert r.metadata["data"]["assets"] == ["A0"]
        assert r.metadata["strategy"] == "BuyThenSell"


class TestHandComputedSameClose:
    def test_same_close_fills_at_decision_bar_close(self, feed):
        cfg = COSTS.replace(fill_timing="same_close")
        r = BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=cfg).run()
        # buy at bar 0 close 10.0 * 1.001 = 10.01; sell at bar 2 close 11.2 * 0.999 = 11.1888
        assert r.fills["price"].to_list() == pytest.approx([10.01, 11.1888])
        cash0 = 10_000.0 - 1001.0 - 1.0
        cash2 = cash0 + 1118.88 - 1.0
        assert r.equity_curve["equity"].to_list() == pytest.approx(
            [cash0 + 1000.0, cash0 + 1080.0, cash2, cash2]
        )
        assert r.trades["bars_held"].to_list() == [2]


class TestCashRules:
    def test_buy_beyond_cash_is_rejected_with_reason(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]])
        seen = []

        class TooBig(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 2000)

            def on_order(self, event):
                seen.append((event.status.name, event.reason))

        r = BacktestEngine(
            data_feed=feed, strategy=TooBig(), config=free_config(initial_cash=1000.0)
        ).run()
        assert r.fills.height == 0
        assert r.orders["status"].to_list() == ["REJECTED"]
        assert "insufficient" in r.orders["reason"][0]
        assert seen[-1][0] == "REJECTED"
        assert r.equity_curve["equity"].to_list() == [1000.0] * 3

    @pytest.mark.parametrize(
        ("policy", "status", "filled", "cash"),
        [
            ("reject", "REJECTED", [], 1000.0),
            ("resize", "CANCELED", [80.0], 0.0),  # floor(1000 / 12.5) = 80, rest canceled
            ("allow_negative", "FILLED", [100.0], 1000.0 - 1250.0),
        ],
    )
    def test_cash_shortfall_at_fill_time(
        self, feed_factory, free_config, policy, status, filled, cash
    ):
        # decided at close 10 (100 shares = all the cash), filled at the next open 12.5
        feed = feed_factory([[10.0], [12.5], [12.5]], open_=[[10.0], [12.5], [12.5]])

        class AllIn(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 100)

        cfg = free_config(initial_cash=1000.0, cash_shortfall=policy)
        r = BacktestEngine(data_feed=feed, strategy=AllIn(), config=cfg).run()
        assert r.orders["status"].to_list() == [status]
        assert r.fills["quantity"].to_list() == filled
        assert r.equity_curve["cash"][-1] == pytest.approx(cash)

    def test_margin_account_sells_short_and_books_proceeds(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [8.0]])

        class Short(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.sell("A0", 10)

        cfg = free_config(initial_cash=1000.0, account={"policy": "margin", "allow_short": True})
        r = BacktestEngine(data_feed=feed, strategy=Short(), config=cfg).run()
        assert r.equity_curve["cash"].to_list() == [1000.0, 1100.0, 1100.0]
        assert r.equity_curve["equity"].to_list() == [1000.0, 1000.0, 1020.0]
        assert r.equity_curve["short_exposure"][-1] == -80.0

    def test_cash_account_with_shorts_is_a_config_error(self, feed_factory, free_config):
        feed = feed_factory([[10.0]])
        cfg = free_config(account={"policy": "cash", "allow_short": True})
        with pytest.raises(ConfigError, match="margin"):
            BacktestEngine(data_feed=feed, strategy=BuyThenSell(), config=cfg).run()

    def test_close_positions_at_end_sells_at_last_close(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [11.0], [12.0]])

        class Hold(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 10)

        cfg = free_config(initial_cash=1000.0, close_positions_at_end=True)
        r = BacktestEngine(data_feed=feed, strategy=Hold(), config=cfg).run()
        tr = r.trades.row(0, named=True)
        assert (tr["entry_price"], tr["exit_price"], tr["exit_reason"]) == (
            11.0,
            12.0,
            "end_of_backtest",
        )
        assert r.equity_curve["cash"][-1] == pytest.approx(1010.0)
        assert r.equity_curve["market_value"][-1] == 0.0


class TestPhaseOrder:
    def test_phases_run_in_documented_order_every_bar(self, feed):
        engine = BacktestEngine(
            data_feed=feed, strategy=BuyThenSell(), config=COSTS, trace_phases=True
        )
        engine.run()
        expected = [(t, p) for t in range(4) for p in PHASES]
        assert engine.phase_log == expected

    def test_strategy_sees_fills_marks_and_risk_exits_of_its_own_bar(self, feed_factory):
        # bar 0: buy 10; bar 1: fill at open 10 -> marked at close 8 (-20%) -> stop-loss
        # order already submitted (risk phase) before on_bar of bar 1 runs.
        feed = feed_factory([[10.0], [8.0], [8.0]], open_=[[10.0], [10.0], [7.5]])
        seen = {}

        class Watch(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 10)
                if bar.index == 1:
                    seen["position"] = self.get_position("A0")
                    seen["equity"] = self.portfolio.equity
                    seen["open"] = [(o.tag, o.quantity) for o in self.open_orders("A0")]
                    seen["fills"] = list(fills)

            def on_fill(self, fill):
                fills.append((fill.price, fill.quantity))

        fills: list = []
        cfg = BacktestConfig(
            initial_cash=1000.0,
            commission={"kind": "none"},
            slippage={"kind": "none"},
            risk={"stop_loss": 0.1},
        )
        r = BacktestEngine(data_feed=feed, strategy=Watch(), config=cfg).run()
        assert seen["position"] == 10.0
        assert seen["equity"] == pytest.approx(900.0 + 80.0)
        assert seen["open"] == [("stop_loss", 10.0)]
        assert seen["fills"] == [(10.0, 10.0)]  # on_fill ran before on_bar of bar 1
        assert r.trades["exit_reason"].to_list() == ["stop_loss"]
        assert r.trades["exit_price"].to_list() == [7.5]


class TestHistoryAndBar:
    def test_history_is_read_only_and_ends_at_current_bar(self, feed_factory, free_config):
        feed = feed_factory([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
        seen = []

        class Peek(Strategy):
            def on_bar(self, bar):
                window = self.history("close", 2)
                seen.append(window.tolist())
                assert window[-1].tolist() == bar.close.tolist()
                with pytest.raises(ValueError, match="read-only"):
                    window[0, 0] = 0.0
                with pytest.raises(ValueError, match="read-only"):
                    bar.close[0] = 0.0
                assert self.history("close", 10, "A1")[-1] == bar.close[1]

        BacktestEngine(data_feed=feed, strategy=Peek(), config=free_config()).run()
        assert seen == [
            [[1.0, 10.0]],
            [[1.0, 10.0], [2.0, 20.0]],
            [[2.0, 20.0], [3.0, 30.0]],
            [[3.0, 30.0], [4.0, 40.0]],
        ]

    def test_bar_exposes_signals_context_and_mask(self, feed_factory, free_config):
        nan = np.nan
        feed = feed_factory(
            [[1.0, nan], [2.0, 20.0]],
            signals={"score": np.array([[0.5, nan], [0.7, -0.2]])},
            context={"vix": np.array([15.0, 16.0])},
        )
        seen = []

        class Look(Strategy):
            def on_bar(self, bar):
                seen.append(
                    (bar.has_bar.tolist(), bar.signals["score"].tolist(), bar.context["vix"])
                )

        BacktestEngine(data_feed=feed, strategy=Look(), config=free_config()).run()
        assert seen[0][0] == [True, False]
        assert seen[1] == ([True, True], [0.7, -0.2], 16.0)

    def test_on_market_data_gets_one_event_per_asset_with_a_bar(self, feed_factory, free_config):
        nan = np.nan
        feed = feed_factory([[1.0, nan], [2.0, 20.0]], assets=["AAA", "BBB"])
        seen = []

        class Events(Strategy):
            def on_market_data(self, event):
                seen.append((event.asset, event.close))

        BacktestEngine(data_feed=feed, strategy=Events(), config=free_config()).run()
        assert seen == [("AAA", 1.0), ("AAA", 2.0), ("BBB", 20.0)]


class TestStrategyErrors:
    def test_error_names_bar_callback_and_keeps_partial_result(self, feed):
        class Boom(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 10)
                if bar.index == 2:
                    raise ZeroDivisionError("bad math")

        engine = BacktestEngine(data_feed=feed, strategy=Boom(), config=COSTS)
        with pytest.raises(StrategyError, match=r"on_bar raised at bar 2 \(2024-01-03\)") as info:
            engine.run()
        err = info.value
        assert err.callback == "on_bar"
        assert err.timestamp == "2024-01-03"
        assert "ZeroDivisionError" in err.traceback_text
        partial = err.result
        assert partial is engine.partial_result
        assert not partial.completed
        assert partial.equity_curve.height == 2
        assert partial.fills.height == 1

    def test_error_in_on_market_data_names_the_asset(self, feed_factory, free_config):
        feed = feed_factory([[1.0, 2.0]], assets=["AAA", "BBB"])

        class Boom(Strategy):
            def on_market_data(self, event):
                if event.asset == "BBB":
                    raise KeyError("x")

        with pytest.raises(StrategyError, match="asset 'BBB'") as info:
            BacktestEngine(data_feed=feed, strategy=Boom(), config=free_config()).run()
        assert info.value.asset == "BBB"

    def test_error_in_a_single_asset_feed_names_callback_asset_and_bar(
        self, feed_factory, free_config
    ):
        feed = feed_factory([[1.0], [2.0], [3.0]], assets=["AAA"])

        class Boom(Strategy):
            def on_market_data(self, event):
                if event.close == 3.0:
                    raise KeyError("x")

        with pytest.raises(StrategyError, match="on_market_data raised at bar 2") as info:
            BacktestEngine(data_feed=feed, strategy=Boom(), config=free_config()).run()
        assert info.value.asset == "AAA"
        assert info.value.callback == "on_market_data"
        assert info.value.result.equity_curve.height == 2

    def test_error_in_on_fill_is_named_without_an_asset(self, feed, free_config):
        class Boom(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 1)

            def on_fill(self, fill):
                raise RuntimeError("no")

        with pytest.raises(StrategyError, match="on_fill/on_order raised at bar 1") as info:
            BacktestEngine(data_feed=feed, strategy=Boom(), config=free_config()).run()
        assert info.value.asset is None


class TestPurity:
    def test_same_inputs_give_identical_results_and_inputs_pickle(self, feed):
        strategy = BuyThenSell()
        pickle.dumps((feed, strategy, COSTS))
        r1 = BacktestEngine(data_feed=feed, strategy=strategy, config=COSTS).run()
        r2 = BacktestEngine(data_feed=feed, strategy=strategy, config=COSTS).run()
        assert r1.equity_curve.equals(r2.equity_curve)
        assert r1.fills.equals(r2.fills)
        assert r1.orders.equals(r2.orders)
        pickle.dumps(strategy)  # unbound after the run


class TestAccountRules:
    def test_margin_account_without_shorting_rejects_short_sales(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]])

        class Flip(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 5)
                    self.sell("A0", 8)  # would end 3 short

        cfg = free_config(account={"policy": "margin", "allow_short": False})
        r = BacktestEngine(data_feed=feed, strategy=Flip(), config=cfg).run()
        assert r.orders["status"].to_list() == ["FILLED", "REJECTED"]
        assert "allow_short is False" in r.orders["reason"][1]
        assert r.orders["order_id"].to_list() == [1, -1]

    def test_error_in_on_start_says_outside_the_bar_loop(self, feed_factory, free_config):
        class Bad(Strategy):
            def on_start(self, ctx):
                raise RuntimeError("no setup")

        with pytest.raises(StrategyError, match="on_start raised outside the bar loop"):
            BacktestEngine(
                data_feed=feed_factory([[1.0]]), strategy=Bad(), config=free_config()
            ).run()

    def test_engine_is_a_trading_interface(self, feed_factory, free_config):
        seen = []

        class Probe(Strategy):
            def on_bar(self, bar):
                seen.append(isinstance(self.api, TradingInterface))
                seen.append(isinstance(self.portfolio, PortfolioView))

        BacktestEngine(
            data_feed=feed_factory([[1.0]]), strategy=Probe(), config=free_config()
        ).run()
        assert seen == [True, True]


class TestCorporateActions:
    def test_split_rescales_position_orders_and_stops_before_the_bar_fills(self, feed_factory):
        # 2:1 split effective at bar 2: prices halve; a working limit buy at 90 becomes 45
        feed = feed_factory(
            [[100.0], [100.0], [50.0], [44.0]],
            open_=[[100.0], [100.0], [50.0], [44.0]],
        )

        class Buy(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    self.buy("A0", 10)
                if bar.index == 1:
                    self.buy("A0", 5, limit_price=90.0)

        split = CorporateActionEvent(feed.timestamps[2], "A0", CorporateActionType.SPLIT, 2.0)
        cfg = BacktestConfig(
            initial_cash=10_000.0,
            commission={"kind": "none"},
            slippage={"kind": "none"},
            risk={"stop_loss": 0.5},
        )
        r = BacktestEngine(
            data_feed=feed, strategy=Buy(), config=cfg, corporate_actions=[split]
        ).run()
        ec = r.equity_curve
        # bar 1: 10 @ 100 bought; bar 2 split -> 20 shares at 50: equity unchanged
        assert ec["equity"].to_list()[:3] == [10_000.0, 10_000.0, 10_000.0]
        assert r.positions["quantity"].to_list()[:2] == [10.0, 20.0]
        # the limit order (5 @ 90) became 10 @ 45 and fills at bar 3's open 44
        assert r.fills["quantity"].to_list() == [10.0, 10.0]
        assert r.fills["price"].to_list() == [100.0, 44.0]
        # stop loss 50% of the split-adjusted entry 50 is 25: not hit at 44
        assert r.trades.height == 0

    def test_cash_dividend_is_booked_on_the_ex_date(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [10.0], [10.0]])
        div = CorporateActionEvent(
            feed.timestamps[2], "A0", CorporateActionType.CASH_DIVIDEND, cash_amount=0.5
        )
        r = BacktestEngine(
            data_feed=feed,
            strategy=BuyThenSell(sell_at=99, qty=100),
            config=free_config(initial_cash=1_000.0),
            corporate_actions=[div],
        ).run()
        assert r.equity_curve["equity"].to_list() == [1_000.0, 1_000.0, 1_050.0]


class TestBrokerSettingsPassThrough:
    def test_next_close_fills_at_the_following_close(self, feed_factory, free_config):
        feed = feed_factory([[10.0], [11.0], [12.0]], open_=[[9.0], [10.5], [11.5]])
        r = BacktestEngine(
            data_feed=feed,
            strategy=BuyThenSell(sell_at=99, qty=10),
            config=free_config(fill_timing="next_close"),
        ).run()
        assert r.fills["price"].to_list() == [11.0]
        assert r.fills["timestamp"].dt.day().to_list() == [2]

    def test_volume_limit_splits_a_large_order_over_bars(self, feed_factory, free_config):
        feed = feed_factory([[10.0]] * 5, volume=100.0)
        r = BacktestEngine(
            data_feed=feed,
            strategy=BuyThenSell(sell_at=99, qty=25),
            config=free_config(volume_limit=0.1),
        ).run()
        assert r.fills["quantity"].to_list() == [10.0, 10.0, 5.0]
        assert r.orders["status"].to_list() == ["FILLED"]


def test_progress_callback_reports_increasing_counts_and_finishes(feed_factory, free_config):
    feed = feed_factory([[10.0]] * 450)
    calls: list[tuple[int, int]] = []
    BacktestEngine(
        data_feed=feed,
        strategy=BuyThenSell(),
        config=free_config(),
        progress=lambda done, total: calls.append((done, total)),
    ).run()
    assert calls[-1] == (450, 450)
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)
    assert len(calls) == 225  # at bars 2, 4, ..., 450 (every 450 // 200 = 2 bars)


def test_bid_ask_columns_make_market_orders_cross_the_spread(feed_factory, free_config):
    n = 4
    feed = feed_factory(
        [[10.0]] * n,
        signals={"bid": np.full((n, 1), 9.9), "ask": np.full((n, 1), 10.1)},
    )
    r = BacktestEngine(
        data_feed=feed,
        strategy=BuyThenSell(buy_at=0, sell_at=1, qty=10),
        config=free_config(),
    ).run()
    assert r.fills["price"].to_list() == [10.1, 9.9]  # buy at the ask, sell at the bid
