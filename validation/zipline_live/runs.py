"""Ingest the suite's zipline test-bundle subset into a private ZIPLINE_ROOT and run zipline."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import pandas as pd

from validation.common import RunResult, fills_frame
from validation.datasets import DATA

__all__ = ["BUNDLE", "VERSION", "ingest_bundle", "run_zipline"]

BUNDLE = "ml4t-validation"
_DIR = DATA / "zipline_test_bundle"
_SYMBOLS = ("AAPL", "MSFT")


@cache
def ingest_bundle(pay_on_ex_date: bool) -> str:
    """Write the AAPL/MSFT RAW bars, splits and dividends as a zipline bundle; return its name.

    With `pay_on_ex_date` every dividend's pay_date is its ex_date (the bundle leaves it empty,
    and zipline never pays a dividend without a pay date).
    """
    if "ZIPLINE_ROOT" not in os.environ:  # a private root, removed when the process ends
        root = tempfile.mkdtemp(prefix="ml4t-zipline-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        os.environ["ZIPLINE_ROOT"] = root
    from zipline.data.bundles import ingest, register  # noqa: PLC0415 - zipline env only

    bars = pd.read_csv(_DIR / "daily_bars_raw_aapl_msft_2008_2014.csv.gz", parse_dates=["date"])
    splits = pd.read_csv(_DIR / "splits.csv", parse_dates=["effective_date"])
    divs = pd.read_csv(
        _DIR / "dividend_payouts.csv",
        parse_dates=["ex_date", "record_date", "declared_date", "pay_date"],
    )
    sid = {s: i for i, s in enumerate(_SYMBOLS)}
    if pay_on_ex_date:
        divs["pay_date"] = divs["ex_date"]

    def ingest_fn(  # zipline's ingest signature
        environ: Any,
        asset_db_writer: Any,
        minute_bar_writer: Any,
        daily_bar_writer: Any,
        adjustment_writer: Any,
        *args: Any,
    ) -> None:
        meta, data = [], []
        for s in _SYMBOLS:
            b = bars[bars.symbol == s].set_index("date")[["open", "high", "low", "close", "volume"]]
            meta.append(
                {
                    "symbol": s,
                    "start_date": b.index[0],
                    "end_date": b.index[-1],
                    "auto_close_date": b.index[-1] + pd.Timedelta(days=1),
                    "exchange": "NYSE",
                }
            )
            data.append((sid[s], b))
        exchanges = pd.DataFrame(
            [{"exchange": "NYSE", "canonical_name": "NYSE", "country_code": "US"}]
        )
        asset_db_writer.write(equities=pd.DataFrame(meta), exchanges=exchanges)
        daily_bar_writer.write(data, show_progress=False)
        sp = splits[splits.symbol.isin(_SYMBOLS)].assign(sid=lambda d: d.symbol.map(sid))
        dv = divs[divs.symbol.isin(_SYMBOLS)].assign(sid=lambda d: d.symbol.map(sid))
        adjustment_writer.write(
            splits=sp[["effective_date", "ratio", "sid"]],
            dividends=dv[["ex_date", "record_date", "declared_date", "pay_date", "amount", "sid"]],
        )

    name = f"{BUNDLE}-{'paid' if pay_on_ex_date else 'raw'}"
    register(
        name,
        ingest_fn,
        calendar_name="XNYS",
        start_session=pd.Timestamp("2008-01-02"),
        end_session=pd.Timestamp("2014-12-31"),
    )
    ingest(name, show_progress=False)
    return name


def _version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return f"zipline-reloaded {version('zipline-reloaded')} (live)"


VERSION = _version()


def run_zipline(
    initialize: Callable[[Any], None],
    handle_data: Callable[[Any, Any], None],
    start: datetime,
    end: datetime,
    *,
    pay_on_ex_date: bool = False,
) -> tuple[RunResult, Any]:
    """Run zipline on the ingested bundle; return the suite's RunResult and zipline's perf."""
    from zipline import run_algorithm  # noqa: PLC0415

    bundle = ingest_bundle(pay_on_ex_date)
    perf = run_algorithm(
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        initialize=initialize,
        handle_data=handle_data,
        capital_base=10_000_000.0,
        bundle=bundle,
        data_frequency="daily",
    )
    rows = []
    for txs in perf["transactions"]:
        for tx in txs:
            dt = pd.Timestamp(tx["dt"])
            day = datetime(dt.year, dt.month, dt.day)
            amount = float(tx["amount"])
            rows.append(
                (day, tx["sid"].symbol, 1 if amount > 0 else -1, abs(amount), float(tx["price"]))
            )
    result = RunResult(
        engine=VERSION,
        fills=fills_frame(rows),
        final_equity=float(perf["portfolio_value"].iloc[-1]),
    )
    return result, perf
