"""The faster `compute_metrics` gives the numbers of the formulas it replaced, bit for bit.

`metrics_speed_frozen.py` is a frozen copy of `portfolio.metrics` from before the speed-up
(commit bb639ab). Every metric of the current code must equal the frozen one exactly (the
same float, NaN where it was NaN, the same sign of zero), with numba loaded (the compiled
passes of `_metrics_nb`) and without it (numpy). The compiled sums replay numpy's pairwise
summation order; they are checked against np.add.reduce directly, so a numpy release that
changed that order would fail here first.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ml4t.backtest.portfolio._metrics_nb as nb  # loads numba: the compiled passes run
from ml4t.backtest.portfolio import metrics as m

MINUTE = 60_000_000_000
DAY = 86_400_000_000_000


def _frozen() -> ModuleType:
    path = Path(__file__).with_name("metrics_speed_frozen.py")
    spec = importlib.util.spec_from_file_location("metrics_speed_frozen", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FROZEN = _frozen()


def _bits(out: dict[str, float]) -> dict[str, bytes]:
    return {k: struct.pack("<d", float(v)) for k, v in out.items()}


def _both(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[dict[str, float], ...]:
    # (frozen, current with numba, current numpy-only)
    with np.errstate(all="ignore"):
        frozen = FROZEN.compute_metrics(**kwargs)
        assert m._compiled() is not None
        compiled = m.compute_metrics(**kwargs)
        with monkeypatch.context() as patch:
            patch.setattr(m, "_compiled", lambda: None)
            numpy_only = m.compute_metrics(**kwargs)
    return frozen, compiled, numpy_only


def _assert_same(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> None:
    frozen, compiled, numpy_only = _both(monkeypatch, **kwargs)
    assert list(compiled) == list(frozen)  # the same keys, in the same order
    assert _bits(compiled) == _bits(frozen)
    assert _bits(numpy_only) == _bits(frozen)


def _curve(
    rng: np.random.Generator, n: int, *, flat: float, nan: float, step: int = MINUTE
) -> pl.DataFrame:
    r = rng.standard_t(3, n) * 10.0 ** rng.uniform(-4, -2)
    r[rng.random(n) < flat] = 0.0
    equity = 1e6 * np.cumprod(1.0 + r)
    gross = np.where(r != 0.0, equity * rng.uniform(0.2, 1.5, n), 0.0)
    r[rng.random(n) < nan] = np.nan
    ts = 19_724 * DAY + np.arange(n, dtype=np.int64) * step
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            "equity": equity,
            "gross_exposure": gross,
            "returns": r,
        }
    )


def _trades(rng: np.random.Generator, n: int) -> pl.DataFrame:
    pnl = rng.normal(0.0, 100.0, n)
    pnl[rng.random(n) < 0.1] = 0.0
    return pl.DataFrame({"net_pnl": pnl})


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [2, 7, 300, 2_520, 40_000, 200_000])
def test_compute_metrics_equals_the_frozen_formulas(
    seed: int, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed * 1_000 + n)
    curve = _curve(rng, n, flat=(0.0, 0.5, 0.95)[seed % 3], nan=0.01 if seed % 4 == 1 else 0.0)
    trades = _trades(rng, int(rng.integers(0, 500)))
    _assert_same(monkeypatch, equity_curve=curve, trades=trades)


@pytest.mark.parametrize(
    ("cutoff", "risk_free"), [(0.05, 0.0), (0.01, 0.0), (0.05, 1e-6), (0.3, -2e-6), (0.0, 0.0)]
)
def test_options_equal_the_frozen_formulas(
    cutoff: float, risk_free: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    # (no NaN returns here: the frozen copy dropped them before pairing with the benchmark,
    # a ConfigError; see test_benchmark_metrics_pair_bars_with_nan_returns)
    curve = _curve(rng, 60_000, flat=0.4, nan=0.0)
    bench = rng.normal(0.0, 1e-3, curve.height)
    for ppy in (None, 98_280.0):
        _assert_same(
            monkeypatch,
            equity_curve=curve,
            trades=_trades(rng, 50),
            benchmark_returns=bench,
            periods_per_year=ppy,
            risk_free=risk_free,
            cutoff=cutoff,
        )


def test_degenerate_inputs_equal_the_frozen_formulas(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    base = _curve(rng, n, flat=0.5, nan=0.0)
    r = base.get_column("returns").to_numpy().copy()
    cases = {
        "all_zero": np.zeros(n),
        "all_nan": np.full(n, np.nan),
        "wipe_out": np.where(np.arange(n) == n // 2, -1.0, r),  # the curve hits 0
        "negative_equity": np.where(np.arange(n) == n // 3, -1.5, r),
        "inf": np.where(np.arange(n) == n // 4, np.inf, r),
        "minus_inf": np.where(np.arange(n) == n // 4, -np.inf, r),
        "inf_then_zero": np.where(np.arange(n) == 10, np.inf, np.where(np.arange(n) == 20, -1, r)),
        "negative_zeros": np.where(r == 0.0, -0.0, r),
        "only_gains": np.abs(r),
        "only_losses": -np.abs(r) - 1e-9,
        "huge": r * 1e3,
    }
    for name, returns in cases.items():
        curve = base.with_columns(pl.Series("returns", returns))
        try:
            _assert_same(monkeypatch, equity_curve=curve, trades=pl.DataFrame({"net_pnl": []}))
        except AssertionError as exc:  # pragma: no cover - a failure names its case
            raise AssertionError(name) from exc
    equity = base.get_column("equity").to_numpy().copy()
    gross = base.get_column("gross_exposure").to_numpy().copy()
    equity[::1000] = 0.0
    gross[5::700] = np.nan
    equity[7::900] = np.nan
    curve = base.with_columns(pl.Series("equity", equity), pl.Series("gross_exposure", gross))
    _assert_same(monkeypatch, equity_curve=curve)
    _assert_same(monkeypatch, equity_curve=curve.drop("returns"))  # returns from equity
    _assert_same(monkeypatch, equity_curve=curve.with_columns(pl.lit(-1.0).alias("equity")))


def test_daily_and_weekend_bars_equal_the_frozen_formulas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    days = pl.date_range(dt.date(2020, 1, 1), dt.date(2029, 12, 31), eager=True)
    rng = np.random.default_rng(9)
    for dates in (days, days.filter(days.dt.weekday() <= 5)):
        n = dates.len()
        r = rng.normal(0.0003, 0.01, n)
        curve = pl.DataFrame({"timestamp": dates, "returns": r})
        _assert_same(monkeypatch, equity_curve=curve)
        shuffled = curve.sample(fraction=1.0, shuffle=True, seed=1)  # unsorted timestamps
        _assert_same(monkeypatch, equity_curve=shuffled)


@settings(max_examples=60, deadline=None)
@given(
    returns=st.lists(
        st.one_of(
            st.floats(min_value=-0.5, max_value=0.5, allow_nan=False),
            st.sampled_from([0.0, -0.0, np.nan, 1e-12, -1e-12]),
        ),
        min_size=0,
        max_size=400,
    ),
    repeat=st.integers(min_value=1, max_value=120),
    gross=st.floats(min_value=0.0, max_value=3.0),
)
def test_property_numba_and_numpy_give_the_same_dict(
    returns: list[float], repeat: int, gross: float
) -> None:
    # `repeat` stretches short draws past the selection threshold (32,768 values)
    r = np.tile(np.asarray(returns, dtype=np.float64), repeat)
    n = r.size
    ts = 19_724 * DAY + np.arange(n, dtype=np.int64) * MINUTE
    equity = 1e6 * np.cumprod(1.0 + np.nan_to_num(r))
    curve = pl.DataFrame(
        {"timestamp": ts, "equity": equity, "gross_exposure": gross * equity, "returns": r}
    )
    trades = pl.DataFrame({"net_pnl": np.nan_to_num(r[:200]) * 1e4})
    kwargs: dict[str, Any] = {"equity_curve": curve, "trades": trades, "periods_per_year": 252.0}
    with pytest.MonkeyPatch.context() as patch:
        frozen, compiled, numpy_only = _both(patch, **kwargs)
    assert _bits(compiled) == _bits(frozen)
    assert _bits(numpy_only) == _bits(frozen)


# -- the compiled passes against numpy ---------------------------------------------------------


def _sizes() -> list[int]:
    rng = np.random.default_rng(0)
    return [*range(300), *(int(x) for x in rng.integers(300, 1_500_000, 12))]


def _draw(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    a = rng.standard_t(3, n) * 10.0 ** rng.uniform(-6, 1)
    a[rng.random(n) < rng.uniform(0.0, 0.9)] = 0.0
    if n % 5 == 0:
        a[rng.random(n) < 0.3] = -0.0
    return a


def test_compiled_sums_replay_numpys_pairwise_order() -> None:
    rng = np.random.default_rng(1)
    for n in _sizes():
        a = _draw(rng, n)
        mean = float(np.mean(a)) if n else 0.0
        dev2, down2 = nb.squares_sums_nb(a, mean)
        assert struct.pack("<d", dev2) == struct.pack("<d", np.add.reduce(np.square(a - mean)))
        expected = np.add.reduce(np.square(np.minimum(a, 0.0)))
        assert struct.pack("<d", down2) == struct.pack("<d", expected)
        equity = rng.uniform(0.5, 2.0, n)
        ratio = nb.ratio_sum_nb(a * 100.0, equity)
        assert struct.pack("<d", ratio) == struct.pack("<d", np.add.reduce(a * 100.0 / equity))
        neg, pos = nb.signed_sums_nb(a, int(np.count_nonzero(a < 0)), int(np.count_nonzero(a > 0)))
        assert struct.pack("<d", neg) == struct.pack("<d", np.add.reduce(a[a < 0.0]))
        assert struct.pack("<d", pos) == struct.pack("<d", np.add.reduce(a[a > 0.0]))
        readonly = a.copy()
        readonly.flags.writeable = False  # (polars hands out read-only views)
        assert nb.squares_sums_nb(readonly, mean) == (dev2, down2)


def test_one_pass_drawdown_equals_the_division_per_bar() -> None:
    rng = np.random.default_rng(2)
    special = [np.inf, -np.inf, -1.0, -1.5, 1e300, -0.0]
    for n in [*range(1, 60), 1_000, 100_000]:
        r = rng.normal(0.0, 0.02, n)
        r[rng.random(n) < 0.3] = 0.0
        if n % 3 == 0:
            r[rng.integers(0, n)] = special[n % len(special)]
        if n % 7 == 0:
            r = np.abs(r)  # never below the peak
        value, mdd, duration, n_low, n_high = nb.returns_pass_nb(
            r, -0.01, 0.01, np.empty(n), np.empty(n)
        )
        expected_mdd, expected_duration = nb.drawdown_stats_nb(r)
        with np.errstate(all="ignore"):
            expected_value = np.prod(1.0 + r)
        assert struct.pack("<d", value) == struct.pack("<d", expected_value)
        assert struct.pack("<d", mdd) == struct.pack("<d", expected_mdd)
        assert duration == expected_duration
        assert (n_low, n_high) == (np.count_nonzero(r <= -0.01), np.count_nonzero(r >= 0.01))


def test_candidate_buffers_that_overflow_fall_back_to_numpys_filter() -> None:
    rng = np.random.default_rng(6)
    r = _draw(rng, 100_000)
    mean = float(np.mean(r))
    low_cut, high_cut, caps, finish = m._tails(r, 0.05)
    assert not math.isnan(low_cut)
    assert not math.isnan(high_cut)
    roomy = m._pieces(r, mean, low_cut, high_cut, caps)
    cramped = m._pieces(r, mean, low_cut, high_cut, (10, 10))  # the kernel's buffers overflow
    for pieces in (roomy, cramped):
        assert pieces.low is not None
        assert pieces.high is not None
        np.testing.assert_array_equal(pieces.low, r[r <= low_cut])
        np.testing.assert_array_equal(pieces.high, r[r >= high_cut])
    assert finish(roomy) == finish(cramped)


def test_compiled_time_steps_equal_numpys() -> None:
    rng = np.random.default_rng(4)
    for n in (2, 3, 100, 10_000):
        t = np.sort(rng.integers(-(2**40), 2**40, n))
        for values in (t, t[::-1].copy(), rng.permutation(t)):
            step = np.diff(values)
            expected = (step.min(), step.max(), values.min(), values.max())
            assert nb.time_steps_nb(values) == tuple(int(v) for v in expected)
            assert math.isfinite(m.infer_periods_per_year(values))


def test_benchmark_metrics_pair_bars_with_nan_returns() -> None:
    # beta, alpha and the information ratio pair the returns with the benchmark bar by bar,
    # leaving out the bars where either is NaN (the public functions' rule)
    rng = np.random.default_rng(11)
    curve = _curve(rng, 5_000, flat=0.2, nan=0.02)
    r = curve.get_column("returns").to_numpy()
    assert np.isnan(r).any()
    bench = rng.normal(0.0, 1e-3, curve.height)
    bench[7] = np.nan
    got = m.compute_metrics(curve, benchmark_returns=bench, periods_per_year=252.0)
    assert got["beta"] == m.beta(r, bench)
    assert got["alpha"] == m.alpha(r, bench, 252.0)
    assert got["information_ratio"] == m.information_ratio(r, bench, 252.0)
    assert np.isfinite(got["beta"])
