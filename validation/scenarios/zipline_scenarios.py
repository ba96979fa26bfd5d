"""Scenarios validated against Zipline's stored example results (RAW prices, splits)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from ml4t.backtest.core.enums import CorporateActionType
from ml4t.backtest.core.events import CorporateActionEvent
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.strategy import Strategy
from validation import datasets, ml4t_runs
from validation.common import RunResult, compare
from validation.peers import zipline_expected as zle
from validation.registry import Scenario, attach_ml4t, register

__all__ = ["SESSIONS", "zipline_window"]

# Sessions of each stored example (zipline's _test_args: start/end of the run).
SESSIONS = {
    "buyapple": (datetime(2014, 1, 2), datetime(2014, 10, 31)),
    "buy_and_hold": (datetime(2008, 1, 2), datetime(2012, 12, 31)),
    "dual_moving_average": (datetime(2011, 1, 3), datetime(2012, 12, 31)),
}


def zipline_window(example: str) -> pl.DataFrame:
    """RAW AAPL/MSFT bars over the sessions of `example`'s stored run."""
    start, end = SESSIONS[example]
    bars = datasets.zipline_bars().filter(pl.col("timestamp").is_between(start, end))
    if example != "buy_and_hold":
        bars = bars.filter(pl.col("asset") == "AAPL")
    return bars


def _peer(example: str):  # type: ignore[no-untyped-def]
    def run(bars: pl.DataFrame) -> RunResult:
        return zle.run_zipline_expected(example)

    return run


_COSTS = (
    "PerShare(0.0075, min $1), VolumeShareSlippage(2.5% volume cap, impact 0.1), fills at the"
    " next session's close"
)

register(
    Scenario(
        "zl_buyapple_split",
        "zipline",
        "splits on unadjusted prices",
        "zipline's buyapple: order 10 AAPL every session of 2014 (RAW prices); the 7:1 split of"
        f" 2014-06-09 turns the open order into 70 shares and 1,070 held into 7,490; {_COSTS}.",
        lambda: zipline_window("buyapple"),
        _peer("buyapple"),
    )
)
register(
    Scenario(
        "zl_buy_and_hold_dividends",
        "zipline",
        "dividends on unadjusted prices",
        "zipline's buy_and_hold: 100 AAPL + 100 MSFT on the first session, held 2008-2012;"
        f" {_COSTS}.",
        lambda: zipline_window("buy_and_hold"),
        _peer("buy_and_hold"),
        known_difference=(
            "zipline pays a cash dividend on its pay date (finance/ledger.py keys unpaid"
            " dividends by pay_date); every dividend of this bundle has an empty pay_date, and"
            " zipline's own csvdir and quandl bundles write pay_date = NaT too (csvdir.py:271,"
            " quandl.py:139), so zipline never pays MSFT's and AAPL's dividends of 2008-2012:"
            " the stored results hold no dividend cash. ml4t-backtest pays each dividend on the"
            " ex-date (no pay date given); the test asserts identical fills and a value"
            " difference of exactly 100 x the sum of the ex-dividend amounts in the window."
        ),
    )
)
register(
    Scenario(
        "zl_dual_moving_average",
        "zipline",
        "market orders at next close (order_target), split-adjusted history on RAW prices",
        "zipline's dual_moving_average: target 100 AAPL while SMA(100) > SMA(300) of the"
        f" split-adjusted price history, else 0; {_COSTS}.",
        lambda: dual_ma_bars(),  # noqa: PLW0108 - defined further down
        _peer("dual_moving_average"),
    )
)


# ----------------------------------------------------------------------- ml4t-backtest side

_ZL_CONFIG: dict[str, Any] = {
    "initial_cash": 10_000_000.0,
    "commission": {"kind": "per_share", "per_share": 0.0075, "minimum": 1.0},
    "slippage": {"kind": "volume_share", "price_impact": 0.1},
    "volume_limit": 0.025,
}


def _ns(d: datetime) -> int:
    return int(d.replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def splits(bars: pl.DataFrame) -> list[Any]:
    """Zipline's splits inside the bars' window as ml4t events (ratio = new per old share)."""

    start, end = bars["timestamp"].min(), bars["timestamp"].max()
    rows = pl.read_csv(datasets.DATA / "zipline_test_bundle" / "splits.csv", try_parse_dates=True)
    out = []
    for sym, day, _, ratio in rows.iter_rows():
        when = datetime(day.year, day.month, day.day)
        if sym in bars["asset"].unique().to_list() and start <= when <= end:
            out.append(
                CorporateActionEvent(
                    _ns(when), sym, CorporateActionType.SPLIT, ratio=round(1.0 / ratio, 9)
                )
            )
    return out


def dividends(bars: pl.DataFrame) -> list[Any]:
    """The bundle's cash dividends inside the bars' window (paid on the ex-date by ml4t)."""

    start, end = bars["timestamp"].min(), bars["timestamp"].max()
    rows = pl.read_csv(
        datasets.DATA / "zipline_test_bundle" / "dividend_payouts.csv", try_parse_dates=True
    )
    out = []
    for r in rows.iter_rows(named=True):
        d = r["ex_date"]
        when = datetime(d.year, d.month, d.day)
        if r["symbol"] in bars["asset"].unique().to_list() and start < when <= end:
            out.append(
                CorporateActionEvent(
                    _ns(when),
                    r["symbol"],
                    CorporateActionType.CASH_DIVIDEND,
                    cash_amount=float(r["amount"]),
                )
            )
    return out


class OrderEveryBar(Strategy):
    """zipline's buyapple: order 10 shares of the (single) asset on every bar."""

    def on_bar(self, bar: Any) -> None:
        self.buy(bar.assets[0], 10)


class BuyOnce(Strategy):
    """zipline's buy_and_hold: 100 shares of every asset on the first bar."""

    def __init__(self) -> None:
        self.done = False

    def on_bar(self, bar: Any) -> None:
        if not self.done:
            for asset in bar.assets:
                self.buy(asset, 100)
            self.done = True


class TargetColumn(Strategy):
    """zipline's dual_moving_average: order_target to the ``target`` column when set."""

    def on_bar(self, bar: Any) -> None:
        target = bar.signals["target"][0]
        if target == target:  # not NaN
            self.order_target_quantity(bar.assets[0], float(target))


def dual_ma_bars() -> pl.DataFrame:
    """The window's AAPL bars plus ``target``: 100 while SMA(100) > SMA(300), 0 below, NaN
    before the 300th session (the example skips its first 299 bars)."""
    full = datasets.zipline_bars().filter(pl.col("asset") == "AAPL")
    short = pl.col("close").rolling_mean(100)
    long = pl.col("close").rolling_mean(300)
    full = full.with_columns(
        pl.when(short > long)
        .then(100.0)
        .when(short < long)
        .then(0.0)
        .otherwise(None)
        .alias("target")
    )
    window = zipline_window("dual_moving_average")
    out = full.filter(pl.col("timestamp").is_in(window["timestamp"].implode()))
    first_ok = pl.int_range(pl.len()) >= 299
    return out.with_columns(pl.when(first_ok).then(pl.col("target")).otherwise(None))


def _ml4t(strategy_factory: Any, *, with_dividends: bool = False) -> Any:

    def run(bars: pl.DataFrame) -> RunResult:
        cfg = BacktestConfig.preset("zipline", **_ZL_CONFIG)
        actions = splits(bars) + (dividends(bars) if with_dividends else [])
        actions.sort(key=lambda e: e.timestamp)
        return ml4t_runs.run_ml4t(
            bars,
            strategy_factory(),
            cfg,
            registry=ml4t_runs.no_tick_registry(bars),
            corporate_actions=actions,
        )

    return run


def _dividend_difference(peer: RunResult, ours: RunResult) -> None:
    # Same fills; ml4t's value exceeds zipline's by exactly the dividends on 100 shares each.

    c = compare(peer, ours)
    assert c.fills_equal, c.first_mismatch
    cash = 100.0 * sum(e.cash_amount for e in dividends(zipline_window("buy_and_hold")))
    assert cash > 0
    assert abs((ours.final_equity - peer.final_equity) - cash) < 1e-6, (
        ours.final_equity - peer.final_equity,
        cash,
    )


def _attach() -> None:

    attach_ml4t("zl_buyapple_split", _ml4t(OrderEveryBar))
    attach_ml4t(
        "zl_buy_and_hold_dividends",
        _ml4t(BuyOnce, with_dividends=True),
        difference_check=_dividend_difference,
    )
    attach_ml4t("zl_dual_moving_average", _ml4t(TargetColumn))


_attach()
