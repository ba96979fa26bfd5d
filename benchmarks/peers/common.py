"""The rules every engine implements, in words and constants."""

from __future__ import annotations

__all__ = ["CASH", "COMMISSION", "CROSS_SIZE", "D_SIDE", "D_WEIGHT"]

CROSS_SIZE = 100.0  # A/B/C: units bought on a cross above; all sold on a cross below
CASH = 10_000_000.0  # start cash (large enough that no engine ever runs short on A-D)
D_SIDE = 25  # D: long the top 25, short the bottom 25 by `score`
D_WEIGHT = 1.0 / (2 * D_SIDE)  # D: 2% of equity per name, gross 100%
COMMISSION = 0.001  # D: 0.1% of notional per fill; A-C have no costs
