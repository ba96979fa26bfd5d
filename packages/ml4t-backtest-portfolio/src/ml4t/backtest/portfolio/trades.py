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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import IntEnum

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
_EPS = 1e-12  # relative quantity tolerance below which a lot counts as closed


class LotMatching(IntEnum):
    """Which open lot a closing fill matches first."""

    FIFO = 0  # oldest lot first
    LIFO = 1  # newest lot first
    AVERAGE = 2  # one lot per asset at the average entry price


class TradeTracker:
    """Build round trips from fills.

    Args:
        assets: Asset ids, in the order of the rows passed to `update_excursions`.
        matching: Lot matching rule.
        multipliers: Multiplier per asset (1.0 when None).
        capacity: Initial number of open-lot slots (grows by doubling).

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
        "_active",
        "_assets",
        "_bar",
        "_best",
        "_closed",
        "_cpu",
        "_entry",
        "_free",
        "_lot_asset",
        "_lot_bar",
        "_lot_time",
        "_lots",
        "_mult",
        "_qty",
        "_spu",
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
    ) -> None:
        self._assets = tuple(assets)
        self.matching = LotMatching(matching)
        n = len(self._assets)
        self._mult = (
            np.ones(n) if multipliers is None else np.asarray(multipliers, dtype=np.float64)
        )
        if self._mult.shape != (n,):
            raise ConfigError(
                f"`multipliers` must have one value per asset ({n}), was {self._mult.shape}"
            )
        cap = max(int(capacity), 1)
        self._lot_asset = np.zeros(cap, dtype=np.int64)
        self._qty = np.zeros(cap)  # signed open quantity of the lot
        self._entry = np.zeros(cap)
        self._lot_time = np.zeros(cap, dtype=np.int64)
        self._lot_bar = np.zeros(cap, dtype=np.int64)
        self._cpu = np.zeros(cap)  # entry commission per unit
        self._spu = np.zeros(cap)  # entry slippage per unit
        self._best = np.zeros(cap)
        self._worst = np.zeros(cap)
        self._active = np.zeros(cap, dtype=np.bool_)
        self._free: list[int] = list(range(cap - 1, -1, -1))
        self._lots: list[list[int]] = [[] for _ in range(n)]
        self._closed: list[tuple[object, ...]] = []
        self._bar = 0

    # -- growth --------------------------------------------------------------------------
    def _grow(self) -> None:
        cap = self._qty.shape[0]
        for name in (
            "_lot_asset",
            "_qty",
            "_entry",
            "_lot_time",
            "_lot_bar",
            "_cpu",
            "_spu",
            "_best",
            "_worst",
            "_active",
        ):
            old = getattr(self, name)
            new = np.zeros(cap * 2, dtype=old.dtype)
            new[:cap] = old
            setattr(self, name, new)
        self._free.extend(range(2 * cap - 1, cap - 1, -1))

    @property
    def bar(self) -> int:
        """Return the number of `advance_bar` calls so far."""
        return self._bar

    @property
    def open_lot_count(self) -> int:
        """Return the number of open lots."""
        return int(self._active.sum())

    def on_fill(
        self,
        asset_index: int,
        signed_quantity: float,
        price: float,
        timestamp: Timestamp,
        *,
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
        qty = self._qty
        while remaining > tol and lots:
            k = lots[-1] if self.matching == LotMatching.LIFO else lots[0]
            lot_qty = float(qty[k])
            if lot_qty * sign > 0.0:
                break  # same direction: nothing to close
            lot_size = abs(lot_qty)
            take = min(lot_size, remaining)
            self._close(k, take, price, timestamp, cpu=cpu, spu=spu, tag=tag)
            if take >= lot_size * (1.0 - _EPS):
                self._active[k] = False
                self._free.append(k)
                lots.remove(k)
            else:
                qty[k] = lot_qty + sign * take
            remaining -= take
        if remaining <= tol:
            return
        if self.matching == LotMatching.AVERAGE and lots:
            k = lots[0]
            old = abs(float(qty[k]))
            total = old + remaining
            self._entry[k] = (self._entry[k] * old + price * remaining) / total
            self._cpu[k] = (self._cpu[k] * old + cpu * remaining) / total
            self._spu[k] = (self._spu[k] * old + spu * remaining) / total
            qty[k] = sign * total
            if sign > 0:
                self._best[k] = max(self._best[k], price)
                self._worst[k] = min(self._worst[k], price)
            else:
                self._best[k] = min(self._best[k], price)
                self._worst[k] = max(self._worst[k], price)
            return
        if not self._free:
            self._grow()
            qty = self._qty  # the arrays were replaced
        k = self._free.pop()
        self._lot_asset[k] = asset_index
        qty[k] = sign * remaining
        self._entry[k] = price
        self._lot_time[k] = timestamp
        self._lot_bar[k] = self._bar
        self._cpu[k] = cpu
        self._spu[k] = spu
        self._best[k] = price
        self._worst[k] = price
        self._active[k] = True
        lots.append(k)

    # Record one closed (part of a) lot.
    def _close(
        self,
        k: int,
        take: float,
        price: float,
        timestamp: Timestamp,
        *,
        cpu: float,
        spu: float,
        tag: str,
    ) -> None:
        side = 1 if self._qty[k] > 0 else -1
        entry = float(self._entry[k])
        mult = float(self._mult[self._lot_asset[k]])
        if side > 0:
            best = max(float(self._best[k]), price)
            worst = min(float(self._worst[k]), price)
        else:
            best = min(float(self._best[k]), price)
            worst = max(float(self._worst[k]), price)
        gross = side * (price - entry) * take * mult
        commission = take * (float(self._cpu[k]) + cpu)
        slippage = take * (float(self._spu[k]) + spu)
        net = gross - commission
        basis = entry * take * mult
        self._closed.append(
            (
                self._assets[int(self._lot_asset[k])],
                side,
                take,
                int(self._lot_time[k]),
                int(timestamp),
                entry,
                price,
                gross,
                net,
                commission,
                slippage,
                net / basis if basis != 0.0 else math.nan,
                side * (worst - entry) / entry if entry != 0.0 else math.nan,
                side * (best - entry) / entry if entry != 0.0 else math.nan,
                self._bar - int(self._lot_bar[k]),
                tag,
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
        act = np.flatnonzero(self._active)
        if act.size == 0:
            return
        idx = self._lot_asset[act]
        high = high_row[idx]
        low = low_row[idx]
        long = self._qty[act] > 0.0
        best = self._best[act]
        worst = self._worst[act]
        self._best[act] = np.where(long, np.fmax(best, high), np.fmin(best, low))
        self._worst[act] = np.where(long, np.fmin(worst, low), np.fmax(worst, high))

    def advance_bar(self) -> None:
        """Count one bar (used for ``bars_held``)."""
        self._bar += 1

    def split(self, asset_index: int, factor: float) -> None:
        """Scale the open lots of an asset for a split: quantity x factor, prices / factor."""
        for k in self._lots[asset_index]:
            self._qty[k] *= factor
            self._entry[k] /= factor
            self._best[k] /= factor
            self._worst[k] /= factor
            self._cpu[k] /= factor
            self._spu[k] /= factor

    def transfer(self, from_index: int, to_index: int) -> None:
        """Move the open lots of one asset to another (symbol change)."""
        moved = self._lots[from_index]
        for k in moved:
            self._lot_asset[k] = to_index
        self._lots[to_index].extend(moved)
        self._lots[from_index] = []

    def open_quantity(self, asset_index: int) -> float:
        """Return the signed open quantity over the lots of an asset."""
        return float(sum(float(self._qty[k]) for k in self._lots[asset_index]))

    def to_polars(self) -> pl.DataFrame:
        """Return the closed trades as a frame with the columns of `TRADE_COLUMNS`.

        Times are ``Datetime[ns, UTC]``; ``side`` is +1 (long) or -1 (short).
        """
        cols = list(zip(*self._closed, strict=True)) if self._closed else [()] * 16
        data: dict[str, pl.Series] = {}
        dtypes = (
            pl.String,
            pl.Int8,
            pl.Float64,
            None,
            None,
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
        )
        for name, values, dtype in zip(TRADE_COLUMNS, cols, dtypes, strict=True):
            if dtype is None:
                data[name] = datetime_series(name, [int(v) for v in values])
            else:
                data[name] = pl.Series(name, list(values), dtype=dtype)
        return pl.DataFrame(data)

    def open_trades(self) -> pl.DataFrame:
        """Return the open lots: asset, side, quantity, entry_time, entry_price, mae, mfe."""
        act = np.flatnonzero(self._active)
        qty = self._qty[act]
        entry = self._entry[act]
        side = np.where(qty > 0, 1, -1)
        return pl.DataFrame(
            {
                "asset": [self._assets[int(a)] for a in self._lot_asset[act]],
                "side": pl.Series(side, dtype=pl.Int8),
                "quantity": np.abs(qty),
                "entry_time": datetime_series("entry_time", self._lot_time[act]),
                "entry_price": entry,
                "mae": side * (self._worst[act] - entry) / entry,
                "mfe": side * (self._best[act] - entry) / entry,
                "bars_held": self._bar - self._lot_bar[act],
            }
        )
