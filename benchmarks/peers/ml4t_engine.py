"""ml4t-backtest through each path it offers: on_market_data, on_bar, the signal fast path."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import polars as pl

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.signals import SignalStrategy, run_signals
from ml4t.backtest.strategy.strategy import Strategy
from peers.common import CASH, COMMISSION, CROSS_SIZE, D_SIDE, D_WEIGHT

__all__ = ["PATHS", "run"]

PATHS = {
    "cross": ("on_market_data", "on_bar", "fast_path"),
    "longshort": ("on_bar",),
}  # and "zipline_preset" for either kind: the reference run for zipline


class CrossOnMarketData(Strategy):
    """Event per asset: precomputed cross flags, one list of bools per asset, by bar number.

    A user's version of the rule: the SMA crosses are computed beforehand (vectorised), the
    position comes from `get_position` (a market order fills at the next bar's open, before
    that bar's events, so there is no working order to account for).
    """

    def __init__(self, entry: np.ndarray, exit_: np.ndarray, assets: tuple[str, ...]) -> None:
        self.entry = {a: (entry[:, j] > 0.0).tolist() for j, a in enumerate(assets)}
        self.exit = {a: (exit_[:, j] > 0.0).tolist() for j, a in enumerate(assets)}
        self.t = -1  # bar number: one more for every new timestamp
        self.last_ts = -1

    def on_market_data(self, event: Any) -> None:
        ts = event.timestamp
        if ts != self.last_ts:
            self.last_ts = ts
            self.t += 1
        asset = event.asset
        held = self.get_position(asset)
        if held == 0.0:
            if self.entry[asset][self.t]:
                self.buy(asset, CROSS_SIZE)
        elif self.exit[asset][self.t]:
            self.sell(asset, held)


class LongShortOnBar(Strategy):
    """D: every bar, long the top `D_SIDE` and short the bottom `D_SIDE` by score."""

    def on_bar(self, bar: Any) -> None:
        score = bar.signals["score"]
        order = np.argsort(score, kind="stable")
        weights = np.zeros(score.shape[0])
        weights[order[-D_SIDE:]] = D_WEIGHT
        weights[order[:D_SIDE]] = -D_WEIGHT
        self.rebalance(weights)


class CrossCountingPending(Strategy):
    """The cross rule for zipline's semantics, where unfilled orders count as held.

    Zipline fills an order at the next bar's close before that bar's ``handle_data``, which
    then sees the position; in ml4t the next-close fill comes after that bar's strategy
    call, so the rule counts the working order as held (or an exit right after an entry
    would be missed).
    """

    def on_bar(self, bar: Any) -> None:
        entry = bar.signals["entry"]
        exit_ = bar.signals["exit"]
        api = self.api
        for j in np.flatnonzero((entry > 0.0) | (exit_ > 0.0)).tolist():
            asset = bar.assets[j]
            held = api.position(asset) + api.pending_quantity(asset)
            if held == 0.0:
                if entry[j] > 0.0:
                    self.buy(asset, CROSS_SIZE)
            elif exit_[j] > 0.0:
                self.sell(asset, held)


class LongShortZiplineSizing(Strategy):
    """D with zipline's sizing: ``order_target_percent``'s arithmetic, for the reference.

    In zipline the previous bar's orders have filled (at this bar's close, with their
    commission) when ``handle_data`` runs; here they fill after this bar's strategy call.
    So the working orders count as held, their commission is taken off the equity, and
    each order is zipline's: the shortfall ``weight * equity / close - held`` truncated
    toward zero (after snapping values within 1e-4 of an integer).
    """

    def on_bar(self, bar: Any) -> None:
        score = bar.signals["score"]
        close = bar.close
        order = np.argsort(score, kind="stable")
        weights = np.zeros(score.shape[0])
        weights[order[-D_SIDE:]] = D_WEIGHT
        weights[order[:D_SIDE]] = -D_WEIGHT
        api = self.api
        held = api.quantities() + api.pending_quantities()
        pending = api.pending_quantities()
        equity = api.portfolio.equity - COMMISSION * float(np.abs(pending * close).sum())
        delta = weights * equity / close - held
        snapped = np.round(delta)
        delta = np.where(np.abs(delta - snapped) <= 1e-4, snapped, np.trunc(delta))
        for j in np.flatnonzero(delta).tolist():
            self.order(bar.assets[j], float(delta[j]))


def _registry(assets: list[str]) -> AssetRegistry:
    return AssetRegistry([Equity(asset_id=a, tick_size=1e-9, lot_size=1e-9) for a in assets])


def _zipline_config(kind: str) -> BacktestConfig:
    # The workload's rule under zipline's semantics (next-close fills, whole shares, no cash
    # check): the reference for zipline's answer, with the workload's costs.
    if kind == "cross":
        return BacktestConfig.preset(
            "zipline",
            initial_cash=CASH,
            commission={"kind": "none"},
            slippage={"kind": "none"},
            volume_limit=None,
            sizing={"method": "fixed_quantity", "quantity": CROSS_SIZE},
        )
    return BacktestConfig.preset(
        "zipline",
        initial_cash=CASH,
        commission={"kind": "percent", "rate": COMMISSION},
        slippage={"kind": "none"},
        volume_limit=None,
    )


def run(kind: str, bars: pl.DataFrame, path: str) -> dict[str, float]:
    """Run workload `kind` (``cross`` or ``longshort``) through `path`; timed from the frame.

    Path ``zipline_preset`` is the reference for zipline: ``on_bar`` under
    ``BacktestConfig.preset("zipline")`` with the workload's costs.
    """
    start = time.perf_counter()
    if path == "zipline_preset":
        feed = DataFeed.from_polars(bars)
        strategy: Strategy = CrossCountingPending() if kind == "cross" else LongShortZiplineSizing()
        result = BacktestEngine(feed, strategy, _zipline_config(kind)).run()
    elif kind == "cross":
        feed = DataFeed.from_polars(bars)
        cfg = BacktestConfig(
            initial_cash=CASH,
            commission={"kind": "none"},
            slippage={"kind": "none"},
            sizing={"method": "fixed_quantity", "quantity": CROSS_SIZE},
        )
        if path == "fast_path":
            result = run_signals(feed, SignalStrategy("entry", "exit"), cfg)
        elif path == "on_bar":
            result = BacktestEngine(feed, SignalStrategy("entry", "exit"), cfg).run()
        else:
            strat = CrossOnMarketData(feed.fields["entry"], feed.fields["exit"], tuple(feed.assets))
            result = BacktestEngine(feed, strat, cfg).run()
    else:
        assets = bars["asset"].unique().sort().to_list()
        feed = DataFeed.from_polars(bars, registry=_registry(assets))
        cfg = BacktestConfig(
            initial_cash=CASH,
            fill_timing="same_close",
            commission={"kind": "percent", "rate": COMMISSION},
            slippage={"kind": "none"},
            account={"policy": "margin", "allow_short": True},
            share_rounding="fractional",
            cash_shortfall="resize",
        )
        result = BacktestEngine(feed, LongShortOnBar(), cfg).run()
    equity = float(result.equity_curve["equity"][-1])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "fills": float(result.fills.height), "final_equity": equity}
