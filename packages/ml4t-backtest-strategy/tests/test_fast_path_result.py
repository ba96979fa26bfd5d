"""The fast path's result builds its frames and metrics on first access, with the same values."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy import _venue
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.result import BacktestResult
from ml4t.backtest.strategy.signals import SignalStrategy, WeightStrategy, run_signals

DAY = 86_400 * 10**9
FRAMES = ("equity_curve", "trades", "fills", "orders", "positions")


def case(n_t: int = 300, n_a: int = 2, seed: int = 0) -> tuple[DataFeed, BacktestConfig]:
    rng = np.random.default_rng(seed)
    close = np.round(30.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0)), 2)
    feed = DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY + 19_000 * DAY,
        [f"S{j}" for j in range(n_a)],
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
         "volume": np.full(close.shape, 1e6),
         "entry": (rng.random(close.shape) < 0.05).astype(float),
         "exit": (rng.random(close.shape) < 0.05).astype(float),
         "w": np.where(rng.random(close.shape) < 0.1, 0.3, np.nan)},
        signal_names=["entry", "exit", "w"],
    )  # fmt: skip
    config = BacktestConfig(
        initial_cash=100_000.0,
        commission={"kind": "percent", "rate": 0.001},
        sizing={"method": "percent_equity", "percent": 0.3},
    )
    return feed, config


def assert_same(a: BacktestResult, b: BacktestResult) -> None:
    for name in FRAMES:
        assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        assert value == b.metrics[key] or (np.isnan(value) and np.isnan(b.metrics[key])), key
    assert a.config == b.config
    assert a.metadata["data"] == b.metadata["data"]


def test_metadata_is_set_and_fields_are_built_once() -> None:
    feed, config = case()
    result = run_signals(feed, SignalStrategy("entry", "exit"), config)
    assert isinstance(result, BacktestResult)
    assert result.metadata["data"]["hash"] == feed.fingerprint()
    assert result.metadata["engine"] == "signal_fast_path"
    assert result.config == config
    for name in FRAMES:
        assert isinstance(getattr(result, name), pl.DataFrame)
        assert getattr(result, name) is getattr(result, name), name  # kept, not rebuilt
    assert result.metrics is result.metrics
    assert result.metrics == _venue.compute_metrics(result.equity_curve, result.trades, config)
    assert result.final_equity == result.equity_curve["equity"][-1]


def test_pickle_and_copies_are_plain_results_with_the_same_values() -> None:
    feed, config = case(seed=1)
    strategy = SignalStrategy("entry", "exit")
    reference = run_signals(feed, strategy, config)
    for make in (
        lambda r: pickle.loads(pickle.dumps(r)),
        copy.copy,
        copy.deepcopy,
        lambda r: dataclasses.replace(r, metadata={**r.metadata, "note": 1}),
    ):
        again = make(run_signals(feed, strategy, config))  # nothing built before the copy
        assert_same(reference, again)
    assert type(pickle.loads(pickle.dumps(reference))) is BacktestResult
    assert repr(reference).startswith("BacktestResult(")


def test_fields_built_after_later_runs_are_the_run_s_own() -> None:
    # a result not read yet keeps its outputs: later runs of the same layout must not
    # write into them (the buffer pool lends a buffer only once nothing refers to it)
    feed, config = case(seed=2)
    strategy = SignalStrategy("entry", "exit")
    first = run_signals(feed, strategy, config)
    other = config.replace(initial_cash=config.initial_cash * 2)
    for _ in range(3):
        run_signals(feed, strategy, other)
    kept = run_signals(feed, strategy, other)
    assert_same(first, run_signals(feed, strategy, config))
    assert kept.final_equity != first.final_equity


def test_threads_reading_one_result_see_the_same_objects() -> None:
    feed, config = case(seed=3)
    result = run_signals(feed, SignalStrategy("entry", "exit"), config)
    seen: list[tuple[int, ...]] = []
    barrier = threading.Barrier(4)

    def read() -> None:
        barrier.wait()
        seen.append(tuple(id(getattr(result, name)) for name in (*FRAMES, "metrics")))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4
    assert len(set(seen)) == 1


def test_weight_results_are_deferred_too_and_save(tmp_path: Path) -> None:
    feed, config = case(seed=4)
    result = run_signals(feed, WeightStrategy("w"), config)
    path = result.save(tmp_path / "r")  # persistence reads the fields like any result
    loaded = BacktestResult.load(path)
    for name in FRAMES:
        assert_frame_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.metadata["data"]["hash"] == result.metadata["data"]["hash"]


def test_unknown_attributes_still_raise() -> None:
    feed, config = case(seed=5)
    result = run_signals(feed, SignalStrategy("entry", "exit"), config)
    with pytest.raises(AttributeError, match="not_a_field"):
        _ = result.not_a_field  # type: ignore[attr-defined]
    assert not hasattr(result, "_not_a_slot_either")
