"""Point-in-time foreign-exchange rates used to report equity in the base currency."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.errors import ConfigError, DataValidationError, LookAheadError
from ml4t.backtest.core.types import Timestamp, format_timestamp
from ml4t.backtest.portfolio._frames import to_ns

__all__ = ["FxRates"]


class FxRates:
    """Rates over time that convert each currency into the base currency.

    A rate is the number of base-currency units that buy one unit of the currency (for base
    USD, the EUR rate is the EURUSD quote, e.g. 1.08). A rate is known from its own timestamp
    on: `rate` returns the last rate at or before the instant asked for (point-in-time, no
    look-ahead). The base currency always converts at 1.0.

    Args:
        base_currency: ISO code of the reporting currency.

    Example:
        >>> fx = FxRates("USD")
        >>> fx.add("EUR", [0, 10], [1.10, 1.20])
        >>> fx.rate("EUR", 5), fx.rate("EUR", 10), fx.rate("USD", 5)
        (1.1, 1.2, 1.0)
    """

    __slots__ = ("_rates", "_times", "base_currency")

    def __init__(self, base_currency: str = "USD") -> None:
        self.base_currency = base_currency
        self._times: dict[str, npt.NDArray[np.int64]] = {}
        self._rates: dict[str, npt.NDArray[np.float64]] = {}

    def add(self, currency: str, timestamps: Sequence[int], rates: Sequence[float]) -> None:
        """Add or replace the rate series of `currency`.

        Args:
            currency: ISO code, different from the base currency.
            timestamps: Strictly increasing int nanoseconds UTC.
            rates: Base-currency units per unit of `currency`, finite and > 0.

        Raises:
            DataValidationError: Times not strictly increasing, lengths differ or a rate is
                not finite and positive.
            ConfigError: `currency` is the base currency.
        """
        if currency == self.base_currency:
            raise ConfigError(
                f"`currency` {currency!r} is the base currency; it always converts at 1.0"
            )
        t = np.asarray(timestamps, dtype=np.int64)
        r = np.asarray(rates, dtype=np.float64)
        if t.shape != r.shape or t.ndim != 1 or t.size == 0:
            raise DataValidationError(
                f"FX series {currency!r}: timestamps ({t.shape}) and rates ({r.shape}) must be "
                "non-empty 1-D arrays of equal length",
                check="fx_shape",
            )
        if t.size > 1 and not bool(np.all(np.diff(t) > 0)):
            row = int(np.argmin(np.diff(t) > 0)) + 1
            raise DataValidationError(
                f"FX series {currency!r}: timestamps must be strictly increasing; row {row} "
                f"({format_timestamp(int(t[row]))}) is not after the previous one; sort and "
                "deduplicate the series",
                check="fx_order",
                rows=[row],
            )
        bad = ~np.isfinite(r) | (r <= 0.0)
        if bool(bad.any()):
            row = int(np.argmax(bad))
            raise DataValidationError(
                f"FX series {currency!r}: rate at row {row} must be finite and > 0, was "
                f"{float(r[row])!r}; repair or drop the row",
                check="fx_rate",
                rows=[row],
                column="rate",
            )
        self._times[currency] = t
        self._rates[currency] = r

    @classmethod
    def from_polars(cls, frame: pl.DataFrame, *, base_currency: str = "USD") -> FxRates:
        """Build rates from a long frame with columns ``timestamp, currency, rate``.

        `timestamp` may be a Datetime (any unit; naive means UTC) or int nanoseconds.

        Example:
            >>> import polars as pl
            >>> df = pl.DataFrame({"timestamp": [0, 5], "currency": ["JPY", "JPY"],
            ...                    "rate": [0.0068, 0.0070]})
            >>> FxRates.from_polars(df).rate("JPY", 7)
            0.007
        """
        missing = {"timestamp", "currency", "rate"} - set(frame.columns)
        if missing:
            raise DataValidationError(
                f"FX frame is missing column(s) {sorted(missing)}; expected timestamp, "
                "currency, rate",
                check="fx_columns",
            )
        ts = to_ns(frame.get_column("timestamp"))
        out = cls(base_currency)
        work = frame.with_columns(ts.alias("_ns")).sort("currency", "_ns")
        for (currency,), part in work.group_by(["currency"], maintain_order=True):
            out.add(
                str(currency),
                part.get_column("_ns").to_list(),
                part.get_column("rate").cast(pl.Float64).to_list(),
            )
        return out

    @property
    def currencies(self) -> tuple[str, ...]:
        """Return the currencies with a rate series (the base currency excluded)."""
        return tuple(self._times)

    def rate(self, currency: str, timestamp: Timestamp) -> float:
        """Return the last rate of `currency` known at `timestamp`.

        Raises:
            ConfigError: No series for `currency`.
            LookAheadError: `timestamp` is before the first rate of `currency`.
        """
        if currency == self.base_currency:
            return 1.0
        times = self._times.get(currency)
        if times is None:
            raise ConfigError(
                f"no FX rates for {currency!r} into {self.base_currency!r}; add them with "
                "FxRates.add(currency, timestamps, rates)"
            )
        k = int(np.searchsorted(times, timestamp, side="right")) - 1
        if k < 0:
            raise LookAheadError(
                f"no FX rate for {currency!r} is known at {format_timestamp(timestamp)}; the "
                f"first is at {format_timestamp(int(times[0]))}; start the series earlier"
            )
        return float(self._rates[currency][k])

    def rates(self, currencies: Iterable[str], timestamp: Timestamp) -> npt.NDArray[np.float64]:
        """Return the rates of several currencies at `timestamp` as a float64 array."""
        return np.array([self.rate(c, timestamp) for c in currencies], dtype=np.float64)
