"""Evaluate every installed router on MMLU, GSM8K and MT Bench; write results/eval_all.json and .md.

    python benchmarks/eval_all.py [--config configs/x.yaml] [--routers random mf] [--num-results 10]

Routers that fail to build or score (e.g. a checkpoint that cannot be downloaded offline) are listed
with the error instead of stopping the run. Reuses `routellm eval`'s win-rate cache.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import msgspec

from routellm.config import load_config
from routellm.evaluation.evaluate import evaluate
from routellm.evaluation.report import markdown_table, to_jsonable
from routellm.registry import get_registry

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--routers", nargs="*", default=None, help="default: every installed router")
    parser.add_argument("--benchmarks", nargs="*", default=list(BENCHMARKS))
    parser.add_argument("--num-results", type=int, default=10)
    parser.add_argument("--random-runs", type=int, default=20)
    parser.add_argument("--output", type=Path, default=Path("results"))
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% intervals (0: none)")
    parser.add_argument("--bootstrap-seed", type=int, default=0)
    parser.add_argument("--no-baselines", action="store_true", help="do not add the random and length baselines")
    args = parser.parse_args()

    cfg = load_config(args.config)
    registry = get_registry()
    routers = args.routers or list(registry.routers)
    if not args.no_baselines:
        routers += [b for b in ("random", "length") if b in registry.routers and b not in routers]
    sections = cfg.section("benchmarks") or {}
    results, failures, timings = [], [], {}
    for bench in args.benchmarks:
        data = registry.create_benchmark(bench, sections.get(bench)).load()
        print("\n".join(data.notes))
        for name in routers:
            start = time.perf_counter()
            try:
                result = evaluate(
                    data, {name: cfg.router_section(name)}, num_results=args.num_results, random_runs=args.random_runs,
                    bootstrap=args.bootstrap, bootstrap_seed=args.bootstrap_seed,
                )
            except Exception as exc:  # one broken router must not hide the others' numbers
                failures.append({"benchmark": bench, "router": name, "error": f"{type(exc).__name__}: {exc}"})
                traceback.print_exc()
                continue
            timings[f"{bench}/{name}"] = time.perf_counter() - start
            results.append(result)
            for warning in result.warnings:
                print(f"WARNING: {warning}")
    # One table, one oracle row per benchmark.
    merged = {}
    for r in results:
        if r.benchmark in merged:
            merged[r.benchmark] = msgspec.structs.replace(
                merged[r.benchmark], routers=merged[r.benchmark].routers + r.routers
            )
        else:
            merged[r.benchmark] = r
    table = markdown_table(list(merged.values()))
    args.output.mkdir(parents=True, exist_ok=True)
    payload = {
        "num_results": args.num_results,
        "random_runs": args.random_runs,
        "bootstrap": args.bootstrap,
        "bootstrap_seed": args.bootstrap_seed,
        "results": [to_jsonable(r) for r in merged.values()],
        "failures": failures,
        "seconds": timings,
    }
    (args.output / "eval_all.json").write_text(json.dumps(payload, indent=2))
    (args.output / "eval_all.md").write_text(table + "\n")
    print(table)
    for f in failures:
        print(f"FAILED {f['router']} on {f['benchmark']}: {f['error']}")
    print(f"wrote {args.output / 'eval_all.json'} and {args.output / 'eval_all.md'}")


if __name__ == "__main__":
    main()
