"""Parity presets: configs that make ml4t-backtest behave like a peer framework.

Importing this module registers the presets ``"backtrader"``, ``"vectorbt"``,
``"backtesting.py"`` and ``"zipline"`` next to ``"realistic"`` (our documented defaults);
`BacktestConfig.preset` imports it on first use. A preset is a plain set of config overrides:
start from one and change any field::

    cfg = BacktestConfig.preset("backtrader", commission={"kind": "percent", "rate": 0.001})

Each value below is the peer's own default as read in its source (versions in
`PEER_VERSIONS`); docs/presets.md has the full table with the evidence for each cell. Where a
peer's default cannot be expressed by a config field, the preset documents the nearest setting
in `PRESET_GAPS`.

Example:
    >>> from ml4t.backtest.strategy.config import BacktestConfig
    >>> cfg = BacktestConfig.preset("zipline")
    >>> cfg.fill_timing.value, cfg.commission.kind, cfg.slippage.bps
    ('next_close', 'per_share', 5.0)
    >>> BacktestConfig.preset("backtrader", initial_cash=50_000).initial_cash
    50000.0
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from ml4t.backtest.strategy.config import (
    PRESETS,
    AccountPolicy,
    BracketActivation,
    CashShortfallPolicy,
    FillTiming,
    IntrabarPolicy,
    RebalanceOrder,
    ShareRounding,
    TrailReference,
    register_preset,
)

__all__ = [
    "BACKTRADER_PRESET",
    "BACKTESTING_PY_PRESET",
    "PEER_VERSIONS",
    "PRESET_GAPS",
    "PRESET_NAMES",
    "VECTORBT_PRESET",
    "ZIPLINE_PRESET",
    "preset_overrides",
]

PEER_VERSIONS: Final = MappingProxyType(
    {
        "backtrader": "1.9.78.123",
        "vectorbt": "1.2.0",
        "backtesting.py": "0.6.6",
        "zipline": "zipline-reloaded 3.2.1",
    }
)
"""Peer versions whose defaults the presets reproduce (and the validation suite runs)."""

# Backtrader: BackBroker defaults (brokers/bbroker.py): cash 10,000; market orders fill at the
# next bar's open (coc=False); commission 0 (CommInfoBase commission=0.0); no slippage
# (slip_perc=slip_fixed=0); a buy the cash cannot pay for is rejected at submission
# (checksubmit=True -> Order.Margin); shorts are allowed and credit the cash; sizes are used
# as given (floats allowed); orders are matched in submission order (no exits-first pass);
# positions stay open at the end; a bracket's stop child is submitted before its limit child,
# so a bar that reaches both fills the stop (pessimistic for the trader); bracket children
# are activated at the start of the next BackBroker.next, so from the bar after the entry
# fill; StopTrail follows each bar's close (order.py trailadjust(pclose), called by
# bbroker.py _try_exec_stop); a slipped price is capped at the bar's high (buys) / low
# (sells) (bbroker.py _slip_up/_slip_down, slip_match=True, slip_out=False).
BACKTRADER_PRESET: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        "initial_cash": 10_000.0,
        "fill_timing": FillTiming.NEXT_OPEN.value,
        "commission": {"kind": "none"},
        "slippage": {"kind": "none"},
        "account": {"policy": AccountPolicy.MARGIN.value, "allow_short": True},
        "cash_shortfall": CashShortfallPolicy.REJECT.value,
        "share_rounding": ShareRounding.FRACTIONAL.value,
        "exit_first": False,
        "intrabar_policy": IntrabarPolicy.PESSIMISTIC.value,
        "trail_reference": TrailReference.CLOSE.value,
        "bracket_activation": BracketActivation.NEXT_BAR.value,
        "slippage_cap_to_bar": True,
        "close_positions_at_end": False,
        "volume_limit": None,
    }
)

# VectorBT Portfolio.from_signals defaults (portfolio/base.py, _settings.py): init_cash 100;
# price=close of the signal bar; fees=fixed_fees=slippage=0; size=inf (all available cash)
# with allow_partial=True (an order the cash cannot pay for is resized to
# (cash - fixed_fees) / (price * (1 + fees)), portfolio/nb.py buy_nb); fractional sizes
# (size_granularity=None); direction longonly; with call_seq='auto' (the rebalancing
# setting; 'default' is column order) a group's orders run by approximate value (sells
# first, the largest buy last: approx_order_value_nb + insert_argsort_nb);
# a bar that hits both the stop loss and the take profit exits at the stop.
VECTORBT_PRESET: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        "initial_cash": 100.0,
        "fill_timing": FillTiming.SAME_CLOSE.value,
        "commission": {"kind": "none"},
        "slippage": {"kind": "none"},
        "account": {"policy": AccountPolicy.CASH.value, "allow_short": False},
        "cash_shortfall": CashShortfallPolicy.RESIZE_FEE_INCLUSIVE.value,
        "share_rounding": ShareRounding.FRACTIONAL.value,
        "sizing": {"method": "percent_equity", "percent": 1.0},
        "exit_first": True,
        "rebalance_order": RebalanceOrder.VALUE.value,
        "intrabar_policy": IntrabarPolicy.PESSIMISTIC.value,
        "close_positions_at_end": False,
        "volume_limit": None,
    }
)

# backtesting.py Backtest defaults (backtesting.py): cash 10,000; commission 0, spread 0;
# market orders at the next bar's open (trade_on_close=False); default size 1 - float epsilon
# (_FULL_EQUITY in 0.6.6) of the margin available when the order fills, floored to whole
# units after adding costs to the fill price (in ml4t: Strategy.order_percent_at_fill; the
# `sizing` below is for sizers that size on submission); an order the margin cannot cover
# is canceled; sell() opens a short (margin=1: no leverage);
# SL/TP/closing orders are queued in front of new entries; when SL and TP are inside one bar
# the SL is taken; open trades stay open at the end (finalize_trades=False).
BACKTESTING_PY_PRESET: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        "initial_cash": 10_000.0,
        "fill_timing": FillTiming.NEXT_OPEN.value,
        "commission": {"kind": "none"},
        "slippage": {"kind": "none"},
        "account": {
            "policy": AccountPolicy.MARGIN.value,
            "allow_short": True,
            "initial_margin": 1.0,
            "maintenance_margin": 1.0,
        },
        "cash_shortfall": CashShortfallPolicy.REJECT.value,
        "share_rounding": ShareRounding.INTEGER.value,
        "sizing": {"method": "percent_equity", "percent": 0.9999},
        "exit_first": True,
        "intrabar_policy": IntrabarPolicy.PESSIMISTIC.value,
        "close_positions_at_end": False,
        "volume_limit": None,
    }
)

# zipline-reloaded defaults (finance/commission.py, finance/slippage.py,
# finance/blotter/simulation_blotter.py): an order placed in handle_data on day t fills at
# day t+1's close; PerShare(cost=0.001, min_trade_cost=0); FixedBasisPointsSlippage(5 bp,
# volume_limit=0.1 of the bar's volume); no cash check (cash may go negative), shorts allowed;
# amounts are whole shares; orders are processed in placement order; positions stay open.
ZIPLINE_PRESET: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        "initial_cash": 10_000_000.0,
        "fill_timing": FillTiming.NEXT_CLOSE.value,
        "commission": {"kind": "per_share", "per_share": 0.001, "minimum": 0.0},
        "slippage": {"kind": "fixed_bps", "bps": 5.0},
        "volume_limit": 0.1,
        "account": {"policy": AccountPolicy.MARGIN.value, "allow_short": True},
        "cash_shortfall": CashShortfallPolicy.ALLOW_NEGATIVE.value,
        "share_rounding": ShareRounding.INTEGER.value,
        "exit_first": False,
        "intrabar_policy": IntrabarPolicy.PESSIMISTIC.value,
        "close_positions_at_end": False,
    }
)

PRESET_GAPS: Final = MappingProxyType(
    {
        "backtrader": (
            "sizers size on cash, not equity (PercentSizer: cash * percents / close); "
            "slippage skips the open unless slip_open=True"
        ),
        "vectorbt": "size=inf buys with all cash after fees (not a fraction of equity)",
        "backtesting.py": (
            "relative sizes use available margin and a price that includes commission; "
            "trade_on_close fills at the signal bar's close"
        ),
        "zipline": (
            "open orders and positions follow splits; dividends are paid on the pay date; "
            "VolumeShareSlippage is the examples' model, FixedBasisPointsSlippage the default"
        ),
    }
)
"""Peer behaviours no `BacktestConfig` field expresses yet (see docs/presets.md)."""

_PRESETS: Final[dict[str, MappingProxyType[str, Any]]] = {
    "backtrader": BACKTRADER_PRESET,
    "vectorbt": VECTORBT_PRESET,
    "backtesting.py": BACKTESTING_PY_PRESET,
    "zipline": ZIPLINE_PRESET,
}

PRESET_NAMES: Final = ("realistic", *_PRESETS)
"""Every preset this module guarantees, ``"realistic"`` (the defaults) first."""


def preset_overrides(name: str) -> dict[str, Any]:
    """Return a copy of the overrides a preset applies on top of the defaults.

    Args:
        name: One of `PRESET_NAMES`.

    Returns:
        The overrides (``{}`` for ``"realistic"``), as plain JSON-like values.

    Raises:
        KeyError: `name` is not a preset of this module; the message lists the known ones.

    Example:
        >>> preset_overrides("vectorbt")["fill_timing"]
        'same_close'
        >>> preset_overrides("realistic")
        {}
    """
    if name == "realistic":
        return {}
    if name not in _PRESETS:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(PRESET_NAMES)}")
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in _PRESETS[name].items()}


def _register_all() -> None:
    # Registered at import; register_preset validates every preset where it is defined.
    for name in _PRESETS:
        if name not in PRESETS:
            register_preset(name, preset_overrides(name))


_register_all()
