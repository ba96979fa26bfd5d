"""Small array helpers shared by the hot paths of the other layers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["all_distinct"]


def all_distinct(values: npt.NDArray[np.integer], size: int) -> bool:
    """Return True when no value of `values` (integers in ``[0, size)``) occurs twice.

    The same answer as ``np.unique(values).size == values.size`` without sorting: each
    value's slot in a scratch array of `size` records the last position that wrote it, so a
    repeated value leaves an earlier position unrecorded. A few microseconds for the
    tens-of-orders batches of a rebalance (``np.unique`` costs several times that).

    Args:
        values: 1-D integer array, every entry in ``[0, size)``.
        size: Upper bound (exclusive) of the values, e.g. the number of assets.

    Example:
        >>> import numpy as np
        >>> all_distinct(np.array([3, 0, 2]), 4), all_distinct(np.array([1, 2, 1]), 4)
        (True, False)
    """
    n = values.shape[0]
    if n < 2:
        return True
    order = np.arange(n)
    last = np.empty(size, dtype=np.intp)
    last[values] = order  # (fancy assignment: the last write of a repeated index wins)
    return bool((last[values] == order).all())
