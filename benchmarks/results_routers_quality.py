"""APGR of trained sw_ranking and bert folders on the full MT Bench, GSM8K and MMLU, with 95% intervals.

Each folder is loaded as its router and scored with the router's own functions: a bert folder through
``BertRouter.batch_calculate_win_rate`` (the classifier runs on every prompt; the time is reported), an
sw_ranking folder through ``SWRankingRouter.win_rates_from_embeddings`` on the prompts' embeddings from the
on-disk cache of the embedder the folder records (``routellm_train.embedding_cache``; missing prompts are
embedded and cached). Metrics are the evaluator's: ``routellm.evaluation.metrics`` (10 quantile bins, 11
points) and ``routellm.evaluation.bootstrap`` (1,000 resamples of the prompts, seed 0, the draws
``routellm eval --bootstrap`` uses). Random (20 seeded runs) and length are reported beside them.

    ROUTELLM_DATA_DIR=../shared/data nice -n 5 .venv/bin/python benchmarks/results_routers_quality.py \\
        --sw-ranking DIR[|STRONG,WEAK] ... --bert DIR ...

Writes ``results/results_routers_quality.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from routellm.evaluation.bootstrap import bootstrap_intervals, resample_indices
from routellm.evaluation.metrics import compute_metrics, sweep
from routellm.registry import get_registry

BENCHMARKS = ("mt_bench", "gsm8k", "mmlu")
RESAMPLES = 1000
RANDOM_RUNS = 20


def metrics(runs: list[np.ndarray], strong_q: np.ndarray, weak_q: np.ndarray) -> dict:
    """APGR and CPT(50%) (mean over ``runs``) with their bootstrap 95% intervals."""
    weak, strong = float(weak_q.mean()), float(strong_q.mean())
    points = [compute_metrics(sweep(r, strong_q, weak_q), weak, strong) for r in runs]
    ci = bootstrap_intervals(runs, strong_q, weak_q, resample_indices(len(strong_q), RESAMPLES), 10)
    return {
        "apgr": float(np.mean([p.apgr for p in points])),
        "apgr_ci": ci.apgr,
        "cpt50": float(np.mean([p.cpt50 for p in points])),
        "cpt50_ci": ci.cpt50,
        "prompts": len(strong_q),
    }


def split_spec(spec: str) -> tuple[str, dict]:
    folder, _, pair = spec.partition("|")
    if not pair:
        return folder, {}
    strong, weak = pair.split(",")
    return folder, {"strong_model": strong, "weak_model": weak}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sw-ranking", action="append", default=[], help="trained sw_ranking folder, DIR or DIR|STRONG,WEAK")
    parser.add_argument("--bert", action="append", default=[], help="trained bert folder")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--bert-batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("results/results_routers_quality.json"))
    args = parser.parse_args()

    registry = get_registry()
    bench = {}
    for name in args.benchmarks.split(","):
        data = registry.create_benchmark(name).load()
        bench[name] = (
            list(data.prompts),
            np.asarray(data.quality[data.strong_model], dtype=np.float64),
            np.asarray(data.quality[data.weak_model], dtype=np.float64),
        )
        print(f"{name}: {len(data.prompts)} prompts, {data.strong_model} vs {data.weak_model}", flush=True)

    results: dict = {"benchmarks": {k: len(v[0]) for k, v in bench.items()}, "resamples": RESAMPLES, "routers": {}}

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))

    def report(label: str, row: dict) -> None:
        results["routers"][label] = row
        shown = "  ".join(
            f"{b}={row[b]['apgr']:.3f} [{row[b]['apgr_ci'][0]:.3f}, {row[b]['apgr_ci'][1]:.3f}]" for b in bench if b in row
        )
        print(f"{label}: {shown}", flush=True)
        save()

    rng = np.random.default_rng(0)
    report("random", {b: metrics([rng.random(len(p)) for _ in range(RANDOM_RUNS)], sq, wq) for b, (p, sq, wq) in bench.items()})
    length = registry.create_router("length", {})
    report("length", {b: metrics([length.batch_calculate_win_rate(p)], sq, wq) for b, (p, sq, wq) in bench.items()})

    from routellm_router_sw_ranking.router import SWRankingRouter
    from routellm_train.embedding_cache import cache_for

    for spec in args.sw_ranking:
        folder, pair = split_spec(spec)
        t = time.perf_counter()
        router = SWRankingRouter.from_config({"checkpoint_path": folder, **pair})
        cache = cache_for(router.data.embedder.get("name", "huggingface"), router.embedder)
        row: dict = {"kind": "sw_ranking", "folder": folder, "pair": [router.strong_model, router.weak_model], "seconds": {}}
        row["load_seconds"] = time.perf_counter() - t
        for b, (prompts, sq, wq) in bench.items():
            t = time.perf_counter()
            wr = router.win_rates_from_embeddings(cache.embed(prompts))
            row["seconds"][b] = time.perf_counter() - t
            row[b] = metrics([wr], sq, wq)
        report(f"sw_ranking {folder} {'/'.join(row['pair'])}", row)
        router.close()

    for folder in args.bert:
        t = time.perf_counter()
        router = registry.create_router("bert", {"checkpoint_path": folder, "device": "cpu", "batch_size": args.bert_batch_size})
        row = {"kind": "bert", "folder": folder, "load_seconds": time.perf_counter() - t, "seconds": {}}
        for b, (prompts, sq, wq) in bench.items():
            t = time.perf_counter()
            wr = router.batch_calculate_win_rate(prompts)
            row["seconds"][b] = time.perf_counter() - t
            print(f"  bert {b}: {len(prompts)} prompts scored in {row['seconds'][b]:.0f} s", flush=True)
            row[b] = metrics([np.asarray(wr, dtype=np.float64)], sq, wq)
        report(f"bert {folder}", row)
        router.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
