"""`compiled_twins`: compiled kernels only where numba is loaded, never importing it."""

from __future__ import annotations

import json
import subprocess
import sys


def test_none_without_numba_and_the_module_with_it() -> None:
    # a module that is not a numba one stands in: the rule is about `numba` being loaded
    code = (
        "import json, sys\n"
        "from ml4t.backtest.core.compiled import compiled_twins\n"
        "before = compiled_twins('json')\n"
        "loaded = 'numba' in sys.modules\n"
        "sys.modules['numba'] = type(sys)('numba')  # as if numba had been imported\n"
        "after = compiled_twins('json')\n"
        "print(json.dumps([before is None, loaded, after is json]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout) == [True, False, True]
