"""``routellm calibrate``: score a data set's prompts with routers and save calibrated thresholds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from routellm.calibration import (
    CalibrationFile,
    RouterCalibration,
    calibrate_router,
    fingerprint_sha256,
    load_calibration,
    merge,
    save_calibration,
)
from routellm.errors import ConfigError
from routellm.evaluation.scoring import RouterRecipe, WinRateCache, cached_win_rates


class CalibrationRun(msgspec.Struct, frozen=True):
    """What calibrating one router did: thresholds, prompt counts, speed."""

    router: str
    thresholds: dict[str, float]
    num_battles: int
    num_prompts: int
    seconds: float
    cached: bool

    @property
    def prompts_per_second(self) -> float:
        return self.num_prompts / self.seconds if self.seconds > 0 else float("inf")


def load_prompts(dataset: str | Path) -> list[str]:
    """The first user turn of every battle of ``dataset`` (a Hub id or a local file), one per battle."""
    from routellm.battles import load_battles

    return load_battles(dataset)["prompt"].to_list()


def calibrate(
    routers: Sequence[str],
    strong_model_pcts: Sequence[float],
    *,
    dataset: str | Path,
    config=None,
    output: str | Path | None = None,
    overwrite: Sequence[str] = (),
    cache: WinRateCache | None = None,
    prompts: Sequence[str] | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[list[CalibrationRun], Path]:
    """Calibrate ``routers`` on ``dataset``; save (merging with the existing file) and return the runs.

    Each distinct prompt is scored once; thresholds are quantiles over all battles, as in RouteLLM.
    """
    from routellm.calibration import calibration_path
    from routellm.config import Config

    config = config or Config()
    for pct in strong_model_pcts:
        if not 0.0 <= pct <= 1.0:
            raise ValueError(f"--strong-model-pct must be a fraction between 0 and 1, got {pct}")
    if prompts is None:
        prompts = load_prompts(dataset)
    unique, inverse = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    unique_list = [str(p) for p in unique]
    data_name = f"calibration:{dataset}"
    runs, entries = [], {}
    for name in routers:
        try:
            recipe = RouterRecipe.from_registry(name, config.router_section(name))
        except ConfigError as exc:
            raise ConfigError(f"{config.where}: {exc}") from None
        start = time.perf_counter()
        win_rates, cached = cached_win_rates(
            recipe, unique_list, data_name, cache=cache, overwrite=name in overwrite,
            batch_size=batch_size, progress=progress,
        )
        seconds = time.perf_counter() - start
        fingerprint = recipe.fingerprint
        digest = fingerprint_sha256(fingerprint)
        per_battle = win_rates[inverse]
        entry: RouterCalibration = calibrate_router(
            per_battle, list(strong_model_pcts), config_sha256=digest, config=fingerprint["config"]
        )
        entries[name] = entry
        runs.append(
            CalibrationRun(
                router=name,
                thresholds={f"{float(p):g}": entry.threshold(float(p)) for p in strong_model_pcts},
                num_battles=len(prompts),
                num_prompts=len(unique_list),
                seconds=seconds,
                cached=cached,
            )
        )
    path = Path(output) if output is not None else calibration_path(config)
    existing: CalibrationFile | None = load_calibration(path) if path.is_file() else None
    save_calibration(merge(existing, str(dataset), entries), path)
    return runs, path
