"""Shared fixtures of the strategy package's tests: small hand-made feeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy.config import BacktestConfig

DAY = 86_400 * 10**9
T0 = 19_723 * DAY  # 2024-01-01


def make_feed(
    close: Sequence[Sequence[float]],
    *,
    open_: Sequence[Sequence[float]] | None = None,
    high: Sequence[Sequence[float]] | None = None,
    low: Sequence[Sequence[float]] | None = None,
    volume: float = 1e6,
    assets: Sequence[str] | None = None,
    signals: dict[str, np.ndarray] | None = None,
    context: dict[str, np.ndarray] | None = None,
) -> DataFeed:
    c = np.asarray(close, dtype=np.float64)
    o = c if open_ is None else np.asarray(open_, dtype=np.float64)
    h = np.fmax(c, o) if high is None else np.asarray(high, dtype=np.float64)
    lo = np.fmin(c, o) if low is None else np.asarray(low, dtype=np.float64)
    v = np.where(np.isnan(c), np.nan, volume)
    names = list(assets) if assets is not None else [f"A{j}" for j in range(c.shape[1])]
    fields = {"open": o, "high": h, "low": lo, "close": c, "volume": v}
    for name, arr in (signals or {}).items():
        fields[name] = np.asarray(arr, dtype=np.float64)
    ts = T0 + np.arange(c.shape[0], dtype=np.int64) * DAY
    return DataFeed(
        ts,
        names,
        fields,
        context=context,
        signal_names=list(signals or {}),
    )


def frictionless(**kwargs: object) -> BacktestConfig:
    return BacktestConfig(
        commission={"kind": "none"},
        slippage={"kind": "none"},
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def feed_factory() -> Callable[..., DataFeed]:
    return make_feed


@pytest.fixture
def free_config() -> Callable[..., BacktestConfig]:
    return frictionless
