"""Where the other layers find their compiled (numba) twins, without importing numba.

ADR 0008 and ADR 0011: importing numba costs about a second and 60-120 MB per process, so a
layer with a numpy form and a compiled twin of the same arithmetic runs the twin only in a
process that has loaded numba already (the fast path, a priced order, ``compiled="on"``).
`compiled_twins` is that rule in one place.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["compiled_twins"]


def compiled_twins(module: str) -> ModuleType | None:
    """Return the module of compiled twins `module` if numba is loaded, else None.

    Never imports numba itself: when numba is not in ``sys.modules`` the answer is None and
    nothing is imported; otherwise `module` is imported (a cheap lookup after the first time).

    Args:
        module: Absolute name of a module of ``@njit`` kernels.

    Example:
        >>> import sys
        >>> "numba" in sys.modules or compiled_twins("ml4t.backtest.execution.nb") is None
        True
    """
    if "numba" not in sys.modules:
        return None
    loaded = sys.modules.get(module)
    return loaded if loaded is not None else importlib.import_module(module)
