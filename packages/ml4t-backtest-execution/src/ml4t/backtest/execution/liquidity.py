"""Liquidity limits: how much of a bar's volume one asset's orders may take.

With a `VolumeLimit`, all fills on one asset within one bar (the open pass and the close
pass together) share ``floor_to_lot(fraction * volume)`` units. An order that gets less
than its remaining quantity is partially filled; the remainder stays working on later bars,
except IOC (remainder cancelled), FOK (nothing filled, order cancelled), OPG/CLS and
market-on-open/close (remainder expires after the auction) and DAY (expires at the session
end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ml4t.backtest.execution._checks import check_fraction

__all__ = ["VolumeLimit"]


@dataclass(frozen=True, slots=True)
class VolumeLimit:
    """Cap the quantity filled per asset per bar at a fraction of the bar's volume.

    Formula::

        cap = fraction * volume          # 0 when volume is NaN or <= 0

    Example:
        >>> VolumeLimit(0.1).max_quantity(12_345.0)
        1234.5
        >>> VolumeLimit(0.1).max_quantity(float("nan"))
        0.0
    """

    fraction: float = 0.025  # of bar volume

    def __post_init__(self) -> None:
        check_fraction("VolumeLimit", "fraction", self.fraction)

    def max_quantity(self, volume: float) -> float:
        """Return ``fraction * volume`` (0 for missing or non-positive volume)."""
        if not volume > 0.0 or math.isinf(volume):
            return 0.0
        return self.fraction * volume
