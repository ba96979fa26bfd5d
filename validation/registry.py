"""The scenario registry: each scenario names its data, its peer run and its ml4t-backtest run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from validation.common import RunResult

__all__ = ["SCENARIOS", "Scenario", "attach_ml4t", "register"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One validation scenario.

    Attributes:
        name: Unique id (also the pytest id).
        peer: Framework it is validated against (``backtrader``, ``backtesting.py``, ...).
        covers: The issue-7 item it covers (e.g. "trailing stop incl. gaps").
        description: What the strategy does, in one or two sentences.
        bars: Builds the input bars (with signal columns) once.
        run_peer: Runs the peer on the bars.
        run_ml4t: Runs ml4t-backtest on the same bars (None until the engine offers the path).
        known_difference: When set, the scenario cannot match because of a documented peer
            behaviour; the text says what differs and why, and the test asserts that difference.
    """

    name: str
    peer: str
    covers: str
    description: str
    bars: Callable[[], pl.DataFrame]
    run_peer: Callable[[pl.DataFrame], RunResult]
    run_ml4t: Callable[[pl.DataFrame], RunResult] | None = None
    known_difference: str | None = None
    difference_check: Callable[[RunResult, RunResult], None] | None = None
    ml4t_gap: str | None = None
    open_gap: str | None = None


SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    """Add `scenario` to `SCENARIOS` (names must be unique)."""
    if scenario.name in SCENARIOS:
        raise ValueError(f"duplicate scenario name {scenario.name!r}")
    SCENARIOS[scenario.name] = scenario
    return scenario


def attach_ml4t(
    name: str,
    run_ml4t: Callable[[pl.DataFrame], RunResult],
    *,
    known_difference: str | None = None,
    difference_check: Callable[[RunResult, RunResult], None] | None = None,
    open_gap: str | None = None,
) -> None:
    """Give the registered scenario `name` its ml4t-backtest run (and documented difference)."""
    old = SCENARIOS[name]
    SCENARIOS[name] = replace(
        old,
        run_ml4t=run_ml4t,
        known_difference=known_difference or old.known_difference,
        difference_check=difference_check or old.difference_check,
        open_gap=open_gap or old.open_gap,
    )
