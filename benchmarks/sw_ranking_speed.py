"""Speed of the sw_ranking router: query embedding, ranking, end to end, and RouteLLM's per-request fit.

    python benchmarks/sw_ranking_speed.py [--folder DIR] [--prompts 512] [--seed-prompts 8]

``--folder`` is a folder made by ``routellm train sw_ranking``; without it the shared AlpacaEval
battles (``$ROUTELLM_DATA_DIR/battles/alpaca_eval_gpt4_turbo.parquet``) are trained once into
routellm's cache. Query prompts are MMLU questions from ``$ROUTELLM_DATA_DIR/benchmarks``. Prints a
table and writes ``results/sw_ranking_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import polars as pl

from routellm.paths import cache_dir, data_dir

ROOT = Path(__file__).resolve().parent.parent
BATTLES = "battles/alpaca_eval_gpt4_turbo.parquet"


def default_folder(data: Path) -> Path:
    """Train the shared battles once into the cache (embeds 805 prompts)."""
    from routellm.battles import load_battles
    from routellm.registry import get_registry
    from routellm_router_sw_ranking.ranking_data import (
        ROUTELLM_STRONG,
        ROUTELLM_WEAK,
        RankingData,
        distinct_prompts,
    )

    folder = cache_dir("sw_ranking", "alpaca_eval_gpt4_turbo")
    if (folder / "config.json").is_file():
        return folder
    battles = load_battles(data / BATTLES)
    embedder = get_registry().create_embedder("huggingface", {})
    ranking = RankingData.from_battles(
        battles,
        embedder.embed(distinct_prompts(battles), progress=True),
        embedder={"name": "huggingface", "config": {}},
        source=str(data / BATTLES),
    )
    ranking.strong_model = ranking.resolve_model(ROUTELLM_STRONG, "strong")
    ranking.weak_model = ranking.resolve_model(ROUTELLM_WEAK, "weak")
    return ranking.save(folder)


def query_prompts(data: Path, n: int) -> list[str]:
    """``n`` MMLU questions, taken round-robin over the domains (real prompt lengths)."""
    files = sorted((data / "benchmarks" / "mmlu" / "responses").glob("mmlu_*.csv"))
    columns = [pl.read_csv(f, columns=["prompt"])["prompt"].to_list() for f in files]
    out: list[str] = []
    for i in range(max(map(len, columns))):
        out.extend(c[i] for c in columns if i < len(c))
        if len(out) >= n:
            break
    return out[:n]


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeats`` runs, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def original_style_win_rate(router, query: np.ndarray) -> float:
    """RouteLLM's per-request work: weight every battle, refit a weighted logistic regression over all
    of them (duplicated, +-ln 10 design, ties split), Newton's method in plain numpy."""
    data = router.data
    battles = data.battles
    ta = battles["model_a"].replace_strict(data.tiers).to_numpy()
    tb = battles["model_b"].replace_strict(data.tiers).to_numpy()
    winner = battles["winner"].to_numpy()
    keys = data.embeddings[battles["prompt_id"].to_numpy()].astype(np.float64)
    sims = keys @ query / (np.linalg.norm(keys, axis=1) * np.linalg.norm(query))
    w = 10 * 10 ** (sims / sims.max())
    keep = ta != tb
    ta, tb, winner, w = ta[keep], tb[keep], winner[keep], w[keep]
    n, p = 2 * len(ta), router.n_tiers
    x = np.zeros((n, p))
    rows = np.arange(n)
    x[rows, np.concatenate([ta, ta])] = math.log(10)
    x[rows, np.concatenate([tb, tb])] = -math.log(10)
    y = np.concatenate([(winner == "model_a") | (winner == "tie"), winner == "model_a"]).astype(float)
    sw = np.concatenate([w, w])
    penalty = 2 * router.config.ridge * math.log(10) ** 2
    beta = np.zeros(p)
    for _ in range(100):
        prob = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (sw * (prob - y)) + penalty * beta
        hess = (x * (sw * prob * (1 - prob))[:, None]).T @ x + penalty * np.eye(p)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    gap = math.log(10) * (beta[router.strong_tier] - beta[router.weak_tier])
    return 1 / (1 + math.exp(-gap))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="trained sw_ranking folder (default: train the shared battles)")
    parser.add_argument("--prompts", type=int, default=512, help="query prompts (MMLU questions)")
    parser.add_argument("--single", type=int, default=64, help="prompts scored one request at a time, end to end")
    parser.add_argument("--seed-prompts", type=int, default=8, help="prompts for RouteLLM-style per-request fit")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "sw_ranking_speed.json")
    args = parser.parse_args()

    data = data_dir()
    if data is None:
        raise SystemExit("set ROUTELLM_DATA_DIR to the shared data folder")
    folder = args.folder or default_folder(data)

    import torch

    from routellm.registry import get_registry

    start = time.perf_counter()
    # Embedder cache off: every measured embedding is computed.
    router = get_registry().create_router(
        "sw_ranking", {"checkpoint_path": str(folder), "embedder_config": {"cache_size": 0}}
    )
    load_s = time.perf_counter() - start
    prompts = query_prompts(data, args.prompts)
    embedder = router.embedder
    embedder.embed(prompts[:8])  # load weights, warm up

    embed_s, queries = timed(lambda: embedder.embed(prompts), 1)
    rank_s, batched = timed(lambda: router.win_rates_from_embeddings(queries), args.repeats)
    rank_single_s, single = timed(
        lambda: np.array([router.win_rates_from_embeddings(q[None])[0] for q in queries]), max(1, args.repeats // 2)
    )
    e2e_s, e2e = timed(lambda: router.batch_calculate_win_rate(prompts), 1)
    subset = prompts[: args.single]
    e2e_single_s, _ = timed(lambda: [router.calculate_strong_win_rate(p) for p in subset], 1)
    seed_start = time.perf_counter()
    original_values = np.array([original_style_win_rate(router, q) for q in queries[: args.seed_prompts]])
    seed_s = time.perf_counter() - seed_start

    n = len(prompts)
    figures = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "folder": str(folder),
        "battles": router.data.battles.height,
        "distinct_battle_prompts": len(router.data.prompts),
        "models": len(router.data.ratings),
        "tiers": router.n_tiers,
        "tier_pairs": len(router.first),
        "strong_model": router.strong_model,
        "weak_model": router.weak_model,
        "query_prompts": n,
        "load_s": load_s,
        "embed_prompts_per_s": n / embed_s,
        "rank_batched_prompts_per_s": n / rank_s,
        "rank_one_by_one_prompts_per_s": n / rank_single_s,
        "end_to_end_batched_prompts_per_s": n / e2e_s,
        "end_to_end_one_by_one_prompts_per_s": len(subset) / e2e_single_s,
        "original_style_per_request_prompts_per_s": len(original_values) / seed_s,
        "rank_speedup_over_original_style": (n / rank_s) / (len(original_values) / seed_s),
        "max_abs_diff_vs_original_style": float(np.abs(original_values - batched[: len(original_values)]).max()),
        "max_abs_diff_batched_vs_one_by_one": float(np.abs(batched - single).max()),
        "max_abs_diff_end_to_end_vs_rank": float(np.abs(e2e - batched).max()),
        "win_rate_quantiles": dict(
            zip(["min", "p10", "p50", "p90", "max"], np.quantile(batched, [0, 0.1, 0.5, 0.9, 1]).tolist(), strict=True)
        ),
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"{key.ljust(width)}  {shown}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
