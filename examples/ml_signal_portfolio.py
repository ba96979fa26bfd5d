"""An ML-signal portfolio on bundled S&P 500 data, with risk rules and a look-ahead audit.

The signal is a pooled linear model predicting each stock's next-5-day return from its past
5- and 20-day returns, refit every quarter on labels already known at fit time (expanding
window), computed *outside* the engine and handed to it as a feed column. The strategy holds
the 6 stocks with the highest predicted return, weighted by inverse volatility, rebalanced
weekly; the engine enforces a 10% stop loss and a 25% drawdown halt.

``check_lookahead`` then reruns the whole pipeline (model fit + backtest) on data perturbed
after random cut points: every order placed before a cut must be unchanged.

Run: ``uv run python examples/ml_signal_portfolio.py`` (< 30 s).
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.datasets import sample_feed
from ml4t.backtest.strategy import (
    BacktestConfig,
    BacktestEngine,
    Strategy,
    check_lookahead,
    risk_parity_weights,
)

HORIZON = 5  # bars ahead the model predicts
REFIT = 63  # bars between refits (a quarter)
TOP = 6
REBALANCE_EVERY = 5


def _past_return(close: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(close, np.nan)
    out[n:] = close[n:] / close[:-n] - 1.0
    return out


def predict_scores(close: np.ndarray) -> np.ndarray:
    """Return (T, A) predicted next-5-day returns, each row using only data up to that row."""
    n_t, n_a = close.shape
    x5, x20 = _past_return(close, 5), _past_return(close, 20)
    label = np.full_like(close, np.nan)
    label[:-HORIZON] = close[HORIZON:] / close[:-HORIZON] - 1.0  # known at t + HORIZON
    scores = np.full((n_t, n_a), np.nan)
    for k in range(REFIT * 2, n_t, REFIT):
        known = k - HORIZON + 1  # rows whose label is known by bar k: s + HORIZON <= k
        feats = np.column_stack([np.ones(known * n_a), x5[:known].ravel(), x20[:known].ravel()])
        y = label[:known].ravel()
        ok = np.isfinite(feats).all(axis=1) & np.isfinite(y)
        beta, *_ = np.linalg.lstsq(feats[ok], y[ok], rcond=None)
        stop = min(k + REFIT, n_t)
        scores[k:stop] = beta[0] + beta[1] * x5[k:stop] + beta[2] * x20[k:stop]
    return scores


def with_scores(feed: DataFeed) -> DataFeed:
    """Recompute the model's scores from `feed`'s closes and attach them as a column."""
    fields = dict(feed.fields)
    fields["score"] = predict_scores(np.asarray(feed.close))
    names = [n for n in feed.signals if n != "score"] + ["score"]
    return DataFeed(
        feed.timestamps,
        feed.assets,
        fields,
        has_bar=feed.has_bar,
        context=feed.context,
        signal_names=names,
        registry=feed.registry,
    )


class TopScorePortfolio(Strategy):
    """Weekly: hold the TOP highest-scoring stocks, inverse-volatility weighted."""

    def on_bar(self, bar):
        if bar.index % REBALANCE_EVERY:
            return
        score = bar.signals["score"]
        if not np.isfinite(score).any():
            return
        ranked = np.argsort(np.where(np.isfinite(score), score, -np.inf))[::-1][:TOP]
        closes = self.history("close", 61)
        if closes.shape[0] < 61:
            return
        rets = closes[1:, ranked] / closes[:-1, ranked] - 1.0
        weights = np.zeros(len(bar.assets))
        weights[ranked] = risk_parity_weights(rets, gross=0.95)
        self.rebalance(weights)


def main() -> None:
    started = time.perf_counter()
    feed = with_scores(sample_feed())
    config = BacktestConfig(
        initial_cash=1_000_000.0,
        commission={"kind": "per_share", "per_share": 0.005, "minimum": 1.0},
        slippage={"kind": "fixed_bps", "bps": 2.0},
        sizing={"min_trade_value": 2_000.0},
        risk={"stop_loss": 0.10, "max_drawdown": 0.25},
    )
    result = BacktestEngine(data_feed=feed, strategy=TopScorePortfolio(), config=config).run()
    print(f"ML top-{TOP} portfolio, {feed.n_assets} stocks, {feed.n_timestamps} days")
    print(result.summary())
    reasons = result.trades.group_by("exit_reason").len().sort("exit_reason")
    print("\ntrades by exit reason:")
    for reason, count in reasons.iter_rows():
        print(f"  {reason or 'strategy':<14}{count}")
    costs = result.fills.select(pl.sum("commission"), pl.sum("slippage")).row(0)
    print(f"costs: commission {costs[0]:,.2f}, slippage {costs[1]:,.2f}")

    report = check_lookahead(
        lambda f: TopScorePortfolio(), sample_feed(), config, n_cuts=2, seed=11, prepare=with_scores
    )
    print(
        f"look-ahead audit of model + strategy: {'passed' if report.passed else 'FAILED'} "
        f"({report.decisions_checked} decisions checked at cuts {report.cuts})"
    )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
