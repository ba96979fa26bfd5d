"""Side-by-side metrics of several runs, and the overlay page."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.reporting import compare, synthetic_result, write_comparison
from ml4t.backtest.strategy.result import BacktestResult


def test_compare_puts_runs_side_by_side_with_shared_summary_rows(tmp_path: Path) -> None:
    a = synthetic_result(4, 120, seed=1)
    b = synthetic_result(4, 120, seed=2)
    table = compare([a, b], names=["alpha", "beta"])
    assert table.columns == ["metric", "alpha", "beta"]
    metrics = table.get_column("metric").to_list()
    assert metrics[:5] == ["total_return", "cagr", "annual_volatility", "sharpe", "max_drawdown"]
    assert "borrow_cost" in metrics
    row = dict(zip(metrics, table.get_column("alpha").to_list(), strict=True))
    # A metric the result carries replaces the computed one.
    assert row["sharpe"] == a.metrics["sharpe"]
    assert row["borrow_cost"] == a.metrics["borrow_cost"]


def test_compare_names_default_to_saved_directory(tmp_path: Path) -> None:
    a = BacktestResult.load(synthetic_result(3, 60, seed=1).save(tmp_path / "fast"))
    b = BacktestResult.load(synthetic_result(3, 60, seed=2).save(tmp_path / "slow"))
    assert compare([a, b]).columns == ["metric", "fast", "slow"]


def test_compare_missing_metric_is_null() -> None:
    a = synthetic_result(3, 60, seed=1)
    b = BacktestResult(
        a.equity_curve, a.trades, a.fills, a.orders, a.positions, {"only_b": 2.0}, a.config
    )
    table = compare([a, b], names=["a", "b"])
    row = table.filter(table["metric"] == "only_b").row(0)
    assert row == ("only_b", None, 2.0)


def test_compare_rejects_bad_names() -> None:
    a = synthetic_result(3, 60)
    with pytest.raises(ConfigError, match="unique name"):
        compare([a, a], names=["x", "x"])
    with pytest.raises(ConfigError, match="at least one result"):
        compare([])


def test_write_comparison_is_self_contained(tmp_path: Path) -> None:
    runs = [synthetic_result(3, 200, seed=s) for s in (1, 2, 3)]
    text = write_comparison(runs, tmp_path / "c.html").read_text()
    assert 'id="chart-compare"' in text
    assert "<script src=" not in text
    assert text.count("<tr>") == 1 + compare(runs).height
