"""Calibrating the N-model knob: from a spend target to the ``x`` of ``router-<r>-<x>``.

``routellm calibrate`` with a ``models:`` list (N priced models) scores the calibration prompts with
each router's :meth:`~routellm.router.Router.batch_model_scores`, estimates what each request would
cost on each model (prompt tokens ~ characters / 4, plus ``--completion-tokens`` output tokens, at
the configured prices), sweeps the knob and stores, per router, the spend at every knob value in the
calibration file (``multi:`` entries). Two name forms then use it:

* ``router-<r>-p<percent>``: about ``percent`` % of the spend of always calling the most expensive model;
* ``router-<r>-b<usd>``: about ``usd`` dollars per 1,000 requests.

Each resolves to the smallest knob (so the best predicted quality) whose calibrated spend is within
the target; a target below the cheapest model's spend resolves to ``1`` (nearly all to the cheapest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

if TYPE_CHECKING:
    from routellm.engine import RoutingEngine
    from routellm.model_names import RouterModel
    from routellm.multi_model import ModelLadder

#: Characters per token assumed when estimating prompt tokens for calibration.
CHARS_PER_TOKEN = 4.0


class MultiModelCalibration(msgspec.Struct, frozen=True):
    """One router's spend by knob value, over the calibration prompts, for one model ladder."""

    config_sha256: str
    config: str
    #: The ladder it was calibrated for, cheapest first; a server with other models must recalibrate.
    models: list[str]
    num_prompts: int
    completion_tokens: float
    #: Ascending knob values and, at each, the share of always-most-expensive spend and USD per 1,000 requests.
    knobs: list[float]
    spend_share: list[float]
    usd_per_1k: list[float]
    #: The knob for each target asked for on the command line, e.g. ``{"p40": 0.62, "b2": 0.71}``.
    requested: dict[str, float] = {}

    def knob(self, *, spend_share: float | None = None, usd_per_1k: float | None = None) -> float:
        """The smallest knob whose calibrated spend is within the target (1.0 when none is)."""
        if (spend_share is None) == (usd_per_1k is None):
            raise ValueError("give exactly one of spend_share and usd_per_1k")
        key = f"p{spend_share * 100:g}" if spend_share is not None else f"b{usd_per_1k:g}"
        if key in self.requested:
            return self.requested[key]
        spends = self.spend_share if spend_share is not None else self.usd_per_1k
        target = spend_share if spend_share is not None else usd_per_1k
        return knob_for(np.asarray(self.knobs), np.asarray(spends), float(target))  # pyright: ignore[reportArgumentType]  # one of the two is given


def knob_for(knobs: np.ndarray, spends: np.ndarray, target: float) -> float:
    """Smallest of ``knobs`` (ascending) whose spend is at most ``target`` (+ a rounding margin)."""
    within = np.flatnonzero(spends <= target * (1 + 1e-9) + 1e-12)
    return float(knobs[within[0]]) if within.size else 1.0


def knob_grid() -> np.ndarray:
    """Knob values tried: a regular grid plus price weights ``λ = x / (1 - x)`` from 1e-5 to 1e5 in log steps."""
    lam = np.geomspace(1e-5, 1e5, 2001)
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, 1001), lam / (1.0 + lam)]))


def spend_curve(scores: np.ndarray, costs: np.ndarray, knobs: np.ndarray, relative_costs) -> np.ndarray:
    """Average cost per request at each knob value (scores and costs: ``(n, N)``, cheapest first)."""
    from routellm.multi_model import choose_indices

    out = np.empty(len(knobs))
    rows = np.arange(len(scores))
    for i, knob in enumerate(knobs):
        out[i] = costs[rows, choose_indices(scores, float(knob), relative_costs)].mean()
    return out


def calibrate_scores(
    scores: np.ndarray,
    costs: np.ndarray,
    models: Sequence[str],
    *,
    spend_shares: Sequence[float] = (),
    budgets: Sequence[float] = (),
    completion_tokens: float,
    relative_costs,
    config_sha256: str = "",
    config: str = "",
) -> MultiModelCalibration:
    """A router's knob calibration from its scores and the per-request costs on the calibration prompts.
    ``relative_costs``: the ladder's (what the server's rule prices models with)."""
    knobs = knob_grid()
    spend = spend_curve(scores, costs, knobs, relative_costs)
    always_best = float(costs[:, -1].mean())
    share = spend / always_best if always_best > 0 else np.zeros_like(spend)
    per_1k = spend * 1000.0
    requested = {f"p{s * 100:g}": knob_for(knobs, share, s) for s in spend_shares}
    requested |= {f"b{b:g}": knob_for(knobs, per_1k, b) for b in budgets}
    return MultiModelCalibration(
        config_sha256=config_sha256,
        config=config,
        models=list(models),
        num_prompts=len(scores),
        completion_tokens=float(completion_tokens),
        knobs=knobs.tolist(),
        spend_share=share.tolist(),
        usd_per_1k=per_1k.tolist(),
        requested=requested,
    )


def estimated_costs(ladder: ModelLadder, prompts: Sequence[str], completion_tokens: float) -> np.ndarray:
    """USD per request per model: prompt tokens ~ characters / 4, a fixed number of completion tokens."""
    tokens = np.fromiter((len(p) / CHARS_PER_TOKEN for p in prompts), dtype=np.float64, count=len(prompts))
    return ladder.request_costs(tokens, completion_tokens)


def calibrate_multi(
    routers: Sequence[str],
    *,
    ladder: ModelLadder,
    prompts: Sequence[str],
    dataset: str,
    config: Any,
    output: str | Path | None = None,
    spend_shares: Sequence[float] = (),
    budgets: Sequence[float] = (),
    completion_tokens: float = 256.0,
    batch_size: int = 64,
) -> tuple[dict[str, MultiModelCalibration], Path]:
    """Calibrate the knob of ``routers`` for ``ladder`` on ``prompts``; merge into the calibration file."""
    from routellm.calibration import (
        CalibrationFile,
        calibration_path,
        fingerprint_sha256,
        load_calibration,
        save_calibration,
    )
    from routellm.evaluation.scoring import RouterRecipe
    from routellm.multi_model import model_scores

    for share in spend_shares:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"--spend-share must be a fraction between 0 and 1 (0.4 for 40%), got {share}")
    for budget in budgets:
        if not budget >= 0.0:
            raise ValueError(f"--usd-per-1k must be 0 or more, got {budget}")
    costs = estimated_costs(ladder, prompts, completion_tokens)
    entries: dict[str, MultiModelCalibration] = {}
    for name in routers:
        recipe = RouterRecipe.from_registry(name, config.router_section(name))
        router = recipe.build()
        try:
            parts = [
                model_scores(router, prompts[i : i + batch_size], ladder.names) for i in range(0, len(prompts), batch_size)
            ]
        finally:
            router.close()
        scores = np.concatenate(parts) if parts else np.zeros((0, len(ladder)))
        fingerprint = recipe.fingerprint
        entries[name] = calibrate_scores(
            scores,
            costs,
            ladder.names,
            spend_shares=spend_shares,
            budgets=budgets,
            completion_tokens=completion_tokens,
            relative_costs=ladder.relative_costs,
            config_sha256=fingerprint_sha256(fingerprint),
            config=fingerprint["config"],
        )
    path = Path(output) if output is not None else calibration_path(config)
    existing = load_calibration(path) if path.is_file() else None
    data_name = str(dataset)
    if existing is None or existing.dataset != data_name:
        merged = CalibrationFile(dataset=data_name, multi=entries)
    else:
        merged = CalibrationFile(dataset=data_name, routers=dict(existing.routers), multi={**existing.multi, **entries})
    save_calibration(merged, path)
    return entries, path


def resolve_knob(engine: RoutingEngine, model: str, parsed: RouterModel) -> RouterModel:
    """Resolve a ``p<percent>`` / ``b<usd>`` name to the knob calibrated for the engine's model ladder."""
    from routellm.engine import RequestError

    assert engine.ladder is not None
    hint = (
        f"run `routellm calibrate --config CONFIG --routers {parsed.router} --spend-share 0.4` "
        "with this models: list, or use a raw knob such as "
        f"'router-{parsed.router}-0.5'"
    )
    entry = engine.calibration.multi.get(parsed.router) if engine.calibration is not None else None
    if entry is None:
        raise RequestError(
            f"model '{model}' asks for a spend target, but router '{parsed.router}' has no N-model calibration; {hint}",
            param="model",
            code="model_not_found",
        )
    if tuple(entry.models) != engine.ladder.names:
        raise RequestError(
            f"model '{model}': router '{parsed.router}' was calibrated for models {', '.join(entry.models)}, "
            f"this server routes among {', '.join(engine.ladder.names)}; {hint}",
            param="model",
            code="model_not_found",
        )
    if parsed.budget is not None:
        knob = entry.knob(usd_per_1k=parsed.budget)
    else:
        assert parsed.strong_share is not None and not math.isnan(parsed.strong_share)
        knob = entry.knob(spend_share=parsed.strong_share)
    resolved = parsed.with_threshold(knob)
    if len(engine._resolved) < 10_000:
        engine._resolved[model] = resolved
    return resolved
