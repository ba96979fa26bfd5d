"""Property tests of the DataFeed validator: planted defects are always caught at their row."""

from __future__ import annotations

import math
import os
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import DataValidationError

SETTINGS = settings(
    max_examples=int(os.environ.get("ML4T_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
POOL = ["A", "AAPL", "B", "BRK.B", "MSFT", "Z"]
DEFECTS = [
    "null_key",
    "unsorted",
    "duplicate",
    "non_finite_price",
    "non_positive_price",
    "non_finite_volume",
    "negative_volume",
    "high_below_low",
    "high_below_open_close",
    "low_above_open_close",
]

price = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def valid_frames(draw: st.DrawFn) -> pl.DataFrame:
    assets = sorted(draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True)))
    offsets = sorted(draw(st.lists(st.integers(0, 400), min_size=3, max_size=12, unique=True)))
    cells = [(d, a) for d in offsets for a in assets]
    present = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    rows = [cell for cell, keep in zip(cells, present, strict=True) if keep]
    if len(rows) < 3:
        rows = cells[:3]
    data: dict[str, list[Any]] = {k: [] for k in ("timestamp", "asset", "open", "high", "low")}
    data |= {"close": [], "volume": []}
    for day, asset in rows:
        o, c = draw(price), draw(price)
        up = draw(st.floats(0.01, 5.0)).__round__(2)
        down = draw(st.floats(0.01, 0.5)).__round__(2)
        data["timestamp"].append(date(2020, 1, 1) + timedelta(days=day))
        data["asset"].append(asset)
        data["open"].append(o)
        data["close"].append(c)
        data["high"].append(max(o, c) + up)
        data["low"].append(min(o, c) - down)
        data["volume"].append(float(draw(st.integers(0, 10**7))))
    return pl.DataFrame(data)


def plant(
    frame: pl.DataFrame, kind: str, row: int, data: st.DataObject
) -> tuple[pl.DataFrame, int]:
    # Return (frame with one defect of `kind`, the 0-based row the validator must name).
    rows = frame.to_dicts()
    rec = rows[row]
    o, h, lo, c = rec["open"], rec["high"], rec["low"], rec["close"]
    if kind == "null_key":
        rec[data.draw(st.sampled_from(["timestamp", "asset"]))] = None
    elif kind == "unsorted":
        row = min(row, len(rows) - 2)
        rows[row], rows[row + 1] = rows[row + 1], rows[row]
        return pl.DataFrame(rows, schema=frame.schema), row + 1
    elif kind == "duplicate":
        rows.insert(row + 1, dict(rec))
        return pl.DataFrame(rows, schema=frame.schema), row + 1
    elif kind == "non_finite_price":
        col = data.draw(st.sampled_from(["open", "high", "low", "close"]))
        rec[col] = data.draw(st.sampled_from([None, math.nan, math.inf, -math.inf]))
    elif kind == "non_positive_price":
        col = data.draw(st.sampled_from(["open", "high", "low", "close"]))
        rec[col] = data.draw(st.sampled_from([0.0, -0.01, -5.0]))
    elif kind == "non_finite_volume":
        rec["volume"] = data.draw(st.sampled_from([None, math.nan, math.inf]))
    elif kind == "negative_volume":
        rec["volume"] = -data.draw(st.floats(0.5, 1e6))
    elif kind == "high_below_low":
        rec["high"] = lo - data.draw(st.floats(0.01, 0.5))
        if rec["high"] <= 0:
            rec["high"] = lo / 2
    elif kind == "high_below_open_close":
        rec["high"] = (lo + max(o, c)) / 2  # low < high < max(open, close)
    elif kind == "low_above_open_close":
        rec["low"] = (min(o, c) + h) / 2  # min(open, close) < low < high
    else:  # pragma: no cover
        raise AssertionError(kind)
    return pl.DataFrame(rows, schema=frame.schema), row


@SETTINGS
@given(frame=valid_frames(), kind=st.sampled_from(DEFECTS), data=st.data())
def test_one_planted_defect_is_rejected_with_its_check_and_row(
    frame: pl.DataFrame, kind: str, data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, frame.height - 1), label="row")
    bad, expected = plant(frame, kind, row, data)
    with pytest.raises(DataValidationError) as info:
        DataFeed.from_polars(bad)
    err = info.value
    assert err.check == kind, str(err)
    assert err.rows == (expected,), str(err)
    assert f"row {expected} " in str(err)


@SETTINGS
@given(frame=valid_frames(), kind=st.sampled_from(DEFECTS), data=st.data())
def test_repair_drop_reports_the_planted_row_and_leaves_a_valid_feed(
    frame: pl.DataFrame, kind: str, data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, frame.height - 1), label="row")
    bad, expected = plant(frame, kind, row, data)
    feed = DataFeed.from_polars(bad, repair="drop")
    report = feed.repair_report
    assert report is not None
    hit = report.filter(pl.col("check") == kind)
    assert hit.height == 1, report
    # a duplicate is reported as the earlier row, which is the one dropped (last one kept)
    reported = expected - 1 if kind == "duplicate" else expected
    assert hit["rows"][0].to_list() == [reported]
    # the repaired feed passes validation as it is
    again = DataFeed.from_polars(feed.to_polars())
    assert again.fingerprint() == feed.fingerprint()
    assert bool(np.all(feed.high[feed.has_bar] >= feed.low[feed.has_bar]))


@SETTINGS
@given(frame=valid_frames())
def test_valid_frames_pass_and_round_trip_through_to_polars(frame: pl.DataFrame) -> None:
    feed = DataFeed.from_polars(frame)
    assert int(feed.has_bar.sum()) == frame.height
    expected = frame.with_columns(
        pl.col("timestamp").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    )
    assert_frame_equal(feed.to_polars(), expected)
    assert DataFeed.from_polars(feed.to_polars()).fingerprint() == feed.fingerprint()
    assert feed.assets == tuple(sorted(set(frame["asset"].to_list())))


@SETTINGS
@given(
    frame=valid_frames(),
    ctx_days=st.lists(st.integers(-5, 410), min_size=1, max_size=10, unique=True),
    sig_rows=st.lists(
        st.tuples(st.integers(-5, 410), st.sampled_from(POOL)),
        min_size=1,
        max_size=10,
        unique=True,
    ),
    lag_days=st.integers(0, 30),
)
def test_signals_and_context_never_show_a_value_before_it_is_published(
    frame: pl.DataFrame,
    ctx_days: list[int],
    sig_rows: list[tuple[int, str]],
    lag_days: int,
) -> None:
    base = date(2020, 1, 1)
    ctx = pl.DataFrame(
        {
            "timestamp": [base + timedelta(days=d) for d in ctx_days],
            "vix": [float(d) for d in ctx_days],  # the value names its own day
        }
    )
    assets = set(frame["asset"].to_list())
    sig_rows = [(d, a) for d, a in sig_rows if a in assets]
    signals = None
    if sig_rows:
        signals = pl.DataFrame(
            {
                "timestamp": [base + timedelta(days=d) for d, _ in sig_rows],
                "asset": [a for _, a in sig_rows],
                "pred": [float(d) for d, _ in sig_rows],
            }
        )
    lag = timedelta(days=lag_days)
    feed = DataFeed.from_polars(
        frame, context=ctx, context_lag=lag, signals=signals, signal_lag=lag
    )
    for t, ts in enumerate(feed.timestamps.tolist()):
        day = (ts - feed_day0()) // 86_400_000_000_000
        published = [d for d in ctx_days if d + lag_days <= day]
        got = feed.context["vix"][t]
        if published:
            assert got == float(max(published))  # the latest published value
        else:
            assert math.isnan(got)
        if signals is None:
            continue
        for a, asset in enumerate(feed.assets):
            seen = [d for d, name in sig_rows if name == asset and d + lag_days <= day]
            value = feed.signals["pred"][t, a]
            if seen:
                assert value == float(max(seen))
            else:
                assert math.isnan(value)


def feed_day0() -> int:
    # ns timestamp of 2020-01-01, the day the generated frames count from
    return (date(2020, 1, 1) - date(1970, 1, 1)).days * 86_400_000_000_000
