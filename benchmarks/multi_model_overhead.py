"""In-process cost of one routing decision: two models vs a models: list of N (random router).

Times ``RoutingEngine.decide`` (name parse, routing prompt, scoring, choice) for the same request with
the strong/weak pair and with ladders of 4 and 11 priced models, interleaved over rounds; reports the
median microseconds per decision and the ratio to the two-model figure. The end-to-end server figure
is ``benchmarks/serve_latency.py --models 4 11``.

    python benchmarks/multi_model_overhead.py        # writes results/multi_model_overhead.json
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from routellm.engine import RoutingEngine
from routellm.multi_model import ModelLadder
from routellm.registry import get_registry
from routellm.routing import ModelPair

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "Write a short poem about routers that choose a model for each prompt."}]


def engine(count: int | None) -> RoutingEngine:
    router = get_registry().create_router("random")
    ladder = None
    if count:
        names = tuple(f"model-{i}" for i in range(count))
        ladder = ModelLadder(names, tuple(0.1 * (i + 1) for i in range(count)), tuple(0.2 * (i + 1) for i in range(count)))
    return RoutingEngine({"random": router}, ModelPair("model-big", "model-small"), ladder=ladder)


def per_call_us(e: RoutingEngine, calls: int) -> float:
    decide = e.decide
    start = time.perf_counter()
    for _ in range(calls):
        decide("router-random-0.5", MESSAGES)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    engines = {"two models": engine(None), "4 models": engine(4), "11 models": engine(11)}
    for e in engines.values():
        per_call_us(e, 2000)  # warm-up
    runs = {name: [] for name in engines}
    for _ in range(15):
        for name, e in engines.items():
            runs[name].append(per_call_us(e, 5000))
    base = statistics.median(runs["two models"])
    summary = {
        name: {"median_us": statistics.median(v), "ratio_to_two_models": statistics.median(v) / base}
        for name, v in runs.items()
    }
    for name, s in summary.items():
        print(f"{name:10s} {s['median_us']:.2f} us per decision  x{s['ratio_to_two_models']:.2f}")
    out = ROOT / "results" / "multi_model_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
