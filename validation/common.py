"""Shared types of the validation suite: a run's outcome and how two outcomes are compared."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

__all__ = [
    "FILL_SCHEMA",
    "TOLERANCE",
    "Comparison",
    "RunResult",
    "compare",
    "fills_frame",
]

TOLERANCE = 2e-5  # 0.002 % relative, the public promise on final equity
PRICE_DECIMALS = 6  # fills are compared after rounding prices to this many decimals
QTY_DECIMALS = 8  # and quantities to this many (crypto fractions)
QTY_ATOL = 1.5e-8  # one unit in the 8th decimal: float division vs a 1e-9 lot grid

FILL_SCHEMA = {
    "timestamp": pl.Datetime("us"),
    "asset": pl.String,
    "side": pl.Int8,
    "quantity": pl.Float64,
    "price": pl.Float64,
}


def fills_frame(rows: list[tuple[datetime, str, int, float, float]]) -> pl.DataFrame:
    """Build the canonical fill list: timestamp (bar label), asset, side (+1/-1), |qty|, price."""
    df = (
        pl.DataFrame(rows, schema=list(FILL_SCHEMA.items()), orient="row")
        if rows
        else pl.DataFrame(schema=FILL_SCHEMA)
    )
    # Fills of one asset and side at one timestamp are merged (quantity-weighted price): a
    # reversal is one 200-unit order in one engine and a 100 close + 100 open in another.
    df = df.with_columns(pl.col("quantity").abs())
    return (
        df.group_by(["timestamp", "asset", "side"], maintain_order=True)
        .agg(
            (pl.col("price") * pl.col("quantity")).sum().alias("notional"),
            pl.col("quantity").sum(),
        )
        .select(
            "timestamp",
            "asset",
            "side",
            pl.col("quantity").round(QTY_DECIMALS),
            (pl.col("notional") / pl.col("quantity")).round(PRICE_DECIMALS).alias("price"),
        )
        .sort(["timestamp", "asset", "side"], maintain_order=True)
    )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one engine produced on one scenario."""

    engine: str  # e.g. "backtrader 1.9.78.123" or "ml4t-backtest 0.1.0"
    fills: pl.DataFrame  # FILL_SCHEMA
    final_equity: float
    extra: dict[str, float] = field(default_factory=dict)  # e.g. per-run values of a sweep


@dataclass(frozen=True, slots=True)
class Comparison:
    """Outcome of comparing ml4t-backtest against a peer on one scenario."""

    trades_peer: int
    trades_ml4t: int
    trades_matched: int
    first_mismatch: str | None
    value_peer: float
    value_ml4t: float
    relative_difference: float

    @property
    def fills_equal(self) -> bool:
        """True when every fill matches (timestamp, asset, side, quantity, price)."""
        return self.first_mismatch is None and self.trades_peer == self.trades_ml4t

    @property
    def value_within_tolerance(self) -> bool:
        """True when the final equities differ by at most `TOLERANCE` relative."""
        return self.relative_difference <= TOLERANCE


def compare(peer: RunResult, ours: RunResult, *, price_atol: float = 1e-6) -> Comparison:
    """Compare two runs fill by fill (in time order) and by final equity."""
    a, b = peer.fills, ours.fills
    matched = 0
    mismatch: str | None = None
    for ra, rb in zip(a.iter_rows(named=True), b.iter_rows(named=True), strict=False):
        same = (
            ra["timestamp"] == rb["timestamp"]
            and ra["asset"] == rb["asset"]
            and ra["side"] == rb["side"]
            and math.isclose(ra["quantity"], rb["quantity"], rel_tol=1e-10, abs_tol=QTY_ATOL)
            and math.isclose(ra["price"], rb["price"], rel_tol=0.0, abs_tol=price_atol)
        )
        if not same:
            mismatch = f"fill #{matched}: peer={ra} ml4t={rb}"
            break
        matched += 1
    if mismatch is None and a.height != b.height:
        longer, who = (a, "peer") if a.height > b.height else (b, "ml4t")
        mismatch = f"fill #{matched}: only {who} has {longer.row(matched, named=True)}"
    denom = abs(peer.final_equity) if peer.final_equity != 0 else 1.0
    rel = abs(ours.final_equity - peer.final_equity) / denom
    return Comparison(
        trades_peer=a.height,
        trades_ml4t=b.height,
        trades_matched=matched,
        first_mismatch=mismatch,
        value_peer=peer.final_equity,
        value_ml4t=ours.final_equity,
        relative_difference=rel,
    )
