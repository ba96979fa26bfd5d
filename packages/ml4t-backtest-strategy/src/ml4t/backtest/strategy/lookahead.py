"""Look-ahead audit: rerun with the future perturbed; decisions made before it must not change.

`check_lookahead` runs a strategy once on the real data, then again on copies whose bars
after random cut points are perturbed (prices scaled by random factors, volumes, signals and
context noised). Everything a strategy decides at or before a cut may depend only on data up
to the cut, so every order created at or before the cut must come out the same. Any difference
is a look-ahead: the strategy, or a column it reads, used data from after its bar.

Signal columns computed outside the engine are part of the data: if they were built with
future data (e.g. a centred moving average), perturbing only the raw future does not reveal
it. Pass ``prepare=`` (a function that recomputes the derived columns from a feed) to audit
the signal pipeline as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError, LookAheadError
from ml4t.backtest.core.types import format_timestamp
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

__all__ = ["LookaheadReport", "LookaheadViolation", "check_lookahead", "perturb_after"]

_DECISION_COLUMNS = (
    "created_at",
    "asset",
    "side",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tag",
)
_PRICE_FIELDS = ("open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class LookaheadViolation:
    """One decision that changed when only data after `cut_timestamp` was changed.

    Attributes:
        cut_index: Last unchanged bar.
        cut_timestamp: Its time (ISO text).
        decision_index: Position of the first differing order among those at or before the
            cut (in submission order).
        baseline: The decision in the real run (dict of order fields, or None if absent).
        perturbed: The decision in the perturbed run (or None if absent).
    """

    cut_index: int
    cut_timestamp: str
    decision_index: int
    baseline: dict[str, Any] | None
    perturbed: dict[str, Any] | None

    def __str__(self) -> str:
        return (
            f"decision #{self.decision_index} at or before cut {self.cut_timestamp} "
            f"(bar {self.cut_index}) changed when only later data changed: "
            f"{self.baseline} -> {self.perturbed}"
        )


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """Outcome of `check_lookahead`.

    Attributes:
        cuts: Bar indices used as cut points.
        decisions_checked: Orders at or before the cuts that were compared (summed over cuts).
        violations: Decisions that changed; empty when the strategy is point-in-time.
    """

    cuts: tuple[int, ...]
    decisions_checked: int
    violations: tuple[LookaheadViolation, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Return True when no decision changed."""
        return not self.violations

    def raise_if_failed(self) -> None:
        """Raise `LookAheadError` describing the first violation, if any."""
        if self.violations:
            first = self.violations[0]
            raise LookAheadError(
                f"look-ahead detected in {len(self.violations)} of {len(self.cuts)} cuts; "
                f"first: {first}; check what the strategy reads (and how its signal columns "
                "were computed) at that bar"
            )


def perturb_after(
    feed: DataFeed, cut: int, rng: np.random.Generator, *, scale: float = 0.05
) -> DataFeed:
    """Return a copy of `feed` whose bars after index `cut` are randomly perturbed.

    Each (bar, asset) price row is multiplied by one factor ``exp(N(0, scale))`` (so OHLC
    stay consistent), volumes by ``exp(N(0, 0.5))``, other per-asset columns and context get
    noise of their own spread. Bars up to and including `cut` are bit-for-bit unchanged.

    Example:
        >>> c = np.array([[1.0], [2.0], [3.0]])
        >>> f = DataFeed(np.array([1, 2, 3]), ["A"], {"open": c, "high": c, "low": c,
        ...              "close": c, "volume": c})
        >>> p = perturb_after(f, 1, np.random.default_rng(0))
        >>> p.close[:2, 0].tolist(), bool(p.close[2, 0] != 3.0)
        ([1.0, 2.0], True)
    """
    n_t = feed.timestamps.shape[0]
    if not 0 <= cut < n_t - 1:
        raise ConfigError(f"cut must be in [0, {n_t - 2}], was {cut}")
    fields: dict[str, npt.NDArray[np.float64]] = {}
    tail = slice(cut + 1, None)
    src = feed.fields
    shape = src["close"][tail].shape
    factor = np.exp(rng.normal(0.0, scale, size=shape))
    for name, arr in src.items():
        out = np.array(arr, dtype=np.float64, copy=True)
        if name in _PRICE_FIELDS or name in ("bid", "ask"):
            out[tail] = out[tail] * factor
        elif name == "volume":
            out[tail] = out[tail] * np.exp(rng.normal(0.0, 0.5, size=shape))
        else:
            spread = float(np.nanstd(out)) if np.isfinite(out).any() else 1.0
            spread = spread if spread > 0 and math.isfinite(spread) else 1.0
            out[tail] = out[tail] + rng.normal(0.0, spread, size=shape)
        fields[name] = out
    context: dict[str, npt.NDArray[np.float64]] = {}
    for name, arr in feed.context.items():
        out = np.array(arr, dtype=np.float64, copy=True)
        spread = float(np.nanstd(out)) if np.isfinite(out).any() else 1.0
        spread = spread if spread > 0 and math.isfinite(spread) else 1.0
        out[tail] = out[tail] + rng.normal(0.0, spread, size=out[tail].shape)
        context[name] = out
    signal_names = list(feed.signals)
    return DataFeed(
        feed.timestamps,
        feed.assets,
        fields,
        has_bar=feed.has_bar,
        context=context,
        signal_names=signal_names,
        registry=feed.registry,
    )


def _decisions(orders: pl.DataFrame, until_ns: int) -> list[dict[str, Any]]:
    cut = orders.filter(pl.col("created_at").dt.epoch("ns") <= until_ns)
    cut = cut.sort("order_id", maintain_order=True).select(_DECISION_COLUMNS)
    rows = cut.with_columns(pl.col("created_at").dt.epoch("ns")).to_dicts()
    for row in rows:  # NaN != NaN: make them comparable
        for key in ("limit_price", "stop_price"):
            if isinstance(row[key], float) and math.isnan(row[key]):
                row[key] = None
    return rows


def check_lookahead(
    strategy_factory: Callable[[DataFeed], Strategy],
    feed: DataFeed,
    config: BacktestConfig | None = None,
    *,
    n_cuts: int = 3,
    seed: int | None = None,
    prepare: Callable[[DataFeed], DataFeed] | None = None,
    scale: float = 0.05,
) -> LookaheadReport:
    """Audit a strategy for look-ahead by perturbing the data after random cut points.

    Args:
        strategy_factory: Builds a fresh strategy for the feed it will run on (called once
            per run; honest strategies ignore the argument).
        feed: The real data.
        config: Run settings (default ``BacktestConfig()``).
        n_cuts: Number of random cut points (each one a rerun).
        seed: Seed of the cut points and perturbations (default: ``config.seed``).
        prepare: Recomputes derived columns (signals) from a feed; applied to the real and
            to every perturbed feed, so look-ahead inside the signal pipeline shows too.
        scale: Log-scale of the price perturbation.

    Returns:
        A `LookaheadReport`; ``report.passed`` is True when no decision changed.

    Example:
        >>> c = np.linspace(10.0, 20.0, 30).reshape(-1, 1)
        >>> feed = DataFeed(np.arange(30), ["A"], {"open": c, "high": c, "low": c,
        ...                 "close": c, "volume": c * 0 + 1e6})
        >>> class Peek(Strategy):
        ...     def __init__(self, f):
        ...         self.f = f
        ...     def on_bar(self, bar):
        ...         t = bar.index
        ...         if t + 1 < len(self.f.close) and self.f.close[t + 1, 0] > bar.close[0]:
        ...             self.buy("A", 1)
        >>> check_lookahead(Peek, feed, n_cuts=3, seed=0, scale=0.5).passed
        False
    """
    config = config if config is not None else BacktestConfig()
    n_t = int(feed.timestamps.shape[0])
    if n_t < 3:
        raise ConfigError(f"check_lookahead needs at least 3 bars, the feed has {n_t}")
    if n_cuts < 1:
        raise ConfigError(f"`n_cuts` must be >= 1, was {n_cuts}")
    rng = np.random.default_rng(config.seed if seed is None else seed)
    real = prepare(feed) if prepare is not None else feed
    base = BacktestEngine(data_feed=real, strategy=strategy_factory(real), config=config).run()
    cuts = sorted(int(c) for c in rng.choice(np.arange(0, n_t - 1), size=n_cuts, replace=True))
    violations: list[LookaheadViolation] = []
    checked = 0
    for cut in cuts:
        perturbed = perturb_after(feed, cut, rng, scale=scale)
        if prepare is not None:
            perturbed = prepare(perturbed)
        run = BacktestEngine(
            data_feed=perturbed, strategy=strategy_factory(perturbed), config=config
        ).run()
        until = int(feed.timestamps[cut])
        a = _decisions(base.orders, until)
        b = _decisions(run.orders, until)
        checked += len(a)
        for k in range(max(len(a), len(b))):
            da = a[k] if k < len(a) else None
            db = b[k] if k < len(b) else None
            if da != db:
                violations.append(LookaheadViolation(cut, format_timestamp(until), k, da, db))
                break
    return LookaheadReport(
        cuts=tuple(cuts), decisions_checked=checked, violations=tuple(violations)
    )
