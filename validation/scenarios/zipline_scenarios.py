"""Scenarios validated against Zipline's stored example results (RAW prices, splits)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from validation import datasets
from validation.common import RunResult
from validation.peers import zipline_expected as zle
from validation.registry import Scenario, register

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
            "zipline credits a cash dividend on its pay date; every dividend of this bundle has"
            " an empty pay_date, so zipline never pays MSFT's 20 dividends of 2008-2012 (the"
            " stored results hold no dividend cash). ml4t-backtest pays each dividend on the"
            " ex-date; the test asserts identical fills and that the value difference equals"
            " 100 x the sum of MSFT's ex-dividend amounts in the window."
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
        lambda: zipline_window("dual_moving_average"),
        _peer("dual_moving_average"),
    )
)
