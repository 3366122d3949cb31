"""Fill the win-rate cache with a blend router's win rates computed from its members' cached win rates.

    python benchmarks/blend_from_members.py --benchmarks mmlu [--config FILE] [--check gsm8k mt_bench]

The blend's win rate is a fixed function of its members' win rates (``Σ w_m F_m(win rate_m)``), so when every
member has already been scored on a benchmark (``routellm eval`` / ``eval_all.py`` cached them) the blend's
scores can be computed without embedding the prompts again. This writes them under the blend's own cache key,
exactly where ``routellm eval --routers blend`` looks. ``--check`` recomputes benchmarks on which the blend was
really scored and prints the largest difference from its cached scores (it must be ~1e-16).
Used because embedding MMLU's 14k prompts twice (mf, then blend's mf member) takes over an hour on the shared
2-core machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from routellm.config import load_config
from routellm.evaluation.scoring import RouterRecipe, WinRateCache, cache_key, prompts_digest
from routellm.registry import get_registry


def blend_win_rates(blend, section: dict, prompts: list[str], data_name: str, cache: WinRateCache) -> np.ndarray:
    from routellm_router_blend.router import member_recipe

    total = np.zeros(len(prompts))
    digest = prompts_digest(prompts)
    for member, (label, member_section) in zip(blend.members, blend.config.members.items(), strict=True):
        recipe = member_recipe(label, member_section)
        values = cache.get(cache_key(recipe.fingerprint, data_name, digest), len(prompts))
        if values is None:
            raise SystemExit(f"member '{label}' has no cached win rates on {data_name}: run routellm eval --routers {label} first")
        total += member.weight * member.cdf(values)
    return np.clip(total, 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--benchmarks", nargs="*", default=["mmlu"])
    parser.add_argument("--check", nargs="*", default=[])
    args = parser.parse_args()
    cfg = load_config(args.config)
    registry = get_registry()
    section = cfg.router_section("blend")
    recipe = RouterRecipe.from_registry("blend", section)
    blend = recipe.build()  # members' reference win rates come from the cache
    cache = WinRateCache()
    for bench in [*args.check, *args.benchmarks]:
        data = registry.create_benchmark(bench, (cfg.section("benchmarks") or {}).get(bench)).load()
        values = blend_win_rates(blend, section, list(data.prompts), data.name, cache)
        key = cache_key(recipe.fingerprint, data.name, prompts_digest(data.prompts))
        if bench in args.check:
            real = cache.get(key, len(data))
            if real is None:
                raise SystemExit(f"blend was never scored on {bench}; nothing to check")
            print(f"check {bench}: max |computed - scored| = {np.abs(real - values).max():.3g} over {len(data)} prompts")
            continue
        meta = {**recipe.fingerprint, "data": data.name, "prompts_sha256": prompts_digest(data.prompts),
                "computed_from": "cached member win rates (benchmarks/blend_from_members.py)"}
        cache.put(key, values, meta)
        print(f"{bench}: cached blend win rates for {len(data)} prompts")
    blend.close()


if __name__ == "__main__":
    main()
