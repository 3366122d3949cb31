"""N-model evaluation: quality against cost per query, for benchmarks that record what each model cost.

For a benchmark with per-prompt quality **and cost** for N models (``BenchmarkData.cost``), each
router's knob (:mod:`routellm.multi_model`) is swept, giving a curve of (average USD per query,
average quality). Reported beside it:

* every single model as a point, and the **best single-model frontier**: the non-decreasing upper
  convex hull of those points (mixing two models at random reaches any point on it);
* the **oracle**: each prompt to the cheapest model that got it right (the cheapest model when none did);
* **AIQ** (RouterBench, Hu et al. 2024, ``evaluation/AIQ.py``): the area under the non-decreasing
  convex hull of a curve, each hull extended flat to the largest cost among the compared curves,
  divided by that cost;
* **cost to match the best single model's quality**: the cheapest swept point at or above it;
* **quality at the cheapest model's cost**: the best swept point costing no more than it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from routellm.benchmark import BenchmarkData
from routellm.errors import ConfigError

logger = logging.getLogger(__name__)

SINGLE_HULL = "single-model hull"
ORACLE = "oracle"


class CostPoint(msgspec.Struct, frozen=True):
    """One operating point: average USD per query and average quality (``knob`` for a router's sweep)."""

    cost: float
    quality: float
    knob: float | None = None
    label: str | None = None


class MultiRouterResult(msgspec.Struct, frozen=True):
    """A router's swept curve and its summary figures."""

    name: str
    points: list[CostPoint]
    aiq: float
    #: Cheapest swept cost reaching the best single model's quality (``None`` when never reached).
    cost_to_match_best: float | None
    #: Best swept quality at or below the cheapest single model's cost.
    quality_at_cheapest: float | None


class MultiEvalResult(msgspec.Struct, frozen=True):
    """Everything the N-model report holds for one benchmark."""

    benchmark: str
    num_prompts: int
    #: Models routed among, cheapest first (by average cost on this benchmark).
    models: list[str]
    singles: list[CostPoint]
    hull: list[CostPoint]
    hull_aiq: float
    oracle: CostPoint
    best_model: str
    cheapest_model: str
    routers: list[MultiRouterResult]
    #: The largest cost among the compared curves (AIQ's x range is [0, max_cost]).
    max_cost: float
    notes: list[str] = []

    def router(self, name: str) -> MultiRouterResult:
        for result in self.routers:
            if result.name == name:
                return result
        raise KeyError(name)


# --- geometry ------------------------------------------------------------------------------------


def nondecreasing_hull(points: np.ndarray) -> np.ndarray:
    """The non-decreasing upper convex hull of ``(cost, quality)`` rows, sorted by cost.

    Equivalent in result to RouterBench's ``get_non_descreasing_convex_hull_of``: the upper hull,
    then every point lower than the one before it dropped (so it starts at the cheapest point and
    ends at the best one).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return pts
    order = np.lexsort((-pts[:, 1], pts[:, 0]))
    pts = pts[order]
    # for equal costs keep the best quality
    keep = np.concatenate([[True], np.diff(pts[:, 0]) > 0])
    pts = pts[keep]
    upper: list[np.ndarray] = []
    for p in pts:
        while len(upper) >= 2:
            (x1, y1), (x2, y2) = upper[-2], upper[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:  # upper[-1] not above the chord
                upper.pop()
            else:
                break
        upper.append(p)
    hull = np.array(upper)
    out = [hull[0]]
    for p in hull[1:]:
        if p[1] >= out[-1][1]:
            out.append(p)
    return np.array(out)


def aiq(hulls: Mapping[str, np.ndarray], max_cost: float | None = None) -> dict[str, float]:
    """RouterBench's AIQ for each curve: hull area (extended flat to ``max_cost``) over ``max_cost``."""
    if not hulls:
        return {}
    if max_cost is None:
        max_cost = max(float(h[:, 0].max()) for h in hulls.values())
    out = {}
    for name, hull in hulls.items():
        extended = np.vstack([hull, [[max_cost, hull[-1, 1]]]])
        area = float(np.sum(np.diff(extended[:, 0]) * (extended[1:, 1] + extended[:-1, 1]) / 2))
        out[name] = area / max_cost if max_cost > 0 else float("nan")
    return out


def interpolate_quality(hull: np.ndarray, cost: float) -> float:
    """Quality on a hull at ``cost`` (flat beyond its ends)."""
    return float(np.interp(cost, hull[:, 0], hull[:, 1]))


def cost_to_reach(points: Sequence[CostPoint], quality: float) -> float | None:
    """Cheapest cost among ``points`` with quality at least ``quality`` (``None`` when none)."""
    costs = [p.cost for p in points if p.quality >= quality - 1e-12]
    return min(costs) if costs else None


def quality_within(points: Sequence[CostPoint], cost: float) -> float | None:
    """Best quality among ``points`` costing at most ``cost`` (``None`` when none)."""
    qualities = [p.quality for p in points if p.cost <= cost * (1 + 1e-9) + 1e-15]
    return max(qualities) if qualities else None


# --- sweeping ------------------------------------------------------------------------------------


def sweep_knob(
    scores: np.ndarray, quality: np.ndarray, cost: np.ndarray, knobs: np.ndarray, relative_costs: np.ndarray | None = None
) -> list[CostPoint]:
    """Average cost and quality at each knob (``scores``, ``quality``, ``cost``: ``(n, N)``, cheapest first).

    ``relative_costs``: each model's price relative to the most expensive (default: its average cost here)."""
    from routellm.multi_model import choose_indices

    if relative_costs is None:
        relative_costs = average_relative_costs(cost)
    rows = np.arange(len(scores))
    points = []
    for knob in knobs:
        chosen = choose_indices(scores, float(knob), relative_costs)
        points.append(CostPoint(float(cost[rows, chosen].mean()), float(quality[rows, chosen].mean()), float(knob)))
    return points


def oracle_point(quality: np.ndarray, cost: np.ndarray) -> CostPoint:
    """Each prompt to its cheapest model with the best quality (the cheapest correct one for 0/1 quality)."""
    best = quality.max(axis=1, keepdims=True)
    masked = np.where(quality >= best, cost, np.inf)
    chosen = np.argmin(masked, axis=1)
    rows = np.arange(len(quality))
    return CostPoint(float(cost[rows, chosen].mean()), float(quality[rows, chosen].mean()), label=ORACLE)


def average_relative_costs(cost: np.ndarray) -> np.ndarray:
    """Each model's average cost relative to the most expensive model's (the knob's price scale in evaluation)."""
    means = np.asarray(cost, dtype=np.float64).mean(axis=0)
    top = means.max()
    return means / top if top > 0 else np.zeros_like(means)


def knob_values(num_points: int) -> np.ndarray:
    """``num_points`` knobs evenly spaced in [0, 1] plus ``num_points`` whose price weights
    ``λ = x / (1 - x)`` are spaced evenly in log scale from 1e-4 to 1e4."""
    lam = np.geomspace(1e-4, 1e4, max(num_points, 2))
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, max(num_points, 2)), lam / (1.0 + lam)]))


def evaluate_multi(
    data: BenchmarkData,
    routers: Mapping[str, Mapping[str, Any] | None] | None = None,
    *,
    models: Sequence[str] | None = None,
    scores: Mapping[str, np.ndarray] | None = None,
    num_points: int = 200,
    batch_size: int = 64,
    resolve=None,
) -> MultiEvalResult:
    """Sweep each router's knob over ``data`` routing among ``models`` (default: every model with a cost).

    ``routers`` maps names to config sections (built through the registry, or ``resolve(name)`` giving
    the class); ``scores`` gives precomputed ``(n, N)`` scores by name instead (models cheapest first).
    """
    if not data.cost:
        raise ConfigError(f"benchmark '{data.name}' records no per-prompt cost, so it has no N-model report")
    names = list(models or data.cost)
    missing = [m for m in names if m not in data.cost]
    if missing:
        raise ConfigError(
            f"benchmark '{data.name}' has no cost for model '{missing[0]}' (models: {', '.join(data.cost)})"
        )
    if len(names) < 2:
        raise ConfigError("N-model evaluation needs at least two models")
    avg_cost = {m: float(np.mean(data.cost[m])) for m in names}
    ladder = sorted(names, key=lambda m: (avg_cost[m], names.index(m)))
    quality = np.stack([np.asarray(data.quality[m], dtype=np.float64) for m in ladder], axis=1)
    cost = np.stack([np.asarray(data.cost[m], dtype=np.float64) for m in ladder], axis=1)
    singles = [CostPoint(avg_cost[m], float(quality[:, i].mean()), label=m) for i, m in enumerate(ladder)]
    single_arr = np.array([[p.cost, p.quality] for p in singles])
    hull = nondecreasing_hull(single_arr)
    best = max(singles, key=lambda p: (p.quality, -p.cost))
    cheapest = singles[0]

    all_scores: dict[str, np.ndarray] = dict(scores or {})
    for name, section in (routers or {}).items():
        if name in all_scores:
            continue
        all_scores[name] = _router_scores(name, section, data.prompts, ladder, batch_size, resolve)

    curves: dict[str, list[CostPoint]] = {}
    for name, s in all_scores.items():
        s = np.asarray(s, dtype=np.float64)
        if s.shape != quality.shape:
            raise ValueError(f"scores for '{name}' have shape {s.shape}, expected {quality.shape}")
        curves[name] = sweep_knob(s, quality, cost, knob_values(num_points))
    hulls = {name: nondecreasing_hull(np.array([[p.cost, p.quality] for p in pts])) for name, pts in curves.items()}
    hulls[SINGLE_HULL] = hull
    max_cost = max(float(h[:, 0].max()) for h in hulls.values())
    aiqs = aiq(hulls, max_cost)
    results = [
        MultiRouterResult(
            name,
            pts,
            aiqs[name],
            cost_to_reach(pts, best.quality),
            quality_within(pts, cheapest.cost),
        )
        for name, pts in curves.items()
    ]
    return MultiEvalResult(
        benchmark=data.name,
        num_prompts=len(data),
        models=ladder,
        singles=singles,
        hull=[CostPoint(float(c), float(q)) for c, q in hull],
        hull_aiq=aiqs[SINGLE_HULL],
        oracle=oracle_point(quality, cost),
        best_model=str(best.label),
        cheapest_model=str(cheapest.label),
        routers=results,
        max_cost=max_cost,
        notes=list(data.notes),
    )


def _router_scores(name, section, prompts, ladder, batch_size, resolve) -> np.ndarray:
    from routellm.multi_model import model_scores

    if resolve is None:
        from routellm.registry import get_registry

        router_class = get_registry().router(name).load()
    else:
        router_class = resolve(name)
    router = router_class.from_config(dict(section or {}), name=name)
    try:
        parts = [model_scores(router, prompts[i : i + batch_size], ladder) for i in range(0, len(prompts), batch_size)]
    finally:
        router.close()
    return np.concatenate(parts) if parts else np.zeros((0, len(ladder)))
