"""BacktestResult: schemas, persistence round trip, tearsheet lookup."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.errors import MissingDependencyError
from ml4t.backtest.strategy import result as result_module
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.result import (
    EQUITY_CURVE_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    POSITIONS_SCHEMA,
    TRADES_SCHEMA,
    BacktestResult,
)
from ml4t.backtest.strategy.strategy import Strategy


class RoundTrips(Strategy):
    def on_bar(self, bar):
        for j, asset in enumerate(bar.assets):
            if bar.index % 3 == j % 3:
                if self.get_position(asset) == 0:
                    self.buy(asset, 10 + j)
                else:
                    self.close_position(asset)


@pytest.fixture
def result(feed_factory):
    rng = np.random.default_rng(0)
    close = 20 + np.cumsum(rng.normal(0, 0.5, (30, 3)), axis=0)
    feed = feed_factory(close)
    config = BacktestConfig(initial_cash=10_000.0, risk={"stop_loss": 0.05})
    return BacktestEngine(data_feed=feed, strategy=RoundTrips(), config=config).run()


def test_frames_have_the_documented_schemas(result):
    assert dict(result.equity_curve.schema) == EQUITY_CURVE_SCHEMA
    assert dict(result.trades.schema) == TRADES_SCHEMA
    assert dict(result.fills.schema) == FILLS_SCHEMA
    assert dict(result.orders.schema) == ORDERS_SCHEMA
    assert dict(result.positions.schema) == POSITIONS_SCHEMA
    assert result.trades.height > 5


def test_empty_result_has_the_schemas_and_no_rows():
    empty = BacktestResult.empty()
    assert empty.trades.height == 0
    assert dict(empty.fills.schema) == FILLS_SCHEMA
    assert np.isnan(empty.final_equity)


def test_save_and_load_round_trip_without_loss(result, tmp_path):
    path = result.save(tmp_path / "run")
    loaded = BacktestResult.load(path)
    for name in ("equity_curve", "trades", "fills", "orders", "positions"):
        assert_frame_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.config == result.config
    assert loaded.metrics.keys() == result.metrics.keys()
    assert loaded.data["assets"] == ["A0", "A1", "A2"]


def test_parquet_round_trip_of_every_frame(result, tmp_path):
    for name in ("equity_curve", "trades", "fills", "orders", "positions"):
        frame = getattr(result, name)
        frame.write_parquet(tmp_path / f"{name}.parquet")
        assert_frame_equal(pl.read_parquet(tmp_path / f"{name}.parquet"), frame)


def test_tearsheet_without_reporting_names_the_package(result, monkeypatch):
    monkeypatch.setattr(result_module.importlib.metadata, "entry_points", lambda **kw: [])
    with pytest.raises(MissingDependencyError, match="pip install ml4t-backtest-reporting"):
        result.tearsheet("report.html")


def test_tearsheet_calls_the_registered_reporter(result, monkeypatch):
    calls = []

    class EntryPoint:
        def load(self):
            return lambda res, path, **kw: calls.append((res, path, kw)) or "rendered"

    def entry_points(**kw):
        assert kw == {"group": "ml4t.backtest.reporters", "name": "tearsheet"}
        return [EntryPoint()]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert result.tearsheet("out.html", title="x") == "rendered"
    assert calls == [(result, "out.html", {"title": "x"})]


def test_summary_mentions_final_equity_and_trades(result):
    text = result.summary()
    assert "final equity" in text
    assert f"{result.trades.height}" in text
