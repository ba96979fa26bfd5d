"""Typed aliases and small value types used by every layer.

Hot code passes plain ``float`` and ``int`` (and numpy arrays of them); the aliases document
what a number means. The value types `Price`, `Quantity` and `Money` check their value when
built and are used at API boundaries where a bad number must be caught early.

Timestamps are ``int`` nanoseconds since the Unix epoch, UTC (`Timestamp`). Convert at the
edges with `to_timestamp` and `format_timestamp`; never build ``datetime`` objects per bar.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, TypeAlias

import numpy as np

from ml4t.backtest.core.errors import InvalidPriceError, InvalidQuantityError

__all__ = [
    "AssetId",
    "Timestamp",
    "PriceValue",
    "QuantityValue",
    "Price",
    "Quantity",
    "Money",
    "NS_PER_SECOND",
    "NS_PER_DAY",
    "to_timestamp",
    "format_timestamp",
]

AssetId: TypeAlias = str
"""Identifier of an asset, e.g. ``"AAPL"`` or ``"BTC-USD"``."""

Timestamp: TypeAlias = int
"""Nanoseconds since 1970-01-01T00:00:00 UTC."""

PriceValue: TypeAlias = float
"""A price in the asset's quote currency per unit."""

QuantityValue: TypeAlias = float
"""A signed amount of an asset in units (shares, contracts, coins); negative is short."""

NS_PER_SECOND: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Price:
    """A finite, strictly positive price per unit.

    Example:
        >>> float(Price(101.25))
        101.25
    """

    value: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value <= 0.0:
            raise InvalidPriceError(f"invalid `value`: must be finite and > 0, was {self.value!r}")

    def __float__(self) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Quantity:
    """A non-negative amount of an asset, in units (shares, contracts or coins).

    Example:
        >>> Quantity(10).value
        10
    """

    value: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0.0:
            raise InvalidQuantityError(
                f"invalid `value`: must be finite and >= 0, was {self.value!r}"
            )

    def __float__(self) -> float:
        return float(self.value)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of a currency (may be negative, e.g. a debit).

    Example:
        >>> Money(12.5, "USD")
        Money(amount=12.5, currency='USD')
    """

    amount: float
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount):
            raise ValueError(f"invalid `amount`: must be finite, was {self.amount!r}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(
                f"invalid `currency`: must be a 3-letter upper-case ISO code, was {self.currency!r}"
            )


_FRACTION = re.compile(r"(\.\d{6})(\d{1,3})")


def _split_nanoseconds(text: str) -> tuple[str, int]:
    # datetime keeps microseconds only: cut digits 7-9 of the fraction off as extra ns.
    match = _FRACTION.search(text)
    if match is None:
        return text, 0
    extra = match.group(2)
    if match.end() < len(text) and text[match.end()].isdigit():
        return text, 0  # more than 9 digits: let fromisoformat reject or read it
    return text[: match.start(2)] + text[match.end() :], int(extra.ljust(3, "0"))


def to_timestamp(value: int | str | datetime | date | np.datetime64) -> Timestamp:
    """Convert a datetime-like value to `Timestamp` (int nanoseconds, UTC).

    Naive ``datetime`` values and strings without an offset are taken as UTC.

    Args:
        value: An int (already nanoseconds), ISO-8601 text, ``datetime``, ``date`` or
            ``numpy.datetime64``.

    Returns:
        Nanoseconds since the Unix epoch.

    Raises:
        ValueError: The value cannot be read as a point in time.

    Example:
        >>> to_timestamp("2024-01-02")
        1704153600000000000
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid timestamp: bool is not a point in time, was {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, str):
        text, extra_ns = _split_nanoseconds(value)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"invalid timestamp text {value!r}: use ISO-8601") from exc
        return to_timestamp(parsed) + extra_ns
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days * NS_PER_DAY
    raise ValueError(f"invalid timestamp: unsupported type {type(value).__name__}")


def format_timestamp(ts: Timestamp) -> str:
    """Render `ts` as ISO-8601 text in UTC (date only when it is midnight).

    Example:
        >>> format_timestamp(1704153600000000000)
        '2024-01-02'
        >>> format_timestamp(1704187800000000000)
        '2024-01-02T09:30:00'
    """
    ns = int(ts)
    text = str(np.datetime64(ns, "ns"))
    if ns % NS_PER_DAY == 0:
        return text[:10]
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text
