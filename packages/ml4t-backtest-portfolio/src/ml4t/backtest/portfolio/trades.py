"""Round-trip trade tracking: lots matched FIFO (default), LIFO or at average cost.

Each fill that opens or adds to a position creates an open *lot*; each fill that reduces
a position closes lots in the matching order and emits one closed trade per lot (or lot
part) it closes. A trade records entry/exit time and price, quantity, side, gross and net
P&L, the commission and slippage attributed to it, MAE/MFE and bars held.

Definitions (``side`` = +1 long, -1 short; ``m`` = multiplier)::

    gross_pnl  = side * (exit_price - entry_price) * quantity * m
    commission = quantity * (entry commission per unit + exit commission per unit)
    slippage   = quantity * (entry slippage per unit + exit slippage per unit)  # informational,
                                                       # already inside the fill prices
    net_pnl    = gross_pnl - commission
    return     = net_pnl / (entry_price * quantity * m)
    mfe        = side * (best_price - entry_price) / entry_price    # >= 0
    mae        = side * (worst_price - entry_price) / entry_price   # <= 0

``best_price``/``worst_price`` are the most favourable/adverse prices seen while the lot was
open: its entry and exit fill prices and the highs/lows passed to `update_excursions` (for a
lot opened inside a bar, that bar's whole range counts). ``bars_held`` is the number of
`advance_bar` calls between entry and exit.

Lots live in preallocated numpy arrays so that `update_excursions` is one vector operation
over every open lot.

Two modes compute the same numbers bit for bit. The Python mode (the default) holds each lot
as a list and matches fills in Python: the fastest for one fill at a time (`on_fill`, as a
one-asset strategy books them). The compiled mode holds the lots and the closed trades in
numpy arrays and matches each `on_fills` batch with one numba kernel (`_trades_nb`), and
`to_polars` reads its columns without converting Python rows. Numba costs 60-120 MB and
0.5-2 s to import (ADR 0008), so a tracker switches only when that pays, once, never back:

- at its first `on_fills` call, if numba is already loaded in the process;
- otherwise once it has matched ``compile_after`` fills (1,000,000 by default) through
  `on_fills`, importing numba then (if that fails, it stays in the Python mode);
- or when `TradeTracker.use_compiled` is called.

The default of 1,000,000 fills is about where a switch in a process without numba pays
for itself within one run (importing numba and its first compiled call cost 1.5-2.4 s and
about 120 MB on the development machine; the compiled mode saves about 1.5 microseconds a
fill and most of `to_polars`); a process that has numba loaded gets the compiled mode at
once. ``compile_after=None`` turns both automatic switches off. The switch carries the open lots
(their order per asset and their slots) and the closed trades over: the frame lists the
trades closed before the switch first, as the Python mode would.
"""

from __future__ import annotations

import importlib
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from enum import IntEnum
from types import ModuleType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.portfolio._frames import datetime_series

__all__ = ["LotMatching", "TradeTracker", "TRADE_COLUMNS"]

TRADE_COLUMNS = (
    "asset",
    "side",
    "quantity",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "net_pnl",
    "commission",
    "slippage",
    "return",
    "mae",
    "mfe",
    "bars_held",
    "exit_reason",
)
_TRADE_SCHEMA: Final = dict(
    zip(
        TRADE_COLUMNS,
        (
            pl.String,
            pl.Int8,
            pl.Float64,
            pl.Int64,  # entry_time, ns (cast to Datetime after loading)
            pl.Int64,  # exit_time
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Float64,
            pl.Int64,
            pl.String,
        ),
        strict=True,
    )
)
# The fields of a raw closed-trade row (`_closed`), in order.
_RAW_DTYPE: Final = np.dtype(
    [
        ("asset", np.int64),
        ("side", np.int64),
        ("take", np.float64),
        ("entry_time", np.int64),
        ("exit_time", np.int64),
        ("entry", np.float64),
        ("price", np.float64),
        ("lot_cpu", np.float64),
        ("cpu", np.float64),
        ("lot_spu", np.float64),
        ("spu", np.float64),
        ("worst", np.float64),
        ("best", np.float64),
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("tag", np.int64),
    ]
)
_EPS = 1e-12  # relative quantity tolerance below which a lot counts as closed
_ONE_MINUS_EPS: Final = 1.0 - _EPS  # `take >= lot_size * (1 - eps)`: the lot closes in full
_FEW_LOTS = 4  # `update_excursions` loops in Python up to this many open lots
# Compiled twin of `update_excursions`, used only once something else has imported it (so
# importing the portfolio alone does not pull in numba).
_NB_MODULE = "ml4t.backtest.execution.nb"
# The compiled mode's kernels (imports numba), imported at the first switch.
_TRADES_NB_MODULE = "ml4t.backtest.portfolio._trades_nb"
_COMPILE_AFTER = 1_000_000  # default `compile_after` (where a cold switch pays, see below)
# The closed-trade fields held as floats / as ints in the compiled mode's `_cf` / `_ci` rows.
_RAW_FLOATS: Final = tuple(n for n in _RAW_DTYPE.names or () if _RAW_DTYPE[n].kind == "f")
_RAW_INTS: Final = tuple(n for n in _RAW_DTYPE.names or () if _RAW_DTYPE[n].kind == "i")


# The compiled mode keeps the closed trades in chunks: columns of one array per dtype, a new
# chunk when the current one could run out (no copy on growth: each page is written once).
# A chunk's length is a power of two plus `_ROW_PAD` (3 cache lines): with a power-of-two
# length the 16 cells of one trade share a cache set and every write of the kernel misses
# (~50x slower). Chunks grow with the number of trades up to `_MAX_CHUNK`.
_ROW_PAD = 24
_MAX_CHUNK = 1 << 16


def _closed_capacity(need: int) -> int:
    # The smallest `2**k + _ROW_PAD` (k >= 8) that holds `need` closed trades.
    cap = 256
    while cap + _ROW_PAD < need:
        cap *= 2
    return cap + _ROW_PAD


def _kernels() -> ModuleType:
    # `_trades_nb` (importing it imports numba; ImportError if numba is missing)
    module = sys.modules.get(_TRADES_NB_MODULE)
    if module is None:
        module = importlib.import_module(_TRADES_NB_MODULE)
    return module


class LotMatching(IntEnum):
    """Which open lot a closing fill matches first."""

    FIFO = 0  # oldest lot first
    LIFO = 1  # newest lot first
    AVERAGE = 2  # one lot per asset at the average entry price


# Enum members as module constants: `Enum.MEMBER` is a slow class attribute lookup.
_LotMatching_AVERAGE: Final = LotMatching.AVERAGE
_LotMatching_LIFO: Final = LotMatching.LIFO


class TradeTracker:
    """Build round trips from fills.

    Args:
        assets: Asset ids, in the order of the rows passed to `update_excursions`.
        matching: Lot matching rule.
        multipliers: Multiplier per asset (1.0 when None).
        capacity: Initial number of open-lot slots (grows by doubling).
        compile_after: Switch to the compiled mode once this many fills have gone through
            `on_fills` (or at the first `on_fills` call if numba is already loaded); None:
            never switch automatically (`use_compiled` still does).

    The tracker starts in the Python mode (lots as lists, matched in Python) and may switch,
    once, to the compiled mode (lots and closed trades in numpy arrays, each `on_fills` batch
    matched by one numba kernel): at its first `on_fills` call if numba is already loaded in
    the process, after ``compile_after`` fills through `on_fills` (importing numba then; if
    that fails it stays in the Python mode), or on `use_compiled`. Both modes give the same
    numbers bit for bit; a single-fill `on_fill` is faster in the Python mode, so a tracker
    fed only through `on_fill` (a one-asset strategy) never switches by itself.

    Example:
        >>> tt = TradeTracker(["AAPL"])
        >>> tt.on_fill(0, 10.0, 100.0, 0, commission=1.0)
        >>> tt.advance_bar()
        >>> tt.on_fill(0, -10.0, 110.0, 1, commission=1.0, tag="take_profit")
        >>> row = tt.to_polars().row(0, named=True)
        >>> row["gross_pnl"], row["net_pnl"], row["bars_held"], row["exit_reason"]
        (100.0, 98.0, 1, 'take_profit')
    """

    __slots__ = (
        "_asset_of",
        "_assets",
        "_bar",
        "_best",
        "_cf",
        "_ci",
        "_closed",
        "_compile_after",
        "_counts",
        "_ends",
        "_full",
        "_is_long",
        "_lf",
        "_li",
        "_lots",
        "_matched",
        "_mult",
        "_n",
        "_slot_lot",
        "_tags",
        "_worst",
        "matching",
    )

    def __init__(
        self,
        assets: Sequence[AssetId],
        *,
        matching: LotMatching = LotMatching.FIFO,
        multipliers: Sequence[float] | None = None,
        capacity: int = 256,
        compile_after: int | None = _COMPILE_AFTER,
    ) -> None:
        self._assets = tuple(assets)
        self.matching = LotMatching(matching)
        n = len(self._assets)
        mult = [1.0] * n if multipliers is None else [float(x) for x in multipliers]
        if len(mult) != n:
            raise ConfigError(
                f"`multipliers` must have one value per asset ({n}), was {len(mult)} values"
            )
        self._mult = mult
        cap = max(int(capacity), 1)
        # Open lots are dense in slots 0.._n-1 of these arrays (swap-remove on close), so
        # `update_excursions` works on plain slices.
        self._asset_of = np.zeros(cap, dtype=np.int64)
        self._is_long = np.zeros(cap, dtype=np.bool_)
        self._best = np.zeros(cap)
        self._worst = np.zeros(cap)
        self._n = 0
        # A lot is a list [asset, signed qty, entry price, entry ns, entry bar, commission per
        # unit, slippage per unit, slot]; `_lots[asset]` holds them in entry order.
        self._slot_lot: list[list[Any]] = []
        self._lots: list[deque[list[Any]]] = [deque() for _ in range(n)]
        # A closed (part of a) lot is a raw row of `_RAW_FIELDS` (asset and tag as codes);
        # `to_polars` derives P&L, costs, return and excursions from them as arrays (the
        # same float operations per row as a scalar computation would make).
        self._closed: list[tuple[object, ...]] = []
        self._tags: dict[str, int] = {}  # exit reason -> code, in order of first use
        self._bar = 0
        self._compile_after = None if compile_after is None else int(compile_after)
        self._matched = 0  # fills through `on_fills` (counted for `compile_after`)
        # The compiled mode's state (`_trades_nb` describes it), empty in the Python mode:
        # lot rows (floats, ints), first/last lot per asset, the current chunk of closed
        # trades (floats, ints), (open lots, closed trades in the current chunk) and the
        # earlier chunks, each (floats, ints) cut to its trades.
        self._lf = np.zeros((0, 6))
        self._li = np.zeros((0, 6), dtype=np.int64)
        self._ends = np.zeros((0, 2), dtype=np.int64)
        self._cf = np.zeros((len(_RAW_FLOATS), 0))
        self._ci = np.zeros((len(_RAW_INTS), 0), dtype=np.int64)
        self._counts = np.zeros(2, dtype=np.int64)
        self._full: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]] = []

    def _grow(self) -> None:
        cap = self._best.shape[0] * 2
        for name in ("_asset_of", "_is_long", "_best", "_worst"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    @property
    def bar(self) -> int:
        """Return the number of `advance_bar` calls so far."""
        return self._bar

    @property
    def open_lot_count(self) -> int:
        """Return the number of open lots."""
        return self._n

    @property
    def is_compiled(self) -> bool:
        """Return True once the tracker has switched to the compiled mode."""
        return False

    def use_compiled(self) -> bool:
        """Switch to the compiled mode (imports numba), carrying the state over; idempotent.

        The open lots keep their slots and their order per asset, and the trades closed so
        far stay first in `to_polars`; every later result is the same bit for bit as the
        Python mode would give. There is no way back.

        Returns:
            True if the tracker is now in the compiled mode, False if numba could not be
            imported (the tracker stays in the Python mode and stops trying automatically).
        """
        try:
            _kernels()
        except ImportError:
            self._compile_after = None
            return False
        n = self._n
        n_assets = len(self._assets)
        cap = max(self._best.shape[0], 1)
        lf = np.zeros((cap, 6))
        li = np.zeros((cap, 6), dtype=np.int64)
        ends = np.full((n_assets, 2), -1, dtype=np.int64)
        # `_trades_nb` columns: lf = qty, entry, cpu, spu, best, worst; li = asset, entry
        # time, entry bar, next, prev, long
        for k, lot in enumerate(self._slot_lot):
            lf[k, :4] = (lot[1], lot[2], lot[5], lot[6])
            li[k, :3] = (lot[0], lot[3], lot[4])
        lf[:n, 4] = self._best[:n]
        lf[:n, 5] = self._worst[:n]
        li[:n, 5] = self._is_long[:n]
        li[:n, 3:5] = -2  # `_trades_nb.ORPHAN`: a lot in no list (after `transfer(i, i)`)
        for a, per_asset in enumerate(self._lots):
            prev = -1
            for lot in per_asset:
                k = lot[7]
                li[k, 4] = prev
                li[k, 3] = -1
                if prev >= 0:
                    li[prev, 3] = k
                else:
                    ends[a, 0] = k
                prev = k
            ends[a, 1] = prev
        m = len(self._closed)
        if m:  # the trades closed so far: the first chunk
            raw = np.array(self._closed, dtype=_RAW_DTYPE)
            self._full = [
                (
                    np.array([raw[name] for name in _RAW_FLOATS], dtype=np.float64),
                    np.array([raw[name] for name in _RAW_INTS], dtype=np.int64),
                )
            ]
        cap = _closed_capacity(min(m, _MAX_CHUNK))
        self._cf = np.zeros((len(_RAW_FLOATS), cap))
        self._ci = np.zeros((len(_RAW_INTS), cap), dtype=np.int64)
        self._lf, self._li, self._ends = lf, li, ends
        self._counts = np.array([n, 0], dtype=np.int64)
        self._lots = []
        self._slot_lot = []
        self._closed = []
        self._asset_of = np.zeros(0, dtype=np.int64)
        self._is_long = np.zeros(0, dtype=np.bool_)
        self._best = np.zeros(0)
        self._worst = np.zeros(0)
        self.__class__ = _CompiledTradeTracker
        return True

    def on_fill(  # noqa: PLR0917 - also called positionally by Portfolio.apply_fills
        self,
        asset_index: int,
        signed_quantity: float,
        price: float,
        timestamp: Timestamp,
        commission: float = 0.0,
        slippage: float = 0.0,
        tag: str = "",
    ) -> None:
        """Match a fill against the open lots of `asset_index`.

        Args:
            asset_index: Position of the asset in `assets`.
            signed_quantity: + bought, - sold.
            price: Fill price per unit.
            timestamp: Fill time, int ns UTC.
            commission: Commission of the whole fill, spread per unit.
            slippage: Slippage cost of the whole fill, spread per unit.
            tag: Exit reason stored on the trades this fill closes.
        """
        size = abs(signed_quantity)
        if size == 0.0:
            return
        sign = 1.0 if signed_quantity > 0 else -1.0
        cpu = commission / size
        spu = slippage / size
        lots = self._lots[asset_index]
        remaining = size
        tol = _EPS * size
        lifo = self.matching == _LotMatching_LIFO
        while remaining > tol and lots:
            lot = lots[-1] if lifo else lots[0]
            lot_qty = lot[1]
            if lot_qty * sign > 0.0:
                break  # same direction: nothing to close
            lot_size = abs(lot_qty)
            take = min(lot_size, remaining)
            self._close(lot, take, price, timestamp, cpu, spu, tag)
            if take >= lot_size * (1.0 - _EPS):
                if lifo:
                    lots.pop()
                else:
                    lots.popleft()
                self._release(lot[7])
            else:
                lot[1] = lot_qty + sign * take
            remaining -= take
        if remaining <= tol:
            return
        if self.matching == _LotMatching_AVERAGE and lots:
            lot = lots[0]
            old = abs(lot[1])
            total = old + remaining
            lot[2] = (lot[2] * old + price * remaining) / total
            lot[5] = (lot[5] * old + cpu * remaining) / total
            lot[6] = (lot[6] * old + spu * remaining) / total
            lot[1] = sign * total
            k = lot[7]
            if sign > 0:
                self._best[k] = max(self._best.item(k), price)
                self._worst[k] = min(self._worst.item(k), price)
            else:
                self._best[k] = min(self._best.item(k), price)
                self._worst[k] = max(self._worst.item(k), price)
            return
        k = self._n
        if k == self._best.shape[0]:
            self._grow()
        self._n = k + 1
        self._asset_of[k] = asset_index
        self._is_long[k] = sign > 0
        self._best[k] = price
        self._worst[k] = price
        lot = [asset_index, sign * remaining, price, timestamp, self._bar, cpu, spu, k]
        self._slot_lot.append(lot)
        lots.append(lot)

    def on_fills(  # noqa: PLR0917 - hot path, positional
        self,
        rows: npt.NDArray[np.int64],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        timestamp: Timestamp,
        commission: npt.NDArray[np.float64],
        slippage: npt.NDArray[np.float64],
        tag: str,
    ) -> None:
        """Match a batch of fills, as `on_fill` for each one in order, faster.

        The tracker ends in exactly the state that calling ``on_fill(int(rows[k]),
        float(signed[k]), float(price[k]), timestamp, float(commission[k]),
        float(slippage[k]), tag)`` for ``k = 0, 1, ...`` leaves (the same floats bit for bit,
        the same slots, the same closed trades in the same order), for every matching rule;
        rows need not be distinct.

        Args:
            rows: Position of each fill's asset in `assets`, shape ``(F,)``.
            signed: Signed quantity per fill (+ bought, - sold), shape ``(F,)``.
            price: Fill price per unit, shape ``(F,)``.
            timestamp: Time of every fill, int ns UTC.
            commission: Commission of each whole fill, spread per unit, shape ``(F,)``.
            slippage: Slippage cost of each whole fill, spread per unit, shape ``(F,)``.
            tag: Exit reason stored on the trades these fills close.
        """
        limit = self._compile_after
        if limit is not None:
            if self._matched == 0 and "numba" in sys.modules and self.use_compiled():
                # numba is already loaded: compiled from the first batch on
                self.on_fills(rows, signed, price, timestamp, commission, slippage, tag)
                return
            self._match_fills(rows, signed, price, timestamp, commission, slippage, tag)
            self._matched += rows.shape[0]
            if self._matched >= limit:
                self.use_compiled()
            return
        self._match_fills(rows, signed, price, timestamp, commission, slippage, tag)

    def _match_fills(  # noqa: PLR0917 - hot path, positional
        self,
        rows: npt.NDArray[np.int64],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        timestamp: Timestamp,
        commission: npt.NDArray[np.float64],
        slippage: npt.NDArray[np.float64],
        tag: str,
    ) -> None:
        # The Python mode's `on_fills`: `on_fill`, `_close` and `_release` inlined,
        # attributes held in locals, max/min as the comparisons they make (`max(x, p)` is
        # `p if p > x else x`), `side * x` as x for a long (x is the result of an operation:
        # times 1 it is itself, NaN included) and
        # `-1.0 * x` for a short (what int * float computes): every float comes from the same
        # operations in the same order. Writes to the slot arrays (a new lot, a released slot
        # taking the last lot, an average-cost add) are held in `pending` (slot -> (asset,
        # is long, best, worst)) and stored with one fancy assignment per array at the end;
        # reads look there first. The arrays themselves stay as they were until then, so a
        # slot without an entry still holds its values in them.
        lots_all = self._lots
        slot_lot = self._slot_lot
        closed_append = self._closed.append
        tag_code = self._tags.get(tag)  # (a new tag gets its code at its first close)
        bar = self._bar
        asset_of_item = self._asset_of.item
        is_long_item = self._is_long.item
        best_item = self._best.item
        worst_item = self._worst.item
        cap = self._best.shape[0]
        matching = self.matching
        head = -1 if matching == _LotMatching_LIFO else 0
        average = matching == _LotMatching_AVERAGE
        pending: dict[int, tuple[int, bool, float, float]] = {}
        pending_get = pending.get
        eps = _EPS
        one_minus_eps = _ONE_MINUS_EPS
        n = self._n
        try:
            for a, q, p, c, s in zip(
                rows.tolist(),
                signed.tolist(),
                price.tolist(),
                commission.tolist(),
                slippage.tolist(),
                strict=True,
            ):
                if q > 0.0:
                    size = q
                    sign = 1.0
                    buy = True
                elif q < 0.0:
                    size = -q
                    sign = -1.0
                    buy = False
                elif q == 0.0:
                    continue
                else:  # NaN
                    size = abs(q)
                    sign = -1.0
                    buy = False
                cpu = c / size
                spu = s / size
                lots = lots_all[a]
                remaining = size
                tol = eps * size
                if lots:
                    # `while remaining > tol and lots`, tested at the end of each round
                    while remaining > tol:
                        lot = lots[head]
                        asset, lot_qty, entry, entry_time, entry_bar, lot_cpu, lot_spu, k = lot
                        if lot_qty * sign > 0.0:
                            break  # same direction: nothing to close
                        lot_size = abs(lot_qty)
                        take = remaining if remaining < lot_size else lot_size
                        slot = pending_get(k)
                        if slot is None:
                            best = best_item(k)
                            worst = worst_item(k)
                        else:
                            best = slot[2]
                            worst = slot[3]
                        if lot_qty > 0.0:
                            if p > best:  # noqa: PLR1730 - max() is a call
                                best = p
                            if p < worst:  # noqa: PLR1730 - max() is a call
                                worst = p
                            side = 1
                        else:
                            if p < best:  # noqa: PLR1730 - max() is a call
                                best = p
                            if p > worst:  # noqa: PLR1730 - max() is a call
                                worst = p
                            side = -1
                        if tag_code is None:
                            tag_code = self._tag_code(tag)
                        closed_append(
                            (
                                asset,
                                side,
                                take,
                                entry_time,
                                timestamp,
                                entry,
                                p,
                                lot_cpu,
                                cpu,
                                lot_spu,
                                spu,
                                worst,
                                best,
                                entry_bar,
                                bar,
                                tag_code,
                            )
                        )
                        if take >= lot_size * one_minus_eps:
                            del lots[head]
                            n -= 1  # release slot k: the last open lot moves into it
                            moved = slot_lot.pop()
                            if k != n:
                                slot = pending_get(n)
                                pending[k] = (
                                    (
                                        asset_of_item(n),
                                        is_long_item(n),
                                        best_item(n),
                                        worst_item(n),
                                    )
                                    if slot is None
                                    else slot
                                )
                                moved[7] = k
                                slot_lot[k] = moved
                            remaining -= take
                            if not lots:
                                break
                        else:  # a part: `take` is all that remained (or NaN)
                            lot[1] = lot_qty + sign * take
                            remaining -= take
                            break
                    if remaining <= tol:
                        continue
                    if average and lots:
                        lot = lots[0]
                        old = abs(lot[1])
                        total = old + remaining
                        lot[2] = (lot[2] * old + p * remaining) / total
                        lot[5] = (lot[5] * old + cpu * remaining) / total
                        lot[6] = (lot[6] * old + spu * remaining) / total
                        lot[1] = sign * total
                        k = lot[7]
                        slot = pending_get(k)
                        if slot is None:
                            slot = (asset_of_item(k), is_long_item(k), best_item(k), worst_item(k))
                        asset, long, best, worst = slot
                        if sign > 0.0:
                            pending[k] = (
                                asset,
                                long,
                                p if p > best else best,
                                p if p < worst else worst,
                            )
                        else:
                            pending[k] = (
                                asset,
                                long,
                                p if p < best else best,
                                p if p > worst else worst,
                            )
                        continue
                elif remaining <= tol:  # an infinite quantity (as `on_fill`: nothing)
                    continue
                if n == cap:
                    cap *= 2  # `_grow` at the end
                pending[n] = (a, buy, p, p)
                lot = [a, sign * remaining, p, timestamp, bar, cpu, spu, n]
                n += 1
                slot_lot.append(lot)
                lots.append(lot)
        finally:
            self._n = n
            if pending:
                while self._best.shape[0] < cap:
                    self._grow()
                m = len(pending)
                idx = np.fromiter(pending, dtype=np.intp, count=m)
                asset_col, long_col, best_col, worst_col = zip(*pending.values(), strict=True)
                self._asset_of[idx] = np.fromiter(asset_col, dtype=np.int64, count=m)
                self._is_long[idx] = np.fromiter(long_col, dtype=np.bool_, count=m)
                self._best[idx] = np.fromiter(best_col, dtype=np.float64, count=m)
                self._worst[idx] = np.fromiter(worst_col, dtype=np.float64, count=m)

    def _tag_code(self, tag: str) -> int:
        # The code of an exit reason in the raw rows (new ones numbered in order of use).
        tags = self._tags
        code = tags.get(tag)
        if code is None:
            code = tags[tag] = len(tags)
        return code

    # Free slot k by moving the last open lot into it.
    def _release(self, k: int) -> None:
        last = self._n - 1
        if k != last:
            self._asset_of[k] = self._asset_of[last]
            self._is_long[k] = self._is_long[last]
            self._best[k] = self._best[last]
            self._worst[k] = self._worst[last]
            moved = self._slot_lot[last]
            moved[7] = k
            self._slot_lot[k] = moved
        self._slot_lot.pop()
        self._n = last

    # Record one closed (part of a) lot.
    def _close(  # noqa: PLR0917 - hot path, positional
        self,
        lot: list[Any],
        take: float,
        price: float,
        timestamp: Timestamp,
        cpu: float,
        spu: float,
        tag: str,
    ) -> None:
        asset, qty, entry, entry_time, entry_bar, lot_cpu, lot_spu, k = lot
        best = self._best.item(k)
        worst = self._worst.item(k)
        if qty > 0:
            side = 1
            best = max(best, price)
            worst = min(worst, price)
        else:
            side = -1
            best = min(best, price)
            worst = max(worst, price)
        code = self._tag_code(tag)
        self._closed.append(
            (
                asset,
                side,
                take,
                entry_time,
                timestamp,
                entry,
                price,
                lot_cpu,
                cpu,
                lot_spu,
                spu,
                worst,
                best,
                entry_bar,
                self._bar,
                code,
            )
        )

    def update_excursions(
        self, high_row: npt.NDArray[np.float64], low_row: npt.NDArray[np.float64]
    ) -> None:
        """Widen the best/worst prices of every open lot with this bar's high and low.

        NaN entries (no bar) leave the lots of that asset unchanged.

        Args:
            high_row: High of the bar per asset, shape ``(A,)``.
            low_row: Low of the bar per asset, shape ``(A,)``.
        """
        n = self._n
        if n == 0:
            return
        if n <= _FEW_LOTS:
            # a few lots (a single-asset strategy): a Python loop beats ~10 numpy calls;
            # fmax/fmin as comparisons (a NaN high or low is never greater or smaller, so it
            # leaves the lot as it is; best and worst are never NaN)
            asset_of, is_long, best_a, worst_a = (
                self._asset_of,
                self._is_long,
                self._best,
                self._worst,
            )
            for k in range(n):
                a = asset_of.item(k)
                hi = float(high_row[a])
                lo = float(low_row[a])
                if is_long.item(k):
                    if hi > best_a.item(k):
                        best_a[k] = hi
                    if lo < worst_a.item(k):
                        worst_a[k] = lo
                else:
                    if lo < best_a.item(k):
                        best_a[k] = lo
                    if hi > worst_a.item(k):
                        worst_a[k] = hi
            return
        nb = sys.modules.get(_NB_MODULE)
        if nb is not None:
            # The broker's numba module is loaded (it is whenever a SimulationBroker runs):
            # one compiled loop instead of ~10 numpy calls; the same numbers bit for bit.
            nb.update_excursions_nb(
                n,
                self._asset_of,
                self._is_long,
                self._best,
                self._worst,
                np.asarray(high_row, dtype=np.float64),
                np.asarray(low_row, dtype=np.float64),
            )
            return
        idx = self._asset_of[:n]
        high = high_row[idx]
        low = low_row[idx]
        long = self._is_long[:n]
        best = self._best[:n]
        worst = self._worst[:n]
        best[:] = np.where(long, np.fmax(best, high), np.fmin(best, low))
        worst[:] = np.where(long, np.fmin(worst, low), np.fmax(worst, high))

    def advance_bar(self) -> None:
        """Count one bar (used for ``bars_held``)."""
        self._bar += 1

    def split(self, asset_index: int, factor: float) -> None:
        """Scale the open lots of an asset for a split: quantity x factor, prices / factor."""
        for lot in self._lots[asset_index]:
            lot[1] *= factor
            lot[2] /= factor
            lot[5] /= factor
            lot[6] /= factor
            k = lot[7]
            self._best[k] /= factor
            self._worst[k] /= factor

    def transfer(self, from_index: int, to_index: int) -> None:
        """Move the open lots of one asset to another (symbol change)."""
        moved = self._lots[from_index]
        for lot in moved:
            lot[0] = to_index
            self._asset_of[lot[7]] = to_index
        self._lots[to_index].extend(moved)
        self._lots[from_index] = deque()

    def open_quantity(self, asset_index: int) -> float:
        """Return the signed open quantity over the lots of an asset."""
        return float(sum(lot[1] for lot in self._lots[asset_index]))

    def to_polars(self) -> pl.DataFrame:
        """Return the closed trades as a frame with the columns of `TRADE_COLUMNS`.

        Times are ``Datetime[ns, UTC]``; ``side`` is +1 (long) or -1 (short).
        """
        rows = self._closed
        if not rows:
            return _trades_frame(self, {})
        raw = np.array(rows, dtype=_RAW_DTYPE)  # the raw rows as columns, in one C pass
        return _trades_frame(self, {name: raw[name] for name in _RAW_DTYPE.names or ()})

    def open_trades(self) -> pl.DataFrame:
        """Return the open lots: asset, side, quantity, entry_time, entry_price, mae, mfe."""
        lots = [lot for per_asset in self._lots for lot in per_asset]
        slots = np.array([lot[7] for lot in lots], dtype=np.int64)
        return _open_frame(
            self,
            [lot[0] for lot in lots],
            np.array([lot[1] for lot in lots], dtype=np.float64),
            np.array([lot[2] for lot in lots], dtype=np.float64),
            [lot[3] for lot in lots],
            [lot[4] for lot in lots],
            self._best[slots],
            self._worst[slots],
        )


def _trades_frame(tracker: TradeTracker, columns: Mapping[str, npt.NDArray[Any]]) -> pl.DataFrame:
    # The frame of `to_polars` from the raw closed-trade columns (the fields of `_RAW_DTYPE`;
    # empty: no trade), for both modes.
    if not columns:
        return pl.DataFrame(schema=_TRADE_SCHEMA).with_columns(
            pl.col("entry_time").cast(pl.Datetime("ns", "UTC")),
            pl.col("exit_time").cast(pl.Datetime("ns", "UTC")),
        )
    # Contiguous columns in both modes (the Python mode's fields of a structured array are
    # strided): numpy runs the same loops on both, so that even the sign bit of a NaN made
    # from two NaNs (which operand's NaN a loop returns) is the same.
    raw = {name: np.ascontiguousarray(col) for name, col in columns.items()}
    asset = raw["asset"]
    side = raw["side"]
    take = raw["take"]
    entry = raw["entry"]
    price = raw["price"]
    mult = np.asarray(tracker._mult, dtype=np.float64)[asset]
    long = side > 0
    # The scalar formulas, element by element in the same order: for a long,
    # `1 * x` is x; for a short, `-1 * x` is `-1.0 * x`.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        move = price - entry
        gross = np.where(long, move, -1.0 * move) * take * mult
        commission = take * (raw["lot_cpu"] + raw["cpu"])
        net = gross - commission
        basis = entry * take * mult
        ret = np.where(basis != 0.0, net / basis, np.nan)
        worst = raw["worst"] - entry
        best = raw["best"] - entry
        priced = entry != 0.0
        mae = np.where(priced, np.where(long, worst, -1.0 * worst) / entry, np.nan)
        mfe = np.where(priced, np.where(long, best, -1.0 * best) / entry, np.nan)
        slippage = take * (raw["lot_spu"] + raw["spu"])
    names = pl.Series(tracker._assets, dtype=pl.String)
    reasons = pl.Series(list(tracker._tags), dtype=pl.String)
    return pl.DataFrame(
        {
            "asset": names.gather(asset),
            "side": side.astype(np.int8),
            "quantity": take,
            "entry_time": pl.Series(raw["entry_time"]).cast(pl.Datetime("ns", "UTC")),
            "exit_time": pl.Series(raw["exit_time"]).cast(pl.Datetime("ns", "UTC")),
            "entry_price": entry,
            "exit_price": price,
            "gross_pnl": gross,
            "net_pnl": net,
            "commission": commission,
            "slippage": slippage,
            "return": ret,
            "mae": mae,
            "mfe": mfe,
            "bars_held": raw["exit_bar"] - raw["entry_bar"],
            "exit_reason": reasons.gather(raw["tag"]),
        }
    )


def _open_frame(  # noqa: PLR0917
    tracker: TradeTracker,
    asset: list[int],
    qty: npt.NDArray[np.float64],
    entry: npt.NDArray[np.float64],
    entry_time: list[int],
    entry_bar: list[int],
    best: npt.NDArray[np.float64],
    worst: npt.NDArray[np.float64],
) -> pl.DataFrame:
    # The frame of `open_trades` from the open lots' fields in list order, for both modes.
    side = np.where(qty > 0, 1, -1)
    return pl.DataFrame(
        {
            "asset": pl.Series([tracker._assets[a] for a in asset], dtype=pl.String),
            "side": pl.Series(side, dtype=pl.Int8),
            "quantity": np.abs(qty),
            "entry_time": datetime_series("entry_time", entry_time),
            "entry_price": entry,
            "mae": side * (worst - entry) / entry,
            "mfe": side * (best - entry) / entry,
            "bars_held": pl.Series([tracker._bar - b for b in entry_bar], dtype=pl.Int64),
        }
    )


class _CompiledTradeTracker(TradeTracker):
    """A `TradeTracker` in the compiled mode (`use_compiled` turns a tracker into one).

    The state is in the arrays `_trades_nb` describes (the Python mode's lot lists, slot
    arrays and closed rows are empty); each method reads and writes those, with the same
    float operations as the Python mode's.
    """

    __slots__ = ()

    @property
    def open_lot_count(self) -> int:
        """Return the number of open lots."""
        return int(self._counts.item(0))

    @property
    def is_compiled(self) -> bool:
        """Return True: the tracker is in the compiled mode."""
        return True

    def use_compiled(self) -> bool:
        """Do nothing: the tracker is in the compiled mode already.

        Returns:
            True.
        """
        return True

    def _room(self, fills: int) -> None:
        # Make room for `fills` more lots (doubling the lot arrays) and as many closed trades
        # as `fills` fills can close (every open lot and one part of a lot per fill; a new
        # chunk).
        n = self._counts.item(0)
        nc = self._counts.item(1)
        cap = self._lf.shape[0]
        if n + fills > cap:
            while cap < n + fills:
                cap *= 2
            lf = np.zeros((cap, self._lf.shape[1]))
            li = np.zeros((cap, self._li.shape[1]), dtype=np.int64)
            lf[:n] = self._lf[:n]
            li[:n] = self._li[:n]
            self._lf = lf
            self._li = li
        need = n + 2 * fills
        if nc + need > self._cf.shape[1]:
            # the current chunk is done; the next one grows with the trades so far
            if nc:
                self._full.append((self._cf[:, :nc], self._ci[:, :nc]))
                self._counts[1] = 0
            total = sum(cf.shape[1] for cf, _ in self._full)
            cap = _closed_capacity(max(need, min(total, _MAX_CHUNK)))
            self._cf = np.zeros((self._cf.shape[0], cap))
            self._ci = np.zeros((self._ci.shape[0], cap), dtype=np.int64)

    def _slots(self, asset_index: int) -> list[int]:
        # The slots of an asset's open lots, in entry order.
        li_item = self._li.item
        out = []
        k = self._ends.item(asset_index, 0)
        while k >= 0:
            out.append(k)
            k = li_item(k, 3)  # `_trades_nb.NEXT`
        return out

    def on_fill(  # noqa: PLR0917 - also called positionally by Portfolio.apply_fills
        self,
        asset_index: int,
        signed_quantity: float,
        price: float,
        timestamp: Timestamp,
        commission: float = 0.0,
        slippage: float = 0.0,
        tag: str = "",
    ) -> None:
        """Match a fill against the open lots of `asset_index` (see `TradeTracker.on_fill`).

        Args:
            asset_index: Position of the asset in `assets`.
            signed_quantity: + bought, - sold.
            price: Fill price per unit.
            timestamp: Fill time, int ns UTC.
            commission: Commission of the whole fill, spread per unit.
            slippage: Slippage cost of the whole fill, spread per unit.
            tag: Exit reason stored on the trades this fill closes.
        """
        # a batch of one (the scalar form is rare in the compiled mode: batches come through
        # `on_fills`), its row checked and wrapped as a list index would be
        row = range(self._ends.shape[0])[asset_index]  # IndexError if outside
        self.on_fills(
            np.array([row], dtype=np.int64),
            np.array([signed_quantity], dtype=np.float64),
            np.array([price], dtype=np.float64),
            timestamp,
            np.array([commission], dtype=np.float64),
            np.array([slippage], dtype=np.float64),
            tag,
        )

    def on_fills(  # noqa: PLR0917 - hot path, positional
        self,
        rows: npt.NDArray[np.int64],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        timestamp: Timestamp,
        commission: npt.NDArray[np.float64],
        slippage: npt.NDArray[np.float64],
        tag: str,
    ) -> None:
        """Match a batch of fills with one kernel call (see `TradeTracker.on_fills`).

        Args:
            rows: Position of each fill's asset in `assets`, shape ``(F,)``.
            signed: Signed quantity per fill (+ bought, - sold), shape ``(F,)``.
            price: Fill price per unit, shape ``(F,)``.
            timestamp: Time of every fill, int ns UTC.
            commission: Commission of each whole fill, spread per unit, shape ``(F,)``.
            slippage: Slippage cost of each whole fill, spread per unit, shape ``(F,)``.
            tag: Exit reason stored on the trades these fills close.

        Raises:
            IndexError: A row is not an asset index (no fill of the batch is booked).
        """
        f = rows.shape[0]
        if f == 0:
            return
        counts = self._counts
        n = counts.item(0)
        nc = counts.item(1)
        if n + f > self._lf.shape[0] or nc + n + 2 * f > self._cf.shape[1]:
            self._room(f)
        tags = self._tags
        code = tags.get(tag)
        new = code is None
        if code is None:
            code = len(tags)  # (the code `_tag_code` gives it at its first close)
        if not _kernels().fills_nb(
            self._lf,
            self._li,
            self._ends,
            self._cf,
            self._ci,
            counts,
            np.asarray(rows, dtype=np.int64),
            np.asarray(signed, dtype=np.float64),
            np.asarray(price, dtype=np.float64),
            np.asarray(commission, dtype=np.float64),
            np.asarray(slippage, dtype=np.float64),
            int(timestamp),
            self._bar,
            code,
            int(self.matching),
        ):
            raise IndexError(f"asset rows must be in [0, {self._ends.shape[0]}), were {rows}")
        if new and counts.item(1) > nc:
            tags[tag] = code

    def update_excursions(
        self, high_row: npt.NDArray[np.float64], low_row: npt.NDArray[np.float64]
    ) -> None:
        """Widen the best/worst prices of every open lot with this bar's high and low.

        NaN entries (no bar) leave the lots of that asset unchanged.

        Args:
            high_row: High of the bar per asset, shape ``(A,)``.
            low_row: Low of the bar per asset, shape ``(A,)``.
        """
        n = self._counts.item(0)
        if n == 0:
            return
        _kernels().excursions_nb(
            n,
            self._lf,
            self._li,
            np.asarray(high_row, dtype=np.float64),
            np.asarray(low_row, dtype=np.float64),
        )

    def split(self, asset_index: int, factor: float) -> None:
        """Scale the open lots of an asset for a split: quantity x factor, prices / factor."""
        slots = self._slots(asset_index)
        if not slots:
            return
        idx = np.array(slots, dtype=np.intp)
        lf = self._lf
        lf[idx, 0] *= factor  # qty; then entry, cpu, spu, best, worst (`_trades_nb` columns)
        for j in range(1, 6):
            lf[idx, j] /= factor

    def transfer(self, from_index: int, to_index: int) -> None:
        """Move the open lots of one asset to another (symbol change)."""
        ends = self._ends
        assets = range(ends.shape[0])
        from_index = assets[from_index]
        to_index = assets[to_index]
        slots = self._slots(from_index)
        if not slots:
            ends[from_index] = -1
            return
        li = self._li
        idx = np.array(slots, dtype=np.intp)
        li[idx, 0] = to_index  # `_trades_nb` columns: asset, .., next (3), prev (4)
        if from_index == to_index:
            # (as the Python mode: the lots leave every list, still open)
            li[idx, 3] = -2
            li[idx, 4] = -2
            ends[from_index] = -1
            return
        first = slots[0]
        tail = ends.item(to_index, 1)
        if tail >= 0:
            li[tail, 3] = first
            li[first, 4] = tail
        else:
            ends[to_index, 0] = first
        ends[to_index, 1] = slots[-1]
        ends[from_index] = -1

    def open_quantity(self, asset_index: int) -> float:
        """Return the signed open quantity over the lots of an asset."""
        return float(sum(self._lf[self._slots(asset_index), 0].tolist()))

    def to_polars(self) -> pl.DataFrame:
        """Return the closed trades as a frame with the columns of `TRADE_COLUMNS`.

        Times are ``Datetime[ns, UTC]``; ``side`` is +1 (long) or -1 (short).
        """
        nc = self._counts.item(1)
        if nc == 0 and not self._full:
            return _trades_frame(self, {})
        chunks = [*self._full, (self._cf[:, :nc], self._ci[:, :nc])]
        # new arrays (the frame must not share the chunks' buffers), rows contiguous
        floats = np.concatenate([f for f, _ in chunks], axis=1)
        ints = np.concatenate([i for _, i in chunks], axis=1)
        raw = dict(zip(_RAW_FLOATS, floats, strict=True)) | dict(zip(_RAW_INTS, ints, strict=True))
        return _trades_frame(self, raw)

    def open_trades(self) -> pl.DataFrame:
        """Return the open lots: asset, side, quantity, entry_time, entry_price, mae, mfe."""
        slots = [k for a in range(self._ends.shape[0]) for k in self._slots(a)]
        idx = np.array(slots, dtype=np.intp)
        lf = self._lf
        li = self._li[idx]
        # each float column a new array, as the Python mode's (the same numpy loops)
        return _open_frame(
            self,
            li[:, 0].tolist(),
            lf[idx, 0],
            lf[idx, 1],
            li[:, 1].tolist(),
            li[:, 2].tolist(),
            lf[idx, 4],
            lf[idx, 5],
        )
