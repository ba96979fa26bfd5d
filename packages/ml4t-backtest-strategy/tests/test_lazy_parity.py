"""Property test: the lazy loop (idle bars skipped, records rebuilt) equals the per-bar loop.

`engine.LAZY_STATE = False` forces every phase at every bar (the reference); the default
lets plain runs skip bars while the broker's book is empty and rebuild the equity curve and
positions from the position/cash changes. Every frame and metric must be identical.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import StrategyError
from ml4t.backtest.strategy import engine as engine_module
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9
FRAMES = ("equity_curve", "trades", "fills", "orders", "positions")


class SparseTrader(Strategy):
    """Trades on a few bars only (so the lazy loop skips many), in several styles."""

    def __init__(self, seed: int, rate: float, peek: bool, fail_at: int | None = None) -> None:
        self.seed = seed
        self.rate = rate
        self.peek = peek
        self.fail_at = fail_at

    def on_start(self, ctx):
        self.rng = np.random.default_rng(self.seed)
        self.seen: list[tuple[float, ...]] = []

    def _act(self, index, assets, closes, has_bar):
        rng = self.rng
        if self.fail_at is not None and index == self.fail_at:
            raise RuntimeError("boom")
        if self.peek and rng.random() < 0.2:
            pf = self.portfolio
            self.seen.append((pf.equity, pf.cash, pf.buying_power, *self.api.prices().tolist()))
        if rng.random() > self.rate:
            return
        kind = int(rng.integers(0, 8))
        j = int(rng.integers(0, len(assets)))
        asset = assets[j]
        qty = float(rng.integers(1, 40))
        price = closes[j]
        if kind == 0:
            self.buy(asset, qty)
        elif kind == 1:
            self.sell(asset, qty)
        elif kind == 2 and has_bar[j]:
            self.buy(asset, qty, limit_price=price * 0.99, time_in_force=_tif(rng))
        elif kind == 3 and has_bar[j]:
            self.sell(asset, qty, stop_price=price * 0.97)
        elif kind == 4:
            self.order_target_percent(asset, float(rng.uniform(-0.4, 0.4)))
        elif kind == 5:
            self.rebalance(rng.uniform(-0.2, 0.2, len(assets)))
        elif kind == 6:
            self.cancel_all()
        else:
            self.close_position(asset)


def _tif(rng):
    from ml4t.backtest.core.enums import TimeInForce  # noqa: PLC0415

    return TimeInForce.DAY if rng.random() < 0.5 else TimeInForce.GTC


class BarTrader(SparseTrader):
    def on_bar(self, bar):
        self._act(bar.index, bar.assets, bar.close.tolist(), bar.has_bar.tolist())


class EventTrader(SparseTrader):
    def on_market_data(self, event):
        assets = self.api.assets
        j = assets.index(event.asset)
        closes = [event.close if k == j else float("nan") for k in range(len(assets))]
        has = [k == j for k in range(len(assets))]
        self._act(self.api.timestamp, assets, closes, has)

    def on_fill(self, fill):
        self.seen.append((fill.quantity, fill.price))


def _feed(
    seed: int, n_t: int, n_a: int, gaps: bool, quotes: bool = False, unpriced: int = 1
) -> DataFeed:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.01, (n_t, n_a)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, (n_t, n_a))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, (n_t, n_a))))
    if gaps:  # missing bars, including at the start of an asset's history
        miss = rng.random((n_t, n_a)) < 0.15
        miss[: int(rng.integers(0, 4)), 0] = True
        for arr in (open_, high, low, close):
            arr[miss] = np.nan
        # an asset whose first closes are missing while it trades (fills then give its
        # first known price)
        close[: int(rng.integers(0, n_t + 1)), n_a - unpriced :] = np.nan
    volume = np.where(np.isnan(close), np.nan, 1e6)
    ts = 19_723 * DAY + np.arange(n_t, dtype=np.int64) * DAY
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    fields["exit_sig"] = (rng.random((n_t, n_a)) < 0.05).astype(float)
    if quotes:  # market orders cross a spread around the close
        fields["bid"] = close * 0.999
        fields["ask"] = close * 1.001
    return DataFeed(ts, [f"A{j:02d}" for j in range(n_a)], fields, signal_names=["exit_sig"])


def _run(feed, strategy, config, lazy):
    saved = engine_module.LAZY_STATE
    engine_module.LAZY_STATE = lazy
    try:
        try:
            return BacktestEngine(data_feed=feed, strategy=strategy, config=config).run(), None
        except StrategyError as err:
            return err.result, str(err).split("Traceback")[0]  # type: ignore[attr-defined]
    finally:
        engine_module.LAZY_STATE = saved


def _assert_same(a, b):
    for name in FRAMES:
        fa, fb = getattr(a, name), getattr(b, name)
        assert fa.equals(fb, null_equal=True), (name, fa, fb)
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        other = b.metrics[key]
        assert value == other or (value != value and other != other), key


RISKS = [
    {},
    {"stop_loss": 0.03, "take_profit": 0.05},
    {"trailing_stop": 0.04, "max_bars_held": 5},
    {"atr_stop": 1.0, "atr_window": 3, "exit_signal": "exit_sig"},
    {"max_positions": 2, "max_gross_exposure": 1.5},
    {"max_drawdown": 0.1, "daily_loss_limit": 0.03},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_t=st.integers(1, 60),
    n_a=st.integers(1, 3),
    gaps=st.booleans(),
    rate=st.sampled_from([0.03, 0.15, 0.6]),
    peek=st.booleans(),
    events=st.booleans(),
    margin=st.booleans(),
    timing=st.sampled_from(["next_open", "same_close", "next_close"]),
    risk=st.sampled_from(RISKS),
    commission=st.sampled_from(
        [
            {"kind": "none"},
            {"kind": "per_share", "minimum": 1.0},
            {"kind": "percent", "rate": 0.002},
        ]
    ),
    close_at_end=st.booleans(),
    fail=st.booleans(),
    venue=st.fixed_dictionaries(
        {
            "quotes": st.booleans(),
            "volume_limit": st.sampled_from([None, 1e-5]),
            "cash_shortfall": st.sampled_from(["reject", "resize", "allow_negative"]),
            "price_column": st.sampled_from(["close", "open"]),
            "exit_first": st.booleans(),
        }
    ),
)
def test_lazy_loop_equals_per_bar_loop(
    seed,
    n_t,
    n_a,
    gaps,
    rate,
    peek,
    events,
    margin,
    timing,
    risk,
    commission,
    close_at_end,
    fail,
    venue,
):
    venue = dict(venue)
    feed = _feed(seed, n_t, n_a, gaps, quotes=venue.pop("quotes"))
    account = {"policy": "margin", "allow_short": True} if margin else {"policy": "cash"}
    config = BacktestConfig(
        initial_cash=100_000.0,
        account=account,
        fill_timing=timing,
        commission=commission,
        slippage={"kind": "fixed_bps", "bps": 2.0},
        risk=risk,
        close_positions_at_end=close_at_end,
        **venue,
    )
    kind = EventTrader if events else BarTrader
    fail_at = n_t // 2 if fail else None
    if events and fail_at is not None:
        fail_at = None  # (EventTrader passes a timestamp as the index)
    lazy = kind(seed, rate, peek, fail_at)
    eager = kind(seed, rate, peek, fail_at)
    result_lazy, err_lazy = _run(feed, lazy, config, True)
    result_eager, err_eager = _run(feed, eager, config, False)
    assert err_lazy == err_eager
    _assert_same(result_lazy, result_eager)
    assert repr(lazy.seen) == repr(eager.seen)  # what the strategy saw (NaN-safe, exact)


def test_lazy_is_the_default_for_plain_runs():
    feed = _feed(1, 30, 2, gaps=True)
    result, _ = _run(feed, BarTrader(1, 0.1, peek=False), BacktestConfig(), True)
    reference, _ = _run(feed, BarTrader(1, 0.1, peek=False), BacktestConfig(), False)
    _assert_same(result, reference)
    assert isinstance(result.equity_curve, pl.DataFrame)


@pytest.mark.parametrize("n_a", [1, 4])
def test_rebuilt_sums_equal_row_sums(n_a):
    # the rebuilt exposures sum each row with numpy's row reduction; it must equal the
    # per-bar 1-D sums bit for bit (pairwise summation per contiguous row)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(257, n_a * 131)) * 1e6
    rows = np.array([row.sum() for row in values])
    assert np.array_equal(values.sum(axis=1), rows)
    pos = np.maximum(values, 0.0)
    assert np.array_equal(pos.sum(axis=1), np.array([row.sum() for row in pos]))


class EachAsset(BarTrader):
    """Also buys or sells every asset on some bars (many fills in one phase, priced or not)."""

    def on_bar(self, bar):
        if bar.index % 5 == 0:
            for asset in bar.assets:
                self.buy(asset, 5.0)
        elif bar.index % 5 == 3:
            for asset in bar.assets:
                self.sell(asset, 3.0)
        super().on_bar(bar)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_fill_booking_equals_the_per_fill_loop(seed, monkeypatch):
    # many fills of distinct assets in one phase are booked as arrays; same results as the
    # per-fill loop (forced by refusing the batch path)
    feed = _feed(seed, 40, 24, gaps=True, unpriced=12)
    config = BacktestConfig(
        initial_cash=1_000_000.0,
        account={"policy": "margin", "allow_short": True},
        commission={"kind": "per_share", "minimum": 1.0},
    )
    batch = engine_module._Run._apply_fills_batch
    used = []

    def counted(self, fills):
        done = batch(self, fills)
        used.append(done)
        return done

    monkeypatch.setattr(engine_module._Run, "_apply_fills_batch", counted)
    batched, _ = _run(feed, EachAsset(seed, 0.9, peek=True), config, True)
    monkeypatch.setattr(engine_module._Run, "_apply_fills_batch", lambda self, fills: False)
    looped, _ = _run(feed, EachAsset(seed, 0.9, peek=True), config, True)
    _assert_same(batched, looped)
    assert any(used)  # the batch path ran
