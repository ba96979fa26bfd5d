"""Every validation scenario: ml4t-backtest against its peer on the same real data."""

from __future__ import annotations

import pytest
from validation.common import TOLERANCE
from validation.suite import Outcome, load_all, run_scenario, write_report

SCENARIOS = load_all()
_OUTCOMES: dict[str, Outcome] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> object:
    yield None
    if len(_OUTCOMES) == len(SCENARIOS):  # a filtered run (-k) leaves the report alone
        write_report([_OUTCOMES[name] for name in SCENARIOS])


def test_suite_has_at_least_20_scenarios() -> None:
    assert len(SCENARIOS) >= 20


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_matches_peer(name: str) -> None:
    scenario = SCENARIOS[name]
    outcome = run_scenario(scenario)
    _OUTCOMES[name] = outcome
    assert outcome.peer.fills.height > 0 or outcome.peer.extra, "peer produced no fills"
    if outcome.comparison is None:
        pytest.skip(f"no ml4t-backtest run for {name}: {scenario.ml4t_gap}")
    c = outcome.comparison
    if scenario.known_difference:
        assert scenario.difference_check is not None, "a documented difference needs a check"
        scenario.difference_check(outcome.peer, outcome.ours)  # type: ignore[arg-type]
        return
    assert c.fills_equal, c.first_mismatch
    assert c.relative_difference <= TOLERANCE, (c.value_peer, c.value_ml4t)
    assert outcome.status == "match"
