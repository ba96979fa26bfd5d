"""`BacktestConfig`: every setting of a run, validated once and stored with the result.

The config is a frozen pydantic model that forbids unknown keys, so a typo in a TOML file is
an error rather than a silently ignored setting. Cost models are *specs*: small serialisable
records such as ``{"kind": "per_share", "per_share": 0.005, "minimum": 1.0}`` that the engine
turns into the execution package's model objects when a run starts (see `build`).

A config round-trips through dict, TOML and YAML without loss::

    cfg == BacktestConfig.from_toml(cfg.to_toml()) == BacktestConfig.from_yaml(cfg.to_yaml())
"""

from __future__ import annotations

import importlib
import math
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ml4t.backtest.core.errors import ConfigError

yaml: Any = importlib.import_module("yaml")  # untyped; imported this way so mypy needs no stubs

__all__ = [
    "AccountPolicy",
    "AccountSpec",
    "BacktestConfig",
    "BracketActivation",
    "CashShortfallPolicy",
    "CommissionSpec",
    "CryptoCommissionSpec",
    "FuturesCommissionSpec",
    "LinearImpactSpec",
    "SpreadSlippageSpec",
    "TieredCommissionSpec",
    "TrailReference",
    "FillTiming",
    "FixedBpsSlippageSpec",
    "FixedCommissionSpec",
    "FixedSlippageSpec",
    "ImpactSpec",
    "IntrabarPolicy",
    "NoCommissionSpec",
    "NoImpactSpec",
    "NoSlippageSpec",
    "PercentCommissionSpec",
    "PerShareCommissionSpec",
    "PRESETS",
    "RebalanceOrder",
    "CompiledMode",
    "RiskConfig",
    "ShareRounding",
    "SizingSpec",
    "SlippageSpec",
    "SquareRootImpactSpec",
    "VolumeShareSlippageSpec",
    "format_validation_error",
    "register_preset",
]

DEFAULT_INITIAL_CASH = 100_000.0  # account currency
DEFAULT_PER_SHARE = 0.005  # USD per share, typical US retail/institutional broker
DEFAULT_MIN_COMMISSION = 1.0  # USD per order
DEFAULT_SLIPPAGE_BPS = 1.0  # basis points against the trader


class FillTiming(StrEnum):
    """When a market order placed during bar ``t`` is filled.

    ``NEXT_OPEN`` (default) fills at the open of bar ``t + 1``: the decision used bar ``t``'s
    close, so it cannot also trade at it. ``SAME_CLOSE`` fills at the close of bar ``t`` (a
    market-on-close order submitted before the auction). ``NEXT_CLOSE`` fills at the close of
    bar ``t + 1``.
    """

    NEXT_OPEN = "next_open"
    SAME_CLOSE = "same_close"
    NEXT_CLOSE = "next_close"


class IntrabarPolicy(StrEnum):
    """Assumed path of the price inside a bar when a stop and a limit could both trigger.

    ``PESSIMISTIC`` takes the outcome worse for the trader, ``OHLC`` assumes
    open -> high -> low -> close and ``OLHC`` open -> low -> high -> close.
    """

    PESSIMISTIC = "pessimistic"
    OHLC = "ohlc"
    OLHC = "olhc"


class AccountPolicy(StrEnum):
    """Kind of account: ``CASH`` (no leverage, no shorts) or ``MARGIN``."""

    CASH = "cash"
    MARGIN = "margin"


class CashShortfallPolicy(StrEnum):
    """What to do with a buy that costs more cash than is available.

    ``REJECT`` refuses the order, ``RESIZE`` cuts it to what the cash pays for (on the lot
    grid) and ``ALLOW_NEGATIVE`` lets cash go below zero (borrowing without limits).

    The two resize rules differ in the commission they set aside (``C(q)`` is the commission
    of a fill of ``q`` units, ``Q`` the ordered quantity, ``p`` the fill price)::

        RESIZE                q = floor_lot((cash - C(Q)) / p)     commission of the order
        RESIZE_FEE_INCLUSIVE  largest q on the lot grid with q * p + C(q) <= cash

    For a percentage commission ``rate`` plus ``fixed`` per order, ``RESIZE_FEE_INCLUSIVE``
    is ``(cash - fixed) / (p * (1 + rate))``: VectorBT's ``allow_partial`` (portfolio/nb.py
    ``buy_nb``). ``RESIZE`` buys a little less (it pays the commission of the larger order).

    .. versionchanged:: 0.2
        Added ``RESIZE_FEE_INCLUSIVE``.
    """

    REJECT = "reject"
    RESIZE = "resize"
    RESIZE_FEE_INCLUSIVE = "resize_fee_inclusive"
    ALLOW_NEGATIVE = "allow_negative"


class TrailReference(StrEnum):
    """Which price a trailing-stop order follows.

    ``EXTREME`` (default): the bar's open before matching, then its high (a SELL stop,
    protecting a long) or low (a BUY stop) after it. ``CLOSE``: only each bar's close, after
    the bar is matched (Backtrader's ``StopTrail``: order.py ``trailadjust(pclose)``). Either
    way the level only moves in the trader's favour::

        SELL: level = max(level, reference * (1 - percent))   or  reference - amount
        BUY:  level = min(level, reference * (1 + percent))   or  reference + amount

    .. versionadded:: 0.2
    """

    EXTREME = "extreme"
    CLOSE = "close"


class BracketActivation(StrEnum):
    """From which bar a bracket's stop and target (OTO children) work once the entry fills.

    ``SAME_BAR`` (default): when the entry fills at the open (a market order or a gap), the
    children are matched against the rest of that bar (its high and low); otherwise from
    the next bar. ``NEXT_BAR``: always from the bar after the entry fill (Backtrader
    activates children at the start of its next ``BackBroker.next``).

    .. versionadded:: 0.2
    """

    SAME_BAR = "same_bar"
    NEXT_BAR = "next_bar"


class RebalanceOrder(StrEnum):
    """Order in which `Strategy.rebalance` submits its trades (sells always before buys).

    ``ASSET`` (default): sells, then buys, each in the feed's asset order. ``VALUE``: each
    group by order value ``delta * price * multiplier`` ascending, so the largest sell goes
    first and the largest buy last (VectorBT's ``call_seq="auto"``, portfolio/nb.py
    ``approx_order_value_nb`` + ``insert_argsort_nb``; ties keep the asset order). The order
    decides which buy a cash shortfall hits.

    .. versionadded:: 0.2
    """

    ASSET = "asset"
    VALUE = "value"


class CompiledMode(StrEnum):
    """When an event-driven run uses the compiled (numba) twins of its per-bar work.

    The twins (the trade tracker's lot matching, the portfolio's batch booking and
    `Strategy.rebalance`'s target arithmetic) give the same numbers bit for bit as their
    numpy/Python forms; they only change the speed. Loading numba costs about 1-2 s and
    120 MB once per process (ADR 0008, ADR 0011).

    ``AUTO`` (default): the twins run when numba is already loaded in the process (the
    fast path, a priced order or an earlier ``ON`` run loaded it), and the trade tracker
    switches by itself after 1,000,000 fills; a single run in a fresh process stays in
    Python. ``ON``: the run loads numba when it starts, so every twin runs from its first
    bar: worth it for parameter sweeps, walk-forward loops and long runs in one process.

    .. versionadded:: 0.2
    """

    AUTO = "auto"
    ON = "on"


class ShareRounding(StrEnum):
    """How helper-computed quantities are rounded (always toward zero).

    ``INTEGER``: whole units. ``FRACTIONAL``: no rounding. ``LOT``: multiples of each asset's
    ``lot_size`` from the asset registry.
    """

    INTEGER = "integer"
    FRACTIONAL = "fractional"
    LOT = "lot"


class _Spec(BaseModel):
    # Common base of every nested config model: frozen, unknown keys rejected.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------- commissions
# Each spec's `build()` returns the execution package's model object; the import is local so
# that a config can be read and written without loading the execution layer.


def _inf(value: float | None) -> float:
    return math.inf if value is None else value


class NoCommissionSpec(_Spec):
    """No commission (`NoCommission`).

    Example:
        >>> NoCommissionSpec().build().commission(100, 10.0)
        0.0
    """

    kind: Literal["none"] = "none"

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import NoCommission  # noqa: PLC0415

        return NoCommission()


class PerShareCommissionSpec(_Spec):
    """Per-share commission (`PerShareCommission`).

    Formula: ``min(max(|q| * per_share, minimum), maximum, max_fraction * |q| * price)``;
    None for a cap means no cap.

    Example:
        >>> PerShareCommissionSpec(per_share=0.005, minimum=1.0).build().commission(1000, 50.0)
        5.0
    """

    kind: Literal["per_share"] = "per_share"
    per_share: float = Field(default=DEFAULT_PER_SHARE, ge=0.0, allow_inf_nan=False)
    minimum: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    maximum: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    max_fraction: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import PerShareCommission  # noqa: PLC0415

        return PerShareCommission(
            self.per_share,
            minimum=self.minimum,
            maximum=_inf(self.maximum),
            max_fraction=_inf(self.max_fraction),
        )


class PercentCommissionSpec(_Spec):
    """Commission as a fraction of notional (`PercentageCommission`).

    Example:
        >>> PercentCommissionSpec(rate=0.001).build().commission(100, 50.0)
        5.0
    """

    kind: Literal["percent"] = "percent"
    rate: float = Field(default=0.001, ge=0.0, le=1.0, allow_inf_nan=False)
    minimum: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import PercentageCommission  # noqa: PLC0415

        return PercentageCommission(rate=self.rate, minimum=self.minimum)


class FixedCommissionSpec(_Spec):
    """A fixed amount per fill (`PerTradeCommission`).

    Example:
        >>> FixedCommissionSpec(amount=5.0).build().commission(1, 10.0)
        5.0
    """

    kind: Literal["fixed"] = "fixed"
    amount: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import PerTradeCommission  # noqa: PLC0415

        return PerTradeCommission(amount=self.amount)


class TieredCommissionSpec(_Spec):
    """Interactive Brokers' tiered US equity schedule (`TieredCommission`)."""

    kind: Literal["ib_tiered"] = "ib_tiered"

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import TieredCommission  # noqa: PLC0415

        return TieredCommission.interactive_brokers_us_equity()


class FuturesCommissionSpec(_Spec):
    """Per-contract futures commission (`FuturesCommission`)."""

    kind: Literal["futures"] = "futures"
    per_contract: float = Field(default=0.85, ge=0.0, allow_inf_nan=False)
    exchange_fee: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import FuturesCommission  # noqa: PLC0415

        return FuturesCommission(per_contract=self.per_contract, exchange_fee=self.exchange_fee)


class CryptoCommissionSpec(_Spec):
    """Maker/taker crypto fees in basis points (`CryptoCommission`)."""

    kind: Literal["crypto"] = "crypto"
    maker_bps: float = Field(default=10.0, ge=0.0, allow_inf_nan=False)
    taker_bps: float = Field(default=10.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.commission import CryptoCommission  # noqa: PLC0415

        return CryptoCommission(maker_bps=self.maker_bps, taker_bps=self.taker_bps)


CommissionSpec = Annotated[
    NoCommissionSpec
    | PerShareCommissionSpec
    | PercentCommissionSpec
    | FixedCommissionSpec
    | TieredCommissionSpec
    | FuturesCommissionSpec
    | CryptoCommissionSpec,
    Field(discriminator="kind"),
]

# ----------------------------------------------------------------------------------- slippage


class NoSlippageSpec(_Spec):
    """Fill at the reference price (`NoSlippage`)."""

    kind: Literal["none"] = "none"

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.slippage import NoSlippage  # noqa: PLC0415

        return NoSlippage()


class FixedBpsSlippageSpec(_Spec):
    """Move the fill price against the trader by `bps` basis points (`PercentageSlippage`).

    Example:
        >>> FixedBpsSlippageSpec(bps=5.0).build().slippage(100.0, 10)
        0.05
    """

    kind: Literal["fixed_bps"] = "fixed_bps"
    bps: float = Field(default=DEFAULT_SLIPPAGE_BPS, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.slippage import PercentageSlippage  # noqa: PLC0415

        return PercentageSlippage(rate=self.bps * 1e-4)


class FixedSlippageSpec(_Spec):
    """Move the fill price against the trader by `per_unit` price units (`FixedSlippage`)."""

    kind: Literal["fixed"] = "fixed"
    per_unit: float = Field(default=0.01, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.slippage import FixedSlippage  # noqa: PLC0415

        return FixedSlippage(per_unit=self.per_unit)


class VolumeShareSlippageSpec(_Spec):
    """Slippage growing with the share of bar volume taken (`VolumeShareSlippage`)."""

    kind: Literal["volume_share"] = "volume_share"
    price_impact: float = Field(default=0.1, ge=0.0, allow_inf_nan=False)
    volume_limit: float = Field(default=0.025, gt=0.0, le=1.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.slippage import VolumeShareSlippage  # noqa: PLC0415

        return VolumeShareSlippage(price_impact=self.price_impact, volume_limit=self.volume_limit)


class SpreadSlippageSpec(_Spec):
    """Pay half a quoted spread (absolute and/or in bps) per unit (`SpreadSlippage`)."""

    kind: Literal["spread"] = "spread"
    spread: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    spread_bps: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.slippage import SpreadSlippage  # noqa: PLC0415

        return SpreadSlippage(spread=self.spread, spread_bps=self.spread_bps)


SlippageSpec = Annotated[
    NoSlippageSpec
    | FixedBpsSlippageSpec
    | FixedSlippageSpec
    | VolumeShareSlippageSpec
    | SpreadSlippageSpec,
    Field(discriminator="kind"),
]

# ------------------------------------------------------------------------------------- impact


class NoImpactSpec(_Spec):
    """No market impact (`NoImpact`)."""

    kind: Literal["none"] = "none"

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.impact import NoImpact  # noqa: PLC0415

        return NoImpact()


class LinearImpactSpec(_Spec):
    """Impact linear in the share of volume taken (`LinearImpact`)."""

    kind: Literal["linear"] = "linear"
    coefficient: float = Field(default=0.1, ge=0.0, allow_inf_nan=False)
    permanent_fraction: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.impact import LinearImpact  # noqa: PLC0415

        return LinearImpact(
            coefficient=self.coefficient, permanent_fraction=self.permanent_fraction
        )


class SquareRootImpactSpec(_Spec):
    """Square-root impact in participation (`SquareRootImpact`)."""

    kind: Literal["square_root"] = "square_root"
    coefficient: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    permanent_fraction: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    def build(self) -> Any:
        """Return the execution model."""
        from ml4t.backtest.execution.impact import SquareRootImpact  # noqa: PLC0415

        return SquareRootImpact(
            coefficient=self.coefficient, permanent_fraction=self.permanent_fraction
        )


ImpactSpec = Annotated[
    NoImpactSpec | LinearImpactSpec | SquareRootImpactSpec, Field(discriminator="kind")
]

# ------------------------------------------------------------------------ account and sizing


class AccountSpec(_Spec):
    """Account rules.

    Attributes:
        policy: ``cash`` (no leverage; shorts only when `allow_short`) or ``margin``.
        allow_short: Whether short sales are allowed at all.
        initial_margin: Fraction of notional to post when opening (margin accounts), in (0, 1].
        maintenance_margin: Fraction of notional to keep; below it the account is called.
    """

    policy: AccountPolicy = AccountPolicy.CASH
    allow_short: bool = False
    initial_margin: float = Field(default=0.5, gt=0.0, le=1.0, allow_inf_nan=False)
    maintenance_margin: float = Field(default=0.25, gt=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_margins(self) -> Self:
        if self.maintenance_margin > self.initial_margin:
            raise ValueError(
                f"`maintenance_margin` ({self.maintenance_margin}) exceeds `initial_margin` "
                f"({self.initial_margin}); lower it or raise `initial_margin`"
            )
        return self


class SizingSpec(_Spec):
    """Defaults used when a helper or the signal fast path must choose a quantity.

    Attributes:
        method: ``percent_equity`` (each entry gets `percent` of equity), ``fixed_quantity``
            (`quantity` units) or ``fixed_value`` (`value` of account currency).
        percent: Fraction of equity per position for ``percent_equity``, in (0, 10].
        quantity: Units per entry for ``fixed_quantity``.
        value: Currency per entry for ``fixed_value``.
        min_trade_value: Trades smaller than this (in currency) are skipped by `rebalance`.
    """

    method: Literal["percent_equity", "fixed_quantity", "fixed_value"] = "percent_equity"
    percent: float = Field(default=1.0, gt=0.0, le=10.0, allow_inf_nan=False)
    quantity: float = Field(default=100.0, gt=0.0, allow_inf_nan=False)
    value: float = Field(default=10_000.0, gt=0.0, allow_inf_nan=False)
    min_trade_value: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


class RiskConfig(_Spec):
    """Risk rules the engine enforces after marking and before the strategy acts.

    Per-position rules (fractions of the entry price; None disables): `stop_loss`,
    `take_profit`, `trailing_stop`, `max_bars_held`, `atr_stop` (multiples of ATR over
    `atr_window` bars), `exit_signal` (name of a signal column: a position exits when it is
    non-zero). Portfolio rules: `max_positions`, `max_gross_exposure`, `max_net_exposure`
    (fractions of equity), `max_drawdown` (halts new entries and flattens), `daily_loss_limit`
    (fraction of the day's opening equity; flattens and blocks entries for that day).

    Example:
        >>> RiskConfig(stop_loss=0.05, take_profit=0.10).stop_loss
        0.05
    """

    stop_loss: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)
    take_profit: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    trailing_stop: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)
    max_bars_held: int | None = Field(default=None, gt=0)
    atr_stop: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    atr_window: int = Field(default=14, gt=0)
    exit_signal: str | None = None
    max_positions: int | None = Field(default=None, gt=0)
    max_gross_exposure: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    max_net_exposure: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    max_drawdown: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)
    daily_loss_limit: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)

    @property
    def has_position_rules(self) -> bool:
        """Return True when any per-position rule is set."""
        return any(
            v is not None
            for v in (
                self.stop_loss,
                self.take_profit,
                self.trailing_stop,
                self.max_bars_held,
                self.atr_stop,
                self.exit_signal,
            )
        )

    @property
    def has_portfolio_rules(self) -> bool:
        """Return True when any portfolio rule is set."""
        return any(
            v is not None
            for v in (
                self.max_positions,
                self.max_gross_exposure,
                self.max_net_exposure,
                self.max_drawdown,
                self.daily_loss_limit,
            )
        )


# ------------------------------------------------------------------------------------ presets

PRESETS: dict[str, dict[str, Any]] = {"realistic": {}}
"""Named presets: overrides applied on top of the defaults. ``realistic`` is the defaults."""


def register_preset(name: str, overrides: Mapping[str, Any]) -> None:
    """Register (or replace) a named preset of config overrides.

    The overrides are validated at once, so a broken preset fails where it is defined.

    Args:
        name: Preset name used with `BacktestConfig.preset`.
        overrides: Keys and values of `BacktestConfig` that differ from the defaults.

    Raises:
        ConfigError: The overrides do not form a valid config.

    Example:
        >>> register_preset("no_costs_doc", {"commission": {"kind": "none"}})
        >>> BacktestConfig.preset("no_costs_doc").commission.kind
        'none'
    """
    BacktestConfig.from_dict(dict(overrides))
    PRESETS[name] = dict(overrides)


# ------------------------------------------------------------------------------------- config


def format_validation_error(exc: ValidationError, *, source: str = "BacktestConfig") -> str:
    """Render a pydantic error as one line per problem, naming the key path and the fix.

    Args:
        exc: The pydantic error.
        source: What was being validated (shown first).

    Returns:
        A readable multi-line message.
    """
    lines = [f"invalid {source}:"]
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            lines.append(
                f"  unknown key {path!r} (value was {err.get('input')!r}); "
                "remove it or fix its spelling"
            )
        else:
            lines.append(f"  {path}: {err['msg']} (value was {err.get('input')!r})")
    return "\n".join(lines)


class BacktestConfig(BaseModel):
    """Settings of one backtest run; frozen, unknown keys rejected, stored with the result.

    Attributes:
        initial_cash: Starting cash in `base_currency`, > 0.
        base_currency: ISO code of the account currency.
        fill_timing: When market orders fill (default: next bar's open).
        price_column: Feed field used to mark positions and size orders (default ``close``).
        commission: Commission model spec (default: $0.005/share, $1 minimum).
        slippage: Slippage model spec (default: 1 bp).
        impact: Market impact model spec (default: none).
        account: Account policy (cash or margin, shorting).
        sizing: Default position sizing.
        risk: Risk rules the engine enforces.
        intrabar_policy: Path assumed inside a bar when stop and limit could both trigger.
        exit_first: Within a bar, process exits (sells) before entries (buys).
        volume_limit: Max fraction of a bar's volume one order may take (None: no cap).
        cash_shortfall: What to do with a buy cash cannot pay for.
        trail_reference: Price a trailing-stop order follows (bar extreme or close).
        bracket_activation: Bar from which a filled entry's stop and target work.
        rebalance_order: Order of `Strategy.rebalance`'s trades within sells and buys.
        slippage_cap_to_bar: Cap slippage and impact so a fill stays inside its bar: a buy
            pays at most the bar's high, a sell receives at least its low (Backtrader's
            ``slip_match=True``, ``slip_out=False``); the matched price itself never moves
            in the trader's favour. Close fills cap at that bar's high/low too.
        share_rounding: Rounding of helper-computed quantities.
        close_positions_at_end: Close every open position at the last bar's close.
        seed: Seed for anything random (look-ahead audit cut points, random fills).
        compiled: When the run uses the compiled twins of its per-bar work (`CompiledMode`;
            the results are the same either way).

    Example:
        >>> cfg = BacktestConfig(initial_cash=50_000, commission={"kind": "none"})
        >>> cfg.commission.kind, cfg.fill_timing.value
        ('none', 'next_open')
        >>> BacktestConfig.from_toml(cfg.to_toml()) == cfg
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    initial_cash: float = Field(default=DEFAULT_INITIAL_CASH, gt=0.0, allow_inf_nan=False)
    base_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    fill_timing: FillTiming = FillTiming.NEXT_OPEN
    price_column: str = Field(default="close", min_length=1)
    commission: CommissionSpec = Field(
        default_factory=lambda: PerShareCommissionSpec(
            per_share=DEFAULT_PER_SHARE, minimum=DEFAULT_MIN_COMMISSION
        )
    )
    slippage: SlippageSpec = Field(
        default_factory=lambda: FixedBpsSlippageSpec(bps=DEFAULT_SLIPPAGE_BPS)
    )
    impact: ImpactSpec = Field(default_factory=NoImpactSpec)
    account: AccountSpec = Field(default=AccountSpec())
    sizing: SizingSpec = Field(default=SizingSpec())
    risk: RiskConfig = Field(default=RiskConfig())
    intrabar_policy: IntrabarPolicy = IntrabarPolicy.PESSIMISTIC
    exit_first: bool = True
    volume_limit: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    cash_shortfall: CashShortfallPolicy = CashShortfallPolicy.REJECT
    trail_reference: TrailReference = TrailReference.EXTREME
    bracket_activation: BracketActivation = BracketActivation.SAME_BAR
    slippage_cap_to_bar: bool = False
    rebalance_order: RebalanceOrder = RebalanceOrder.ASSET
    share_rounding: ShareRounding = ShareRounding.INTEGER
    close_positions_at_end: bool = False
    seed: int = Field(default=0, ge=0)
    compiled: CompiledMode = CompiledMode.AUTO

    _preset_loader: ClassVar[str] = "ml4t.backtest.strategy.presets"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc)) from None

    # ------------------------------------------------------------------ dict / TOML / YAML

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestConfig:
        """Build a config from a (possibly nested) mapping, rejecting unknown keys.

        Raises:
            ConfigError: A key is unknown or a value is out of range; the message names it.

        Example:
            >>> BacktestConfig.from_dict({"initial_cash": 1e6}).initial_cash
            1000000.0
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"config must be a mapping of keys to values, was {type(data)!r}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (enums as text, no None values) that `from_dict` reads back.

        Example:
            >>> BacktestConfig().to_dict()["commission"]
            {'kind': 'per_share', 'per_share': 0.005, 'minimum': 1.0}
        """
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_toml(cls, text: str) -> BacktestConfig:
        """Read a config from TOML text (use `from_file` for a path)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    def to_toml(self) -> str:
        """Return the config as TOML text."""
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_yaml(cls, text: str) -> BacktestConfig:
        r"""Read a config from YAML text (use `from_file` for a path).

        Example:
            >>> BacktestConfig.from_yaml("initial_cash: 5000\nslippage: {kind: none}").initial_cash
            5000.0
        """
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config is not valid YAML: {exc}") from None
        return cls.from_dict(data if data is not None else {})

    def to_yaml(self) -> str:
        """Return the config as YAML text."""
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_file(cls, path: str | Path) -> BacktestConfig:
        """Read a config from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file.

        Raises:
            ConfigError: Unknown suffix, unreadable content or invalid settings.
        """
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        suffix = p.suffix.lower()
        if suffix == ".toml":
            return cls.from_toml(text)
        if suffix in (".yaml", ".yml"):
            return cls.from_yaml(text)
        if suffix == ".json":
            try:
                return cls.model_validate_json(text)
            except ValidationError as exc:
                raise ConfigError(format_validation_error(exc)) from None
        raise ConfigError(f"config file {str(p)!r}: unknown suffix {suffix!r}; use .toml or .yaml")

    def to_file(self, path: str | Path) -> None:
        """Write the config to a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".toml":
            text = self.to_toml()
        elif suffix in (".yaml", ".yml"):
            text = self.to_yaml()
        elif suffix == ".json":
            text = self.model_dump_json(indent=2, exclude_none=True)
        else:
            raise ConfigError(
                f"config file {str(p)!r}: unknown suffix {suffix!r}; use .toml or .yaml"
            )
        p.write_text(text, encoding="utf-8")

    def replace(self, **changes: Any) -> BacktestConfig:
        """Return a validated copy with `changes` applied (nested specs as dicts or models).

        Example:
            >>> BacktestConfig().replace(initial_cash=1.0).initial_cash
            1.0
        """
        data = self.to_dict()
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        return BacktestConfig.from_dict(data)

    # ------------------------------------------------------------------------------ presets

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> BacktestConfig:
        """Return the named preset, with optional further `overrides`.

        Args:
            name: A key of `PRESETS` (``"realistic"`` is the defaults).
            **overrides: Settings to change on top of the preset.

        Raises:
            ConfigError: Unknown preset name (the message lists the known ones).

        Example:
            >>> BacktestConfig.preset("realistic") == BacktestConfig()
            True
        """
        try:  # the presets module (if installed) registers more presets on import
            importlib.import_module(cls._preset_loader)
        except ModuleNotFoundError as exc:
            if exc.name != cls._preset_loader:
                raise
        if name not in PRESETS:
            known = ", ".join(sorted(PRESETS))
            raise ConfigError(f"unknown preset {name!r}; known presets: {known}")
        data = dict(PRESETS[name])
        data.update(overrides)
        return cls.from_dict(data)

    # ------------------------------------------------------------------------------ helpers

    @property
    def has_costs(self) -> bool:
        """Return True when any commission, slippage or impact model is active."""
        return not (
            self.commission.kind == "none"
            and self.slippage.kind == "none"
            and self.impact.kind == "none"
        )

    def rounding_step(self, lot_size: float) -> float:
        """Return the quantity grid step for an asset with `lot_size` (0.0: no rounding).

        Example:
            >>> BacktestConfig().rounding_step(0.5)
            1.0
            >>> BacktestConfig(share_rounding="lot").rounding_step(0.5)
            0.5
        """
        if self.share_rounding is ShareRounding.FRACTIONAL:
            return 0.0
        if self.share_rounding is ShareRounding.LOT:
            return lot_size
        return 1.0
