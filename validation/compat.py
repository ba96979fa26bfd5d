"""Compatibility shims the peers need on current Python / pandas.

Backtrader 1.9.78.123 (its last release, 2023) still reads ``collections.Iterable`` in
``backtrader/lineiterator.py`` (lines 229 and 237). The ABC aliases in ``collections`` were
removed in Python 3.10, so any strategy that owns an indicator fails with
``AttributeError: module 'collections' has no attribute 'Iterable'``. The shim puts the
``collections.abc`` names back on ``collections`` before backtrader is imported. It changes
nothing else and is applied by ``validation/conftest.py`` (test setup) and by every peer runner
that imports backtrader.
"""

from __future__ import annotations

import collections
import collections.abc

__all__ = ["apply_backtrader_shim"]

_ABC_NAMES = (
    "Callable",
    "Hashable",
    "Iterable",
    "Iterator",
    "Mapping",
    "MutableMapping",
    "MutableSequence",
    "MutableSet",
    "Sequence",
    "Set",
)


def apply_backtrader_shim() -> None:
    """Restore the ``collections.<ABC>`` aliases removed in Python 3.10 (idempotent)."""
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
