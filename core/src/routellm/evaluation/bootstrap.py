"""Bootstrap intervals for a router's metrics: resample prompts, redo the whole sweep, recompute the metrics.

Each replicate draws ``n`` prompts with replacement (the same draws for every router of an evaluation,
so routers are compared on the same resamples) and repeats exactly what :func:`~routellm.evaluation.metrics.sweep`
and :func:`~routellm.evaluation.metrics.compute_metrics` do on it: quantile thresholds of the resampled
win rates, the weak and strong qualities of the resample, APGR and CPT(20/50/80%). The interval is the
2.5th to 97.5th percentile of the replicates. Everything is vectorised over a block of replicates, so
1,000 resamples of MMLU's 14k prompts take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from routellm.evaluation.metrics import CPT_LEVELS, sweep_thresholds

#: Replicates computed together (bounds memory: block x prompts floats).
BLOCK = 64
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95


class Intervals(msgspec.Struct, frozen=True):
    """95% bootstrap intervals ``[low, high]`` of one router's metrics, and the quality band of its curve."""

    resamples: int
    seed: int
    level: float
    apgr: list[float]
    cpt20: list[float]
    cpt50: list[float]
    cpt80: list[float]
    #: Standard deviation of APGR over the replicates.
    apgr_sd: float
    #: Per curve point (in the curve's order): the interval of the PGR at that sweep threshold, as quality
    #: (``weak + pgr * (strong - weak)`` with the full data's weak and strong qualities).
    quality_low: list[float] = []
    quality_high: list[float] = []


def resample_indices(n: int, resamples: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``(resamples, n)`` prompt indices drawn with replacement, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    dtype = np.int32 if n < 2**31 else np.int64
    return rng.integers(0, n, size=(resamples, n), dtype=dtype)


def replicate_curves(
    win_rates: np.ndarray, strong_q: np.ndarray, weak_q: np.ndarray, indices: np.ndarray, num_results: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sweep every resample: ``(shares, qualities, weak, strong)``, shapes ``(R, P)``, ``(R, P)``, ``(R,)``, ``(R,)``.

    Points are in threshold order (lowest threshold first), as :func:`~routellm.evaluation.metrics.sweep`
    computes them; the last threshold routes strictly above it.
    """
    levels = np.linspace(0.0, 1.0, num_results + 1)
    sweep_thresholds(win_rates[:1], num_results)  # validates num_results
    shares, qualities, weaks, strongs = [], [], [], []
    gain = strong_q - weak_q
    for start in range(0, len(indices), BLOCK):
        idx = indices[start : start + BLOCK]
        w = win_rates[idx]
        g = gain[idx]
        weak = weak_q[idx].mean(axis=1)
        thresholds = np.quantile(w, levels, axis=1)  # (P, R)
        share = np.empty((len(idx), len(levels)))
        quality = np.empty((len(idx), len(levels)))
        for j, t in enumerate(thresholds):
            selected = w > t[:, None] if j == len(levels) - 1 else w >= t[:, None]
            share[:, j] = selected.mean(axis=1)
            quality[:, j] = weak + (g * selected).mean(axis=1)
        shares.append(share)
        qualities.append(quality)
        weaks.append(weak)
        strongs.append(strong_q[idx].mean(axis=1))
    return np.concatenate(shares), np.concatenate(qualities), np.concatenate(weaks), np.concatenate(strongs)


def batch_metrics(shares: np.ndarray, qualities: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, np.ndarray]:
    """APGR and CPT levels of many curves at once (rows), as :func:`~routellm.evaluation.metrics.compute_metrics`."""
    order = np.argsort(shares, axis=1, kind="stable")
    x = np.take_along_axis(shares, order, axis=1)
    y = np.take_along_axis(qualities, order, axis=1)
    area = np.sum((y[:, 1:] + y[:, :-1]) * np.diff(x, axis=1), axis=1) / 2.0
    span = x[:, -1] - x[:, 0]
    gap = strong - weak
    with np.errstate(divide="ignore", invalid="ignore"):
        apgr = np.where((span > 0) & (gap != 0), (area - weak * span) / (gap * span), np.nan)
    out = {"apgr": apgr}
    for level in CPT_LEVELS:
        target = weak + level * gap
        reached = y >= target[:, None]
        first = np.argmax(reached, axis=1)
        rows = np.arange(len(x))
        prev = np.maximum(first - 1, 0)
        x0, x1, y0, y1 = x[rows, prev], x[rows, first], y[rows, prev], y[rows, first]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(y1 != y0, (target - y0) / (y1 - y0), 0.0)
        value = np.where(first == 0, x[:, 0], x0 + frac * (x1 - x0))
        out[f"cpt{round(level * 100)}"] = np.where(reached.any(axis=1), value, np.nan)
    return out


def _interval(values: np.ndarray, level: float) -> list[float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [float("nan"), float("nan")]
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return [float(low), float(high)]


def bootstrap_intervals(
    runs: Sequence[np.ndarray],
    strong_q: np.ndarray,
    weak_q: np.ndarray,
    indices: np.ndarray,
    num_results: int,
    *,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
    point_order: np.ndarray | None = None,
) -> Intervals:
    """Intervals from the win rates of one router (``runs``: one array, or one per seed of a random router).

    With several runs the replicates are shared out among them (replicate ``r`` uses run ``r % len(runs)``)
    and pooled, so a random router's interval is that of one seeded random router, seeds included.
    ``point_order`` puts the quality band in the order of the reported curve's points.
    """
    strong_q = np.asarray(strong_q, dtype=np.float64)
    weak_q = np.asarray(weak_q, dtype=np.float64)
    parts = []
    for r, win_rates in enumerate(runs):
        subset = indices[r :: len(runs)]
        if len(subset):
            parts.append(replicate_curves(np.asarray(win_rates, np.float64), strong_q, weak_q, subset, num_results))
    shares, qualities, weak, strong = (np.concatenate([p[i] for p in parts]) for i in range(4))
    metrics = batch_metrics(shares, qualities, weak, strong)
    # The band is the interval of each point's PGR, drawn on the full data's quality scale: resampling moves the
    # weak and strong qualities too, and a band of raw quality would mostly show that common shift.
    tail = (1.0 - level) / 2.0 * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pgr = (qualities - weak[:, None]) / (strong - weak)[:, None]
    pgr_low, pgr_high = np.nanpercentile(pgr, [tail, 100.0 - tail], axis=0)
    weak0, gap0 = float(weak_q.mean()), float(strong_q.mean() - weak_q.mean())
    low, high = weak0 + pgr_low * gap0, weak0 + pgr_high * gap0
    if point_order is not None:
        low, high = low[point_order], high[point_order]
    apgr = metrics["apgr"][np.isfinite(metrics["apgr"])]
    return Intervals(
        resamples=len(indices),
        seed=seed,
        level=level,
        apgr=_interval(metrics["apgr"], level),
        cpt20=_interval(metrics["cpt20"], level),
        cpt50=_interval(metrics["cpt50"], level),
        cpt80=_interval(metrics["cpt80"], level),
        apgr_sd=float(apgr.std(ddof=1)) if apgr.size > 1 else float("nan"),
        quality_low=low.tolist(),
        quality_high=high.tolist(),
    )


def curve_order(runs: Sequence[np.ndarray], num_results: int) -> np.ndarray:
    """The order :meth:`~routellm.evaluation.metrics.Curve.build` gives the points of the (averaged) sweep."""
    shares = []
    for w in runs:
        thresholds = sweep_thresholds(w, num_results)
        last = len(thresholds) - 1
        shares.append([(w > t).mean() if j == last else (w >= t).mean() for j, t in enumerate(thresholds)])
    return np.argsort(np.mean(shares, axis=0), kind="stable")
