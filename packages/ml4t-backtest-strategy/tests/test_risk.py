"""Risk rules: each rule on a hand-made path, the exit bar, price and reason checked."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.strategy.config import BacktestConfig, RiskConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.risk import RiskManager, atr
from ml4t.backtest.strategy.strategy import Strategy


class BuyOnce(Strategy):
    def __init__(self, qty=10.0, asset="A0"):
        self.qty, self.asset = qty, asset

    def on_bar(self, bar):
        if bar.index == 0:
            self.buy(self.asset, self.qty)


def run(feed, risk, strategy=None, **kw):
    cfg = BacktestConfig(
        initial_cash=10_000.0,
        commission={"kind": "none"},
        slippage={"kind": "none"},
        risk=risk,
        **kw,
    )
    return BacktestEngine(data_feed=feed, strategy=strategy or BuyOnce(), config=cfg).run()


# entry fills at bar 1's open = 100; closes below
PATH = [[100.0], [100.0], [104.0], [108.0], [101.0], [96.0], [95.0], [95.0]]


def _feed(feed_factory, closes=PATH, **kw):
    return feed_factory(closes, **kw)  # open = close: exits fill at the next bar's close level


class TestPositionRules:
    def test_stop_loss_exits_next_open_after_close_breach(self, feed_factory):
        r = run(_feed(feed_factory), {"stop_loss": 0.04})
        # close 96 at bar 5 is -4% of 100 -> exit at bar 6 open 95
        tr = r.trades.row(0, named=True)
        assert (tr["exit_price"], tr["exit_reason"]) == (95.0, "stop_loss")
        assert tr["exit_time"].day == 7

    def test_take_profit_exits_at_first_close_above_target(self, feed_factory):
        r = run(_feed(feed_factory), {"take_profit": 0.05})
        tr = r.trades.row(0, named=True)
        assert (tr["exit_price"], tr["exit_reason"]) == (101.0, "take_profit")  # 108 at bar 3

    def test_trailing_stop_follows_the_best_close(self, feed_factory):
        r = run(_feed(feed_factory), {"trailing_stop": 0.06})
        # best close 108 (bar 3); 101 at bar 4 is -6.48% -> exit bar 5 open 96
        tr = r.trades.row(0, named=True)
        assert (tr["exit_price"], tr["exit_reason"]) == (96.0, "trailing_stop")

    def test_time_exit_after_max_bars(self, feed_factory):
        r = run(_feed(feed_factory), {"max_bars_held": 2})
        # entered bar 1; at bar 3 held 2 bars -> exit bar 4 open 101
        tr = r.trades.row(0, named=True)
        assert (tr["exit_price"], tr["exit_reason"]) == (101.0, "time_exit")

    def test_first_rule_in_documented_order_names_the_exit(self, feed_factory):
        r = run(_feed(feed_factory), {"take_profit": 0.03, "max_bars_held": 1})
        # bar 2: +4% (take profit) and 1 bar held (time exit) -> take_profit wins
        assert r.trades["exit_reason"].to_list() == ["take_profit"]

    def test_signal_exit_reads_the_named_column(self, feed_factory):
        sig = np.zeros((8, 1))
        sig[3, 0] = 1.0
        feed = feed_factory(PATH, signals={"leave": sig})
        r = run(feed, {"exit_signal": "leave"})
        assert r.trades["exit_reason"].to_list() == ["signal_exit"]
        assert r.trades["exit_price"].to_list() == [101.0]

    def test_atr_stop_uses_average_true_range(self, feed_factory):
        closes = [[100.0]] * 4 + [[99.0], [97.0], [96.0], [96.0]]
        highs = [[c[0] + 1.0] for c in closes]
        lows = [[c[0] - 1.0] for c in closes]
        feed = feed_factory(closes, high=highs, low=lows)
        r = run(feed, {"atr_stop": 1.5, "atr_window": 2})
        # ATR(2) ~ 2 after the drop; stop at 100 - 1.5 * ATR = 97 -> close 97 (bar 5) -> bar 6
        assert r.trades["exit_reason"].to_list() == ["atr_stop"]
        assert r.trades["exit_price"].to_list() == [96.0]


class TestPortfolioRules:
    def test_max_positions_rejects_the_extra_entry(self, feed_factory):
        class BuyAll(Strategy):
            def on_bar(self, bar):
                if bar.index == 0:
                    for a in bar.assets:
                        self.buy(a, 1)

        feed = feed_factory([[10.0, 10.0, 10.0]] * 3)
        r = run(feed, {"max_positions": 2}, strategy=BuyAll())
        assert r.orders["status"].to_list() == ["FILLED", "FILLED", "REJECTED"]
        assert "max_positions" in r.orders["reason"][2]

    def test_max_gross_exposure_rejects_orders_beyond_the_limit(self, feed_factory):
        feed = feed_factory([[100.0]] * 3)
        r = run(feed, {"max_gross_exposure": 0.5}, strategy=BuyOnce(qty=60))
        assert r.orders["status"].to_list() == ["REJECTED"]
        assert "0.6000 of equity" in r.orders["reason"][0]

    def test_max_drawdown_flattens_and_halts(self, feed_factory):
        class Keep(Strategy):
            def on_bar(self, bar):
                if self.get_position("A0") == 0 and not self.open_orders("A0"):
                    self.buy("A0", 50)

        closes = [[100.0], [100.0], [90.0], [80.0], [80.0], [80.0]]
        r = run(feed_factory(closes), {"max_drawdown": 0.05}, strategy=Keep())
        # bar 2: equity 10,000 - 500 = 9,500 (-5%) -> flatten at bar 3 open 80; no re-entry
        assert r.trades["exit_reason"].to_list() == ["max_drawdown"]
        assert r.fills.height == 2
        assert "halt" in r.orders["reason"][-1]

    def test_daily_loss_limit_blocks_entries_for_the_day(self):
        rm = RiskManager(RiskConfig(daily_loss_limit=0.02), 1)
        day = 86_400 * 10**9
        assert not rm.check_portfolio(0, 100.0).flatten_all
        assert rm.check_portfolio(1, 97.0).flatten_all  # same day, -3%
        assert rm.entry_blocked(2)
        assert not rm.entry_blocked(day + 1)


class TestHelpers:
    def test_atr_matches_a_hand_computation(self):
        h = np.array([[10.0], [12.0], [11.0]])
        lo = np.array([[9.0], [10.0], [8.0]])
        c = np.array([[9.5], [11.0], [9.0]])
        # TR: 1.0, max(2, 2.5, 0.5) = 2.5, max(3, 0, 3) = 3.0
        assert atr(h, lo, c, 2)[:, 0].tolist() == pytest.approx([np.nan, 1.75, 2.75], nan_ok=True)

    def test_entry_price_averages_on_adds_and_resets_on_close(self):
        rm = RiskManager(RiskConfig(stop_loss=0.1), 1)
        rm.on_fill(0, 10.0, 100.0, t=0)
        rm.on_fill(0, 10.0, 110.0, t=1)
        assert rm.entry_price[0] == pytest.approx(105.0)
        rm.on_fill(0, -20.0, 120.0, t=2)
        assert np.isnan(rm.entry_price[0])
