"""Scenarios validated against backtesting.py (GOOG daily, BTC-PERP minute)."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import polars as pl

from ml4t.backtest.strategy.config import BacktestConfig
from validation import datasets, ml4t_runs, signals
from validation import ml4t_strategies as ms
from validation.peers import backtesting_runs as bpr
from validation.registry import Scenario, attach_ml4t, register

__all__ = ["goog_cross"]


def goog_cross() -> pl.DataFrame:
    """GOOG daily 2004-2013 (backtesting.py's sample) with SMA(10)/SMA(20) cross signals."""
    return signals.sma_cross(datasets.backtesting_py("GOOG"), 10, 20)


def _sma_cross_all_in(s: Any) -> None:
    # The docs' SmaCross: long (all equity) on a cross above, short on a cross below.
    if s.data.entry[-1] > 0:
        s.buy()
    elif s.data.exit[-1] > 0:
        s.sell()


def _fixed_size(s: Any) -> None:
    # Long 10 shares on a cross above, close on a cross below.
    if s.data.entry[-1] > 0 and not s.position:
        s.buy(size=10)
    elif s.data.exit[-1] > 0 and s.position:
        s.position.close()


def _bracket(s: Any) -> None:
    # Flat + cross above: 10 shares at market with SL -2% and TP +2% of the signal close.
    if s.data.entry[-1] > 0 and not s.position and not s.orders:
        c = s.data.Close[-1]
        s.buy(size=10, sl=c * 0.98, tp=c * 1.02)


def _crypto(s: Any) -> None:
    # 0.05 BTC (5,000,000 satoshi units of FractionalBacktest) on a cross above; close below.
    if s.data.entry[-1] > 0 and not s.position:
        s.buy(size=5_000_000)
    elif s.data.exit[-1] > 0 and s.position:
        s.position.close()


_GOOG = "GOOG daily 2004-2013 (backtesting_py/GOOG.csv)"

register(
    Scenario(
        "bp_sma_cross_all_in",
        "backtesting.py",
        "percent-of-equity sizing, short selling and reversals, percentage commissions",
        f"{_GOOG}; the docs' SmaCross(10, 20): buy() / sell() with the default size (1 - float"
        " epsilon of the available margin, whole shares, cost-adjusted), exclusive_orders, 0.2%"
        " commission; ml4t: close_position + order_percent_at_fill (sized at the fill).",
        goog_cross,
        partial(
            bpr.run_backtesting, logic=_sma_cross_all_in, commission=0.002, exclusive_orders=True
        ),
    )
)
register(
    Scenario(
        "bp_market_next_open",
        "backtesting.py",
        "market orders at next open",
        f"{_GOOG}; 10 shares at market on a cross above, close on a cross below; no costs.",
        goog_cross,
        partial(bpr.run_backtesting, logic=_fixed_size),
    )
)
register(
    Scenario(
        "bp_trade_on_close",
        "backtesting.py",
        "market orders at same-bar close",
        f"{_GOOG}; same with trade_on_close=True (fills at the signal bar's close).",
        goog_cross,
        partial(bpr.run_backtesting, logic=_fixed_size, trade_on_close=True),
    )
)
register(
    Scenario(
        "bp_bracket_sl_tp",
        "backtesting.py",
        "bracket with stop and target inside one bar",
        f"{_GOOG}; 10 shares with SL -2% / TP +2% of the signal close; when both are inside one"
        " bar backtesting.py takes the stop (pessimistic).",
        lambda: signals.sma_cross(datasets.backtesting_py("GOOG"), 5, 10),
        partial(bpr.run_backtesting, logic=_bracket),
    )
)
register(
    Scenario(
        "bp_fractional_crypto",
        "backtesting.py",
        "fractional crypto quantities",
        "FTX BTC-PERP, first 10,000 one-minute bars; 0.05 BTC via FractionalBacktest (satoshi"
        " units) on an SMA(10)/SMA(30) cross, 0.05% commission.",
        lambda: signals.sma_cross(datasets.crypto_minute(), 10, 30),
        partial(bpr.run_backtesting, logic=_crypto, fractional_unit=1e-8, commission=0.0005),
    )
)


# ----------------------------------------------------------------------- ml4t-backtest side


def _ml4t(strategy_factory: Any, *, crypto: bool = False, **config: Any) -> Any:
    # A fresh strategy under the backtesting.py preset (cash 100,000) plus `config`.

    def run(bars: pl.DataFrame) -> Any:
        cfg = BacktestConfig.preset("backtesting.py", initial_cash=100_000.0, **config)
        registry = ml4t_runs.crypto_registry(bars) if crypto else ml4t_runs.no_tick_registry(bars)
        return ml4t_runs.run_ml4t(bars, strategy_factory(), cfg, registry=registry)

    return run


def _attach() -> None:

    ten = lambda: ml4t_runs.CrossStrategy(10)  # noqa: E731
    # backtesting.py's default size is 1 - float epsilon of the available margin
    all_in = lambda: ms.AllInReversal(1.0 - sys.float_info.epsilon)  # noqa: E731
    attach_ml4t(
        "bp_sma_cross_all_in",
        _ml4t(all_in, commission={"kind": "percent", "rate": 0.002}),
    )
    attach_ml4t("bp_market_next_open", _ml4t(ten))
    attach_ml4t("bp_trade_on_close", _ml4t(ten, fill_timing="same_close"))
    attach_ml4t("bp_bracket_sl_tp", _ml4t(lambda: ms.BracketEntry(size=10, stop=0.98, target=1.02)))
    attach_ml4t(
        "bp_fractional_crypto",
        _ml4t(
            lambda: ml4t_runs.CrossStrategy(0.05),
            crypto=True,
            share_rounding="lot",
            commission={"kind": "percent", "rate": 0.0005},
        ),
    )


_attach()
