"""Compiled lot matching of `TradeTracker`'s compiled mode (numba, imported on demand).

`trades.TradeTracker` switches to these kernels once it has matched many fills (or when numba
is already loaded, see its docstring); importing this module imports numba (ADR 0008), so
`trades` imports it only then. Each kernel mirrors the Python mode's code (named in its
docstring) operation for operation: the same float operations in the same order, max/min as
the comparisons the Python code makes, no fastmath, so that both modes give the same floats
bit for bit (tests/test_trades_compiled.py).

State layout (all arrays owned by the tracker, which makes room in Python before each call,
so that a kernel never runs out of it):

- ``lf`` float64 ``(cap, 6)``: a row per lot slot, columns `QTY` (signed), `ENTRY`, `CPU`,
  `SPU` (commission/slippage per unit), `BEST`, `WORST`. Open lots are dense in slots
  ``0..n-1``; closing one moves the last lot into its slot (swap-remove, as the Python mode).
- ``li`` int64 ``(cap, 6)``: columns `ASSET`, `ETIME` (entry ns), `EBAR` (entry bar), `NEXT`,
  `PREV` (the asset's lots in entry order as a doubly linked list; -1 ends it, `ORPHAN` marks
  a lot in no list) and `LONG` (1 long, 0 short).
- ``ends`` int64 ``(A, 2)``: first and last slot of each asset's list (-1: no lot).
- ``cf`` float64 ``(9, ccap)`` and ``ci`` int64 ``(7, ccap)``: the current chunk of closed
  (parts of) lots, one column each, rows in the order of ``trades._RAW_DTYPE``'s float and
  int fields (the tracker starts a new chunk when this one could run out).
- ``counts`` int64 ``(2,)``: the number of open lots and of closed trades in the chunk.
"""

# Plain `if x < m: m = x` updates: the comparisons the Python code makes (max() and min()
# return their first argument unless the second compares greater or smaller).
# ruff: noqa: PLR1730, PLR0917

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "ASSET",
    "BEST",
    "CPU",
    "EBAR",
    "ENTRY",
    "ETIME",
    "LONG",
    "NEXT",
    "ORPHAN",
    "PREV",
    "QTY",
    "SPU",
    "WORST",
    "excursions_nb",
    "fills_nb",
]

# lot float columns (`lf`)
QTY = 0
ENTRY = 1
CPU = 2
SPU = 3
BEST = 4
WORST = 5
# lot int columns (`li`)
ASSET = 0
ETIME = 1
EBAR = 2
NEXT = 3
PREV = 4
LONG = 5
ORPHAN = -2  # NEXT/PREV of a lot in no asset's list (`transfer` of an asset to itself)
# closed float rows (`cf`)
_C_TAKE = 0
_C_ENTRY = 1
_C_PRICE = 2
_C_LOT_CPU = 3
_C_CPU = 4
_C_LOT_SPU = 5
_C_SPU = 6
_C_WORST = 7
_C_BEST = 8
# closed int rows (`ci`)
_C_ASSET = 0
_C_SIDE = 1
_C_ETIME = 2
_C_XTIME = 3
_C_EBAR = 4
_C_XBAR = 5
_C_TAG = 6

_EPS = 1e-12  # trades._EPS
_ONE_MINUS_EPS = 1.0 - _EPS
_FEW_LOTS = 4  # trades._FEW_LOTS
_LIFO = 1  # LotMatching.LIFO
_AVERAGE = 2  # LotMatching.AVERAGE


@njit(inline="always")
def _link(li: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], k: int) -> None:
    # Point the neighbours of the lot in slot k (and its asset's ends) at slot k.
    prev = li[k, PREV]
    nxt = li[k, NEXT]
    if prev == ORPHAN:
        return
    a = li[k, ASSET]
    if prev >= 0:
        li[prev, NEXT] = k
    else:
        ends[a, 0] = k
    if nxt >= 0:
        li[nxt, PREV] = k
    else:
        ends[a, 1] = k


@njit(inline="always")
def _release(
    lf: npt.NDArray[np.float64],
    li: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    n: int,
    k: int,
) -> int:
    # Unlink the lot in slot k and move the last open lot into its slot (`_release`);
    # returns the new number of open lots.
    a = li[k, ASSET]
    prev = li[k, PREV]
    nxt = li[k, NEXT]
    if prev >= 0:
        li[prev, NEXT] = nxt
    else:
        ends[a, 0] = nxt
    if nxt >= 0:
        li[nxt, PREV] = prev
    else:
        ends[a, 1] = prev
    last = n - 1
    if k != last:
        for j in range(lf.shape[1]):
            lf[k, j] = lf[last, j]
        for j in range(li.shape[1]):
            li[k, j] = li[last, j]
        _link(li, ends, k)
    return last


@njit(inline="always")
def _fill(
    lf: npt.NDArray[np.float64],
    li: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    cf: npt.NDArray[np.float64],
    ci: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    a: int,
    q: float,
    p: float,
    c: float,
    s: float,
    timestamp: int,
    bar: int,
    tag: int,
    matching: int,
) -> None:
    # One fill against the open lots of asset `a` (`TradeTracker.on_fill`), inlined into
    # the batch loop of `fills_nb`.
    size = abs(q)
    if size == 0.0:
        return
    sign = 1.0 if q > 0 else -1.0
    cpu = c / size
    spu = s / size
    n = counts[0]
    nc = counts[1]
    remaining = size
    tol = _EPS * size
    end = 1 if matching == _LIFO else 0
    while remaining > tol:
        k = ends[a, end]
        if k < 0:
            break
        lot_qty = lf[k, QTY]
        if lot_qty * sign > 0.0:
            break  # same direction: nothing to close
        lot_size = abs(lot_qty)
        take = remaining if remaining < lot_size else lot_size
        best = lf[k, BEST]
        worst = lf[k, WORST]
        if lot_qty > 0:
            side = 1
            if p > best:
                best = p
            if p < worst:
                worst = p
        else:
            side = -1
            if p < best:
                best = p
            if p > worst:
                worst = p
        cf[_C_TAKE, nc] = take
        cf[_C_ENTRY, nc] = lf[k, ENTRY]
        cf[_C_PRICE, nc] = p
        cf[_C_LOT_CPU, nc] = lf[k, CPU]
        cf[_C_CPU, nc] = cpu
        cf[_C_LOT_SPU, nc] = lf[k, SPU]
        cf[_C_SPU, nc] = spu
        cf[_C_WORST, nc] = worst
        cf[_C_BEST, nc] = best
        ci[_C_ASSET, nc] = li[k, ASSET]
        ci[_C_SIDE, nc] = side
        ci[_C_ETIME, nc] = li[k, ETIME]
        ci[_C_XTIME, nc] = timestamp
        ci[_C_EBAR, nc] = li[k, EBAR]
        ci[_C_XBAR, nc] = bar
        ci[_C_TAG, nc] = tag
        nc += 1
        if take >= lot_size * _ONE_MINUS_EPS:
            n = _release(lf, li, ends, n, k)
        else:
            lf[k, QTY] = lot_qty + sign * take
        remaining -= take
    counts[1] = nc
    if remaining <= tol:
        counts[0] = n
        return
    if matching == _AVERAGE:
        k = ends[a, 0]
        if k >= 0:
            old = abs(lf[k, QTY])
            total = old + remaining
            lf[k, ENTRY] = (lf[k, ENTRY] * old + p * remaining) / total
            lf[k, CPU] = (lf[k, CPU] * old + cpu * remaining) / total
            lf[k, SPU] = (lf[k, SPU] * old + spu * remaining) / total
            lf[k, QTY] = sign * total
            best = lf[k, BEST]
            worst = lf[k, WORST]
            if sign > 0:
                if p > best:
                    best = p
                if p < worst:
                    worst = p
            else:
                if p < best:
                    best = p
                if p > worst:
                    worst = p
            lf[k, BEST] = best
            lf[k, WORST] = worst
            counts[0] = n
            return
    k = n
    lf[k, QTY] = sign * remaining
    lf[k, ENTRY] = p
    lf[k, CPU] = cpu
    lf[k, SPU] = spu
    lf[k, BEST] = p
    lf[k, WORST] = p
    li[k, ASSET] = a
    li[k, ETIME] = timestamp
    li[k, EBAR] = bar
    li[k, LONG] = 1 if sign > 0 else 0
    tail = ends[a, 1]
    li[k, PREV] = tail
    li[k, NEXT] = -1
    if tail >= 0:
        li[tail, NEXT] = k
    else:
        ends[a, 0] = k
    ends[a, 1] = k
    counts[0] = n + 1


@njit(cache=True)
def fills_nb(
    lf: npt.NDArray[np.float64],
    li: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    cf: npt.NDArray[np.float64],
    ci: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    signed: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
    commission: npt.NDArray[np.float64],
    slippage: npt.NDArray[np.float64],
    timestamp: int,
    bar: int,
    tag: int,
    matching: int,
) -> bool:
    """Match a batch of fills in order; twin of `TradeTracker.on_fills`.

    ``counts`` holds ``(open lots, closed rows)`` and is updated in place; the arrays must
    have room for ``F`` more lots and ``open lots + 2 F`` more closed rows (``F`` fills).
    Returns False, changing nothing, if a row is not an asset index.
    """
    n_assets = ends.shape[0]
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= n_assets:
            return False
    for i in range(rows.shape[0]):
        _fill(
            lf,
            li,
            ends,
            cf,
            ci,
            counts,
            rows[i],
            signed[i],
            price[i],
            commission[i],
            slippage[i],
            timestamp,
            bar,
            tag,
            matching,
        )
    return True


@njit(cache=True)
def excursions_nb(
    n: int,
    lf: npt.NDArray[np.float64],
    li: npt.NDArray[np.int64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
) -> None:
    """Widen best/worst of open lots ``0..n-1``; twin of `TradeTracker.update_excursions`.

    Up to `_FEW_LOTS` lots with its comparisons, else with ``np.fmax``/``np.fmin`` (as
    `execution.nb.update_excursions_nb` and the numpy path).
    """
    if n <= _FEW_LOTS:
        for k in range(n):
            a = li[k, ASSET]
            hi = high[a]
            lo = low[a]
            if li[k, LONG]:
                if hi > lf[k, BEST]:
                    lf[k, BEST] = hi
                if lo < lf[k, WORST]:
                    lf[k, WORST] = lo
            else:
                if lo < lf[k, BEST]:
                    lf[k, BEST] = lo
                if hi > lf[k, WORST]:
                    lf[k, WORST] = hi
        return
    for k in range(n):
        a = li[k, ASSET]
        h = high[a]
        lo = low[a]
        b = lf[k, BEST]
        w = lf[k, WORST]
        if li[k, LONG]:
            b = np.fmax(b, h)
            w = np.fmin(w, lo)
        else:
            b = np.fmin(b, lo)
            w = np.fmax(w, h)
        lf[k, BEST] = b
        lf[k, WORST] = w
