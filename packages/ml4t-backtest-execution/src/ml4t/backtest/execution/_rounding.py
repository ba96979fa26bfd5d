"""Private short names for core's grid rounding, as the broker and validation use it."""

from __future__ import annotations

from ml4t.backtest.core.enums import RoundingMode
from ml4t.backtest.core.precision import round_to_grid

__all__ = ["floor_to_step", "ceil_to_step", "nearest_step"]


def floor_to_step(value: float, step: float) -> float:
    # Largest grid point <= value (a value within tolerance of a point counts as on it).
    return round_to_grid(value, step, mode=RoundingMode.DOWN)


def ceil_to_step(value: float, step: float) -> float:
    # Smallest grid point >= value.
    return round_to_grid(value, step, mode=RoundingMode.UP)


def nearest_step(value: float, step: float) -> float:
    # Nearest grid point; exact ties go away from zero.
    return round_to_grid(value, step, mode=RoundingMode.NEAREST)
