"""Build ``reference_prompts.json``, the blend router's default reference prompts, from public Apache-2.0 data.

    python plugins/routellm-router-blend/tools/build_reference.py ../shared/data

Sources (files byte-identical to the pinned commits, see shared data's README):
* tatsu-lab/alpaca_eval @ cd543a1: the 805 AlpacaEval instructions (open-ended chat prompts);
* RouteWorks/RouterArena @ 4714a9a: questions from ~40 benchmarks, minus every item from MMLU or GSM8K and
  every item whose question stem (its first 80 normalised characters, without RouterArena's instructions)
  begins an MMLU, GSM8K or MT Bench test prompt.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from routellm.prompt_hashes import normalise

OUT = Path(__file__).resolve().parents[1] / "src" / "routellm_router_blend" / "reference_prompts.json"
ALPACA = "labels/alpaca_eval_mixtral/alpaca_eval_gpt4_turbo_fn.annotations.json"
ARENA = "labels/routerarena/gemini-2.0-flash-001.jsonl"


def benchmark_prompts(data: Path) -> list[str]:
    """Every MMLU, GSM8K and MT Bench test prompt, normalised."""
    csv.field_size_limit(sys.maxsize)
    prompts = []
    for path in sorted((data / "benchmarks/mmlu/responses").glob("*.csv")) + [data / "benchmarks/gsm8k/gsm8k_responses.csv"]:
        with path.open(newline="", encoding="utf-8") as handle:
            prompts += [normalise(row["prompt"]) for row in csv.DictReader(handle)]
    for line in (data / "benchmarks/mt_bench/question.jsonl").read_text().splitlines():
        prompts += [normalise(turn) for turn in json.loads(line)["turns"]]
    return prompts


def stem(question: str) -> str:
    """The question itself, without RouterArena's instructions and options: first 80 normalised characters."""
    text = question.split("Question:", 1)[-1].split("\n\nOptions", 1)[0]
    return normalise(text)[:80]


class Prefixes:
    """Does any benchmark prompt start with a given normalised stem?"""

    def __init__(self, prompts: list[str]) -> None:
        self.prompts = prompts
        self.by_length: dict[int, set[str]] = {}

    def __contains__(self, stem: str) -> bool:
        if len(stem) < 20:  # too short to mean the same question
            return False
        if len(stem) not in self.by_length:
            self.by_length[len(stem)] = {p[: len(stem)] for p in self.prompts}
        return stem in self.by_length[len(stem)]


def main(data: Path) -> None:
    alpaca = list(dict.fromkeys(row["instruction"] for row in json.loads((data / ALPACA).read_text())))
    stems = Prefixes(benchmark_prompts(data))
    arena, dropped = [], 0
    for line in (data / ARENA).read_text().splitlines():
        row = json.loads(line)
        if row["global_index"].startswith(("MMLU_", "GSM8K_")) or stem(row["question"]) in stems:
            dropped += 1
            continue
        arena.append(row["question"])
    arena = list(dict.fromkeys(arena))
    payload = {
        "description": "Reference prompts of the blend router: its members' win rates on these give the quantiles it averages.",
        "sources": [
            {"repo": "tatsu-lab/alpaca_eval", "commit": "cd543a149df89434d8a54582c0151c0b945c3d20",
             "path": "results/Mixtral-8x7B-Instruct-v0.1/alpaca_eval_gpt4_turbo_fn/annotations.json",
             "field": "instruction", "licence": "Apache-2.0", "prompts": len(alpaca)},
            {"repo": "RouteWorks/RouterArena", "commit": "4714a9ad73e897a1241e73a86c9297fed2e871d8",
             "path": "cached_results/gemini-2.0-flash-001.jsonl", "field": "question", "licence": "Apache-2.0",
             "prompts": len(arena), "dropped_overlapping_mmlu_gsm8k_mt_bench": dropped},
        ],
        "prompts": alpaca + arena,
    }
    OUT.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(alpaca)} AlpacaEval + {len(arena)} RouterArena prompts ({dropped} RouterArena items dropped)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
