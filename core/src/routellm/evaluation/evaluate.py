"""Evaluate routers on one benchmark: cached win rates, RouteLLM's quantile sweep, metrics, the oracle."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from routellm.benchmark import BenchmarkData
from routellm.errors import ConfigError
from routellm.evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Intervals,
    bootstrap_intervals,
    curve_order,
    resample_indices,
)
from routellm.evaluation.metrics import Curve, Metrics, average_curves, compute_metrics, oracle_curve, sweep
from routellm.evaluation.scoring import RouterRecipe, WinRateCache, cached_win_rates, recorded_overlap
from routellm.router import Router

logger = logging.getLogger(__name__)

ORACLE = "optimal"


class RouterResult(msgspec.Struct, frozen=True):
    """One router's curve and metrics (``runs`` > 1 when averaged over seeds)."""

    name: str
    curve: Curve
    metrics: Metrics
    runs: int = 1
    cached: bool = False
    #: Bootstrap intervals (``None`` when resampling was turned off).
    intervals: Intervals | None = None


class EvalResult(msgspec.Struct, frozen=True):
    """Everything ``routellm eval`` reports for one benchmark."""

    benchmark: str
    num_prompts: int
    num_results: int
    strong_model: str
    weak_model: str
    strong_quality: float
    weak_quality: float
    routers: list[RouterResult]
    optimal: RouterResult
    notes: list[str] = []
    #: Problems with the evaluation itself, e.g. a router trained on the benchmark's prompts.
    warnings: list[str] = []

    def row(self, name: str) -> RouterResult:
        for result in [*self.routers, self.optimal]:
            if result.name == name:
                return result
        raise KeyError(name)


#: Finds a router's class by name (default: the registry).
RouterResolver = Callable[[str], type[Router]]


def _registry_class(name: str) -> type[Router]:
    from routellm.registry import get_registry

    return get_registry().router(name).load()


def evaluate(
    data: BenchmarkData,
    routers: Mapping[str, Mapping[str, Any] | None],
    *,
    num_results: int = 10,
    random_runs: int = 20,
    overwrite: Sequence[str] = (),
    cache: WinRateCache | None = None,
    resolve: RouterResolver | None = None,
    batch_size: int = 64,
    progress: bool = True,
    bootstrap: int = DEFAULT_RESAMPLES,
    bootstrap_seed: int = DEFAULT_SEED,
) -> EvalResult:
    """Sweep every router in ``routers`` (name -> config section) over ``data``.

    Win rates come from the cache unless the router is in ``overwrite``; a router is only built
    (its model loaded) when its win rates are not cached. Stochastic routers (``Router.stochastic``,
    e.g. ``random``; their ``Config`` must take a ``seed``) run ``random_runs`` times with seeds ``seed, seed+1, ...`` (``seed``
    from their section, default 0) and their curves are averaged point by point.

    With ``bootstrap`` > 0 every router also gets 95% intervals from that many resamples of the prompts
    (the same resamples for every router, drawn from ``bootstrap_seed``); see
    :mod:`routellm.evaluation.bootstrap`. A router whose checkpoint records its training prompts and shares
    some with the benchmark gets a line in ``warnings``.
    """
    resolve = resolve or _registry_class
    if len(data) == 0:
        raise ConfigError(f"benchmark '{data.name}' has no prompts to evaluate (check its options and data)")
    cache = cache or WinRateCache()
    strong_q = np.asarray(data.quality[data.strong_model], dtype=np.float64)
    weak_q = np.asarray(data.quality[data.weak_model], dtype=np.float64)
    strong, weak = float(strong_q.mean()), float(weak_q.mean())
    indices = resample_indices(len(data), bootstrap, bootstrap_seed) if bootstrap > 0 else None
    results, warnings = [], []
    for name, section in routers.items():
        section = dict(section or {})
        router_class = resolve(name)
        if getattr(router_class, "stochastic", False) and random_runs > 1:
            base = int(section.get("seed") or 0)
            sections = [{**section, "seed": base + i} for i in range(random_runs)]
        else:
            sections = [section]
        curves, runs, all_cached = [], [], True
        router_class = resolve(name)
        for run_section in sections:
            recipe = RouterRecipe(name, router_class, run_section)
            win_rates, cached = cached_win_rates(
                recipe, data.prompts, data.name, cache=cache, overwrite=name in overwrite,
                batch_size=batch_size, progress=progress,
            )
            all_cached &= cached
            runs.append(win_rates)
            curves.append(sweep(win_rates, strong_q, weak_q, num_results))
            overlap = recorded_overlap(recipe, data.prompts, data.name, cache=cache) if len(runs) == 1 else None
            if overlap is not None and overlap.overlapping:
                warnings.append(
                    f"router '{name}' was trained on {overlap.overlapping} of the {overlap.prompts} {data.name} "
                    f"prompts ({overlap.share:.1%}); its figures on {data.name} are contaminated"
                )
        curve = curves[0] if len(curves) == 1 else average_curves(curves)
        intervals = None
        if indices is not None:
            intervals = bootstrap_intervals(
                runs, strong_q, weak_q, indices, num_results, seed=bootstrap_seed, point_order=curve_order(runs, num_results)
            )
        results.append(
            RouterResult(
                name, curve, compute_metrics(curve, weak, strong), runs=len(curves), cached=all_cached, intervals=intervals
            )
        )
    best = oracle_curve(strong_q, weak_q, num_results)
    return EvalResult(
        benchmark=data.name,
        num_prompts=len(data),
        num_results=num_results,
        strong_model=data.strong_model,
        weak_model=data.weak_model,
        strong_quality=strong,
        weak_quality=weak,
        routers=results,
        optimal=RouterResult(ORACLE, best, compute_metrics(best, weak, strong)),
        notes=list(data.notes),
        warnings=warnings,
    )
