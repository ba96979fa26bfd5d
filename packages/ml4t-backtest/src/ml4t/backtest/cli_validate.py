"""Find every problem in a price file, for ``ml4t-backtest validate-data``.

`DataFeed` stops at the first failed check, which is right for a backtest but slow for a
person repairing a file. `find_problems` runs the feed's checks in repair mode, which applies
every row check and records each one's offending rows, and turns that record into a list of
problems with row numbers (0-based, in the file as given) and the fix. A problem that makes
the file unreadable as prices (missing columns, wrong types, no rows) is reported alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from ml4t.backtest.core import VALIDATION_CHECKS
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError, DataValidationError

__all__ = ["MAX_ROWS_SHOWN", "Problem", "find_problems", "read_price_file"]

MAX_ROWS_SHOWN: Final = 100
"""Row numbers listed per problem (the count is always complete)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check.

    Attributes:
        check: Short name of the check (as in `DataValidationError.check`).
        description: What is wrong.
        count: Number of offending rows (0 when the check is about the whole file).
        rows: The first offending rows, 0-based, in the file as given.
        fix: How to repair it.
    """

    check: str
    description: str
    count: int
    rows: tuple[int, ...]
    fix: str


def read_price_file(path: str | Path) -> pl.DataFrame:
    """Read a long-format price file (``.parquet`` or ``.csv``).

    Raises:
        ConfigError: The file is missing or has another suffix.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"data file {str(file)!r} does not exist; check the path")
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(file)
    if suffix == ".csv":
        return pl.read_csv(file, try_parse_dates=True)
    raise ConfigError(f"data file {str(file)!r}: use a .parquet or .csv file")


def find_problems(frame: pl.DataFrame) -> list[Problem]:
    """Return every problem the feed validator finds in `frame`, in check order.

    A row that fails several row checks is listed under the first of them only (the validator
    drops it there and does not look at it again).

    Example:
        >>> import datetime as dt
        >>> ok = {"timestamp": [dt.datetime(2020, 1, d) for d in (1, 2, 3)], "asset": ["A"] * 3,
        ...       "open": [10.0, 10.0, 10.0], "high": [11.0, 9.0, 11.0], "low": [9.0, 9.5, 9.0],
        ...       "close": [10.0, 10.0, -1.0], "volume": [1.0, 1.0, 1.0]}
        >>> [(p.check, p.rows) for p in find_problems(pl.DataFrame(ok))]
        [('non_positive_price', (2,)), ('high_below_low', (1,))]
    """
    try:
        feed = DataFeed.from_polars(frame, repair="drop")
    except DataValidationError as exc:
        return [Problem(exc.check or "invalid", str(exc), len(exc.rows), exc.rows, "")]
    report = feed.repair_report
    if report is None or report.height == 0:
        return []
    specs = _check_specs()
    problems = []
    for row in report.iter_rows(named=True):
        check = str(row["check"])
        description, fix = specs.get(check, (check.replace("_", " "), ""))
        rows = tuple(int(r) for r in (row["rows"] or [])[:MAX_ROWS_SHOWN])
        problems.append(Problem(check, description, int(row["count"]), rows, fix))
    return problems


def _check_specs() -> dict[str, tuple[str, str]]:
    # The check descriptions live with the validator in core (VALIDATION_CHECKS).
    return {spec.name: (spec.description, spec.fix) for spec in VALIDATION_CHECKS}
