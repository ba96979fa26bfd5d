"""Zipline (zipline-reloaded): the workloads as zipline algorithms on an ingested bundle.

Zipline needs pandas < 3, so this module runs in its own environment (the
``validation-zipline`` dependency group; `benchmarks/run.py` builds it). Zipline reads bars
only from a bundle on disk: `prepare` ingests one per workload size into
benchmarks/results/cache/zipline (untimed, like the parquet cache); the timed run starts at
``run_algorithm`` (bundle loaded from disk) and ends with the final portfolio value.

Zipline's calendar is the exchange's: the workload's bars are laid, in order, on the first
XNYS sessions from 2000-01-03 (daily) or the first XNYS minutes from 2020-01-02 (minute
bars). Results depend on bar order only, so ml4t's reference run uses the frame as it is.

Semantics: an order placed in ``handle_data`` fills at the next bar's close (ml4t's
``BacktestConfig.preset("zipline")``); A-C use no costs (``PerShare(0)``,
``FixedSlippage(0)``: no volume limit), D ``PerDollar(0.001)``; shares are whole numbers.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from peers.common import CASH, COMMISSION, CROSS_SIZE, D_SIDE, D_WEIGHT

__all__ = ["PATHS", "ROOT", "bundle_name", "prepare", "run", "setup"]

PATHS = {"cross": ("algorithm",), "longshort": ("algorithm",)}
ROOT = Path(__file__).resolve().parents[1] / "results" / "cache" / "zipline"
CALENDAR = "XNYS"
_DAILY_START = "2000-01-03"
_MINUTE_START = "2020-01-02"
_STATE: dict[str, Any] = {}


def bundle_name(workload: str, n_assets: int, n_bars: int) -> str:
    """The bundle of one workload size."""
    return f"ml4t-bench-{workload}-{n_assets}x{n_bars}"


def _minute(workload: str) -> bool:
    return workload.startswith("A")


def _stamps(n_bars: int, minute: bool) -> Any:
    # The first `n_bars` XNYS sessions (naive dates) or minutes (UTC).
    import pandas as pd  # noqa: PLC0415
    from zipline.utils.calendar_utils import get_calendar  # noqa: PLC0415

    cal = get_calendar(CALENDAR)
    if minute:
        first = pd.Timestamp(_MINUTE_START)
        sessions = cal.sessions_in_range(first, first + pd.Timedelta(days=n_bars // 200 + 30))
        minutes = cal.sessions_minutes(sessions[0], sessions[-1])
        return minutes[:n_bars]
    first = pd.Timestamp(_DAILY_START)
    sessions = cal.sessions_in_range(first, first + pd.Timedelta(days=2 * n_bars + 30))
    return sessions[:n_bars]


def _sessions_of(stamps: Any, minute: bool) -> tuple[Any, Any]:
    # (first session, last session) covered by `stamps`
    import pandas as pd  # noqa: PLC0415

    if not minute:
        return stamps[0], stamps[-1]
    days = stamps.tz_convert("America/New_York").normalize().tz_localize(None)
    return pd.Timestamp(days[0]), pd.Timestamp(days[-1])


def _register(name: str, start: Any, end: Any, ingest: Any = None) -> None:
    from zipline.data.bundles import bundles, register  # noqa: PLC0415

    if name in bundles:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        register(
            name,
            ingest if ingest is not None else (lambda *args: None),
            calendar_name=CALENDAR,
            start_session=start,
            end_session=end,
            minutes_per_day=390,
        )


def prepare(workload: str, bars: pl.DataFrame, n_assets: int, n_bars: int) -> None:
    """Ingest the workload's bars as a zipline bundle (once per size; kept in the cache)."""
    import pandas as pd  # noqa: PLC0415

    os.environ["ZIPLINE_ROOT"] = str(ROOT)
    name = bundle_name(workload, n_assets, n_bars)
    if (ROOT / "data" / name).exists() and any((ROOT / "data" / name).iterdir()):
        return
    from zipline.data.bundles import ingest  # noqa: PLC0415

    minute = _minute(workload)
    n = bars["timestamp"].n_unique()
    stamps = _stamps(n, minute)
    first, last = _sessions_of(stamps, minute)
    assets = bars["asset"].unique().sort().to_list()
    parts = bars.partition_by("asset", as_dict=True, maintain_order=True)

    def frame_of(asset: str) -> Any:
        one = parts[(asset,)]
        return pd.DataFrame(
            {c: one[c].to_numpy() for c in ("open", "high", "low", "close", "volume")},
            index=stamps,
        )

    def ingest_fn(  # zipline's ingest signature
        environ: Any,
        asset_db_writer: Any,
        minute_bar_writer: Any,
        daily_bar_writer: Any,
        adjustment_writer: Any,
        *args: Any,
    ) -> None:
        meta = [
            {
                "symbol": a,
                "start_date": first,
                "end_date": last,
                "auto_close_date": last + pd.Timedelta(days=1),
                "exchange": "NYSE",
            }
            for a in assets
        ]
        exchanges = pd.DataFrame(
            [{"exchange": "NYSE", "canonical_name": "NYSE", "country_code": "US"}]
        )
        asset_db_writer.write(equities=pd.DataFrame(meta), exchanges=exchanges)
        if minute:
            minute_bar_writer.write(
                ((i, frame_of(a)) for i, a in enumerate(assets)), show_progress=False
            )
            daily = []
            for i, a in enumerate(assets):
                df = frame_of(a)
                day = df.index.tz_convert("America/New_York").normalize().tz_localize(None)
                agg = df.groupby(day).agg(
                    {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
                )
                daily.append((i, agg))
            daily_bar_writer.write(daily, show_progress=False)
        else:
            daily_bar_writer.write(
                ((i, frame_of(a)) for i, a in enumerate(assets)), show_progress=False
            )
        adjustment_writer.write()

    _register(name, first, last, ingest_fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ingest(name, show_progress=False)


def setup(workload: str, n_assets: int, n_bars: int) -> None:
    """Point zipline at the ingested bundle of this size (called once, before any run)."""
    os.environ["ZIPLINE_ROOT"] = str(ROOT)
    minute = _minute(workload)
    stamps = _stamps(n_bars, minute)
    first, last = _sessions_of(stamps, minute)
    name = bundle_name(workload, n_assets, n_bars)
    _register(name, first, last)
    _STATE.update(bundle=name, minute=minute, stamps=stamps)


def _wide(bars: pl.DataFrame, column: str) -> np.ndarray:
    # (T, A) values of `column`, assets sorted (the bundle's sids are the sorted assets).
    w = bars.pivot(on="asset", index="timestamp", values=column).sort("timestamp")
    cols = sorted(c for c in w.columns if c != "timestamp")
    return np.column_stack([w[c].to_numpy() for c in cols])


def run(kind: str, bars: pl.DataFrame, path: str) -> dict[str, float]:
    """Run workload `kind` through ``zipline.run_algorithm``; timed from the frame."""
    import pandas as pd  # noqa: PLC0415
    from zipline import api, run_algorithm  # noqa: PLC0415
    from zipline.finance import commission, slippage  # noqa: PLC0415

    start = time.perf_counter()
    n = bars["timestamp"].n_unique()
    minute = _STATE["minute"]
    first, last = _sessions_of(_STATE["stamps"][:n], minute)
    n_assets = bars["asset"].n_unique()
    if kind == "cross":
        entry = (_wide(bars, "entry") > 0.0).tolist()
        exit_ = (_wide(bars, "exit") > 0.0).tolist()
    else:
        score = _wide(bars, "score")

    def initialize(context: Any) -> None:
        context.assets = [api.sid(i) for i in range(n_assets)]
        context.t = -1
        api.set_slippage(us_equities=slippage.FixedSlippage(spread=0.0))
        if kind == "cross":
            api.set_commission(us_equities=commission.PerShare(cost=0.0, min_trade_cost=0.0))
        else:
            api.set_commission(us_equities=commission.PerDollar(cost=COMMISSION))

    def handle_cross(context: Any, data: Any) -> None:
        context.t += 1
        t = context.t
        if t >= n:
            return  # minutes after the last bar of a partial session
        held = context.portfolio.positions
        go, stop = entry[t], exit_[t]
        for j, asset in enumerate(context.assets):
            pos = held[asset].amount if asset in held else 0
            if pos == 0:
                if go[j]:
                    api.order(asset, CROSS_SIZE)
            elif stop[j]:
                api.order(asset, -pos)

    def handle_longshort(context: Any, data: Any) -> None:
        context.t += 1
        t = context.t
        if t >= n:
            return
        order = np.argsort(score[t], kind="stable")
        weights = np.zeros(score.shape[1])
        weights[order[-D_SIDE:]] = D_WEIGHT
        weights[order[:D_SIDE]] = -D_WEIGHT
        for j, asset in enumerate(context.assets):
            api.order_target_percent(asset, float(weights[j]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perf = run_algorithm(
            start=pd.Timestamp(first),
            end=pd.Timestamp(last),
            initialize=initialize,
            handle_data=handle_cross if kind == "cross" else handle_longshort,
            capital_base=CASH,
            bundle=_STATE["bundle"],
            data_frequency="minute" if minute else "daily",
        )
    fills = sum(len(txs) for txs in perf["transactions"])
    equity = float(perf["portfolio_value"].iloc[-1])
    return {"seconds": time.perf_counter() - start, "fills": float(fills), "final_equity": equity}
