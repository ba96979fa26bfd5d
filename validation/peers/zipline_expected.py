"""Zipline's own stored results for its example algorithms on its test bundle (peer side).

`validation/data/zipline_test_bundle/expected_perf` holds, per example, zipline's stored daily
performance and every transaction (zipline tests folder ``0-22-0``); zipline-reloaded 3.2.1
reproduces them exactly on this bundle (see the data's SOURCE.md). The bundle's prices are RAW:
AAPL's 7:1 split of 2014-06-09 is applied by zipline to the position and to open orders.
Reading the stored results keeps zipline (pandas < 3) out of the validation environment.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from validation.common import RunResult, fills_frame
from validation.datasets import DATA

__all__ = ["VERSION", "expected_daily", "run_zipline_expected"]

VERSION = "zipline 0.22 stored results (reproduced by zipline-reloaded 3.2.1)"
_DIR = DATA / "zipline_test_bundle" / "expected_perf"


def expected_daily(example: str) -> pl.DataFrame:
    """Zipline's stored daily performance of `example` (one row per session)."""
    return pl.read_csv(_DIR / f"{example}_daily.csv", try_parse_dates=True)


def run_zipline_expected(example: str) -> RunResult:
    """Zipline's fills and final portfolio value for `example` (``buyapple``, ...)."""
    tx = pl.read_csv(_DIR / f"{example}_transactions.csv", try_parse_dates=True)
    rows: list[tuple[datetime, str, int, float, float]] = [
        (
            datetime(d.year, d.month, d.day),
            sym,
            1 if amount > 0 else -1,
            abs(float(amount)),
            float(price),
        )
        for d, sym, amount, price in tx.iter_rows()
    ]
    daily = expected_daily(example)
    return RunResult(
        engine=VERSION,
        fills=fills_frame(rows),
        final_equity=float(daily["portfolio_value"][-1]),
        extra={"sessions": float(daily.height)},
    )
