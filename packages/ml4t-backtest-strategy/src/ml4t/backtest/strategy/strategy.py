"""`Strategy`: the base class users subclass, with helpers that mean the same in backtest and live.

Lifecycle, in the order the engine calls it::

    on_start(ctx)                      once, before the first bar
    on_order(event) / on_fill(fill)    events since the previous strategy phase, in order
    on_bar(bar)  or  on_market_data(event) per asset with a bar
    on_end(ctx)                        once, after the last bar

A strategy implements whichever data callback fits; the engine detects which ones are
overridden once, at start, and builds per-asset `MarketEvent` objects only for strategies that
override ``on_market_data``.

Helpers (``buy``, ``order_target_percent``, ``rebalance``, ...) talk to a `TradingInterface`,
so the same strategy can later run against a live broker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.enums import OrderType, TimeInForce
from ml4t.backtest.core.errors import ConfigError, LookAheadError, UnknownAssetError
from ml4t.backtest.core.events import FillEvent, MarketEvent, OrderEvent
from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.strategy._rebalance import EPS as _EPS  # snapping tolerance
from ml4t.backtest.strategy._rebalance import rebalance_trades

if TYPE_CHECKING:
    from ml4t.backtest.strategy.bar import Bar
    from ml4t.backtest.strategy.config import BacktestConfig
    from ml4t.backtest.strategy.interface import PortfolioView, TradingInterface

__all__ = ["DataWindow", "Strategy", "StrategyContext", "round_quantity"]


def round_quantity(quantity: float, step: float) -> float:
    """Round `quantity` toward zero to a multiple of `step` (``step <= 0``: unchanged).

    Example:
        >>> round_quantity(12.7, 1.0), round_quantity(-12.7, 1.0), round_quantity(250.0, 100.0)
        (12.0, -12.0, 200.0)
        >>> round_quantity(0.123456, 0.0)
        0.123456
    """
    if step <= 0.0 or not math.isfinite(quantity):
        return quantity
    units = math.floor(abs(quantity) / step + _EPS)
    rounded = units * step
    return rounded if quantity >= 0 else -rounded


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy learns at ``on_start`` and ``on_end``.

    Attributes:
        assets: Asset ids in column order.
        config: The run's configuration.
        start: First timestamp of the run (ns UTC).
        end: Last timestamp of the run (ns UTC).
        n_bars: Number of timestamps.
        signals: Names of the feed's signal columns.
        context: Names of the feed's context series.
        portfolio: The account summary (live object).
    """

    assets: tuple[AssetId, ...]
    config: BacktestConfig
    start: Timestamp
    end: Timestamp
    n_bars: int
    signals: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    portfolio: PortfolioView | None = field(default=None, compare=False)


class DataWindow:
    """Point-in-time access to the feed's columns, ending at the current bar `t`.

    Every array is a read-only view; windows are slices ``[t - n + 1, t]`` so nothing after
    the current bar can be reached.

    Example:
        >>> w = DataWindow({"close": np.array([[1.0], [2.0], [3.0]])}, {}, ("A",))
        >>> w.t = 1
        >>> w.history("close", 5, "A").tolist()
        [1.0, 2.0]
    """

    __slots__ = ("_asset_index", "_context", "_fields", "assets", "t")

    def __init__(
        self,
        fields: Mapping[str, npt.NDArray[np.float64]],
        context: Mapping[str, npt.NDArray[np.float64]],
        assets: tuple[AssetId, ...],
    ) -> None:
        self._fields = {k: _readonly(v) for k, v in fields.items()}
        self._context = {k: _readonly(v) for k, v in context.items()}
        self.assets = assets
        self._asset_index = {a: i for i, a in enumerate(assets)}
        self.t = -1

    def history(self, name: str, n: int, asset: AssetId | None = None) -> npt.NDArray[np.float64]:
        """Return the last `n` values of `name` up to and including the current bar.

        Args:
            name: A per-asset field (``close``, a signal, ...) or a context series.
            n: Window length, >= 1; fewer rows come back near the start of the data.
            asset: One asset's column (1-D result); None for all assets (2-D, bars x assets).

        Raises:
            LookAheadError: Called before the first bar.
            KeyError: Unknown field or asset (the message lists the known ones).
        """
        t = self.t
        if t < 0:
            raise LookAheadError("history() is only available from the first bar on")
        if n < 1:
            raise ValueError(f"invalid `n`: must be >= 1, was {n!r}")
        lo = t - n + 1 if t - n + 1 > 0 else 0
        array = self._fields.get(name)
        if array is None:
            series = self._context.get(name)
            if series is None:
                known = ", ".join(sorted([*self._fields, *self._context]))
                raise KeyError(f"no field {name!r} in this feed (known: {known})")
            return series[lo : t + 1]
        if asset is None:
            return array[lo : t + 1]
        j = self._asset_index.get(asset)
        if j is None:
            raise UnknownAssetError(f"asset {asset!r} is not in this feed; check the ticker")
        return array[lo : t + 1, j]


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # A view of `array` that cannot be written through (what strategies are handed).
    view = array.view()
    view.flags.writeable = False
    return view


class Strategy:
    """Base class of every strategy; override the callbacks you need.

    Example:
        >>> class BuyAndHold(Strategy):
        ...     def on_bar(self, bar):
        ...         if self.get_position("AAPL") == 0:
        ...             self.order_target_percent("AAPL", 0.95)
        >>> BuyAndHold().uses_on_bar
        True
    """

    # Engine-bound state (set by `bind`); plain attributes so a strategy pickles.
    _api: TradingInterface | None = None
    _window: DataWindow | None = None
    _config: BacktestConfig | None = None

    # ------------------------------------------------------------------------- lifecycle

    def on_start(self, ctx: StrategyContext) -> None:
        """Prepare state before the first bar (default: nothing)."""
        return None

    def on_bar(self, bar: Bar) -> None:
        """React to one timestamp of the whole universe (default: nothing)."""
        return None

    def on_market_data(self, event: MarketEvent) -> None:
        """React to one asset's bar (default: nothing)."""
        return None

    def on_fill(self, fill: FillEvent) -> None:
        """React to an execution (default: nothing)."""
        return None

    def on_order(self, event: OrderEvent) -> None:
        """React to an order status change, e.g. a rejection and its reason (default: nothing)."""
        return None

    def on_end(self, ctx: StrategyContext) -> None:
        """Clean up after the last bar (default: nothing)."""
        return None

    @property
    def uses_on_bar(self) -> bool:
        """Return True when the subclass overrides `on_bar`."""
        return type(self).on_bar is not Strategy.on_bar

    @property
    def uses_on_market_data(self) -> bool:
        """Return True when the subclass overrides `on_market_data`."""
        return type(self).on_market_data is not Strategy.on_market_data

    @property
    def uses_on_fill(self) -> bool:
        """Return True when the subclass overrides `on_fill`."""
        return type(self).on_fill is not Strategy.on_fill

    @property
    def uses_on_order(self) -> bool:
        """Return True when the subclass overrides `on_order`."""
        return type(self).on_order is not Strategy.on_order

    def bind(
        self, api: TradingInterface, window: DataWindow | None, config: BacktestConfig
    ) -> None:
        """Attach the execution venue and data window (called by the engine or a live runner)."""
        self._api = api
        self._window = window
        self._config = config

    def unbind(self) -> None:
        """Detach from the venue so the strategy object can be pickled or reused."""
        self._api = None
        self._window = None
        self._config = None

    # ------------------------------------------------------------------------------ state

    @property
    def api(self) -> TradingInterface:
        """The venue the helpers talk to; raises outside a run."""
        api = self._api
        if api is None:
            raise ConfigError(
                "strategy helpers are only available during a run; "
                "call them from on_start/on_bar/on_market_data/on_fill/on_order"
            )
        return api

    @property
    def portfolio(self) -> PortfolioView:
        """Account summary: ``cash``, ``equity``, ``positions``, ``buying_power``."""
        return self.api.portfolio

    @property
    def now(self) -> Timestamp:
        """The current instant (ns UTC)."""
        return self.api.timestamp

    def history(self, name: str, n: int, asset: AssetId | None = None) -> npt.NDArray[np.float64]:
        """Return a read-only window of the last `n` values of `name`, ending at this bar.

        Args:
            name: A per-asset field (``close``, a signal column) or a context series.
            n: Window length; fewer rows come back near the start of the data.
            asset: One asset (1-D result) or None for all assets (bars x assets).
        """
        window = self._window
        if window is None:
            raise ConfigError("history() is only available during a backtest run")
        return window.history(name, n, asset)

    def get_position(self, asset: AssetId) -> float:
        """Return the signed quantity held of `asset` (0.0 when flat)."""
        api = self._api  # `self.api` without the property call (this runs once per event)
        return (api if api is not None else self.api).position(asset)

    def open_orders(self, asset: AssetId | None = None) -> list[Any]:
        """Return the working orders, optionally of one asset."""
        return self.api.open_orders(asset)

    # ----------------------------------------------------------------------------- orders

    def order(
        self,
        asset: AssetId,
        quantity: float,
        *,
        order_type: OrderType = OrderType.MARKET,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Any:
        """Submit an order for a signed `quantity` (> 0 buys, < 0 sells).

        A limit or stop price alone picks the order type (LIMIT, STOP, or STOP_LIMIT when both
        are given). Returns the order, or None when `quantity` is zero.
        """
        if not math.isfinite(quantity):
            raise ValueError(f"invalid `quantity` for {asset!r}: must be finite, was {quantity}")
        if quantity == 0.0:
            return None
        if order_type is OrderType.MARKET:
            if limit_price is not None and stop_price is not None:
                order_type = OrderType.STOP_LIMIT
            elif limit_price is not None:
                order_type = OrderType.LIMIT
            elif stop_price is not None:
                order_type = OrderType.STOP
            elif trail is not None:
                order_type = OrderType.TRAILING_STOP
        return self.api.submit(
            asset,
            quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            trail=trail,
            time_in_force=time_in_force,
            tag=tag,
        )

    def buy(self, asset: AssetId, quantity: float, **kwargs: Any) -> Any:
        """Buy `quantity` (> 0) units of `asset`; keyword options as in `order`."""
        if quantity < 0:
            raise ValueError(f"invalid `quantity` for buy({asset!r}): must be > 0, was {quantity}")
        return self.order(asset, quantity, **kwargs)

    def sell(self, asset: AssetId, quantity: float, **kwargs: Any) -> Any:
        """Sell `quantity` (> 0) units of `asset`; keyword options as in `order`."""
        if quantity < 0:
            raise ValueError(f"invalid `quantity` for sell({asset!r}): must be > 0, was {quantity}")
        return self.order(asset, -quantity, **kwargs)

    def cancel(self, order: Any) -> None:
        """Cancel a working order, given the order or its id."""
        order_id = order if isinstance(order, int) else _order_id(order)
        self.api.cancel(order_id)

    def cancel_all(self, asset: AssetId | None = None) -> None:
        """Cancel every working order (of one asset when given)."""
        for o in self.api.open_orders(asset):
            self.api.cancel(_order_id(o))

    def close_position(self, asset: AssetId, *, tag: str = "") -> Any:
        """Submit a market order that flattens `asset`; None when already flat."""
        api = self.api
        quantity = api.position(asset) + api.pending_quantity(asset)
        return self.order(asset, -quantity, tag=tag) if quantity != 0.0 else None

    def order_target_quantity(self, asset: AssetId, target: float, *, tag: str = "") -> Any:
        """Trade toward holding `target` units (signed) of `asset`, counting working orders."""
        api = self.api
        step = api.quantity_step(asset)
        target = round_quantity(target, step)
        delta = target - api.position(asset) - api.pending_quantity(asset)
        if abs(delta) <= _EPS * max(1.0, abs(target)):
            return None
        return self.order(asset, delta, tag=tag)

    def order_target_value(self, asset: AssetId, value: float, *, tag: str = "") -> Any:
        """Trade toward a position worth `value` (signed, account currency) at the last price."""
        api = self.api
        price = api.price(asset)
        if not math.isfinite(price) or price <= 0.0:
            return None
        target = value / (price * api.multiplier(asset))
        return self.order_target_quantity(asset, target, tag=tag)

    def order_target_percent(self, asset: AssetId, percent: float, *, tag: str = "") -> Any:
        """Trade toward a position worth `percent` of equity (0.1 = 10%; negative = short)."""
        return self.order_target_value(asset, percent * self.api.portfolio.equity, tag=tag)

    def buy_percent(self, asset: AssetId, percent: float, *, tag: str = "") -> Any:
        """Buy `percent` of equity's worth of `asset` on top of what is held."""
        api = self.api
        price = api.price(asset)
        if not math.isfinite(price) or price <= 0.0:
            return None
        quantity = percent * api.portfolio.equity / (price * api.multiplier(asset))
        quantity = round_quantity(quantity, api.quantity_step(asset))
        return self.order(asset, quantity, tag=tag) if quantity > 0 else None

    def order_percent_at_fill(self, asset: AssetId, percent: float, *, tag: str = "") -> Any:
        """Trade `percent` of the buying power available when the order fills (signed).

        A market order whose quantity the broker sets at the fill, not now: the most whole
        lots that ``|percent|`` of the buying power at that moment pays for at the fill
        price, slippage and commission included (``0.5`` = half of it; negative sells
        short). Fills earlier in the same bar count: with exits first (the default), a
        position closed at the same open frees its value before this order is sized, so
        ``close_position(a); order_percent_at_fill(a, -1.0)`` reverses all in. This is
        backtesting.py's ``buy()`` / ``sell()`` with a relative size; use it when the
        price the quantity depends on is the fill price itself (no look-ahead: the
        strategy never sees that price). When not even one lot is affordable at the fill
        the order is canceled with the reason.

        Args:
            asset: Asset id.
            percent: Signed fraction in [-1, 0) or (0, 1].
            tag: Carried into the order's fills and events.

        Returns:
            The order (its `quantity` is an estimate at the last close until it fills).
        """
        if not (math.isfinite(percent) and 0.0 < abs(percent) <= 1.0):
            raise ValueError(
                f"invalid `percent` for order_percent_at_fill({asset!r}): must be a signed "
                f"fraction with 0 < |percent| <= 1, was {percent!r}"
            )
        return self.api.submit_sized_at_fill(asset, percent, tag=tag)

    def rebalance(
        self,
        weights: Mapping[AssetId, float] | Sequence[float] | npt.NDArray[np.float64],
        *,
        min_trade_value: float | None = None,
        close_others: bool = True,
        tag: str = "rebalance",
    ) -> Sequence[Any]:
        """Trade every asset toward a target weight of equity; sells go first.

        Args:
            weights: Mapping asset -> weight, or an array aligned to the feed's assets (NaN
                means "leave alone"). Weights are fractions of equity, signed.
            min_trade_value: Skip trades worth less than this (default: the config's
                ``sizing.min_trade_value``).
            close_others: Flatten held assets that `weights` (a mapping) does not name.
            tag: Tag put on every order.

        Returns:
            The orders submitted, sells first (a sequence; in a backtest, a block whose
            `Order` objects are built when first read, see `OrderBlock`). Within sells and
            within buys the order follows the config's `rebalance_order`: the feed's asset
            order (``"asset"``, default) or the order value ``delta * price * multiplier``
            ascending (``"value"``: the largest sell first, the smallest buy first; ties
            keep the asset order), which decides which buy a cash shortfall hits.
        """
        api = self.api
        assets = api.assets
        n = len(assets)
        if isinstance(weights, Mapping):
            target_w = np.full(n, 0.0 if close_others else np.nan)
            index = {a: i for i, a in enumerate(assets)}
            for asset, w in weights.items():
                j = index.get(asset)
                if j is None:
                    raise UnknownAssetError(f"rebalance: asset {asset!r} is not in the feed")
                target_w[j] = w
        else:
            target_w = np.asarray(weights, dtype=np.float64)
            if target_w.shape != (n,):
                raise ValueError(
                    f"rebalance: weights must have one value per asset ({n}), "
                    f"had shape {target_w.shape}"
                )
        if min_trade_value is None:
            cfg = self._config
            min_trade_value = cfg.sizing.min_trade_value if cfg is not None else 0.0
        equity = api.portfolio.equity  # (marks the book to the current bar first)
        prices = api.prices()
        mult = api.multipliers()
        columns, quantities, n_sells = rebalance_trades(
            target_w,
            equity,
            prices,
            mult,
            api.quantity_steps(),
            api.quantities() + api.pending_quantities(),
            min_trade_value,
        )
        cfg = self._config
        if cfg is not None and cfg.rebalance_order == "value" and columns.size:
            # the order value ``delta * price * multiplier`` (unpriced exits first), sorted
            # stably within the sells and within the buys
            p = prices[columns]
            with np.errstate(invalid="ignore", over="ignore"):
                value = np.where(
                    np.isfinite(p) & (p > 0.0), quantities * p * mult[columns], -np.inf
                )
            rank = np.concatenate(
                [
                    np.argsort(value[:n_sells], kind="stable"),
                    n_sells + np.argsort(value[n_sells:], kind="stable"),
                ]
            )
            columns = columns[rank]
            quantities = quantities[rank]
        if not columns.size:
            return []
        batch = getattr(api, "submit_many", None)  # the engine's (a live venue may lack it)
        if batch is not None and np.isfinite(quantities).all():
            submitted: Sequence[Any] = batch(columns, quantities, tag=tag)
            return submitted
        orders = []
        for j, q in zip(columns.tolist(), quantities.tolist(), strict=True):
            order = self.order(assets[j], q, tag=tag)
            if order is not None:
                orders.append(order)
        return orders

    def bracket(
        self,
        asset: AssetId,
        quantity: float,
        *,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        limit_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Any:
        """Enter `quantity` (signed) with a protective stop and a profit target.

        The entry is a market order (a limit order when `limit_price` is given). When it
        fills, a stop at `stop_loss` and a limit at `take_profit` (absolute prices) are placed
        for the filled quantity; when either fills the other is cancelled.
        """
        if stop_loss is None and take_profit is None:
            raise ValueError("bracket: give `stop_loss`, `take_profit` or both")
        return self.api.bracket(
            asset,
            quantity,
            stop_loss=stop_loss,
            take_profit=take_profit,
            limit_price=limit_price,
            time_in_force=time_in_force,
            tag=tag,
        )


def _order_id(order: Any) -> int:
    # Orders from the execution package expose `order_id` (or `id`).
    for name in ("order_id", "id"):
        value = getattr(order, name, None)
        if isinstance(value, int):
            return value
    raise TypeError(f"cannot find the id of order {order!r}")
