"""Write a tearsheet as a printable PDF: the HTML report's content as static matplotlib charts.

matplotlib installs from the package index alone and draws without a display or a browser
(the figures are created with the object API and the PDF backend; the global pyplot state and
backend are never touched). Fonts are embedded as TrueType (``pdf.fonttype = 42``) so the text
can be selected and extracted.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any, Final

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ml4t.backtest.reporting._version import __version__
from ml4t.backtest.reporting.content import COLORS, MONTH_NAMES, Line, TearsheetContent

__all__ = ["PAGE_SIZE", "write_pdf"]

PAGE_SIZE: Final = (8.27, 11.69)
"""A4 portrait, in inches."""

_BLUE: Final = COLORS["strategy"]
_GREY: Final = COLORS["benchmark"]
_RED: Final = COLORS["loss"]
_GREEN: Final = COLORS["gain"]
_ORANGE: Final = COLORS["accent"]
_MONTHS: Final = list(MONTH_NAMES)
_RC: Final[dict[str, Any]] = {
    "pdf.fonttype": 42,
    "font.size": 8,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def write_pdf(content: TearsheetContent, path: str | Path) -> Path:
    """Write the tearsheet for `content` as a multi-page A4 PDF and return the path.

    Pages: 1 summary, equity, drawdown; 2 monthly/yearly returns, rolling Sharpe and
    volatility, exposure; 3 distributions, MAE/MFE, costs; 4 top drawdowns and per-asset
    contribution; 5 configuration and reproduction facts.

    Example:
        >>> import tempfile
        >>> from ml4t.backtest.reporting.synthetic import synthetic_result
        >>> out = write_pdf(TearsheetContent.from_result(synthetic_result(4, 60)),
        ...                 Path(tempfile.mkdtemp()) / "report.pdf")
        >>> out.read_bytes()[:5]
        b'%PDF-'
    """
    target = Path(path)
    with mpl.rc_context(_RC), PdfPages(target) as pdf:  # type: ignore[arg-type]
        info = pdf.infodict()
        info["Title"] = content.title
        info["Creator"] = f"ml4t-backtest-reporting {__version__}"
        info["CreationDate"] = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # reproducible bytes
        for page in (_page_summary, _page_returns, _page_trades, _page_tables, _page_config):
            fig = Figure(figsize=PAGE_SIZE)
            page(fig, content)
            pdf.savefig(fig)
    return target


# --- pages ---------------------------------------------------------------------------------


def _page_summary(fig: Figure, c: TearsheetContent) -> None:
    fig.suptitle(c.title, fontsize=15, fontweight="bold", x=0.06, ha="left", y=0.975)
    fig.text(0.06, 0.945, c.subtitle, fontsize=8, color="#566573")
    grid = fig.add_gridspec(
        3,
        1,
        height_ratios=[1.0, 1.3, 0.8],
        top=0.92,
        bottom=0.05,
        left=0.1,
        right=0.95,
        hspace=0.35,
    )
    ax = fig.add_subplot(grid[0])
    ax.axis("off")
    ax.set_title("Summary", loc="left")
    rows = [[label, value] for label, value in c.metrics[:24]]
    if rows:
        half = (len(rows) + 1) // 2
        left, right = rows[:half], rows[half:]
        right += [["", ""]] * (half - len(right))
        cells = [a + b for a, b in zip(left, right, strict=True)]
        table = ax.table(cellText=cells, loc="upper left", cellLoc="left", edges="horizontal")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.25)
    ax = fig.add_subplot(grid[1])
    _plot_line(ax, c.equity, "Strategy", _BLUE)
    if c.benchmark is not None:
        _plot_line(ax, c.benchmark, "Benchmark", _GREY)
    ax.set_title("Equity", loc="left")
    ax.legend(loc="upper left", frameon=False)
    ax = fig.add_subplot(grid[2])
    x = _dates(c.drawdown)
    ax.fill_between(x, c.drawdown.y * 100.0, 0.0, color=_RED, alpha=0.35, linewidth=0)
    ax.plot(x, c.drawdown.y * 100.0, color=_RED, linewidth=0.8)
    ax.set_title("Underwater (drawdown from the running peak, %)", loc="left")
    _date_axis(ax)


def _page_returns(fig: Figure, c: TearsheetContent) -> None:
    grid = fig.add_gridspec(
        4,
        2,
        top=0.95,
        bottom=0.05,
        left=0.1,
        right=0.95,
        hspace=0.45,
        wspace=0.25,
        width_ratios=[2.2, 1.0],
    )
    ax = fig.add_subplot(grid[0, 0])
    ax.set_title("Monthly returns (%)", loc="left")
    if c.monthly.height:
        z = c.monthly.select([str(m) for m in range(1, 13)]).to_numpy().astype(np.float64)
        limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.01
        ax.imshow(z, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
        years = c.monthly.get_column("year").to_list()
        ax.set_yticks(range(len(years)), [str(y) for y in years])
        ax.set_xticks(range(12), _MONTHS)
        ax.grid(False)
        if len(years) <= 15:
            for (i, j), value in np.ndenumerate(z):
                if np.isfinite(value):
                    ax.text(j, i, f"{value * 100:.1f}", ha="center", va="center", fontsize=6)
    ax = fig.add_subplot(grid[0, 1])
    ax.set_title("Yearly returns (%)", loc="left")
    if c.yearly.height:
        values = c.yearly.get_column("return").to_numpy() * 100.0
        labels = [str(y) for y in c.yearly.get_column("year").to_list()]
        ax.barh(labels, values, color=[_GREEN if v >= 0 else _RED for v in values])
        ax.invert_yaxis()
    ax = fig.add_subplot(grid[1, :])
    _plot_line(ax, c.rolling_sharpe, "Sharpe", _BLUE)
    ax.axhline(0.0, color="#555", linewidth=0.6)
    ax.set_title(f"Rolling Sharpe ({c.rolling_window} bars, annualised)", loc="left")
    ax = fig.add_subplot(grid[2, :])
    _plot_line(ax, c.rolling_volatility, "Volatility", _ORANGE, scale=100.0)
    ax.set_title(f"Rolling volatility ({c.rolling_window} bars, annualised, %)", loc="left")
    ax = fig.add_subplot(grid[3, :])
    ax.set_title("Exposure (% of equity) and leverage", loc="left")
    colors = {"gross": _BLUE, "net": _ORANGE, "leverage": "#7d3c98"}
    twin = ax.twinx() if any(line.name == "leverage" for line in c.exposure) else None
    for line in c.exposure:
        if line.name == "leverage" and twin is not None:
            _plot_line(twin, line, "Leverage (x, right)", colors["leverage"])
            twin.grid(False)
        else:
            _plot_line(
                ax,
                line,
                f"{line.name.capitalize()} exposure",
                colors.get(line.name, "k"),
                scale=100.0,
            )
    handles = ax.get_legend_handles_labels()
    if twin is not None:
        more = twin.get_legend_handles_labels()
        handles = (handles[0] + more[0], handles[1] + more[1])
    if handles[0]:
        ax.legend(*handles, loc="lower right", frameon=True, framealpha=0.9, ncols=3)


def _page_trades(fig: Figure, c: TearsheetContent) -> None:
    grid = fig.add_gridspec(
        3, 2, top=0.95, bottom=0.06, left=0.1, right=0.95, hspace=0.4, wspace=0.3
    )
    ax = fig.add_subplot(grid[0, 0])
    _plot_hist(ax, c.return_histogram.edges * 100.0, c.return_histogram.counts)
    ax.set_title("Distribution of bar returns (%)", loc="left")
    ax = fig.add_subplot(grid[0, 1])
    ax.set_title("Trade P&L distribution", loc="left")
    if c.trade_count:
        _plot_hist(ax, c.trade_histogram.edges, c.trade_histogram.counts)
    else:
        _note(ax, "No closed trades")
    ax = fig.add_subplot(grid[1, :])
    ax.set_title("Trade excursions: MAE vs MFE (%)", loc="left")
    s = c.trade_scatter
    if s.height:
        pnl = s.get_column("net_pnl").to_numpy()
        ax.scatter(
            s.get_column("mae").to_numpy() * 100.0,
            s.get_column("mfe").to_numpy() * 100.0,
            s=4,
            alpha=0.5,
            c=[_GREEN if v >= 0 else _RED for v in pnl],
            linewidths=0,
        )
        ax.set_xlabel("Maximum adverse excursion (%)")
        ax.set_ylabel("Maximum favourable excursion (%)")
    else:
        _note(ax, "No closed trades with MAE/MFE")
    ax = fig.add_subplot(grid[2, :])
    ax.set_title("Costs breakdown (account currency)", loc="left")
    names = [name.capitalize() for name in c.costs]
    values = list(c.costs.values())
    bars = ax.bar(names, values, color=_RED)
    ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values], fontsize=7)


def _page_tables(fig: Figure, c: TearsheetContent) -> None:
    grid = fig.add_gridspec(
        2, 1, height_ratios=[0.8, 2.2], top=0.95, bottom=0.05, left=0.15, right=0.95, hspace=0.25
    )
    ax = fig.add_subplot(grid[0])
    ax.axis("off")
    ax.set_title("Top drawdowns", loc="left")
    if c.drawdowns.height:
        cells = [
            [
                str(r["rank"]),
                r["peak"].date().isoformat(),
                r["trough"].date().isoformat(),
                r["recovery"].date().isoformat() if r["recovery"] else "not recovered",
                f"{r['depth']:.2%}",
                f"{r['bars_to_trough']:,}",
                f"{r['bars_underwater']:,}",
            ]
            for r in c.drawdowns.iter_rows(named=True)
        ]
        header = ["#", "Peak", "Trough", "Recovery", "Depth", "Bars to trough", "Bars under water"]
        table = ax.table(cellText=cells, colLabels=header, loc="upper left", edges="horizontal")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.3)
    else:
        _note(ax, "No drawdown")
    ax = fig.add_subplot(grid[1])
    shown = c.contribution.height
    title = "Per-asset contribution (P&L)"
    if shown < c.asset_count:
        title += f": best and worst {shown // 2} of {c.asset_count}"
    ax.set_title(title, loc="left")
    if shown:
        values = c.contribution.get_column("pnl").to_numpy()
        ax.barh(
            c.contribution.get_column("asset").to_list(),
            values,
            color=[_GREEN if v >= 0 else _RED for v in values],
        )
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=max(4, min(8, int(400 / max(shown, 1)))))
    else:
        _note(ax, "No per-asset P&L")


def _page_config(fig: Figure, c: TearsheetContent) -> None:
    fig.text(0.06, 0.96, "Configuration", fontsize=11, fontweight="bold")
    lines = c.config.splitlines()[:90]
    fig.text(0.06, 0.94, "\n".join(lines), fontsize=6.5, family="monospace", va="top")
    y = 0.94 - 0.0105 * len(lines) - 0.03
    if c.provenance and y > 0.1:
        fig.text(0.06, y, "Reproduction", fontsize=11, fontweight="bold")
        text = "\n".join(
            textwrap.fill(f"{k}: {v}", 120, subsequent_indent="    ") for k, v in c.provenance
        )
        fig.text(0.06, y - 0.02, text, fontsize=6.5, family="monospace", va="top")
    fig.text(0.06, 0.02, f"ml4t-backtest-reporting {__version__}", fontsize=6, color="#808b96")


# --- helpers -------------------------------------------------------------------------------


def _dates(line: Line) -> np.ndarray:
    return np.array(line.x, dtype="datetime64[s]")


def _plot_line(ax: Axes, line: Line, label: str, color: str, *, scale: float = 1.0) -> None:
    ax.plot(_dates(line), line.y * scale, color=color, linewidth=0.9, label=label)
    _date_axis(ax)


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _plot_hist(ax: Axes, edges: np.ndarray, counts: np.ndarray) -> None:
    centers = (edges[:-1] + edges[1:]) / 2.0
    ax.bar(
        centers,
        counts,
        width=float(edges[1] - edges[0]),
        color=[_GREEN if v >= 0 else _RED for v in centers],
        linewidth=0,
    )
    ax.set_ylabel("Count")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#566573")
