"""The one-asset fast path (runs of quiet bars in registers) gives the engine's result."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.signals import SignalStrategy, run_signals

DAY = 86_400 * 10**9


def one_asset_case(seed: int) -> tuple[DataFeed, BacktestConfig]:
    # long stretches without signals, gaps without bars, random costs, sizing and risk
    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(150, 400))
    close = np.round(30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, 1)), axis=0)), 2)
    open_ = np.round(close * np.exp(rng.normal(0.0, 0.005, close.shape)), 2)
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, close.shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, close.shape))
    missing = rng.random(close.shape) < 0.05
    for arr in (open_, high, low, close):
        arr[missing] = np.nan
    entry = np.where(rng.random(close.shape) < 0.04, rng.choice([1.0, np.nan, np.inf]), 0.0)
    exit_ = np.where(rng.random(close.shape) < 0.04, 1.0, 0.0)
    feed = DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY + 19_000 * DAY,
        ["X"],
        {"open": open_, "high": high, "low": low, "close": close,
         "volume": np.where(missing, np.nan, 1e6), "entry": entry, "exit": exit_},
        has_bar=~missing,
        signal_names=["entry", "exit"],
    )  # fmt: skip
    risk: dict[str, float | int] = {}
    if rng.random() < 0.3:
        risk["stop_loss"] = float(rng.uniform(0.02, 0.08))
    if rng.random() < 0.2:
        risk["max_bars_held"] = int(rng.integers(3, 30))
    config = BacktestConfig(
        initial_cash=float(rng.choice([2_000.0, 50_000.0])),
        fill_timing=str(rng.choice(["next_open", "same_close"])),
        commission=[{"kind": "none"}, {"kind": "percent", "rate": 0.001}][int(rng.integers(0, 2))],
        slippage=[{"kind": "none"}, {"kind": "fixed_bps", "bps": 5.0}][int(rng.integers(0, 2))],
        sizing=[
            {"method": "percent_equity", "percent": float(rng.uniform(0.2, 1.1))},
            {"method": "fixed_quantity", "quantity": float(rng.integers(1, 200))},
        ][int(rng.integers(0, 2))],
        risk=risk,
        cash_shortfall=str(rng.choice(["reject", "resize"])),
        close_positions_at_end=bool(rng.random() < 0.5),
    )
    return feed, config


@pytest.mark.parametrize("seed", range(30))
def test_one_asset_fast_path_matches_engine(seed: int) -> None:
    feed, config = one_asset_case(seed)
    strategy = SignalStrategy("entry", "exit")
    slow = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    # a run of the same layout first, its result dropped: the run compared below writes
    # into that run's (reused, not cleared) output buffer
    run_signals(feed, strategy, config.replace(initial_cash=config.initial_cash * 3))
    fast = run_signals(feed, strategy, config)
    money = {"check_exact": False, "rel_tol": 0.0, "abs_tol": 1e-6}
    assert_frame_equal(slow.equity_curve, fast.equity_curve, **money)
    assert_frame_equal(slow.trades, fast.trades, **money)
    assert_frame_equal(slow.positions, fast.positions, **money)
    assert_frame_equal(slow.fills.drop("order_id"), fast.fills.drop("order_id"), **money)
    assert fast.metrics.keys() == slow.metrics.keys()
    for name, value in slow.metrics.items():
        assert fast.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_repeated_runs_reuse_nothing_a_live_result_holds() -> None:
    # the output buffer of a run is lent again only once its result is gone
    feed, config = one_asset_case(0)
    strategy = SignalStrategy("entry", "exit")
    first = run_signals(feed, strategy, config)
    frames = ("equity_curve", "positions", "fills", "orders", "trades")
    copies = {
        (name, col): getattr(first, name)[col].to_physical().to_numpy().copy()
        for name in frames
        for col, dtype in getattr(first, name).schema.items()
        if dtype != pl.String
    }
    other = config.replace(initial_cash=config.initial_cash * 2)
    for _ in range(3):  # each result dropped at once: its buffer is lent again
        run_signals(feed, strategy, other)
    for (name, col), values in copies.items():
        now = getattr(first, name)[col].to_physical().to_numpy()
        np.testing.assert_array_equal(now, values, err_msg=f"{name}.{col}")


@pytest.mark.parametrize("n_a", [1, 2])
def test_negative_prices_end_the_simple_curve_and_match_engine(n_a: int) -> None:
    # a held position marked at a negative price has short exposure: the kernel stops
    # leaving the market value, gross, net and short rows to the long exposure and fills
    # them in for the bars before
    n_t = 12
    path = np.array([10.0, 10, 11, 12, 5, -2, -3, 4, 6, 7, 8, 9])
    close = np.tile(path[:, None], (1, n_a))
    entry = np.zeros((n_t, n_a))
    entry[0] = 1.0
    exit_ = np.zeros((n_t, n_a))
    exit_[9] = 1.0
    feed = DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY + 19_000 * DAY,
        [f"S{j}" for j in range(n_a)],
        {"open": close, "high": close, "low": close, "close": close,
         "volume": np.full(close.shape, 1e6), "entry": entry, "exit": exit_},
        signal_names=["entry", "exit"],
    )  # fmt: skip
    config = BacktestConfig(
        commission={"kind": "none"},
        slippage={"kind": "none"},
        sizing={"method": "fixed_quantity", "quantity": 10},
    )
    strategy = SignalStrategy("entry", "exit")
    slow = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    fast = run_signals(feed, strategy, config)
    assert fast.equity_curve["short_exposure"].min() < 0.0  # the case is not trivial
    assert_frame_equal(slow.equity_curve, fast.equity_curve)
    assert_frame_equal(slow.positions, fast.positions)
    assert_frame_equal(slow.trades, fast.trades)
