"""Private tick and lot rounding used by validation and the broker (may change at any time)."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

__all__ = ["floor_to_step", "ceil_to_step", "nearest_step", "step_decimals"]

_EPS = 1e-9  # tolerance in grid units: a value this close to a grid point is on it


@lru_cache(maxsize=256)
def step_decimals(step: float) -> int:
    # Decimal places of `step` from its shortest repr (0.01 -> 2, 1e-8 -> 8), capped at 15.
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return min(max(-int(exponent), 0), 15)


def _snap(units: float, step: float) -> float:
    result = round(units * step, step_decimals(step))
    return 0.0 if result == 0.0 else result


def floor_to_step(value: float, step: float) -> float:
    # Largest grid point <= value (within _EPS grid units of a point counts as on it).
    if not math.isfinite(value):
        return value
    units = value / step
    near = round(units)
    return _snap(float(near) if abs(units - near) <= _EPS else float(math.floor(units)), step)


def ceil_to_step(value: float, step: float) -> float:
    # Smallest grid point >= value.
    if not math.isfinite(value):
        return value
    units = value / step
    near = round(units)
    return _snap(float(near) if abs(units - near) <= _EPS else float(math.ceil(units)), step)


def nearest_step(value: float, step: float) -> float:
    # Nearest grid point; exact ties go away from zero.
    if not math.isfinite(value):
        return value
    units = value / step
    lower = math.floor(units)
    if abs(units - (lower + 0.5)) <= _EPS:
        return _snap(float(lower + 1) if units > 0 else float(lower), step)
    return _snap(float(math.floor(units + 0.5)), step)
