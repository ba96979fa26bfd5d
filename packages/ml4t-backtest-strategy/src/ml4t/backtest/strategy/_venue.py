"""Private glue between the engine and the execution/portfolio layers.

Everything the engine needs to know about `SimulationBroker`, `Order` and `Portfolio`
construction lives here, so that a change in those layers' surfaces is a change in one file.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.enums import OrderSide, OrderStatus, OrderType
from ml4t.backtest.core.enums import TimeInForce as Tif
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.types import format_timestamp
from ml4t.backtest.execution.blocks import FillBlock, OrderBlock
from ml4t.backtest.execution.orders import Order, bracket_order, link_oto
from ml4t.backtest.portfolio import metrics as pf_metrics
from ml4t.backtest.portfolio.accounts import CashAccount, RegTMargin
from ml4t.backtest.portfolio.portfolio import Portfolio
from ml4t.backtest.strategy.config import (
    AccountPolicy,
    BacktestConfig,
    CashShortfallPolicy,
    FillTiming,
    IntrabarPolicy,
)

__all__ = [
    "FillBlock",
    "OrderBlock",
    "advance_bars",
    "apply_fills",
    "broker_idle",
    "build_bracket",
    "build_close_order",
    "build_order",
    "compute_metrics",
    "fingerprint",
    "in_thread",
    "load_compiled",
    "make_broker",
    "make_portfolio",
    "reject_local",
    "submit_block",
    "submit_many",
    "supports_lazy",
]

_NAN = math.nan
_T = TypeVar("_T")


def make_portfolio(config: BacktestConfig, feed: Any) -> Portfolio:
    """Build the run's `Portfolio` from the config's account settings."""
    acct = config.account
    if acct.policy is AccountPolicy.CASH:
        if acct.allow_short:
            raise ConfigError(
                "account.allow_short=True needs account.policy='margin'; a cash account "
                "cannot sell short"
            )
        policy: Any = CashAccount()
    else:
        policy = RegTMargin(initial=acct.initial_margin, maintenance=acct.maintenance_margin)
    return Portfolio(
        feed.assets,
        feed.registry,
        initial_cash=config.initial_cash,
        base_currency=config.base_currency,
        account=policy,
    )


# The compiled twins of the per-bar work (each imports numba), loaded by `load_compiled`.
COMPILED_MODULES = (
    "ml4t.backtest.execution.nb",
    "ml4t.backtest.portfolio._book_nb",
    "ml4t.backtest.portfolio._check_nb",
    "ml4t.backtest.portfolio._trades_nb",
    "ml4t.backtest.strategy._rebalance_nb",
)


def load_compiled() -> None:
    """Import numba and the compiled twins of the per-bar work (``compiled="on"``).

    The twins check ``"numba" in sys.modules`` and run from then on in this process (the
    trade tracker from its first batch of fills); see `CompiledMode`.
    """
    for name in COMPILED_MODULES:
        importlib.import_module(name)


def supports_lazy(broker: Any) -> bool:
    """Return True when the broker can skip bars while its book is empty.

    An idle `SimulationBroker` only remembers each asset's last close between bars, unless an
    impact model keeps running volume and volatility averages (then every bar counts). The
    portfolio from `make_portfolio` accrues nothing between fills (no borrow fees, interest
    or settlement), so marking it once for several bars gives the per-bar result.
    """
    from ml4t.backtest.execution.impact import NoImpact  # noqa: PLC0415

    return isinstance(getattr(broker, "impact", None), NoImpact) and hasattr(
        broker, "active_order_count"
    )


def broker_idle(broker: Any) -> bool:
    """Return True when the broker holds no live order and no execution algorithm."""
    return broker.active_order_count == 0 and not getattr(broker, "_algos", None)


def apply_fills(portfolio: Portfolio, fills: Sequence[Any]) -> None:
    """Book `fills` in order (the portfolio's batch entry point when it has one)."""
    batch = getattr(portfolio, "apply_fills", None)
    if batch is not None:
        batch(fills)
        return
    for fill in fills:
        portfolio.apply_fill(fill)


def advance_bars(tracker: Any, n: int) -> None:
    """Count `n` more bars on the trade tracker (as `n` calls of its `advance_bar`)."""
    if n <= 0:
        return
    if isinstance(getattr(tracker, "_bar", None), int):
        tracker._bar += n  # one add instead of n calls
        return
    for _ in range(n):  # pragma: no cover - trackers without the counter attribute
        tracker.advance_bar()


def submit_many(
    broker: Any, columns: npt.NDArray[np.intp], quantities: npt.NDArray[np.float64], tag: str
) -> list[Order]:
    """Submit GTC market orders for signed `quantities` of asset `columns`, in order.

    The broker's batch submission: the same orders, ids and events as one `submit` each.
    """
    out: list[Order] = broker.submit_many(columns, quantities, tag=tag)
    return out


def submit_block(
    broker: Any, columns: npt.NDArray[np.intp], quantities: npt.NDArray[np.float64], tag: str
) -> OrderBlock | None:
    """Submit a rebalance as one block of columns when the broker can hold it, else None.

    The broker's `submit_block` (see `OrderBlock`); None also for a broker without it.
    """
    submit = getattr(broker, "submit_block", None)
    if submit is None:
        return None
    block: OrderBlock | None = submit(columns, quantities, tag=tag)
    return block


def make_broker(
    config: BacktestConfig, feed: Any, portfolio: Portfolio, *, record_events: bool = True
) -> Any:
    """Build the run's `SimulationBroker` with the config's cost and fill settings.

    `record_events` False: the broker keeps no `OrderEvent` objects (nobody reads them),
    only each order's last update time and a change counter.
    """
    from ml4t.backtest.execution.broker import SimulationBroker  # noqa: PLC0415
    from ml4t.backtest.execution.fills import FillTiming as BrokerTiming  # noqa: PLC0415
    from ml4t.backtest.execution.fills import FundsPolicy  # noqa: PLC0415
    from ml4t.backtest.execution.fills import IntrabarPolicy as BrokerIntrabar  # noqa: PLC0415

    timing = {
        FillTiming.NEXT_OPEN: BrokerTiming.NEXT_BAR_OPEN,
        FillTiming.SAME_CLOSE: BrokerTiming.SAME_BAR_CLOSE,
        FillTiming.NEXT_CLOSE: BrokerTiming.NEXT_BAR_CLOSE,
    }[config.fill_timing]
    intrabar = {
        IntrabarPolicy.PESSIMISTIC: BrokerIntrabar.WORST_CASE,
        IntrabarPolicy.OHLC: BrokerIntrabar.OHLC,
        IntrabarPolicy.OLHC: BrokerIntrabar.OLHC,
    }[config.intrabar_policy]
    from ml4t.backtest.execution.fills import BracketActivation as Activation  # noqa: PLC0415
    from ml4t.backtest.execution.fills import TrailReference as Trail  # noqa: PLC0415

    funds = {
        CashShortfallPolicy.RESIZE: FundsPolicy.RESIZE,
        CashShortfallPolicy.RESIZE_FEE_INCLUSIVE: FundsPolicy.RESIZE_FEE_INCLUSIVE,
    }.get(config.cash_shortfall, FundsPolicy.REJECT)
    account = None if config.cash_shortfall is CashShortfallPolicy.ALLOW_NEGATIVE else portfolio
    return SimulationBroker(
        feed.assets,
        feed.registry,
        fill_timing=timing,
        commission=config.commission.build(),
        slippage=config.slippage.build(),
        impact=config.impact.build(),
        volume_limit=config.volume_limit,
        intrabar_policy=intrabar,
        exit_first=config.exit_first,
        account=account,
        funds_policy=funds,
        trail_reference=Trail[config.trail_reference.name],
        bracket_activation=Activation[config.bracket_activation.name],
        slippage_cap_to_bar=config.slippage_cap_to_bar,
        record_events=record_events,
    )


def build_order(
    asset: str,
    quantity: float,
    *,
    order_type: OrderType = OrderType.MARKET,
    limit_price: float | None = None,
    stop_price: float | None = None,
    trail: float | None = None,
    time_in_force: Tif = Tif.GTC,
    tag: str = "",
) -> Order:
    """Build an unsubmitted `Order` for a signed quantity.

    `trail` below 1 is a fraction of the price (0.05 = 5%), otherwise a price distance.
    """
    side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
    trail_amount = _NAN
    trail_percent = _NAN
    if trail is not None:
        if 0.0 < trail < 1.0:
            trail_percent = trail
        else:
            trail_amount = trail
    return Order(
        asset,
        side,
        abs(quantity),
        order_type,
        limit_price=_NAN if limit_price is None else limit_price,
        stop_price=_NAN if stop_price is None else stop_price,
        trail_amount=trail_amount,
        trail_percent=trail_percent,
        time_in_force=time_in_force,
        tag=tag,
    )


def build_sized_order(asset: str, fraction: float, tag: str) -> Order:
    """Build an unsubmitted market order sized at fill for a signed `fraction`."""
    side = OrderSide.BUY if fraction > 0 else OrderSide.SELL
    return Order.market_sized_at_fill(asset, side, abs(fraction), tag=tag)


def build_close_order(asset: str, quantity: float, tag: str) -> Order:
    """Build a market-on-close order for a signed quantity (used at the end of a run)."""
    side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
    return Order.market_on_close(asset, side, abs(quantity), tag=tag)


@contextlib.contextmanager
def close_auction_now(broker: Any) -> Iterator[None]:
    """Make market-on-close orders submitted inside the block fill at this bar's close.

    The broker lets a MOC order decided on bar ``t`` take part in bar ``t``'s closing auction
    only under SAME_BAR_CLOSE timing; the end-of-run liquidation needs that under every timing.
    """
    from ml4t.backtest.execution.fills import FillTiming as BrokerTiming  # noqa: PLC0415

    saved = broker.fill_timing
    broker.fill_timing = BrokerTiming.SAME_BAR_CLOSE
    try:
        yield
    finally:
        broker.fill_timing = saved


def build_bracket(
    asset: str,
    quantity: float,
    *,
    stop_loss: float | None,
    take_profit: float | None,
    limit_price: float | None,
    time_in_force: Tif,
    tag: str,
) -> list[Order]:
    """Build a bracket: [entry, exits...]; exits wait for the entry (OTO) and cancel each other."""
    side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
    if stop_loss is not None and take_profit is not None:
        b = bracket_order(
            asset,
            side,
            abs(quantity),
            take_profit=take_profit,
            stop_loss=stop_loss,
            entry_limit=limit_price,
            time_in_force=time_in_force,
            tag=tag,
        )
        return [b.entry, b.take_profit, b.stop_loss]
    entry = build_order(
        asset,
        quantity,
        order_type=OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
        limit_price=limit_price,
        time_in_force=time_in_force,
        tag=tag,
    )
    exit_side = side.opposite()
    if stop_loss is not None:
        child = Order.stop(
            asset, exit_side, abs(quantity), stop_loss, time_in_force=time_in_force, tag=tag
        )
    else:
        assert take_profit is not None
        child = Order.limit(
            asset, exit_side, abs(quantity), take_profit, time_in_force=time_in_force, tag=tag
        )
    link_oto(entry, child)
    return [entry, child]


def reject_local(order: Order, reason: str, timestamp: int, order_id: int) -> None:
    """Reject an order that never reached the broker (a risk rule refused it).

    Such orders get negative ids (-1, -2, ...) so they never collide with the broker's.
    """
    order.order_id = order_id
    order.created_at = timestamp
    order.transition(OrderStatus.REJECTED, reason)


def compute_metrics(
    equity_curve: pl.DataFrame, trades: pl.DataFrame, config: BacktestConfig
) -> dict[str, float]:
    """Compute the run's metrics with the portfolio package's `compute_metrics`."""
    if equity_curve.height < 2:
        return {}
    with np.errstate(all="ignore"):  # degenerate series (flat equity) give NaN, not noise
        out = pf_metrics.compute_metrics(equity_curve, trades=trades)
    return {str(k): float(v) for k, v in out.items()}


def in_thread(fn: Callable[..., _T], *args: Any, threaded: bool) -> Callable[[], _T]:
    """Start ``fn(*args)`` in a thread (or run it now) and return a getter of its result.

    Used to hash a feed (`fingerprint`) while a run computes: the hash releases the GIL
    on large buffers, so on a second core it costs the run nothing. The getter joins the
    thread and re-raises what `fn` raised.
    """
    if not threaded:
        value = fn(*args)
        return lambda: value
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="ml4t-fingerprint", daemon=True)
    thread.start()

    def result() -> _T:
        thread.join()
        if "error" in box:
            raise box["error"]
        value: _T = box["value"]
        return value

    return result


def fingerprint(feed: Any) -> dict[str, Any]:
    """Return the feed's identity (hash, first/last timestamp, assets) for result metadata."""
    ts = np.asarray(feed.timestamps, dtype=np.int64)
    try:
        digest = str(feed.fingerprint())
    except (AttributeError, TypeError):
        digest = ""
    return {
        "hash": digest,
        "start": format_timestamp(int(ts[0])) if ts.size else "",
        "end": format_timestamp(int(ts[-1])) if ts.size else "",
        "assets": list(feed.assets),
    }
