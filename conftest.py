"""Workspace-wide pytest hooks (applies to every distribution's tests)."""

from __future__ import annotations

import pytest

NO_TESTS_COLLECTED = 5


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn pytest's silent 'no tests collected' into a loud, explained failure."""
    if exitstatus == NO_TESTS_COLLECTED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "ERROR: pytest collected no tests. A distribution without tests must not pass: "
            "add tests, or fix the path/markers that filtered them all out."
        )
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
