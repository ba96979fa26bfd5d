"""Everything a tearsheet shows, computed once from a result and shared by the HTML and PDF.

`TearsheetContent.from_result` reads the result's frames, computes the chart data with
`ml4t.backtest.reporting.analysis`, and downsamples long line series for display (LTTB, at most
`max_points` points per line). The result itself is never modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
import tomli_w

from ml4t.backtest.reporting import analysis
from ml4t.backtest.reporting.downsample import MAX_DISPLAY_POINTS, lttb_indices, stride_indices

__all__ = [
    "COLORS",
    "MONTH_NAMES",
    "HISTOGRAM_BINS",
    "TOP_CONTRIBUTORS",
    "Histogram",
    "Line",
    "TearsheetContent",
    "config_text",
    "format_metric",
    "align_benchmark",
]

COLORS: Final = {
    "strategy": "#1f5aa6",
    "benchmark": "#8c8c8c",
    "loss": "#c0392b",
    "gain": "#1e8449",
    "accent": "#d68910",
}
"""The tearsheet palette, shared by the HTML and PDF writers."""

MONTH_NAMES: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
"""Column labels of the monthly returns table."""

HISTOGRAM_BINS: Final = 50
"""Bins of the return and trade P&L histograms."""

TOP_CONTRIBUTORS: Final = 15
"""Assets shown at each end (best and worst) of the per-asset contribution chart."""

_PERCENT_HINTS: Final = (
    "return",
    "drawdown",
    "cagr",
    "volatility",
    "vol",
    "rate",
    "pct",
    "exposure",
    "turnover",
    "win",
    "value_at_risk",
    "time_in_market",
)
_COUNT_HINTS: Final = ("trades", "count", "bars", "days", "orders", "fills", "n_")
_MONEY_HINTS: Final = (
    "pnl",
    "equity",
    "cash",
    "cost",
    "commission",
    "slippage",
    "borrow",
    "expectancy",
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Line:
    """One display line: x as ISO text (UTC) and y values, already downsampled."""

    x: list[str]
    y: FloatArray
    name: str = ""


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts per bin; ``edges`` has one more entry than ``counts``."""

    edges: FloatArray
    counts: npt.NDArray[np.int64]

    @property
    def centers(self) -> FloatArray:
        """Return the middle of each bin."""
        return np.asarray((self.edges[:-1] + self.edges[1:]) / 2.0, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class TearsheetContent:
    """The data of every tearsheet section (see module docs).

    Attributes:
        title: Report title.
        subtitle: Period, number of bars and assets.
        metrics: (label, formatted value) pairs of the headline table.
        equity: Strategy equity line.
        benchmark: Benchmark scaled to the starting equity, or None.
        drawdown: Underwater line (fractions, <= 0).
        monthly: Year x month return table (`analysis.monthly_returns_table`).
        yearly: ``year, return`` frame.
        rolling_window: Bars in the rolling window.
        rolling_sharpe: Rolling annualised Sharpe line.
        rolling_volatility: Rolling annualised volatility line.
        exposure: Gross, net (fractions of equity) and leverage lines.
        return_histogram: Per-bar returns.
        trade_histogram: Trade net P&L.
        trade_scatter: ``mae, mfe, net_pnl, asset`` of up to `max_points` trades.
        trade_count: Number of trades in the result.
        costs: Cost totals by category (`analysis.COST_NAMES`).
        drawdowns: Top drawdown episodes (`analysis.top_drawdowns`).
        contribution: Best and worst assets by P&L (``asset, pnl``), best first.
        asset_count: Number of assets with P&L.
        config: The configuration as TOML text.
        provenance: (label, value) pairs: data fingerprint, versions, when saved.
    """

    title: str
    subtitle: str
    metrics: list[tuple[str, str]]
    equity: Line
    benchmark: Line | None
    drawdown: Line
    monthly: pl.DataFrame
    yearly: pl.DataFrame
    rolling_window: int
    rolling_sharpe: Line
    rolling_volatility: Line
    exposure: list[Line]
    return_histogram: Histogram
    trade_histogram: Histogram
    trade_scatter: pl.DataFrame
    trade_count: int
    costs: dict[str, float]
    drawdowns: pl.DataFrame
    contribution: pl.DataFrame
    asset_count: int
    config: str
    provenance: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_result(
        cls,
        result: Any,
        *,
        benchmark: pl.DataFrame | None = None,
        title: str | None = None,
        max_points: int = MAX_DISPLAY_POINTS,
    ) -> TearsheetContent:
        """Compute the content of a tearsheet for `result`.

        Args:
            result: A `BacktestResult` or a loaded result (frames, metrics, config).
            benchmark: Optional frame with ``timestamp`` and one price/value column (``close``,
                ``price``, ``value`` or ``equity``, else the only other numeric column).
            title: Report title; default "Backtest tearsheet".
            max_points: Most points drawn per line.

        Returns:
            The content, ready for the HTML or PDF writer.
        """
        equity_curve: pl.DataFrame = result.equity_curve
        if equity_curve.height == 0:
            from ml4t.backtest.core.errors import ConfigError  # noqa: PLC0415

            raise ConfigError(
                "cannot render a tearsheet: the result's equity_curve is empty (the run "
                "recorded no bars); check the data range of the run"
            )
        timestamps = analysis._utc_timestamps(equity_curve)
        x_text = _iso_text(timestamps)
        x_num = timestamps.cast(pl.Int64).to_numpy().astype(np.float64)
        equity = analysis.equity_values(equity_curve)
        returns = analysis.bar_returns(equity_curve)
        ppy = analysis.periods_per_year(timestamps)

        def line(values: FloatArray, name: str) -> Line:
            idx = lttb_indices(x_num, values, max_points)
            return Line([x_text[i] for i in idx], values[idx], name)

        bench_line: Line | None = None
        bench_metrics: list[tuple[str, str]] = []
        if benchmark is not None:
            bench = align_benchmark(benchmark, timestamps, float(equity[0]))
            bench_line = line(bench, "benchmark")
            bench_ret = float(bench[-1] / bench[0] - 1.0)
            bench_metrics = [
                ("Benchmark total return", format_metric("total_return", bench_ret)),
                (
                    "Excess total return",
                    format_metric("total_return", float(equity[-1] / equity[0] - 1.0) - bench_ret),
                ),
            ]

        window = max(20, min(round(ppy / 2.0), max(2, equity.size // 4)))
        sharpe = analysis.rolling_sharpe(returns, window, ppy)
        vol = analysis.rolling_volatility(returns, window, ppy)
        exposures = analysis.exposure(equity_curve)
        exp_lines: list[Line] = []
        if exposures:
            key = "gross" if "gross" in exposures else next(iter(exposures))
            idx = lttb_indices(x_num, exposures[key], max_points)
            exp_lines = [
                Line([x_text[i] for i in idx], values[idx], name)
                for name, values in exposures.items()
            ]

        trades: pl.DataFrame = result.trades
        fills: pl.DataFrame = result.fills
        metrics_map: Mapping[str, Any] = dict(result.metrics or {})
        scatter = _trade_scatter(trades, max_points)
        contribution = analysis.asset_contribution(
            fills, result.positions, trades, end=timestamps[-1]
        )
        metrics = [(_label(k), format_metric(k, v)) for k, v in metrics_map.items()]
        if not metrics:
            metrics = [
                (_label(k), format_metric(k, v))
                for k, v in analysis.summary_metrics(equity_curve).items()
            ]
        metrics.extend(bench_metrics)
        n_assets = contribution.height
        return cls(
            title=title or "Backtest tearsheet",
            subtitle=(
                f"{x_text[0]} to {x_text[-1]} · {equity.size:,} bars · "
                f"{n_assets:,} assets traded · {trades.height:,} trades"
            ),
            metrics=metrics,
            equity=line(equity, "strategy"),
            benchmark=bench_line,
            drawdown=line(analysis.drawdown(equity), "drawdown"),
            monthly=analysis.monthly_returns_table(equity_curve),
            yearly=analysis.period_returns(equity_curve, "1y").select("year", "return"),
            rolling_window=window,
            rolling_sharpe=line(sharpe, "rolling Sharpe"),
            rolling_volatility=line(vol, "rolling volatility"),
            exposure=exp_lines,
            return_histogram=_histogram(returns[1:]),
            trade_histogram=_histogram(_column(trades, "net_pnl")),
            trade_scatter=scatter,
            trade_count=trades.height,
            costs=analysis.cost_breakdown(fills, equity_curve, metrics_map),
            drawdowns=analysis.top_drawdowns(equity_curve, 5),
            contribution=_ends(contribution, TOP_CONTRIBUTORS),
            asset_count=n_assets,
            config=config_text(result.config),
            provenance=_provenance(result),
        )


def format_metric(name: str, value: Any) -> str:
    """Format a metric for display: percentages, counts and money by the metric's name.

    Example:
        >>> format_metric("total_return", 0.1234), format_metric("trades", 42.0)
        ('12.34%', '42')
        >>> format_metric("sharpe", 1.23456), format_metric("sortino", float("nan"))
        ('1.235', 'n/a')
        >>> format_metric("net_pnl", 12345.678)
        '12,345.68'
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    key = name.lower()
    if any(hint in key for hint in _COUNT_HINTS) and number.is_integer():
        return f"{int(number):,}"
    if any(hint in key for hint in _MONEY_HINTS):
        return f"{number:,.2f}"
    if any(hint in key for hint in _PERCENT_HINTS):
        return f"{number:.2%}"
    return f"{number:.4g}"


def config_text(config: Any) -> str:
    """Return the configuration as TOML text (None values left out; TOML has no null).

    Example:
        >>> print(config_text({"initial_cash": 1e6, "benchmark": None}))
        initial_cash = 1000000.0
        <BLANKLINE>
    """
    if config is None:
        return "# no configuration recorded"
    to_toml = getattr(config, "to_toml", None)
    if callable(to_toml):
        text = to_toml()
        if isinstance(text, str):
            return text
    dump = getattr(config, "model_dump", None)
    data = dump(mode="json") if callable(dump) else dict(config)
    return tomli_w.dumps(_strip_none(data))


def align_benchmark(
    benchmark: pl.DataFrame, timestamps: pl.Series, start_value: float
) -> FloatArray:
    """Return the benchmark on the strategy's timestamps, scaled to start at `start_value`.

    Each strategy bar takes the latest benchmark value at or before it (as-of join); bars before
    the first benchmark value take that first value.

    Example:
        >>> import datetime as dt
        >>> ts = pl.Series([dt.datetime(2020, 1, d) for d in (1, 2, 3)]).dt.replace_time_zone("UTC")
        >>> bench = pl.DataFrame({"timestamp": ts[:2], "close": [50.0, 55.0]})
        >>> align_benchmark(bench, ts, 100.0).tolist()
        [100.0, 110.0, 110.0]
    """
    column = _value_column(benchmark)
    frame = pl.DataFrame({"timestamp": analysis._utc_timestamps(benchmark), "v": benchmark[column]})
    frame = frame.drop_nulls().sort("timestamp")
    if frame.height == 0:
        from ml4t.backtest.core.errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"benchmark column {column!r} holds no values; pass a non-empty series")
    left = pl.DataFrame({"timestamp": timestamps.dt.cast_time_unit("ns")})
    joined = left.join_asof(frame, on="timestamp", strategy="backward")
    first = float(frame.get_column("v")[0])
    values = joined.get_column("v").cast(pl.Float64).fill_null(first).to_numpy().astype(np.float64)
    return np.asarray(values * (start_value / values[0]), dtype=np.float64)


# --- helpers -------------------------------------------------------------------------------


def _value_column(benchmark: pl.DataFrame) -> str:
    if "timestamp" not in benchmark.columns:
        from ml4t.backtest.core.errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"benchmark needs a 'timestamp' column; columns were {benchmark.columns}")
    for name in ("close", "price", "value", "equity"):
        if name in benchmark.columns:
            return name
    numeric = [c for c, t in benchmark.schema.items() if c != "timestamp" and t.is_numeric()]
    if len(numeric) == 1:
        return numeric[0]
    from ml4t.backtest.core.errors import ConfigError  # noqa: PLC0415

    raise ConfigError(
        "benchmark needs one value column named close, price, value or equity; numeric columns "
        f"were {numeric}"
    )


def _iso_text(timestamps: pl.Series) -> list[str]:
    # Daily bars stamped at one time of day show as dates; intraday bars keep the time.
    times = timestamps.dt.time().unique()
    fmt = "%Y-%m-%d" if times.len() == 1 else "%Y-%m-%d %H:%M:%S"
    return timestamps.dt.strftime(fmt).to_list()


def _column(frame: pl.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns or frame.height == 0:
        return np.empty(0, dtype=np.float64)
    values = frame.get_column(name).cast(pl.Float64).drop_nulls().to_numpy()
    return np.asarray(values[np.isfinite(values)], dtype=np.float64)


def _histogram(values: FloatArray) -> Histogram:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Histogram(np.array([0.0, 1.0]), np.zeros(1, dtype=np.int64))
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS, range=(lo, hi))
    return Histogram(edges.astype(np.float64), counts.astype(np.int64))


def _trade_scatter(trades: pl.DataFrame, max_points: int) -> pl.DataFrame:
    columns = ["mae", "mfe", "net_pnl", "asset"]
    if trades.height == 0 or not set(columns) <= set(trades.columns):
        return pl.DataFrame(
            schema={"mae": pl.Float64, "mfe": pl.Float64, "net_pnl": pl.Float64, "asset": pl.String}
        )
    frame = trades.select(
        pl.col("mae").cast(pl.Float64),
        pl.col("mfe").cast(pl.Float64),
        pl.col("net_pnl").cast(pl.Float64),
        pl.col("asset").cast(pl.String),
    )
    idx = stride_indices(frame.height, max(2, max_points))
    return frame[idx.tolist()] if idx.size < frame.height else frame


def _ends(contribution: pl.DataFrame, n: int) -> pl.DataFrame:
    if contribution.height <= 2 * n:
        return contribution
    return pl.concat([contribution.head(n), contribution.tail(n)])


_ACRONYMS: Final = {"cagr": "CAGR", "mae": "MAE", "mfe": "MFE", "var": "VaR", "cvar": "CVaR"}


def _label(name: str) -> str:
    words = name.replace("_", " ").strip().split(" ")
    text = " ".join(_ACRONYMS.get(w.lower(), w) for w in words)
    return text[:1].upper() + text[1:]


def _strip_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_strip_none(v) for v in value if v is not None]
    return value


def _provenance(result: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    data = getattr(result, "data", None)
    as_dict = getattr(data, "as_dict", None)
    if callable(as_dict):
        data = as_dict()
    if isinstance(data, Mapping) and data:
        if data.get("hash"):
            out.append(("Data fingerprint", str(data["hash"])))
        if data.get("start"):
            out.append(("Data range", f"{data.get('start')} to {data.get('end')}"))
        assets = list(data.get("assets", []))
        if assets:
            shown = ", ".join(str(a) for a in assets[:12])
            more = f" (+{len(assets) - 12} more)" if len(assets) > 12 else ""
            out.append(("Assets", f"{len(assets)}: {shown}{more}"))
    metadata = getattr(result, "metadata", None)
    versions = getattr(result, "versions", None)
    if isinstance(metadata, Mapping):
        for key in ("strategy", "created", "path"):
            if metadata.get(key):
                out.append((_label(key), str(metadata[key])))
        versions = versions or metadata.get("versions")
    if isinstance(versions, Mapping) and versions:
        out.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    return out
