"""Private bound checks shared by the cost models (may change at any time)."""

from __future__ import annotations

import math

from ml4t.backtest.core.errors import ConfigError

__all__ = ["check_non_negative", "check_fraction"]


def check_non_negative(owner: str, name: str, value: float, *, allow_inf: bool = False) -> None:
    # Raise ConfigError unless `value` is >= 0 (and finite unless allow_inf).
    ok = value >= 0.0 and (math.isfinite(value) or (allow_inf and value == math.inf))
    if not ok:
        raise ConfigError(f"{owner}: `{name}` must be finite and >= 0, was {value!r}")


def check_fraction(owner: str, name: str, value: float, *, upper_inclusive: bool = True) -> None:
    # Raise ConfigError unless 0 < value <= 1 (or < 1).
    ok = math.isfinite(value) and value > 0.0 and (value <= 1.0 if upper_inclusive else value < 1.0)
    if not ok:
        bound = "<= 1" if upper_inclusive else "< 1"
        raise ConfigError(f"{owner}: `{name}` must be > 0 and {bound}, was {value!r}")
