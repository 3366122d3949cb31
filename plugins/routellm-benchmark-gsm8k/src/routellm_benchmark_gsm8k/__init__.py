"""The ``gsm8k`` benchmark: GPT-4 and Mixtral correctness on GSM8K's test set (RouteLLM's results)."""

from __future__ import annotations

import msgspec

import routellm
from routellm.benchmark import Benchmark, BenchmarkData, decontamination_note, listed_as_contaminated
from routellm.records import BenchmarkSpec

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


class GSM8KBenchmarkConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Local data folder holding ``benchmarks/gsm8k/``; default ``$ROUTELLM_DATA_DIR``, else download.
    data_dir: str | None = None
    drop_contaminated: bool = True


class GSM8KBenchmark(Benchmark[GSM8KBenchmarkConfig]):
    """Grade-school maths word problems; quality is 1 when a model's final answer was correct.

    RouteLLM's contamination list is applied unless ``drop_contaminated`` is false: 1,307 of 1,319
    problems remain.
    """

    Config = GSM8KBenchmarkConfig

    def load(self) -> BenchmarkData:
        import numpy as np
        import polars as pl

        from routellm.downloads import resolve_files
        from routellm_benchmark_gsm8k.sources import FILES

        root = resolve_files("benchmarks/gsm8k", FILES, local_dir=self.config.data_dir)
        data = pl.read_csv(
            root / "gsm8k_responses.csv",
            columns=["prompt", STRONG_MODEL, WEAK_MODEL],
            schema_overrides={"prompt": pl.String, STRONG_MODEL: pl.Boolean, WEAK_MODEL: pl.Boolean},
        ).with_row_index("row")
        total = data.height
        if self.config.drop_contaminated:
            data = data.filter(~listed_as_contaminated(root / "contaminated_prompts.jsonl", "prompt"))
            note = decontamination_note("GSM8K", data.height, total, "questions")
        else:
            note = f"GSM8K: {total} questions (contamination list not applied)"
        return BenchmarkData(
            name="gsm8k",
            prompts=data["prompt"].to_list(),
            quality={
                STRONG_MODEL: data[STRONG_MODEL].cast(pl.Float64).to_numpy().astype(np.float64),
                WEAK_MODEL: data[WEAK_MODEL].cast(pl.Float64).to_numpy().astype(np.float64),
            },
            strong_model=STRONG_MODEL,
            weak_model=WEAK_MODEL,
            ids=[str(r) for r in data["row"]],
            notes=[note],
        )


@routellm.hookimpl
def routellm_benchmarks():
    yield BenchmarkSpec(
        name="gsm8k",
        benchmark_class=GSM8KBenchmark,
        description="GSM8K test set (1,307 problems after decontamination); correctness 0/1.",
    )
