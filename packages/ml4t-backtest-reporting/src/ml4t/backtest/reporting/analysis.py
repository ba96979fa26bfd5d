"""The numbers behind the tearsheet charts, computed from a result's frames.

Every function takes polars frames with the columns of docs/architecture/0002-layer-contracts.md
and returns plain numbers, numpy arrays or polars frames, so each chart's data can be checked by
hand. Conventions:

* Drawdown is ``equity / running_max(equity) - 1`` (0 at a new high, negative below it).
* Period returns chain the equity at the end of each calendar period; the first period is
  measured from the equity of the first bar.
* Annualisation uses the observed bar frequency: ``bars / years spanned`` (about 252 for daily
  US equity data), so intraday and weekly results annualise correctly too.
* Sharpe ratios are computed with a zero risk-free rate and the sample standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "COST_NAMES",
    "DEFAULT_PERIODS_PER_YEAR",
    "equity_values",
    "bar_returns",
    "periods_per_year",
    "drawdown",
    "top_drawdowns",
    "period_returns",
    "monthly_returns_table",
    "rolling_sharpe",
    "rolling_volatility",
    "exposure",
    "cost_breakdown",
    "asset_contribution",
    "summary_metrics",
]

DEFAULT_PERIODS_PER_YEAR: Final = 252.0
"""Used when the result spans too little time to measure its bar frequency (under 30 days)."""

COST_NAMES: Final = ("commission", "slippage", "impact", "borrow")
"""The cost categories of `cost_breakdown`, in display order."""

_NS_PER_YEAR: Final = 365.25 * 86_400 * 1_000_000_000
_MIN_SPAN_NS: Final = 30 * 86_400 * 1_000_000_000

FloatArray = npt.NDArray[np.float64]


def equity_values(equity_curve: pl.DataFrame) -> FloatArray:
    """Return the equity column as a float64 array (empty when the frame is empty).

    Example:
        >>> equity_values(pl.DataFrame({"equity": [100, 110]})).tolist()
        [100.0, 110.0]
    """
    if equity_curve.height == 0 or "equity" not in equity_curve.columns:
        return np.empty(0, dtype=np.float64)
    values = equity_curve.get_column("equity").cast(pl.Float64).to_numpy()
    return np.asarray(values, dtype=np.float64)


def bar_returns(equity_curve: pl.DataFrame) -> FloatArray:
    """Return per-bar simple returns; the `returns` column when present, else from equity.

    The first bar has no previous equity; its return is 0.

    Example:
        >>> bar_returns(pl.DataFrame({"equity": [100.0, 110.0, 99.0]})).round(6).tolist()
        [0.0, 0.1, -0.1]
    """
    if "returns" in equity_curve.columns:
        out = equity_curve.get_column("returns").cast(pl.Float64).fill_null(0.0).to_numpy()
        return np.asarray(np.nan_to_num(out.astype(np.float64), nan=0.0), dtype=np.float64)
    equity = equity_values(equity_curve)
    if equity.size == 0:
        return equity
    out = np.zeros_like(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = equity[1:] / equity[:-1] - 1.0
    return np.asarray(np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float64)


def periods_per_year(timestamps: pl.Series) -> float:
    """Return the number of bars per year observed in `timestamps`.

    Counts the intervals between bars and divides by the years they span. Below 30 days of data
    the frequency is not measurable and `DEFAULT_PERIODS_PER_YEAR` is returned.

    Example:
        >>> import datetime as dt
        >>> days = pl.Series([dt.datetime(2020, 1, 1) + dt.timedelta(days=i) for i in range(366)])
        >>> round(periods_per_year(days), 2)
        365.25
    """
    if timestamps.len() < 2:
        return DEFAULT_PERIODS_PER_YEAR
    ns = timestamps.cast(pl.Datetime("ns")).cast(pl.Int64)
    span = float(ns.max()) - float(ns.min())  # type: ignore[arg-type]
    if span < _MIN_SPAN_NS:
        return DEFAULT_PERIODS_PER_YEAR
    return (timestamps.len() - 1) / (span / _NS_PER_YEAR)


def drawdown(equity: FloatArray) -> FloatArray:
    """Return ``equity / running_max(equity) - 1`` for each bar.

    Example:
        >>> drawdown(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
        [0.0, 0.0, -0.25, 0.0]
    """
    if equity.size == 0:
        return equity.copy()
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = equity / peak - 1.0
    return np.nan_to_num(out, nan=0.0)


def top_drawdowns(equity_curve: pl.DataFrame, n: int = 5) -> pl.DataFrame:
    """Return the `n` deepest drawdown episodes, deepest first.

    An episode starts at a peak, reaches its trough, and ends at the first bar back at or above
    that peak (``recovery`` is null when the result ends under water).

    Returns:
        Columns ``rank, peak, trough, recovery, depth, bars_to_trough, bars_underwater``;
        ``depth`` is negative (``-0.25`` is a 25% fall); ``bars_underwater`` counts bars from the
        peak to the recovery (or to the last bar).

    Example:
        >>> import datetime as dt
        >>> ts = [dt.datetime(2020, 1, d) for d in range(1, 8)]
        >>> eq = pl.DataFrame({"timestamp": ts, "equity": [100., 90., 100., 110., 88., 99., 105.]})
        >>> dd = top_drawdowns(eq, 2).select("depth", "bars_to_trough", "bars_underwater")
        >>> dd.with_columns(pl.col("depth").round(6)).rows()
        [(-0.2, 1, 3), (-0.1, 1, 2)]
    """
    schema: dict[str, pl.DataType] = {
        "rank": pl.Int64(),
        "peak": pl.Datetime("ns", "UTC"),
        "trough": pl.Datetime("ns", "UTC"),
        "recovery": pl.Datetime("ns", "UTC"),
        "depth": pl.Float64(),
        "bars_to_trough": pl.Int64(),
        "bars_underwater": pl.Int64(),
    }
    equity = equity_values(equity_curve)
    if equity.size < 2:
        return pl.DataFrame(schema=schema)
    timestamps = _utc_timestamps(equity_curve)
    dd = drawdown(equity)
    under = dd < 0.0
    # Episodes are maximal runs of bars under water; the bar before a run is its peak.
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # first bar back at the peak, or len(equity)
    rows: list[dict[str, Any]] = []
    for start, end in zip(starts, ends, strict=True):
        peak = int(start) - 1
        trough = peak + 1 + int(np.argmin(dd[start:end]))
        recovered = int(end) < equity.size
        rows.append(
            {
                "peak": timestamps[peak],
                "trough": timestamps[trough],
                "recovery": timestamps[int(end)] if recovered else None,
                "depth": float(dd[trough]),
                "bars_to_trough": trough - peak,
                "bars_underwater": (int(end) if recovered else equity.size - 1) - peak,
            }
        )
    rows.sort(key=lambda row: row["depth"])
    for rank, row in enumerate(rows[:n], start=1):
        row["rank"] = rank
    return pl.DataFrame(rows[:n], schema=schema) if rows else pl.DataFrame(schema=schema)


def period_returns(equity_curve: pl.DataFrame, every: str = "1mo") -> pl.DataFrame:
    """Return compounded returns per calendar period (``"1mo"``, ``"1y"``, ...; UTC calendar).

    Returns:
        Columns ``period`` (start of the period, Datetime UTC), ``year``, ``month`` and
        ``return``; the first period is measured from the equity of the first bar.

    Example:
        >>> import datetime as dt
        >>> ts = [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 31), dt.datetime(2020, 2, 28)]
        >>> eq = pl.DataFrame({"timestamp": ts, "equity": [100.0, 110.0, 99.0]})
        >>> period_returns(eq)["return"].round(6).to_list()
        [0.1, -0.1]
    """
    schema: dict[str, pl.DataType] = {
        "period": pl.Datetime("ns", "UTC"),
        "year": pl.Int32(),
        "month": pl.Int8(),
        "return": pl.Float64(),
    }
    if equity_curve.height == 0:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(
        {"timestamp": _utc_timestamps(equity_curve), "equity": equity_values(equity_curve)}
    )
    first = float(frame.get_column("equity")[0])
    ends = (
        frame.group_by_dynamic("timestamp", every=every)
        .agg(pl.col("equity").last().alias("end"))
        .rename({"timestamp": "period"})
    )
    return ends.select(
        pl.col("period"),
        pl.col("period").dt.year().cast(pl.Int32).alias("year"),
        pl.col("period").dt.month().cast(pl.Int8).alias("month"),
        (pl.col("end") / pl.col("end").shift(1, fill_value=first) - 1.0).alias("return"),
    )


def monthly_returns_table(equity_curve: pl.DataFrame) -> pl.DataFrame:
    """Return a year x month table of monthly returns plus the compounded year (``year`` column).

    Returns:
        Columns ``year``, ``1`` .. ``12`` (null for months without data) and ``total``.

    Example:
        >>> import datetime as dt
        >>> ts = [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 31), dt.datetime(2020, 2, 28)]
        >>> eq = pl.DataFrame({"timestamp": ts, "equity": [100.0, 110.0, 99.0]})
        >>> table = monthly_returns_table(eq).select("year", "1", "2", "total")
        >>> table.with_columns(pl.exclude("year").round(6)).rows()
        [(2020, 0.1, -0.1, -0.01)]
    """
    months = period_returns(equity_curve, "1mo")
    columns = [str(m) for m in range(1, 13)]
    if months.height == 0:
        return pl.DataFrame(
            schema={"year": pl.Int32, **dict.fromkeys(columns, pl.Float64), "total": pl.Float64}
        )
    wide = months.pivot(on="month", index="year", values="return", sort_columns=True)
    wide = wide.rename({c: str(c) for c in wide.columns if c != "year"})
    for column in columns:
        if column not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    totals = months.group_by("year").agg(((pl.col("return") + 1.0).product() - 1.0).alias("total"))
    return wide.select("year", *columns).join(totals, on="year").sort("year")


def rolling_sharpe(returns: FloatArray, window: int, periods: float) -> FloatArray:
    """Return the annualised rolling Sharpe ratio (NaN until `window` bars, or when flat).

    ``mean(r) / std(r, ddof=1) * sqrt(periods)`` over each trailing window.

    Example:
        >>> r = np.array([0.01, -0.01, 0.02, 0.0])
        >>> rolling_sharpe(r, 3, 252.0).round(4).tolist()[2:]
        [6.9282, 3.4641]
    """
    series = pl.Series(returns)
    mean = series.rolling_mean(window)
    std = series.rolling_std(window, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (mean / std).to_numpy().astype(np.float64) * math.sqrt(periods)
    out[~np.isfinite(out)] = np.nan
    return out


def rolling_volatility(returns: FloatArray, window: int, periods: float) -> FloatArray:
    """Return the annualised rolling volatility ``std(r, ddof=1) * sqrt(periods)``.

    Example:
        >>> rolling_volatility(np.array([0.01, -0.01, 0.01]), 2, 4.0).round(4).tolist()[1:]
        [0.0283, 0.0283]
    """
    std = pl.Series(returns).rolling_std(window, ddof=1).to_numpy().astype(np.float64)
    return np.asarray(std * math.sqrt(periods), dtype=np.float64)


def exposure(equity_curve: pl.DataFrame) -> dict[str, FloatArray]:
    """Return gross and net exposure as fractions of equity, and leverage, per bar.

    Exposures in the equity curve are in account currency; leverage is taken from its column
    when present, else gross exposure / equity.

    Example:
        >>> eq = pl.DataFrame({"equity": [100.0, 200.0], "gross_exposure": [50.0, 300.0],
        ...                    "net_exposure": [50.0, -100.0]})
        >>> {k: v.tolist() for k, v in exposure(eq).items()}
        {'gross': [0.5, 1.5], 'net': [0.5, -0.5], 'leverage': [0.5, 1.5]}
    """
    equity = equity_values(equity_curve)
    out: dict[str, FloatArray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for key, column in (("gross", "gross_exposure"), ("net", "net_exposure")):
            if column in equity_curve.columns:
                values = equity_curve.get_column(column).cast(pl.Float64).to_numpy()
                out[key] = np.nan_to_num(values / equity, nan=0.0, posinf=0.0, neginf=0.0)
    if "leverage" in equity_curve.columns:
        out["leverage"] = equity_curve.get_column("leverage").cast(pl.Float64).to_numpy()
    elif "gross" in out:
        out["leverage"] = np.abs(out["gross"])
    return out


def cost_breakdown(
    fills: pl.DataFrame, equity_curve: pl.DataFrame, metrics: Mapping[str, Any]
) -> dict[str, float]:
    """Return total costs by category in account currency, in `COST_NAMES` order.

    Commission, slippage and impact are summed over the fills. Borrow cost comes from a
    ``borrow_cost`` (or ``borrow``) column of the equity curve (per-bar amounts), else from a
    ``borrow_cost`` metric, else 0.

    Example:
        >>> fills = pl.DataFrame({"commission": [1.0, 2.0], "slippage": [0.5, 0.5]})
        >>> cost_breakdown(fills, pl.DataFrame(), {"borrow_cost": 3.0})
        {'commission': 3.0, 'slippage': 1.0, 'impact': 0.0, 'borrow': 3.0}
    """
    out = dict.fromkeys(COST_NAMES, 0.0)
    for name in ("commission", "slippage", "impact"):
        if name in fills.columns:
            out[name] = float(fills.get_column(name).cast(pl.Float64).fill_nan(0.0).sum())
    for column in ("borrow_cost", "borrow"):
        if column in equity_curve.columns:
            out["borrow"] = float(equity_curve.get_column(column).cast(pl.Float64).sum())
            break
    else:
        value = metrics.get("borrow_cost")
        if isinstance(value, int | float) and math.isfinite(value):
            out["borrow"] = float(value)
    return out


def asset_contribution(
    fills: pl.DataFrame,
    positions: pl.DataFrame,
    trades: pl.DataFrame,
    *,
    end: Any = None,
) -> pl.DataFrame:
    """Return each asset's profit and loss in account currency, largest first.

    With fills, ``pnl = final market value - sum(signed quantity * price * multiplier) -
    sum(commission)``: slippage and impact are inside the fill price, and the final market value
    is the asset's value in `positions` at `end` (0 when it has no row there: positions list only
    non-zero holdings). Without fills, the closed trades' ``net_pnl`` is summed. Dividends and
    borrow are not allocated.

    Args:
        fills: The result's fills.
        positions: The result's positions (long format).
        trades: The result's trades (used only when there are no fills).
        end: The run's last timestamp (the equity curve's last); default: the last timestamp
            in `positions`.

    Returns:
        Columns ``asset`` and ``pnl``, sorted by ``pnl`` descending.

    Example:
        >>> fills = pl.DataFrame({"asset": ["A", "A", "B"], "side": [1, -1, 1],
        ...     "quantity": [10.0, 10.0, 5.0], "price": [100.0, 110.0, 20.0],
        ...     "commission": [1.0, 1.0, 0.5]})
        >>> pos = pl.DataFrame({"timestamp": [1, 2], "asset": ["B", "B"],
        ...                     "market_value": [100.0, 90.0]})
        >>> asset_contribution(fills, pos, pl.DataFrame()).rows()
        [('A', 98.0), ('B', -10.5)]
    """
    schema: dict[str, pl.DataType] = {"asset": pl.String(), "pnl": pl.Float64()}
    if fills.height and {"asset", "side", "quantity", "price"} <= set(fills.columns):
        multiplier = pl.col("multiplier") if "multiplier" in fills.columns else pl.lit(1.0)
        commission = pl.col("commission") if "commission" in fills.columns else pl.lit(0.0)
        flows = fills.group_by(pl.col("asset").cast(pl.String)).agg(
            (pl.col("side").cast(pl.Float64) * pl.col("quantity") * pl.col("price") * multiplier)
            .sum()
            .alias("spent"),
            commission.cast(pl.Float64).sum().alias("commission"),
        )
        if positions.height and {"timestamp", "asset", "market_value"} <= set(positions.columns):
            stamp = pl.col("timestamp").max() if end is None else pl.lit(end)
            last = positions.filter(pl.col("timestamp") == stamp)
            final = last.group_by(pl.col("asset").cast(pl.String)).agg(
                pl.col("market_value").cast(pl.Float64).sum().alias("final")
            )
            flows = flows.join(final, on="asset", how="full", coalesce=True)
        else:
            flows = flows.with_columns(pl.lit(0.0).alias("final"))
        out = flows.select(
            "asset",
            (
                pl.col("final").fill_null(0.0)
                - pl.col("spent").fill_null(0.0)
                - pl.col("commission").fill_null(0.0)
            ).alias("pnl"),
        )
        return out.sort(["pnl", "asset"], descending=[True, False]).cast(schema)  # type: ignore[arg-type]
    if trades.height and {"asset", "net_pnl"} <= set(trades.columns):
        out = trades.group_by(pl.col("asset").cast(pl.String)).agg(
            pl.col("net_pnl").cast(pl.Float64).sum().alias("pnl")
        )
        return out.sort(["pnl", "asset"], descending=[True, False])
    return pl.DataFrame(schema=schema)


def summary_metrics(equity_curve: pl.DataFrame) -> dict[str, float]:
    """Return headline figures computed from the equity curve alone.

    Used when a result carries no metrics (and to label charts): ``total_return``, ``cagr``,
    ``annual_volatility``, ``sharpe``, ``max_drawdown``.

    Example:
        >>> import datetime as dt
        >>> ts = [dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)]
        >>> m = summary_metrics(pl.DataFrame({"timestamp": ts, "equity": [100.0, 121.0]}))
        >>> round(m["total_return"], 4), round(m["max_drawdown"], 4)
        (0.21, 0.0)
    """
    equity = equity_values(equity_curve)
    if equity.size < 2:
        return {}
    returns = bar_returns(equity_curve)[1:]
    timestamps = _utc_timestamps(equity_curve)
    ppy = periods_per_year(timestamps)
    ns = timestamps.cast(pl.Int64)
    years = (float(ns[-1]) - float(ns[0])) / _NS_PER_YEAR
    total = float(equity[-1] / equity[0] - 1.0)
    std = float(np.std(returns, ddof=1)) if returns.size > 1 else math.nan
    return {
        "total_return": total,
        "cagr": (1.0 + total) ** (1.0 / years) - 1.0 if years > 0 and total > -1 else math.nan,
        "annual_volatility": std * math.sqrt(ppy),
        "sharpe": float(np.mean(returns)) / std * math.sqrt(ppy) if std > 0 else math.nan,
        "max_drawdown": float(drawdown(equity).min()),
    }


def _utc_timestamps(frame: pl.DataFrame) -> pl.Series:
    # The contract's timestamps are Datetime[ns, UTC]; naive ones are taken to be UTC.
    ts = frame.get_column("timestamp")
    if ts.dtype == pl.Int64:
        return ts.cast(pl.Datetime("ns", "UTC"))
    if isinstance(ts.dtype, pl.Datetime):
        ts = ts.dt.cast_time_unit("ns")
        if getattr(ts.dtype, "time_zone", None) is None:
            return ts.dt.replace_time_zone("UTC")
        return ts.dt.convert_time_zone("UTC")
    return ts.cast(pl.Datetime("ns", "UTC"))
