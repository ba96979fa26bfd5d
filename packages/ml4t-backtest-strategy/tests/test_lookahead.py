"""check_lookahead catches strategies that peek and passes honest ones."""

from __future__ import annotations

import numpy as np
import pytest

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import LookAheadError
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.lookahead import check_lookahead, perturb_after
from ml4t.backtest.strategy.signals import SignalStrategy
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9
CFG = BacktestConfig(commission={"kind": "none"}, slippage={"kind": "none"})


def _feed(n_t=120, n_a=3, seed=0) -> DataFeed:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_t, n_a)), axis=0))
    return DataFeed(
        np.arange(n_t, dtype=np.int64) * DAY,
        [f"S{j}" for j in range(n_a)],
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full((n_t, n_a), 1e6),
        },
    )


class SmaCross(Strategy):
    # honest: uses only history() up to the current bar
    def __init__(self, feed=None):
        self.feed = feed

    def on_bar(self, bar):
        for asset in bar.assets:
            closes = self.history("close", 10, asset)
            if closes.shape[0] < 10:
                continue
            fast, slow = closes[-3:].mean(), closes.mean()
            held = self.get_position(asset)
            if fast > slow and held == 0:
                self.order_target_percent(asset, 0.3)
            elif fast < slow and held > 0:
                self.close_position(asset)


class Peeker(Strategy):
    # dishonest: reads tomorrow's close from the feed it was given
    def __init__(self, feed):
        self.feed = feed

    def on_bar(self, bar):
        t = bar.index
        if t + 1 >= self.feed.close.shape[0]:
            return
        for j, asset in enumerate(bar.assets):
            up = self.feed.close[t + 1, j] > bar.close[j]
            held = self.get_position(asset)
            if up and held == 0:
                self.order_target_percent(asset, 0.3)
            elif not up and held > 0:
                self.close_position(asset)


def test_honest_strategy_passes():
    report = check_lookahead(SmaCross, _feed(), CFG, n_cuts=4, seed=3)
    assert report.passed
    assert report.decisions_checked > 0
    report.raise_if_failed()


def test_peeking_strategy_is_caught_with_the_bar_named():
    report = check_lookahead(Peeker, _feed(), CFG, n_cuts=4, seed=3)
    assert not report.passed
    v = report.violations[0]
    assert v.cut_index in report.cuts
    with pytest.raises(LookAheadError, match="look-ahead detected"):
        report.raise_if_failed()


def _with_signals(feed: DataFeed, *, centred: bool) -> DataFeed:
    close = feed.close
    if centred:  # uses the next bar: a leaking signal
        nxt = np.vstack([close[1:], close[-1:]])
        entry = (nxt > close).astype(float)
    else:
        prev = np.vstack([close[:1], close[:-1]])
        entry = (close > prev).astype(float)
    fields = dict(feed.fields)
    fields["entry"] = entry
    fields["exit"] = 1.0 - entry
    return DataFeed(feed.timestamps, feed.assets, fields, signal_names=["entry", "exit"])


def test_leaking_signal_pipeline_is_caught_through_prepare():
    cfg = CFG.replace(sizing={"method": "percent_equity", "percent": 0.3})
    honest = check_lookahead(
        lambda f: SignalStrategy("entry", "exit"),
        _feed(),
        cfg,
        n_cuts=3,
        seed=5,
        prepare=lambda f: _with_signals(f, centred=False),
    )
    leaky = check_lookahead(
        lambda f: SignalStrategy("entry", "exit"),
        _feed(),
        cfg,
        n_cuts=3,
        seed=5,
        prepare=lambda f: _with_signals(f, centred=True),
    )
    assert honest.passed
    assert not leaky.passed


def test_perturb_after_keeps_the_past_and_changes_the_future():
    feed = _feed(n_t=20)
    p = perturb_after(feed, 9, np.random.default_rng(0))
    assert np.array_equal(p.close[:10], feed.close[:10])
    assert np.all(p.close[10:] != feed.close[10:])
    assert np.all(p.high[10:] >= p.low[10:])
