"""Compare runs: their metrics side by side, and their equity curves on one chart.

Example:
    >>> from ml4t.backtest.reporting.synthetic import synthetic_result
    >>> table = compare([synthetic_result(4, 60, seed=1), synthetic_result(4, 60, seed=2)])
    >>> table.columns
    ['metric', 'run 1', 'run 2']
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
import polars as pl
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.reporting import analysis
from ml4t.backtest.reporting.content import format_metric
from ml4t.backtest.reporting.downsample import MAX_DISPLAY_POINTS, lttb_indices

__all__ = ["SUMMARY_KEYS", "compare", "result_name", "write_comparison"]

SUMMARY_KEYS: Final = ("total_return", "cagr", "annual_volatility", "sharpe", "max_drawdown")
"""Figures computed from the equity curve for every run, so that runs always share them."""

_PALETTE: Final = (
    "#1f5aa6",
    "#d68910",
    "#1e8449",
    "#c0392b",
    "#7d3c98",
    "#17a589",
    "#566573",
    "#b7950b",
)


def result_name(result: Any, position: int) -> str:
    """Return a label for `result`: its saved directory's name, else ``run <position>``.

    Example:
        >>> result_name(object(), 3)
        'run 3'
    """
    path = getattr(result, "path", None)
    if path:
        return Path(path).name
    metadata = getattr(result, "metadata", None)
    if isinstance(metadata, dict) and metadata.get("path"):
        return Path(str(metadata["path"])).name
    return f"run {position}"


def compare(results: Sequence[Any], *, names: Sequence[str] | None = None) -> pl.DataFrame:
    """Return the runs' metrics side by side: one row per metric, one column per run.

    The figures of `SUMMARY_KEYS` come first, computed from each equity curve the same way for
    every run (`analysis.summary_metrics`); then every metric the results carry, in order of
    first appearance (null where a run lacks it). A metric a run carries under a summary key
    replaces the computed one.

    Args:
        results: Two or more results (live or loaded).
        names: Column labels; default from `result_name`. Must be unique.

    Raises:
        ConfigError: Fewer than one result, or `names` of the wrong length or not unique.
    """
    if not results:
        raise ConfigError("compare() needs at least one result; pass a list of results")
    labels = list(names) if names is not None else _unique_names(results)
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise ConfigError(
            f"compare() needs one unique name per result; names were {labels} for "
            f"{len(results)} results"
        )
    per_run: list[dict[str, Any]] = []
    order: list[str] = list(SUMMARY_KEYS)
    for result in results:
        values: dict[str, Any] = dict(analysis.summary_metrics(result.equity_curve))
        for key, value in dict(result.metrics or {}).items():
            values[key] = value
            if key not in order:
                order.append(key)
        per_run.append(values)
    columns: dict[str, Any] = {"metric": order}
    for label, values in zip(labels, per_run, strict=True):
        columns[label] = [_as_float(values.get(key)) for key in order]
    schema: dict[str, pl.DataType] = {"metric": pl.String()}
    schema.update({label: pl.Float64() for label in labels})
    return pl.DataFrame(columns, schema=schema)


def write_comparison(
    results: Sequence[Any],
    path: str | Path,
    *,
    names: Sequence[str] | None = None,
    max_points: int = MAX_DISPLAY_POINTS,
) -> Path:
    """Write a self-contained HTML page: the `compare` table and overlaid equity and drawdown.

    Equity is shown as growth of 1 (each curve divided by its first value) so runs with
    different capital line up.

    Example:
        >>> import tempfile
        >>> from ml4t.backtest.reporting.synthetic import synthetic_result
        >>> runs = [synthetic_result(4, 60, seed=s) for s in (1, 2)]
        >>> out = write_comparison(runs, Path(tempfile.mkdtemp()) / "cmp.html")
        >>> "chart-compare" in out.read_text()
        True
    """
    labels = list(names) if names is not None else _unique_names(results)
    table = compare(results, names=labels)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.65, 0.35]
    )
    for i, (label, result) in enumerate(zip(labels, results, strict=True)):
        equity_curve = result.equity_curve
        if equity_curve.height == 0:
            continue
        timestamps = analysis._utc_timestamps(equity_curve)
        equity = analysis.equity_values(equity_curve)
        growth = equity / equity[0]
        idx = lttb_indices(
            timestamps.cast(pl.Int64).to_numpy().astype(np.float64), growth, max_points
        )
        x = timestamps.dt.strftime("%Y-%m-%d %H:%M").gather(idx).to_list()
        color = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=growth[idx],
                name=label,
                mode="lines",
                line={"color": color, "width": 1.5},
                legendgroup=label,
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=analysis.drawdown(equity)[idx],
                name=label,
                mode="lines",
                line={"color": color, "width": 1.0},
                legendgroup=label,
                showlegend=False,
            ),
            2,
            1,
        )
    fig.update_yaxes(title_text="Growth of 1", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown", tickformat=".0%", row=2, col=1)
    fig.update_layout(
        template="plotly_white",
        height=620,
        hovermode="x unified",
        margin={"l": 60, "r": 30, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.05, "x": 0},
    )
    chart = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id="chart-compare",
        config={"displaylogo": False, "responsive": True},
        default_height="620px",
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.iter_rows():
        metric = str(row[0])
        cells = "".join(f"<td>{html.escape(format_metric(metric, v))}</td>" for v in row[1:])
        rows.append(f"<tr><td>{html.escape(metric)}</td>{cells}</tr>")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Run comparison'
        f'</title><script type="text/javascript">{get_plotlyjs()}</script><style>'
        "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#1c2833}"
        "table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;"
        "border-bottom:1px solid #e5e8e8;text-align:right}th:first-child,td:first-child"
        "{text-align:left}</style></head><body><h1>Run comparison</h1>"
        f"{chart}<h2>Metrics</h2><table><tr>{head}</tr>{''.join(rows)}</table></body></html>"
    )
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target


def _unique_names(results: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for i, result in enumerate(results, start=1):
        name = result_name(result, i)
        if name in names:
            name = f"{name} ({i})"
        names.append(name)
    return names


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
