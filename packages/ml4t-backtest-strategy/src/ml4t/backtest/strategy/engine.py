"""`BacktestEngine`: one event loop for every strategy, over (timestamps x assets) arrays.

Phase order at each timestamp ``t`` (documented in docs/engine.md and tested)::

    1. corporate actions effective at t        portfolio, broker, risk state
    2. broker.process_bar(t)                   working orders fill against bar t
    3. portfolio.mark(close row of t)          equity, exposures
    4. risk rules                              exits / flatten / halt, tagged orders
    5. strategy                                on_order/on_fill (events since the last
                                               strategy phase), then on_bar or
                                               on_market_data (one per asset with a bar)
    6. broker.process_close(t)                 same-bar-close market orders, MOC, DAY expiry
    7. record                                  equity, cash, exposures, positions -> buffers

Only NumPy arrays, ints and floats live in the loop: no polars, pydantic or datetime per bar.
`MarketEvent` objects are built only for strategies that override ``on_market_data``; `Bar`
objects (a few slots, zero-copy row views) only for strategies that override ``on_bar``.
Frames are built once, at the end.

Plain runs (no corporate actions, one currency, no futures, no impact model, no phase trace)
use the lazy loop: a bar whose order book is empty is only the strategy call; the broker and
the portfolio catch up to the current bar when something reads or changes them, and the
per-bar records are rebuilt at the end from the bars that filled. The results are the ones
the per-bar loop gives (``tests/test_lazy_parity.py`` compares the two on random runs).

A run is a pure function of (feed, strategy, config): the broker, portfolio and all state are
created by `run`, nothing is kept in module globals.
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.arrays import all_distinct
from ml4t.backtest.core.enums import (
    AssetClass,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ml4t.backtest.core.errors import ConfigError, StrategyError, UnknownAssetError
from ml4t.backtest.core.events import CorporateActionEvent, FillEvent, MarketEvent, OrderEvent
from ml4t.backtest.core.types import AssetId, Timestamp, format_timestamp
from ml4t.backtest.strategy import _venue
from ml4t.backtest.strategy.bar import Bar
from ml4t.backtest.strategy.config import AccountPolicy, BacktestConfig, CompiledMode
from ml4t.backtest.strategy.interface import PortfolioView
from ml4t.backtest.strategy.result import (
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    POSITIONS_SCHEMA,
    TRADES_SCHEMA,
    BacktestResult,
    equity_curve_frame,
)
from ml4t.backtest.strategy.risk import RiskManager, atr
from ml4t.backtest.strategy.strategy import DataWindow, Strategy, StrategyContext, _readonly

__all__ = ["PHASES", "BacktestEngine", "run_backtest"]

PHASES = (
    "corporate_actions",
    "process_bar",
    "mark",
    "risk",
    "strategy",
    "process_close",
    "record",
)
"""The engine's phases at each timestamp, in order."""

LAZY_STATE = True
_THREAD_MIN = 100_000  # asset-bars from which the feed is fingerprinted beside the loop
"""Let plain runs skip idle bars and rebuild per-bar records at the end (same results).

Tests set it to False to compare the two loops; users have no reason to touch it."""

END_TAG = "end_of_backtest"  # tag (exit reason) of the orders closing positions at the end
_TS_DTYPE = pl.Datetime("ns", "UTC")


class BacktestEngine:
    """Run a `Strategy` over a `DataFeed` under a `BacktestConfig`.

    Args:
        data_feed: The validated market data (``ml4t.backtest.core.DataFeed``).
        strategy: The strategy instance.
        config: Run settings; defaults to ``BacktestConfig()``.
        corporate_actions: Events (splits, dividends, ...) applied in phase 1 of their bar.
        trace_phases: Record the (bar, phase) sequence in `phase_log` (for tests and docs).
        progress: Called as ``progress(done, total)`` about 200 times during the run and once
            at the end (e.g. to drive a progress bar); None for no reports.

    Attributes:
        partial_result: After a failed run, the results up to the failing bar.
        phase_log: When `trace_phases` is True, the (bar, phase) sequence of the last run.

    Example:
        >>> import numpy as np
        >>> from ml4t.backtest.core.data import DataFeed
        >>> close = np.array([[10.0], [11.0], [12.0]])
        >>> feed = DataFeed(np.array([1, 2, 3]) * 86_400 * 10**9, ["X"],
        ...                 {"open": close, "high": close, "low": close, "close": close,
        ...                  "volume": close * 0 + 1e6})
        >>> class Buy(Strategy):
        ...     def on_bar(self, bar):
        ...         if self.get_position("X") == 0:
        ...             self.buy("X", 10)
        >>> cfg = BacktestConfig(commission={"kind": "none"}, slippage={"kind": "none"},
        ...                      initial_cash=1000.0)
        >>> result = BacktestEngine(data_feed=feed, strategy=Buy(), config=cfg).run()
        >>> result.equity_curve["equity"].to_list()  # bought 10 at the open of bar 2 (11.0)
        [1000.0, 1000.0, 1010.0]
    """

    def __init__(
        self,
        data_feed: Any,
        strategy: Strategy,
        config: BacktestConfig | None = None,
        *,
        corporate_actions: Iterable[CorporateActionEvent] = (),
        trace_phases: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise ConfigError(
                f"`strategy` must be an instance of Strategy, was {type(strategy).__name__}"
            )
        self.feed = data_feed
        self.strategy = strategy
        self.config = config if config is not None else BacktestConfig()
        self.corporate_actions = tuple(sorted(corporate_actions, key=lambda e: e.timestamp))
        self.trace_phases = trace_phases
        self.progress = progress
        self.partial_result: BacktestResult | None = None
        self.phase_log: list[tuple[int, str]] = []

    def run(self) -> BacktestResult:
        """Run the backtest and return its `BacktestResult`.

        Raises:
            StrategyError: A strategy callback raised; names the bar, asset, callback and
                traceback. ``err.result`` (and ``engine.partial_result``) hold the results
                up to the failing bar.
        """
        self.partial_result = None
        run = _Run(self.feed, self.strategy, self.config, self.corporate_actions)
        run.trace = self.phase_log if self.trace_phases else None
        run.progress = self.progress
        if self.trace_phases:
            self.phase_log.clear()
        try:
            with _fewer_collections():
                return run.execute()
        except StrategyError as err:
            self.partial_result = getattr(err, "result", None)
            raise
        finally:
            run.release()


_GC_GEN0 = 100_000  # allocations between young-generation collections during a run


@contextmanager
def _fewer_collections() -> Iterator[None]:
    # A run keeps hundreds of thousands of objects alive (orders, fills, trades), so each of
    # CPython's full collections (one per ~7,000 young ones at the default thresholds) walks
    # them all again and a long run spends a quarter of its time there. A higher first
    # threshold (restored afterwards) makes collections 140x rarer; cycles are still found.
    old = gc.get_threshold()
    if old[0] and old[0] < _GC_GEN0:
        gc.set_threshold(_GC_GEN0, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run_backtest(
    data_feed: Any, strategy: Strategy, config: BacktestConfig | None = None, **kwargs: Any
) -> BacktestResult:
    """Shortcut for ``BacktestEngine(data_feed, strategy, config, **kwargs).run()``."""
    return BacktestEngine(data_feed, strategy, config, **kwargs).run()


class _PortfolioSummary(PortfolioView):
    # The read-only account summary behind `Strategy.portfolio`.
    __slots__ = ("_run",)

    def __init__(self, run: _Run) -> None:
        self._run = run

    @property
    def cash(self) -> float:
        return float(self._run.pf.cash)

    @property
    def equity(self) -> float:
        return float(self._run.pf.equity)

    @property
    def market_value(self) -> float:
        return float(self._run.pf.market_value)

    @property
    def positions(self) -> dict[AssetId, float]:
        run = self._run
        qty = run.qty
        assets = run.assets
        return {assets[j]: float(qty[j]) for j in np.flatnonzero(qty).tolist()}

    @property
    def buying_power(self) -> float:
        return float(self._run.pf.buying_power())

    @property
    def gross_exposure(self) -> float:
        """Sum of absolute position values."""
        return float(self._run.pf.gross_exposure)

    @property
    def net_exposure(self) -> float:
        """Sum of signed position values."""
        return float(self._run.pf.net_exposure)

    def __repr__(self) -> str:
        return f"Portfolio(cash={self.cash:.2f}, equity={self.equity:.2f})"


class _Run:
    # All state of one run; implements `TradingInterface` for the strategy's helpers.

    def __init__(
        self,
        feed: Any,
        strategy: Strategy,
        config: BacktestConfig,
        corporate_actions: Sequence[CorporateActionEvent],
    ) -> None:
        self.feed = feed
        self.strategy = strategy
        self.config = config
        if config.compiled is CompiledMode.ON:
            _venue.load_compiled()  # numba and the compiled twins, before the portfolio
        self.trace: list[tuple[int, str]] | None = None
        self.progress: Callable[[int, int], None] | None = None
        self.assets: tuple[AssetId, ...] = tuple(feed.assets)
        self.asset_index: dict[AssetId, int] = dict(feed.asset_index)
        self.ts: npt.NDArray[np.int64] = np.asarray(feed.timestamps, dtype=np.int64)
        fields = feed.fields
        if config.price_column not in fields:
            raise ConfigError(
                f"`price_column` {config.price_column!r} is not a field of the feed "
                f"(fields: {', '.join(sorted(fields))})"
            )
        self.fields: dict[str, npt.NDArray[np.float64]] = fields
        self.open = feed.open
        self.high = feed.high
        self.low = feed.low
        self.close = feed.close
        self.volume = feed.volume
        self.has_bar = feed.has_bar
        self.signals: dict[str, npt.NDArray[np.float64]] = feed.signals
        self.context: dict[str, npt.NDArray[np.float64]] = feed.context
        self.price_field = fields[config.price_column]
        # quoted bid/ask columns: market orders buy at the ask and sell at the bid
        self.quotes = "bid" in fields and "ask" in fields
        n_t, n_a = self.close.shape
        self.n_t = n_t
        self.n_a = n_a
        registry = feed.registry
        self.registry = registry
        assets_info = [registry[a] for a in self.assets]
        self.mults = np.array([a.multiplier for a in assets_info], dtype=np.float64)
        self.steps = np.array([config.rounding_step(a.lot_size) for a in assets_info])
        self.ro_multipliers = _readonly(self.mults)
        currencies = {a.currency or config.base_currency for a in assets_info}
        self.simple_books = (
            not corporate_actions
            and currencies <= {config.base_currency}
            and all(a.asset_class != AssetClass.FUTURE for a in assets_info)
        )
        self.ro_steps = _readonly(self.steps)
        self.t = -1
        self.ts_list: list[int] = self.ts.tolist()
        self.start_ts: Timestamp = self.ts_list[0] if n_t else 0
        self.last_price = np.full(n_a, np.nan)
        self.qty = np.zeros(n_a)
        self.pending = np.zeros(n_a)
        self.pending_dirty = False
        self.open_market: dict[int, Any] = {}
        self.open_blocks: list[_venue.OrderBlock] = []  # `submit_block`'s blocks not yet filled
        self.orders: list[tuple[Any, Timestamp]] = []  # (order or OrderBlock, submitted at)
        self.local_rejects = 0  # orders refused by risk checks get ids -1, -2, ...
        # a margin account without shorting: the portfolio's policy would allow them
        self.no_shorts = (
            config.account.policy is AccountPolicy.MARGIN and not config.account.allow_short
        )
        # fills in execution order: FillEvents, and a broker block's fills as its columns
        self.fills: list[FillEvent | _venue.FillBlock] = []
        self.events: list[FillEvent | OrderEvent] = []
        self.corporate_actions = list(corporate_actions)
        self.ca_pos = 0
        self.keep_events = strategy.uses_on_fill or strategy.uses_on_order
        self._pf = _venue.make_portfolio(config, feed)
        # order events are built only for a strategy that listens to them (on_order); fills
        # reach on_fill as the FillEvents the broker returns anyway
        self._broker = _venue.make_broker(
            config, feed, self._pf, record_events=strategy.uses_on_order
        )
        self.seen_changes = 0  # the broker's change count at the last drain
        exit_signal = None
        if config.risk.exit_signal is not None:
            if config.risk.exit_signal not in fields:
                raise ConfigError(
                    f"risk.exit_signal {config.risk.exit_signal!r} is not a field of the feed"
                )
            exit_signal = fields[config.risk.exit_signal]
        atr_values = (
            atr(self.high, self.low, self.close, config.risk.atr_window)
            if config.risk.atr_stop is not None
            else None
        )
        self.risk = RiskManager(config.risk, n_a, atr_values=atr_values, exit_signal=exit_signal)
        self.summary = _PortfolioSummary(self)
        self.callback: str | None = None  # the strategy callback running (error reports)
        self.cb_asset: AssetId | None = None
        # Lazy state (see `_loop_lazy`): the broker and the portfolio are brought up to the
        # current bar only when something reads or changes them; the per-bar records are
        # rebuilt from the position/cash changes at the end.
        self.lazy = LAZY_STATE and self.simple_books and _venue.supports_lazy(self._broker)
        if self.lazy:
            for name in ("close", config.price_column):
                if np.isinf(fields[name]).any():
                    self.lazy = False  # +-inf prices: keep the exact per-bar semantics
        self.busy = True  # the broker may hold working orders (False: its book is empty)
        self.pf_t = -1  # last bar marked into the portfolio
        self.lp_t = -1  # last bar whose prices are in `last_price`
        self.bk_t = -1  # last bar the broker has processed (process_bar)
        # Positions and cash after the fills of each bar that had fills (lazy mode): row t
        # of `snap_qty` / element t of `snap_cash` hold bar t's end state when `snapped[t]`
        # (a later snapshot of the same bar overwrites it). `np.zeros` memory is committed
        # only where written, so bars without fills cost nothing.
        self.snapped = np.zeros(n_t if self.lazy else 0, dtype=np.bool_)
        self.snap_cash = np.zeros(self.snapped.shape[0])
        self.snap_qty = np.zeros((self.snapped.shape[0], n_a))
        self.seeds: list[tuple[int, int, float]] = []  # (bar, column, fill price) of 1st prices
        self.cash0 = float(self._pf.cash)
        self._ff: dict[str, npt.NDArray[np.float64]] = {}
        self.loop_done = False
        self.portfolio_rules = config.risk.has_portfolio_rules  # checked on every order
        # result buffers: filled per bar by `_record`, or rebuilt at the end in lazy mode
        self.buf_equity = self.buf_cash = self.buf_mv = np.zeros(0)
        self.buf_long = self.buf_short = np.zeros(0)
        self.buf_qty = self.buf_value = np.zeros((0, n_a))
        self.recorded = 0
        self.fingerprint_of: Callable[[], dict[str, Any]] = partial(_venue.fingerprint, feed)

    def release(self) -> None:
        # Drop the run's state once its result is built (the result holds copies): the run
        # is in reference cycles (its portfolio summary and strategy point back at it), so
        # without this its orders, fills and books would wait for a cyclic collection.
        for name in ("_pf", "_broker", "summary"):
            self.__dict__.pop(name, None)
        self.orders = []
        self.fills = []
        self.events = []
        self.open_market = {}
        self.open_blocks = []
        self.snapped = np.zeros(0, dtype=np.bool_)
        self.snap_cash = np.zeros(0)
        self.snap_qty = np.zeros((0, self.n_a))
        self._ff = {}
        self.buf_qty = self.buf_value = np.zeros((0, self.n_a))

    def _allocate_buffers(self) -> None:
        n_t, n_a = self.n_t, self.n_a
        self.buf_equity = np.full(n_t, np.nan)
        self.buf_cash = np.full(n_t, np.nan)
        self.buf_mv = np.full(n_t, np.nan)
        self.buf_long = np.full(n_t, np.nan)
        self.buf_short = np.full(n_t, np.nan)
        self.buf_qty = np.zeros((n_t, n_a))
        self.buf_value = np.zeros((n_t, n_a))

    # ----------------------------------------------------------------------- lazy state

    @property
    def pf(self) -> Any:
        """The run's portfolio, marked up to the current bar."""
        self._sync()
        return self._pf

    @property
    def now(self) -> Timestamp:
        t = self.t
        return self.ts_list[t] if t >= 0 else self.start_ts

    def _ffill(self, name: str) -> npt.NDArray[np.float64]:
        # Last non-NaN value of a field at or before each bar (NaN before the first).
        out = self._ff.get(name)
        if out is None:
            out = self._ff[name] = _ffill(self.fields[name])
        return out

    def _sync(self) -> None:
        # Bring the portfolio (mark) and the broker (bar state) up to the current bar.
        if self.lazy:
            t = self.t
            if self.pf_t < t:
                self._sync_pf(t)
            if self.bk_t < t:
                self._sync_broker(t)

    def _sync_prices(self, t: int) -> None:
        # `last_price` as the per-bar marks up to bar t would have left it.
        if self.lp_t < t:
            row = self._ffill(self.config.price_column)[t]
            if self.n_a == 1:  # one asset: the element itself (three numpy calls fewer)
                p = row.item(0)
                if p == p:  # noqa: PLR0124 - not NaN
                    self.last_price[0] = p
            else:
                np.copyto(self.last_price, row, where=~np.isnan(row))
            self.lp_t = t

    def _sync_pf(self, t: int) -> None:
        # One `mark` standing for the skipped bars pf_t+1..t: the last prices, the highs and
        # lows folded with fmax/fmin (exact: max and min do not round), then the bar count.
        s = self.pf_t
        if s >= t:
            return
        self._sync_prices(t)
        pf = self._pf
        if s == t - 1 or not pf.tracker.open_lot_count:
            high, low = self.high[t], self.low[t]
        else:
            high = np.fmax.reduce(self.high[s + 1 : t + 1], axis=0)
            low = np.fmin.reduce(self.low[s + 1 : t + 1], axis=0)
        pf.mark(self.ts_list[t], self.last_price, high, low)
        _venue.advance_bars(pf.tracker, t - s - 1)
        self.pf_t = t

    def _sync_broker(self, t: int) -> None:
        # The broker's book is empty: one `process_bar` with the last known closes leaves it
        # as the skipped per-bar calls would have (it only remembers the closes then).
        if self.bk_t >= t:
            return
        if self.quotes:
            fills = self._broker.process_bar(
                t,
                self.ts_list[t],
                self.open[t],
                self.high[t],
                self.low[t],
                self._ffill("close")[t],
                self.volume[t],
                bid=self.fields["bid"][t],
                ask=self.fields["ask"][t],
            )
        else:
            fills = self._broker.process_bar(
                t,
                self.ts_list[t],
                self.open[t],
                self.high[t],
                self.low[t],
                self._ffill("close")[t],
                self.volume[t],
            )
        if fills:  # pragma: no cover - an empty book cannot fill
            raise RuntimeError("internal error: an idle broker filled orders")
        self.bk_t = t

    def _snapshot(self, t: int) -> None:
        # Positions and cash after bar t (lazy mode records only the bars that change them).
        self.snapped[t] = True
        self.snap_cash[t] = self._pf.cash
        self.snap_qty[t] = self.qty

    # ------------------------------------------------------------------ TradingInterface

    @property
    def timestamp(self) -> Timestamp:
        return self.now

    @property
    def portfolio(self) -> PortfolioView:
        return self.summary

    def submit(
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
        check_risk: bool = True,
    ) -> Any:
        j = self._column(asset)
        self._sync()
        order = _venue.build_order(
            asset,
            quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            trail=trail,
            time_in_force=time_in_force,
            tag=tag,
        )
        if self.no_shorts and self.qty[j] + self._pending()[j] + quantity < 0.0:
            self._reject_locally(
                order,
                f"short sale not allowed for {asset!r}: account.allow_short is False; "
                "set it to True (margin account) or sell only what is held",
            )
            return order
        if check_risk and self._rejected_by_portfolio_rules(order, j, quantity):
            return order
        return self._submit_order(order, j)

    def submit_sized_at_fill(self, asset: AssetId, fraction: float, *, tag: str = "") -> Any:
        j = self._column(asset)
        self._sync()
        order = _venue.build_sized_order(asset, fraction, tag)
        if self.no_shorts and fraction < 0.0:
            self._reject_locally(
                order,
                f"a sell sized at fill opens a short in {asset!r}: account.allow_short is "
                "False; set it to True (margin account) or sell a quantity",
            )
            return order
        if self.portfolio_rules:  # the rules see the quantity the last close would give
            price = float(self.last_price[j])
            estimate = 0.0
            if price > 0.0:
                estimate = fraction * float(self._pf.buying_power()) / (price * self.mults[j])
            if self._rejected_by_portfolio_rules(order, j, estimate):
                return order
        return self._submit_order(order, j)

    def _rejected_by_portfolio_rules(self, order: Any, j: int, quantity: float) -> bool:
        # Ask the portfolio-level risk rules about a new order; a refusal is booked locally.
        if not self.portfolio_rules:
            return False
        reason = self.risk.check_order(
            j,
            quantity,
            timestamp=self.now,
            quantity=self.qty,
            pending=self._pending(),
            prices=self.last_price,
            multipliers=self.mults,
            equity=float(self._pf.equity),
        )
        if reason:
            self._reject_locally(order, reason)
        return bool(reason)

    def _reject_locally(self, order: Any, reason: str) -> None:
        # An order the engine refuses before the broker sees it: negative id, kept in `orders`.
        self.local_rejects += 1
        _venue.reject_local(order, reason, self.now, -self.local_rejects)
        self.orders.append((order, self.now))
        if self.keep_events:
            self.events.append(order.to_event(self.now))

    def submit_many(
        self, columns: npt.NDArray[np.intp], quantities: npt.NDArray[np.float64], *, tag: str = ""
    ) -> Sequence[Any]:
        """Submit one market order per (asset column, signed quantity), in the given order.

        The same orders, ids, events and fills as that many `submit` calls; used by
        ``Strategy.rebalance``. Quantities must be finite and non-zero. When the broker
        can hold them as one block of columns (`SimulationBroker.submit_block`: an empty
        book, distinct assets) it does, and the block is returned: a sequence whose orders
        are built when first read.
        """
        if self.no_shorts or self.portfolio_rules:  # checks that see each order in turn
            assets = self.assets
            return [
                self.submit(assets[j], q, tag=tag)
                for j, q in zip(columns.tolist(), quantities.tolist(), strict=True)
            ]
        self._sync()
        self.busy = True
        block = _venue.submit_block(self._broker, columns, quantities, tag)
        if block is not None:
            self.orders.append((block, self.now))
            self.open_blocks.append(block)
            self.pending_dirty = True  # recounted (with the block) when next read
            self._drain_order_events()
            return block
        orders = _venue.submit_many(self._broker, columns, quantities, tag)
        now = self.now
        self.orders.extend([(order, now) for order in orders])
        terminal = _TERMINAL
        self.open_market.update(
            {order.order_id: order for order in orders if order.status not in terminal}
        )
        self.pending_dirty = True  # recounted from `open_market` when next read
        self._drain_order_events()
        return orders

    def _submit_order(self, order: Any, j: int) -> Any:
        self._sync()
        self.busy = True
        self._broker.submit(order)
        self.orders.append((order, self.now))
        if order.order_type in _MARKET_TYPES and not order.status.is_terminal:
            self.open_market[order.order_id] = order
            self.pending[j] += order.signed_quantity
        self._drain_order_events()
        return order

    def cancel(self, order_id: int) -> None:
        self._sync()
        self._broker.cancel(order_id)
        self.pending_dirty = True
        self._drain_order_events()

    def open_orders(self, asset: AssetId | None = None) -> list[Any]:
        return list(self._broker.open_orders(asset))

    def position(self, asset: AssetId) -> float:
        # called once per event by typical on_market_data strategies: one dict lookup and
        # one `item` (a Python float), `_column` only to raise for an unknown asset
        j = self.asset_index.get(asset)
        value: float = self.qty.item(j if j is not None else self._column(asset))
        return value

    def pending_quantity(self, asset: AssetId) -> float:
        return float(self._pending()[self._column(asset)])

    def price(self, asset: AssetId) -> float:
        j = self._column(asset)
        if self.lazy:
            self._sync_prices(self.t)
        return float(self.last_price[j])

    def prices(self) -> npt.NDArray[np.float64]:
        if self.lazy:
            self._sync_prices(self.t)
        view = self.last_price.view()
        view.flags.writeable = False
        return view

    def multiplier(self, asset: AssetId) -> float:
        return float(self.mults[self._column(asset)])

    def quantity_step(self, asset: AssetId) -> float:
        return float(self.steps[self._column(asset)])

    def quantities(self) -> npt.NDArray[np.float64]:
        return _readonly(self.qty)

    def pending_quantities(self) -> npt.NDArray[np.float64]:
        return _readonly(self._pending())

    def multipliers(self) -> npt.NDArray[np.float64]:
        return self.ro_multipliers

    def quantity_steps(self) -> npt.NDArray[np.float64]:
        return self.ro_steps

    def bracket(
        self,
        asset: AssetId,
        quantity: float,
        *,
        stop_loss: float | None,
        take_profit: float | None,
        limit_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> Any:
        j = self._column(asset)
        self._sync()
        orders = _venue.build_bracket(
            asset,
            quantity,
            stop_loss=stop_loss,
            take_profit=take_profit,
            limit_price=limit_price,
            time_in_force=time_in_force,
            tag=tag,
        )
        entry = orders[0]
        if self._rejected_by_portfolio_rules(entry, j, quantity):
            return entry
        self._submit_order(entry, j)
        for child in orders[1:]:
            self.orders.append((child, self.now))
        return entry

    # --------------------------------------------------------------------------- helpers

    def _column(self, asset: AssetId) -> int:
        j = self.asset_index.get(asset)
        if j is None:
            raise UnknownAssetError(f"asset {asset!r} is not in the feed; check the ticker")
        return j

    def _pending(self) -> npt.NDArray[np.float64]:
        if self.pending_dirty:
            pending = self.pending
            pending[:] = 0.0
            live = {}
            for block in self.open_blocks:  # orders of a block turned into objects: tracked
                if block.is_materialized:  # from now on as any other (in submission order)
                    live.update({order.order_id: order for order in block.orders()})
            live.update(self.open_market)
            self.open_market = {}
            for oid, order in live.items():
                if not order.status.is_terminal:
                    self.open_market[oid] = order
                    pending[self.asset_index[order.asset]] += order.remaining * int(order.side)
            blocks = [block for block in self.open_blocks if block.is_pending]
            for block in blocks:
                rows = block.rows
                pending[rows] = pending[rows] + block.signed
            self.open_blocks = blocks
            self.pending_dirty = False
        return self.pending

    def _drain_order_events(self) -> None:
        # Any order status change since the last call: the pending quantities are recounted
        # when next read; the events go to the strategy when it listens.
        changes = self._broker.change_count
        if changes != self.seen_changes:
            self.seen_changes = changes
            self.pending_dirty = True
            if self.keep_events:
                self.events.extend(self._broker.drain_order_events())

    def _apply_fills(self, fills: Sequence[FillEvent]) -> None:
        t = self.t
        index = self.asset_index
        risk = self.risk if self.risk.active else None
        qty = self.qty
        last_price = self.last_price
        _venue.apply_fills(self._pf, fills)
        if risk is None and len(fills) > 8 and self._apply_fills_batch(fills):
            return
        for fill in fills:
            j = index[fill.asset]
            signed = fill.quantity * int(fill.side)
            if math.isnan(last_price[j]):  # as the portfolio does: first price known
                last_price[j] = fill.price
                if self.lazy:
                    self.seeds.append((t, j, fill.price))
            q = qty.item(j) + signed
            qty[j] = 0.0 if abs(q) < 1e-9 * max(1.0, abs(signed)) else q
            if risk is not None:
                risk.on_fill(j, signed, fill.price, t=t)
        self.fills.extend(fills)
        if self.keep_events:
            self.events.extend(fills)
        self.pending_dirty = True

    def _apply_fills_batch(self, fills: Sequence[FillEvent]) -> bool:
        # The engine's side of `_apply_fills` for many fills of distinct assets, as arrays
        # (the same float operations as the loop); False (nothing done) otherwise.
        if isinstance(fills, _venue.FillBlock):
            if not (fills.assets is self.assets or fills.assets == self.assets):
                return False
            cols = fills.rows  # (distinct assets by construction)
            signed = fills.signed
        else:
            index = self.asset_index
            cols = np.array([index[f.asset] for f in fills], dtype=np.intp)
            if not all_distinct(cols, self.n_a):
                return False
            signed = np.array([f.quantity * int(f.side) for f in fills])
        last_price = self.last_price
        unpriced = np.flatnonzero(np.isnan(last_price[cols]))
        for k in unpriced.tolist():  # as the portfolio does: first price known
            j = int(cols[k])
            price = float(fills.price[k]) if isinstance(fills, _venue.FillBlock) else fills[k].price
            last_price[j] = price
            if self.lazy:
                self.seeds.append((self.t, j, price))
        q = self.qty[cols] + signed
        q[np.abs(q) < 1e-9 * np.maximum(1.0, np.abs(signed))] = 0.0
        self.qty[cols] = q
        if isinstance(fills, _venue.FillBlock):
            self.fills.append(fills)  # kept as columns
        else:
            self.fills.extend(fills)
        if self.keep_events:
            self.events.extend(fills)
        self.pending_dirty = True
        return True

    def _apply_corporate_actions(self, ts: Timestamp) -> None:
        actions = self.corporate_actions
        while self.ca_pos < len(actions) and actions[self.ca_pos].timestamp <= ts:
            event = actions[self.ca_pos]
            self.ca_pos += 1
            j = self.asset_index.get(event.asset)
            if j is None:
                continue
            outcome = self._pf.apply_corporate_action(event)
            ratio = float(outcome.split_ratio)
            if ratio != 1.0:  # splits and stock dividends: orders, prices, risk state follow
                self._broker.adjust_for_split(event.asset, ratio)
                self.risk.on_split(j, ratio)
                self.last_price[j] /= ratio
            for asset in (event.asset, event.new_asset):
                k = self.asset_index.get(asset) if asset else None
                if k is not None:
                    self.qty[k] = float(self._pf.position(asset))
            self.pending_dirty = True

    def _risk_phase(self, t: int, ts: Timestamp) -> None:
        risk = self.risk
        if risk.config.has_portfolio_rules:
            self._sync()
            decision = risk.check_portfolio(ts, float(self._pf.equity))
            if decision.flatten_all:
                for j in np.flatnonzero(self.qty).tolist():
                    self._risk_exit(j, decision.reason)
                return
        if risk.active and self.qty.any():  # (flat: nothing to check, no state to update)
            decision = risk.check_positions(t, self.price_field[t], self.qty)
            for j, reason in decision.exits:
                self._risk_exit(j, reason)

    def _risk_exit(self, j: int, reason: str) -> None:
        self._sync()
        asset = self.assets[j]
        for order in list(self._broker.open_orders(asset)):
            self._broker.cancel(order.order_id)
        self.pending_dirty = True
        quantity = -float(self.qty[j])
        if quantity != 0.0:
            order = _venue.build_order(asset, quantity, tag=reason)
            self._submit_order(order, j)
        self._drain_order_events()

    def _deliver_events(self, strategy: Strategy, on_fill: bool, on_order: bool) -> None:
        events = self.events
        self.events = []
        for event in events:
            if isinstance(event, FillEvent):
                if on_fill:
                    strategy.on_fill(event)
            elif on_order:
                strategy.on_order(event)

    def _record(self, t: int) -> None:
        qty = self.qty
        if self.simple_books:
            # stocks in one currency, no dividends: the ledger value of a position is its
            # notional, so equity = cash + sum(qty * last * multiplier) exactly as the
            # portfolio computes it, without asking it for arrays.
            cash = self._pf.cash
            self.buf_cash[t] = cash
            if self.n_a == 1:
                q = qty[0]
                if q == 0.0:
                    self.buf_equity[t] = cash
                    self.buf_mv[t] = self.buf_long[t] = self.buf_short[t] = 0.0
                else:
                    v = q * self.last_price[0] * self.mults[0]
                    self.buf_equity[t] = cash + v
                    self.buf_qty[t, 0] = q
                    self.buf_value[t, 0] = v
                    self.buf_mv[t] = v
                    self.buf_long[t] = v if v > 0.0 else 0.0
                    self.buf_short[t] = v if v < 0.0 else 0.0
                self.recorded = t + 1
                return
            if not qty.any():
                self.buf_equity[t] = cash
                self.buf_mv[t] = self.buf_long[t] = self.buf_short[t] = 0.0
                self.recorded = t + 1
                return
            values = qty * self.last_price * self.mults
            values[qty == 0.0] = 0.0
            net = values.sum()
            self.buf_equity[t] = cash + net
            self.buf_qty[t] = qty
            self.buf_value[t] = values
            self.buf_mv[t] = net
            long = np.maximum(values, 0.0).sum()
            self.buf_long[t] = long
            self.buf_short[t] = net - long
            self.recorded = t + 1
            return
        equity, cash, notional, values = self._pf.valuation()
        self.buf_equity[t] = equity
        self.buf_cash[t] = cash
        self.buf_qty[t] = qty
        self.buf_value[t] = values
        self.buf_mv[t] = values.sum()
        net = notional.sum()
        long = np.maximum(notional, 0.0).sum()
        self.buf_long[t] = long
        self.buf_short[t] = net - long
        self.recorded = t + 1

    def _close_all_at_end(self) -> None:
        for order in list(self._broker.open_orders(None)):
            self._broker.cancel(order.order_id)
        with _venue.close_auction_now(self._broker):
            for j in np.flatnonzero(self.qty).tolist():
                order = _venue.build_close_order(self.assets[j], -float(self.qty[j]), END_TAG)
                self._submit_order(order, j)
        self._drain_order_events()

    # ------------------------------------------------------------------------------ loop

    def execute(self) -> BacktestResult:
        started = time.perf_counter()
        # the data's fingerprint (sha256 of every array) is hashed in a second thread while
        # the loop runs (hashing releases the GIL), for feeds big enough to matter
        self.fingerprint_of = _venue.in_thread(
            _venue.fingerprint, self.feed, threaded=self.n_t * self.n_a >= _THREAD_MIN
        )
        strategy = self.strategy
        config = self.config
        window = DataWindow(self.fields, self.context, self.assets)
        strategy.bind(self, window, config)
        ctx = StrategyContext(
            assets=self.assets,
            config=config,
            start=self.start_ts,
            end=self.ts_list[-1] if self.n_t else 0,
            n_bars=self.n_t,
            signals=tuple(self.signals),
            context=tuple(self.context),
            portfolio=self.summary,
        )
        lazy = self.lazy and self.trace is None
        self.lazy = lazy
        if not lazy:
            self._allocate_buffers()
        try:
            self.callback = "on_start"
            strategy.on_start(ctx)
            self.callback = None
            if lazy:
                self._loop_lazy(window)
            else:
                self._loop_eager(window)
            self.loop_done = True
            if self.events:
                self.callback = "on_fill/on_order"
                self._deliver_events(strategy, strategy.uses_on_fill, strategy.uses_on_order)
            self.callback = "on_end"
            strategy.on_end(ctx)
            self.callback = None
        except Exception as exc:
            callback = self.callback
            if callback is None:
                raise
            t = self.t
            n_t = self.n_t
            asset = self.cb_asset
            if lazy and not self.loop_done:
                self.recorded = max(t, 0)
            when = format_timestamp(self.ts_list[t]) if 0 <= t < n_t else None
            where = f" asset {asset!r}," if asset is not None else ""
            at = f"at bar {t} ({when})" if when is not None else "outside the bar loop"
            err = StrategyError(
                f"strategy {type(strategy).__name__}.{callback} raised {at},{where} "
                f"{type(exc).__name__}: {exc}",
                timestamp=when,
                asset=asset,
                callback=callback,
                traceback_text=traceback.format_exc(),
            )
            err.bar = t  # type: ignore[attr-defined]
            err.result = self.build_result(  # type: ignore[attr-defined]
                started, completed=False, failed_at=t
            )
            strategy.unbind()
            try:
                raise err from exc
            finally:
                del err  # (kept here, the frame and its traceback would form a cycle)
        strategy.unbind()
        return self.build_result(started, completed=True, failed_at=None)

    def _report_progress(self) -> tuple[Callable[[int, int], None] | None, int, int]:
        progress = self.progress
        report_every = max(1, self.n_t // 200)
        next_report = report_every if progress is not None else self.n_t + 1
        return progress, report_every, next_report

    def _readonly_views(
        self,
    ) -> tuple[
        dict[str, npt.NDArray[np.float64]],
        dict[str, npt.NDArray[np.float64]],
        dict[str, npt.NDArray[np.float64]],
        npt.NDArray[np.bool_],
    ]:
        # Read-only views of the data the strategy's `Bar` exposes (fields, signals, context,
        # has_bar), made once per run for either loop.
        ro_fields = {k: _readonly(v) for k, v in self.fields.items()}
        ro_signals = {k: ro_fields[k] for k in self.signals}
        ro_context = {k: _readonly(v) for k, v in self.context.items()}
        return ro_fields, ro_signals, ro_context, _readonly(self.has_bar)

    def _loop_eager(self, window: DataWindow) -> None:
        # Every phase at every bar (runs with corporate actions, several currencies,
        # futures, impact models, or a phase trace).
        strategy = self.strategy
        use_bar = strategy.uses_on_bar
        use_md = strategy.uses_on_market_data
        use_fill = strategy.uses_on_fill
        use_order = strategy.uses_on_order
        ro_fields, ro_signals, ro_context, ro_has_bar = self._readonly_views()
        assets = self.assets
        o_arr, h_arr, l_arr, c_arr, v_arr = (
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
        )
        has_bar = self.has_bar
        price_field = self.price_field
        last_price = self.last_price
        broker = self._broker
        portfolio = self._pf
        ts_list = self.ts_list
        has_ca = bool(self.corporate_actions)
        risk_on = self.risk.active or self.risk.config.has_portfolio_rules
        trace = self.trace
        n_t = self.n_t
        single = self.n_a == 1
        close_at_end = self.config.close_positions_at_end
        quotes = self.quotes
        bid_arr = self.fields.get("bid", c_arr)
        ask_arr = self.fields.get("ask", c_arr)
        progress, report_every, next_report = self._report_progress()
        for t in range(n_t):
            ts = ts_list[t]
            self.t = t
            window.t = t
            # 1. corporate actions
            if has_ca:
                self._apply_corporate_actions(ts)
            if trace is not None:
                trace.append((t, "corporate_actions"))
            # 2. working orders against the new bar
            o_r, h_r, l_r, c_r, v_r = o_arr[t], h_arr[t], l_arr[t], c_arr[t], v_arr[t]
            if quotes:
                fills = broker.process_bar(
                    t, ts, o_r, h_r, l_r, c_r, v_r, bid=bid_arr[t], ask=ask_arr[t]
                )
            else:
                fills = broker.process_bar(t, ts, o_r, h_r, l_r, c_r, v_r)
            if fills:
                self._apply_fills(fills)
            self._drain_order_events()
            if trace is not None:
                trace.append((t, "process_bar"))
            # 3. mark to market
            row = price_field[t]
            if single:
                p = row[0]
                if not math.isnan(p):
                    last_price[0] = p
            else:
                np.copyto(last_price, row, where=~np.isnan(row))
            portfolio.mark(ts, last_price, h_r, l_r)
            if trace is not None:
                trace.append((t, "mark"))
            # 4. risk rules
            if risk_on:
                self._risk_phase(t, ts)
            if trace is not None:
                trace.append((t, "risk"))
            # 5. strategy
            if self.events:
                self.callback = "on_fill/on_order"
                self._deliver_events(strategy, use_fill, use_order)
            if use_bar:
                self.callback = "on_bar"
                strategy.on_bar(
                    Bar(
                        t,
                        ts,
                        assets,
                        fields=ro_fields,
                        signals=ro_signals,
                        context=ro_context,
                        has_bar=ro_has_bar,
                    )
                )
            if use_md:
                self.callback = "on_market_data"
                if single:
                    if has_bar[t, 0]:
                        self.cb_asset = assets[0]
                        strategy.on_market_data(
                            MarketEvent(
                                ts,
                                assets[0],
                                o_r.item(0),
                                h_r.item(0),
                                l_r.item(0),
                                c_r.item(0),
                                v_r.item(0),
                            )
                        )
                else:
                    o_row, h_row, l_row, c_row, v_row = (
                        o_r.tolist(),
                        h_r.tolist(),
                        l_r.tolist(),
                        c_r.tolist(),
                        v_r.tolist(),
                    )
                    for j in np.flatnonzero(has_bar[t]).tolist():
                        asset = assets[j]
                        self.cb_asset = asset
                        strategy.on_market_data(
                            MarketEvent(ts, asset, o_row[j], h_row[j], l_row[j], c_row[j], v_row[j])
                        )
                self.cb_asset = None
            self.callback = None
            if trace is not None:
                trace.append((t, "strategy"))
            # 6. same-bar-close fills
            close_row = c_r
            if close_at_end and t == n_t - 1:
                self._close_all_at_end()
                # an asset without a bar at the end closes at its last known price
                close_row = np.where(np.isnan(close_row), last_price, close_row)
            if quotes:
                fills = broker.process_close(t, ts, close_row, v_r, bid=bid_arr[t], ask=ask_arr[t])
            else:
                fills = broker.process_close(t, ts, close_row, v_r)
            if fills:
                self._apply_fills(fills)
            self._drain_order_events()
            if trace is not None:
                trace.append((t, "process_close"))
            # 7. record
            self._record(t)
            if trace is not None:
                trace.append((t, "record"))
            if t + 1 == next_report:
                assert progress is not None
                progress(t + 1, n_t)
                next_report += report_every
        if progress is not None and (n_t == 0 or n_t % report_every):
            progress(n_t, n_t)  # the last report always says "done"

    def _loop_lazy(self, window: DataWindow) -> None:
        # The same phases, doing only what changes a result: while the broker's book is
        # empty a bar is just the strategy call. The broker and the portfolio catch up
        # (`_sync`) when the strategy or a rule reads or trades; positions and cash are
        # snapshot at the bars that change them and the per-bar records are rebuilt from
        # those and the price arrays at the end (`_rebuild_records`).
        strategy = self.strategy
        use_bar = strategy.uses_on_bar
        use_md = strategy.uses_on_market_data
        use_fill = strategy.uses_on_fill
        use_order = strategy.uses_on_order
        on_bar = strategy.on_bar
        on_md = strategy.on_market_data
        ro_fields, ro_signals, ro_context, ro_has_bar = self._readonly_views()
        assets = self.assets
        asset0 = assets[0] if assets else ""
        o_arr, h_arr, l_arr, c_arr, v_arr = (
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
        )
        has_bar = self.has_bar
        ts_list = self.ts_list
        risk_on = self.risk.active or self.risk.config.has_portfolio_rules
        n_t = self.n_t
        last = n_t - 1
        single = self.n_a == 1
        md_single = use_md and single
        md_multi = use_md and not single
        new_event = tuple.__new__
        progress, report_every, next_report = self._report_progress()
        chunk = 8192
        make_event = partial(new_event, MarketEvent)
        events_l: list[MarketEvent] = []
        hb_l: list[bool] = []
        for start in range(0, n_t, chunk):
            stop = min(start + chunk, n_t)
            if md_single:
                # this chunk's events, built in C from its bar values as Python floats (the
                # strategy gets each at its own bar, as if built there)
                events_l = list(
                    map(
                        make_event,
                        zip(
                            ts_list[start:stop],
                            repeat(asset0),
                            o_arr[start:stop, 0].tolist(),
                            h_arr[start:stop, 0].tolist(),
                            l_arr[start:stop, 0].tolist(),
                            c_arr[start:stop, 0].tolist(),
                            v_arr[start:stop, 0].tolist(),
                        ),
                    )
                )
                hb_l = has_bar[start:stop, 0].tolist()
            for t in range(start, stop):
                self.t = t
                window.t = t
                # 1. corporate actions: none in lazy runs
                # 2. working orders against the new bar (only when there are any)
                if self.busy or t == last:
                    self._lazy_process_bar(t)
                # 3. mark: deferred to the next `_sync`
                # 4. risk rules
                if risk_on:
                    self._risk_phase(t, ts_list[t])
                # 5. strategy
                if self.events:
                    self.callback = "on_fill/on_order"
                    self._deliver_events(strategy, use_fill, use_order)
                    self.callback = None
                # (a callback that raises is named by the `except` clauses: `try` costs
                # nothing until something raises, unlike setting `callback` every bar)
                if use_bar:
                    try:
                        on_bar(
                            Bar(
                                t,
                                ts_list[t],
                                assets,
                                fields=ro_fields,
                                signals=ro_signals,
                                context=ro_context,
                                has_bar=ro_has_bar,
                            )
                        )
                    except Exception:
                        self.callback = "on_bar"
                        raise
                if md_single:
                    k = t - start
                    if hb_l[k]:
                        try:
                            on_md(events_l[k])
                        except Exception:
                            self.callback = "on_market_data"
                            self.cb_asset = asset0
                            raise
                elif md_multi:
                    ts = ts_list[t]
                    o_row, h_row, l_row, c_row, v_row = (
                        o_arr[t].tolist(),
                        h_arr[t].tolist(),
                        l_arr[t].tolist(),
                        c_arr[t].tolist(),
                        v_arr[t].tolist(),
                    )
                    for j in np.flatnonzero(has_bar[t]).tolist():
                        asset = assets[j]
                        try:
                            on_md(
                                new_event(
                                    MarketEvent,
                                    (ts, asset, o_row[j], h_row[j], l_row[j], c_row[j], v_row[j]),
                                )
                            )
                        except Exception:
                            self.callback = "on_market_data"
                            self.cb_asset = asset
                            raise
                # 6. same-bar-close fills (only when there are orders)
                if self.busy or t == last:
                    self._lazy_process_close(t)
                # 7. record: the phases that fill take a snapshot of positions and cash
                if t + 1 == next_report:
                    assert progress is not None
                    progress(t + 1, n_t)
                    next_report += report_every
        self.recorded = n_t
        if progress is not None and (n_t == 0 or n_t % report_every):
            progress(n_t, n_t)  # the last report always says "done"

    def _lazy_process_bar(self, t: int) -> None:
        # Phase 2 of bar t; the broker and the portfolio first catch up to the end of t-1.
        if self.pf_t < t - 1:
            self._sync_pf(t - 1)
        if self.bk_t < t - 1:
            self._sync_broker(t - 1)
        broker = self._broker
        ts = self.ts_list[t]
        if self.quotes:
            fills = broker.process_bar(
                t,
                ts,
                self.open[t],
                self.high[t],
                self.low[t],
                self.close[t],
                self.volume[t],
                bid=self.fields["bid"][t],
                ask=self.fields["ask"][t],
            )
        else:
            fills = broker.process_bar(
                t, ts, self.open[t], self.high[t], self.low[t], self.close[t], self.volume[t]
            )
        self.bk_t = t
        if fills:
            self._apply_fills(fills)
            self._snapshot(t)  # (process_close may take a later one for this bar)
        self._drain_order_events()
        self.busy = not _venue.broker_idle(broker)

    def _lazy_process_close(self, t: int) -> None:
        # Phase 6 of bar t, with the portfolio marked at t (fills check funds against it).
        self._sync()
        broker = self._broker
        ts = self.ts_list[t]
        close_row = self.close[t]
        if self.config.close_positions_at_end and t == self.n_t - 1:
            self._close_all_at_end()
            # an asset without a bar at the end closes at its last known price
            close_row = np.where(np.isnan(close_row), self.last_price, close_row)
        if self.quotes:
            fills = broker.process_close(
                t,
                ts,
                close_row,
                self.volume[t],
                bid=self.fields["bid"][t],
                ask=self.fields["ask"][t],
            )
        else:
            fills = broker.process_close(t, ts, close_row, self.volume[t])
        if fills:
            self._apply_fills(fills)
            self._snapshot(t)
        self._drain_order_events()
        self.busy = not _venue.broker_idle(broker)

    def _rebuild_records(self) -> None:
        # The per-bar buffers `_record` would have filled, from the snapshots and prices:
        # the same arithmetic, row by row, as `_record` on simple books.
        n = self.recorded
        n_a = self.n_a
        snapped = self.snapped[:n]  # (snapshots of recorded bars only)
        if snapped.all():  # a snapshot on every bar: the rows as they are
            cash = self.snap_cash[:n]
            qty = self.snap_qty[:n]
        elif snapped.any():
            # the last snapshot at or before each bar; the start state before the first
            pos = np.maximum.accumulate(np.where(snapped, np.arange(n), -1))
            have = pos >= 0
            cash = np.where(have, self.snap_cash[pos], self.cash0)
            if have.all():
                qty = self.snap_qty[pos]
            else:
                qty = np.zeros((n, n_a))
                qty[have] = self.snap_qty[pos[have]]
        else:
            cash = np.full(n, self.cash0)
            qty = np.zeros((n, n_a))
        price = self._ffill(self.config.price_column)[:n]
        seeds = [(t, j, p) for t, j, p in self.seeds if t < n]
        if seeds:  # first prices that came from fills, until the feed has one
            price = price.copy()
            for t, j, p in seeds:
                col = price[t:, j]
                col[np.isnan(col)] = p
        values = np.multiply(qty, price)  # (qty * price) * mults, without a second temporary
        values *= self.mults
        held = qty != 0.0
        if n_a == 1:
            v = values[:, 0]
            h = held[:, 0]
            equity = np.where(h, cash + v, cash)
            mv = np.where(h, v, 0.0)
            long = np.where(h & (v > 0.0), v, 0.0)
            short = np.where(h & (v < 0.0), v, 0.0)
            values = np.where(held, values, 0.0)
        else:
            np.copyto(values, 0.0, where=~held)
            net = values.sum(axis=1)
            any_held = held.any(axis=1)
            equity = np.where(any_held, cash + net, cash)
            mv = np.where(any_held, net, 0.0)
            long = np.where(any_held, np.maximum(values, 0.0).sum(axis=1), 0.0)
            short = np.where(any_held, net - long, 0.0)
        self.buf_equity = equity
        self.buf_cash = cash
        self.buf_mv = mv
        self.buf_long = long
        self.buf_short = short
        self.buf_qty = qty
        self.buf_value = values

    # --------------------------------------------------------------------------- results

    def build_result(
        self, started: float, *, completed: bool, failed_at: int | None
    ) -> BacktestResult:
        if self.lazy:
            self._rebuild_records()
        n = self.recorded
        ts = self.ts[:n]
        equity = self.buf_equity[:n]
        cash = self.buf_cash[:n]
        mv = self.buf_mv[:n]
        long_e = self.buf_long[:n]
        short_e = self.buf_short[:n]
        gross = long_e - short_e
        net = long_e + short_e
        with np.errstate(divide="ignore", invalid="ignore"):
            leverage = np.where(equity != 0.0, gross / equity, np.nan)
            prev = np.concatenate([[self.config.initial_cash], equity[:-1]])
            returns = equity / prev - 1.0
            peak = np.maximum.accumulate(equity) if n else equity
            drawdown = equity / peak - 1.0
        equity_curve = equity_curve_frame(
            ts,
            {
                "equity": equity,
                "cash": cash,
                "market_value": mv,
                "gross_exposure": gross,
                "net_exposure": net,
                "long_exposure": long_e,
                "short_exposure": short_e,
                "leverage": leverage,
                "returns": returns,
                "drawdown": drawdown,
            },
        )
        trades = _conform(self._pf.tracker.to_polars(), TRADES_SCHEMA)
        fills = _fills_frame(self.fills)
        orders = _orders_frame(self.orders, self._broker.last_updates, self.assets)
        positions = _positions_frame(ts, self.assets, self.buf_qty[:n], self.buf_value[:n])
        metrics = _venue.compute_metrics(equity_curve, trades, self.config)
        metadata: dict[str, Any] = {
            "strategy": type(self.strategy).__qualname__,
            "completed": completed,
            "failed_at_bar": failed_at,
            "n_bars": int(self.n_t),
            "n_assets": int(self.n_a),
            "wall_seconds": time.perf_counter() - started,
            "data": self.fingerprint_of(),
        }
        return BacktestResult(
            equity_curve=equity_curve,
            trades=trades,
            fills=fills,
            orders=orders,
            positions=positions,
            metrics=metrics,
            config=self.config,
            metadata=metadata,
        )


_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.MARKET_ON_OPEN, OrderType.MARKET_ON_CLOSE})
_TERMINAL = frozenset(status for status in OrderStatus if status.is_terminal)


def _ffill(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Per column, the last non-NaN value at or before each row (NaN before the first one).
    if not np.isnan(array).any():  # nothing to fill: the array itself (callers only read)
        return array
    n_t, n_a = array.shape
    idx = np.where(np.isnan(array), 0, np.arange(n_t)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    out: npt.NDArray[np.float64] = array[idx, np.arange(n_a)]
    return out


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    # Select and cast to the documented columns (missing ones become nulls).
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(cols) if frame.width else pl.DataFrame(schema=schema)


def _fills_frame(fills: list[FillEvent | Any]) -> pl.DataFrame:
    # FillEvents column by column (one list per field, far cheaper than row parsing); the
    # fills of a broker block straight from its columns; in execution order.
    if not fills:
        return pl.DataFrame(schema=FILLS_SCHEMA)
    parts: list[pl.DataFrame] = []
    events: list[FillEvent] = []
    blocks: list[Any] = []
    for item in fills:
        if isinstance(item, _venue.FillBlock):
            if events:
                parts.append(_event_fills(events))
                events = []
            blocks.append(item)
        else:
            if blocks:
                parts.append(_block_fills(blocks))
                blocks = []
            events.append(item)
    if events:
        parts.append(_event_fills(events))
    if blocks:
        parts.append(_block_fills(blocks))
    frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    return _conform(frame, FILLS_SCHEMA)


def _event_fills(fills: list[FillEvent]) -> pl.DataFrame:
    data: dict[str, pl.Series] = {}
    for k, name in enumerate(FillEvent._fields):
        values = [f[k] for f in fills]
        if name == "timestamp":
            data[name] = pl.Series(name, values, dtype=pl.Int64).cast(_TS_DTYPE)
        elif name == "side":
            data[name] = pl.Series(name, [int(v) for v in values], dtype=pl.Int8)
        else:
            data[name] = pl.Series(name, values, dtype=FILLS_SCHEMA[name])
    return _conform(pl.DataFrame(data), FILLS_SCHEMA)


def _block_fills(blocks: list[Any]) -> pl.DataFrame:
    # Consecutive broker blocks' fills (complete fills without impact: remaining and impact 0).
    sizes = np.array([len(b) for b in blocks], dtype=np.int64)
    n = int(sizes.sum())
    owner = np.repeat(np.arange(len(blocks)), sizes)

    def cat(name: str) -> npt.NDArray[Any]:
        return np.concatenate([getattr(b, name) for b in blocks])

    # (every block of a run comes from its broker, on the run's assets)
    asset = pl.Series(list(blocks[0].assets), dtype=pl.String).gather(cat("rows"))
    return _conform(
        pl.DataFrame(
            {
                "timestamp": pl.Series(
                    np.repeat(np.array([b.timestamp for b in blocks], dtype=np.int64), sizes)
                ).cast(_TS_DTYPE),
                "order_id": cat("order_id"),
                "asset": asset,
                "side": cat("side").astype(np.int8),
                "quantity": cat("quantity"),
                "price": cat("price"),
                "reference_price": cat("reference_price"),
                "commission": cat("commission"),
                "slippage": cat("slippage"),
                "impact": np.zeros(n),
                "remaining": np.zeros(n),
                "multiplier": cat("multiplier"),
                "tag": pl.Series([b.tag for b in blocks], dtype=pl.String).gather(owner),
            }
        ),
        FILLS_SCHEMA,
    )


def _enum_names(codes: list[int], enum: Any) -> pl.Series:
    # int codes -> member names, as a String column
    names = {int(k): k.name for k in enum}
    return pl.Series(codes, dtype=pl.Int64).replace_strict(names, return_dtype=pl.String)


def _orders_frame(
    orders: list[tuple[Any, Timestamp]], updated: dict[int, Timestamp], assets: Sequence[AssetId]
) -> pl.DataFrame:
    # One row per order, in submission order: order objects at their first record, and the
    # orders of a block still held as columns (`OrderBlock`) straight from its columns.
    if not orders:
        return pl.DataFrame(schema=ORDERS_SCHEMA)
    names = pl.Series(list(assets), dtype=pl.String)
    parts: list[pl.DataFrame] = []
    run: dict[int, tuple[Any, Timestamp]] = {}  # order objects since the last block
    blocks: list[Any] = []  # blocks held as columns since the last order object
    seen: set[int] = set()
    for pair in orders:
        obj = pair[0]
        if isinstance(obj, _venue.OrderBlock):
            if not obj.is_materialized:
                if run:
                    parts.append(_object_orders(list(run.values()), updated))
                    run = {}
                blocks.append(obj)
                continue
            members = [(order, pair[1]) for order in obj.orders()]
        else:
            members = [pair]
        for member in members:
            key = id(member[0])
            if key not in seen:
                if blocks:
                    parts.append(_block_orders(blocks, names))
                    blocks = []
                seen.add(key)
                run[key] = member
    if run:
        parts.append(_object_orders(list(run.values()), updated))
    if blocks:
        parts.append(_block_orders(blocks, names))
    frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    return frame.select([pl.col(name).cast(dtype) for name, dtype in ORDERS_SCHEMA.items()])


def _block_orders(blocks: list[Any], names: pl.Series) -> pl.DataFrame:
    # The orders of consecutive blocks held as columns: GTC market orders, each block
    # filled in full or (the last one of a run) still working.
    sizes = np.array([len(b) for b in blocks], dtype=np.int64)
    owner = np.repeat(np.arange(len(blocks)), sizes)  # the block of each order

    def each(values: list[Any], dtype: Any = None) -> npt.NDArray[Any]:
        return np.repeat(np.array(values, dtype=dtype), sizes)

    filled_block = [b.fill_price is not None for b in blocks]
    filled = each(filled_block, np.bool_)
    signed = np.concatenate([b.signed for b in blocks])
    quantity = np.abs(signed)
    created = each([b.created_at for b in blocks], np.int64)
    updated = np.where(filled, each([b.filled_at for b in blocks], np.int64), created)
    price = np.concatenate(
        [
            b.fill_price if f else np.full(len(b), np.nan)
            for b, f in zip(blocks, filled_block, strict=True)
        ]
    )
    statuses = pl.Series(
        [(OrderStatus.FILLED if f else OrderStatus.ACCEPTED).name for f in filled_block],
        dtype=pl.String,
    )
    n = int(sizes.sum())
    return pl.DataFrame(
        {
            "order_id": np.concatenate([b.ids for b in blocks]),
            "created_at": pl.Series(created).cast(_TS_DTYPE),
            "updated_at": pl.Series(updated).cast(_TS_DTYPE),
            "asset": names.gather(np.concatenate([b.rows for b in blocks])),
            "side": np.where(signed > 0.0, 1, -1).astype(np.int8),
            "quantity": quantity,
            "order_type": pl.repeat(OrderType.MARKET.name, n, dtype=pl.String, eager=True),
            "limit_price": np.full(n, np.nan),
            "stop_price": np.full(n, np.nan),
            "time_in_force": pl.repeat(TimeInForce.GTC.name, n, dtype=pl.String, eager=True),
            "status": statuses.gather(owner),
            "filled_quantity": np.where(filled, quantity, 0.0),
            "average_fill_price": price,
            "reason": pl.repeat("", n, dtype=pl.String, eager=True),
            "tag": pl.Series([b.tag for b in blocks], dtype=pl.String).gather(owner),
        }
    )


def _object_orders(
    pairs: list[tuple[Any, Timestamp]], updated: dict[int, Timestamp]
) -> pl.DataFrame:
    objs = [p[0] for p in pairs]
    created = [p[1] for p in pairs]
    ids = [o.order_id for o in objs]
    get = updated.get
    data = {
        "order_id": pl.Series(ids, dtype=pl.Int64),
        "created_at": pl.Series(created, dtype=pl.Int64).cast(_TS_DTYPE),
        "updated_at": pl.Series([get(i, c) for i, c in zip(ids, created, strict=True)]).cast(
            pl.Int64
        ),
        "asset": pl.Series([o.asset for o in objs], dtype=pl.String),
        "side": pl.Series([int(o.side) for o in objs], dtype=pl.Int8),
        "quantity": pl.Series([o.quantity for o in objs], dtype=pl.Float64),
        "order_type": _enum_names([int(o.order_type) for o in objs], OrderType),
        "limit_price": pl.Series([o.limit_price for o in objs], dtype=pl.Float64),
        "stop_price": pl.Series([o.stop_price for o in objs], dtype=pl.Float64),
        "time_in_force": _enum_names([int(o.time_in_force) for o in objs], TimeInForce),
        "status": _enum_names([int(o.status) for o in objs], OrderStatus),
        "filled_quantity": pl.Series([o.filled_quantity for o in objs], dtype=pl.Float64),
        "average_fill_price": pl.Series([o.average_fill_price for o in objs], dtype=pl.Float64),
        "reason": pl.Series([o.reason for o in objs], dtype=pl.String),
        "tag": pl.Series([o.tag for o in objs], dtype=pl.String),
    }
    data["updated_at"] = data["updated_at"].cast(_TS_DTYPE)
    return pl.DataFrame(data).select(
        [pl.col(name).cast(dtype) for name, dtype in ORDERS_SCHEMA.items()]
    )


def _positions_frame(
    ts: npt.NDArray[np.int64],
    assets: tuple[AssetId, ...],
    qty: npt.NDArray[np.float64],
    value: npt.NDArray[np.float64],
) -> pl.DataFrame:
    rows, cols = np.nonzero(qty)
    if rows.size == 0:
        return pl.DataFrame(schema=POSITIONS_SCHEMA)
    names = pl.Series(list(assets), dtype=pl.String).gather(cols)  # no Python str per row
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(ts[rows], dtype=pl.Int64).cast(_TS_DTYPE),
            "asset": names,
            "quantity": qty[rows, cols],
            "market_value": value[rows, cols],
        }
    )
    return _conform(frame, POSITIONS_SCHEMA)
