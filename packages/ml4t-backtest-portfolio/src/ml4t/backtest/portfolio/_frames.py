"""Private helpers to convert between polars columns and int nanosecond timestamps."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["datetime_series", "to_ns"]


# Convert a Date / Datetime (any unit, naive = UTC) / integer column to int64 nanoseconds.
def to_ns(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if dtype == pl.Date:
        return series.cast(pl.Datetime("ns")).dt.epoch("ns")
    if isinstance(dtype, pl.Datetime):
        return series.dt.epoch("ns")
    if dtype.is_integer():
        return series.cast(pl.Int64)
    if dtype == pl.String:
        return series.str.to_datetime(time_unit="ns").dt.epoch("ns")
    raise TypeError(f"column {series.name!r} must be Date, Datetime or int ns, was {dtype}")


# Build a Datetime[ns, UTC] series from int64 nanoseconds.
def datetime_series(name: str, values: npt.NDArray[np.int64] | list[int]) -> pl.Series:
    return pl.Series(name, np.asarray(values, dtype=np.int64)).cast(pl.Datetime("ns", "UTC"))
