"""The `Portfolio`: positions, cash and the double-entry ledger that ties them together.

Positions live in numpy arrays indexed like `assets` (quantity, average cost, last price,
realized P&L, multiplier, currency); cash and the profit-and-loss accounts live in arrays
indexed by currency. Every event keeps, per currency ``c``, the ledger identity::

    cash_c + value_c + receivables_c - liabilities_c            (balance sheet)
        == capital_c + realized_c + unrealized_c + income_c - costs_c   (P&L ledger)

where ``value_c`` is the market value of the positions quoted in ``c`` (notional for stocks,
crypto, FX; open P&L for futures, see docs/architecture/0005-futures-accounting.md),
``receivables``/``liabilities`` are dividends between ex-date and pay date, ``capital`` the
deposits, ``income`` dividends and interest, ``costs`` commissions and borrow fees.
`check_invariant` verifies it. Equity is reported in the base currency::

    equity = sum_c fx_c * (cash_c + value_c + receivables_c - liabilities_c)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from ml4t.backtest.core.arrays import all_distinct
from ml4t.backtest.core.assets import Asset, AssetRegistry, Future
from ml4t.backtest.core.compiled import compiled_twins
from ml4t.backtest.core.enums import CorporateActionType, OrderSide
from ml4t.backtest.core.errors import ConfigError, UnknownAssetError
from ml4t.backtest.core.events import CorporateActionEvent, FillEvent
from ml4t.backtest.core.types import NS_PER_DAY, AssetId, Timestamp
from ml4t.backtest.execution.blocks import FillBlock
from ml4t.backtest.portfolio.accounts import (
    AccountPolicy,
    BorrowCosts,
    CashAccount,
    CryptoMargin,
    FuturesMargin,
    InterestRates,
    RegTMargin,
)
from ml4t.backtest.portfolio.corporate_actions import CorporateActionOutcome
from ml4t.backtest.portfolio.errors import LedgerInvariantError
from ml4t.backtest.portfolio.fx import FxRates
from ml4t.backtest.portfolio.margin import MarginCall, plan_liquidation
from ml4t.backtest.portfolio.positions import Position
from ml4t.backtest.portfolio.trades import LotMatching, TradeTracker

__all__ = ["Portfolio", "INVARIANT_TOLERANCE"]

INVARIANT_TOLERANCE = 1e-9  # relative tolerance of `check_invariant`
_ZERO = 1e-12  # relative size under which a position counts as closed
_BATCH_MIN = 8  # `apply_fills` books this many fills or more as arrays when it can
_EMPTY = np.zeros(0)
# Built-in policies are frozen dataclasses whose `short_block` depends on the asset alone.
_STATIC_POLICIES = (CashAccount, RegTMargin, FuturesMargin, CryptoMargin)


class Portfolio:
    """Positions, cash, account rules and the ledger of one trading account.

    Implements the execution layer's ``AccountView`` protocol (``cash``, ``equity``,
    ``position``, ``buying_power``, ``can_short``, ``check_order``).

    Args:
        assets: Asset ids, in the order of the price rows passed to `mark`.
        registry: Asset definitions (multiplier, currency, lot size, margins); plain USD
            equities when None.
        initial_cash: Starting cash in the base currency, >= 0.
        base_currency: Reporting currency.
        account: Account policy (`CashAccount` by default).
        borrow: Borrow fees and hard-to-borrow list for shorts.
        interest: Credit/debit interest on cash balances.
        settlement_days: Business days until sale proceeds settle (cash accounts only: until
            then they are not buying power).
        fx: FX rates for assets quoted in other currencies than the base.
        matching: Lot matching rule of the trade tracker.

    Example:
        >>> pf = Portfolio(["AAPL"], initial_cash=10_000.0)
        >>> pf.apply_fill(FillEvent(0, 1, "AAPL", OrderSide.BUY, 10.0, 100.0, commission=1.0))
        >>> pf.mark(1, np.array([110.0]))
        >>> pf.cash, pf.market_value, pf.equity
        (8999.0, 1100.0, 10099.0)
        >>> pf.check_invariant()
    """

    # `check_orders` and `buying_power_changes` also take asset rows (positions in
    # `assets`) as an integer array; a broker on the same assets passes those
    takes_asset_rows: ClassVar[bool] = True

    __slots__ = (
        "_account",
        "_asset_objs",
        "_assets",
        "_avg",
        "_borrow",
        "_borrow_rate",
        "_capital",
        "_cash",
        "_ccy",
        "_costs",
        "_currencies",
        "_fx",
        "_fx_rates",
        "_fx_set",
        "_has_borrow",
        "_has_futures",
        "_htb",
        "_income",
        "_index",
        "_init_pc",
        "_init_rate",
        "_interest",
        "_is_future",
        "_last",
        "_last_day",
        "_liabilities",
        "_lot",
        "_maint_pc",
        "_maint_rate",
        "_memo",
        "_mult",
        "_pending",
        "_qty",
        "_realized",
        "_receivables",
        "_settlement_days",
        "_short_blocked",
        "_short_ok",
        "_shortable",
        "_static",
        "_timestamp",
        "_unsettled",
        "base_currency",
        "totals",
        "tracker",
    )

    def __init__(
        self,
        assets: Sequence[AssetId],
        registry: AssetRegistry | None = None,
        *,
        initial_cash: float = 100_000.0,
        base_currency: str = "USD",
        account: AccountPolicy | None = None,
        borrow: BorrowCosts | None = None,
        interest: InterestRates | None = None,
        settlement_days: int = 0,
        fx: FxRates | None = None,
        matching: LotMatching = LotMatching.FIFO,
    ) -> None:
        if not math.isfinite(initial_cash) or initial_cash < 0.0:
            raise ConfigError(f"`initial_cash` must be finite and >= 0, was {initial_cash!r}")
        if settlement_days < 0:
            raise ConfigError(f"`settlement_days` must be >= 0, was {settlement_days!r}")
        self._assets = tuple(assets)
        if len(set(self._assets)) != len(self._assets):
            raise ConfigError("`assets` must not contain duplicates")
        self._index = {a: i for i, a in enumerate(self._assets)}
        reg = registry if registry is not None else AssetRegistry()
        objs: list[Asset] = [reg[a] for a in self._assets]
        self._asset_objs = tuple(objs)
        self.base_currency = base_currency
        self._account: AccountPolicy = account if account is not None else CashAccount()
        self._borrow = borrow if borrow is not None else BorrowCosts()
        self._interest = interest if interest is not None else InterestRates()
        self._settlement_days = int(settlement_days)
        currencies = [base_currency]
        for obj in objs:
            if obj.currency and obj.currency not in currencies:
                currencies.append(obj.currency)
        self._currencies = tuple(currencies)
        if len(currencies) > 1 and fx is None:
            raise ConfigError(
                f"assets are quoted in {currencies[1:]} but base currency is {base_currency!r}; "
                "pass fx=FxRates(...) with their rates"
            )
        self._fx_rates = fx
        c_index = {c: k for k, c in enumerate(currencies)}
        n = len(self._assets)
        n_ccy = len(currencies)
        self._ccy = np.array([c_index[o.currency or base_currency] for o in objs], dtype=np.int64)
        self._mult = np.array([o.multiplier for o in objs], dtype=np.float64)
        self._lot = np.array([o.lot_size for o in objs], dtype=np.float64)
        self._is_future = np.array([isinstance(o, Future) for o in objs], dtype=np.bool_)
        self._has_futures = bool(self._is_future.any())
        rates = [self._account.margin_rates(o) for o in objs]
        self._init_rate = np.array([r.initial_rate for r in rates])
        self._maint_rate = np.array([r.maintenance_rate for r in rates])
        self._init_pc = np.array([r.initial_per_contract for r in rates])
        self._maint_pc = np.array([r.maintenance_per_contract for r in rates])
        self._borrow_rate = np.array([self._borrow.rate(a) for a in self._assets])
        self._has_borrow = bool(self._borrow_rate.any())
        self._htb = np.array([a in self._borrow.hard_to_borrow for a in self._assets])
        self._shortable = np.array([o.shortable for o in objs], dtype=np.bool_)
        self._static: list[tuple[float, int, bool]] = list(
            zip(self._mult.tolist(), self._ccy.tolist(), self._is_future.tolist(), strict=True)
        )
        self._qty = np.zeros(n)
        self._avg = np.zeros(n)
        self._last = np.full(n, np.nan)
        self._realized = np.zeros(n)
        self._cash = np.zeros(n_ccy)
        self._capital = np.zeros(n_ccy)
        self._income = np.zeros(n_ccy)
        self._costs = np.zeros(n_ccy)
        self._receivables = np.zeros(n_ccy)
        self._liabilities = np.zeros(n_ccy)
        self._fx = np.ones(n_ccy)
        self._fx_set = n_ccy == 1
        if n_ccy > 1:
            self._fx[1:] = np.nan
        self._cash[0] = initial_cash
        self._capital[0] = initial_cash
        self._pending: list[tuple[int, int, float]] = []  # (pay ns, currency, signed amount)
        self._unsettled: list[tuple[int, int, float]] = []  # (settle ns, currency, amount)
        self._timestamp: int | None = None
        self._last_day: int | None = None
        # Account-level aggregates (equity, cash, requirements, buying power) computed since
        # the last change of state; every mutating method clears it, so a value read from it
        # is the one a fresh computation would give (bit for bit).
        self._memo: dict[str, float] = {}
        # Short permission per asset, when it cannot change (the built-in frozen policies).
        self._short_ok: list[str | None] | None = None
        self._short_blocked: npt.NDArray[np.bool_] | None = None  # the same, as an array
        if type(self._account) in _STATIC_POLICIES:
            self._short_ok = [self._short_block(i) for i in range(n)]
            self._short_blocked = np.array([r is not None for r in self._short_ok], dtype=np.bool_)
        mults = self._mult.tolist()
        self.tracker = TradeTracker(self._assets, matching=matching, multipliers=mults)
        self.totals: dict[str, float] = {
            "commission": 0.0,
            "borrow_fees": 0.0,
            "interest": 0.0,
            "dividends": 0.0,
            "traded_notional": 0.0,
        }

    # -- identity ------------------------------------------------------------------------
    @property
    def assets(self) -> tuple[AssetId, ...]:
        """Return the asset ids in array order."""
        return self._assets

    @property
    def currencies(self) -> tuple[str, ...]:
        """Return the currencies of the ledger, the base currency first."""
        return self._currencies

    @property
    def account(self) -> AccountPolicy:
        """Return the account policy."""
        return self._account

    @property
    def timestamp(self) -> Timestamp | None:
        """Return the time of the last `mark` (None before the first)."""
        return self._timestamp

    def _i(self, asset: AssetId) -> int:
        i = self._index.get(asset)
        if i is None:
            raise UnknownAssetError(
                f"asset {asset!r} is not in this portfolio's assets "
                f"({len(self._assets)} known); create the Portfolio with it"
            )
        return i

    # -- array views -----------------------------------------------------------------------
    @property
    def quantities(self) -> npt.NDArray[np.float64]:
        """Return signed quantities ``(A,)`` (a read-only view)."""
        view = self._qty.view()
        view.flags.writeable = False
        return view

    @property
    def last_prices(self) -> npt.NDArray[np.float64]:
        """Return last marked prices ``(A,)`` (a read-only view)."""
        view = self._last.view()
        view.flags.writeable = False
        return view

    def _fx_asset(self) -> npt.NDArray[np.float64]:
        return self._fx if self._fx.shape[0] == 1 else self._fx[self._ccy]

    def _notional_local(self) -> npt.NDArray[np.float64]:
        held = self._qty != 0.0
        return np.where(held, self._qty * self._last * self._mult, 0.0)

    def _value_local(self) -> npt.NDArray[np.float64]:
        if not self._has_futures:  # (the `where` below would pick the notional everywhere)
            return self._notional_local()
        held = self._qty != 0.0
        unreal = np.where(held, self._qty * (self._last - self._avg) * self._mult, 0.0)
        return np.where(self._is_future, unreal, self._notional_local())

    def notional(self) -> npt.NDArray[np.float64]:
        """Return signed notional exposure per asset in base currency ``(A,)``."""
        return self._notional_local() * self._fx_asset()

    def position_values(self) -> npt.NDArray[np.float64]:
        """Return the ledger value per asset in base currency ``(A,)`` (futures: open P&L)."""
        return self._value_local() * self._fx_asset()

    def unrealized_pnl(self) -> npt.NDArray[np.float64]:
        """Return unrealized P&L per asset in base currency ``(A,)``."""
        held = self._qty != 0.0
        local = np.where(held, self._qty * (self._last - self._avg) * self._mult, 0.0)
        return local * self._fx_asset()

    def realized_pnl(self) -> npt.NDArray[np.float64]:
        """Return realized P&L per asset (before commissions) in base currency ``(A,)``."""
        return self._realized * self._fx_asset()

    def valuation(
        self,
    ) -> tuple[float, float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return ``(equity, cash, notional, values)`` in base currency in one pass.

        `notional` and `values` are ``(A,)`` arrays as from `notional` and
        `position_values`; this is the cheap path for per-bar recorders.
        """
        notional_local = self._qty * self._last * self._mult
        notional_local[self._qty == 0.0] = 0.0
        if self._has_futures:
            unreal = self._qty * (self._last - self._avg) * self._mult
            value_local = np.where(self._is_future, unreal, notional_local)
            value_local[self._qty == 0.0] = 0.0
        else:
            value_local = notional_local
        if self._cash.shape[0] == 1:
            cash = self._cash.item(0)
            equity = (
                cash + self._receivables.item(0) - self._liabilities.item(0) + value_local.sum()
            )
            return float(equity), cash, notional_local, value_local
        fx = self._fx[self._ccy]
        return self.equity, self.cash, notional_local * fx, value_local * fx

    # -- AccountView ------------------------------------------------------------------------
    @property
    def cash(self) -> float:
        """Return cash in base currency (all currencies converted)."""
        if self._cash.shape[0] == 1:
            return self._cash.item(0)
        return float(self._cash @ self._fx)

    @property
    def market_value(self) -> float:
        """Return the ledger value of all positions in base currency."""
        return float(self.position_values().sum())

    @property
    def receivables(self) -> float:
        """Return dividends receivable (ex-date passed, not paid), base currency."""
        return float(self._receivables @ self._fx)

    @property
    def liabilities(self) -> float:
        """Return dividends payable by shorts (ex-date passed, not paid), base currency."""
        return float(self._liabilities @ self._fx)

    @property
    def equity(self) -> float:
        """Return ``cash + market_value + receivables - liabilities`` in base currency."""
        memo = self._memo
        value = memo.get("equity")
        if value is None:
            value = memo["equity"] = self._equity()
        return value

    def _equity(self) -> float:
        per_ccy = self._cash + self._receivables - self._liabilities
        local = self._value_local()
        if self._cash.shape[0] == 1:
            return float(per_ccy[0] + local.sum())
        by_ccy = np.bincount(self._ccy, weights=local, minlength=self._cash.shape[0])
        return float((per_ccy + by_ccy) @ self._fx)

    def position(self, asset: AssetId) -> float:
        """Return the signed quantity held of `asset` (0.0 when flat)."""
        i = self._index.get(asset)
        if i is None:
            i = self._i(asset)
        return self._qty.item(i)

    def unsettled_cash(self) -> float:
        """Return sale proceeds not yet settled, base currency."""
        if not self._unsettled:
            return 0.0
        return float(sum(amount * self._fx[c] for _, c, amount in self._unsettled))

    def initial_requirement(self) -> float:
        """Return the initial margin requirement of the open positions, base currency."""
        memo = self._memo
        value = memo.get("initial")
        if value is None:
            value = memo["initial"] = self._requirement(self._init_rate, self._init_pc)
        return value

    def maintenance_requirement(self) -> float:
        """Return the maintenance margin requirement of the open positions, base currency."""
        return self._requirement(self._maint_rate, self._maint_pc)

    def _requirement(
        self, rate: npt.NDArray[np.float64], per_contract: npt.NDArray[np.float64]
    ) -> float:
        if self._fx.shape[0] == 1 and not per_contract.any():
            # one currency (rate 1) and no per-contract margin: the terms that add nothing
            # (x * 1.0 and + 0.0) left out, the same number
            return float(np.abs(self._notional_local()) @ rate)
        fx = self._fx_asset()
        notional = np.abs(self._notional_local()) * fx
        return float(notional @ rate + (np.abs(self._qty) * fx) @ per_contract)

    def buying_power(self) -> float:
        """Return how much notional (base currency) a new position may still use.

        Cash account: settled cash, ``max(cash - unsettled, 0)``. Margin accounts:
        ``max(equity - initial_requirement, 0) / initial_rate`` (``2 x`` excess under
        Reg-T 50%; for futures compare the excess with the contract's initial margin).
        """
        memo = self._memo
        value = memo.get("buying_power")
        if value is None:
            value = max(self._available(), 0.0)
            if not self._account.is_cash_account:
                value /= self._account.default_initial_rate
            memo["buying_power"] = value
        return value

    def raw_buying_power(self) -> float:
        """Return `buying_power` before it is floored at zero (negative when short of it).

        A margin account below its initial requirement has ``excess / initial_rate < 0``;
        `buying_power` reports 0 then, this reports the deficit, which fills that reduce
        the requirement must make up first (the broker adds `buying_power_change` to it).
        """
        available = self._available()
        if self._account.is_cash_account:
            return available
        return available / self._account.default_initial_rate

    def can_short(self, asset: AssetId) -> bool:
        """Return True when a new short position in `asset` is permitted."""
        i = self._index.get(asset)
        if i is None:
            i = self._i(asset)
        if self._short_ok is not None:
            return self._short_ok[i] is None
        return self._short_block(i) is None

    def can_short_many(
        self, assets: Sequence[AssetId] | npt.NDArray[np.integer[Any]]
    ) -> npt.NDArray[np.bool_]:
        """Return `can_short` for each asset (False for an unknown one).

        Args:
            assets: Asset ids, or their positions in `assets` as an integer array.

        Example:
            >>> pf = Portfolio(["A", "B"], initial_cash=1_000.0, account=RegTMargin())
            >>> pf.can_short_many(["A", "nope"]).tolist()
            [True, False]
        """
        idx, known, _ = self._rows_of(assets)
        blocked = self._short_blocked
        if blocked is not None:
            return known & ~blocked[idx]
        return np.array(
            [
                bool(k) and self._short_block(i) is None
                for k, i in zip(known, idx.tolist(), strict=True)
            ],
            dtype=np.bool_,
        )

    def _short_block(self, i: int) -> str | None:
        asset = self._assets[i]
        policy = self._account.short_block(self._asset_objs[i])
        if policy is not None:
            return f"short sale not permitted for {asset!r}: {policy}"
        if not self._shortable[i]:
            return f"short sale not permitted for {asset!r}: the asset is not shortable"
        if self._htb[i]:
            return f"short sale not permitted for {asset!r}: it is on the hard-to-borrow list"
        return None

    def _available(self) -> float:
        # What an opening order may use: settled cash (cash account) or excess equity.
        memo = self._memo
        available = memo.get("available")
        if available is None:
            if self._account.is_cash_account:
                available = self.cash - self.unsettled_cash()
            else:
                available = self.equity - self.initial_requirement()
            memo["available"] = available
        return available

    def _rows_of(
        self, assets: Sequence[AssetId] | npt.NDArray[np.integer[Any]]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], npt.NDArray[np.float64] | float]:
        # Row of each asset (0 where unknown), which are known, and each one's FX rate.
        # `assets` may already be rows (an integer array: positions in `assets`).
        if isinstance(assets, np.ndarray) and assets.dtype.kind in "iu":
            idx = assets.astype(np.intp, copy=False)
            known = (idx >= 0) & (idx < self._qty.shape[0])
        else:
            index = self._index
            idx = np.fromiter((index.get(a, -1) for a in assets), dtype=np.intp, count=len(assets))
            known = idx >= 0
        idx = np.where(known, idx, 0)
        if self._cash.shape[0] == 1:  # one currency: the base, whose rate is always 1
            return idx, known, 1.0  # (x * 1.0 is x: the same numbers as an array of ones)
        c = self._ccy[idx]
        fx = np.where(c == 0, 1.0, self._fx[c])  # the base currency's rate is always 1
        return idx, known, fx

    def check_order(
        self, asset: AssetId, side: OrderSide, quantity: float, price: float
    ) -> str | None:
        """Return why an order would be refused now, or None if the account allows it.

        Only the part of the order that opens or increases exposure is checked; reducing
        orders always pass. The opening part needs (base currency)::

            opening * (price * multiplier * fx * initial_rate + initial_per_contract * fx)

        within settled cash (cash account) or ``equity - initial_requirement`` (margin).

        Args:
            asset: Asset id.
            side: BUY or SELL.
            quantity: Unsigned order quantity, > 0.
            price: Expected fill price (NaN: last marked price).

        Returns:
            A reason a user can act on, or None.
        """
        i = self._index.get(asset)
        if i is None:
            return f"unknown asset {asset!r}: not in the portfolio's assets"
        if not (math.isfinite(quantity) and quantity > 0.0):
            return f"invalid quantity for {asset!r}: must be finite and > 0, was {quantity!r}"
        if not math.isfinite(price):
            price = self._last.item(i)
            if not math.isfinite(price):
                return f"no price known for {asset!r}: cannot value the order"
        old = self._qty.item(i)
        signed = quantity * int(side)
        new = old + signed
        if old == 0.0 or (old > 0.0) == (signed > 0.0):
            opening = quantity
        else:
            opening = max(quantity - abs(old), 0.0)
        if opening <= 0.0:
            return None
        if new < 0.0:
            short_ok = self._short_ok
            blocked = short_ok[i] if short_ok is not None else self._short_block(i)
            if blocked is not None:
                return blocked
        mult, c, _ = self._static[i]
        fx = self._fx.item(c) if c else 1.0  # the base currency's rate is always 1
        need = opening * (
            abs(price) * mult * fx * self._init_rate.item(i) + self._init_pc.item(i) * fx
        )
        available = self._available()
        if need > available + 1e-9 * max(abs(available), 1.0):
            label = "settled cash" if self._account.is_cash_account else "excess equity"
            return (
                f"insufficient funds for {side.name} {quantity:g} {asset!r} at {price:g}: needs "
                f"{need:,.2f} {self.base_currency} of {label}, available {available:,.2f}; "
                "reduce the quantity or add cash"
            )
        return None

    def buying_power_change(
        self, asset: AssetId, held: float, signed: float, price: float, commission: float
    ) -> float:
        """Return how much a fill would change `buying_power`, before it is booked.

        The broker adds these up for the fills it has made but the account has not booked
        yet, so an order later in the same bar sees the buying power those fills leave.
        Cash account: the cash the fill moves, ``-signed * price * m * fx - commission``
        (a sale only costs its commission while its proceeds settle, T+N).
        Margin accounts: the change of ``equity - initial requirement`` over the initial
        rate, with the position marked at the last price ``mark`` (the fill price when
        there is none)::

            equity:      signed * (mark - price) * m * fx - commission
            requirement: (|held + signed| - |held|) * (mark * m * fx * rate + per_contract * fx)

        Args:
            asset: Asset id.
            held: Position before the fill, counting fills not booked yet.
            signed: Signed fill quantity.
            price: Fill price.
            commission: Commission of the fill.

        Example:
            >>> pf = Portfolio(["A"], initial_cash=1_000.0, account=RegTMargin(0.5, 0.25))
            >>> pf.apply_fill(FillEvent(0, 1, "A", OrderSide.SELL, 10.0, 10.0))
            >>> pf.mark(1, np.array([10.0]))
            >>> pf.buying_power_change("A", -10.0, 10.0, 11.0, 0.0)  # cover 10 at 11
            80.0
            >>> before = pf.buying_power()
            >>> pf.apply_fill(FillEvent(1, 2, "A", OrderSide.BUY, 10.0, 11.0))
            >>> pf.buying_power() - before
            80.0
        """
        i = self._index.get(asset)
        if i is None:
            i = self._i(asset)
        mult, c, _ = self._static[i]
        fx = self._fx.item(c) if c else 1.0
        if self._account.is_cash_account:
            if signed < 0.0 and self._settlement_days:  # proceeds wait for settlement
                return -commission
            return -signed * price * mult * fx - commission
        mark = self._last.item(i)
        if mark != mark:  # noqa: PLR0124 - NaN: no price seen yet
            mark = price
        d_equity = signed * (mark - price) * mult * fx - commission
        d_size = abs(held + signed) - abs(held)
        d_req = d_size * (mark * mult * fx * self._init_rate.item(i) + self._init_pc.item(i) * fx)
        return float((d_equity - d_req) / self._account.default_initial_rate)

    def buying_power_changes(
        self,
        assets: Sequence[AssetId] | npt.NDArray[np.integer[Any]],
        held: npt.NDArray[np.float64],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        commission: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Return `buying_power_change` for each fill (the same numbers, as an array).

        `assets` are asset ids, or their positions in `assets` as an integer array (a
        caller that holds them, such as a broker on the same assets, skips the lookups).
        """
        idx, known, fx = self._rows_of(assets)
        if not known.all():
            bad = assets[int(np.flatnonzero(~known)[0])]
            if isinstance(bad, np.integer):
                raise UnknownAssetError(
                    f"asset position {int(bad)} is out of range [0, {len(self._assets)})"
                )
            self._i(bad)  # raises UnknownAssetError
        mult = self._mult[idx]
        if self._account.is_cash_account:
            out: npt.NDArray[np.float64] = -signed * price * mult * fx - commission
            if self._settlement_days:  # sale proceeds wait for settlement
                out = np.where(signed < 0.0, -commission, out)
            return out
        mark = self._last[idx]
        mark = np.where(np.isnan(mark), price, mark)
        d_equity = signed * (mark - price) * mult * fx - commission
        d_size = np.abs(held + signed) - np.abs(held)
        d_req = d_size * (mark * mult * fx * self._init_rate[idx] + self._init_pc[idx] * fx)
        result: npt.NDArray[np.float64] = (d_equity - d_req) / self._account.default_initial_rate
        return result

    def check_orders(
        self,
        assets: Sequence[AssetId] | npt.NDArray[np.integer[Any]],
        sides: npt.NDArray[np.float64],
        quantities: npt.NDArray[np.float64],
        prices: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        """Return, per order, whether `check_order` would accept it (return None).

        The array twin of `check_order` for a batch of orders checked against the same
        account state (each on its own, as that many `check_order` calls): the same
        arithmetic element by element. An order whose price is not finite, or whose
        asset is unknown, is reported False: ask `check_order` for it (and the reason).

        Args:
            assets: Asset ids, or their positions in `assets` as an integer array (no
                lookups; a position out of range counts as an unknown asset).
            sides: +1.0 (BUY) or -1.0 (SELL) per order.
            quantities: Unsigned quantities, finite and > 0.
            prices: Expected fill prices.

        Example:
            >>> pf = Portfolio(["A", "B"], initial_cash=1_000.0)
            >>> pf.check_orders(["A", "B"], np.array([1.0, 1.0]), np.array([5.0, 50.0]),
            ...                 np.array([100.0, 100.0])).tolist()
            [True, False]
        """
        nb = compiled_twins("ml4t.backtest.portfolio._check_nb")
        if (
            nb is not None
            and isinstance(assets, np.ndarray)
            and assets.dtype.kind in "iu"
            and self._cash.shape[0] == 1
            and self._short_blocked is not None
        ):  # rows in one currency: the compiled twin
            available = self._available()
            ok_nb: npt.NDArray[np.bool_] = nb.check_orders_nb(
                assets.astype(np.int64, copy=False),
                np.ascontiguousarray(sides, dtype=np.float64),
                np.ascontiguousarray(quantities, dtype=np.float64),
                np.ascontiguousarray(prices, dtype=np.float64),
                self._qty,
                self._short_blocked,
                self._mult,
                self._init_rate,
                self._init_pc,
                available + 1e-9 * max(abs(available), 1.0),
            )
            return ok_nb
        return self._check_orders_numpy(assets, sides, quantities, prices)

    def _check_orders_numpy(
        self,
        assets: Sequence[AssetId] | npt.NDArray[np.integer[Any]],
        sides: npt.NDArray[np.float64],
        quantities: npt.NDArray[np.float64],
        prices: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        # `check_orders` with numpy alone (the reference of `_check_nb.check_orders_nb`).
        idx, known, fx = self._rows_of(assets)
        q = np.asarray(quantities, dtype=np.float64)
        price = np.asarray(prices, dtype=np.float64)
        ok = known & np.isfinite(q) & (q > 0.0) & np.isfinite(price)
        old = self._qty[idx]
        signed = q * np.asarray(sides, dtype=np.float64)
        new = old + signed
        same = (old == 0.0) | ((old > 0.0) == (signed > 0.0))
        opening = np.where(same, q, np.maximum(q - np.abs(old), 0.0))
        opens = ok & (opening > 0.0)
        shorts = opens & (new < 0.0)  # new or larger shorts
        blocked = self._short_blocked
        if blocked is not None:
            ok &= ~(shorts & blocked[idx])
        else:
            for k in shorts.nonzero()[0].tolist():
                if self._short_block(int(idx[k])) is not None:
                    ok[k] = False
        if not opens.any():
            return ok
        need = opening * (
            np.abs(price) * self._mult[idx] * fx * self._init_rate[idx] + self._init_pc[idx] * fx
        )
        available = self._available()
        ok &= ~(opens & (need > available + 1e-9 * max(abs(available), 1.0)))
        return ok

    # -- events ------------------------------------------------------------------------------
    def apply_fill(self, fill: FillEvent) -> None:
        """Book a fill: position, average cost, realized P&L, cash, commission, trades.

        Open / increase: the average cost becomes the quantity-weighted mean. Reduce: realized
        P&L ``= closed * (price - avg_cost) * multiplier * sign(position)``. Close: average
        cost resets to 0. Reverse: the closing part realizes P&L, the rest opens at `price`.
        Stocks move ``quantity * price * multiplier`` of cash; futures move only realized P&L.
        The commission is charged in the base currency. `fill.tag` becomes the exit reason of
        the trades the fill closes.

        Raises:
            UnknownAssetError: `fill.asset` is not one of the portfolio's assets.
        """
        self.apply_fills((fill,))

    def apply_fills(self, fills: Iterable[FillEvent]) -> None:
        """Book several fills in order; the same result as `apply_fill` on each, cheaper.

        This is the batch entry point for the broker's output: pass the list returned by
        `SimulationBroker.process_bar` / `process_close` as is. Fills are booked one after
        the other, exactly as a loop over `apply_fill` would (same arithmetic, same trade
        records).

        Raises:
            UnknownAssetError: A fill's asset is not one of the portfolio's assets (the
                fills before it are booked).

        Example:
            >>> pf = Portfolio(["A", "B"], initial_cash=1_000.0)
            >>> pf.apply_fills([FillEvent(0, 1, "A", OrderSide.BUY, 2.0, 100.0),
            ...                 FillEvent(0, 2, "B", OrderSide.BUY, 1.0, 50.0, commission=1.0)])
            >>> pf.cash, pf.position("A"), pf.position("B")
            (749.0, 2.0, 1.0)
        """
        if (
            isinstance(fills, list | FillBlock)
            and len(fills) >= _BATCH_MIN
            and self._cash.shape[0] == 1
            and not self._has_futures
            and not (self._settlement_days and self._account.is_cash_account)
            and self._apply_fills_batch(fills)
        ):
            return
        index = self._index
        trade = self._trade
        on_fill = self.tracker.on_fill
        cash = self._cash
        costs = self._costs
        totals = self.totals
        self._memo.clear()
        for fill in fills:
            i = index.get(fill.asset)
            if i is None:
                self._i(fill.asset)
                return
            ts = fill.timestamp
            if not self._fx_set:
                self._update_fx(ts)
            signed = fill.quantity * int(fill.side)
            price = fill.price
            trade(i, signed, price, ts)
            commission = fill.commission
            if commission:
                cash[0] = cash.item(0) - commission
                costs[0] = costs.item(0) + commission
                totals["commission"] += commission
            on_fill(i, signed, price, ts, commission, fill.slippage + fill.impact, fill.tag)
        self._memo.clear()

    def _apply_fills_batch(self, fills: list[FillEvent] | FillBlock) -> bool:
        # `apply_fills` for fills of distinct assets in one currency without futures or
        # settlement: `_trade` as arrays (the same float operations element by element),
        # cash and the totals as running sums in fill order (`np.add.accumulate` adds left
        # to right, as the loop does). False (nothing booked) when it does not apply.
        if isinstance(fills, FillBlock):
            if not (fills.assets is self._assets or fills.assets == self._assets):
                return False  # (another asset order: booked fill by fill)
            # a broker's block on these assets: its columns, distinct by construction
            self._book_arrays(fills.rows, fills.signed, fills.price, fills.commission)
            self.tracker.on_fills(
                fills.rows,
                fills.signed,
                fills.price,
                fills.timestamp,
                fills.commission,
                fills.slippage + 0.0,  # `slippage + impact` (no impact)
                fills.tag,
            )
            self._memo.clear()
            return True
        n = len(fills)
        get = self._index.get
        idx_l = [get(f.asset, -1) for f in fills]
        idx = np.array(idx_l, dtype=np.intp)
        if idx.min() < 0 or not all_distinct(idx, self._qty.shape[0]):
            return False
        signed_l = [f.quantity * int(f.side) for f in fills]
        signed = np.array(signed_l, dtype=np.float64)
        price = np.array([f.price for f in fills], dtype=np.float64)
        commission = np.array([f.commission for f in fills], dtype=np.float64)
        self._book_arrays(idx, signed, price, commission)
        first = fills[0]
        if all(f.timestamp == first.timestamp and f.tag == first.tag for f in fills):
            # one call's fills (one time, one tag): the tracker's batch form
            cost = np.array([f.slippage + f.impact for f in fills], dtype=np.float64)
            self.tracker.on_fills(idx, signed, price, first.timestamp, commission, cost, first.tag)
        else:
            on_fill = self.tracker.on_fill
            for k in range(n):
                fill = fills[k]
                on_fill(
                    idx_l[k],
                    signed_l[k],
                    fill.price,
                    fill.timestamp,
                    fill.commission,
                    fill.slippage + fill.impact,
                    fill.tag,
                )
        self._memo.clear()
        return True

    def _book_arrays(
        self,
        idx: npt.NDArray[np.integer[Any]],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        commission: npt.NDArray[np.float64],
    ) -> None:
        # The array part of `_apply_fills_batch` (positions, cash, totals; not the trades).
        self._memo.clear()
        nb = compiled_twins("ml4t.backtest.portfolio._book_nb")
        if nb is not None:  # its compiled twin
            totals = self.totals
            state = np.array(
                [
                    self._cash.item(0),
                    self._costs.item(0),
                    totals["commission"],
                    totals["traded_notional"],
                ]
            )
            nb.book_arrays_nb(
                np.ascontiguousarray(idx, dtype=np.int64),
                np.ascontiguousarray(signed, dtype=np.float64),
                np.ascontiguousarray(price, dtype=np.float64),
                np.ascontiguousarray(commission, dtype=np.float64),
                self._mult,
                self._qty,
                self._avg,
                self._realized,
                self._last,
                state,
                _ZERO,
            )
            self._cash[0] = state.item(0)
            self._costs[0] = state.item(1)
            totals["commission"] = state.item(2)
            totals["traded_notional"] = state.item(3)
            return
        self._book_arrays_numpy(idx, signed, price, commission)

    def _book_arrays_numpy(
        self,
        idx: npt.NDArray[np.integer[Any]],
        signed: npt.NDArray[np.float64],
        price: npt.NDArray[np.float64],
        commission: npt.NDArray[np.float64],
    ) -> None:
        # `_book_arrays` with numpy alone (the reference of `_book_nb.book_arrays_nb`).
        n = idx.shape[0]
        mult = self._mult[idx]
        old = self._qty[idx]
        avg_old = self._avg[idx]
        new = old + signed
        abs_old = np.abs(old)
        abs_signed = np.abs(signed)
        abs_new = np.abs(new)
        long_old = old > 0.0
        same = (old == 0.0) | (long_old == (signed > 0.0))
        other = ~same
        with np.errstate(divide="ignore", invalid="ignore"):
            avg_add = (avg_old * abs_old + price * abs_signed) / abs_new
        real = np.minimum(abs_signed, abs_old) * (price - avg_old) * mult
        real = np.where(old < 0.0, -real, real)
        flat = other & (abs_new <= _ZERO * np.maximum(abs_old, abs_signed))
        flip = other & ~flat & ((new > 0.0) != long_old)
        self._avg[idx] = np.where(
            same, avg_add, np.where(flat, 0.0, np.where(flip, price, avg_old))
        )
        self._qty[idx] = np.where(flat, 0.0, new)
        reduce = other.nonzero()[0]
        if reduce.size:
            at = idx[reduce]
            self._realized[at] = self._realized[at] + real[reduce]
        flow = signed * price * mult
        steps = np.empty(2 * n)  # cash moves in fill order: -flow, then -commission
        steps[0::2] = -flow
        steps[1::2] = -commission
        cash = self._cash
        cash[0] = np.add.accumulate(np.concatenate(([cash.item(0)], steps)))[-1]
        charged = commission[commission != 0.0]
        totals = self.totals
        if charged.size:
            costs = self._costs
            costs[0] = np.add.accumulate(np.concatenate(([costs.item(0)], charged)))[-1]
            totals["commission"] = float(
                np.add.accumulate(np.concatenate(([totals["commission"]], charged)))[-1]
            )
        totals["traded_notional"] = float(
            np.add.accumulate(np.concatenate(([totals["traded_notional"]], np.abs(flow))))[-1]
        )
        last = self._last[idx]
        unpriced = np.isnan(last)
        if unpriced.any():
            self._last[idx[unpriced]] = price[unpriced]

    # Core position arithmetic shared by fills and corporate actions; returns realized P&L.
    def _trade(self, i: int, signed: float, price: float, timestamp: int) -> float:
        # Static per-asset fields come from Python lists (`_static`), state from the arrays;
        # `.item` reads a numpy element as a Python float without building a numpy scalar
        # (``a[i] = a.item(i) + x`` is ``a[i] += x`` without it). Callers clear `_memo`.
        mult, c, is_future = self._static[i]
        old = self._qty.item(i)
        new = old + signed
        realized = 0.0
        if old == 0.0 or (old > 0.0) == (signed > 0.0):
            self._avg[i] = (self._avg.item(i) * abs(old) + price * abs(signed)) / abs(new)
        else:
            closing = min(abs(signed), abs(old))
            realized = closing * (price - self._avg.item(i)) * mult
            if old < 0.0:
                realized = -realized
            if abs(new) <= _ZERO * max(abs(old), abs(signed)):
                new = 0.0
                self._avg[i] = 0.0
            elif (new > 0.0) != (old > 0.0):
                self._avg[i] = price
            self._realized[i] = self._realized.item(i) + realized
        self._qty[i] = new
        flow = signed * price * mult
        cash = self._cash
        if is_future:
            cash[c] = cash.item(c) + realized
        else:
            cash[c] = cash.item(c) - flow
            if flow < 0.0 and self._settlement_days and self._account.is_cash_account:
                self._unsettled.append((self._settle_time(timestamp), c, -flow))
        self.totals["traded_notional"] += abs(flow) * (self._fx.item(c) if c else 1.0)
        last = self._last.item(i)
        if last != last:  # noqa: PLR0124 - NaN: no price seen yet
            self._last[i] = price
        return realized

    def _settle_time(self, timestamp: int) -> int:
        day = np.datetime64(timestamp // NS_PER_DAY, "D")
        settle = np.busday_offset(day, self._settlement_days, roll="forward")
        return int(settle.astype("datetime64[ns]").astype(np.int64))

    def mark(
        self,
        timestamp: Timestamp,
        close_row: npt.NDArray[np.float64],
        high_row: npt.NDArray[np.float64] | None = None,
        low_row: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Value the positions at this bar's closes and advance the clock.

        In order: accrue borrow fees and interest for the calendar days since the last mark
        (at the previous prices), pay dividends and settle sales due by `timestamp`, take
        each finite close as the new last price (NaN keeps the old one), update FX rates,
        widen open trades' MAE/MFE with `high_row`/`low_row` (the closes when None) and count
        one bar.

        Args:
            timestamp: Bar time, int ns UTC.
            close_row: Close per asset ``(A,)``, aligned to `assets`.
            high_row: Optional high per asset ``(A,)``.
            low_row: Optional low per asset ``(A,)``.
        """
        self.advance_to(timestamp)
        finite = np.isfinite(close_row)
        np.copyto(self._last, close_row, where=finite)
        self._memo.clear()
        self.tracker.update_excursions(
            close_row if high_row is None else high_row,
            close_row if low_row is None else low_row,
        )
        self.tracker.advance_bar()

    def advance_to(self, timestamp: Timestamp) -> None:
        """Move the clock to `timestamp`: accruals, dividend payments, settlement, FX."""
        self._memo.clear()
        day = timestamp // NS_PER_DAY
        if self._last_day is not None and day > self._last_day:
            self._accrue(day - self._last_day)
        if self._last_day is None or day > self._last_day:
            self._last_day = day
        if self._pending:
            self._pay_dividends(timestamp)
        if self._unsettled:
            self._unsettled = [u for u in self._unsettled if u[0] > timestamp]
        if self._fx_rates is not None and len(self._currencies) > 1:
            self._update_fx(timestamp)
        self._timestamp = timestamp

    def _update_fx(self, timestamp: int) -> None:
        assert self._fx_rates is not None
        self._memo.clear()
        for k in range(1, len(self._currencies)):
            self._fx[k] = self._fx_rates.rate(self._currencies[k], timestamp)
        self._fx_set = True

    def _accrue(self, days: int) -> None:
        dc_borrow = self._borrow.day_count
        if self._has_borrow:
            notional = self._notional_local()
            short = notional < 0.0
            if short.any():
                fee = np.where(short, -notional * self._borrow_rate, 0.0) * days / dc_borrow
                by_ccy = np.bincount(self._ccy, weights=fee, minlength=self._cash.shape[0])
                self._cash -= by_ccy
                self._costs += by_ccy
                self.totals["borrow_fees"] += float(by_ccy @ self._fx)
        rates = self._interest
        if rates.credit or rates.debit:
            for c in range(self._cash.shape[0]):
                amount = rates.daily_amount(float(self._cash[c])) * days
                self._cash[c] += amount
                self._income[c] += amount
                self.totals["interest"] += amount * float(self._fx[c])

    def _pay_dividends(self, timestamp: int) -> None:
        keep: list[tuple[int, int, float]] = []
        for pay, c, amount in self._pending:
            if pay <= timestamp:
                self._cash[c] += amount
                if amount >= 0.0:
                    self._receivables[c] -= amount
                else:
                    self._liabilities[c] += amount
            else:
                keep.append((pay, c, amount))
        self._pending = keep

    def deposit(self, amount: float, currency: str | None = None) -> None:
        """Add (or, if negative, withdraw) capital in `currency` (base when None)."""
        self._memo.clear()
        c = self._currencies.index(currency or self.base_currency)
        self._cash[c] += amount
        self._capital[c] += amount

    def convert(self, amount: float, from_currency: str, to_currency: str) -> float:
        """Exchange `amount` of one currency's cash into another at the current FX rates.

        Returns:
            The amount credited in `to_currency`.
        """
        self._memo.clear()
        a = self._currencies.index(from_currency)
        b = self._currencies.index(to_currency)
        credited = amount * float(self._fx[a]) / float(self._fx[b])
        self._cash[a] -= amount
        self._capital[a] -= amount
        self._cash[b] += credited
        self._capital[b] += credited
        return credited

    # -- corporate actions ---------------------------------------------------------------
    def apply_corporate_action(self, event: CorporateActionEvent) -> CorporateActionOutcome:
        """Apply a corporate action point-in-time to the position in `event.asset`.

        * SPLIT (ratio r): quantity x r, average cost and last price / r; fractions of
          whole-share assets are paid out as cash in lieu at the adjusted last price.
        * STOCK_DIVIDEND (ratio r): as a split by ``1 + r``.
        * CASH_DIVIDEND (amount d): ``quantity * d`` is income on the ex-date (shorts pay
          it); the cash moves at the pay date, booked as receivable/liability until then.
        * SYMBOL_CHANGE: the position, cost and last price move to `new_asset`.
        * MERGER (ratio r of `new_asset` plus cash c per share): the old position is closed
          at ``r * price(new_asset) + c`` (the new asset's last price, or
          ``(last_price - c) / r`` when it has none) and ``r * quantity`` of `new_asset` is
          opened at its price; fractions are paid in cash.
        * DELISTING: the position is closed at `cash_amount`, or at the last price if NaN.

        Returns:
            What changed, including the split ratio the broker needs for open orders.

        Raises:
            UnknownAssetError: `event.asset` or `event.new_asset` is not in `assets`.
        """
        self._memo.clear()
        i = self._i(event.asset)
        kind = event.action_type
        before = float(self._qty[i])
        c = int(self._ccy[i])
        cash_before = float(self._cash[c])
        accrued = 0.0
        ratio = 1.0
        new_asset = ""
        ts = event.timestamp
        if kind in (CorporateActionType.SPLIT, CorporateActionType.STOCK_DIVIDEND):
            ratio = event.ratio if kind == CorporateActionType.SPLIT else 1.0 + event.ratio
            self._qty[i] *= ratio
            self._avg[i] /= ratio
            self._last[i] /= ratio
            self.tracker.split(i, ratio)
            self._cash_in_lieu(i, ts)
        elif kind == CorporateActionType.CASH_DIVIDEND:
            amount = before * event.cash_amount
            self._income[c] += amount
            self.totals["dividends"] += amount * float(self._fx[c])
            if event.pay_timestamp and event.pay_timestamp > ts:
                accrued = amount
                if amount >= 0.0:
                    self._receivables[c] += amount
                else:
                    self._liabilities[c] -= amount
                self._pending.append((event.pay_timestamp, c, amount))
            else:
                self._cash[c] += amount
        elif kind == CorporateActionType.SYMBOL_CHANGE:
            j = self._i(event.new_asset)
            new_asset = event.new_asset
            self._move(i, j, ts)
        elif kind == CorporateActionType.MERGER:
            self._merge(i, event)
            new_asset = event.new_asset
        elif kind == CorporateActionType.DELISTING:
            price = event.cash_amount if math.isfinite(event.cash_amount) else self._last[i]
            if before != 0.0 and not math.isfinite(price):
                raise ConfigError(
                    f"delisting of {event.asset!r}: no last price is known and `cash_amount` "
                    "is NaN; give the value per share in `cash_amount`"
                )
            if before != 0.0:
                self._trade(i, -before, float(price), ts)
                self.tracker.on_fill(i, -before, float(price), ts, tag="delisting")
            self._last[i] = price
        else:  # pragma: no cover - every CorporateActionType is handled above
            raise ConfigError(f"unsupported corporate action {kind!r}")
        self._memo.clear()
        return CorporateActionOutcome(
            event.asset,
            kind,
            before,
            float(self._qty[i]),
            cash=float(self._cash[c]) - cash_before,
            accrued=accrued,
            split_ratio=ratio,
            new_asset=new_asset,
        )

    # Pay fractions of whole-unit assets out in cash at the last price.
    def _cash_in_lieu(self, i: int, timestamp: int) -> None:
        lot = float(self._lot[i])
        if lot < 1.0:
            return
        qty = float(self._qty[i])
        whole = math.trunc(qty / lot + math.copysign(1e-9, qty)) * lot if qty else 0.0
        fraction = qty - whole
        if abs(fraction) > 1e-9 * max(abs(qty), 1.0):
            price = float(self._last[i])
            if not math.isfinite(price):
                price = float(self._avg[i])
            self._trade(i, -fraction, price, timestamp)
            self.tracker.on_fill(i, -fraction, price, timestamp, tag="cash_in_lieu")
        elif fraction and whole:
            # float noise from the ratio: snap to whole units, keeping the cost basis q * avg
            self._avg[i] = float(self._avg[i]) * qty / whole
            self._qty[i] = whole

    def _move(self, i: int, j: int, timestamp: int) -> None:
        qty = float(self._qty[i])
        if self._ccy[i] != self._ccy[j] or self._mult[i] != self._mult[j]:
            raise ConfigError(
                f"symbol change {self._assets[i]!r} -> {self._assets[j]!r}: both must share "
                "currency and multiplier; register the new asset like the old one"
            )
        if math.isnan(self._last[j]):
            self._last[j] = self._last[i]
        if qty == 0.0:
            return
        if self._qty[j] == 0.0:
            self._qty[j] = qty
            self._avg[j] = self._avg[i]
            self._qty[i] = 0.0
            self._avg[i] = 0.0
            self.tracker.transfer(i, j)
            return
        # The target already holds a position: close the old line and reopen on the new.
        price = float(self._last[i])
        self._trade(i, -qty, price, timestamp)
        self.tracker.on_fill(i, -qty, price, timestamp, tag="symbol_change")
        self._trade(j, qty, price, timestamp)
        self.tracker.on_fill(j, qty, price, timestamp)

    def _merge(self, i: int, event: CorporateActionEvent) -> None:
        qty = float(self._qty[i])
        cash = event.cash_amount if math.isfinite(event.cash_amount) else 0.0
        ratio = event.ratio if math.isfinite(event.ratio) and event.ratio > 0.0 else 0.0
        ts = event.timestamp
        last = float(self._last[i])
        if ratio > 0.0 and not event.new_asset:
            raise ConfigError(
                f"merger of {self._assets[i]!r}: ratio {ratio} needs `new_asset`; set it or "
                "give a cash-only merger (ratio NaN)"
            )
        j = self._i(event.new_asset) if ratio > 0.0 else -1
        new_price = math.nan
        if j >= 0:
            if self._ccy[i] != self._ccy[j]:
                raise ConfigError(
                    f"merger {self._assets[i]!r} -> {self._assets[j]!r}: both must be quoted "
                    "in the same currency"
                )
            new_price = float(self._last[j])
            if not math.isfinite(new_price):
                new_price = (last - cash) / ratio
                self._last[j] = new_price
        exit_value = cash + (ratio * new_price if j >= 0 else 0.0)
        if qty != 0.0:
            self._trade(i, -qty, exit_value, ts)
            self.tracker.on_fill(i, -qty, exit_value, ts, tag="merger")
            if j >= 0:
                received = qty * ratio
                self._trade(j, received, new_price, ts)
                self.tracker.on_fill(j, received, new_price, ts)
                self._cash_in_lieu(j, ts)
        self._last[i] = exit_value

    # -- margin --------------------------------------------------------------------------
    def margin_call(self) -> MarginCall | None:
        """Return the liquidation that restores maintenance margin, or None if not needed.

        See `ml4t.backtest.portfolio.margin` for the rule (largest loss first).
        """
        equity = self.equity
        requirement = self.maintenance_requirement()
        deficit = requirement - equity
        if deficit <= 1e-9 * max(abs(requirement), 1.0):
            return None
        fx = self._fx_asset()
        relief = np.abs(self._last * self._mult * fx) * self._maint_rate + self._maint_pc * fx
        relief = np.nan_to_num(relief)
        orders = plan_liquidation(
            self._qty, self.unrealized_pnl(), self.notional(), relief, self._lot, deficit=deficit
        )
        unrealized = self.unrealized_pnl()
        notional = self.notional()
        picked = [int(k) for k in np.flatnonzero(orders)]
        picked.sort(key=lambda k: (float(unrealized[k]), -abs(float(notional[k])), k))
        return MarginCall(
            self._timestamp or 0,
            equity,
            requirement,
            deficit,
            tuple((self._assets[k], float(orders[k])) for k in picked),
        )

    # -- ledger --------------------------------------------------------------------------
    def check_invariant(self) -> None:
        """Verify the ledger identity in every currency (see the module docstring).

        Raises:
            LedgerInvariantError: The two sides differ by more than 1e-9 relative to the
                size of the book; the message names both sides and the difference.
        """
        n_ccy = self._cash.shape[0]
        value = np.bincount(self._ccy, weights=self._value_local(), minlength=n_ccy)
        unreal = np.bincount(
            self._ccy,
            weights=np.where(
                self._qty != 0.0, self._qty * (self._last - self._avg) * self._mult, 0
            ),
            minlength=n_ccy,
        )
        realized = np.bincount(self._ccy, weights=self._realized, minlength=n_ccy)
        gross = np.bincount(self._ccy, weights=np.abs(self._notional_local()), minlength=n_ccy)
        sheet = self._cash + value + self._receivables - self._liabilities
        ledger = self._capital + realized + unreal + self._income - self._costs
        for c in range(n_ccy):
            scale = max(
                abs(self._cash[c]),
                gross[c],
                abs(self._capital[c]),
                abs(self._costs[c]) + abs(self._income[c]),
                abs(realized[c]),
                1.0,
            )
            tol = INVARIANT_TOLERANCE * scale
            diff = float(sheet[c] - ledger[c])
            if not abs(diff) <= tol:
                raise LedgerInvariantError(
                    f"ledger invariant broken in {self._currencies[c]}: cash + market value + "
                    f"receivables - liabilities = {float(sheet[c])!r} but capital + realized + "
                    f"unrealized + income - costs = {float(ledger[c])!r} (difference {diff!r}, "
                    f"tolerance {tol!r}); a booking path moved one side only",
                    currency=self._currencies[c],
                    balance_sheet=float(sheet[c]),
                    pnl_ledger=float(ledger[c]),
                )

    # -- exposure ------------------------------------------------------------------------
    @property
    def long_exposure(self) -> float:
        """Return the sum of long notional, base currency."""
        n = self.notional()
        return float(n[n > 0.0].sum())

    @property
    def short_exposure(self) -> float:
        """Return the sum of short notional as a negative number, base currency."""
        n = self.notional()
        return float(n[n < 0.0].sum())

    @property
    def gross_exposure(self) -> float:
        """Return ``long_exposure - short_exposure`` (sum of absolute notional)."""
        return float(np.abs(self.notional()).sum())

    @property
    def net_exposure(self) -> float:
        """Return ``long_exposure + short_exposure``."""
        return float(self.notional().sum())

    @property
    def leverage(self) -> float:
        """Return ``gross_exposure / equity`` (inf when equity <= 0 and exposure > 0)."""
        equity = self.equity
        gross = self.gross_exposure
        if equity <= 0.0:
            return math.inf if gross > 0.0 else 0.0
        return gross / equity

    # -- user views ----------------------------------------------------------------------
    def get_position(self, asset: AssetId) -> Position:
        """Return a `Position` snapshot of `asset` (also when flat)."""
        i = self._i(asset)
        return Position(
            asset,
            float(self._qty[i]),
            float(self._avg[i]),
            float(self._last[i]),
            float(self._mult[i]),
            self._currencies[int(self._ccy[i])],
            float(self._realized[i]),
            bool(self._is_future[i]),
        )

    def positions(self) -> dict[AssetId, Position]:
        """Return the open positions by asset id."""
        return {
            self._assets[i]: self.get_position(self._assets[i]) for i in np.flatnonzero(self._qty)
        }

    def positions_frame(self) -> pl.DataFrame:
        """Return the open positions as a polars frame (amounts in base currency)."""
        held = np.flatnonzero(self._qty)
        fx = self._fx_asset()
        fx_held = fx[held] if fx.shape[0] == self._qty.shape[0] else np.full(held.size, fx[0])
        return pl.DataFrame(
            {
                "asset": [self._assets[i] for i in held],
                "quantity": self._qty[held],
                "avg_cost": self._avg[held],
                "last_price": self._last[held],
                "market_value": self.position_values()[held] if held.size else _EMPTY,
                "notional": self.notional()[held] if held.size else _EMPTY,
                "unrealized_pnl": self.unrealized_pnl()[held] if held.size else _EMPTY,
                "realized_pnl": self._realized[held] * fx_held,
            }
        )

    def __repr__(self) -> str:
        return (
            f"Portfolio(assets={len(self._assets)}, equity={self.equity:.2f}, "
            f"cash={self.cash:.2f}, open_positions={int(np.count_nonzero(self._qty))}, "
            f"account={self._account!r})"
        )
