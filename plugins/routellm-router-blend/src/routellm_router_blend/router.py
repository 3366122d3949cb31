"""The blend router: members built through the registry, their win rates mapped to reference quantiles and averaged."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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
        #: ``builtin`` (the shipped reference prompts), a prompts file (.json, .jsonl, .txt), or ``calibration``:
        #: the quantiles ``routellm calibrate`` stored for each member (same config) in the calibration file.
        reference: str = "builtin"
        #: With ``reference: calibration``: the calibration file (default: routellm's default location).
        calibration_file: str | None = None
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
        calibration = load_calibration_file(cfg.calibration_file) if cfg.reference == "calibration" else None
        prompts, reference_name = load_reference(cfg.reference) if calibration is None else ([], "")
        self.members: list[Member] = []
        try:
            for label, section in cfg.members.items():
                recipe = member_recipe(label, section)
                reference = calibrated_quantiles(calibration, label, recipe) if calibration is not None else None
                router = recipe.build()
                if reference is None:
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


def load_calibration_file(path: str | None):
    from routellm.calibration import default_path, load_calibration

    return load_calibration(Path(path).expanduser() if path else default_path())


def calibrated_quantiles(calibration, label: str, recipe: RouterRecipe) -> np.ndarray:
    """The member's win-rate quantiles (1,001 of them) from the calibration file, if calibrated with this config."""
    from routellm.calibration import fingerprint_sha256

    entry = calibration.routers.get(recipe.name)
    hint = f"run `routellm calibrate --routers {recipe.name}` with the member's config in the {recipe.name} section"
    if entry is None:
        raise ConfigError(f"{OWNER}: member '{label}' ({recipe.name}) is not in the calibration file; {hint}")
    if entry.config_sha256 != fingerprint_sha256(recipe.fingerprint):
        raise ConfigError(f"{OWNER}: member '{label}' was calibrated with another config ({entry.config}); {hint}")
    return np.asarray(entry.grid, dtype=np.float64)


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
