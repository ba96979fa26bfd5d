"""The CLI demo strategy is point-in-time (look-ahead audit) and its run is reproducible."""

from __future__ import annotations

from ml4t.backtest import BacktestEngine, check_lookahead, sample_feed
from ml4t.backtest.cli_demo import MomentumRotation, demo_config


def test_demo_strategy_passes_the_lookahead_audit() -> None:
    feed = sample_feed()
    report = check_lookahead(
        lambda _feed: MomentumRotation(), feed, demo_config(), n_cuts=3, seed=7
    )
    assert report.decisions_checked > 0
    assert report.passed, report.violations[:3]


def test_demo_run_is_a_pure_function_of_data_strategy_and_config() -> None:
    feed = sample_feed()
    first = BacktestEngine(data_feed=feed, strategy=MomentumRotation(), config=demo_config()).run()
    second = BacktestEngine(data_feed=feed, strategy=MomentumRotation(), config=demo_config()).run()
    assert first.metrics == second.metrics
    assert first.fills.equals(second.fills)
    # cash + positions = equity at every bar of the demo
    curve = first.equity_curve
    assert (curve["cash"] + curve["market_value"] - curve["equity"]).abs().max() < 1e-6
