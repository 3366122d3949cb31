"""The blend router: members built through the registry, their win rates mapped to reference quantiles and averaged."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from routellm.errors import ConfigError, UnknownNameError
from routellm.evaluation.scoring import RouterRecipe, WinRateCache, cache_key, prompts_digest, score_prompts
from routellm.router import Router
from routellm.training_overlap import union
from routellm_router_blend.reference import EmpiricalCDF, load_reference

OWNER = "router 'blend'"


@dataclass
class Member:
    label: str
    router: Router
    weight: float
    cdf: EmpiricalCDF


class BlendRouter(Router):
    """Strong win rate = the weighted mean of the members' quantiles: each member's win rate is replaced by
    the share of the reference prompts it scores lower (:class:`~routellm_router_blend.reference.EmpiricalCDF`).

    Quantiles put routers with different scales (a sigmoid, a length, a classifier's probability) on one
    scale, so averaging them is a rank average. The members' win rates on the reference prompts are
    computed once and kept in routellm's win-rate cache.
    """

    class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
        #: Member label -> that router's config section. The label is the router's name unless the section
        #: has ``router: NAME`` (so one router can appear twice with different configs).
        #: Default: ``mf`` (its shipped checkpoint) and ``length``, equally weighted.
        members: dict[str, dict[str, Any] | None] = msgspec.field(default_factory=lambda: {"mf": {}, "length": {}})
        #: Member label -> weight (non-negative, not all zero). Default: equal weights.
        weights: dict[str, float] | None = None
        #: ``builtin`` (the shipped reference prompts) or a prompts file (.json, .jsonl, .txt).
        reference: str = "builtin"
        #: Prompts per member call when scoring the reference.
        batch_size: int = 64

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if not cfg.members:
            raise ConfigError(f"{OWNER}: set members, e.g. members: {{mf: {{}}, length: {{}}}}")
        weights = dict(cfg.weights) if cfg.weights is not None else {label: 1.0 for label in cfg.members}
        unknown = sorted(set(weights) - set(cfg.members))
        if unknown:
            raise ConfigError(f"{OWNER}: weights name {', '.join(unknown)}, which are not members ({', '.join(cfg.members)})")
        missing = sorted(set(cfg.members) - set(weights))
        if missing:
            raise ConfigError(f"{OWNER}: weights give no weight to {', '.join(missing)}; give every member a weight")
        if any(not (math.isfinite(w) and w >= 0) for w in weights.values()) or sum(weights.values()) <= 0:
            raise ConfigError(f"{OWNER}: weights must be non-negative numbers, not all zero; got {weights}")
        total = sum(weights.values())
        prompts, reference_name = load_reference(cfg.reference)
        self.members: list[Member] = []
        try:
            for label, section in cfg.members.items():
                recipe = member_recipe(label, section)
                router = recipe.build()
                reference = reference_win_rates(recipe, router, prompts, reference_name, cfg.batch_size)
                self.members.append(Member(label, router, weights[label] / total, EmpiricalCDF(reference)))
        except BaseException:
            self.close()
            raise

    def calculate_strong_win_rate(self, prompt: str) -> float:
        return float(self.batch_calculate_win_rate([prompt])[0])

    def batch_calculate_win_rate(self, prompts: Sequence[str]) -> np.ndarray:
        prompts = list(prompts)
        blended = np.zeros(len(prompts), dtype=np.float64)
        for member in self.members:
            if member.weight == 0:
                continue
            win_rates = np.asarray(member.router.batch_calculate_win_rate(prompts), dtype=np.float64)
            blended += member.weight * member.cdf(win_rates)
        return np.clip(blended, 0.0, 1.0)

    def training_prompt_hashes(self) -> frozenset[str] | None:
        return union(member.router.training_prompt_hashes() for member in self.members)

    def close(self) -> None:
        for member in getattr(self, "members", []):
            member.router.close()


def member_recipe(label: str, section: dict[str, Any] | None) -> RouterRecipe:
    """The member's router (through the registry, so third-party routers work) and its validated config."""
    section = dict(section or {})
    name = section.pop("router", label)
    try:
        return RouterRecipe.from_registry(str(name), section)
    except (ConfigError, UnknownNameError) as exc:
        raise ConfigError(f"{OWNER}: member '{label}': {exc}") from None


def reference_win_rates(
    recipe: RouterRecipe, router: Router, prompts: list[str], name: str, batch_size: int
) -> np.ndarray:
    """The member's win rates on the reference prompts, from routellm's win-rate cache when it has them."""
    cache = WinRateCache()
    digest = prompts_digest(prompts)
    key = cache_key(recipe.fingerprint, name, digest)
    values = cache.get(key, len(prompts))
    if values is None:
        values = score_prompts(router, prompts, batch_size=batch_size, label=f"{recipe.name} on blend reference")
        cache.put(key, values, {**recipe.fingerprint, "data": name, "prompts_sha256": digest})
    return values
