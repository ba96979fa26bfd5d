"""Test setup of the validation suite: import path and the Backtrader shim."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from validation.compat import apply_backtrader_shim  # noqa: E402

apply_backtrader_shim()
