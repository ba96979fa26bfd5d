"""Per-bar recording of portfolio state into column buffers, turned into polars frames once.

`SnapshotRecorder.record` copies a handful of scalars and two ``(A,)`` rows into
preallocated numpy buffers (doubling when full); `equity_curve` and `positions` build the
frames at the end. Nothing per bar touches polars.

Equity-curve columns: ``timestamp`` (Datetime[ns, UTC]), ``equity``, ``cash``,
``market_value``, ``gross_exposure``, ``net_exposure``, ``long_exposure``,
``short_exposure`` (negative), ``leverage`` (gross / equity), ``traded_notional`` (base
currency traded since the previous snapshot), ``returns`` (``equity_t / equity_{t-1} - 1``,
the first row against the initial equity given to the recorder, else 0), ``drawdown``
(``equity_t / max_{s<=t} equity_s - 1``, the running peak including the initial equity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.portfolio._frames import datetime_series
from ml4t.backtest.portfolio.portfolio import Portfolio

__all__ = ["SnapshotRecorder", "EQUITY_CURVE_COLUMNS"]

_SCALARS = (
    "equity",
    "cash",
    "market_value",
    "gross_exposure",
    "net_exposure",
    "long_exposure",
    "short_exposure",
    "leverage",
    "traded_notional",
)
EQUITY_CURVE_COLUMNS = ("timestamp", *_SCALARS, "returns", "drawdown")


class SnapshotRecorder:
    """Record a portfolio's state once per bar.

    Args:
        assets: Asset ids of the portfolio, in array order.
        capacity: Number of bars to preallocate (grows by doubling).
        initial_equity: Equity before the first bar, the base of the first return and of the
            drawdown peak (NaN: the first recorded equity).

    Example:
        >>> from ml4t.backtest.core.enums import OrderSide
        >>> from ml4t.backtest.core.events import FillEvent
        >>> pf = Portfolio(["A"], initial_cash=1000.0)
        >>> rec = SnapshotRecorder(pf.assets, initial_equity=1000.0)
        >>> pf.apply_fill(FillEvent(0, 1, "A", OrderSide.BUY, 5.0, 100.0))
        >>> pf.mark(0, np.array([100.0])); rec.record(0, pf)
        >>> pf.mark(1, np.array([80.0])); rec.record(1, pf)
        >>> rec.equity_curve().select(pl.col("equity", "returns", "drawdown").round(6)).rows()
        [(1000.0, 0.0, 0.0), (900.0, -0.1, -0.1)]
    """

    __slots__ = (
        "_assets",
        "_initial_equity",
        "_n",
        "_notional_seen",
        "_qty",
        "_scalars",
        "_times",
        "_values",
    )

    def __init__(
        self, assets: Sequence[AssetId], *, capacity: int = 1024, initial_equity: float = math.nan
    ) -> None:
        self._assets = tuple(assets)
        cap = max(int(capacity), 1)
        width = len(self._assets)
        self._times = np.zeros(cap, dtype=np.int64)
        self._scalars = np.zeros((cap, len(_SCALARS)))
        self._qty = np.zeros((cap, width))
        self._values = np.zeros((cap, width))
        self._n = 0
        self._notional_seen = 0.0
        self._initial_equity = float(initial_equity)

    def __len__(self) -> int:
        return self._n

    def _grow(self) -> None:
        cap = self._times.shape[0] * 2
        self._times = np.resize(self._times, cap)
        for name in ("_scalars", "_qty", "_values"):
            old = getattr(self, name)
            new = np.zeros((cap, old.shape[1]))
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def record(self, timestamp: Timestamp, portfolio: Portfolio) -> None:
        """Append the state of `portfolio` at `timestamp` (call after `Portfolio.mark`)."""
        if self._n == self._times.shape[0]:
            self._grow()
        k = self._n
        equity, cash, notional, values = portfolio.valuation()
        gross = float(np.abs(notional).sum())
        net = float(notional.sum())
        long = 0.5 * (gross + net)
        short = 0.5 * (net - gross)
        traded = portfolio.totals["traded_notional"]
        row = self._scalars[k]
        row[0] = equity
        row[1] = cash
        row[2] = float(values.sum())
        row[3] = gross
        row[4] = net
        row[5] = long
        row[6] = short
        row[7] = gross / equity if equity > 0.0 else (math.inf if gross > 0.0 else 0.0)
        row[8] = traded - self._notional_seen
        self._notional_seen = traded
        self._times[k] = timestamp
        self._qty[k] = portfolio.quantities
        self._values[k] = values
        self._n = k + 1

    def equity_curve(self) -> pl.DataFrame:
        """Return the equity curve frame (columns in `EQUITY_CURVE_COLUMNS`)."""
        n = self._n
        data: dict[str, object] = {"timestamp": datetime_series("timestamp", self._times[:n])}
        for j, name in enumerate(_SCALARS):
            data[name] = self._scalars[:n, j].copy()
        equity = self._scalars[:n, 0]
        base = (
            self._initial_equity
            if math.isfinite(self._initial_equity)
            else (float(equity[0]) if n else math.nan)
        )
        previous = np.concatenate(([base], equity[:-1])) if n else equity
        with np.errstate(divide="ignore", invalid="ignore"):
            data["returns"] = np.where(previous != 0.0, equity / previous - 1.0, 0.0)
            peak = np.fmax.accumulate(np.concatenate(([base], equity)))[1:] if n else equity
            data["drawdown"] = np.where(peak > 0.0, equity / peak - 1.0, 0.0)
        return pl.DataFrame(data)

    def positions(self, *, include_flat: bool = False) -> pl.DataFrame:
        """Return positions over time in long format.

        Columns: ``timestamp``, ``asset``, ``quantity``, ``market_value`` (base currency,
        futures: open P&L). Rows with zero quantity are dropped unless `include_flat`.
        """
        n = self._n
        width = len(self._assets)
        qty = self._qty[:n].reshape(-1)
        values = self._values[:n].reshape(-1)
        times = np.repeat(self._times[:n], width)
        assets = np.tile(np.arange(width), n)
        keep: npt.NDArray[np.bool_] = (
            np.ones(qty.shape, dtype=np.bool_) if include_flat else qty != 0.0
        )
        names = pl.Series("asset", self._assets, dtype=pl.String)
        return pl.DataFrame(
            {
                "timestamp": datetime_series("timestamp", times[keep]),
                "asset": names.gather(assets[keep]),
                "quantity": qty[keep],
                "market_value": values[keep],
            }
        )
