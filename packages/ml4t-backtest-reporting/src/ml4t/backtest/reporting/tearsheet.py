"""The tearsheet entry point: one call writes an HTML or a PDF report of a result.

`write_tearsheet` is registered in the ``ml4t.backtest.reporters`` entry-point group, so
``BacktestResult.tearsheet(path)`` finds it without the strategy package importing upward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import polars as pl

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.reporting.content import TearsheetContent
from ml4t.backtest.reporting.downsample import MAX_DISPLAY_POINTS
from ml4t.backtest.reporting.html_report import write_html
from ml4t.backtest.reporting.pdf_report import write_pdf

__all__ = ["DEFAULT_TEARSHEET", "SUFFIXES", "write_tearsheet"]

DEFAULT_TEARSHEET: Final = "tearsheet.html"
"""File written when no path is given."""

SUFFIXES: Final = (".html", ".htm", ".pdf")
"""Output formats, chosen by the path's suffix."""


def write_tearsheet(
    result: Any,
    path: str | Path | None = None,
    *,
    benchmark: pl.DataFrame | None = None,
    title: str | None = None,
    max_points: int = MAX_DISPLAY_POINTS,
) -> Path:
    """Write a tearsheet of `result`: interactive HTML, or a static PDF for a ``.pdf`` path.

    Args:
        result: A `BacktestResult`, or one read back with ``BacktestResult.load``.
        path: Output file; the suffix picks the format (``.html``/``.htm`` or ``.pdf``).
            Default ``tearsheet.html`` in the working directory. The parent must exist.
        benchmark: Optional frame with ``timestamp`` and a price/value column (``close``,
            ``price``, ``value`` or ``equity``), drawn against the equity curve.
        title: Report title; default "Backtest tearsheet".
        max_points: Most points drawn per line (display only; the data is not changed).

    Returns:
        The path written.

    Raises:
        ConfigError: Unknown suffix, missing parent directory, empty equity curve, or a
            benchmark without a usable value column.

    Example:
        >>> import tempfile
        >>> from ml4t.backtest.reporting.synthetic import synthetic_result
        >>> folder = Path(tempfile.mkdtemp())
        >>> write_tearsheet(synthetic_result(4, 60), folder / "r.html").name
        'r.html'
    """
    target = Path(path) if path is not None else Path(DEFAULT_TEARSHEET)
    suffix = target.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(
            f"tearsheet path {str(target)!r} has suffix {suffix!r}; use one of {list(SUFFIXES)}"
        )
    if not target.absolute().parent.is_dir():
        raise ConfigError(
            f"cannot write tearsheet {str(target)!r}: directory {str(target.parent)!r} does "
            "not exist; create it first"
        )
    content = TearsheetContent.from_result(
        result, benchmark=benchmark, title=title, max_points=max_points
    )
    if suffix == ".pdf":
        return write_pdf(content, target)
    return write_html(content, target)
