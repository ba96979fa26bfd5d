from __future__ import annotations

import re
from pathlib import Path

import pytest

import ml4t.backtest.core as core
from ml4t.backtest.core import _validation

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "core.md"


def test_every_name_in_all_is_importable() -> None:
    assert not [name for name in core.__all__ if not hasattr(core, name)]
    assert len(core.__all__) == len(set(core.__all__))


def test_version_is_semver_text() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", core.__version__)


def test_user_guide_lists_every_validation_check() -> None:
    if not GUIDE.exists():
        pytest.skip("docs/core.md is not beside this checkout")
    text = GUIDE.read_text()
    missing = [c.name for c in _validation.CHECKS if f"| `{c.name}` |" not in text]
    assert missing == []
