"""Property test: random strategies keep the books balanced at every step."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9


class RandomTrader(Strategy):
    """Places random market/limit orders and rebalances; checks the ledger every bar."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_start(self, ctx):
        self.rng = np.random.default_rng(self.seed)
        self.checks = 0

    def _check(self):
        run = self.api  # the engine's venue
        pf = run.pf
        pf.check_invariant()
        equity, cash, _, values = pf.valuation()
        assert abs(cash + values.sum() - equity) <= 1e-6 * max(1.0, abs(equity))
        assert np.array_equal(pf.quantities, run.qty)
        self.checks += 1

    def on_bar(self, bar):
        self._check()
        rng = self.rng
        for j, asset in enumerate(bar.assets):
            if not bar.has_bar[j] or rng.random() > 0.3:
                continue
            kind = rng.integers(0, 4)
            qty = float(rng.integers(1, 30))
            if kind == 0:
                self.buy(asset, qty)
            elif kind == 1:
                self.sell(asset, qty)
            elif kind == 2:
                self.buy(asset, qty, limit_price=float(bar.close[j]) * 0.99)
            else:
                self.order_target_percent(asset, float(rng.uniform(-0.3, 0.3)))
        if rng.random() < 0.1:
            self.rebalance(rng.uniform(-0.2, 0.2, len(bar.assets)))

    def on_fill(self, fill):
        self._check()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n_t=st.integers(5, 40),
    n_a=st.integers(1, 4),
    margin=st.booleans(),
    timing=st.sampled_from(["next_open", "same_close"]),
    commission=st.sampled_from(
        [
            {"kind": "none"},
            {"kind": "per_share", "minimum": 1.0},
            {"kind": "percent", "rate": 0.002},
        ]
    ),
)
def test_cash_plus_positions_equals_equity_at_every_step(
    seed, n_t, n_a, margin, timing, commission
):
    rng = np.random.default_rng(seed)
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_t, n_a)), axis=0))
    missing = rng.random((n_t, n_a)) < 0.1
    close[missing] = np.nan
    feed = DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY,
        [f"X{j}" for j in range(n_a)],
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.where(missing, np.nan, 1e6),
        },
        has_bar=~missing,
    )
    config = BacktestConfig(
        initial_cash=50_000.0,
        fill_timing=timing,
        commission=commission,
        account={"policy": "margin", "allow_short": True} if margin else {"policy": "cash"},
        close_positions_at_end=bool(seed % 2),
    )
    strategy = RandomTrader(seed)
    result = BacktestEngine(data_feed=feed, strategy=strategy, config=config).run()
    ec = result.equity_curve
    assert ec.height == n_t
    held = result.positions.group_by("timestamp").agg(pl.col("market_value").sum())
    merged = ec.join(held, on="timestamp", how="left").fill_null(0.0)
    diff = (merged["cash"] + merged["market_value_right"] - merged["equity"]).abs()
    assert diff.max() <= 1e-6 * max(1.0, float(ec["equity"].abs().max()))
    if config.close_positions_at_end:
        assert ec["market_value"][-1] == 0.0
