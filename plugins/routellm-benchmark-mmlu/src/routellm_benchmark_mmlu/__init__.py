"""The ``mmlu`` benchmark: GPT-4 and Mixtral correctness on MMLU's 57 domains (RouteLLM's results)."""

from __future__ import annotations

import msgspec

import routellm
from routellm.benchmark import Benchmark, BenchmarkData, decontamination_note, listed_as_contaminated
from routellm.errors import ConfigError
from routellm.records import BenchmarkSpec

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def all_domains() -> list[str]:
    """The 57 MMLU domain names, e.g. ``abstract_algebra``."""
    from routellm_benchmark_mmlu.sources import FILES

    return sorted(
        rel.removeprefix("responses/mmlu_").removesuffix(".csv") for rel in FILES if rel.startswith("responses/")
    )


class MMLUBenchmarkConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Domains to load (default: all 57).
    domains: list[str] | None = None
    #: Local data folder holding ``benchmarks/mmlu/``; default ``$ROUTELLM_DATA_DIR``, else download.
    data_dir: str | None = None
    drop_contaminated: bool = True


class MMLUBenchmark(Benchmark[MMLUBenchmarkConfig]):
    """Multiple-choice questions; quality is 1 when a model answered correctly.

    Prompts listed in RouteLLM's contamination file (near-duplicates of training prompts) are
    dropped unless ``drop_contaminated`` is false: 14,037 of 14,042 questions remain.
    """

    Config = MMLUBenchmarkConfig

    def load(self) -> BenchmarkData:
        import numpy as np
        import polars as pl

        from routellm.downloads import resolve_files
        from routellm_benchmark_mmlu.sources import FILES

        known = all_domains()
        domains = list(self.config.domains) if self.config.domains else known
        unknown = [d for d in domains if d not in known]
        if unknown:
            raise ConfigError(
                f"benchmark 'mmlu': unknown domain(s) {', '.join(unknown)} (valid domains: {', '.join(known)})"
            )
        wanted = {"contaminated_prompts.jsonl"} | {f"responses/mmlu_{d}.csv" for d in domains}
        root = resolve_files("benchmarks/mmlu", {k: v for k, v in FILES.items() if k in wanted}, local_dir=self.config.data_dir)
        frames = []
        for domain in domains:
            frame = pl.read_csv(
                root / "responses" / f"mmlu_{domain}.csv",
                schema_overrides={"prompt": pl.String, STRONG_MODEL: pl.Boolean, WEAK_MODEL: pl.Boolean},
            )
            frames.append(
                frame.select("prompt", STRONG_MODEL, WEAK_MODEL).with_columns(
                    pl.lit(domain).alias("domain"), pl.int_range(pl.len()).alias("row")
                )
            )
        data = pl.concat(frames)
        total = data.height
        notes = []
        if self.config.drop_contaminated:
            data = data.filter(~listed_as_contaminated(root / "contaminated_prompts.jsonl", "prompt"))
            notes.append(decontamination_note("MMLU", data.height, total, "prompts"))
        else:
            notes.append(f"MMLU: {total} prompts (contamination list not applied)")
        return BenchmarkData(
            name="mmlu",
            prompts=data["prompt"].to_list(),
            quality={
                STRONG_MODEL: data[STRONG_MODEL].cast(pl.Float64).to_numpy().astype(np.float64),
                WEAK_MODEL: data[WEAK_MODEL].cast(pl.Float64).to_numpy().astype(np.float64),
            },
            strong_model=STRONG_MODEL,
            weak_model=WEAK_MODEL,
            ids=[f"{d}/{r}" for d, r in zip(data["domain"], data["row"], strict=True)],
            notes=notes,
        )


@routellm.hookimpl
def routellm_benchmarks():
    yield BenchmarkSpec(
        name="mmlu",
        benchmark_class=MMLUBenchmark,
        description="MMLU, 57 domains (14,037 questions after decontamination); correctness 0/1.",
    )
