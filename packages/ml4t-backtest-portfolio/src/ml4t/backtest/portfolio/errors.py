"""Errors raised by the portfolio layer.

Every error class lives in `ml4t.backtest.core.errors` (one hierarchy for the whole library);
this module re-exports the ones the portfolio raises, for convenience.
"""

from __future__ import annotations

from ml4t.backtest.core.errors import LedgerInvariantError

__all__ = ["LedgerInvariantError"]
