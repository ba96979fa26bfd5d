"""`BacktestResult`: the columnar outcome of a run (polars frames, metrics, the exact config).

Frames and their columns (see docs/architecture/0002-layer-contracts.md):

* ``equity_curve``: timestamp (Datetime[ns, UTC]), equity, cash, market_value,
  gross_exposure, net_exposure, long_exposure, short_exposure, leverage, returns, drawdown.
* ``trades``: asset, side, quantity, entry_time, exit_time, entry_price, exit_price,
  gross_pnl, net_pnl, commission, slippage, return, mae, mfe, bars_held, exit_reason.
* ``fills``: the `FillEvent` fields; ``orders``: one row per order with its final status and
  reason; ``positions``: per-bar quantity and market value of each non-zero position.

All dtypes are plain parquet types (Int64, Float64, Utf8, Boolean, Datetime[ns, UTC]).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.errors import MissingDependencyError

if TYPE_CHECKING:
    from ml4t.backtest.strategy.config import BacktestConfig

__all__ = [
    "EQUITY_CURVE_SCHEMA",
    "FILLS_SCHEMA",
    "ORDERS_SCHEMA",
    "POSITIONS_SCHEMA",
    "REPORTERS_GROUP",
    "TRADES_SCHEMA",
    "BacktestResult",
    "equity_curve_frame",
]

REPORTERS_GROUP = "ml4t.backtest.reporters"
_TS = pl.Datetime("ns", "UTC")

EQUITY_CURVE_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": _TS,
    "equity": pl.Float64(),
    "cash": pl.Float64(),
    "market_value": pl.Float64(),
    "gross_exposure": pl.Float64(),
    "net_exposure": pl.Float64(),
    "long_exposure": pl.Float64(),
    "short_exposure": pl.Float64(),
    "leverage": pl.Float64(),
    "returns": pl.Float64(),
    "drawdown": pl.Float64(),
}


def equity_curve_frame(
    timestamps: npt.NDArray[np.int64], columns: dict[str, npt.NDArray[np.float64]]
) -> pl.DataFrame:
    """Build the `equity_curve` frame from int64-ns timestamps and its float columns.

    Args:
        timestamps: Bar timestamps, int nanoseconds UTC.
        columns: One array per non-timestamp column of `EQUITY_CURVE_SCHEMA`, by name.

    Returns:
        The frame, with exactly the schema's columns and dtypes.
    """
    data = {"timestamp": pl.Series(timestamps, dtype=pl.Int64).cast(_TS), **columns}
    return pl.DataFrame(data, schema=EQUITY_CURVE_SCHEMA)


TRADES_SCHEMA: dict[str, pl.DataType] = {
    "asset": pl.String(),
    "side": pl.Int8(),
    "quantity": pl.Float64(),
    "entry_time": _TS,
    "exit_time": _TS,
    "entry_price": pl.Float64(),
    "exit_price": pl.Float64(),
    "gross_pnl": pl.Float64(),
    "net_pnl": pl.Float64(),
    "commission": pl.Float64(),
    "slippage": pl.Float64(),
    "return": pl.Float64(),
    "mae": pl.Float64(),
    "mfe": pl.Float64(),
    "bars_held": pl.Int64(),
    "exit_reason": pl.String(),
}
FILLS_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": _TS,
    "order_id": pl.Int64(),
    "asset": pl.String(),
    "side": pl.Int8(),
    "quantity": pl.Float64(),
    "price": pl.Float64(),
    "reference_price": pl.Float64(),
    "commission": pl.Float64(),
    "slippage": pl.Float64(),
    "impact": pl.Float64(),
    "remaining": pl.Float64(),
    "multiplier": pl.Float64(),
    "tag": pl.String(),
}
ORDERS_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.Int64(),
    "created_at": _TS,
    "updated_at": _TS,
    "asset": pl.String(),
    "side": pl.Int8(),
    "quantity": pl.Float64(),
    "order_type": pl.String(),
    "limit_price": pl.Float64(),
    "stop_price": pl.Float64(),
    "time_in_force": pl.String(),
    "status": pl.String(),
    "filled_quantity": pl.Float64(),
    "average_fill_price": pl.Float64(),
    "reason": pl.String(),
    "tag": pl.String(),
}
POSITIONS_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": _TS,
    "asset": pl.String(),
    "quantity": pl.Float64(),
    "market_value": pl.Float64(),
}


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a run produced; frames are polars, `config` the exact settings used.

    Attributes:
        equity_curve: One row per timestamp (see module docs for columns).
        trades: One row per round trip.
        fills: One row per execution.
        orders: One row per order with its final state.
        positions: One row per (timestamp, asset) with a non-zero position.
        metrics: Performance metrics (name -> value).
        config: The `BacktestConfig` of the run.
        metadata: Run facts: data fingerprint, strategy name, versions, whether it completed,
            wall time; plain JSON-able values.

    Example:
        >>> r = BacktestResult.empty()
        >>> r.equity_curve.columns[:3], r.metrics
        (['timestamp', 'equity', 'cash'], {})
    """

    equity_curve: pl.DataFrame
    trades: pl.DataFrame
    fills: pl.DataFrame
    orders: pl.DataFrame
    positions: pl.DataFrame
    metrics: dict[str, float]
    config: BacktestConfig | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, config: BacktestConfig | None = None) -> BacktestResult:
        """Return a result with empty frames of the documented schemas."""
        return cls(
            equity_curve=pl.DataFrame(schema=EQUITY_CURVE_SCHEMA),
            trades=pl.DataFrame(schema=TRADES_SCHEMA),
            fills=pl.DataFrame(schema=FILLS_SCHEMA),
            orders=pl.DataFrame(schema=ORDERS_SCHEMA),
            positions=pl.DataFrame(schema=POSITIONS_SCHEMA),
            metrics={},
            config=config,
        )

    @property
    def completed(self) -> bool:
        """Return True when the run reached its last bar (False for a partial result)."""
        return bool(self.metadata.get("completed", True))

    @property
    def final_equity(self) -> float:
        """Return the last recorded equity (NaN when nothing was recorded)."""
        if self.equity_curve.height == 0:
            return float("nan")
        return float(self.equity_curve["equity"][-1])

    def summary(self) -> str:
        """Return a short text summary: period, final equity, trades and headline metrics."""
        ec = self.equity_curve
        lines = []
        if ec.height:
            first, last = ec["timestamp"][0], ec["timestamp"][-1]
            lines.append(f"{'period':<26}{first:%Y-%m-%d} -> {last:%Y-%m-%d}")
            lines.append(f"{'final equity':<26}{self.final_equity:,.2f}")
        lines.append(f"{'trades':<26}{self.trades.height}")
        lines.append(f"{'fills':<26}{self.fills.height}")
        for key, value in self.metrics.items():
            lines.append(f"{key:<26}{value:,.4f}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------- persistence

    @property
    def data(self) -> dict[str, Any]:
        """Return the input data's fingerprint (hash, start, end, assets) or an empty dict."""
        value = self.metadata.get("data")
        return dict(value) if isinstance(value, dict) else {}

    def save(self, path: str | Path, *, overwrite: bool = False, **kwargs: Any) -> Path:
        """Write the result to the directory `path` (parquet frames, metrics, config).

        The layout is defined by `ml4t.backtest.strategy.persistence.save_result`, which also
        takes the keyword options (``feed=``, ``run=``).
        """
        from ml4t.backtest.strategy.persistence import save_result  # noqa: PLC0415 (no cycle)

        return Path(save_result(self, path, overwrite=overwrite, **kwargs))

    @classmethod
    def load(cls, path: str | Path) -> BacktestResult:
        """Read a result written by `save`; frames, metrics and config come back unchanged."""
        from ml4t.backtest.strategy.config import BacktestConfig  # noqa: PLC0415 (no cycle)
        from ml4t.backtest.strategy.persistence import load_result  # noqa: PLC0415 (no cycle)

        saved = load_result(path, config_type=BacktestConfig)
        config = saved.config
        if isinstance(config, dict):
            config = BacktestConfig.from_dict(config)
        metadata: dict[str, Any] = {
            "data": saved.data.as_dict(),
            "versions": dict(saved.versions),
            "run": dict(saved.run),
            "path": str(saved.path) if saved.path is not None else "",
            "created": saved.created,
            "completed": True,
        }
        return cls(
            equity_curve=saved.equity_curve,
            trades=saved.trades,
            fills=saved.fills,
            orders=saved.orders,
            positions=saved.positions,
            metrics=dict(saved.metrics),
            config=config,
            metadata=metadata,
        )

    def tearsheet(self, path: str | Path | None = None, **kwargs: Any) -> Any:
        """Render a tearsheet with the reporting distribution (found by entry point).

        Raises:
            MissingDependencyError: ml4t-backtest-reporting is not installed.
        """
        eps = importlib.metadata.entry_points(group=REPORTERS_GROUP, name="tearsheet")
        for ep in eps:
            render = ep.load()
            return render(self, path, **kwargs)
        raise MissingDependencyError(
            "tearsheet() needs the reporting distribution; install it with "
            "`pip install ml4t-backtest-reporting`"
        )
