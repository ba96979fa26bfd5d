"""Metrics: hand-computed values, annualisation inference, and empyrical on real returns."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.portfolio import compute_metrics, infer_periods_per_year
from ml4t.backtest.portfolio import metrics as m

DATA = Path(__file__).parent / "data"
R = [0.01, -0.02, 0.015, -0.005, 0.03, -0.01]


class TestHandComputed:
    def test_total_return_and_cagr(self) -> None:
        growth = 1.01 * 0.98 * 1.015 * 0.995 * 1.03 * 0.99
        assert m.total_return(R) == pytest.approx(growth - 1, rel=1e-14)
        assert m.cagr(R, 12) == pytest.approx(growth**2 - 1, rel=1e-14)  # 6 months -> 1 year

    def test_volatility_sharpe_sortino(self) -> None:
        mean = sum(R) / 6
        sd = math.sqrt(sum((x - mean) ** 2 for x in R) / 5)
        assert m.volatility(R, 252) == pytest.approx(sd * math.sqrt(252), rel=1e-14)
        assert m.sharpe_ratio(R, 252) == pytest.approx(mean / sd * math.sqrt(252), rel=1e-14)
        dd_all = math.sqrt((0.02**2 + 0.005**2 + 0.01**2) / 6)
        dd_semi = math.sqrt((0.02**2 + 0.005**2 + 0.01**2) / 3)
        assert m.downside_deviation(R, 1) == pytest.approx(dd_all, rel=1e-14)
        assert m.downside_deviation(R, 1, semi=True) == pytest.approx(dd_semi, rel=1e-14)
        assert m.sortino_ratio(R, 252) == pytest.approx(
            mean * 252 / (dd_all * math.sqrt(252)), rel=1e-14
        )
        assert m.sortino_ratio(R, 252, semi=True) == pytest.approx(
            mean * 252 / (dd_semi * math.sqrt(252)), rel=1e-14
        )

    def test_drawdown_depth_and_duration(self) -> None:
        returns = [0.10, -0.20, 0.05, 0.25, -0.01, -0.01]
        # values 1.1, 0.88, 0.924, 1.155 (new peak), 1.14345, 1.1320155
        assert m.max_drawdown(returns) == pytest.approx(-0.2, rel=1e-14)
        assert m.max_drawdown_duration(returns) == 2
        assert m.calmar_ratio(returns, 6) == pytest.approx(m.cagr(returns, 6) / 0.2, rel=1e-14)
        assert m.max_drawdown([0.01, 0.02]) == 0.0
        assert math.isnan(m.calmar_ratio([0.01, 0.02], 252))

    def test_omega_tail_var_cvar(self) -> None:
        assert m.omega_ratio(R, 252) == pytest.approx(0.055 / 0.035, rel=1e-14)
        assert m.value_at_risk(R, 0.2) == pytest.approx(np.percentile(R, 20), rel=1e-14)
        # N = 6: cutoff 0.2 -> int(5 * 0.2) + 1 = 2 lowest; cutoff 0.1 -> the lowest only
        assert m.conditional_value_at_risk(R, 0.2) == pytest.approx(-0.015, rel=1e-14)
        assert m.conditional_value_at_risk(R, 0.1) == pytest.approx(-0.02, rel=1e-14)
        q95, q5 = np.percentile(R, 95), np.percentile(R, 5)
        assert m.tail_ratio(R) == pytest.approx(abs(q95) / abs(q5), rel=1e-14)

    def test_alpha_beta_information_ratio(self) -> None:
        bench = [0.005, -0.01, 0.01, 0.0, 0.02, -0.005]
        strat = [2 * b + 0.001 for b in bench]
        assert m.beta(strat, bench) == pytest.approx(2.0, rel=1e-12)
        assert m.alpha(strat, bench, 252) == pytest.approx(1.001**252 - 1, rel=1e-9)
        active = np.array(strat) - np.array(bench)
        expected = active.mean() / active.std(ddof=1) * math.sqrt(252)
        assert m.information_ratio(strat, bench, 252) == pytest.approx(expected, rel=1e-14)

    def test_trade_statistics(self) -> None:
        pnl = [100.0, -50.0, 30.0, -10.0, 0.0]
        assert m.win_rate(pnl) == 0.4
        assert m.profit_factor(pnl) == pytest.approx(130 / 60)
        assert m.expectancy(pnl) == 14.0
        assert m.payoff_ratio(pnl) == pytest.approx(65 / 30)
        assert m.profit_factor([1.0]) == math.inf

    def test_turnover_exposure_time_in_market(self) -> None:
        assert m.turnover([10_000.0, 0.0, 5_000.0, 0.0], [10_000.0] * 4, 252) == pytest.approx(
            (0.5 + 0.25) / 4 * 252
        )
        assert m.exposure([0.0, 5_000.0], [10_000.0, 10_000.0]) == 0.25
        assert m.time_in_market([0.0, 5_000.0, 1.0, 0.0]) == 0.5

    def test_misaligned_benchmark_raises(self) -> None:
        with pytest.raises(ConfigError, match="aligned"):
            m.beta([0.1, 0.2], [0.1])


class TestAnnualisation:
    def test_daily_weekday_and_calendar_bars(self) -> None:
        days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 6, 30), eager=True)
        assert infer_periods_per_year(days.filter(days.dt.weekday() <= 5)) == 252.0
        assert infer_periods_per_year(days) == 365.0

    def test_intraday_bars_per_session(self) -> None:
        minute = 60_000_000_000
        open_ = 14 * 60 + 30  # 14:30 UTC
        days = [19_723 + d for d in range(5)]  # 2024-01-01 .. 01-05, Monday to Friday
        ts = [d * 86_400_000_000_000 + (open_ + k) * minute for d in days for k in range(390)]
        assert infer_periods_per_year(ts) == 252.0 * 390
        hourly = [19_723 * 86_400_000_000_000 + h * 60 * minute for h in range(24 * 14)]
        assert infer_periods_per_year(hourly) == 365.0 * 24

    def test_weekly_monthly_and_too_short(self) -> None:
        week = 7 * 86_400_000_000_000
        assert infer_periods_per_year([k * week for k in range(10)]) == 52.0
        months = pl.date_range(dt.date(2020, 1, 1), dt.date(2022, 1, 1), "1mo", eager=True)
        assert infer_periods_per_year(months) == 12.0
        with pytest.raises(ConfigError, match="periods_per_year"):
            infer_periods_per_year([0])


def test_compute_metrics_from_frames() -> None:
    curve = pl.DataFrame(
        {
            "timestamp": pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 1, 5), eager=True),
            "equity": [100.0, 101.0, 99.0, 102.0, 103.0],
            "returns": [0.0, 0.01, -2 / 101, 3 / 99, 1 / 102],
            "gross_exposure": [0.0, 50.0, 50.0, 0.0, 0.0],
            "traded_notional": [0.0, 50.0, 0.0, 50.0, 0.0],
        }
    )
    trades = pl.DataFrame({"net_pnl": [2.0, -1.0]})
    out = compute_metrics(curve, trades=trades, benchmark_returns=[0.0, 0.0, 0.01, 0.0, 0.01])
    assert out["periods_per_year"] == 252.0
    assert out["total_return"] == pytest.approx(0.03, rel=1e-12)
    assert out["time_in_market"] == 0.4
    assert out["win_rate"] == 0.5
    assert {"alpha", "beta", "information_ratio", "turnover", "exposure"} <= set(out)


# -- cross-check against empyrical-reloaded on real daily returns --------------------------------
@pytest.fixture(scope="module")
def returns() -> dict[str, np.ndarray]:
    df = pl.read_csv(DATA / "sp500_3_closes.csv")
    out = {}
    for sym in ("AAPL", "MSFT", "XOM"):
        close = df.filter(pl.col("symbol") == sym).sort("date").get_column("close").to_numpy()
        out[sym] = close[1:] / close[:-1] - 1.0
    return out


REL = 1e-9


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
def test_return_and_risk_metrics_match_empyrical(
    returns: dict[str, np.ndarray], symbol: str
) -> None:
    ep = pytest.importorskip("empyrical")
    r = returns[symbol]
    bench = returns["XOM"]
    assert r.size == 1258
    checks = {
        "total_return": (m.total_return(r), ep.cum_returns_final(r)),
        "cagr": (m.cagr(r, 252), ep.annual_return(r)),
        "volatility": (m.volatility(r, 252), ep.annual_volatility(r)),
        "sharpe": (m.sharpe_ratio(r, 252), ep.sharpe_ratio(r)),
        "sharpe_rf": (m.sharpe_ratio(r, 252, 0.0001), ep.sharpe_ratio(r, risk_free=0.0001)),
        "downside": (m.downside_deviation(r, 252), ep.downside_risk(r)),
        "sortino": (m.sortino_ratio(r, 252), ep.sortino_ratio(r)),
        "sortino_req": (
            m.sortino_ratio(r, 252, 0.0005),
            ep.sortino_ratio(r, required_return=0.0005),
        ),
        "max_drawdown": (m.max_drawdown(r), ep.max_drawdown(r)),
        "calmar": (m.calmar_ratio(r, 252), ep.calmar_ratio(r)),
        "omega": (m.omega_ratio(r, 252), ep.omega_ratio(r)),
        "omega_req": (
            m.omega_ratio(r, 252, required_return=0.1),
            ep.omega_ratio(r, required_return=0.1, annualization=252),
        ),
        "tail_ratio": (m.tail_ratio(r), ep.tail_ratio(r)),
        "var": (m.value_at_risk(r), ep.value_at_risk(r)),
        "cvar": (m.conditional_value_at_risk(r), ep.conditional_value_at_risk(r)),
        "beta": (m.beta(r, bench), ep.beta(r, bench)),
        "alpha": (m.alpha(r, bench, 252), ep.alpha(r, bench)),
        "information_ratio": (
            m.information_ratio(r, bench, 252),
            ep.excess_sharpe(r, bench) * math.sqrt(252),
        ),
        "excess_sharpe": (m.information_ratio(r, bench, 1), ep.excess_sharpe(r, bench)),
        "cagr_weekly_basis": (m.cagr(r, 52), ep.annual_return(r, period="weekly")),
    }
    for name, (ours, theirs) in checks.items():
        assert ours == pytest.approx(float(theirs), rel=REL), name


def test_drawdown_series_matches_empyrical(returns: dict[str, np.ndarray]) -> None:
    stats = pytest.importorskip("empyrical.stats")
    r = returns["AAPL"]
    theirs = np.asarray(stats.drawdown_series(r), dtype=float)
    np.testing.assert_allclose(m.drawdown_series(r), theirs, rtol=REL, atol=1e-15)


# -- the vectorised implementation against straightforward references ----------------------------
def _duration_loop(returns: np.ndarray) -> int:
    longest = run = 0
    for flag in (m.drawdown_series(returns) < 0.0).tolist():
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("seed", range(20))
def test_drawdown_duration_matches_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5_000))
    r = rng.normal(0.0002 * (seed % 3 - 1), 0.01, n)
    r[rng.random(n) < 0.3] = 0.0
    assert m.max_drawdown_duration(r) == _duration_loop(r)
    assert m.max_drawdown_duration(np.abs(r)) == 0  # never below a peak
    assert m.max_drawdown_duration(-np.abs(r) - 1e-6) == n  # never recovers
    assert m.max_drawdown_duration([]) == 0


@pytest.mark.parametrize("seed", range(6))
def test_large_series_percentiles_are_numpys(seed: int) -> None:
    # above the selection threshold the tails are cut before partitioning; the order
    # statistics and hence the percentiles are numpy's, bit for bit
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40_000, 250_000))
    r = rng.standard_t(3, n) * 1e-3
    if seed % 2:
        r[rng.random(n) < 0.6] = 0.0  # flat bars: heavy ties at zero
    for q in (0.0, 0.1, 1.0, 5.0, 37.5, 50.0, 95.0, 99.9, 100.0):
        assert m.value_at_risk(r, q / 100) == float(np.percentile(r, q)), q
    assert m.tail_ratio(r) == abs(np.percentile(r, 95)) / abs(np.percentile(r, 5))
    for cutoff in (0.001, 0.05, 0.3):
        k = int((n - 1) * cutoff)
        expected = float(np.mean(np.sort(r)[: k + 1]))
        assert m.conditional_value_at_risk(r, cutoff) == pytest.approx(expected, rel=1e-12)


def test_compute_metrics_equals_the_functions() -> None:
    rng = np.random.default_rng(11)
    n = 50_000
    r = rng.normal(0.0001, 0.001, n)
    r[rng.random(n) < 0.4] = 0.0
    r[::997] = np.nan
    minute = 60_000_000_000
    ts = 19_724 * 86_400_000_000_000 + np.arange(n, dtype=np.int64) * minute
    curve = pl.DataFrame({"timestamp": ts, "returns": r})
    for rf in (0.0, 1e-6):
        out = compute_metrics(curve, risk_free=rf, periods_per_year=98_280.0, cutoff=0.01)
        p = 98_280.0
        expected = {
            "total_return": m.total_return(r),
            "cagr": m.cagr(r, p),
            "volatility": m.volatility(r, p),
            "sharpe_ratio": m.sharpe_ratio(r, p, rf),
            "sortino_ratio": m.sortino_ratio(r, p),
            "max_drawdown": m.max_drawdown(r),
            "max_drawdown_duration": float(m.max_drawdown_duration(r)),
            "calmar_ratio": m.calmar_ratio(r, p),
            "omega_ratio": m.omega_ratio(r, p, risk_free=rf),
            "tail_ratio": m.tail_ratio(r),
            "value_at_risk": m.value_at_risk(r, 0.01),
            "conditional_value_at_risk": m.conditional_value_at_risk(r, 0.01),
        }
        for name, value in expected.items():
            assert out[name] == value, name


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "equity",
    [[100.0] * 6, [100.0] * 5 + [101.0], [100.0] * 5 + [99.0], [100.0, 100.0]],
    ids=["flat", "one_up", "one_down", "two_bars"],
)
def test_flat_series_give_no_runtime_warning(equity: list[float]) -> None:
    curve = pl.DataFrame(
        {
            "timestamp": pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 1, 31), eager=True)[
                : len(equity)
            ],
            "equity": equity,
            "gross_exposure": [0.0] * len(equity),
        }
    )
    out = compute_metrics(curve, trades=pl.DataFrame({"net_pnl": [0.0]}))
    if len(set(equity)) == 1:
        assert math.isnan(out["tail_ratio"])
        assert math.isnan(out["sharpe_ratio"])
        assert out["max_drawdown_duration"] == 0.0


def test_unsorted_timestamps_still_infer_bars_per_year() -> None:
    minute = 60_000_000_000
    day = 86_400_000_000_000
    ts = [19_723 * day + d * day + k * minute for d in range(3) for k in range(390)]
    assert infer_periods_per_year(ts[::-1]) == infer_periods_per_year(ts) == 252.0 * 390


@pytest.mark.parametrize("seed", range(5))
def test_compiled_and_numpy_passes_give_the_same_numbers(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ml4t.backtest.portfolio._metrics_nb  # noqa: F401, PLC0415 - loads numba

    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 300_000))
    r = rng.standard_t(3, n) * 1e-3
    r[rng.random(n) < 0.3] = 0.0
    assert m._compiled() is not None
    compiled = (m._drawdown_stats(r), m._omega(r))
    monkeypatch.setattr(m, "_compiled", lambda: None)
    numpy_only = (m._drawdown_stats(r), m._omega(r))
    assert compiled == numpy_only
    assert numpy_only[0] == (m.max_drawdown(r), m.max_drawdown_duration(r))
