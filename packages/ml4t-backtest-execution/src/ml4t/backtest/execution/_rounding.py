"""Private short names for core's grid rounding, as the broker and validation use it."""

from __future__ import annotations

from ml4t.backtest.core.enums import RoundingMode
from ml4t.backtest.core.precision import round_to_grid

__all__ = ["floor_to_step", "ceil_to_step", "nearest_step"]

_DOWN = RoundingMode.DOWN
_UP = RoundingMode.UP
_NEAREST = RoundingMode.NEAREST


def floor_to_step(value: float, step: float) -> float:
    # Largest grid point <= value (a value within tolerance of a point counts as on it).
    if step == 1.0 and type(value) is float and value.is_integer():
        # Already a whole number on the unit grid: `round_to_grid` returns it unchanged
        # (and 0.0 for -0.0), so skip its general path.
        return value if value else 0.0
    return round_to_grid(value, step, mode=_DOWN)


def ceil_to_step(value: float, step: float) -> float:
    # Smallest grid point >= value.
    return round_to_grid(value, step, mode=_UP)


def nearest_step(value: float, step: float) -> float:
    # Nearest grid point; exact ties go away from zero.
    return round_to_grid(value, step, mode=_NEAREST)
