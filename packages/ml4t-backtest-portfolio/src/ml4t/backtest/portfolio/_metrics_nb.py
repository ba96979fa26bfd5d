"""Compiled twins of the metric passes, used only when numba is already loaded.

`metrics` computes the drawdown depth and duration, the sign split, the squared deviations
and the tail candidates of the returns, the exposure ratios and the timestamp steps with
numpy; on a long series (a million minute bars) these one-pass loops are several times
faster. Importing numba costs about 60 MB and a second, so `metrics` uses them only in a
process that has loaded numba for something else (the signal fast path, priced orders); the
numbers are the same either way: the loops do numpy's elementwise arithmetic, and every sum
is left to numpy (its pairwise order), see tests/test_metrics.py and
tests/test_metrics_speed.py.
"""

# Plain `if x < m: m = x` updates: numba compiles min()/max() into far slower code.
# ruff: noqa: PLR1730

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "drawdown_stats_nb",
    "exposure_counts_nb",
    "ratio_sum_nb",
    "returns_pass_nb",
    "signed_sums_nb",
    "split_signs_nb",
    "squares_sums_nb",
    "time_steps_nb",
]


@njit(cache=True, nogil=True)
def drawdown_stats_nb(r: npt.NDArray[np.float64]) -> tuple[float, int]:
    """Return (max drawdown, longest drawdown in bars) in one pass over the returns.

    The same operations as `metrics._growth` (cumulative product of ``1 + r``, running peak
    with np.maximum's NaN rule, ``value / peak - 1``), np.min's NaN rule and
    `metrics._longest_run` of ``drawdown < 0``.
    """
    value = 1.0
    peak = 1.0
    worst = np.inf
    nan = False
    longest = 0
    run = 0
    for t in range(r.shape[0]):
        value = value * (1.0 + r[t])
        if not (peak >= value or math.isnan(peak)):
            peak = value
        dd = value / peak - 1.0
        if math.isnan(dd):
            nan = True
        elif dd < worst:
            worst = dd
        if dd < 0.0:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    return (math.nan if nan else worst), longest


@njit(cache=True, nogil=True)
def split_signs_nb(
    x: npt.NDArray[np.float64], neg: npt.NDArray[np.float64], pos: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return ``(x[x < 0], x[x > 0])`` in one pass, in order, in the given buffers."""
    n_neg = 0
    n_pos = 0
    for v in x:  # branch-free: write always, advance only past a kept value
        neg[n_neg] = v
        n_neg += v < 0.0
        pos[n_pos] = v
        n_pos += v > 0.0
    return neg[:n_neg], pos[:n_pos]


@njit(cache=True, nogil=True)
def time_steps_nb(t: npt.NDArray[np.int64]) -> tuple[int, int, int, int]:
    """Return (min step, max step, min, max) of int64 timestamps (at least two).

    The steps are ``np.diff(t)``'s (int64, wrapping as numpy's do); the same numbers as
    ``np.diff(t).min()``, ``np.diff(t).max()``, ``t.min()`` and ``t.max()`` in one pass.
    """
    low_step = t[1] - t[0]
    high_step = low_step
    low = t[0]
    high = t[0]
    for i in range(1, t.shape[0]):  # (plain comparisons: min()/max() compile far slower)
        step = t[i] - t[i - 1]
        if step < low_step:
            low_step = step
        if step > high_step:
            high_step = step
        v = t[i]
        if v < low:
            low = v
        if v > high:
            high = v
    return low_step, high_step, low, high


@njit(cache=True, nogil=True, error_model="numpy")
def returns_pass_nb(
    r: npt.NDArray[np.float64],
    low_cut: float,
    high_cut: float,
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
) -> tuple[float, float, int, int, int]:
    """One pass over NaN-free returns for every return metric's elementwise part.

    Returns ``(prod(1 + r), max drawdown, longest drawdown, #low, #high)`` and fills, in
    order:

    - ``low[:#low] = r[r <= low_cut]``, ``high[:#high] = r[r >= high_cut]`` (the tail
      candidates of the percentiles and CVaR; none with a NaN cut), unless a count reaches
      its buffer's size (the caller then filters itself).

    The product is the sequential one of np.prod and np.cumprod (``(1 + r[0]) * (1 + r[1])
    * ...``). The drawdown numbers are `drawdown_stats_nb`'s without its division per bar:
    while the curve stays finite the peak P is finite and >= 1, so ``V / P - 1 < 0`` exactly
    when ``V < P`` (a correctly rounded quotient of V < P is below 1), and as
    ``x -> x / P - 1`` is monotonic (correct rounding is), the deepest drawdown under one
    peak is that of the lowest value under it. A curve that reaches inf or NaN never comes
    back (inf * x, NaN * x), so a finite last value means a finite curve; otherwise
    `drawdown_stats_nb` itself gives the numbers.
    """
    value = 1.0
    peak = 1.0
    bottom = np.inf  # the lowest value under the current peak
    worst = np.inf
    longest = 0
    run = 0
    n_low = 0
    n_high = 0
    for t in range(r.shape[0]):
        x = r[t]
        value = value * (1.0 + x)
        if value > peak:  # a new peak: close the drawdown under the old one
            dd = bottom / peak - 1.0
            if dd < worst:
                worst = dd
            peak = value
            bottom = value
        elif value < bottom:
            bottom = value
        if value < peak:
            run += 1
            if run > longest:
                longest = run
        else:
            run = 0
        # branch-free compaction: write always, advance only past a kept value (while the
        # buffer lasts: the counts go on, a count >= the buffer's size means it overflowed)
        if n_low < low.shape[0]:
            low[n_low] = x
        n_low += x <= low_cut
        if n_high < high.shape[0]:
            high[n_high] = x
        n_high += x >= high_cut
    dd = bottom / peak - 1.0
    if dd < worst:
        worst = dd
    if not math.isfinite(value):
        worst, longest = drawdown_stats_nb(r)
    return value, worst, longest, n_low, n_high


@njit(cache=True, nogil=True)
def exposure_counts_nb(
    gross: npt.NDArray[np.float64], equity: npt.NDArray[np.float64]
) -> tuple[int, int, int]:
    """Return ``(#(equity > 0 and gross not NaN), #(gross not NaN), #(gross not NaN, != 0))``.

    The counts `metrics.exposure` and `metrics.time_in_market` filter by, in one pass.
    """
    ok = 0
    valid = 0
    nonzero = 0
    for t in range(gross.shape[0]):
        g = gross[t]
        if not math.isnan(g):
            valid += 1
            nonzero += g != 0.0
            ok += equity[t] > 0.0
    return ok, valid, nonzero


# -- numpy's summation order ------------------------------------------------------------------
# np.add.reduce over a contiguous float64 array is ``0.0 + pairwise(a)`` with numpy's
# pairwise_sum (numpy/_core/src/umath/loops_utils.h.src): below 8 values a plain loop from
# 0.0; up to 128 values eight interleaved accumulators combined as ((0+1)+(2+3))+((4+5)+(6+7))
# and the remainder added one by one; above, a split at half rounded down to a multiple of 8.
# The kernels below sum values computed on the fly in that order: the same bits as numpy's
# sum of the materialised array, without writing (and first touching) that array. The tree
# is walked without recursion. tests/test_metrics_speed.py checks them against numpy.


@njit(cache=True, nogil=True, inline="always")
def _negative_part(x: float) -> float:
    # np.minimum(x, 0.0) for a non-NaN x, up to the sign of a zero (squared away)
    return x if x < 0.0 else 0.0


@njit(cache=True, nogil=True)
def _leaf(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    # a leaf (n <= 128) of numpy's pairwise sum of a
    if n < 8:
        s = 0.0
        for i in range(lo, lo + n):
            s += a[i]
        return s
    s0, s1, s2, s3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    s4, s5, s6, s7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    end = lo + n - n % 8
    i = lo + 8
    while i < end:
        s0 += a[i]
        s1 += a[i + 1]
        s2 += a[i + 2]
        s3 += a[i + 3]
        s4 += a[i + 4]
        s5 += a[i + 5]
        s6 += a[i + 6]
        s7 += a[i + 7]
        i += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while i < lo + n:
        s += a[i]
        i += 1
    return float(s)


@njit(cache=True, nogil=True)
def _squares_leaf(r: npt.NDArray[np.float64], lo: int, n: int, mean: float) -> tuple[float, float]:
    # `_leaf` of (r - mean) ** 2 and of min(r, 0) ** 2 over r[lo:lo + n], side by side
    if n < 8:
        s = 0.0
        q = 0.0
        for i in range(lo, lo + n):
            d = r[i] - mean
            s += d * d
            m = _negative_part(r[i])
            q += m * m
        return s, q
    d = r[lo + 0] - mean
    s0 = d * d
    d = r[lo + 1] - mean
    s1 = d * d
    d = r[lo + 2] - mean
    s2 = d * d
    d = r[lo + 3] - mean
    s3 = d * d
    d = r[lo + 4] - mean
    s4 = d * d
    d = r[lo + 5] - mean
    s5 = d * d
    d = r[lo + 6] - mean
    s6 = d * d
    d = r[lo + 7] - mean
    s7 = d * d
    m = _negative_part(r[lo + 0])
    q0 = m * m
    m = _negative_part(r[lo + 1])
    q1 = m * m
    m = _negative_part(r[lo + 2])
    q2 = m * m
    m = _negative_part(r[lo + 3])
    q3 = m * m
    m = _negative_part(r[lo + 4])
    q4 = m * m
    m = _negative_part(r[lo + 5])
    q5 = m * m
    m = _negative_part(r[lo + 6])
    q6 = m * m
    m = _negative_part(r[lo + 7])
    q7 = m * m
    end = lo + n - n % 8
    i = lo + 8
    while i < end:
        d = r[i + 0] - mean
        s0 += d * d
        d = r[i + 1] - mean
        s1 += d * d
        d = r[i + 2] - mean
        s2 += d * d
        d = r[i + 3] - mean
        s3 += d * d
        d = r[i + 4] - mean
        s4 += d * d
        d = r[i + 5] - mean
        s5 += d * d
        d = r[i + 6] - mean
        s6 += d * d
        d = r[i + 7] - mean
        s7 += d * d
        m = _negative_part(r[i + 0])
        q0 += m * m
        m = _negative_part(r[i + 1])
        q1 += m * m
        m = _negative_part(r[i + 2])
        q2 += m * m
        m = _negative_part(r[i + 3])
        q3 += m * m
        m = _negative_part(r[i + 4])
        q4 += m * m
        m = _negative_part(r[i + 5])
        q5 += m * m
        m = _negative_part(r[i + 6])
        q6 += m * m
        m = _negative_part(r[i + 7])
        q7 += m * m
        i += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    q = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
    while i < lo + n:
        d = r[i] - mean
        s += d * d
        m = _negative_part(r[i])
        q += m * m
        i += 1
    return s, q


@njit(cache=True, nogil=True, error_model="numpy")
def _ratio_leaf(g: npt.NDArray[np.float64], e: npt.NDArray[np.float64], lo: int, n: int) -> float:
    # `_leaf` of g / e over [lo, lo + n)
    if n < 8:
        s = 0.0
        for i in range(lo, lo + n):
            s += g[i] / e[i]
        return s
    s0 = g[lo + 0] / e[lo + 0]
    s1 = g[lo + 1] / e[lo + 1]
    s2 = g[lo + 2] / e[lo + 2]
    s3 = g[lo + 3] / e[lo + 3]
    s4 = g[lo + 4] / e[lo + 4]
    s5 = g[lo + 5] / e[lo + 5]
    s6 = g[lo + 6] / e[lo + 6]
    s7 = g[lo + 7] / e[lo + 7]
    end = lo + n - n % 8
    i = lo + 8
    while i < end:
        s0 += g[i + 0] / e[i + 0]
        s1 += g[i + 1] / e[i + 1]
        s2 += g[i + 2] / e[i + 2]
        s3 += g[i + 3] / e[i + 3]
        s4 += g[i + 4] / e[i + 4]
        s5 += g[i + 5] / e[i + 5]
        s6 += g[i + 6] / e[i + 6]
        s7 += g[i + 7] / e[i + 7]
        i += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while i < lo + n:
        s += g[i] / e[i]
        i += 1
    return float(s)


@njit(cache=True, nogil=True)
def _tree(n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    # numpy's pairwise tree of n values, without recursion: (leaf starts, leaf sizes, ops),
    # ops in post-order: -1 = push the next leaf's sum, -2 = pop two, push their sum
    leaves = max(n // 64, 1) + 1  # (the leaves hold >= 64 values, but for a lone leaf)
    starts = np.empty(leaves, np.int64)
    sizes = np.empty(leaves, np.int64)
    ops = np.empty(2 * leaves, np.int64)
    todo_lo = np.empty(128, np.int64)
    todo_n = np.empty(128, np.int64)
    todo_op = np.empty(128, np.int64)  # 0: visit (todo_lo, todo_n); -2: emit a combine
    top = 0
    todo_lo[0], todo_n[0], todo_op[0] = 0, n, 0
    n_leaves = 0
    n_ops = 0
    while top >= 0:
        lo, m, op = todo_lo[top], todo_n[top], todo_op[top]
        top -= 1
        if op == -2:
            ops[n_ops] = -2
            n_ops += 1
        elif m <= 128:
            starts[n_leaves] = lo
            sizes[n_leaves] = m
            n_leaves += 1
            ops[n_ops] = -1
            n_ops += 1
        else:  # visit left, then right, then combine: pushed in reverse
            half = m // 2
            half -= half % 8
            todo_lo[top + 1], todo_n[top + 1], todo_op[top + 1] = 0, 0, -2
            todo_lo[top + 2], todo_n[top + 2], todo_op[top + 2] = lo + half, m - half, 0
            todo_lo[top + 3], todo_n[top + 3], todo_op[top + 3] = lo, half, 0
            top += 3
    return starts[:n_leaves], sizes[:n_leaves], ops[:n_ops]


@njit(cache=True, nogil=True)
def squares_sums_nb(r: npt.NDArray[np.float64], mean: float) -> tuple[float, float]:
    """Return ``(np.sum((r - mean) ** 2), np.sum(np.minimum(r, 0) ** 2))``, numpy's bits.

    The first is np.std's sum of squared deviations (``np.var`` subtracts the mean, squares
    and sums), the second the downside deviation's sum; `r` is NaN-free.
    """
    starts, sizes, ops = _tree(r.shape[0])
    stack_s = np.empty(128)
    stack_q = np.empty(128)
    top = -1
    leaf = 0
    for op in ops:
        if op == -1:
            s, q = _squares_leaf(r, starts[leaf], sizes[leaf], mean)
            leaf += 1
            top += 1
            stack_s[top] = s
            stack_q[top] = q
        else:  # left + right, in this order
            stack_s[top - 1] = stack_s[top - 1] + stack_s[top]
            stack_q[top - 1] = stack_q[top - 1] + stack_q[top]
            top -= 1
    return 0.0 + stack_s[0], 0.0 + stack_q[0]


@njit(cache=True, nogil=True, error_model="numpy")
def ratio_sum_nb(gross: npt.NDArray[np.float64], equity: npt.NDArray[np.float64]) -> float:
    """Return ``np.sum(gross / equity)`` with numpy's bits, without the quotient array."""
    starts, sizes, ops = _tree(gross.shape[0])
    stack = np.empty(128)
    top = -1
    leaf = 0
    for op in ops:
        if op == -1:
            top += 1
            stack[top] = _ratio_leaf(gross, equity, starts[leaf], sizes[leaf])
            leaf += 1
        else:
            stack[top - 1] = stack[top - 1] + stack[top]
            top -= 1
    return float(0.0 + stack[0])


@njit(cache=True, nogil=True)
def _gather_leaves(  # noqa: PLR0917 - a compiled helper, positional
    buf: npt.NDArray[np.float64],
    fill: int,
    sizes: npt.NDArray[np.int64],
    ops: npt.NDArray[np.int64],
    state: npt.NDArray[np.int64],
    stack: npt.NDArray[np.float64],
) -> int:
    # sum the complete leaves at the front of buf[:fill] (state: next leaf, next op, stack
    # top), combine as the ops say, move the rest to the front; return the new fill
    pos = 0
    leaf, op, top = state[0], state[1], state[2]
    while leaf < sizes.shape[0] and fill - pos >= sizes[leaf]:
        top += 1
        stack[top] = _leaf(buf, pos, sizes[leaf])
        pos += sizes[leaf]
        leaf += 1
        op += 1
        while op < ops.shape[0] and ops[op] == -2:  # left + right, in this order
            stack[top - 1] = stack[top - 1] + stack[top]
            top -= 1
            op += 1
    for i in range(fill - pos):
        buf[i] = buf[pos + i]
    state[0], state[1], state[2] = leaf, op, top
    return fill - pos


@njit(cache=True, nogil=True)
def signed_sums_nb(r: npt.NDArray[np.float64], n_neg: int, n_pos: int) -> tuple[float, float]:
    """Return ``(np.sum(r[r < 0]), np.sum(r[r > 0]))`` with numpy's bits, in one pass.

    `n_neg` and `n_pos` are the two counts: they fix the two pairwise trees, whose leaves
    are runs of the filtered values in order. The values are gathered chunk by chunk in a
    small buffer and each leaf summed once complete, so the filtered arrays never exist (on
    a million bars they would be megabytes of fresh memory, slower to touch than the sums).
    """
    chunk = 1024
    _, sizes_n, ops_n = _tree(max(n_neg, 1))
    _, sizes_p, ops_p = _tree(max(n_pos, 1))
    buf_n = np.empty(chunk + 128)
    buf_p = np.empty(chunk + 128)
    stack_n = np.empty(128)
    stack_p = np.empty(128)
    state_n = np.array([0, 0, -1])
    state_p = np.array([0, 0, -1])
    fill_n = fill_p = 0
    for c0 in range(0, r.shape[0], chunk):
        for i in range(c0, min(c0 + chunk, r.shape[0])):
            x = r[i]
            buf_n[fill_n] = x  # branch-free: write always, advance only past a kept value
            fill_n += x < 0.0
            buf_p[fill_p] = x
            fill_p += x > 0.0
        fill_n = _gather_leaves(buf_n, fill_n, sizes_n, ops_n, state_n, stack_n)
        fill_p = _gather_leaves(buf_p, fill_p, sizes_p, ops_p, state_p, stack_p)
    # np.sum of nothing is 0.0
    return (0.0 + stack_n[0] if n_neg else 0.0), (0.0 + stack_p[0] if n_pos else 0.0)
