"""Grouping models into tiers by rating, as RouteLLM's ``compute_tiers`` does."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def compute_tiers(ratings: Mapping[str, float], num_tiers: int) -> dict[str, int]:
    """Split models, sorted by rating (best first), into contiguous tiers ``0..k-1`` (0 = best).

    The split minimises the sum over tiers of the population variance of the tier's ratings (the
    RouteLLM's dynamic programme, with its tie-breaking: the earliest split point wins). With fewer
    models than ``num_tiers`` every model gets its own tier.
    """
    if num_tiers < 1:
        raise ValueError("num_tiers must be at least 1")
    names = sorted(ratings, key=lambda m: -ratings[m])
    x = np.array([ratings[m] for m in names], dtype=np.float64)
    n = len(x)
    if n == 0:
        return {}
    k = min(num_tiers, n)
    x = x - x.mean()
    # var[l, j]: population variance of x[l..j] (inclusive), from prefix sums.
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])
    lo, hi = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    size = np.maximum(hi - lo + 1, 1)
    mean = (s1[hi + 1] - s1[lo]) / size
    var = np.maximum((s2[hi + 1] - s2[lo]) / size - mean * mean, 0.0)
    var[hi < lo] = np.inf
    # best[t][j]: cost of splitting x[0..j] into t+1 tiers; split[t][j]: end of the first t tiers.
    best = np.empty((k, n))
    split = np.zeros((k, n), dtype=np.intp)
    best[0] = var[0]
    best[:, 0] = 0.0
    for t in range(1, k):
        # candidate[l, j] = best[t-1][l] + var[l+1, j] for 0 <= l < j
        # (var is infinite where j <= l, so only real splits compete).
        candidate = best[t - 1][:-1, None] + var[1:, :]
        split[t, 1:] = candidate[:, 1:].argmin(0)
        best[t, 1:] = candidate[split[t, 1:], np.arange(1, n)]
    ends = []
    cur = n
    for t in range(k - 1, 0, -1):
        cut = int(split[t, cur - 1])
        ends.append(cut)
        cur = cut + 1
    ends = ends[::-1] + [n - 1]
    tiers: dict[str, int] = {}
    start, label = 0, 0
    for end in ends:
        if end >= start:
            for m in names[start : end + 1]:
                tiers[m] = label
            label += 1
            start = end + 1
    return tiers
