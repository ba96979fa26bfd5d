"""Write a tearsheet as one self-contained, interactive HTML file (plotly).

The plotly.js library is embedded once, inline, in the page head; every chart is a plotly div
drawn from inline data. The page loads nothing from the network (no CDN, no fonts, no MathJax),
so it opens offline and can be archived or mailed as one file.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Final

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
import polars as pl
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from ml4t.backtest.reporting._version import __version__
from ml4t.backtest.reporting.content import (
    COLORS,
    MONTH_NAMES,
    Histogram,
    Line,
    TearsheetContent,
)

__all__ = ["CHART_IDS", "render_html", "write_html"]

CHART_IDS: Final = (
    "equity",
    "drawdown",
    "monthly-returns",
    "yearly-returns",
    "rolling",
    "exposure",
    "return-distribution",
    "trade-pnl",
    "mae-mfe",
    "costs",
    "contribution",
)
"""Ids of the chart divs (``chart-<id>``); a chart without data is replaced by a note."""

_PLOT_CONFIG: Final = {"displaylogo": False, "responsive": True}
_CSS: Final = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;background:#f4f6f9;color:#1c2833}
header{background:#1c2833;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#d5dbdb;font-size:13px}main{max-width:1280px;margin:0 auto;padding:16px}
section{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin:14px 0;
padding:12px 16px}h2{font-size:16px;margin:4px 0 8px}.grid{display:grid;
grid-template-columns:repeat(2,minmax(0,1fr));gap:14px}
@media (max-width:1000px){.grid{grid-template-columns:minmax(0,1fr)}}
.grid section{margin:0;min-width:0;overflow:hidden}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.tile{background:#f8f9fa;border-radius:4px;padding:8px 10px}.tile b{display:block;font-size:17px}
.tile span{font-size:12px;color:#566573}table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #e5e8e8;text-align:right}th:first-child,
td:first-child{text-align:left}pre{background:#f8f9fa;padding:10px;overflow:auto;font-size:12px;
max-height:420px}.note{color:#566573;font-size:13px;font-style:italic}
footer{color:#808b96;font-size:12px;text-align:center;padding:12px}
"""


def write_html(content: TearsheetContent, path: str | Path) -> Path:
    """Write the tearsheet page for `content` to `path` (UTF-8) and return the path.

    Example:
        >>> import tempfile
        >>> from ml4t.backtest.reporting.synthetic import synthetic_result
        >>> page = Path(tempfile.mkdtemp()) / "report.html"
        >>> out = write_html(TearsheetContent.from_result(synthetic_result(4, 60)), page)
        >>> text = out.read_text()
        >>> "<script src=" in text or "<link" in text  # nothing loaded from elsewhere
        False
    """
    target = Path(path)
    target.write_text(render_html(content), encoding="utf-8")
    return target


def render_html(content: TearsheetContent) -> str:
    """Return the full tearsheet page as a string (plotly.js inline, no external resources)."""
    esc = html.escape
    tiles = "".join(
        f'<div class="tile"><b>{esc(value)}</b><span>{esc(label)}</span></div>'
        for label, value in content.metrics
    )
    charts = {name: _chart_html(name, fig) for name, fig in _figures(content).items()}

    def chart(name: str, title: str, empty_note: str) -> str:
        body = charts.get(name) or f'<p class="note">{esc(empty_note)}</p>'
        return f"<section><h2>{esc(title)}</h2>{body}</section>"

    window = content.rolling_window
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(content.title)}</title>",
        f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<header><h1>{esc(content.title)}</h1><p>{esc(content.subtitle)}</p></header><main>",
        f'<section><h2>Summary</h2><div class="tiles">{tiles}</div></section>',
        chart("equity", "Equity", "No equity recorded."),
        chart("drawdown", "Underwater (drawdown from the running peak)", "No drawdown."),
        '<div class="grid">',
        chart("monthly-returns", "Monthly returns", "Too short for monthly returns."),
        chart("yearly-returns", "Yearly returns", "Too short for yearly returns."),
        "</div>",
        chart(
            "rolling",
            f"Rolling Sharpe and volatility ({window} bars, annualised)",
            "Too few bars for the rolling window.",
        ),
        chart("exposure", "Exposure and leverage", "No exposure columns in the result."),
        '<div class="grid">',
        chart("return-distribution", "Distribution of bar returns", "No returns."),
        chart("trade-pnl", "Trade P&L distribution", "No closed trades."),
        "</div>",
        '<div class="grid">',
        chart("mae-mfe", "Trade excursions (MAE vs MFE)", "No closed trades with MAE/MFE."),
        chart("costs", "Costs breakdown", "No costs."),
        "</div>",
        f"<section><h2>Top drawdowns</h2>{_drawdowns_table(content.drawdowns)}</section>",
        chart(
            "contribution",
            _contribution_title(content),
            "No per-asset P&L (the result has no fills or trades).",
        ),
        f"<section><h2>Configuration</h2><pre>{esc(content.config)}</pre>"
        f"{_provenance_table(content.provenance)}</section>",
        "</main>",
        f"<footer>ml4t-backtest-reporting {esc(__version__)} · charts drawn with plotly; "
        "long series are downsampled for display only</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


# --- figures -------------------------------------------------------------------------------


def _figures(content: TearsheetContent) -> dict[str, go.Figure]:
    figs: dict[str, go.Figure] = {}
    eq = go.Figure()
    eq.add_trace(_scatter(content.equity, "Strategy", COLORS["strategy"]))
    if content.benchmark is not None:
        eq.add_trace(_scatter(content.benchmark, "Benchmark", COLORS["benchmark"]))
    figs["equity"] = _layout(eq, yaxis_title="Equity", hovermode="x unified")

    dd = go.Figure(_scatter(content.drawdown, "Drawdown", COLORS["loss"], fill="tozeroy"))
    figs["drawdown"] = _layout(dd, yaxis_tickformat=".0%", height=280, showlegend=False)
    figs["drawdown"].update_layout(margin={"t": 36})

    if content.monthly.height:
        figs["monthly-returns"] = _monthly_heatmap(content.monthly)
    if content.yearly.height:
        years = content.yearly
        values = years.get_column("return").to_numpy()
        figs["yearly-returns"] = _layout(
            go.Figure(
                go.Bar(
                    x=[str(y) for y in years.get_column("year").to_list()],
                    y=values,
                    marker_color=_signed_colors(values),
                    texttemplate="%{y:.1%}",
                    hovertemplate="%{x}: %{y:.2%}<extra></extra>",
                )
            ),
            yaxis_tickformat=".0%",
            showlegend=False,
        )

    if np.isfinite(content.rolling_volatility.y).any():
        roll = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
        roll.add_trace(_scatter(content.rolling_sharpe, "Sharpe", COLORS["strategy"]), 1, 1)
        roll.add_trace(_scatter(content.rolling_volatility, "Volatility", COLORS["accent"]), 2, 1)
        roll.update_yaxes(title_text="Sharpe", row=1, col=1)
        roll.update_yaxes(title_text="Volatility", tickformat=".0%", row=2, col=1)
        figs["rolling"] = _layout(roll, height=420, hovermode="x unified")

    if content.exposure:
        expo = make_subplots(specs=[[{"secondary_y": True}]])
        colors = {"gross": COLORS["strategy"], "net": COLORS["accent"], "leverage": "#7d3c98"}
        for line in content.exposure:
            label = {"gross": "Gross exposure", "net": "Net exposure"}.get(line.name, "Leverage")
            expo.add_trace(
                _scatter(line, label, colors.get(line.name, "#555")),
                secondary_y=line.name == "leverage",
            )
        expo.update_yaxes(
            title_text="% of equity", tickformat=".0%", rangemode="tozero", secondary_y=False
        )
        expo.update_yaxes(
            title_text="Leverage (x)",
            tickformat=".2f",
            rangemode="tozero",
            secondary_y=True,
            showgrid=False,
        )
        figs["exposure"] = _layout(expo, hovermode="x unified")

    if content.return_histogram.counts.sum() > 0:
        figs["return-distribution"] = _histogram_figure(
            content.return_histogram, "Bar return", percent=True
        )
    if content.trade_count and content.trade_histogram.counts.sum() > 0:
        figs["trade-pnl"] = _histogram_figure(content.trade_histogram, "Net P&L", percent=False)

    scatter = content.trade_scatter
    if scatter.height:
        pnl = scatter.get_column("net_pnl").to_numpy()
        figs["mae-mfe"] = _layout(
            go.Figure(
                go.Scattergl(
                    x=scatter.get_column("mae").to_numpy(),
                    y=scatter.get_column("mfe").to_numpy(),
                    mode="markers",
                    marker={"size": 5, "opacity": 0.6, "color": _signed_colors(pnl)},
                    text=scatter.get_column("asset").to_list(),
                    customdata=pnl,
                    hovertemplate=(
                        "%{text}<br>MAE %{x:.2%}<br>MFE %{y:.2%}<br>P&L %{customdata:,.2f}"
                        "<extra></extra>"
                    ),
                )
            ),
            xaxis_title="Maximum adverse excursion",
            yaxis_title="Maximum favourable excursion",
            xaxis_tickformat=".0%",
            yaxis_tickformat=".0%",
            showlegend=False,
        )

    costs = content.costs
    figs["costs"] = _layout(
        go.Figure(
            go.Bar(
                x=[name.capitalize() for name in costs],
                y=list(costs.values()),
                marker_color=COLORS["loss"],
                texttemplate="%{y:,.2f}",
                hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
            )
        ),
        yaxis_title="Account currency",
        showlegend=False,
    )

    contribution = content.contribution
    if contribution.height:
        ordered = contribution.reverse()  # plotly draws the first category at the bottom
        values = ordered.get_column("pnl").to_numpy()
        figs["contribution"] = _layout(
            go.Figure(
                go.Bar(
                    x=values,
                    y=ordered.get_column("asset").to_list(),
                    orientation="h",
                    marker_color=_signed_colors(values),
                    hovertemplate="%{y}: %{x:,.2f}<extra></extra>",
                )
            ),
            height=max(300, 18 * contribution.height + 80),
            xaxis_title="P&L (account currency)",
            showlegend=False,
        )
    return figs


def _scatter(line: Line, name: str, color: str, **kwargs: Any) -> go.Scatter:
    return go.Scatter(
        x=line.x,
        y=line.y,
        name=name,
        mode="lines",
        line={"color": color, "width": 1.6},
        **kwargs,
    )


def _layout(fig: go.Figure, *, height: int = 360, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 30, "t": 20, "b": 40},
        legend={"orientation": "h", "y": 1.08, "x": 0},
        **kwargs,
    )
    return fig


def _monthly_heatmap(monthly: pl.DataFrame) -> go.Figure:
    years = [str(y) for y in monthly.get_column("year").to_list()]
    z = monthly.select([str(m) for m in range(1, 13)]).to_numpy().astype(np.float64)
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.01
    text = [[f"{v:.1%}" if math.isfinite(v) else "" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=[[v if math.isfinite(v) else None for v in row] for row in z.tolist()],
            x=list(MONTH_NAMES),
            y=years,
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0.0,
            zmin=-limit,
            zmax=limit,
            colorbar={"tickformat": ".0%"},
            hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, height=max(260, 28 * len(years) + 90))


def _histogram_figure(hist: Histogram, title: str, *, percent: bool) -> go.Figure:
    width = float(hist.edges[1] - hist.edges[0])
    fig = go.Figure(
        go.Bar(
            x=hist.centers,
            y=hist.counts,
            width=width,
            marker_color=_signed_colors(hist.centers),
            hovertemplate=("%{x:.2%}" if percent else "%{x:,.2f}") + ": %{y}<extra></extra>",
        )
    )
    return _layout(
        fig,
        xaxis_title=title,
        yaxis_title="Count",
        xaxis_tickformat=".1%" if percent else ",.0f",
        bargap=0.02,
        showlegend=False,
    )


def _signed_colors(values: np.ndarray) -> list[str]:
    return [COLORS["gain"] if v >= 0 else COLORS["loss"] for v in np.nan_to_num(values)]


def _chart_html(name: str, fig: go.Figure) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=f"chart-{name}",
            config=_PLOT_CONFIG,
            default_height=f"{fig.layout.height or 360}px",
        )
    )


# --- tables --------------------------------------------------------------------------------


def _drawdowns_table(drawdowns: pl.DataFrame) -> str:
    if drawdowns.height == 0:
        return '<p class="note">No drawdown: equity never fell below a previous peak.</p>'
    rows = []
    for row in drawdowns.iter_rows(named=True):
        recovery = row["recovery"].date().isoformat() if row["recovery"] else "not recovered"
        rows.append(
            f"<tr><td>{row['rank']}</td><td>{row['peak'].date().isoformat()}</td>"
            f"<td>{row['trough'].date().isoformat()}</td><td>{recovery}</td>"
            f"<td>{row['depth']:.2%}</td><td>{row['bars_to_trough']:,}</td>"
            f"<td>{row['bars_underwater']:,}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>Peak</th><th>Trough</th><th>Recovery</th><th>Depth</th>"
        "<th>Bars to trough</th><th>Bars under water</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _provenance_table(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<h2>Reproduction</h2><table>{body}</table>"


def _contribution_title(content: TearsheetContent) -> str:
    shown = content.contribution.height
    if shown < content.asset_count:
        return f"Per-asset contribution (best and worst {shown // 2} of {content.asset_count})"
    return "Per-asset contribution"
