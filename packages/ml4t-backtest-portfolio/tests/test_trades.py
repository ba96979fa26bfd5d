"""Round trips: FIFO/LIFO/average matching, costs, MAE/MFE, bars held, exit reasons."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import TRADE_COLUMNS, LotMatching, Portfolio, RegTMargin, TradeTracker


def test_fifo_closes_the_oldest_lot_first_with_prorated_commissions() -> None:
    tt = TradeTracker(["A"])
    tt.on_fill(0, 10.0, 100.0, 1, commission=2.0)
    tt.advance_bar()
    tt.on_fill(0, 10.0, 110.0, 2, commission=1.0)
    tt.advance_bar()
    tt.on_fill(0, -15.0, 120.0, 3, commission=3.0, tag="signal")
    trades = tt.to_polars()
    assert trades.columns == list(TRADE_COLUMNS)
    rows = trades.rows(named=True)
    assert [r["entry_price"] for r in rows] == [100.0, 110.0]
    assert [r["quantity"] for r in rows] == [10.0, 5.0]
    assert rows[0]["gross_pnl"] == 200.0
    assert rows[0]["commission"] == pytest.approx(2.0 + 2.0)  # all entry + 10/15 of exit
    assert rows[0]["net_pnl"] == pytest.approx(196.0)
    assert rows[1]["commission"] == pytest.approx(0.5 + 1.0)
    assert rows[1]["net_pnl"] == pytest.approx(50.0 - 1.5)
    assert rows[1]["return"] == pytest.approx(48.5 / 550.0)
    assert [r["bars_held"] for r in rows] == [2, 1]
    assert {r["exit_reason"] for r in rows} == {"signal"}
    assert tt.open_quantity(0) == 5.0
    assert trades.schema["entry_time"] == pl.Datetime("ns", "UTC")


def test_lifo_closes_the_newest_lot_first() -> None:
    tt = TradeTracker(["A"], matching=LotMatching.LIFO)
    tt.on_fill(0, 10.0, 100.0, 1)
    tt.on_fill(0, 10.0, 110.0, 2)
    tt.on_fill(0, -15.0, 120.0, 3)
    assert tt.to_polars().get_column("entry_price").to_list() == [110.0, 100.0]
    assert tt.to_polars().get_column("quantity").to_list() == [10.0, 5.0]


def test_average_matching_keeps_one_lot_at_mean_price() -> None:
    tt = TradeTracker(["A"], matching=LotMatching.AVERAGE)
    tt.on_fill(0, 10.0, 100.0, 1)
    tt.on_fill(0, 10.0, 110.0, 2)
    tt.on_fill(0, -20.0, 120.0, 3)
    row = tt.to_polars().row(0, named=True)
    assert (row["entry_price"], row["quantity"], row["gross_pnl"]) == (105.0, 20.0, 300.0)


def test_short_trade_pnl_and_excursions_from_highs_and_lows() -> None:
    tt = TradeTracker(["A", "B"], multipliers=[1.0, 50.0])
    tt.on_fill(1, -2.0, 100.0, 1)  # short 2 contracts at 100
    tt.update_excursions(np.array([np.nan, 104.0]), np.array([np.nan, 97.0]))
    tt.advance_bar()
    tt.update_excursions(np.array([np.nan, 101.0]), np.array([np.nan, 90.0]))
    tt.advance_bar()
    tt.on_fill(1, 2.0, 95.0, 2, tag="stop")
    row = tt.to_polars().row(0, named=True)
    assert (row["side"], row["gross_pnl"], row["bars_held"]) == (-1, 500.0, 2)
    assert row["mae"] == pytest.approx(-0.04)  # high 104 against a short at 100
    assert row["mfe"] == pytest.approx(0.10)  # low 90
    assert row["exit_reason"] == "stop"


def test_reversal_closes_the_long_and_opens_a_short_lot() -> None:
    tt = TradeTracker(["A"])
    tt.on_fill(0, 10.0, 100.0, 1, commission=1.0)
    tt.on_fill(0, -30.0, 90.0, 2, commission=3.0)
    trades = tt.to_polars()
    assert trades.height == 1
    assert trades.row(0, named=True)["commission"] == pytest.approx(2.0)
    open_lots = tt.open_trades()
    assert open_lots.get_column("quantity").to_list() == [20.0]
    assert open_lots.get_column("side").to_list() == [-1]


def test_lot_pool_grows_past_its_capacity() -> None:
    tt = TradeTracker(["A"], capacity=2)
    for k in range(10):
        tt.on_fill(0, 1.0, 100.0 + k, k)
    assert tt.open_lot_count == 10
    tt.on_fill(0, -10.0, 200.0, 11)
    assert tt.to_polars().height == 10
    assert tt.open_lot_count == 0


def test_portfolio_feeds_trades_with_fill_costs_and_tags() -> None:
    pf = Portfolio(["A"], initial_cash=10_000.0, account=RegTMargin())
    pf.apply_fill(FillEvent(0, 1, "A", OrderSide.BUY, 10, 100.0, commission=1.0, slippage=0.5))
    pf.mark(0, np.array([100.0]), np.array([103.0]), np.array([98.0]))
    pf.apply_fill(
        FillEvent(1, 2, "A", OrderSide.SELL, 10, 102.0, commission=1.0, slippage=0.5, tag="tp")
    )
    row = pf.tracker.to_polars().row(0, named=True)
    assert row["gross_pnl"] == 20.0
    assert row["net_pnl"] == 18.0
    assert row["slippage"] == 1.0
    assert row["mae"] == pytest.approx(-0.02)
    assert row["mfe"] == pytest.approx(0.03)
    assert row["bars_held"] == 1
    assert row["exit_reason"] == "tp"
    assert pf.equity == 10_018.0


def test_empty_tracker_gives_typed_empty_frame() -> None:
    trades = TradeTracker(["A"]).to_polars()
    assert trades.height == 0
    assert trades.columns == list(TRADE_COLUMNS)
