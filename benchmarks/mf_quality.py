"""Quick quality sanity check of mf checkpoints: validation metrics from their model cards plus APGR on
GSM8K and MT Bench (11-point sweep over the share of strong calls, as in the data README's baselines).

This is a sanity check for checkpoint choices, not the evaluator (``routellm eval`` owns that).
Benchmark data is only *scored* here, never trained on.

    ROUTELLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/mf_quality.py [CHECKPOINT ...]

Writes ``results/mf_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl

from routellm.paths import data_dir
from routellm_router_mf.router import MFRouter

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def apgr(win_rates: np.ndarray, strong_q: np.ndarray, weak_q: np.ndarray, points: int = 11) -> float:
    """Average performance gap recovered over strong-call shares 0, 0.1, ..., 1 (ties broken by order)."""
    order = np.argsort(-win_rates, kind="stable")
    gap = strong_q.mean() - weak_q.mean()
    shares = np.linspace(0.0, 1.0, points)
    pgr = []
    for share in shares:
        strong = np.zeros(len(order), dtype=bool)
        strong[order[: round(share * len(order))]] = True
        quality = np.where(strong, strong_q, weak_q).mean()
        pgr.append((quality - weak_q.mean()) / gap)
    return float(np.trapezoid(pgr, shares))


def gsm8k(root: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    frame = pl.read_csv(root / "benchmarks/gsm8k/gsm8k_responses.csv")
    contaminated = {
        json.loads(line)["eval_prompt"]
        for line in (root / "benchmarks/gsm8k/contaminated_prompts.jsonl").read_text().splitlines()
    }
    frame = frame.filter(~pl.col("prompt").is_in(list(contaminated)))
    as_float = lambda col: frame[col].cast(pl.Float64).to_numpy()  # noqa: E731
    return frame["prompt"].to_list(), as_float(STRONG), as_float(WEAK)


def mt_bench(root: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    questions = [json.loads(line) for line in (root / "benchmarks/mt_bench/question.jsonl").read_text().splitlines()]
    judgements = pl.read_ndjson(root / "benchmarks/mt_bench/judgements.jsonl")
    mean = judgements.group_by("question_id", "model").agg(pl.col("score").mean())
    score = {(r["question_id"], r["model"]): r["score"] for r in mean.iter_rows(named=True)}
    ids = [q["question_id"] for q in questions]
    return (
        [q["turns"][0] for q in questions],
        np.array([score[(i, STRONG)] for i in ids]),
        np.array([score[(i, WEAK)] for i in ids]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", default=["minilm"])
    parser.add_argument("--out", type=Path, default=Path("results/mf_quality.json"))
    args = parser.parse_args()
    root = data_dir()
    if root is None:
        raise SystemExit("set ROUTELLM_DATA_DIR to the shared data folder")
    sets = {"gsm8k": gsm8k(root), "mt_bench": mt_bench(root)}
    results = []
    shared_embedder = None
    for checkpoint in args.checkpoints:
        router = MFRouter(MFRouter.Config(checkpoint_path=checkpoint), embedder=shared_embedder)
        shared_embedder = shared_embedder or router.embedder  # same embedder config: embed once (LRU)
        row = {"checkpoint": checkpoint, **(router.checkpoint.training or {}).get("metrics", {})}
        for name, (prompts, strong_q, weak_q) in sets.items():
            start = time.perf_counter()
            win_rates = router.batch_calculate_win_rate(prompts)
            row[f"{name}_apgr"] = apgr(win_rates, strong_q, weak_q)
            row[f"{name}_length_apgr"] = apgr(np.array([len(p) for p in prompts], float), strong_q, weak_q)
            row[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
        results.append(row)
        print(
            f"{checkpoint}: val acc {row.get('val_pairwise_accuracy', float('nan')):.4f}, "
            f"within-pair AUC {row.get('val_within_pair_auc', float('nan')):.4f}, "
            f"GSM8K APGR {row['gsm8k_apgr']:.3f} (length {row['gsm8k_length_apgr']:.3f}), "
            f"MT Bench APGR {row['mt_bench_apgr']:.3f} (length {row['mt_bench_length_apgr']:.3f})",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
