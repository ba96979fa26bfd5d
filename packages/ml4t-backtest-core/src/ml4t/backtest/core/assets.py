"""Asset definitions and the registry that maps asset ids to them.

An `Asset` carries what the engine needs to trade it correctly: price tick, lot size,
contract multiplier, currency, whether it may be shorted and, for derivatives, the contract
terms. Unknown tickers in a feed default to a plain `Equity` unless the registry is strict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ml4t.backtest.core.enums import AssetClass, OptionRight
from ml4t.backtest.core.errors import ConfigError, UnknownAssetError
from ml4t.backtest.core.types import AssetId, Timestamp

__all__ = [
    "Asset",
    "AssetRegistry",
    "Crypto",
    "Equity",
    "FXPair",
    "Future",
    "Option",
]


def _check_positive(name: str, value: float, asset_id: str) -> None:
    if not math.isfinite(value) or value <= 0.0:
        raise ConfigError(f"asset {asset_id!r}: `{name}` must be finite and > 0, was {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """Base description of a tradable instrument.

    Attributes:
        asset_id: Unique id used in data feeds and orders.
        asset_class: Kind of instrument.
        currency: ISO code of the currency prices are quoted in.
        tick_size: Smallest price increment (> 0); prices round to it.
        lot_size: Smallest quantity increment (> 0); 1 for whole shares.
        multiplier: Currency value of one unit of price move per unit held.
        shortable: Whether short sales are permitted.
    """

    asset_id: AssetId
    asset_class: AssetClass = AssetClass.EQUITY
    currency: str = "USD"
    tick_size: float = 0.01
    lot_size: float = 1.0
    multiplier: float = 1.0
    shortable: bool = True

    def __post_init__(self) -> None:
        if not self.asset_id or not isinstance(self.asset_id, str):
            raise ConfigError(f"`asset_id` must be a non-empty string, was {self.asset_id!r}")
        _check_positive("tick_size", self.tick_size, self.asset_id)
        _check_positive("lot_size", self.lot_size, self.asset_id)
        _check_positive("multiplier", self.multiplier, self.asset_id)

    @property
    def is_fractional(self) -> bool:
        """Return True when quantities below one unit are allowed."""
        return self.lot_size < 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Equity(Asset):
    """A share of a company or fund; whole shares by default.

    Example:
        >>> Equity(asset_id="AAPL").lot_size
        1.0
    """

    asset_class: AssetClass = AssetClass.EQUITY
    exchange: str = "NYSE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Future(Asset):
    """A futures contract with a multiplier and per-contract margins.

    Example:
        >>> es = Future(asset_id="ESH4", multiplier=50.0, tick_size=0.25, initial_margin=12_000.0)
        >>> es.multiplier * 4.0  # value of a 4-point move per contract
        200.0
    """

    asset_class: AssetClass = AssetClass.FUTURE
    initial_margin: float = 0.0  # currency per contract
    maintenance_margin: float = 0.0  # currency per contract
    expiry: Timestamp | None = None
    underlying: str = ""

    def __post_init__(self) -> None:
        Asset.__post_init__(self)
        if self.initial_margin < 0 or self.maintenance_margin < 0:
            raise ConfigError(f"asset {self.asset_id!r}: margins must be >= 0")
        if self.maintenance_margin > self.initial_margin > 0:
            raise ConfigError(
                f"asset {self.asset_id!r}: `maintenance_margin` ({self.maintenance_margin}) "
                f"exceeds `initial_margin` ({self.initial_margin})"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Option(Asset):
    """An option on `underlying` with `strike`, `expiry` and `right`.

    Example:
        >>> Option(asset_id="AAPL240621C200", underlying="AAPL", strike=200.0,
        ...        expiry=0, right=OptionRight.CALL).multiplier
        100.0
    """

    asset_class: AssetClass = AssetClass.OPTION
    multiplier: float = 100.0
    underlying: str
    strike: float
    expiry: Timestamp
    right: OptionRight

    def __post_init__(self) -> None:
        Asset.__post_init__(self)
        _check_positive("strike", self.strike, self.asset_id)
        if not self.underlying:
            raise ConfigError(f"asset {self.asset_id!r}: `underlying` must be set")


@dataclass(frozen=True, slots=True, kw_only=True)
class FXPair(Asset):
    """A currency pair quoted as `quote_currency` per unit of `base_currency`.

    Example:
        >>> FXPair(asset_id="EURUSD", base_currency="EUR", quote_currency="USD").currency
        'USD'
    """

    asset_class: AssetClass = AssetClass.FX
    base_currency: str
    quote_currency: str
    tick_size: float = 0.00001
    lot_size: float = 1.0
    currency: str = ""

    def __post_init__(self) -> None:
        if not self.currency:
            object.__setattr__(self, "currency", self.quote_currency)
        elif self.currency != self.quote_currency:
            raise ConfigError(
                f"asset {self.asset_id!r}: `currency` ({self.currency}) must equal "
                f"`quote_currency` ({self.quote_currency})"
            )
        Asset.__post_init__(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Crypto(Asset):
    """A crypto asset; fractional quantities down to `lot_size` (1e-8 by default).

    Example:
        >>> Crypto(asset_id="BTC-USD").is_fractional
        True
    """

    asset_class: AssetClass = AssetClass.CRYPTO
    lot_size: float = 1e-8
    tick_size: float = 0.01


class AssetRegistry:
    """Map of asset id to `Asset`.

    With ``strict=False`` (default) an unknown id resolves to a default `Equity`, so a feed
    of plain stock tickers needs no setup. With ``strict=True`` it raises
    `UnknownAssetError` naming the id and how to register it.

    Example:
        >>> reg = AssetRegistry([Future(asset_id="ES", multiplier=50.0)])
        >>> reg["ES"].multiplier, reg["MSFT"].asset_class.name
        (50.0, 'EQUITY')
    """

    __slots__ = ("_assets", "strict")

    def __init__(self, assets: Iterable[Asset] = (), *, strict: bool = False) -> None:
        self._assets: dict[AssetId, Asset] = {}
        self.strict = strict
        for asset in assets:
            self.add(asset)

    def add(self, asset: Asset) -> None:
        """Register `asset`; a different definition for the same id raises `ConfigError`."""
        known = self._assets.get(asset.asset_id)
        if known is not None and known != asset:
            raise ConfigError(
                f"asset {asset.asset_id!r} is already registered as {known!r}; "
                "remove it first or use a different id"
            )
        self._assets[asset.asset_id] = asset

    def remove(self, asset_id: AssetId) -> Asset:
        """Unregister and return the asset with `asset_id`."""
        try:
            return self._assets.pop(asset_id)
        except KeyError:
            raise UnknownAssetError(f"asset {asset_id!r} is not registered") from None

    def __getitem__(self, asset_id: AssetId) -> Asset:
        asset = self._assets.get(asset_id)
        if asset is not None:
            return asset
        if self.strict:
            known = ", ".join(sorted(self._assets)[:10]) or "none"
            raise UnknownAssetError(
                f"asset {asset_id!r} is not registered (known: {known}); "
                "add it with AssetRegistry.add(...) or use strict=False"
            )
        return Equity(asset_id=asset_id)

    def get(self, asset_id: AssetId) -> Asset | None:
        """Return the registered asset or None (never a default)."""
        return self._assets.get(asset_id)

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self._assets

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._assets.values())

    def __len__(self) -> int:
        return len(self._assets)

    def __repr__(self) -> str:
        return f"AssetRegistry({list(self._assets.values())!r}, strict={self.strict})"

    def multipliers(self, asset_ids: Iterable[AssetId]) -> list[float]:
        """Return the multiplier of each id in order (defaults apply when not strict)."""
        return [self[a].multiplier for a in asset_ids]
