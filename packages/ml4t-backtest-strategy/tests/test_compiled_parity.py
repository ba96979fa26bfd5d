"""Whole runs with the compiled twins (``compiled="on"``) equal runs without numba, bit for bit.

The reference runs in a subprocess that never imports numba (every twin's numpy/Python form:
the trade tracker in its Python mode, numpy booking, numpy rebalance arithmetic); the same
runs here use `CompiledMode.ON`. Every frame and metric must be identical.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

# The runs, as source: executed here and in the subprocess (which must not import numba).
RUNS = textwrap.dedent(
    """
    import numpy as np

    from ml4t.backtest.core.data import DataFeed
    from ml4t.backtest.strategy import BacktestConfig, BacktestEngine, Strategy

    DAY = 86_400 * 10**9


    class TopBottom(Strategy):
        def __init__(self, n):
            self.n = n

        def on_bar(self, bar):
            score = bar.signals["score"]
            if np.isnan(score).all():
                return
            order = np.argsort(np.nan_to_num(score, nan=0.0))
            w = np.zeros(score.shape[0])
            w[order[-self.n:]] = 0.8 / (2 * self.n)
            w[order[: self.n]] = -0.8 / (2 * self.n)
            w[np.isnan(score)] = np.nan
            self.rebalance(w)


    def feed(seed, n_t=160, n_a=40):
        rng = np.random.default_rng(seed)
        close = 30.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_t, n_a)), axis=0))
        open_ = close * np.exp(rng.normal(0, 0.005, (n_t, n_a)))
        high = np.maximum(open_, close) * 1.01
        low = np.minimum(open_, close) * 0.99
        score = np.cumsum(rng.normal(size=(n_t, n_a)), axis=0)
        gaps = rng.random((n_t, n_a)) < 0.01  # bars without data
        for a in (open_, high, low, close):
            a[gaps] = np.nan
        score[gaps] = np.nan
        ts = 19_000 * DAY + np.arange(n_t, dtype=np.int64) * DAY
        fields = {"open": open_, "high": high, "low": low, "close": close,
                  "volume": rng.uniform(1e5, 1e6, (n_t, n_a)), "score": score}
        return DataFeed(ts, [f"S{j:02d}" for j in range(n_a)], fields, signal_names=["score"])


    CONFIGS = [
        dict(account={"policy": "margin", "allow_short": True},
             commission={"kind": "per_share", "per_share": 0.005, "minimum": 1.0},
             slippage={"kind": "fixed_bps", "bps": 2.0}, sizing={"min_trade_value": 500.0}),
        dict(account={"policy": "margin", "allow_short": True}, rebalance_order="value",
             commission={"kind": "percent", "rate": 0.001}, slippage={"kind": "none"},
             share_rounding="fractional"),
        dict(commission={"kind": "per_share", "per_share": 0.01, "minimum": 1.0}),
    ]


    def run_all(compiled):
        out = []
        for k, extra in enumerate(CONFIGS):
            cfg = BacktestConfig(initial_cash=1_000_000.0, compiled=compiled, **extra)
            n = 5 if "allow_short" in str(extra) else 8
            r = BacktestEngine(data_feed=feed(k), strategy=TopBottom(n), config=cfg).run()
            out.append({name: getattr(r, name) for name in
                        ("equity_curve", "trades", "fills", "orders", "positions", "metrics")})
        return out
    """
)


def _runs(compiled: str) -> list[dict[str, Any]]:
    namespace: dict[str, Any] = {}
    exec(compile(RUNS, "<runs>", "exec"), namespace)
    result: list[dict[str, Any]] = namespace["run_all"](compiled)
    return result


def _same_metric(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def test_compiled_runs_equal_runs_without_numba(tmp_path: Path) -> None:
    out = tmp_path / "reference.pkl"
    code = (
        "import pickle, sys\n"
        f"exec(compile({RUNS!r}, '<runs>', 'exec'))\n"
        "runs = run_all('auto')\n"
        "assert 'numba' not in sys.modules, 'the reference run loaded numba'\n"
        f"pickle.dump(runs, open({str(out)!r}, 'wb'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with out.open("rb") as fh:
        reference = pickle.load(fh)
    compiled = _runs("on")
    assert "numba" in sys.modules
    assert len(compiled) == len(reference)
    for ref, got in zip(reference, compiled, strict=True):
        assert ref["fills"].height > 100  # the runs trade
        assert ref["trades"].height > 50
        for name in ("equity_curve", "trades", "fills", "orders", "positions"):
            assert_frame_equal(got[name], ref[name], check_exact=True)
        assert ref["metrics"].keys() == got["metrics"].keys()
        for key, value in ref["metrics"].items():
            assert _same_metric(got["metrics"][key], value), (key, got["metrics"][key], value)


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_compiled_mode_round_trips_in_the_config(mode: str) -> None:
    from ml4t.backtest.strategy import BacktestConfig, CompiledMode  # noqa: PLC0415

    cfg = BacktestConfig(compiled=mode)
    assert cfg.compiled is CompiledMode(mode)
    assert BacktestConfig.from_toml(cfg.to_toml()) == cfg
    with pytest.raises(ValueError, match="compiled"):
        BacktestConfig(compiled="always")
