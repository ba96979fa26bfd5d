"""Scenarios validated against VectorBT (`Portfolio.from_signals` / `from_orders`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.strategy import Strategy
from validation import datasets, ml4t_runs, signals
from validation.common import RunResult
from validation.peers import bt_runs as btl
from validation.peers import vectorbt_runs as vbr
from validation.registry import SCENARIOS, Scenario, attach_ml4t, register

__all__ = ["monthly_equal_weight", "rebalance_bars"]


def rebalance_bars() -> pl.DataFrame:
    """120 S&P 500 stocks, daily 2017, no signal columns."""
    return datasets.sp500_2017(120)


def monthly_equal_weight(bars: pl.DataFrame) -> pd.DataFrame:
    """Target weights: 1/N of equity in every stock on each month's first session, else NaN."""
    close = vbr.wide(bars, "close")
    first = ~close.index.to_period("M").duplicated()
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    w.loc[first, :] = 1.0 / close.shape[1]
    return w


def _rebalance(bars: pl.DataFrame) -> RunResult:
    return vbr.run_vbt_orders(
        bars,
        monthly_equal_weight(bars),
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        fees=0.001,
        init_cash=1_000_000.0,
    )


register(
    Scenario(
        "vbt_signals_fees_slippage",
        "vectorbt",
        "market orders at next open, percentage commissions and percentage slippage",
        "GOOG daily; from_signals on SMA(10)/SMA(30) crosses shifted one bar, price=open, 100"
        " shares, fees 0.1%, slippage 0.05%.",
        lambda: signals.sma_cross(datasets.backtesting_py("GOOG"), 10, 30),
        partial(vbr.run_vbt_signals, size=100.0, fees=0.001, slippage=0.0005),
    )
)
register(
    Scenario(
        "vbt_same_bar_close",
        "vectorbt",
        "market orders at same-bar close",
        "ORCL daily 2003-2005; from_signals at the signal bar's close (vectorbt's default), 100"
        " shares, fixed fee $1 per order.",
        lambda: signals.sma_cross(datasets.backtrader_daily("orcl-2003-2005.txt"), 10, 30),
        partial(vbr.run_vbt_signals, next_open=False, size=100.0, fixed_fees=1.0),
    )
)
register(
    Scenario(
        "vbt_crypto_fractional",
        "vectorbt",
        "fractional crypto quantities, one-minute bars",
        "FTX BTC-PERP first 10,000 one-minute bars; 0.05 BTC per entry at the next open, fees"
        " 0.05%.",
        lambda: signals.sma_cross(datasets.crypto_minute(), 10, 30),
        partial(vbr.run_vbt_signals, size=0.05, fees=0.0005, freq="1min"),
    )
)
register(
    Scenario(
        "vbt_rebalance_120",
        "vectorbt",
        "rebalance of >= 100 stocks",
        "120 S&P 500 stocks, 2017; equal weight (1/120) at each month's first close,"
        " targetpercent orders, shared cash, sells before buys (call_seq='auto'), fees 0.1%,"
        " fractional shares, $1,000,000.",
        rebalance_bars,
        _rebalance,
    )
)


# ----------------------------------------------------------------------- ml4t-backtest side


def _ml4t(strategy_factory: Any, *, crypto: bool = False, **config: Any) -> Any:
    # A fresh strategy under the vectorbt preset (cash 100,000) plus `config`.

    def run(bars: pl.DataFrame) -> RunResult:
        config.setdefault("initial_cash", 100_000.0)
        cfg = BacktestConfig.preset("vectorbt", **config)
        registry = (
            ml4t_runs.crypto_registry(bars)
            if crypto
            else ml4t_runs.no_tick_registry(bars, fractional=True)
        )
        return ml4t_runs.run_ml4t(bars, strategy_factory(), cfg, registry=registry)

    return run


class MonthlyEqualWeight(Strategy):
    """On each month's first session: every asset to 1/N of equity (sells first)."""

    def __init__(self) -> None:
        self.month = -1

    def on_bar(self, bar: Any) -> None:
        month = datetime.fromtimestamp(bar.timestamp / 1e9, tz=UTC).month
        if month != self.month:
            self.month = month
            n = len(bar.assets)
            self.rebalance(np.full(n, 1.0 / n))


def _attach() -> None:

    attach_ml4t(
        "vbt_signals_fees_slippage",
        _ml4t(
            lambda: ml4t_runs.CrossStrategy(100),
            fill_timing="next_open",
            commission={"kind": "percent", "rate": 0.001},
            slippage={"kind": "fixed_bps", "bps": 5.0},
        ),
    )
    attach_ml4t(
        "vbt_same_bar_close",
        _ml4t(lambda: ml4t_runs.CrossStrategy(100), commission={"kind": "fixed", "amount": 1.0}),
    )
    attach_ml4t(
        "vbt_crypto_fractional",
        _ml4t(
            lambda: ml4t_runs.CrossStrategy(0.05),
            crypto=True,
            fill_timing="next_open",
            commission={"kind": "percent", "rate": 0.0005},
        ),
    )
    attach_ml4t(
        "vbt_rebalance_120",
        _ml4t(
            MonthlyEqualWeight,
            initial_cash=1_000_000.0,
            commission={"kind": "percent", "rate": 0.001},
        ),
        # the vectorbt preset resizes the last, cash-short buy to cash / (price * (1 +
        # fees)) (cash_shortfall="resize_fee_inclusive") and orders each rebalance by
        # value like call_seq="auto" (rebalance_order="value")
    )

    # the same scenarios through ml4t's signal fast path (numba kernel)
    for name in ("vbt_signals_fees_slippage", "vbt_crypto_fractional"):
        base = SCENARIOS[name]
        crypto = name == "vbt_crypto_fractional"
        config = {
            "initial_cash": 100_000.0,
            "fill_timing": "next_open",
            "sizing": {"method": "fixed_quantity", "quantity": 0.05 if crypto else 100.0},
            "commission": {"kind": "percent", "rate": 0.0005 if crypto else 0.001},
            "slippage": {"kind": "none"} if crypto else {"kind": "fixed_bps", "bps": 5.0},
        }
        if crypto:
            config["share_rounding"] = "lot"
        register(
            replace(
                base,
                name=f"{name}_fast_path",
                covers=f"{base.covers} (ml4t signal fast path)",
                run_ml4t=partial(_fast, crypto=crypto, config=config),
            )
        )


def _fast(bars: pl.DataFrame, *, crypto: bool, config: dict[str, Any]) -> RunResult:
    cfg = BacktestConfig.preset("vectorbt", **config)
    registry = (
        ml4t_runs.crypto_registry(bars)
        if crypto
        else ml4t_runs.no_tick_registry(bars, fractional=True)
    )
    return ml4t_runs.run_ml4t_fast(bars, cfg, registry=registry)


_attach()


# ------------------------------------------------------------------------------- bt (library)


def _ml4t_bt(bars: pl.DataFrame) -> RunResult:
    cfg = BacktestConfig(
        initial_cash=1_000_000.0,
        fill_timing="same_close",
        commission={"kind": "none"},
        slippage={"kind": "none"},
        share_rounding="integer",
    )
    return ml4t_runs.run_ml4t(
        bars, MonthlyEqualWeight(), cfg, registry=ml4t_runs.no_tick_registry(bars)
    )


register(
    Scenario(
        "bt_lib_rebalance_120",
        "bt",
        "rebalance of >= 100 stocks",
        "120 S&P 500 stocks, 2017; bt's RunMonthly + SelectAll + WeighEqually + Rebalance at the"
        " close, whole shares (integer_positions), no costs, $1,000,000.",
        rebalance_bars,
        btl.run_bt_monthly_equal_weight,
        run_ml4t=_ml4t_bt,
    )
)
