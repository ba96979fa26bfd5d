"""Private helper: the largest quantity a budget pays for, commission included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["fee_inclusive_quantity"]

_MAX_ROUNDS: Final = 64  # each round shrinks the bracket by the fee's marginal rate


def fee_inclusive_quantity(budget: float, unit_cost: float, fee: Callable[[float], float]) -> float:
    """Return the largest ``q >= 0`` with ``q * unit_cost + fee(q) <= budget``.

    `fee` must be non-decreasing in ``q`` and grow slower than the notional (a commission
    below 100% of it). The answer is the fixed point of ``q = (budget - fee(q)) / unit_cost``,
    approached from both sides: ``hi`` ignores part of the fee, ``lo = (budget - fee(hi)) /
    unit_cost`` is always affordable, and each round moves both towards the fixed point. For
    a percentage fee ``rate`` plus a fixed part this is VectorBT's
    ``(budget - fixed) / (unit_cost * (1 + rate))``, up to rounding.

    Args:
        budget: Cash available, in account currency.
        unit_cost: Cost of one unit before fees (price * multiplier), > 0.
        fee: Commission of a fill of ``q`` units.

    Returns:
        The quantity (not rounded to a lot); 0.0 when nothing is affordable.

    Example:
        >>> round(fee_inclusive_quantity(1_001.0, 10.0, lambda q: 0.001 * q * 10.0), 9)
        100.0
        >>> fee_inclusive_quantity(0.5, 10.0, lambda q: 1.0)
        0.0
    """
    if not (budget > 0.0 and unit_cost > 0.0):
        return 0.0
    hi = budget / unit_cost
    lo = max(budget - fee(hi), 0.0) / unit_cost
    for _ in range(_MAX_ROUNDS):
        if hi - lo <= hi * 1e-15:
            break
        new_hi = max(budget - fee(lo), 0.0) / unit_cost
        new_lo = max(budget - fee(new_hi), 0.0) / unit_cost
        if new_hi >= hi and new_lo <= lo:  # a fee with steps: no more progress
            break
        hi = min(hi, new_hi)
        lo = max(lo, new_lo)
    return lo
