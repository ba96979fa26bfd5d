"""Pick display points of long series; the stored data is never touched.

A browser draws a few thousand points per line without effort, but 1-minute bars over ten years
are millions. `lttb_indices` keeps the visual shape (peaks and troughs survive) by choosing, in
each bucket, the point that forms the largest triangle with its neighbours (Steinarsson,
"Downsampling Time Series for Visual Representation", 2013). `stride_indices` is the plain
alternative for series whose shape is not the point (e.g. scatter clouds).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_DISPLAY_POINTS", "lttb_indices", "stride_indices"]

MAX_DISPLAY_POINTS: Final = 5_000
"""Most points the tearsheet draws per line."""

IntArray = npt.NDArray[np.int64]


def stride_indices(n: int, max_points: int = MAX_DISPLAY_POINTS) -> IntArray:
    """Return evenly spaced indices into a length-`n` series, first and last included.

    Example:
        >>> stride_indices(10, 4).tolist()
        [0, 3, 6, 9]
        >>> stride_indices(3, 10).tolist()
        [0, 1, 2]
    """
    if max_points < 2:
        raise ValueError(f"`max_points` must be >= 2, was {max_points}")
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def lttb_indices(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], max_points: int = MAX_DISPLAY_POINTS
) -> IntArray:
    """Return the indices that Largest-Triangle-Three-Buckets keeps (first and last always).

    Args:
        x: Increasing x values (e.g. int64 nanoseconds as float).
        y: Values; NaN is treated as 0 for the choice only.
        max_points: Number of points to keep, >= 3.

    Returns:
        Sorted indices, `max_points` of them (all indices when the series is shorter).

    Example:
        >>> x = np.arange(7, dtype=float)
        >>> y = np.array([0.0, 1.0, 0.0, 5.0, 0.0, 1.0, 0.0])
        >>> lttb_indices(x, y, 3).tolist()
        [0, 3, 6]
    """
    n = x.shape[0]
    if max_points < 3:
        raise ValueError(f"`max_points` must be >= 3, was {max_points}")
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    yy = np.nan_to_num(y, nan=0.0)
    # n - 2 inner points go into max_points - 2 buckets; bucket b spans [edges[b], edges[b+1]).
    edges = np.floor(np.linspace(1, n - 1, max_points - 1)).astype(np.int64)
    out = np.empty(max_points, dtype=np.int64)
    out[0] = 0
    out[-1] = n - 1
    a = 0
    for b in range(max_points - 2):
        lo, hi = edges[b], edges[b + 1]
        # Average of the next bucket (or the last point) is the third triangle corner.
        nlo, nhi = edges[b + 1], edges[b + 2] if b + 2 < edges.shape[0] else n
        cx = x[nlo:nhi].mean()
        cy = yy[nlo:nhi].mean()
        ax, ay = x[a], yy[a]
        area = np.abs((ax - cx) * (yy[lo:hi] - ay) - (ax - x[lo:hi]) * (cy - ay))
        a = lo + int(np.argmax(area))
        out[b + 1] = a
    return out
