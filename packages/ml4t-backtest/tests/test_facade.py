"""The facade re-exports the public API and loads reporting lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ml4t.backtest as facade
import ml4t.backtest.core as core
import ml4t.backtest.execution as execution
import ml4t.backtest.portfolio as portfolio
import ml4t.backtest.reporting as reporting
import ml4t.backtest.strategy as strategy
from ml4t.backtest import BacktestConfig, BacktestEngine, DataFeed, Strategy, load_sample_prices


class TestFacadeExports:
    def test_every_name_in_all_resolves(self) -> None:
        missing = [name for name in facade.__all__ if not hasattr(facade, name)]
        assert missing == []

    def test_names_are_the_distributions_own_objects(self) -> None:
        assert facade.DataFeed is core.DataFeed
        assert facade.SimulationBroker is execution.SimulationBroker
        assert facade.Portfolio is portfolio.Portfolio
        assert facade.BacktestEngine is strategy.BacktestEngine
        assert facade.FillTiming is strategy.FillTiming  # the config-level enum users pass
        assert facade.IntrabarPolicy is strategy.IntrabarPolicy

    def test_unknown_name_raises_attribute_error(self) -> None:
        with pytest.raises(AttributeError, match="NoSuchThing"):
            facade.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


class TestLazyReporting:
    def test_importing_the_facade_does_not_import_reporting(self) -> None:
        code = (
            "import sys, ml4t.backtest as b;"
            "print('ml4t.backtest.reporting' in sys.modules, 'plotly' in sys.modules);"
            "b.write_tearsheet;"
            "print('ml4t.backtest.reporting' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == ["False", "False", "True"]

    def test_reporting_names_are_the_reporting_functions(self) -> None:
        assert facade.write_tearsheet is reporting.write_tearsheet
        assert facade.compare is reporting.compare


def test_readme_quick_start_runs_a_backtest_on_bundled_data() -> None:
    class BuyFirstBar(Strategy):
        def on_bar(self, bar):  # type: ignore[no-untyped-def]
            if self.get_position("AAPL") == 0:
                self.buy("AAPL", 10)

    prices = load_sample_prices(assets=["AAPL", "MSFT"])
    result = BacktestEngine(
        data_feed=DataFeed.from_polars(prices),
        strategy=BuyFirstBar(),
        config=BacktestConfig(initial_cash=100_000),
    ).run()
    curve = result.equity_curve
    assert curve.height == prices["timestamp"].n_unique()
    # cash + positions = equity at every bar
    assert (curve["cash"] + curve["market_value"] - curve["equity"]).abs().max() < 1e-6
    assert result.fills.height >= 1
    assert result.fills["quantity"][0] == 10
