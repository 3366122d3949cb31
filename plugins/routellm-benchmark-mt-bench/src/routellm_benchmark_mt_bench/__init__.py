"""The ``mt_bench`` benchmark: MT Bench's 80 two-turn questions with GPT-4 single-answer grades."""

from __future__ import annotations

import msgspec

import routellm
from routellm.benchmark import Benchmark, BenchmarkData, decontamination_note, listed_as_contaminated
from routellm.records import BenchmarkSpec

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


class MTBenchBenchmarkConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Local data folder holding ``benchmarks/mt_bench/``; default ``$ROUTELLM_DATA_DIR``, else download.
    data_dir: str | None = None
    drop_contaminated: bool = True


class MTBenchBenchmark(Benchmark[MTBenchBenchmarkConfig]):
    """Each question is routed on its first turn; its quality is the model's mean judge score (1-10)
    over both turns, as in RouteLLM.

    As RouteLLM's evaluation does, the 8 questions with a turn in its MT Bench contamination list
    (turns that also appear in router training data) are dropped: 72 remain. Set
    ``drop_contaminated: false`` to keep all 80.
    """

    Config = MTBenchBenchmarkConfig

    def load(self) -> BenchmarkData:
        import numpy as np
        import polars as pl

        from routellm.downloads import resolve_files
        from routellm_benchmark_mt_bench.sources import FILES

        root = resolve_files("benchmarks/mt_bench", FILES, local_dir=self.config.data_dir)
        questions = pl.read_ndjson(root / "question.jsonl").select(
            pl.col("question_id").cast(pl.Int64),
            pl.col("turns").list.get(0).alias("turn1"),
            pl.col("turns").list.get(1).alias("turn2"),
        )
        listed = questions.filter(listed_as_contaminated(root / "contaminated_prompts.jsonl", "turn1", "turn2"))
        total = questions.height
        if self.config.drop_contaminated:
            questions = questions.join(listed.select("question_id"), on="question_id", how="anti")
            note = decontamination_note("MT Bench", questions.height, total, "questions")
        else:
            note = (
                f"MT Bench: {total} questions, routed on turn 1 and scored over both turns "
                f"(contamination list not applied: {listed.height} have a listed turn)"
            )
        judgements = pl.read_ndjson(root / "judgements.jsonl").select(
            pl.col("question_id").cast(pl.Int64), pl.col("model"), pl.col("turn").cast(pl.Int64),
            pl.col("score").cast(pl.Float64),
        )
        quality = {}
        for model in (STRONG_MODEL, WEAK_MODEL):
            per_question = (
                judgements.filter(pl.col("model") == model)
                .group_by("question_id")
                .agg(pl.col("score").mean(), pl.col("turn").n_unique().alias("turns"))
            )
            joined = questions.join(per_question, on="question_id", how="left", maintain_order="left")
            incomplete = joined.filter(pl.col("score").is_null() | (pl.col("turns") != 2))
            if incomplete.height:
                raise ValueError(
                    f"benchmark 'mt_bench': {model} lacks judgements for both turns of "
                    f"{incomplete.height} question(s), e.g. {incomplete['question_id'][0]}"
                )
            quality[model] = joined["score"].to_numpy().astype(np.float64)
        return BenchmarkData(
            name="mt_bench",
            prompts=questions["turn1"].to_list(),
            quality=quality,
            strong_model=STRONG_MODEL,
            weak_model=WEAK_MODEL,
            ids=[str(q) for q in questions["question_id"]],
            notes=[note],
        )


@routellm.hookimpl
def routellm_benchmarks():
    yield BenchmarkSpec(
        name="mt_bench",
        benchmark_class=MTBenchBenchmark,
        description="MT Bench (72 questions after decontamination) routed on turn 1; GPT-4 judge score (1-10) over both turns.",
    )
