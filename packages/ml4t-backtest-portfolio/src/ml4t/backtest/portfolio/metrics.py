r"""Performance metrics with documented formulas (numpy cores, polars in and out).

Notation: ``r_t`` are simple per-bar returns (``t = 1..N``, NaN rows dropped), ``P`` the
number of bars per year (see `infer_periods_per_year`), ``b_t`` benchmark returns, ``std``
the sample standard deviation (``ddof=1``). The return/risk definitions follow empyrical
(Quantopian), and the test suite cross-checks them against ``empyrical-reloaded`` on real data:

=====================  ===========================================================================
metric                 formula
=====================  ===========================================================================
total_return           ``prod(1 + r_t) - 1``
cagr                   ``(1 + total_return) ** (P / N) - 1``
volatility             ``std(r) * sqrt(P)``
sharpe_ratio           ``mean(r - rf) / std(r - rf) * sqrt(P)``; ``rf`` per bar
downside_deviation     ``sqrt(mean(min(r - T, 0) ** 2)) * sqrt(P)``  (mean over *all* N bars)
sortino_ratio          ``mean(r - T) * P / downside_deviation``; ``T`` required return per bar
max_drawdown           ``min_t (V_t / max_{s<=t} V_s - 1)``, ``V_t = prod_{s<=t}(1 + r_s)``
max_drawdown_duration  longest run of bars with ``V_t`` below its running peak (peak to recovery)
calmar_ratio           ``cagr / |max_drawdown|``
omega_ratio            ``sum(max(x,0)) / sum(max(-x,0))``, ``x = r - rf - ((1+L)**(1/P) - 1)``
tail_ratio             ``|q95(r)| / |q5(r)|`` (numpy linear percentiles)
value_at_risk          ``q_c(r)`` (historical, linear percentile at ``c`` = 5%)
conditional_var        mean of the ``floor((N-1)*c) + 1`` lowest returns
beta                   ``cov(r, b) / var(b)`` (population moments)
alpha                  ``(1 + mean(r - rf - beta*(b - rf))) ** P - 1``
information_ratio      ``mean(r - b) / std(r - b) * sqrt(P)``
=====================  ===========================================================================

Differences from empyrical, tested both ways: empyrical's ``excess_sharpe`` is the
information ratio *not* annualised (``information_ratio / sqrt(P)``); the semi-deviation
variant of Sortino (``downside_deviation`` averaged over the losing bars only) is available
with ``semi=True``.

Portfolio and trade statistics:

=====================  ===========================================================================
turnover               ``mean_t(traded_notional_t / (2 * equity_t)) * P``  (one-way, annualised)
exposure               ``mean_t(gross_exposure_t / equity_t)``
time_in_market         share of bars with non-zero gross exposure
win_rate               ``#(net_pnl > 0) / #trades``
profit_factor          ``sum(net_pnl > 0) / |sum(net_pnl < 0)|``
expectancy             ``mean(net_pnl)`` (currency per trade)
payoff_ratio           ``mean(winning net_pnl) / |mean(losing net_pnl)|``
=====================  ===========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.compiled import compiled_twins
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.types import NS_PER_DAY
from ml4t.backtest.portfolio._frames import to_ns

__all__ = [
    "ArrayLike",
    "infer_periods_per_year",
    "total_return",
    "cagr",
    "volatility",
    "sharpe_ratio",
    "downside_deviation",
    "sortino_ratio",
    "drawdown_series",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar_ratio",
    "omega_ratio",
    "tail_ratio",
    "value_at_risk",
    "conditional_value_at_risk",
    "beta",
    "alpha",
    "information_ratio",
    "turnover",
    "exposure",
    "time_in_market",
    "win_rate",
    "profit_factor",
    "expectancy",
    "payoff_ratio",
    "compute_metrics",
    "TRADING_DAYS_PER_YEAR",
    "CALENDAR_DAYS_PER_YEAR",
]

ArrayLike: TypeAlias = npt.ArrayLike | pl.Series
TRADING_DAYS_PER_YEAR = 252  # sessions per year of an exchange calendar (no weekends)
CALENDAR_DAYS_PER_YEAR = 365  # for data with weekend bars (24/7 markets)
_HOUR = 3_600_000_000_000


def _clean(values: ArrayLike) -> npt.NDArray[np.float64]:
    # float64, 1-D, NaN dropped; the input itself (never written to) when it has no NaN
    arr = values.to_numpy() if isinstance(values, pl.Series) else np.asarray(values)
    arr = np.asarray(arr, dtype=np.float64).reshape(-1)
    nan = np.isnan(arr)
    return arr[~nan] if nan.any() else arr


def _pair(returns: ArrayLike, benchmark: ArrayLike) -> tuple[npt.NDArray[np.float64], ...]:
    r = np.asarray(returns.to_numpy() if isinstance(returns, pl.Series) else returns, float)
    b = np.asarray(benchmark.to_numpy() if isinstance(benchmark, pl.Series) else benchmark, float)
    if r.shape != b.shape:
        raise ConfigError(
            f"returns ({r.shape}) and benchmark ({b.shape}) must be aligned and of equal length"
        )
    if not (np.isnan(r).any() or np.isnan(b).any()):
        return r, b
    keep = ~(np.isnan(r) | np.isnan(b))
    return r[keep], b[keep]


def _minus(r: npt.NDArray[np.float64], c: float) -> npt.NDArray[np.float64]:
    # r - c; r itself when c == 0 (x - 0.0 is x bit for bit, -0.0 and NaN included)
    return r if c == 0.0 else r - c


def _divide(num: float, den: float) -> float:
    # IEEE num / den as numpy float64 division gives it (inf, -inf or NaN when den == 0),
    # without numpy's divide/invalid RuntimeWarnings
    if den != 0.0:
        return num / den
    if num == 0.0 or math.isnan(num):
        return math.nan
    return math.copysign(math.inf, num) * math.copysign(1.0, den)


def _power(base: float, exponent: float) -> float:
    # ``base ** exponent`` as numpy float64 gives it (NaN for a negative base and a
    # non-integer exponent, inf for 0 ** negative), without RuntimeWarnings
    if base < 0.0 and not float(exponent).is_integer():
        return math.nan
    if base == 0.0 and exponent < 0.0:
        return math.inf
    try:
        return float(base**exponent)
    except OverflowError:
        return math.inf


def infer_periods_per_year(timestamps: ArrayLike) -> float:
    """Infer bars per year from bar spacing.

    Rules (``d`` = median spacing; ``D`` = 365 days if any bar falls on a Saturday or
    Sunday in UTC — a 24/7 market — else 252 trading days)::

        d < 20 h          -> D * median number of bars per calendar day (intraday)
        20 h <= d <= 4 d  -> D                                              (daily)
        5 d <= d <= 8 d   -> 52       25 d <= d <= 35 d -> 12               (weekly, monthly)
        80 d <= d <= 100 d -> 4       350 d <= d <= 380 d -> 1              (quarterly, yearly)
        otherwise         -> 365.25 days / d

    E.g. US equity minute bars (390 per session) give ``252 * 390 = 98280``; hourly crypto
    bars give ``365 * 24 = 8760``.

    Args:
        timestamps: Int ns UTC (or a Datetime/Date polars Series), sorted, >= 2 values.

    Example:
        >>> import datetime as dt
        >>> days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 3, 1), eager=True)
        >>> infer_periods_per_year(days.filter(days.dt.weekday() <= 5))
        252.0
        >>> infer_periods_per_year(days)
        365.0
    """
    if isinstance(timestamps, pl.Series):
        dtype = timestamps.dtype
        ns = isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns"
        # a Datetime("ns") column already holds int64 ns: read them without a conversion
        series = timestamps.to_physical() if ns else to_ns(timestamps)
        t = np.asarray(series.to_numpy(), dtype=np.int64)
    else:
        t = np.asarray(timestamps, dtype=np.int64)
    if t.size < 2:
        raise ConfigError(
            f"cannot infer bars per year from {t.size} timestamp(s); pass periods_per_year"
        )
    nb = _compiled()
    if nb is not None:  # the steps' and the timestamps' extremes in one compiled pass
        steps = nb.time_steps_nb(np.ascontiguousarray(t))
        low_step, high_step, t_min, t_max = (int(v) for v in steps)
    else:
        step = np.diff(t)
        low_step, high_step = int(step.min()), int(step.max())
        # steps >= 0 without a wrapped int64 difference (their sum, t[-1] - t[0] + k * 2**64
        # after k wraps, is at most (n - 1) * high_step): sorted, the ends are the extremes
        t_min, t_max = int(t[0]), int(t[-1])
        if low_step < 0 or (t.size - 1) * high_step >= 2**64 + t_max - t_min:
            t_min, t_max = int(t.min()), int(t.max())
    # the median of equal spacings is that spacing: skip the selection for regular bars
    spacing = float(low_step) if low_step == high_step else float(np.median(np.diff(t)))
    first, last = t_min // NS_PER_DAY, t_max // NS_PER_DAY
    if low_step >= 0 and last - first < t.size:
        # sorted: the bars of each calendar day are one run; find the runs' edges by
        # binary search over the days spanned instead of dividing every timestamp
        span = np.arange(first, last + 2, dtype=np.int64)
        edges = np.searchsorted(t, span * NS_PER_DAY, side="left")
        counts = np.diff(edges)
        day_values = span[:-1][counts > 0]
        counts = counts[counts > 0]
    else:
        day_values, counts = np.unique(t // NS_PER_DAY, return_counts=True)
    weekend = bool(np.any((day_values + 3) % 7 >= 5))  # 1970-01-01 was a Thursday
    per_year = float(CALENDAR_DAYS_PER_YEAR if weekend else TRADING_DAYS_PER_YEAR)
    d = spacing / NS_PER_DAY
    if spacing < 20 * _HOUR:
        return per_year * float(np.median(counts))
    for low, high, value in (
        (20 / 24, 4.0, per_year),
        (5.0, 8.0, 52.0),
        (25.0, 35.0, 12.0),
        (80.0, 100.0, 4.0),
        (350.0, 380.0, 1.0),
    ):
        if low <= d <= high:
            return value
    return 365.25 / d


def total_return(returns: ArrayLike) -> float:
    """Return ``prod(1 + r) - 1``.

    Example:
        >>> round(total_return([0.1, -0.1]), 12)
        -0.01
    """
    r = _clean(returns)
    return float(np.prod(1.0 + r) - 1.0) if r.size else math.nan


def _cagr(total: float, n: int, periods_per_year: float) -> float:
    return _power(1.0 + total, periods_per_year / n) - 1.0


def cagr(returns: ArrayLike, periods_per_year: float) -> float:
    """Return the compound annual growth rate ``(1 + total) ** (P / N) - 1``.

    Example:
        >>> round(cagr([0.01] * 12, 12), 10)
        0.1268250301
    """
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    return _cagr(total_return(r), r.size, periods_per_year)


def volatility(returns: ArrayLike, periods_per_year: float) -> float:
    """Return ``std(r, ddof=1) * sqrt(P)``.

    Example:
        >>> round(volatility([0.01, -0.01], 252), 6)
        0.224499
    """
    r = _clean(returns)
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1) * math.sqrt(periods_per_year))


def _sharpe(excess: npt.NDArray[np.float64], sd: float, periods_per_year: float) -> float:
    if excess.size < 2 or sd == 0.0:
        return math.nan
    return float(np.mean(excess) / sd * math.sqrt(periods_per_year))


def sharpe_ratio(returns: ArrayLike, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Return ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(P)`` (`risk_free` per bar).

    Example:
        >>> round(sharpe_ratio([0.02, 0.0, 0.01], 252), 6)
        15.874508
    """
    r = _minus(_clean(returns), risk_free)
    if r.size < 2:
        return math.nan
    return _sharpe(r, float(np.std(r, ddof=1)), periods_per_year)


def downside_deviation(
    returns: ArrayLike,
    periods_per_year: float,
    required_return: float = 0.0,
    *,
    semi: bool = False,
) -> float:
    """Return the annualised downside deviation below `required_return` (per bar).

    Default (empyrical): ``sqrt(mean over all N of min(r - T, 0)**2) * sqrt(P)``. With
    ``semi=True`` the mean is over the bars below ``T`` only.

    Example:
        >>> round(downside_deviation([0.02, -0.01, -0.03, 0.0], 1), 6)
        0.015811
        >>> round(downside_deviation([0.02, -0.01, -0.03, 0.0], 1, semi=True), 6)
        0.022361
    """
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    down = np.minimum(_minus(r, required_return), 0.0)
    if semi:
        down = down[down < 0.0]
        if down.size == 0:
            return 0.0
    np.square(down, out=down)
    return float(np.sqrt(np.mean(down)) * math.sqrt(periods_per_year))


def _sortino(
    r: npt.NDArray[np.float64],
    mean_excess: float,
    periods_per_year: float,
    required_return: float,
    semi: bool,
) -> float:
    dd = downside_deviation(r, periods_per_year, required_return, semi=semi)
    if dd == 0.0:
        return math.inf if mean_excess > 0 else math.nan
    return float(mean_excess * periods_per_year / dd)


def sortino_ratio(
    returns: ArrayLike,
    periods_per_year: float,
    required_return: float = 0.0,
    *,
    semi: bool = False,
) -> float:
    """Return ``mean(r - T) * P / downside_deviation(r, P, T)``.

    Example:
        >>> round(sortino_ratio([0.02, -0.01, -0.03, 0.0], 1), 6)
        -0.316228
    """
    r = _clean(returns)
    if r.size < 2:
        return math.nan
    mean_excess = float(np.mean(_minus(r, required_return)))
    return _sortino(r, mean_excess, periods_per_year, required_return, semi)


def _growth(r: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
    # (prod(1 + r), drawdown series) with two (N + 1)-sized buffers, no other temporaries;
    # np.prod and np.cumprod multiply in the same sequential order: the product is the
    # cumulative product's last value (tests/test_metrics_speed.py checks it)
    value = np.empty(r.size + 1)
    value[0] = 1.0
    growth = value[1:]
    np.add(r, 1.0, out=growth)
    np.multiply.accumulate(growth, out=growth)  # np.cumprod(1 + r), in place
    total = float(value[-1])
    dd = np.maximum.accumulate(value)
    np.divide(value, dd, out=dd)
    np.subtract(dd, 1.0, out=dd)
    return total, dd[1:]


def drawdown_series(returns: ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``V_t / max_{s<=t} V_s - 1`` per bar, with ``V_0 = 1`` as the first peak.

    Example:
        >>> drawdown_series([0.1, -0.5, 1.0]).round(4).tolist()
        [0.0, -0.5, 0.0]
    """
    return _growth(_clean(returns))[1]


def max_drawdown(returns: ArrayLike) -> float:
    """Return the most negative drawdown (0.0 when the curve never falls).

    Example:
        >>> max_drawdown([0.1, -0.5, 1.0])
        -0.5
    """
    dd = drawdown_series(returns)
    return float(dd.min()) if dd.size else math.nan


def _longest_run(flags: npt.NDArray[np.bool_]) -> int:
    # length of the longest run of True, without a loop over the elements: the +1/-1
    # steps of the 0/1 sequence padded with 0 on both sides mark run starts and ends
    if not flags.any():
        return 0
    padded = np.zeros(flags.size + 2, dtype=np.int8)
    padded[1:-1] = flags
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max())


def _compiled() -> ModuleType | None:
    # The compiled twins (`_metrics_nb`) when numba is already loaded in this process, else
    # None: the metrics never import numba themselves (ADR 0008).
    return compiled_twins("ml4t.backtest.portfolio._metrics_nb")


def _drawdown_stats(r: npt.NDArray[np.float64]) -> tuple[float, int]:
    # (max_drawdown, max_drawdown_duration) of NaN-free returns: one compiled pass when
    # numba is loaded, else the drawdown series (the same numbers)
    nb = _compiled()
    if nb is not None:
        mdd, duration = nb.drawdown_stats_nb(np.ascontiguousarray(r))
        return float(mdd), int(duration)
    dd = _growth(r)[1]
    return float(dd.min()), _longest_run(dd < 0.0)


def max_drawdown_duration(returns: ArrayLike) -> int:
    """Return the longest number of bars spent below a previous peak.

    A drawdown starts on the first bar below the peak and lasts until (excluding) the bar
    that sets a new peak, or until the last bar if it never recovers.

    Example:
        >>> max_drawdown_duration([0.1, -0.1, 0.05, 0.2, -0.01])
        2
    """
    return _longest_run(drawdown_series(returns) < 0.0)


def calmar_ratio(returns: ArrayLike, periods_per_year: float) -> float:
    """Return ``cagr / |max_drawdown|`` (NaN without a drawdown)."""
    mdd = max_drawdown(returns)
    if not mdd < 0.0:
        return math.nan
    return cagr(returns, periods_per_year) / abs(mdd)


def _omega(x: npt.NDArray[np.float64]) -> float:
    # numpy sums the same values in the same order as x[x < 0].sum(): the same numbers
    nb = _compiled()
    if nb is not None:
        buffer = np.empty((2, x.shape[0]))
        neg, pos = nb.split_signs_nb(np.ascontiguousarray(x), buffer[0], buffer[1])
    else:
        neg = np.compress(x < 0.0, x)  # x[x < 0.0], without fancy indexing's overhead
        pos = np.compress(x > 0.0, x)
    losses = -float(neg.sum())
    return float(pos.sum()) / losses if losses > 0.0 else math.nan


def omega_ratio(
    returns: ArrayLike,
    periods_per_year: float,
    *,
    risk_free: float = 0.0,
    required_return: float = 0.0,
) -> float:
    """Return gains over losses around the per-bar threshold of annual `required_return`.

    Formula::

        x = r - risk_free - ((1 + required_return) ** (1 / P) - 1)
        omega = sum(x[x > 0]) / -sum(x[x < 0])

    Example:
        >>> omega_ratio([0.02, -0.01, 0.01], 252)
        3.0
    """
    r = _clean(returns)
    if r.size < 2 or required_return <= -1.0:
        return math.nan
    threshold = (1.0 + required_return) ** (1.0 / periods_per_year) - 1.0
    return _omega(_minus(_minus(r, risk_free), threshold))


# -- order statistics ------------------------------------------------------------------------
# Percentiles and CVaR need a few order statistics of the returns. Below `_SELECT_MIN`
# values they come from numpy on the whole array. Above it, a strided sample gives a
# threshold that (checked, not assumed) keeps every value up to the wanted rank; only
# those few candidates are partitioned. An order statistic is one exact value of the
# data, so the results are the same numbers as from np.percentile; only the CVaR mean
# may differ in the last bit (it sums the same values in another order).
_SELECT_MIN = 1 << 15
_SAMPLE = 4096


def _tail(
    r: npt.NDArray[np.float64], rank: int, *, upper: bool
) -> tuple[npt.NDArray[np.float64], int] | None:
    # (candidates, offset): every value of r with an ascending rank <= `rank` (or >= `rank`
    # when `upper`) is in candidates, where it has rank - offset. None when no cheap cut.
    n = r.size
    if n < _SELECT_MIN:
        return None
    cut = _cut(_sample(r), n, rank, upper=upper)
    if cut is None:
        return None
    # (numpy's filter: no compiled kernel to load on a process's first long series)
    if upper:
        cand = np.compress(r >= cut, r)  # r[r >= cut], without fancy indexing's overhead
        offset = n - cand.size
        return (cand, offset) if rank >= offset else None
    cand = np.compress(r <= cut, r)
    return (cand, 0) if cand.size > rank else None


def _sample(r: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # the sorted strided sample `_tail` takes its thresholds from
    return np.sort(r[:: max(r.size // _SAMPLE, 1)])


def _order_stats(r: npt.NDArray[np.float64], ranks: list[int]) -> dict[int, float]:
    # the values of the given ascending ranks (0-based) of r
    out: dict[int, float] = {}
    n = r.size
    low = [k for k in ranks if k < n // 2]
    high = [k for k in ranks if k >= n // 2]
    for group, upper in ((low, False), (high, True)):
        if not group:
            continue
        found = _tail(r, max(group) if not upper else min(group), upper=upper)
        cand, offset = found if found is not None else (r, 0)
        kth = sorted({k - offset for k in group})
        part = np.partition(cand, kth)
        out.update({k: float(part[k - offset]) for k in group})
    return out


def _percentiles(r: npt.NDArray[np.float64], qs: list[float]) -> list[float]:
    # np.percentile(r, q) (method "linear") for each q in `qs`, r non-empty and NaN-free
    n = r.size
    if n < _SELECT_MIN:
        return [float(v) for v in np.percentile(r, qs)]
    spots = []
    for q in qs:
        # numpy's arithmetic, operation by operation (numpy.lib._function_base_impl:
        # _compute_virtual_index for alpha = beta = 1, _get_indexes, _get_gamma, _lerp)
        v = (n - 1) * (q / 100)
        prev = math.floor(v)
        if v >= n - 1:
            lo = hi = n - 1
            prev = -1
        elif v < 0:
            lo = hi = prev = 0
        else:
            lo, hi = prev, prev + 1
        spots.append((v, prev, lo, hi))
    stats = _order_stats(r, sorted({s for _, _, lo, hi in spots for s in (lo, hi)}))
    return [_lerp(v, prev, stats[lo], stats[hi]) for v, prev, lo, hi in spots]


def _lerp(v: float, prev: int, a: float, b: float) -> float:
    # numpy's _lerp between the order statistics a <= b at virtual index v (floor prev)
    gamma = v - prev
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def _cut(sample: npt.NDArray[np.float64], n: int, rank: int, *, upper: bool) -> float | None:
    # `_tail`'s threshold for `rank` from its sorted strided sample (None: no cheap cut)
    m = sample.size
    p = (rank + 1) / n if not upper else (n - rank) / n
    margin = 4.0 * math.sqrt(m * p * (1.0 - p)) + 8.0
    j = math.ceil(p * m + margin)
    if j >= m // 2:
        return None
    return float(sample[m - 1 - j] if upper else sample[j])


def _cvar(r: npt.NDArray[np.float64], cutoff: float) -> float:
    k = int((r.size - 1) * cutoff)
    found = _tail(r, k, upper=False)
    cand = found[0] if found is not None else r
    return float(np.mean(np.partition(cand, k)[: k + 1]))


def tail_ratio(returns: ArrayLike) -> float:
    """Return ``|percentile(r, 95)| / |percentile(r, 5)|`` (inf or NaN when the 5th is 0).

    Example:
        >>> round(tail_ratio([-0.02, -0.01, 0.0, 0.01, 0.04]), 6)
        1.888889
        >>> tail_ratio([0.0, 0.0, 0.0])  # a flat series: 0 / 0, without a RuntimeWarning
        nan
    """
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    q95, q5 = _percentiles(r, [95.0, 5.0])
    return _divide(abs(q95), abs(q5))


def value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    """Return the historical VaR: the `cutoff` percentile of returns (a negative number).

    Example:
        >>> value_at_risk([-0.05, -0.02, 0.0, 0.01, 0.03], cutoff=0.25)
        -0.02
    """
    r = _clean(returns)
    return _percentiles(r, [100.0 * cutoff])[0] if r.size else math.nan


def conditional_value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    """Return the mean of the ``floor((N - 1) * cutoff) + 1`` lowest returns.

    Example:
        >>> conditional_value_at_risk([-0.05, -0.02, 0.0, 0.01, 0.03], cutoff=0.25)
        -0.035
    """
    r = _clean(returns)
    return _cvar(r, cutoff) if r.size else math.nan


def beta(returns: ArrayLike, benchmark: ArrayLike, risk_free: float = 0.0) -> float:
    """Return ``cov(r - rf, b - rf) / var(b - rf)`` (population moments; NaN pairs dropped)."""
    r, b = _pair(returns, benchmark)
    if r.size < 2:
        return math.nan
    r = r - risk_free
    b = b - risk_free
    centred = b - b.mean()
    var = float(np.mean(centred**2))
    if var < 1e-30:
        return math.nan
    return float(np.mean(centred * r) / var)


def alpha(
    returns: ArrayLike, benchmark: ArrayLike, periods_per_year: float, risk_free: float = 0.0
) -> float:
    """Return the annualised alpha ``(1 + mean(r - rf - beta * (b - rf))) ** P - 1``."""
    r, b = _pair(returns, benchmark)
    if r.size < 2:
        return math.nan
    bt = beta(r, b, risk_free)
    series = (r - risk_free) - bt * (b - risk_free)
    return float((1.0 + np.mean(series)) ** periods_per_year - 1.0)


def information_ratio(returns: ArrayLike, benchmark: ArrayLike, periods_per_year: float) -> float:
    """Return ``mean(r - b) / std(r - b, ddof=1) * sqrt(P)``.

    empyrical's ``excess_sharpe`` equals ``information_ratio(r, b, 1)``.
    """
    r, b = _pair(returns, benchmark)
    active = r - b
    if active.size < 2:
        return math.nan
    sd = float(np.std(active, ddof=1))
    if sd == 0.0:
        return math.nan
    return float(np.mean(active) / sd * math.sqrt(periods_per_year))


def turnover(traded_notional: ArrayLike, equity: ArrayLike, periods_per_year: float) -> float:
    """Return annualised one-way turnover ``mean(traded / (2 * equity)) * P``.

    Example:
        >>> turnover([2000.0, 0.0], [1000.0, 1000.0], 252)
        126.0
    """
    traded, eq = _pair(traded_notional, equity)
    ok = eq > 0.0
    if not ok.any():
        return math.nan
    if not ok.all():
        traded, eq = traded[ok], eq[ok]
    return float(np.mean(traded / (2.0 * eq)) * periods_per_year)


def exposure(gross_exposure: ArrayLike, equity: ArrayLike) -> float:
    """Return the mean of ``gross_exposure / equity`` over bars with equity > 0."""
    gross, eq = _pair(gross_exposure, equity)
    ok = eq > 0.0
    if not ok.any():
        return math.nan
    if not ok.all():
        gross, eq = gross[ok], eq[ok]
    return float(np.mean(gross / eq))


def time_in_market(gross_exposure: ArrayLike) -> float:
    """Return the share of bars with a non-zero gross exposure."""
    g = _clean(gross_exposure)
    return float(np.mean(g != 0.0)) if g.size else math.nan


def win_rate(net_pnl: ArrayLike) -> float:
    """Return the share of trades with ``net_pnl > 0``.

    Example:
        >>> win_rate([10.0, -5.0, 0.0, 20.0])
        0.5
    """
    p = _clean(net_pnl)
    return float(np.mean(p > 0.0)) if p.size else math.nan


def profit_factor(net_pnl: ArrayLike) -> float:
    """Return gross profit over gross loss (inf with no losing trade).

    Example:
        >>> profit_factor([10.0, -5.0, 0.0, 20.0])
        6.0
    """
    p = _clean(net_pnl)
    if p.size == 0:
        return math.nan
    loss = -float(p[p < 0.0].sum())
    gain = float(p[p > 0.0].sum())
    return gain / loss if loss > 0.0 else (math.inf if gain > 0.0 else math.nan)


def expectancy(net_pnl: ArrayLike) -> float:
    """Return the mean net P&L per trade.

    Example:
        >>> expectancy([10.0, -5.0, 0.0, 20.0])
        6.25
    """
    p = _clean(net_pnl)
    return float(np.mean(p)) if p.size else math.nan


def payoff_ratio(net_pnl: ArrayLike) -> float:
    """Return the mean winning trade over the absolute mean losing trade.

    Example:
        >>> payoff_ratio([10.0, -5.0, 0.0, 20.0])
        3.0
    """
    p = _clean(net_pnl)
    wins = p[p > 0.0]
    losses = p[p < 0.0]
    if wins.size == 0 or losses.size == 0:
        return math.nan
    return float(np.mean(wins) / abs(np.mean(losses)))


class _Pieces(NamedTuple):
    # the elementwise work shared by the return metrics (NaN-free returns, n >= 1)
    total: float  # prod(1 + r) - 1
    mdd: float
    duration: int
    dev2_sum: float  # sum((r - mean(r)) ** 2), np.std's sum of squared deviations
    down2_mean: float  # mean(min(r, 0) ** 2), downside_deviation's
    neg_sum: float  # sum(r[r < 0])
    pos_sum: float  # sum(r[r > 0])
    low: npt.NDArray[np.float64] | None  # r[r <= low cut], None without a cut
    high: npt.NDArray[np.float64] | None  # r[r >= high cut]


def _pieces(
    r: npt.NDArray[np.float64], mean: float, low_cut: float, high_cut: float, caps: tuple[int, int]
) -> _Pieces:
    # Compiled passes when numba is loaded, else numpy: the same numbers (numpy's elementwise
    # operations and its summation order; see `_metrics_nb`). A NaN cut: no filter. The
    # compiled sums need no dense temporaries: fresh memory costs more than the arithmetic,
    # and the candidate buffers have the sizes `caps` the sample predicts (a larger count:
    # numpy filters instead).
    n = r.size
    nb = _compiled()
    cut_low, cut_high = not math.isnan(low_cut), not math.isnan(high_cut)
    if nb is not None:
        r = np.ascontiguousarray(r)
        low = np.empty(caps[0] + 1 if cut_low else 1)
        high = np.empty(caps[1] + 1 if cut_high else 1)
        value, mdd, duration, n_low, n_high = nb.returns_pass_nb(r, low_cut, high_cut, low, high)
        low_cand = low[:n_low] if n_low < low.size else np.compress(r <= low_cut, r)
        high_cand = high[:n_high] if n_high < high.size else np.compress(r >= high_cut, r)
        dev2_sum, down2_sum = nb.squares_sums_nb(r, mean)
        n_neg, n_pos = np.count_nonzero(r < 0.0), np.count_nonzero(r > 0.0)
        neg_sum, pos_sum = nb.signed_sums_nb(r, n_neg, n_pos)
        return _Pieces(
            float(value) - 1.0,
            float(mdd),
            int(duration),
            float(dev2_sum),
            float(np.float64(down2_sum) / n),  # np.mean: the sum over the count
            float(neg_sum),
            float(pos_sum),
            low_cand if cut_low else None,
            high_cand if cut_high else None,
        )
    value, dd = _growth(r)
    work = np.subtract(r, mean)  # np.var: subtract the mean, square in place, sum
    np.square(work, out=work)
    dev2_sum = float(np.add.reduce(work))
    np.minimum(r, 0.0, out=work)  # downside_deviation: min(r - 0, 0) ** 2, mean
    np.square(work, out=work)
    return _Pieces(
        value - 1.0,
        float(dd.min()),
        _longest_run(dd < 0.0),
        dev2_sum,
        float(np.mean(work)),
        float(np.compress(r < 0.0, r).sum()),
        float(np.compress(r > 0.0, r).sum()),
        np.compress(r <= low_cut, r) if cut_low else None,
        np.compress(r >= high_cut, r) if cut_high else None,
    )


def _tails(
    r: npt.NDArray[np.float64], cutoff: float
) -> tuple[float, float, tuple[int, int], Callable[[_Pieces], tuple[float, float, float, float]]]:
    # (low cut, high cut, caps, finish): caps are generous sizes of the candidate sets the
    # sample predicts; finish(pieces) -> (VaR, q95, q5, CVaR), the numbers of
    # _percentiles(r, [100 * cutoff, 95, 5]) and _cvar(r, cutoff). On a long series with the
    # default cutoff (VaR = q5, CVaR over the same lowest values) one filter per tail serves
    # both: CVaR's candidates (the same as `_tail` picks, in order, so its mean is the same)
    # also hold q5's two order statistics, and a value's rank does not depend on how it was
    # selected. Otherwise the cuts are NaN and finish() is the separate computation.
    n = r.size
    nan = math.nan
    k = int((n - 1) * cutoff)
    v5, v95 = (n - 1) * (5.0 / 100), (n - 1) * (95.0 / 100)
    lo5, lo95 = math.floor(v5), math.floor(v95)

    def separate(_: _Pieces) -> tuple[float, float, float, float]:
        q_var, q95, q5 = _percentiles(r, [100.0 * cutoff, 95.0, 5.0])
        return q_var, q95, q5, _cvar(r, cutoff)

    simple = 100.0 * cutoff == 5.0 and k == lo5 and v5 >= 0 and v95 < n - 1
    if n < _SELECT_MIN or not simple or not (lo5 + 1 < n // 2 <= lo95):
        return nan, nan, (0, 0), separate
    sample = _sample(r)
    low_cut = _cut(sample, n, k, upper=False)
    high_cut = _cut(sample, n, lo95, upper=True)
    m = sample.size
    in_sample = (
        int(np.searchsorted(sample, low_cut, side="right")) if low_cut is not None else m,
        m - int(np.searchsorted(sample, high_cut, side="left")) if high_cut is not None else m,
    )
    caps = (min(n, 2 * (n * in_sample[0] // m) + 4096), min(n, 2 * (n * in_sample[1] // m) + 4096))

    def finish(pieces: _Pieces) -> tuple[float, float, float, float]:
        low = pieces.low if pieces.low is not None and pieces.low.size > k + 1 else None
        if low is None and pieces.low is not None and pieces.low.size > k:
            return separate(pieces)  # (CVaR's candidates lack q5's upper neighbour)
        # (the candidates are this call's own arrays: partitioned in place, no copy;
        # np.partition(a, k) is a.copy().partition(k))
        if low is not None:
            low.partition(k)
        part = low if low is not None else np.partition(r, k)
        cvar = float(np.mean(part[: k + 1]))
        q5 = _lerp(v5, lo5, float(part[k]), float(part[k + 1 :].min()))
        high, offset = (r, 0) if pieces.high is None else (pieces.high, n - pieces.high.size)
        if lo95 < offset:
            high, offset = r, 0
        kth = [lo95 - offset, lo95 + 1 - offset]
        if high is r:
            high = np.partition(r, kth)
        else:
            high.partition(kth)
        top = high
        q95 = _lerp(v95, lo95, float(top[lo95 - offset]), float(top[lo95 + 1 - offset]))
        return q5, q95, q5, cvar

    return (
        nan if low_cut is None else low_cut,
        nan if high_cut is None else high_cut,
        caps,
        finish,
    )


def _return_metrics(
    r: npt.NDArray[np.float64],
    ppy: float,
    risk_free: float,
    cutoff: float,
    r_sum: np.float64 | None = None,
) -> dict[str, float]:
    # compute_metrics' return metrics of NaN-free returns r, each the public function's value
    # (r_sum: np.add.reduce(r) when known)
    n = r.size
    nan = math.nan
    if n == 0:
        return {
            "total_return": nan,
            "cagr": nan,
            "volatility": nan,
            "sharpe_ratio": nan,
            "sortino_ratio": nan,
            "max_drawdown": nan,
            "max_drawdown_duration": 0.0,
            "calmar_ratio": nan,
            "omega_ratio": nan,
            "tail_ratio": nan,
            "value_at_risk": nan,
            "conditional_value_at_risk": nan,
        }
    # np.float64: np.std's mean, and sharpe's and sortino's (np.mean is the sum over n)
    mean = np.mean(r) if r_sum is None else r_sum / n
    low_cut, high_cut, caps, finish = _tails(r, cutoff)
    pieces = _pieces(r, float(mean), low_cut, high_cut, caps)
    total, mdd = pieces.total, pieces.mdd
    growth_rate = _cagr(total, n, ppy)
    q_var, q95, q5, cvar = finish(pieces)
    out = {"total_return": total, "cagr": growth_rate}
    if n >= 2:
        # np.std(r, ddof=1): sqrt(sum((r - mean) ** 2) / (n - 1)), numpy's operations
        sd = float(np.sqrt(np.float64(pieces.dev2_sum) / (n - 1)))
        excess = _minus(r, risk_free)
        sd_excess = sd if excess is r else float(np.std(excess, ddof=1))
        # downside_deviation(r, P): sqrt(mean(min(r, 0) ** 2)) * sqrt(P)
        down = float(np.sqrt(np.float64(pieces.down2_mean)) * math.sqrt(ppy))
        # (_sortino's rule: inf for a positive mean without a downside, else NaN)
        sortino = float(mean * ppy / down) if down != 0.0 else (math.inf if mean > 0 else nan)
        if excess is r:
            losses = -pieces.neg_sum
            omega = pieces.pos_sum / losses if losses > 0.0 else nan
        else:
            omega = _omega(excess)
        out |= {
            "volatility": float(sd * math.sqrt(ppy)),
            "sharpe_ratio": _sharpe(excess, sd_excess, ppy)
            if excess is not r
            else (nan if sd == 0.0 else float(mean / sd * math.sqrt(ppy))),
            "sortino_ratio": sortino,
        }
    else:
        omega = nan
        out |= {"volatility": nan, "sharpe_ratio": nan, "sortino_ratio": nan}
    return out | {
        "max_drawdown": mdd,
        "max_drawdown_duration": float(pieces.duration),
        "calmar_ratio": growth_rate / abs(mdd) if mdd < 0.0 else nan,
        # the threshold of required_return 0 is 1.0 ** (1 / P) - 1 = 0.0: x = r - rf
        "omega_ratio": omega,
        "tail_ratio": _divide(abs(q95), abs(q5)),
        "value_at_risk": q_var,
        "conditional_value_at_risk": cvar,
    }


def _exposure_stats(gross: pl.Series, equity: pl.Series) -> tuple[float, float]:
    # (exposure(gross, equity), time_in_market(gross)) sharing the checks of both columns
    g, e = _floats(gross, equity)
    nb = _compiled()
    if nb is not None:
        k, valid, nonzero = (int(v) for v in nb.exposure_counts_nb(g, e))
    else:
        nan_g = np.isnan(g)
        n_nan = int(np.count_nonzero(nan_g)) if nan_g.any() else 0
        ok = e > 0.0  # (False where equity is NaN)
        if n_nan:
            ok &= ~nan_g
        k = int(np.count_nonzero(ok))
        valid = g.size - n_nan
        nonzero = int(np.count_nonzero(g != 0.0)) - n_nan  # (NaN != 0)
    # mean(bools) sums ones exactly: the count over the size, correctly rounded either way
    in_market = nonzero / valid if valid else math.nan
    if k == 0:
        return math.nan, in_market
    if k == g.size:  # every bar counts (the usual case): mean(g / e)
        if nb is not None:  # numpy's sum of the quotients, without the quotient array
            return float(np.float64(nb.ratio_sum_nb(g, e)) / k), in_market
        return float(np.mean(g / e)), in_market
    ok = (e > 0.0) & ~np.isnan(g)  # exposure(): drop NaN pairs and bars without equity
    return float(np.mean(np.compress(ok, g) / np.compress(ok, e))), in_market


def _floats(a: pl.Series, b: pl.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    # two equally long columns as contiguous float64 arrays (`_pair`'s length check)
    x = np.ascontiguousarray(a.to_numpy(), dtype=np.float64)
    y = np.ascontiguousarray(b.to_numpy(), dtype=np.float64)
    if x.shape != y.shape:
        raise ConfigError(
            f"returns ({x.shape}) and benchmark ({y.shape}) must be aligned and of equal length"
        )
    return x, y


def _trade_stats(p: npt.NDArray[np.float64]) -> dict[str, float]:
    # win_rate, profit_factor, expectancy and payoff_ratio of NaN-free net P&L, sharing the
    # masks and the filtered arrays
    nan = math.nan
    wins = np.compress(p > 0.0, p)
    losses = np.compress(p < 0.0, p)
    if p.size:
        loss = -float(losses.sum())
        gain = float(wins.sum())
        factor = gain / loss if loss > 0.0 else (math.inf if gain > 0.0 else nan)
        rate = wins.size / p.size  # mean(p > 0): the count over the size
        mean = float(np.mean(p))
    else:
        rate = factor = mean = nan
    payoff = float(np.mean(wins) / abs(np.mean(losses))) if wins.size and losses.size else nan
    return {"win_rate": rate, "profit_factor": factor, "expectancy": mean, "payoff_ratio": payoff}


def compute_metrics(
    equity_curve: pl.DataFrame,
    *,
    trades: pl.DataFrame | None = None,
    benchmark_returns: ArrayLike | None = None,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
    cutoff: float = 0.05,
) -> dict[str, float]:
    """Compute every metric of this module from result frames.

    Args:
        equity_curve: Frame with ``timestamp`` and ``returns`` (or ``equity``); the exposure
            metrics use ``gross_exposure`` and ``traded_notional`` when present.
        trades: Trades frame with ``net_pnl`` for the trade statistics.
        benchmark_returns: Per-bar benchmark returns aligned with the equity curve.
        periods_per_year: Bars per year; inferred from ``timestamp`` when None.
        risk_free: Risk-free return per bar.
        cutoff: Tail probability of VaR and CVaR.

    Returns:
        Metric name -> value (NaN when undefined).
    """
    if periods_per_year is None:
        periods_per_year = infer_periods_per_year(equity_curve.get_column("timestamp"))
    ppy = float(periods_per_year)
    if "returns" in equity_curve.columns:
        r_all = np.asarray(equity_curve.get_column("returns").to_numpy(), dtype=np.float64)
    else:
        eq = np.asarray(equity_curve.get_column("equity").to_numpy(), dtype=np.float64)
        r_all = eq[1:] / eq[:-1] - 1.0
    # Every value below is the public function's, computed once from shared pieces (see
    # `_pieces`): the same numbers, bit for bit (tests/test_metrics_speed.py).
    out: dict[str, float] = {"periods_per_year": ppy}
    # a sum that is not NaN proves the returns NaN-free (NaN propagates), without a mask;
    # it is also np.mean's sum
    total = np.add.reduce(r_all)
    r = _clean(r_all) if math.isnan(total) else r_all
    out |= _return_metrics(r, ppy, risk_free, cutoff, None if r is not r_all else total)
    if benchmark_returns is not None:
        # bar by bar against the benchmark: the returns with their NaN rows (`_pair` drops
        # the bars where either side is NaN), not `r`, which has them removed
        out["beta"] = beta(r_all, benchmark_returns, risk_free)
        out["alpha"] = alpha(r_all, benchmark_returns, ppy, risk_free)
        out["information_ratio"] = information_ratio(r_all, benchmark_returns, ppy)
    cols = equity_curve.columns
    if "equity" in cols and "gross_exposure" in cols:
        equity = equity_curve.get_column("equity")
        gross = equity_curve.get_column("gross_exposure")
        out["exposure"], out["time_in_market"] = _exposure_stats(gross, equity)
        if "traded_notional" in cols:
            traded = equity_curve.get_column("traded_notional")
            out["turnover"] = turnover(traded, equity, ppy)
    if trades is not None:
        out["trade_count"] = float(trades.height)
        out |= _trade_stats(_clean(trades.get_column("net_pnl")))
    return out
