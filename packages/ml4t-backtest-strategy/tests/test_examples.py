"""The example strategies pass the look-ahead audit (issue 6: audit every example strategy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from ml4t.backtest.core.datasets import sample_feed
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.lookahead import check_lookahead

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _load(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG = BacktestConfig(initial_cash=1_000_000.0)


def test_sma_crossover_example_is_point_in_time():
    example = _load("sma_crossover")
    feed = sample_feed(["AAPL", "JPM", "XOM"], end="2014-06-30")
    report = check_lookahead(lambda f: example.SmaCross(), feed, CONFIG, n_cuts=3, seed=1)
    assert report.passed, report.violations
    assert report.decisions_checked > 0


def test_ml_signal_example_model_and_strategy_are_point_in_time():
    example = _load("ml_signal_portfolio")
    feed = sample_feed(["AAPL", "AMZN", "BA", "JPM", "KO", "MSFT", "PG", "XOM"], end="2015-12-31")
    report = check_lookahead(
        lambda f: example.TopScorePortfolio(),
        feed,
        CONFIG,
        n_cuts=2,
        seed=2,
        prepare=example.with_scores,
    )
    assert report.passed, report.violations
    assert report.decisions_checked > 0


def test_all_in_reversal_example_is_point_in_time():
    example = _load("all_in_reversal")
    feed = sample_feed(["AAPL"], end="2015-12-31")
    config = BacktestConfig.preset("backtesting.py", initial_cash=100_000.0)
    report = check_lookahead(lambda f: example.AllInReversal(), feed, config, n_cuts=3, seed=3)
    assert report.passed, report.violations
    assert report.decisions_checked > 0
