"""Risk rules the engine enforces, not user code.

Per-position rules (`RiskConfig` fields; any combination): ``stop_loss``, ``take_profit``,
``trailing_stop``, ``max_bars_held`` (time exit), ``atr_stop`` and ``exit_signal``. Portfolio
rules: ``max_positions``, ``max_gross_exposure``, ``max_net_exposure`` (pre-trade checks on
the strategy's orders), ``max_drawdown`` (flatten and halt new entries for the rest of the run)
and ``daily_loss_limit`` (flatten and block entries until the next UTC day).

When rules run (phase 4 of the engine's loop, see docs/engine.md): after the new bar's fills
are applied and the portfolio is marked at the close of bar ``t``, and before the strategy
sees bar ``t``. Position rules compare the close of bar ``t`` with levels set from the
average entry price; a rule that fires submits a market order closing the position, tagged
with the rule's name (the trade's ``exit_reason``), filled according to ``fill_timing`` like
any other order. When several rules fire on the same bar the first in this order names the
exit: stop_loss, trailing_stop, atr_stop, take_profit, time_exit, signal_exit.

Position state is tracked from fills (average entry price, entry bar, best close since entry),
so the rules need nothing from the portfolio but the signed quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.types import NS_PER_DAY
from ml4t.backtest.strategy.config import RiskConfig

__all__ = ["RiskDecision", "RiskManager", "atr"]

EXIT_REASONS = (
    "stop_loss",
    "trailing_stop",
    "atr_stop",
    "take_profit",
    "time_exit",
    "signal_exit",
)


def atr(
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    window: int,
) -> npt.NDArray[np.float64]:
    """Return the simple moving average of the true range over `window` bars (T, A).

    True range at bar t: ``max(high - low, |high - close[t-1]|, |low - close[t-1]|)``; the
    first bar uses ``high - low``. Rows before `window` bars are NaN.

    Example:
        >>> h = np.array([[11.0], [12.0], [13.0]]); lo = h - 2.0; c = h - 1.0
        >>> atr(h, lo, c, 2)[:, 0].tolist()
        [nan, 2.0, 2.0]
    """
    prev = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
    hl = high - low
    hc = np.abs(high - prev)
    lc = np.abs(low - prev)
    tr = np.fmax(hl, np.fmax(hc, lc))
    out: npt.NDArray[np.float64] = np.full_like(tr, np.nan)
    if tr.shape[0] >= window:
        csum = np.cumsum(np.nan_to_num(tr), axis=0)
        counts = np.cumsum(np.isfinite(tr), axis=0)
        total = csum[window - 1 :] - np.vstack([np.zeros((1, tr.shape[1])), csum[:-window]])
        n = counts[window - 1 :] - np.vstack([np.zeros((1, tr.shape[1])), counts[:-window]])
        out[window - 1 :] = np.where(n == window, total / window, np.nan)
    return out


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """What the rules decided at one bar.

    Attributes:
        exits: (asset column, reason) pairs of positions to close now.
        flatten_all: Close every position (drawdown halt or daily loss limit).
        reason: Why `flatten_all` is set ("max_drawdown" or "daily_loss_limit").
    """

    exits: tuple[tuple[int, str], ...] = ()
    flatten_all: bool = False
    reason: str = ""


class RiskManager:
    """Array state and checks for the rules in a `RiskConfig`.

    Example:
        >>> rm = RiskManager(RiskConfig(stop_loss=0.1), n_assets=1)
        >>> rm.on_fill(0, 10.0, 100.0, t=0)
        >>> rm.check_positions(1, np.array([95.0]), np.array([10.0])).exits
        ()
        >>> rm.check_positions(2, np.array([89.0]), np.array([10.0])).exits
        ((0, 'stop_loss'),)
    """

    def __init__(
        self,
        config: RiskConfig,
        n_assets: int,
        *,
        atr_values: npt.NDArray[np.float64] | None = None,
        exit_signal: npt.NDArray[np.float64] | None = None,
    ) -> None:
        self.config = config
        self.qty = np.zeros(n_assets)
        self.entry_price = np.full(n_assets, np.nan)
        self.entry_bar = np.full(n_assets, -1, dtype=np.int64)
        self.best = np.full(n_assets, np.nan)  # best close since entry (high for long)
        self.atr_values = atr_values
        self.exit_signal = exit_signal
        self.peak_equity = -math.inf
        self.day = -1
        self.day_open_equity = math.nan
        self.halted = False  # max drawdown hit: no new entries for the rest of the run
        self.blocked_day = -1  # daily loss limit hit on this day
        self.active = config.has_position_rules

    # --------------------------------------------------------------------------- tracking

    def on_fill(self, j: int, signed_quantity: float, price: float, *, t: int) -> None:
        """Update the entry state of asset column `j` with one fill."""
        old = self.qty[j]
        new = old + signed_quantity
        if abs(new) < 1e-12:
            new = 0.0
        if new == 0.0:
            self.entry_price[j] = np.nan
            self.entry_bar[j] = -1
            self.best[j] = np.nan
        elif old == 0.0 or (old > 0) != (new > 0):  # opened or flipped
            self.entry_price[j] = price
            self.entry_bar[j] = t
            self.best[j] = price
        elif abs(new) > abs(old):  # added: average the entry price
            self.entry_price[j] = (old * self.entry_price[j] + signed_quantity * price) / new
        self.qty[j] = new

    def on_split(self, j: int, ratio: float) -> None:
        """Rescale the entry state of column `j` for a split of `ratio` new per old."""
        self.qty[j] *= ratio
        self.entry_price[j] /= ratio
        self.best[j] /= ratio

    # ----------------------------------------------------------------------------- checks

    def check_positions(
        self, t: int, close: npt.NDArray[np.float64], quantity: npt.NDArray[np.float64]
    ) -> RiskDecision:
        """Return the positions whose rules fire at bar `t` given the close row."""
        if not self.active:
            return RiskDecision()
        cfg = self.config
        held = np.flatnonzero((quantity != 0.0) & np.isfinite(close))
        if held.shape[0] == 0:
            return RiskDecision()
        c = close[held]
        sign = np.sign(quantity[held])
        entry = self.entry_price[held]
        best = self.best[held]
        best = np.where(sign > 0, np.fmax(best, c), np.fmin(best, c))
        self.best[held] = best
        move = sign * (c / entry - 1.0)  # return in the position's favour
        fired = np.zeros(held.shape[0], dtype=np.int64) - 1
        if cfg.stop_loss is not None:
            hit = move <= -cfg.stop_loss
            fired = np.where((fired < 0) & hit, 0, fired)
        if cfg.trailing_stop is not None:
            hit = sign * (c / best - 1.0) <= -cfg.trailing_stop
            fired = np.where((fired < 0) & hit, 1, fired)
        if cfg.atr_stop is not None and self.atr_values is not None:
            a = self.atr_values[t, held]
            hit = np.isfinite(a) & (sign * (c - entry) <= -cfg.atr_stop * a)
            fired = np.where((fired < 0) & hit, 2, fired)
        if cfg.take_profit is not None:
            hit = move >= cfg.take_profit
            fired = np.where((fired < 0) & hit, 3, fired)
        if cfg.max_bars_held is not None:
            hit = (t - self.entry_bar[held]) >= cfg.max_bars_held
            fired = np.where((fired < 0) & hit, 4, fired)
        if self.exit_signal is not None:
            s = self.exit_signal[t, held]
            hit = np.isfinite(s) & (s != 0.0)
            fired = np.where((fired < 0) & hit, 5, fired)
        idx = np.flatnonzero(fired >= 0)
        return RiskDecision(exits=tuple((int(held[i]), EXIT_REASONS[int(fired[i])]) for i in idx))

    def check_portfolio(self, timestamp: int, equity: float) -> RiskDecision:
        """Update drawdown and daily-loss state with the marked equity; flatten if breached."""
        cfg = self.config
        self.peak_equity = max(self.peak_equity, equity)
        day = timestamp // NS_PER_DAY
        if day != self.day:
            self.day = day
            self.day_open_equity = equity
        if self.halted:
            return RiskDecision()
        if cfg.max_drawdown is not None and equity <= self.peak_equity * (1.0 - cfg.max_drawdown):
            self.halted = True
            return RiskDecision(flatten_all=True, reason="max_drawdown")
        if (
            cfg.daily_loss_limit is not None
            and self.blocked_day != day
            and equity <= self.day_open_equity * (1.0 - cfg.daily_loss_limit)
        ):
            self.blocked_day = day
            return RiskDecision(flatten_all=True, reason="daily_loss_limit")
        return RiskDecision()

    def entry_blocked(self, timestamp: int) -> str:
        """Return why new entries are blocked now ("" when they are allowed)."""
        if self.halted:
            return "max_drawdown halt: no new positions for the rest of the run"
        if self.blocked_day == timestamp // NS_PER_DAY:
            return "daily_loss_limit hit: no new positions until the next day"
        return ""

    def check_order(
        self,
        j: int,
        signed_quantity: float,
        *,
        timestamp: int,
        quantity: npt.NDArray[np.float64],
        pending: npt.NDArray[np.float64],
        prices: npt.NDArray[np.float64],
        multipliers: npt.NDArray[np.float64],
        equity: float,
    ) -> str:
        """Return why the order breaks a portfolio rule ("" when it may go ahead).

        Orders that only reduce a position always pass. Exposure after the order is the
        absolute (gross) or signed (net) value of positions plus working orders at the last
        prices, divided by equity.
        """
        cur = quantity[j] + pending[j]
        new = cur + signed_quantity
        reduces = abs(new) <= abs(cur) and (new == 0.0 or (new > 0) == (cur > 0))
        if reduces:
            return ""
        blocked = self.entry_blocked(timestamp)
        if blocked:
            return blocked
        cfg = self.config
        if cfg.max_positions is not None and cur == 0.0:
            count = int(np.count_nonzero((quantity + pending) != 0.0))
            if count >= cfg.max_positions:
                return (
                    f"max_positions: {count} positions held or pending, limit is "
                    f"{cfg.max_positions}; close one first or raise risk.max_positions"
                )
        if cfg.max_gross_exposure is not None or cfg.max_net_exposure is not None:
            after = quantity + pending
            after = after.copy()
            after[j] = new
            value = np.where(np.isfinite(prices), after * prices * multipliers, 0.0)
            if cfg.max_gross_exposure is not None:
                gross = float(np.abs(value).sum()) / equity if equity > 0 else math.inf
                if gross > cfg.max_gross_exposure + 1e-12:
                    return (
                        f"max_gross_exposure: order would take gross exposure to {gross:.4f} "
                        f"of equity, limit is {cfg.max_gross_exposure}"
                    )
            if cfg.max_net_exposure is not None:
                net = abs(float(value.sum())) / equity if equity > 0 else math.inf
                if net > cfg.max_net_exposure + 1e-12:
                    return (
                        f"max_net_exposure: order would take net exposure to {net:.4f} "
                        f"of equity, limit is {cfg.max_net_exposure}"
                    )
        return ""
