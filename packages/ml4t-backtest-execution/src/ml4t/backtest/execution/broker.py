"""The simulated broker: a book of working orders matched against bars for all assets at once.

Call order for every bar ``t`` (rows aligned to the broker's `assets`)::

    fills = broker.process_bar(t, ts, open, high, low, close, volume)   # start of bar
    ... the strategy sees bar t and calls submit / cancel / modify ...
    fills += broker.process_close(t, ts, close, volume)                 # end of bar
    events = broker.drain_order_events()

Decision-bar rule: an order submitted while bar ``t`` is processed never fills at a bar-``t``
price the strategy could not have known. Under `FillTiming.NEXT_BAR_OPEN` (default) nothing
it submits fills on bar ``t``; under `FillTiming.SAME_BAR_CLOSE` only at bar ``t``'s close.

The book lives in parallel numpy arrays (one slot per order); `process_bar` gathers the
active slots, runs `match_orders_nb` over them in one call and touches Python only for the
orders that actually fill. With an empty book it returns at once.

The broker never changes positions or cash. It reads them from the `AccountView` to sort
exits before entries, to check short sales and to re-check buying power at fill time. Fills
made earlier in the same call are not in the account yet, so the broker adds their effect:
available buying power is ``account.buying_power() + pending``, where every fill adds
``closing_value - opening_value - commission`` to ``pending`` (value = quantity * price *
multiplier; the closing part reduces an existing position, the opening part opens or adds).
So apply the fills of each call to the account before the next call (``pending`` restarts at
zero in every `process_bar` and `process_close`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from types import ModuleType
from typing import Final

import numpy as np
import numpy.typing as npt

from ml4t.backtest.core.arrays import all_distinct
from ml4t.backtest.core.assets import Asset, AssetRegistry, Future
from ml4t.backtest.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ml4t.backtest.core.errors import (
    ConfigError,
    InvalidQuantityError,
    OrderError,
    OrderRejectedError,
)
from ml4t.backtest.core.events import FillEvent, OrderEvent
from ml4t.backtest.core.types import AssetId, Timestamp
from ml4t.backtest.execution._batch_fill import (
    BATCH_MIN,
    FillPlan,
    batch_applies,
    book_state,
    fill_market_batch,
    plan_fills,
)
from ml4t.backtest.execution._funds import fee_inclusive_quantity
from ml4t.backtest.execution._rounding import ceil_to_step, floor_to_step
from ml4t.backtest.execution.account import AccountView
from ml4t.backtest.execution.algos import ExecutionAlgorithm
from ml4t.backtest.execution.blocks import FillBlock, OrderBlock
from ml4t.backtest.execution.commission import CommissionModel, NoCommission
from ml4t.backtest.execution.fills import (
    BracketActivation,
    FillTiming,
    FundsPolicy,
    IntrabarPolicy,
    MatchCode,
    TrailReference,
    first_touch,
    intrabar_path,
    match_order,
    trailing_stop_level,
)
from ml4t.backtest.execution.impact import ImpactModel, NoImpact
from ml4t.backtest.execution.liquidity import VolumeLimit
from ml4t.backtest.execution.orders import Order
from ml4t.backtest.execution.quotes import quote_prices
from ml4t.backtest.execution.slippage import NoSlippage, SlippageModel
from ml4t.backtest.execution.validation import ALLOWED_TIME_IN_FORCE, validate_order

__all__ = ["SimulationBroker"]


def _kernels() -> ModuleType:
    # The numba kernels (`execution.nb`), imported on first use: books of market orders
    # alone never need them, and importing numba costs about 60 MB and a second.
    from ml4t.backtest.execution import nb  # noqa: PLC0415

    return nb


FloatArray = npt.NDArray[np.float64]

_NEVER: Final = np.iinfo(np.int64).max
_PHASE_ANY: Final = 0  # matched in process_bar against the whole bar
_PHASE_OPEN: Final = 1  # opening auction only (MOO / OPG)
_PHASE_CLOSE: Final = 2  # matched in process_close at the close
_FEW_SLOTS: Final = 4  # books of up to this many orders are scanned slot by slot
_STATS_SPAN: Final = 20  # bars in the EWMA of volume and squared returns
_LIMITED: Final = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_IOC_FOK: Final = (int(TimeInForce.IOC), int(TimeInForce.FOK))
_WORKING: Final = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)  # Order.is_working
_CLOSE_TIMINGS: Final = (FillTiming.SAME_BAR_CLOSE, FillTiming.NEXT_BAR_CLOSE)
_PRICELESS: Final = (OrderType.MARKET, OrderType.MARKET_ON_OPEN, OrderType.MARKET_ON_CLOSE)
_MAX_ROWS: Final = 256  # fold pending bar rows at least this often
_SUBMITTED: Final = OrderStatus.SUBMITTED
_ACCEPTED: Final = OrderStatus.ACCEPTED
_CREATED: Final = OrderStatus.CREATED
_FILLED: Final = OrderStatus.FILLED
_new_tuple = tuple.__new__
_TOUCH: Final = int(MatchCode.TOUCH)
_MARKET: Final = int(MatchCode.MARKET)
_GAP: Final = int(MatchCode.GAP)
_ARMED: Final = int(MatchCode.ARMED)
_HIT: Final = (_MARKET, _GAP, _TOUCH)  # codes that fill
_AT_OPEN: Final = (_MARKET, _GAP)  # codes that fill at the open
_SMALL_PASS: Final = 16  # `_pass` matches books up to this many slots in Python
_PRICELESS_INT: Final = (
    int(OrderType.MARKET),
    int(OrderType.MARKET_ON_OPEN),
    int(OrderType.MARKET_ON_CLOSE),
)
# order type code -> price-less (a lookup table: one gather instead of `np.isin`)
_PRICELESS_LUT: Final = np.isin(np.arange(max(OrderType) + 1), _PRICELESS_INT)


# Enum members as module constants: `Enum.MEMBER` is a slow class attribute lookup.
_FillTiming_NEXT_BAR_CLOSE: Final = FillTiming.NEXT_BAR_CLOSE
_FillTiming_PRICE_COLUMN: Final = FillTiming.PRICE_COLUMN
_FillTiming_SAME_BAR_CLOSE: Final = FillTiming.SAME_BAR_CLOSE
_FundsPolicy_REJECT: Final = FundsPolicy.REJECT
_FundsPolicy_RESIZE_FEE_INCLUSIVE: Final = FundsPolicy.RESIZE_FEE_INCLUSIVE
_OrderSide_BUY: Final = OrderSide.BUY
_OrderSide_SELL: Final = OrderSide.SELL
_OrderStatus_CANCELED: Final = OrderStatus.CANCELED
_OrderStatus_CREATED: Final = OrderStatus.CREATED
_OrderStatus_EXPIRED: Final = OrderStatus.EXPIRED
_OrderStatus_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_OrderStatus_REJECTED: Final = OrderStatus.REJECTED
_OrderType_MARKET: Final = OrderType.MARKET
_OrderType_MARKET_ON_CLOSE: Final = OrderType.MARKET_ON_CLOSE
_OrderType_MARKET_ON_OPEN: Final = OrderType.MARKET_ON_OPEN
_OrderType_TRAILING_STOP: Final = OrderType.TRAILING_STOP
_TimeInForce_CLS: Final = TimeInForce.CLS
_TimeInForce_DAY: Final = TimeInForce.DAY
_TimeInForce_FOK: Final = TimeInForce.FOK
_TimeInForce_GTC: Final = TimeInForce.GTC
_TimeInForce_GTD: Final = TimeInForce.GTD
_TimeInForce_IOC: Final = TimeInForce.IOC
_TimeInForce_OPG: Final = TimeInForce.OPG


class SimulationBroker:
    """Simulated broker for bar data; see the module docstring for the call order.

    Args:
        assets: Asset ids; the bar arrays passed in are aligned to this order.
        registry: Asset definitions (tick, lot, multiplier, shortable); default equities.
        fill_timing: When market orders fill (`FillTiming`, NEXT_BAR_OPEN by default).
        commission: Commission model.
        slippage: Slippage model (per unit, against the trader).
        impact: Market-impact model; its permanent part shifts the price later orders on
            the same asset see within the bar.
        volume_limit: Fraction of bar volume one asset's fills may take per bar
            (a float in (0, 1] or a `VolumeLimit`); None for no cap.
        intrabar_policy: Which OCO member wins when several could fill in one bar.
        exit_first: Fill orders that reduce positions before those that open or add.
        account: Read for positions, short permission and buying power; None skips the
            account checks (every order counts as an entry).
        funds_policy: At fill time, REJECT an order that buying power cannot cover, or
            RESIZE it to what is affordable (RESIZE_FEE_INCLUSIVE: the largest quantity
            whose cost plus its own commission fits, ``q * price * multiplier +
            commission(q) <= buying power``).
        trail_reference: What a trailing stop follows: EXTREME (default; the open, then
            each bar's high for a SELL stop / low for a BUY stop) or CLOSE (each bar's close
            only, after the bar is matched).
        bracket_activation: When OTO children of a filled order start working: SAME_BAR
            (default; the rest of the bar when the parent filled at the open) or NEXT_BAR.
        slippage_cap_to_bar: Cap the costs so a fill never prices outside its bar: a buy
            pays at most the bar's high, a sell receives at least its low (the matched
            price itself is never moved in the trader's favour).
        default_volatility: Daily volatility used by impact models until 2 closes are seen.
        bars_per_day: Bars in a trading day (to scale bar volume and volatility to daily).
        record_events: Keep an `OrderEvent` for every status change, for
            `drain_order_events` (default). False skips building them (a run nobody listens
            to); `last_updates` and `change_count` are kept either way.

    Example:
        >>> import numpy as np
        >>> broker = SimulationBroker(["AAPL"])
        >>> order = broker.submit(Order.limit("AAPL", OrderSide.BUY, 10, 99.0))
        >>> fills = broker.process_bar(0, 0, np.array([100.0]), np.array([101.0]),
        ...                            np.array([98.5]), np.array([100.5]), np.array([1e6]))
        >>> [(f.quantity, f.price) for f in fills], order.status.name
        ([(10.0, 99.0)], 'FILLED')
    """

    def __init__(
        self,
        assets: Sequence[AssetId],
        registry: AssetRegistry | None = None,
        *,
        fill_timing: FillTiming = FillTiming.NEXT_BAR_OPEN,
        commission: CommissionModel | None = None,
        slippage: SlippageModel | None = None,
        impact: ImpactModel | None = None,
        volume_limit: float | VolumeLimit | None = None,
        intrabar_policy: IntrabarPolicy = IntrabarPolicy.WORST_CASE,
        exit_first: bool = True,
        account: AccountView | None = None,
        funds_policy: FundsPolicy = FundsPolicy.REJECT,
        trail_reference: TrailReference = TrailReference.EXTREME,
        bracket_activation: BracketActivation = BracketActivation.SAME_BAR,
        slippage_cap_to_bar: bool = False,
        default_volatility: float = 0.02,
        bars_per_day: float = 1.0,
        record_events: bool = True,
    ) -> None:
        self.assets: tuple[AssetId, ...] = tuple(assets)
        if len(set(self.assets)) != len(self.assets):
            raise ConfigError("`assets` holds duplicate ids; pass each asset once")
        self.asset_index = {a: i for i, a in enumerate(self.assets)}
        self.registry = registry if registry is not None else AssetRegistry()
        self._asset_defs: list[Asset] = [self.registry[a] for a in self.assets]
        self._multiplier = np.array([d.multiplier for d in self._asset_defs], dtype=np.float64)
        self.fill_timing = FillTiming(fill_timing)
        self.commission = commission if commission is not None else NoCommission()
        self.slippage = slippage if slippage is not None else NoSlippage()
        self.impact = impact if impact is not None else NoImpact()
        if isinstance(volume_limit, int | float):
            volume_limit = VolumeLimit(float(volume_limit))
        self.volume_limit = volume_limit
        self.intrabar_policy = IntrabarPolicy(intrabar_policy)
        self.exit_first = exit_first
        self.account = account
        self.funds_policy = FundsPolicy(funds_policy)
        self.trail_reference = TrailReference(trail_reference)
        self.bracket_activation = BracketActivation(bracket_activation)
        self.slippage_cap_to_bar = bool(slippage_cap_to_bar)
        self._bar_hl: tuple[FloatArray, FloatArray] | None = None  # cap bounds of this pass
        self._bar_rows: tuple[int, FloatArray, FloatArray] | None = None  # t, high, low
        if not (math.isfinite(default_volatility) and default_volatility >= 0.0):
            raise ConfigError(
                f"`default_volatility` must be finite and >= 0, was {default_volatility!r}"
            )
        if not (math.isfinite(bars_per_day) and bars_per_day > 0.0):
            raise ConfigError(f"`bars_per_day` must be finite and > 0, was {bars_per_day!r}")
        self.default_volatility = default_volatility
        self.bars_per_day = bars_per_day

        n = len(self.assets)
        self._t = -1
        self._now: Timestamp = 0
        self._next_id = 1
        self._next_algo_id = 1
        self._orders: dict[int, Order] = {}
        self._events: list[OrderEvent] = []
        self.record_events = bool(record_events)
        self._batch_fills = True  # `_batch_fill` for many market orders (tests turn it off)
        # `submit_block`: at most one pending block (in an otherwise empty book), and the
        # blocks filled as columns, kept for `get_order` (ids increase block by block)
        self._block: OrderBlock | None = None
        self._filled_blocks: list[OrderBlock] = []
        # An account that reports each fill's exact effect on its buying power (a
        # `Portfolio`): the pending buying power follows it (`_available`).
        self._exact_bp = all(
            callable(getattr(account, name, None))
            for name in ("buying_power_change", "buying_power_changes", "raw_buying_power")
        )
        # an account whose position arrays follow the broker's asset order (`_held`)
        self._aligned_account = getattr(account, "assets", None) == self.assets
        # ... and whose array checks take those positions instead of asset ids
        self._account_rows = self._aligned_account and getattr(account, "takes_asset_rows", False)
        self._updated: dict[int, Timestamp] = {}  # order id -> time of its last change
        self._changes = 0  # status changes so far (what `_emit` was called for)
        self._algos: dict[int, ExecutionAlgorithm] = {}
        self._algo_of: dict[int, ExecutionAlgorithm] = {}
        self._intrabar_notes: dict[int, str] = {}
        # per-asset state
        self._last_close = np.full(n, np.nan)
        self._prev_close = np.full(n, np.nan)
        self._adv = np.full(n, np.nan)
        self._var = np.full(n, np.nan)
        self._used = np.zeros(n)
        self._shift = np.zeros(n)
        self._volume = np.full(n, np.nan)
        self._pend_pos = np.zeros(n)
        self._pend_bp = 0.0
        self._month = -1
        # [start, end) in ns of the calendar month `_month`; empty until the first fill
        self._month_start = 0
        self._month_end = 0
        self._month_volume = 0.0
        # Bar rows not yet folded into `_last_close` and the volume/volatility statistics:
        # (impact, close, volume) from process_bar (`impact` is the model then in force: the
        # statistics are kept only for a real one), (None, close, None) from process_close.
        # They are folded, in order, the first time something needs those arrays, so a
        # bar with an empty book costs almost nothing.
        self._rows: list[tuple[ImpactModel | None, npt.ArrayLike, npt.ArrayLike | None]] = []
        self._rows_stats = 0  # rows in `_rows` whose impact model keeps statistics
        self._zeroed_t = -1  # the bar whose fills `_used` / `_shift` hold
        # Slots in the book (active or not) by feature; see `_tally`.
        self._n_gtd = self._n_day = self._n_ioc_fok = 0
        self._n_close = self._n_open = self._n_trailing = 0
        self._activated_t = -1  # last bar an OTO child was activated to work at once
        self._lot = [d.lot_size for d in self._asset_defs]
        self._lot_arr = np.array(self._lot, dtype=np.float64)
        self._shortable = np.array([d.shortable for d in self._asset_defs], dtype=np.bool_)
        self._tick = [d.tick_size for d in self._asset_defs]
        self._mult_list: list[float] = self._multiplier.tolist()
        # Buying power one unit ties up, for futures with an exchange margin when the account
        # is margin-based (a `Portfolio`: its requirement counts `initial_margin` per
        # contract and its buying power is excess / `account.default_initial_rate`); 0.0
        # means the notional (other assets, and account views without that rate).
        rate = getattr(getattr(account, "account", None), "default_initial_rate", None)
        self._bp_margin: list[float] = [
            d.initial_margin / float(rate)
            if isinstance(d, Future) and d.initial_margin > 0.0 and rate
            else 0.0
            for d in self._asset_defs
        ]
        self._bp_margin_arr = np.array(self._bp_margin, dtype=np.float64)
        # the book: one slot per accepted order
        self._cap = 0
        self._slot_order: list[Order | None] = []
        self._special: list[bool] = []  # slot counted by `_tally`
        self._free: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._n_active = 0
        self._grow(64)

    # -- book storage ---------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = self._cap
        if old == 0:
            self._s_asset: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
            self._s_side: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
            self._s_type: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
            self._s_tif: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
            self._s_phase: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
            self._s_limit: FloatArray = np.zeros(0)
            self._s_stop: FloatArray = np.zeros(0)
            self._s_amount: FloatArray = np.zeros(0)
            self._s_pct: FloatArray = np.zeros(0)
            self._s_ref: FloatArray = np.zeros(0)
            self._s_trig: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
            self._s_active: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
            self._s_elig: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
            self._s_submit: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
            self._s_expire: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        extra = capacity - old
        self._s_asset = np.concatenate([self._s_asset, np.zeros(extra, dtype=np.int64)])
        self._s_side = np.concatenate([self._s_side, np.ones(extra, dtype=np.int8)])
        self._s_type = np.concatenate([self._s_type, np.zeros(extra, dtype=np.int8)])
        self._s_tif = np.concatenate([self._s_tif, np.zeros(extra, dtype=np.int8)])
        self._s_phase = np.concatenate([self._s_phase, np.zeros(extra, dtype=np.int8)])
        self._s_limit = np.concatenate([self._s_limit, np.full(extra, np.nan)])
        self._s_stop = np.concatenate([self._s_stop, np.full(extra, np.nan)])
        self._s_amount = np.concatenate([self._s_amount, np.full(extra, np.nan)])
        self._s_pct = np.concatenate([self._s_pct, np.full(extra, np.nan)])
        self._s_ref = np.concatenate([self._s_ref, np.full(extra, np.nan)])
        self._s_trig = np.concatenate([self._s_trig, np.zeros(extra, dtype=np.bool_)])
        self._s_active = np.concatenate([self._s_active, np.zeros(extra, dtype=np.bool_)])
        self._s_elig = np.concatenate([self._s_elig, np.zeros(extra, dtype=np.int64)])
        self._s_submit = np.concatenate([self._s_submit, np.zeros(extra, dtype=np.int64)])
        self._s_expire = np.concatenate([self._s_expire, np.full(extra, _NEVER, dtype=np.int64)])
        self._slot_order.extend([None] * extra)
        self._special.extend([False] * extra)
        self._free.extend(range(capacity - 1, old - 1, -1))
        self._cap = capacity

    def _phase_of(self, order: Order) -> int:
        kind, tif = order.order_type, order.time_in_force
        if kind is _OrderType_MARKET and tif is _TimeInForce_GTC:  # the common case, as below
            return _PHASE_CLOSE if self.fill_timing in _CLOSE_TIMINGS else _PHASE_ANY
        if kind is _OrderType_MARKET_ON_OPEN or tif is _TimeInForce_OPG:
            return _PHASE_OPEN
        if kind is _OrderType_MARKET_ON_CLOSE or tif is _TimeInForce_CLS:
            return _PHASE_CLOSE
        if kind is _OrderType_MARKET and self.fill_timing in (
            _FillTiming_SAME_BAR_CLOSE,
            _FillTiming_NEXT_BAR_CLOSE,
        ):
            return _PHASE_CLOSE
        return _PHASE_ANY

    def _add_slot(self, order: Order, *, active: bool, eligible: int, a: int, phase: int) -> None:
        if not self._free:
            self._grow(self._cap * 2)
        s = self._free.pop()
        self._slot_order[s] = order
        self._slot_of[order.order_id] = s
        if active:
            self._n_active += 1
        self._special[s] = self._tally(order, phase, 1)
        self._write_slot(s, order, eligible=eligible, a=a, phase=phase, active=active)

    def _write_slot(
        self, s: int, order: Order, *, eligible: int, a: int, phase: int, active: bool
    ) -> None:
        expire = order.expire_at
        self._s_asset[s] = a
        self._s_side[s] = order.side
        self._s_type[s] = order.order_type
        self._s_tif[s] = order.time_in_force
        self._s_phase[s] = phase
        self._s_submit[s] = order.submit_bar
        self._s_expire[s] = expire if expire is not None else _NEVER
        self._s_active[s] = active
        self._s_elig[s] = eligible
        self._sync_slot(s, order)

    def _write_slots(
        self,
        at: npt.NDArray[np.intp],
        assets: npt.ArrayLike,
        sides: npt.ArrayLike,
        model: Order,
        *,
        phase: int,
        eligible: int,
        active: bool,
    ) -> None:
        # Book columns of slots `at` for orders that differ only in asset and side; the
        # other columns come from `model`.
        self._s_asset[at] = assets
        self._s_side[at] = sides
        self._s_type[at] = model.order_type
        self._s_tif[at] = model.time_in_force
        self._s_phase[at] = phase
        self._s_submit[at] = model.submit_bar
        self._s_expire[at] = _NEVER if model.expire_at is None else model.expire_at
        self._s_active[at] = active
        self._s_elig[at] = eligible
        self._s_limit[at] = model.limit_price
        self._s_stop[at] = model.stop_price
        self._s_amount[at] = model.trail_amount
        self._s_pct[at] = model.trail_percent
        self._s_ref[at] = model.trail_reference
        self._s_trig[at] = model.triggered

    def _sync_slot(self, s: int, order: Order) -> None:
        self._s_limit[s] = order.limit_price
        self._s_stop[s] = order.stop_price
        self._s_amount[s] = order.trail_amount
        self._s_pct[s] = order.trail_percent
        self._s_ref[s] = order.trail_reference
        self._s_trig[s] = order.triggered

    def _tally(self, order: Order, phase: int, k: int) -> bool:
        # Count the book's slots (active or not) by the features that need a vector pass at
        # every bar; a pass is skipped when its count is zero (it would find nothing).
        # Return whether the order has any such feature.
        counted = False
        if order.expire_at is not None:
            self._n_gtd += k
            counted = True
        tif = order.time_in_force
        if tif is _TimeInForce_DAY:
            self._n_day += k
            counted = True
        elif tif is _TimeInForce_IOC or tif is _TimeInForce_FOK:
            self._n_ioc_fok += k
            counted = True
        if phase == _PHASE_CLOSE:
            self._n_close += k
            counted = True
        elif phase == _PHASE_OPEN:
            self._n_open += k
            counted = True
        if order.order_type is _OrderType_TRAILING_STOP:
            self._n_trailing += k
            counted = True
        return counted

    def _remove_slot(self, order: Order) -> None:
        s = self._slot_of.pop(order.order_id, None)
        if s is None:
            return
        if self._special[s]:
            self._tally(order, self._s_phase.item(s), -1)
        if self._s_active[s]:
            self._n_active -= 1
        self._s_active[s] = False
        self._slot_order[s] = None
        self._free.append(s)

    def _remove_slots(self, orders: list[Order]) -> None:
        # `_remove_slot` for each order, in order (the free list grows the same way).
        slot_of = self._slot_of
        slots = [slot_of.pop(order.order_id) for order in orders]
        special = self._special
        for s, order in zip(slots, orders, strict=True):
            if special[s]:
                self._tally(order, self._s_phase.item(s), -1)
        at = np.array(slots, dtype=np.intp)
        self._n_active -= int(np.count_nonzero(self._s_active[at]))
        self._s_active[at] = False
        slot_order = self._slot_order
        for s in slots:
            slot_order[s] = None
        self._free.extend(slots)

    def _activate(self, order: Order, eligible: int) -> None:
        s = self._slot_of.get(order.order_id)
        if s is None or self._s_active[s]:
            return
        if order.order_type is OrderType.TRAILING_STOP:
            self._init_trailing(order)
            self._sync_slot(s, order)
        self._s_active[s] = True
        self._s_elig[s] = eligible
        self._n_active += 1
        if eligible == self._t:
            self._activated_t = self._t

    def _init_trailing(self, order: Order) -> None:
        if self._rows:
            self._fold_rows()
        ref = float(self._last_close[self.asset_index[order.asset]])
        order.trail_reference = ref
        if not math.isnan(ref):
            order.stop_price = trailing_stop_level(
                int(order.side), ref, order.trail_amount, order.trail_percent
            )

    # -- events ---------------------------------------------------------------------------

    def _emit(self, order: Order) -> None:
        # `Order.to_event` inlined: an OrderEvent built straight from its fields.
        self._updated[order.order_id] = self._now
        self._changes += 1
        if not self.record_events:
            return
        self._events.append(
            _new_tuple(
                OrderEvent,
                (
                    self._now,
                    order.order_id,
                    order.asset,
                    order.side,
                    order.quantity,
                    order.order_type,
                    order.status,
                    order.limit_price,
                    order.stop_price,
                    order.time_in_force,
                    order.filled_quantity,
                    order.reason,
                    order.tag,
                ),
            )
        )

    @property
    def change_count(self) -> int:
        """Return how many order status changes (events) there have been so far."""
        return self._changes

    @property
    def last_updates(self) -> dict[int, Timestamp]:
        """Return, per order id, the time of the order's last status change (a copy)."""
        return dict(self._updated)

    def drain_order_events(self) -> list[OrderEvent]:
        """Return the order events since the last call, oldest first, and forget them."""
        events, self._events = self._events, []
        return events

    # -- public order API -----------------------------------------------------------------

    def submit(self, order: Order) -> Order:
        """Validate and accept `order` (with its OTO children); return it.

        A refused order ends REJECTED with `Order.reason` set (no exception). Children of
        an OTO parent are accepted with it but stay inactive until it fills.

        Raises:
            OrderError: The order was already submitted, or is an OTO child (submit its
                parent instead).
        """
        if order.parent is not None and order.parent.status is OrderStatus.CREATED:
            raise OrderError(f"{order!r} is an OTO child; submit its parent instead")
        self._settle_block()
        self._submit(order, eligible=self._t + 1, pending_position=0.0)
        return order

    def submit_many(
        self,
        assets: npt.ArrayLike,
        quantities: npt.ArrayLike,
        *,
        order_type: OrderType = OrderType.MARKET,
        time_in_force: TimeInForce = TimeInForce.GTC,
        tag: str = "",
    ) -> list[Order]:
        """Submit one price-less order per (asset position, signed quantity); return them.

        The batch twin of `submit` for rebalancing: entry ``k`` becomes the order
        ``Order(self.assets[assets[k]], BUY if quantities[k] > 0 else SELL,
        abs(quantities[k]), order_type, time_in_force=time_in_force, tag=tag)``, and the
        orders are submitted one after the other in the given order, exactly as that many
        `submit` calls would (same ids, validation, order events, rejections and fills), at
        a fraction of the cost. To have exits checked and filled first, pass them first (with
        an account attached, fills put exits first anyway).

        Args:
            assets: Integer positions in `assets` (the broker's column order), shape ``(k,)``.
            quantities: Signed quantities (+ buy, - sell), shape ``(k,)``; each finite and
                non-zero (drop zeros before calling).
            order_type: MARKET (default), MARKET_ON_OPEN or MARKET_ON_CLOSE.
            time_in_force: For all orders; GTD is not available here (it needs `expire_at`).
            tag: Carried into every order's events and fills.

        Returns:
            The orders, aligned to the inputs; `Order.order_id` is the id, `Order.status`
            is ACCEPTED or REJECTED (with `Order.reason`).

        Raises:
            InvalidQuantityError: A quantity is zero, NaN or infinite (nothing submitted).
            OrderError: An asset position is out of range, `assets` and `quantities`
                differ in length, or the order type / time in force is not allowed here
                (nothing submitted).

        Example:
            >>> import numpy as np
            >>> broker = SimulationBroker(["A", "B", "C"])
            >>> orders = broker.submit_many(np.array([2, 0]), np.array([-5.0, 10.0]))
            >>> [(o.order_id, o.asset, o.side.name, o.quantity) for o in orders]
            [(1, 'C', 'SELL', 5.0), (2, 'A', 'BUY', 10.0)]
        """
        self._settle_block()
        idx = np.asarray(assets, dtype=np.int64).ravel()
        qty = np.asarray(quantities, dtype=np.float64).ravel()
        if idx.shape != qty.shape:
            raise OrderError(
                f"`assets` ({idx.size}) and `quantities` ({qty.size}) must have the same length"
            )
        order_type = OrderType(order_type)
        time_in_force = TimeInForce(time_in_force)
        if order_type not in _PRICELESS:
            raise OrderError(
                f"submit_many takes MARKET, MARKET_ON_OPEN or MARKET_ON_CLOSE orders, was "
                f"{order_type.name}; submit priced orders one by one with submit()"
            )
        if time_in_force is _TimeInForce_GTD:
            raise OrderError("submit_many cannot place GTD orders (they need `expire_at`)")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.assets)):
            raise OrderError(
                f"asset positions must be in [0, {len(self.assets)}), were "
                f"{int(idx.min())}..{int(idx.max())}"
            )
        bad = ~np.isfinite(qty) | (qty == 0.0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidQuantityError(
                f"invalid quantity for {self.assets[int(idx[k])]!r} (entry {k}): must be "
                f"finite and non-zero (the sign is the side), was {float(qty[k])!r}"
            )
        names = self.assets
        if not idx.size:
            return []
        trusted = Order._trusted  # arguments checked above
        out: list[Order] = []
        append = out.append
        # `_submit` for orders without links, inlined: what it does per order is done here
        # in the same order; what is the same for the whole batch (phase, eligibility) once.
        t = self._t
        eligible = t + 1
        phase = self._phase_of(
            trusted(names[0], _OrderSide_BUY, 1.0, order_type, time_in_force, tag)
        )
        if phase == _PHASE_CLOSE and self.fill_timing is _FillTiming_SAME_BAR_CLOSE:
            eligible = t  # decided on bar t, fills at bar t's close
        buy, sell = _OrderSide_BUY, _OrderSide_SELL
        orders = self._orders
        emit = self._emit
        account = self.account
        asset_defs = self._asset_defs
        releasable = self._releasable
        now = self._now
        if self._rows:
            self._fold_rows()
        # What `validate_order` would decide, for the whole batch at once: the rounded
        # quantity of each entry, and which entries need the one-by-one check (it may
        # refuse them, or accept them only counting what working exits release).
        quantity, slow = self._batch_checks(idx, qty, order_type, time_in_force)
        quantity_l = quantity.tolist()
        slow_l = slow.tolist()
        ready: list[Order] = []  # accepted, slots not yet added (`_add_slots`)
        ready_a: list[int] = []
        record = self.record_events
        quiet: list[int] = []  # ids of orders accepted without events (record_events off)
        try:
            for k, (a, q) in enumerate(zip(idx.tolist(), qty.tolist(), strict=True)):
                if q > 0.0:
                    order = trusted(names[a], buy, q, order_type, time_in_force, tag)
                else:
                    order = trusted(names[a], sell, -q, order_type, time_in_force, tag)
                append(order)
                oid = self._next_id
                self._next_id = oid + 1
                order.order_id = oid
                orders[oid] = order
                order.created_at = now
                order.submit_bar = t
                order.status = _SUBMITTED
                if record or slow_l[k]:  # (quiet fast entries: in bulk at the end)
                    emit(order)
                if slow_l[k]:
                    if ready:  # the book as the one-by-one path has it (`_releasable`)
                        self._add_slots(ready, ready_a, eligible=eligible, phase=phase)
                        ready, ready_a = [], []
                    reason = validate_order(
                        order,
                        asset_defs[a],
                        account=account,
                        reference_price=self._last_close.item(a),
                        pending_position=0.0,
                        releasable=releasable,
                    )
                    if reason is not None:
                        self._reject(order, reason)
                        continue
                    order.status = _ACCEPTED
                    emit(order)
                    ready.append(order)
                    ready_a.append(a)
                    continue
                order.quantity = quantity_l[k]  # rounded to the lot, as validate_order
                order.status = _ACCEPTED
                if record:
                    emit(order)
                else:
                    quiet.append(oid)
                ready.append(order)
                ready_a.append(a)
        finally:
            if ready:
                self._add_slots(ready, ready_a, eligible=eligible, phase=phase)
            if quiet:  # `_emit` of SUBMITTED and ACCEPTED without events, for all at once
                self._updated.update(dict.fromkeys(quiet, now))
                self._changes += 2 * len(quiet)
        return out

    def submit_block(
        self, assets: npt.ArrayLike, quantities: npt.ArrayLike, *, tag: str = ""
    ) -> OrderBlock | None:
        """Submit GTC market orders on distinct assets as one block of columns, if it can.

        The same orders as ``submit_many(assets, quantities, tag=tag)`` (ids, rounding,
        acceptance), kept as columns until something needs them as `Order` objects: see
        `OrderBlock`. It applies to a book that is otherwise empty, a broker that records
        no order events, `FillTiming.NEXT_BAR_OPEN`, at least `BATCH_MIN` orders on
        distinct assets, each of which `submit_many` would accept unchanged but for lot
        rounding. Otherwise nothing is submitted and None is returned: call `submit_many`.

        Args:
            assets: Asset positions (into `assets`), distinct.
            quantities: Signed quantities (+ buy, - sell), finite and non-zero.
            tag: Tag of every order.

        Returns:
            The block, or None (nothing done).
        """
        idx = np.asarray(assets, dtype=np.int64).ravel()
        qty = np.asarray(quantities, dtype=np.float64).ravel()
        n = idx.shape[0]
        if (
            n < BATCH_MIN
            or self.record_events
            or self._slot_of  # (any order in the book, active or not)
            or self._block is not None
            or self._algos
            or self.fill_timing is not FillTiming.NEXT_BAR_OPEN
            or qty.shape != idx.shape
            or idx.min() < 0
            or idx.max() >= len(self.assets)
            or not np.isfinite(qty).all()
            or (qty == 0.0).any()
            or not all_distinct(idx, len(self.assets))
        ):
            return None
        if self._rows:
            self._fold_rows()
        quantity, slow = self._batch_checks(idx, qty, _OrderType_MARKET, _TimeInForce_GTC)
        if slow.any():
            return None  # some order needs `validate_order` one by one
        first = self._next_id
        self._next_id = first + n
        now = self._now
        t = self._t
        block = OrderBlock(
            self, first, idx, np.copysign(quantity, qty), tag, now, t, eligible=t + 1
        )
        # `_emit` of SUBMITTED and ACCEPTED for every order, without events
        self._updated.update(dict.fromkeys(range(first, first + n), now))
        self._changes += 2 * n
        self._block = block
        return block

    def _settle_block(self) -> None:
        # The pending block (if any) as the Order objects and slots `submit_many` makes:
        # before anything that reads or changes the book order by order.
        if self._block is not None:
            self._materialize(self._block)

    def _materialize(self, block: OrderBlock) -> None:
        # Turn `block` into the Order objects (and, while pending, the book slots) that
        # `submit_many` would have made; the orders then live as any other.
        if block.is_materialized:
            return
        orders = block.build_orders(self.assets)
        registry = self._orders
        for order in orders:
            registry[order.order_id] = order
        if block.is_pending:
            self._block = None
            self._add_slots(orders, block.rows.tolist(), eligible=block.eligible, phase=_PHASE_ANY)
        else:
            self._filled_blocks.remove(block)
        block.mark_materialized(orders)

    def _filled_block_of(self, order_id: int) -> OrderBlock | None:
        # The block filled as columns that holds `order_id`, if any.
        blocks = self._filled_blocks
        k = bisect.bisect_right([b.first_id for b in blocks], order_id) - 1
        if k >= 0 and order_id < blocks[k].first_id + len(blocks[k]):
            return blocks[k]
        return None

    def _fill_block(
        self, block: OrderBlock, open_: FloatArray, *, plain_bar: bool
    ) -> FillBlock | None:
        # Fill the pending block at this bar's open as columns, when every order fills in
        # full as the one-by-one path would (see `OrderBlock`); None (nothing done) else.
        t = self._t
        if not (plain_bar and t >= block.eligible and self._batch_fills and batch_applies(self)):
            return None
        a = block.rows
        base = open_[a]
        if np.isnan(base).any():
            return None  # an asset without a bar: its order keeps working
        n = a.shape[0]
        signed = block.signed
        self._pend_bp = 0.0  # (what a pass over a non-empty book starts with)
        self._pend_pos.fill(0.0)
        plan = plan_fills(self, a, base, np.abs(signed), np.sign(signed), block.ids)
        if plan is None or plan.cut < n:
            return None
        return self._book_block(block, plan)

    def _book_block(self, block: OrderBlock, plan: FillPlan) -> FillBlock:
        # `_batch_fill._book` for a block: the same broker state, without Order objects.
        self._pend_bp = float(plan.pend[-1])
        qty = plan.qty
        a = plan.a
        book_state(self, a, qty, qty * plan.sign)
        now = self._now
        ids = block.ids[plan.rank]
        slip_cost = plan.slip * qty * plan.mult
        self._updated.update(dict.fromkeys(ids.tolist(), now))
        self._changes += ids.shape[0]
        fill_price = np.empty(ids.shape[0])
        fill_price[plan.rank] = plan.price
        block.mark_filled(fill_price, now)
        self._block = None
        self._filled_blocks.append(block)
        return FillBlock(
            now,
            ids,
            a,
            self.assets,
            plan.sign,
            qty,
            plan.price,
            plan.ref,
            plan.comm,
            slip_cost,
            plan.mult,
            block.tag,
        )

    def _add_slots(
        self, orders: list[Order], assets: list[int], *, eligible: int, phase: int
    ) -> None:
        # `_add_slot` (active) for a batch of price-less orders that differ only in asset
        # and side: the same slots, in the same order, with the book columns set as arrays.
        k = len(orders)
        while len(self._free) < k:
            self._grow(self._cap * 2)
        free = self._free
        slots = free[-k:][::-1]  # the slots k `pop()` calls would return, in that order
        del free[-k:]
        slot_order = self._slot_order
        slot_of = self._slot_of
        for s, order in zip(slots, orders, strict=True):
            slot_order[s] = order
            slot_of[order.order_id] = s
        self._n_active += k
        model = orders[0]
        special = self._tally(model, phase, k)  # the same features for all of them
        flags = self._special
        for s in slots:
            flags[s] = special
        self._write_slots(
            np.array(slots, dtype=np.intp),
            assets,
            [int(o.side) for o in orders],
            model,
            phase=phase,
            eligible=eligible,
            active=True,
        )

    def _held(self, idx: npt.NDArray[np.int64]) -> FloatArray:
        # The account's position in the assets at positions `idx`: one gather from an
        # account whose `quantities` array follows the broker's asset order (a Portfolio on
        # the same assets), else one `position` call each.
        account = self.account
        assert account is not None
        if self._aligned_account:
            quantities = getattr(account, "quantities", None)
            if isinstance(quantities, np.ndarray):
                return np.asarray(quantities[idx], dtype=np.float64)
        names = self.assets
        return np.array([account.position(names[a]) for a in idx.tolist()], dtype=np.float64)

    def _batch_checks(
        self,
        idx: npt.NDArray[np.int64],
        qty: FloatArray,
        order_type: OrderType,
        time_in_force: TimeInForce,
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        # `validate_order` for price-less batch orders, as arrays: the quantity rounded down
        # to the lot, and a mask of the entries it must see itself (rounded to nothing, a
        # short sale to check, a buying-power check the account's array form refuses, an
        # account without that form). The others it would accept unchanged.
        n = idx.shape[0]
        q = np.abs(qty)
        lots = self._lot_arr[idx]
        rounded = q.copy()
        odd = np.flatnonzero((lots != 1.0) | (q != np.floor(q)))
        lot_list = self._lot
        for k in odd.tolist():
            rounded[k] = floor_to_step(float(q[k]), lot_list[int(idx[k])])
        slow = rounded <= 0.0
        if time_in_force not in ALLOWED_TIME_IN_FORCE[order_type]:
            return rounded, np.ones(n, dtype=np.bool_)
        account = self.account
        if account is None:
            return rounded, slow
        check_orders = getattr(account, "check_orders", None)
        if check_orders is None:
            return rounded, np.ones(n, dtype=np.bool_)
        names = self.assets
        held = self._held(idx)
        side = np.where(qty > 0.0, 1.0, -1.0)
        closing = np.where(held * side < 0.0, np.minimum(rounded, np.abs(held)), 0.0)
        opening = rounded - closing
        opens = ~slow & (opening > 0.0)
        shorts = (opens & (side < 0.0)).nonzero()[0]  # short sales
        if shorts.size:  # validate_order words any refusal
            slow[shorts[~self._short_allowed(idx[shorts])]] = True
        price = self._last_close[idx]
        check = np.flatnonzero(opens & ~slow & ~np.isnan(price))
        if check.size:
            ok = check_orders(
                idx[check] if self._account_rows else [names[a] for a in idx[check].tolist()],
                side[check],
                opening[check],
                price[check],
            )
            slow[check[~ok]] = True
        return rounded, slow

    def _short_allowed(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        # Per asset position: shortable by its definition and permitted by the account
        # (`can_short`, for all at once when the account takes asset rows).
        account = self.account
        assert account is not None
        allowed = self._shortable[idx]
        many = getattr(account, "can_short_many", None) if self._account_rows else None
        if many is not None:
            out: npt.NDArray[np.bool_] = allowed & many(idx)
            return out
        names = self.assets
        return np.array(
            [
                ok and account.can_short(names[a])
                for ok, a in zip(allowed.tolist(), idx.tolist(), strict=True)
            ],
            dtype=np.bool_,
        )

    def _submit(self, order: Order, *, eligible: int, pending_position: float) -> None:
        if order.status is not _CREATED:
            raise OrderError(f"{order!r} was already submitted; build a new order")
        oid = self._next_id
        self._next_id = oid + 1
        order.order_id = oid
        self._orders[oid] = order
        order.created_at = self._now
        order.submit_bar = self._t
        order.status = _SUBMITTED  # CREATED -> SUBMITTED is always allowed
        self._emit(order)
        a = self.asset_index.get(order.asset)
        reason: str | None
        if a is None:
            a = -1
            known = ", ".join(self.assets[:10])
            reason = f"asset {order.asset!r} is not traded by this broker (known: {known})"
        else:
            if self._rows:
                self._fold_rows()
            reason = None
            if order.size_fraction == order.size_fraction:  # (not NaN) sized at fill
                reason = self._estimate_sized(order, a)
            if reason is None:
                reason = validate_order(
                    order,
                    self._asset_defs[a],
                    account=self.account,
                    reference_price=self._last_close.item(a),
                    pending_position=pending_position,
                    releasable=self._releasable,
                )
        if reason is not None:
            self._reject(order, reason)
            return
        order.status = _ACCEPTED  # SUBMITTED -> ACCEPTED is always allowed
        self._emit(order)
        phase = self._phase_of(order)
        if (
            phase == _PHASE_CLOSE
            and eligible == self._t + 1
            and self.fill_timing is _FillTiming_SAME_BAR_CLOSE
        ):
            eligible = self._t  # decided on bar t, fills at bar t's close
        parent = order.parent
        is_child = parent is not None and parent.status is not _FILLED
        if order.order_type is _OrderType_TRAILING_STOP and not is_child:
            self._init_trailing(order)
        self._add_slot(order, active=not is_child, eligible=eligible, a=a, phase=phase)
        for child in order.children:
            self._submit(child, eligible=_NEVER, pending_position=order.quantity * int(order.side))

    def _estimate_sized(self, order: Order, a: int) -> str | None:
        # An order sized at fill: its provisional quantity, sized as `_size_at_fill` would
        # at the last close (at least one lot); a reason when it cannot work here.
        if self.account is None:
            return (
                f"an order sized at fill ({order.asset!r}) needs an account to size it from; "
                "give the broker an `account` or order a quantity"
            )
        if order.order_type is not _OrderType_MARKET:
            return "only market orders can be sized at fill"
        lot = self._lot[a]
        price = self._last_close.item(a)
        estimate = 0.0
        if price > 0.0:  # (False for NaN)
            mult = self._mult_list[a]
            unit = self._bp_margin[a] or price * mult
            budget = order.size_fraction * self.account.buying_power()
            estimate = self._affordable(budget, unit, price, mult, lot, 0.0, False)
        order.quantity = max(estimate, lot)
        return None

    def _size_at_fill(self, order: Order, a: int, ref: float, volume: float) -> float | None:
        # The quantity of an order sized at fill: the most whole lots that `size_fraction`
        # of the buying power now available (fills earlier in this pass included) pays for
        # at this fill's price, slippage and commission included; None (order canceled)
        # when not even one lot fits.
        account = self.account
        assert account is not None  # checked on submission
        lot = self._lot[a]
        mult = self._mult_list[a]
        margin = self._bp_margin[a]
        budget = order.size_fraction * self._available()
        limited = order.order_type in _LIMITED
        side = int(order.side)
        qty = order.quantity
        slip, temp, perm = self._costs(order, ref, qty, a, volume, limited)
        price = ref + side * (slip + temp + perm)
        qty = self._affordable(budget, margin or price * mult, price, mult, lot, 0.0, False)
        while qty > 0.0:  # costs that grow with the quantity: step down to what fits
            slip, temp, perm = self._costs(order, ref, qty, a, volume, limited)
            price = ref + side * (slip + temp + perm)
            if qty * (margin or price * mult) + self._commission(qty, price, mult, False) <= (
                budget
            ):
                break
            qty = floor_to_step(qty - lot, lot)
        if qty <= 0.0:
            self._finish(
                order,
                _OrderStatus_CANCELED,
                f"sized at fill: {order.size_fraction:g} of the buying power ({budget:.2f} of "
                f"it) does not pay for one lot of {order.asset!r} at {price:g}",
            )
            return None
        order.quantity = qty
        return qty

    def _affordable(  # noqa: PLR0917 - internal, positional
        self,
        budget: float,
        unit: float,
        price: float,
        mult: float,
        lot: float,
        closing: float,
        maker: bool,
    ) -> float:
        # The most whole lots q with q * unit + commission(closing + q) <= budget.
        return floor_to_step(
            fee_inclusive_quantity(
                budget, unit, lambda q: self._commission(closing + q, price, mult, maker)
            ),
            lot,
        )

    def _available(self) -> float:
        # Buying power now: the account's, plus the effect of this pass's fills it has not
        # booked. With an account that reports its exact fill effects, start from its
        # unfloored value (a deficit must be made up before anything is available).
        account = self.account
        assert account is not None
        if self._exact_bp:
            raw: float = account.raw_buying_power()  # type: ignore[attr-defined]
            return max(raw + self._pend_bp, 0.0)
        return account.buying_power() + self._pend_bp

    def _releasable(self) -> float:
        # Value that working exit orders free when they fill (at limit/stop/last close).
        if self.account is None:
            return 0.0
        if self._rows:
            self._fold_rows()
        total = 0.0
        for order in self._slot_order:
            if order is None or not order.is_working:
                continue
            s = self._slot_of[order.order_id]
            if not self._s_active[s]:
                continue
            held = self.account.position(order.asset)
            if held * int(order.side) >= 0:
                continue
            a = int(self._s_asset[s])
            price = order.limit_price
            if math.isnan(price):
                price = order.stop_price
            if math.isnan(price):
                price = float(self._last_close[a])
            if not math.isnan(price):
                total += min(order.remaining, abs(held)) * price * float(self._multiplier[a])
        return total

    def _reject(self, order: Order, reason: str) -> None:
        order.transition(_OrderStatus_REJECTED, reason)
        self._emit(order)
        for child in order.children:
            if child.status is _OrderStatus_CREATED:
                child.order_id = self._next_id
                self._next_id += 1
                self._orders[child.order_id] = child
                child.transition(_OrderStatus_REJECTED, f"parent order {order.order_id} rejected")
                self._emit(child)

    def submit_algo(self, algo: ExecutionAlgorithm) -> ExecutionAlgorithm:
        """Start `algo`; its first child is sent on the next bar. Return it with its id.

        Raises:
            OrderError: Unknown asset or the algorithm was already submitted.
        """
        if algo.algo_id:
            raise OrderError(f"{algo!r} was already submitted")
        self._settle_block()
        if algo.asset not in self.asset_index:
            raise OrderError(f"asset {algo.asset!r} is not traded by this broker")
        algo.algo_id = self._next_algo_id
        self._next_algo_id += 1
        algo.steps = 0
        self._algos[algo.algo_id] = algo
        algo.start_bar = self._t + 1
        return algo

    def cancel_algo(self, algo_id: int) -> None:
        """Stop an algorithm and cancel its working child."""
        algo = self._algos.pop(algo_id, None)
        if algo is None:
            raise OrderError(f"no running algorithm with id {algo_id}")
        algo.stop("canceled by user")
        for child in algo.children:
            if child.is_working:
                self._finish(child, OrderStatus.CANCELED, "algorithm canceled")

    def cancel(self, order_id: int) -> bool:
        """Cancel a working order; return False when it had already ended.

        An OTO parent cancelled with nothing filled cancels its children; one partly
        filled releases them for the filled quantity. OCO siblings stay working.

        Raises:
            OrderError: No order has `order_id`.
        """
        order = self._get(order_id)
        if order.is_terminal:
            return False
        self._finish(order, OrderStatus.CANCELED, "canceled by user")
        return True

    def _get(self, order_id: int) -> Order:
        # (any order of a block is wanted as an object: the pending block becomes objects
        # first, so that cancel/modify/get_order act on the book as `submit_many` left it)
        self._settle_block()
        order = self._orders.get(order_id)
        if order is None:
            block = self._filled_block_of(order_id)
            if block is not None:
                self._materialize(block)
                order = self._orders.get(order_id)
        if order is None:
            raise OrderError(f"no order with id {order_id}; ids come from submit()")
        return order

    def get_order(self, order_id: int) -> Order:
        """Return the order with `order_id` (any status).

        Raises:
            OrderError: No order has `order_id`.
        """
        return self._get(order_id)

    def modify(
        self,
        order_id: int,
        *,
        quantity: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> Order:
        """Change a working order's total quantity, limit or stop; return it.

        The new quantity rounds down to the lot and must exceed what is already filled;
        prices round to the tick in the order's less aggressive direction.

        Raises:
            OrderError: No order has `order_id`.
            OrderRejectedError: The order has ended, or a new value is invalid.
        """
        order = self._get(order_id)
        if order.is_terminal:
            raise OrderRejectedError(
                f"order {order_id} is {order.status.name}; only working orders can be modified",
                order_id=order_id,
            )
        asset = self._asset_defs[self.asset_index[order.asset]]
        buy = order.side is OrderSide.BUY
        changes = []
        if quantity is not None:
            q = floor_to_step(float(quantity), asset.lot_size)
            if not (math.isfinite(q) and q > order.filled_quantity):
                raise OrderRejectedError(
                    f"order {order_id}: new `quantity` {quantity!r} must exceed the filled "
                    f"{order.filled_quantity:g} after rounding to lot {asset.lot_size}",
                    order_id=order_id,
                )
            order.quantity = q
            changes.append(f"quantity={q:g}")
        for name, value, needs in (
            ("limit_price", limit_price, _LIMITED),
            ("stop_price", stop_price, (OrderType.STOP, OrderType.STOP_LIMIT)),
        ):
            if value is None:
                continue
            if order.order_type not in needs:
                raise OrderRejectedError(
                    f"order {order_id} is {order.order_type.name}; it has no `{name}`",
                    order_id=order_id,
                )
            if not (math.isfinite(value) and value > 0.0):
                raise OrderRejectedError(
                    f"order {order_id}: `{name}` must be finite and > 0, was {value!r}",
                    order_id=order_id,
                )
            down = buy if name == "limit_price" else not buy
            rounded = (floor_to_step if down else ceil_to_step)(value, asset.tick_size)
            setattr(order, name, rounded)
            changes.append(f"{name}={rounded:g}")
        s = self._slot_of.get(order_id)
        if s is not None:
            self._sync_slot(s, order)
        order.reason = "modified: " + ", ".join(changes) if changes else order.reason
        self._emit(order)
        return order

    @property
    def active_order_count(self) -> int:
        """Return how many orders are live in the book (inactive OTO children excluded)."""
        block = self._block
        return self._n_active if block is None else self._n_active + len(block)

    def open_orders(self, asset: AssetId | None = None) -> list[Order]:
        """Return working orders (ACCEPTED or PARTIALLY_FILLED), oldest first.

        Inactive OTO children are included (they are ACCEPTED).
        """
        self._settle_block()
        out = [
            o
            for o in self._slot_order
            if o is not None and o.is_working and (asset is None or o.asset == asset)
        ]
        out.sort(key=lambda o: o.order_id)
        return out

    # -- ending orders --------------------------------------------------------------------

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        # Cancel / expire / reject a working order (PARTIALLY_FILLED cannot be REJECTED).
        if status is _OrderStatus_REJECTED and order.status is _OrderStatus_PARTIALLY_FILLED:
            status = _OrderStatus_CANCELED
        order.transition(status, reason)
        self._remove_slot(order)
        self._emit(order)
        self._release_children(order, fill_at_open=False)

    def _release_children(self, order: Order, *, fill_at_open: bool) -> None:
        # Activate OTO children once the parent is done; cut them to the filled quantity.
        if not order.children:
            return
        filled = order.filled_quantity
        for child in order.children:
            if not child.is_working:
                continue
            if filled <= 0.0:
                self._finish(
                    child,
                    _OrderStatus_CANCELED,
                    f"parent order {order.order_id} {order.status.name} without a fill",
                )
                continue
            if child.quantity > filled and child.filled_quantity < filled:
                child.quantity = filled
                s = self._slot_of.get(child.order_id)
                if s is not None:
                    self._sync_slot(s, child)
            self._activate(child, self._t if fill_at_open else self._t + 1)

    def _reduce_oco(self, order: Order, quantity: float) -> None:
        note = self._intrabar_notes.pop(order.order_id, "")
        for sibling in order.oco:
            if not sibling.is_working:
                continue
            new_qty = sibling.quantity - quantity
            if new_qty <= sibling.filled_quantity + 1e-12:
                why = f"OCO: order {order.order_id} filled" + (f"; {note}" if note else "")
                self._finish(sibling, OrderStatus.CANCELED, why)
            else:
                sibling.quantity = new_qty
                sibling.reason = f"OCO: reduced by {quantity:g} filled on order {order.order_id}"
                self._emit(sibling)

    # -- bars -----------------------------------------------------------------------------

    def _start_bar(self, t: int, timestamp: Timestamp) -> None:
        # `_used` / `_shift` restart at zero every bar (bar indices increase by call); they
        # are zeroed when the first fill of the bar needs them (`_fill`), not here.
        self._t = t
        self._now = timestamp

    def _fold_rows(self) -> None:
        # Apply the pending bar rows to `_last_close` (and the EWMA statistics), in order.
        rows = self._rows
        self._rows = []
        plain = not self._rows_stats  # (counted as the rows were added)
        self._rows_stats = 0
        if plain:
            # Only the last close per asset matters: walk back from the newest row and stop
            # once every asset has one (the same values an in-order replay leaves).
            newest, close_, _ = rows[-1]
            close = np.asarray(close_, dtype=np.float64)
            full = not np.isnan(close).any() if newest is None else np.isfinite(close).all()
            if full and close.shape == self._last_close.shape:  # the common case: one copy
                self._last_close[:] = close
                return
            todo: npt.NDArray[np.bool_] | None = None
            for impact, close_, _ in reversed(rows):
                close = np.asarray(close_, dtype=np.float64)
                ok = ~np.isnan(close) if impact is None else np.isfinite(close)
                take = ok if todo is None else ok & todo
                self._last_close[take] = close[take]
                todo = ~ok if todo is None else todo & ~ok
                if not todo.any():
                    break
            return
        for impact, close_, volume_ in rows:
            close = np.asarray(close_, dtype=np.float64)
            if impact is None:  # from process_close
                finite = ~np.isnan(close)
                self._last_close[finite] = close[finite]
            elif isinstance(impact, NoImpact):
                finite = np.isfinite(close)
                self._last_close[finite] = close[finite]
            else:
                self._update_stats(close, np.asarray(volume_, dtype=np.float64))

    def _push_row(
        self, impact: ImpactModel | None, close: npt.ArrayLike, volume: npt.ArrayLike | None
    ) -> None:
        rows = self._rows
        rows.append((impact, close, volume))
        if impact is not None and not isinstance(impact, NoImpact):
            self._rows_stats += 1
        if len(rows) >= _MAX_ROWS:
            self._fold_rows()

    def process_bar(  # noqa: PLR0917 - positional bar rows, as in the contract
        self,
        t: int,
        timestamp: Timestamp,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
        *,
        bid: FloatArray | None = None,
        ask: FloatArray | None = None,
        fill_price: FloatArray | None = None,
        session_start: bool = True,
    ) -> list[FillEvent] | FillBlock:
        """Match working orders against bar `t`; call at the start of the bar.

        Args:
            t: Bar index, increasing by call.
            timestamp: Bar time (int ns).
            open: Bar rows aligned to `assets` (NaN where an asset has no bar).
            high: Bar highs.
            low: Bar lows.
            close: Bar closes (used after matching, for trailing stops, stats and checks).
            volume: Bar volumes (volume cap, slippage and impact inputs).
            bid: Quote bids; with `ask`, market buys fill at the ask, sells at the bid.
            ask: Quote asks.
            fill_price: Market-order prices under `FillTiming.PRICE_COLUMN` (NaN: open).
            session_start: False for intraday bars after the first of a session (opening
                auction orders wait for the next session).

        Returns:
            The fills, in execution order: a list, or a `FillBlock` (a sequence of the
            same fills, with their columns) when an order block of `submit_block` filled
            as columns.

        With no working order and no running algorithm this returns at once: the rows are
        kept (by reference: do not modify them in place afterwards) and folded into the
        last closes and statistics only when an order needs them.
        """
        self._t = t
        self._now = timestamp
        self._volume = volume  # converted to float64 by the slow path
        if self.slippage_cap_to_bar:  # the closing auction of this bar caps at its high/low
            self._bar_rows = (t, high, low)
        block = self._block
        if block is not None:  # a rebalance submitted as columns (`submit_block`)
            filled = self._fill_block(
                block, np.asarray(open, dtype=np.float64), plain_bar=bid is None and ask is None
            )
            if filled is not None:
                self._push_row(self.impact, close, volume)
                return filled
            self._materialize(block)  # filled order by order, as `submit_many`'s orders
        if not self._n_active and not self._algos:
            rows = self._rows
            impact = self.impact
            rows.append((impact, close, volume))
            if not isinstance(impact, NoImpact):
                self._rows_stats += 1
            if len(rows) >= _MAX_ROWS:
                self._fold_rows()
            return []
        if self._rows and type(self.impact) is not NoImpact:
            # the impact model reads the statistics; otherwise the rows stay pending (what
            # reads `_last_close` folds them first)
            self._fold_rows()
        open = np.asarray(open, dtype=np.float64)
        high = np.asarray(high, dtype=np.float64)
        low = np.asarray(low, dtype=np.float64)
        close = np.asarray(close, dtype=np.float64)
        volume = np.asarray(volume, dtype=np.float64)
        self._volume = volume
        fills: list[FillEvent] = []
        if self._algos:
            self._spawn_children(at_close=False)
        if self._n_active:
            self._pend_bp = 0.0
            self._pend_pos.fill(0.0)
            if self._n_gtd:
                self._expire_gtd(timestamp)
            slots = self._slot_of  # every order in the book (free slots are inactive)
            if len(slots) <= _FEW_SLOTS:
                # a few orders (a one-asset strategy): the mask below, slot by slot
                active, elig, phase = self._s_active, self._s_elig, self._s_phase
                idx = np.array(
                    sorted(
                        s
                        for s in slots.values()
                        if active.item(s)
                        and elig.item(s) <= t
                        and phase.item(s) != _PHASE_CLOSE
                        and (session_start or phase.item(s) != _PHASE_OPEN)
                    ),
                    dtype=np.intp,
                )
            else:
                n = self._cap
                mask = (
                    self._s_active[:n]
                    & (self._s_elig[:n] <= t)
                    & (self._s_phase[:n] != _PHASE_CLOSE)
                )
                if not session_start:
                    mask &= self._s_phase[:n] != _PHASE_OPEN
                idx = mask.nonzero()[0]  # 1-D: flatnonzero without its ravel
            if idx.size:
                market = open
                if self.fill_timing is _FillTiming_PRICE_COLUMN and fill_price is not None:
                    market = np.where(np.isnan(fill_price), open, fill_price)
                fills.extend(
                    self._pass(idx, open, high, low, close, market, bid, ask, auction=False)
                )
                # children released by a fill at this bar's open see the rest of the bar
                # (only `_activate` makes a slot eligible at `t` during the pass)
                n = self._cap
                if self._activated_t == t:
                    again = np.flatnonzero(
                        self._s_active[:n]
                        & (self._s_elig[:n] == t)
                        & (self._s_phase[:n] == _PHASE_ANY)
                    )
                    again = again[~np.isin(again, idx)]
                else:
                    again = idx[:0]
                if again.size:
                    fills.extend(
                        self._pass(again, open, high, low, close, market, bid, ask, auction=False)
                    )
                if self.trail_reference is TrailReference.CLOSE:
                    self._after_bar_trailing(close, close)
                else:
                    self._after_bar_trailing(high, low)
        self._push_row(self.impact, close, volume)
        return fills

    def process_close(
        self,
        t: int,
        timestamp: Timestamp,
        close: FloatArray,
        volume: FloatArray | None = None,
        *,
        bid: FloatArray | None = None,
        ask: FloatArray | None = None,
        session_end: bool = True,
    ) -> list[FillEvent]:
        """Fill close-phase orders at bar `t`'s close; call after the strategy phase.

        Fills market orders under SAME_BAR_CLOSE (submitted on bar ``t`` or before) and
        NEXT_BAR_CLOSE (submitted before ``t``), market-on-close and CLS orders (submitted
        before ``t``, or on ``t`` under SAME_BAR_CLOSE), and under SAME_BAR_CLOSE checks
        limit/stop orders submitted on ``t`` against the close. Auction remainders expire;
        with `session_end`, DAY orders that have been working this session expire.

        Args:
            t: Bar index (the same as the preceding `process_bar`).
            timestamp: Time of the close (int ns).
            close: Closes aligned to `assets`.
            volume: Bar volumes (default: those given to `process_bar`).
            bid: Closing bids.
            ask: Closing asks.
            session_end: True when this bar ends a trading session (always for daily bars).

        Returns:
            The fills, in execution order.
        """
        if t != self._t:
            self._start_bar(t, timestamp)
            if volume is None:
                self._volume = np.full(len(self.assets), np.nan)
        self._now = timestamp
        if volume is not None:
            self._volume = volume
        if self._block is not None:  # its orders wait in the book: a pass starts afresh
            self._pend_bp = 0.0
            self._pend_pos.fill(0.0)
        if not self._n_active and not self._algos:
            rows = self._rows
            rows.append((None, close, None))
            if len(rows) >= _MAX_ROWS:
                self._fold_rows()
            return []
        if self._rows and type(self.impact) is not NoImpact:  # as in process_bar
            self._fold_rows()
        close = np.asarray(close, dtype=np.float64)
        if volume is not None:
            self._volume = np.asarray(volume, dtype=np.float64)
        fills: list[FillEvent] = []
        if self._algos:
            self._spawn_children(at_close=True)
        if self._n_active:
            self._pend_bp = 0.0
            self._pend_pos.fill(0.0)
            if self._n_gtd:
                self._expire_gtd(timestamp)
            same_bar = self.fill_timing is _FillTiming_SAME_BAR_CLOSE
            if self._n_close or same_bar:
                n = self._cap
                active = self._s_active[:n]
                phase = self._s_phase[:n]
                mask = active & (phase == _PHASE_CLOSE) & (self._s_elig[:n] <= t)
                if same_bar:
                    mask |= active & (phase == _PHASE_ANY) & (self._s_submit[:n] == t)
                idx = mask.nonzero()[0]
                if idx.size:
                    fills.extend(
                        self._pass(idx, close, close, close, close, close, bid, ask, auction=True)
                    )
            if session_end and self._n_day:
                n = self._cap
                day = np.flatnonzero(
                    self._s_active[:n]
                    & (self._s_tif[:n] == int(_TimeInForce_DAY))
                    & (self._s_elig[:n] <= t)
                )
                for s in day.tolist():
                    order = self._slot_order[s]
                    if order is not None:
                        self._finish(
                            order, _OrderStatus_EXPIRED, "DAY order expired at session end"
                        )
        self._push_row(None, close, None)
        return fills

    def _close_timing(self) -> bool:
        return self.fill_timing in (FillTiming.SAME_BAR_CLOSE, FillTiming.NEXT_BAR_CLOSE)

    def _expire_gtd(self, timestamp: Timestamp) -> None:
        n = self._cap
        gone = np.flatnonzero(self._s_active[:n] & (self._s_expire[:n] < timestamp))
        for s in gone.tolist():
            order = self._slot_order[s]
            if order is not None:
                self._finish(order, OrderStatus.EXPIRED, "GTD order passed its expire_at")

    def _spawn_children(self, *, at_close: bool) -> None:
        # Market children go out at the phase where market orders fill; limit children at bars.
        for algo_id, algo in list(self._algos.items()):
            if algo.done:
                del self._algos[algo_id]
                continue
            closing = algo.uses_market_orders and self._close_timing()
            if closing != at_close:
                continue
            if self._t < algo.start_bar:
                continue
            if any(c.is_working for c in algo.children):
                continue
            child = algo.next_child()
            if child is None:
                continue
            self._submit(child, eligible=self._t, pending_position=0.0)
            self._algo_of[child.order_id] = algo
            if child.status is OrderStatus.REJECTED:
                algo.stop(f"child order {child.order_id} rejected: {child.reason}")
            else:
                s = self._slot_of[child.order_id]
                self._s_submit[s] = self._t - 1  # decided before this bar
                if self._s_phase[s] == _PHASE_CLOSE:
                    self._s_elig[s] = self._t

    def _after_bar_trailing(self, high: FloatArray, low: FloatArray) -> None:
        if not self._n_trailing:
            return
        n = self._cap
        idx = np.flatnonzero(
            self._s_active[:n] & (self._s_type[:n] == int(OrderType.TRAILING_STOP))
        )
        if not idx.size:
            return
        a = self._s_asset[idx]
        ref, level = _kernels().update_trailing_nb(
            self._s_side[idx],
            self._s_ref[idx],
            self._s_amount[idx],
            self._s_pct[idx],
            high[a],
            low[a],
        )
        self._s_ref[idx] = ref
        self._s_stop[idx] = level
        for j, s in enumerate(idx.tolist()):
            order = self._slot_order[s]
            if order is not None:
                order.trail_reference = float(ref[j])
                order.stop_price = float(level[j])

    def _update_stats(self, close: FloatArray, volume: FloatArray) -> None:
        # One bar of an impact model's inputs: EWMA of volume and squared returns, last close.
        alpha = 2.0 / (_STATS_SPAN + 1.0)
        vol = volume * self.bars_per_day
        ok = np.isfinite(vol) & (vol >= 0)
        first = ok & np.isnan(self._adv)
        self._adv[first] = vol[first]
        upd = ok & ~first
        self._adv[upd] += alpha * (vol[upd] - self._adv[upd])
        with np.errstate(divide="ignore", invalid="ignore"):
            ret = np.log(close / self._prev_close)
        ok = np.isfinite(ret)
        sq = ret * ret * self.bars_per_day
        first = ok & np.isnan(self._var)
        self._var[first] = sq[first]
        upd = ok & ~first
        self._var[upd] += alpha * (sq[upd] - self._var[upd])
        finite = np.isfinite(close)
        self._prev_close[finite] = close[finite]
        self._last_close[finite] = close[finite]

    def set_market_stats(
        self,
        *,
        adv: npt.ArrayLike | None = None,
        volatility: npt.ArrayLike | None = None,
    ) -> None:
        """Override the per-asset average daily volume and daily volatility used by impact.

        Without this the broker keeps a 20-bar exponential average of ``volume *
        bars_per_day`` and of squared log returns (scaled to a day) from the bars it sees.
        """
        if self._rows:
            self._fold_rows()
        if adv is not None:
            self._adv = np.asarray(adv, dtype=np.float64).copy()
        if volatility is not None:
            v = np.asarray(volatility, dtype=np.float64)
            self._var = v * v

    # -- matching -------------------------------------------------------------------------

    def _pass(  # noqa: PLR0917
        self,
        idx: npt.NDArray[np.intp],
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        market: FloatArray,
        bid: FloatArray | None,
        ask: FloatArray | None,
        *,
        auction: bool,
    ) -> list[FillEvent]:
        if self.slippage_cap_to_bar:
            rows = self._bar_rows
            if not auction:
                self._bar_hl = (np.asarray(high, np.float64), np.asarray(low, np.float64))
            elif rows is not None and rows[0] == self._t:  # the close: this bar's high/low
                self._bar_hl = (np.asarray(rows[1], np.float64), np.asarray(rows[2], np.float64))
            else:
                self._bar_hl = (close, close)
        if idx.size <= _SMALL_PASS and (bid is None or ask is None) and not self._n_trailing:
            # a small book without quotes or trailing stops: matched slot by slot in Python
            # (`match_order`, the kernel's twin; market types inlined as there)
            cands = self._match_small(idx.tolist(), open_, high, low, market, auction=auction)
            return self._fill_cands(cands, idx, open_, high, low, close, auction=auction)
        a = self._s_asset[idx]
        side = self._s_side[idx]
        phase = self._s_phase[idx]
        o = open_[a]
        h = high[a]
        lo = low[a]
        mkt = market[a]
        if bid is not None and ask is not None:
            mkt = quote_prices(side, bid[a], ask[a], mkt)
        is_open_auction = phase == _PHASE_OPEN
        if not auction and is_open_auction.any():
            h = np.where(is_open_auction, o, h)
            lo = np.where(is_open_auction, o, lo)
            mkt = np.where(is_open_auction, o, mkt)
        types = self._s_type[idx]
        trailing = types == int(_OrderType_TRAILING_STOP)
        if trailing.any() and self.trail_reference is TrailReference.EXTREME:
            # the open is known before the rest of the bar
            t_idx = idx[trailing]
            ref, level = _kernels().update_trailing_nb(
                self._s_side[t_idx],
                self._s_ref[t_idx],
                self._s_amount[t_idx],
                self._s_pct[t_idx],
                o[trailing],
                o[trailing],
            )
            self._s_ref[t_idx] = ref
            self._s_stop[t_idx] = level
        if _PRICELESS_LUT[types].all():
            # price-less orders only (a rebalance): `match_orders_nb`'s market branch as
            # arrays, so runs without priced orders never load numba
            price = np.where(np.isnan(mkt), o, mkt)
            price[np.isnan(o)] = np.nan
            code = np.where(np.isnan(o), 0, _MARKET).astype(np.int8)
        else:
            price, code = _kernels().match_orders_nb(
                side,
                types,
                self._s_limit[idx],
                self._s_stop[idx],
                self._s_trig[idx],
                o,
                h,
                lo,
                mkt,
            )
        # plain-int codes (comparing an array with an IntEnum member goes through the enum's
        # attribute lookups)
        armed = (code == _ARMED).nonzero()[0]
        for j in armed.tolist():
            s = int(idx[j])
            self._s_trig[s] = True
            order = self._slot_order[s]
            if order is not None:
                order.triggered = True
        hit = ((code == _MARKET) | (code == _GAP) | (code == _TOUCH)).nonzero()[0]
        cands = list(zip(idx[hit].tolist(), price[hit].tolist(), code[hit].tolist(), strict=True))
        return self._fill_cands(cands, idx, open_, high, low, close, auction=auction)

    def _match_small(
        self,
        slots: list[int],
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        market: FloatArray,
        *,
        auction: bool,
    ) -> list[tuple[int, float, int]]:
        # `_pass`'s matching for a few slots: the same prices and codes as `match_orders_nb`
        # on the gathered rows (opening-auction slots see only the open outside an auction);
        # armed stop-limits are flagged here, as there. Returns the fill candidates.
        s_asset, s_side, s_type, s_phase = self._s_asset, self._s_side, self._s_type, self._s_phase
        cands: list[tuple[int, float, int]] = []
        for s in slots:
            a = s_asset.item(s)
            o = open_.item(a)
            if math.isnan(o):
                continue  # no bar: NONE
            kind = s_type.item(s)
            only_open = not auction and s_phase.item(s) == _PHASE_OPEN
            if kind in _PRICELESS_INT:
                m = o if only_open else market.item(a)
                cands.append((s, o if math.isnan(m) else m, _MARKET))
                continue
            h, lo = (o, o) if only_open else (high.item(a), low.item(a))
            p, c = match_order(
                s_side.item(s),
                kind,
                self._s_limit.item(s),
                self._s_stop.item(s),
                self._s_trig.item(s),
                o,
                h,
                lo,
                o,
            )
            c = int(c)
            if c == _ARMED:
                self._s_trig[s] = True
                order = self._slot_order[s]
                if order is not None:
                    order.triggered = True
            elif c in _HIT:
                cands.append((s, p, c))
        return cands

    def _fill_cands(  # noqa: PLR0917
        self,
        cands: list[tuple[int, float, int]],
        idx: npt.NDArray[np.intp],
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        *,
        auction: bool,
    ) -> list[FillEvent]:
        fills: list[FillEvent] = []
        if len(cands) >= BATCH_MIN and self._batch_fills:
            batch = fill_market_batch(self, cands)
            if batch is not None:  # a rebalance's market orders, booked as arrays
                self._end_of_pass(idx, open_, auction=auction)
                return batch
        if cands:
            if len(cands) > 1:  # one candidate has no OCO sibling among them
                cands = self._resolve_oco(cands, open_, high, low, close, auction=auction)
            slot_order = self._slot_order
            keys: list[tuple[bool, int]] = []
            if len(cands) == 1:  # nothing to rank
                keys.append((False, 0))
            elif self.exit_first and self.account is not None:
                # exits first (as `_is_exit`), then by order id
                position = self.account.position
                pend = self._pend_pos
                s_asset = self._s_asset
                for cand in cands:
                    order = slot_order[cand[0]]
                    if order is None:
                        keys.append((True, 0))
                    else:
                        held = position(order.asset) + pend.item(s_asset.item(cand[0]))
                        keys.append((not held * int(order.side) < 0, order.order_id))
            else:
                for cand in cands:
                    order = slot_order[cand[0]]
                    keys.append((False, order.order_id if order is not None else 0))
            ranked = sorted(range(len(cands)), key=keys.__getitem__)  # stable, as list.sort
            fill_one = self._fill
            for k in ranked:
                s, p, c = cands[k]
                order = slot_order[s]
                if order is None or order.status not in _WORKING:
                    continue
                fill = fill_one(order, s, p, c, auction=auction)
                if fill is not None:
                    fills.append(fill)
        self._end_of_pass(idx, open_, auction=auction)
        return fills

    def _order_id(self, s: int) -> int:
        order = self._slot_order[s]
        return order.order_id if order is not None else 0

    def _is_exit(self, s: int) -> bool:
        order = self._slot_order[s]
        if order is None or self.account is None:
            return False
        a = int(self._s_asset[s])
        held = self.account.position(order.asset) + float(self._pend_pos[a])
        return held * int(order.side) < 0

    def _resolve_oco(
        self,
        cands: list[tuple[int, float, int]],
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        *,
        auction: bool,
    ) -> list[tuple[int, float, int]]:
        groups: dict[int, list[tuple[int, float, int]]] = {}
        for cand in cands:
            order = self._slot_order[cand[0]]
            if order is not None and order.oco:
                key = min(order.order_id, *(o.order_id for o in order.oco))
                groups.setdefault(key, []).append(cand)
        losers: set[int] = set()
        for members in groups.values():
            if len(members) < 2:
                continue
            winner = self._intrabar_winner(members, open_, high, low, close, auction=auction)
            others = [m[0] for m in members if m[0] != winner]
            losers.update(others)
            policy = "WORST_CASE" if auction else self.intrabar_policy.name
            ids = ", ".join(str(self._order_id(o)) for o in others)
            self._intrabar_notes[self._order_id(winner)] = (
                f"intrabar policy {policy} chose it over order(s) {ids} in the same bar"
            )
        return [c for c in cands if c[0] not in losers]

    def _intrabar_winner(
        self,
        members: list[tuple[int, float, int]],
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        *,
        auction: bool,
    ) -> int:
        def worst_key(m: tuple[int, float, int]) -> tuple[float, int]:
            # worst for the trader first: highest price for buys, lowest for sells
            return (-m[1] * int(self._s_side[m[0]]), self._order_id(m[0]))

        if self.intrabar_policy is IntrabarPolicy.WORST_CASE or auction:
            return min(members, key=worst_key)[0]
        a = int(self._s_asset[members[0][0]])
        path = intrabar_path(
            self.intrabar_policy, float(open_[a]), float(high[a]), float(low[a]), float(close[a])
        )
        timed = []
        for m in members:
            s = m[0]
            side = int(self._s_side[s])
            kind = int(self._s_type[s])
            if kind == OrderType.LIMIT or (kind == OrderType.STOP_LIMIT and self._s_trig[s]):
                level, above = float(self._s_limit[s]), side < 0
            elif kind in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP):
                level, above = float(self._s_stop[s]), side > 0
            else:
                level, above = float(open_[a]), True  # market: at the open
            timed.append((first_touch(level, above, path), worst_key(m), s))
        timed.sort()
        return timed[0][2]

    def _end_of_pass(self, idx: npt.NDArray[np.intp], open_: FloatArray, *, auction: bool) -> None:
        # IOC/FOK remainders are cancelled; auction remainders expire (assets with a bar).
        if not (self._n_ioc_fok or (self._n_close if auction else self._n_open)):
            return  # no such order in the book
        tif = self._s_tif[idx]
        phase = self._s_phase[idx]
        flag = np.isin(tif, _IOC_FOK)
        if auction:
            flag |= phase == _PHASE_CLOSE
        else:
            flag |= phase == _PHASE_OPEN
        flag &= ~np.isnan(open_[self._s_asset[idx]])
        for s in idx[flag].tolist():
            order = self._slot_order[s]
            if order is None or not order.is_working or not self._s_active[s]:
                continue
            if order.time_in_force in (_TimeInForce_IOC, _TimeInForce_FOK):
                left = order.remaining
                why = (
                    "FOK: not filled in full"
                    if order.time_in_force is _TimeInForce_FOK
                    else (f"IOC: unfilled remainder {left:g} canceled")
                )
                self._finish(order, _OrderStatus_CANCELED, why)
            elif self._s_phase[s] == _PHASE_CLOSE and (
                order.order_type is _OrderType_MARKET_ON_CLOSE
                or order.time_in_force is _TimeInForce_CLS
            ):
                self._finish(order, _OrderStatus_EXPIRED, "closing auction passed")
            elif self._s_phase[s] == _PHASE_OPEN:
                self._finish(order, _OrderStatus_EXPIRED, "opening auction passed")

    def _start_bar_fills(self) -> None:
        # `_used` / `_shift` restart at zero with the first fill of a bar.
        if self._zeroed_t != self._t:
            self._used.fill(0.0)
            self._shift.fill(0.0)
            self._zeroed_t = self._t

    def _fill(
        self, order: Order, s: int, base: float, code: int, *, auction: bool
    ) -> FillEvent | None:
        self._start_bar_fills()
        a = self._s_asset.item(s)
        mult = self._mult_list[a]
        side = int(order.side)
        lot = self._lot[a]
        volume = float(self._volume[a])
        qty = max(order.quantity - order.filled_quantity, 0.0)  # order.remaining
        if order.size_fraction == order.size_fraction and not order.filled_quantity:
            sized = self._size_at_fill(
                order, a, base + self._shift.item(a) if code != _TOUCH else base, volume
            )
            if sized is None:
                return None
            qty = sized
        if self.volume_limit is not None:
            avail = floor_to_step(self.volume_limit.max_quantity(volume) - self._used.item(a), lot)
            if avail < qty:
                if order.time_in_force is _TimeInForce_FOK:
                    self._finish(
                        order,
                        _OrderStatus_CANCELED,
                        f"FOK: only {max(avail, 0.0):g} of {qty:g} available under the volume cap",
                    )
                    return None
                if avail <= 0.0:
                    return None
                qty = avail
        ref = base + self._shift.item(a) if code != _TOUCH else base
        limited = order.order_type in _LIMITED
        maker = limited and code == _TOUCH
        slip, temp, perm = self._costs(order, ref, qty, a, volume, limited)
        price = ref + side * (slip + temp + perm)
        closing = opening = 0.0
        commission = math.nan  # not computed yet
        resized = False
        account = self.account
        if account is not None:
            held = account.position(order.asset) + self._pend_pos.item(a)
            closing = min(qty, abs(held)) if held * side < 0 else 0.0
            opening = qty - closing
            if opening > 0.0:
                asset = self._asset_defs[a]
                if side < 0 and not (asset.shortable and account.can_short(order.asset)):
                    self._finish(
                        order,
                        _OrderStatus_REJECTED,
                        f"short sale not permitted for {order.asset!r} at fill time "
                        f"(position {held:g}, sell {qty:g})",
                    )
                    return None
                have = self._available()
                comm = self._commission(qty, price, mult, maker)
                margin = self._bp_margin[a]  # futures: initial margin per contract, else 0
                need = opening * (margin or price * mult) + comm
                if need > have * (1.0 + 1e-12):
                    if self.funds_policy is _FundsPolicy_REJECT:
                        self._finish(
                            order,
                            _OrderStatus_REJECTED,
                            f"insufficient buying power at fill for {order.asset!r}: needs "
                            f"{need:.2f}, has {have:.2f}",
                        )
                        return None
                    if self.funds_policy is _FundsPolicy_RESIZE_FEE_INCLUSIVE:
                        afford = self._affordable(
                            have, margin or price * mult, price, mult, lot, closing, maker
                        )
                    else:
                        afford = floor_to_step(
                            max(have - comm, 0.0) / (margin or price * mult), lot
                        )
                    while afford > 0.0:
                        new_qty = closing + afford
                        slip, temp, perm = self._costs(order, ref, new_qty, a, volume, limited)
                        price = ref + side * (slip + temp + perm)
                        comm = self._commission(new_qty, price, mult, maker)
                        if afford * (margin or price * mult) + comm <= have:
                            break
                        afford = floor_to_step(afford - lot, lot)
                    if closing + afford <= 0.0:
                        self._finish(
                            order,
                            _OrderStatus_REJECTED,
                            f"insufficient buying power at fill for {order.asset!r}: "
                            f"not even one lot affordable with {have:.2f}",
                        )
                        return None
                    qty = closing + afford
                    opening = afford
                    slip, temp, perm = self._costs(order, ref, qty, a, volume, limited)
                    price = ref + side * (slip + temp + perm)
                    resized = True
                else:
                    commission = comm  # the same arguments as below: computed once
        if resized or math.isnan(commission):
            commission = self._commission(qty, price, mult, maker)
        order.record_fill(qty, price)
        self._month_volume += qty
        used = self._used
        used[a] = used.item(a) + qty  # `used[a] += qty` without a numpy scalar
        if perm:  # adding a zero changes nothing
            self._shift[a] += side * perm
        pend_pos = self._pend_pos
        if self._exact_bp:  # the account's own effect of the fill
            held = account.position(order.asset) + pend_pos.item(a)  # type: ignore[union-attr]
            self._pend_bp += account.buying_power_change(  # type: ignore[union-attr]
                order.asset, held, side * qty, price, commission
            )
        else:
            self._pend_bp += (closing - opening) * (self._bp_margin[a] or price * mult) - commission
        pend_pos[a] = pend_pos.item(a) + side * qty
        fill: FillEvent = _new_tuple(
            FillEvent,
            (
                self._now,
                order.order_id,
                order.asset,
                order.side,
                qty,
                price,
                ref,
                commission,
                slip * qty * mult,
                (temp + perm) * qty * mult,
                max(order.quantity - order.filled_quantity, 0.0),  # order.remaining
                mult,
                order.tag,
            ),
        )
        self._emit(order)
        if self._algo_of:
            algo = self._algo_of.get(order.order_id)
            if algo is not None:
                algo.on_fill(qty, price)
        if order.oco:
            self._reduce_oco(order, qty)
        if order.status is _FILLED:
            self._remove_slot(order)
            if self._algo_of:
                self._algo_of.pop(order.order_id, None)
            if order.children:
                at_open = (
                    not auction
                    and code in _AT_OPEN
                    and self.bracket_activation is BracketActivation.SAME_BAR
                )
                self._release_children(order, fill_at_open=at_open)
        elif resized:
            self._finish(
                order,
                _OrderStatus_CANCELED,
                f"resized to {qty:g} by buying power; remainder {order.remaining:g} canceled",
            )
        return fill

    def _costs(  # noqa: PLR0917
        self, order: Order, ref: float, qty: float, a: int, volume: float, limited: bool
    ) -> tuple[float, float, float]:
        slip = max(self.slippage.slippage(ref, qty, volume=volume), 0.0)
        impact = self.impact
        if type(impact) is NoImpact:  # zero impact; its statistics are not needed
            temp = perm = 0.0
        else:
            adv = self._adv.item(a)
            if math.isnan(adv):
                adv = volume * self.bars_per_day
            var = self._var.item(a)
            sigma = math.sqrt(var) if not math.isnan(var) else self.default_volatility
            imp = impact.impact(ref, qty, volume=volume, volatility=sigma, adv=adv)
            temp = max(imp.temporary, 0.0)
            perm = max(imp.permanent, 0.0)
        total = slip + temp + perm
        if limited and total > 0.0:
            allowed = max((order.limit_price - ref) * int(order.side), 0.0)
            if total > allowed:
                f = allowed / total
                slip, temp, perm = slip * f, temp * f, perm * f
        if order.side is _OrderSide_SELL and slip + temp + perm > ref:
            f = ref / (slip + temp + perm)
            slip, temp, perm = slip * f, temp * f, perm * f
        bounds = self._bar_hl
        if bounds is not None and self.slippage_cap_to_bar:
            total = slip + temp + perm
            side = int(order.side)
            bound = float(bounds[0][a] if side > 0 else bounds[1][a])
            allowed = max((bound - ref) * side, 0.0)  # NaN bound: no cap
            if total > allowed:
                f = allowed / total
                slip, temp, perm = slip * f, temp * f, perm * f
        return slip, temp, perm

    def _roll_month(self) -> None:
        # Keep `_month_volume` to the calendar month of `_now` (bounds: once per month).
        now = int(self._now)
        if not self._month_start <= now < self._month_end:
            month = np.datetime64(now, "ns").astype("datetime64[M]")
            self._month_start = int(month.astype("datetime64[ns]").astype(np.int64))
            self._month_end = int((month + 1).astype("datetime64[ns]").astype(np.int64))
            if int(month.astype(np.int64)) != self._month:
                self._month = int(month.astype(np.int64))
                self._month_volume = 0.0

    def _commission(self, qty: float, price: float, mult: float, maker: bool) -> float:
        self._roll_month()
        fee = self.commission.commission(
            qty, price, multiplier=mult, monthly_volume=self._month_volume, maker=maker
        )
        return max(float(fee), 0.0)

    # -- corporate actions ----------------------------------------------------------------

    def adjust_for_split(self, asset: AssetId, ratio: float) -> None:
        """Adjust open orders on `asset` for a split of `ratio` new shares per old share.

        Quantities (total and filled) multiply by `ratio` (rounded down to the lot), prices
        and trails divide by it (rounded to the tick, less aggressive direction); the
        broker's last close and volume statistics are adjusted too.

        Raises:
            ConfigError: `ratio` is not finite and > 0.
            OrderError: `asset` is not traded by this broker.
        """
        if not (math.isfinite(ratio) and ratio > 0.0):
            raise ConfigError(f"split `ratio` must be finite and > 0, was {ratio!r}")
        self._settle_block()
        a = self.asset_index.get(asset)
        if a is None:
            raise OrderError(f"asset {asset!r} is not traded by this broker")
        if self._rows:
            self._fold_rows()
        d = self._asset_defs[a]
        for order in self.open_orders(asset):
            buy = order.side is OrderSide.BUY
            order.quantity = floor_to_step(order.quantity * ratio, d.lot_size)
            order.filled_quantity = floor_to_step(order.filled_quantity * ratio, d.lot_size)
            if not math.isnan(order.average_fill_price):
                order.average_fill_price /= ratio
            if not math.isnan(order.limit_price):
                order.limit_price = (floor_to_step if buy else ceil_to_step)(
                    order.limit_price / ratio, d.tick_size
                )
            if not math.isnan(order.stop_price):
                if order.order_type is OrderType.TRAILING_STOP:
                    order.stop_price /= ratio
                else:
                    order.stop_price = (ceil_to_step if buy else floor_to_step)(
                        order.stop_price / ratio, d.tick_size
                    )
            if not math.isnan(order.trail_amount):
                order.trail_amount = max(order.trail_amount / ratio, d.tick_size)
            order.trail_reference /= ratio
            if order.quantity <= order.filled_quantity:
                self._finish(order, OrderStatus.CANCELED, f"split {ratio:g}: nothing left to fill")
                continue
            order.reason = f"adjusted for split ratio {ratio:g}"
            s = self._slot_of.get(order.order_id)
            if s is not None:
                self._sync_slot(s, order)
            self._emit(order)
        for arr in (self._last_close, self._prev_close):
            arr[a] /= ratio
        self._adv[a] *= ratio
