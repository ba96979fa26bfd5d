"""Snapshot recorder: equity curve and positions frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core.enums import OrderSide
from ml4t.backtest.core.events import FillEvent
from ml4t.backtest.portfolio import Portfolio, RegTMargin, SnapshotRecorder
from ml4t.backtest.portfolio.snapshots import EQUITY_CURVE_COLUMNS


def test_equity_curve_and_positions_over_time_by_hand() -> None:
    pf = Portfolio(["A", "B"], initial_cash=10_000.0, account=RegTMargin())
    rec = SnapshotRecorder(pf.assets, capacity=1, initial_equity=10_000.0)
    pf.apply_fill(FillEvent(0, 1, "A", OrderSide.BUY, 100, 100.0))
    pf.apply_fill(FillEvent(0, 2, "B", OrderSide.SELL, 50, 100.0))
    pf.mark(0, np.array([100.0, 100.0]))
    rec.record(0, pf)
    pf.mark(86_400_000_000_000, np.array([110.0, 120.0]))
    rec.record(86_400_000_000_000, pf)
    pf.apply_fill(FillEvent(1, 3, "B", OrderSide.BUY, 50, 120.0))
    pf.mark(2 * 86_400_000_000_000, np.array([99.0, 120.0]))
    rec.record(2 * 86_400_000_000_000, pf)
    curve = rec.equity_curve()
    assert curve.columns == list(EQUITY_CURVE_COLUMNS)
    assert curve.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert curve.get_column("equity").to_list() == [10_000.0, 10_000.0, 8_900.0]
    assert curve.get_column("cash").to_list() == [5_000.0, 5_000.0, -1_000.0]
    assert curve.get_column("gross_exposure").to_list() == [15_000.0, 17_000.0, 9_900.0]
    assert curve.get_column("net_exposure").to_list() == [5_000.0, 5_000.0, 9_900.0]
    assert curve.get_column("short_exposure").to_list() == [-5_000.0, -6_000.0, 0.0]
    assert curve.get_column("leverage").to_list() == [1.5, 1.7, pytest.approx(9_900 / 8_900)]
    assert curve.get_column("traded_notional").to_list() == [15_000.0, 0.0, 6_000.0]
    assert curve.get_column("returns").to_list() == [0.0, 0.0, pytest.approx(-0.11)]
    assert curve.get_column("drawdown").to_list() == [0.0, 0.0, pytest.approx(-0.11)]
    positions = rec.positions()
    assert positions.height == 5  # B is flat on the last bar
    last = positions.filter(pl.col("timestamp") == positions.get_column("timestamp").max())
    assert last.get_column("asset").to_list() == ["A"]
    assert last.get_column("market_value").to_list() == [9_900.0]
    assert rec.positions(include_flat=True).height == 6
    assert len(rec) == 3
