"""The few statistics the benchmark needs: medians across runs, percentiles, rates and ratios."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

MIB = 1024 * 1024
GIB = 1024 * MIB


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that were measured (``None`` = failed run); ``None`` if none were."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence.

    Nearest rank, not interpolation: the result is always a latency that was observed, which is
    what "p99" means to someone reading a latency table.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be within 0..1, got {fraction}")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def mib_per_second(size_bytes: int, seconds: float) -> float:
    """Throughput in MiB/s; raises on a non-positive duration rather than report infinity."""
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    return size_bytes / MIB / seconds


def ratio(berth: float | None, reference: float | None) -> float | None:
    """Berth's figure divided by distribution's; ``None`` when either is missing or the divisor is 0."""
    if berth is None or reference is None or reference == 0:
        return None
    return berth / reference
