"""The ``routerbench`` benchmark: 11 models' zero-shot correctness and billed cost per prompt (RouterBench, RouterDC's split).

RouterBench (withmartian) ran 11 models on ARC-challenge, Winogrande and MBPP, recording each answer's
0/1 correctness and the USD it was billed; the RouterDC project re-split those results into train and
test files. Evaluation uses the ``*_test`` files only (953 prompts); ``*_train`` is for training
routers (``load_split("train")``). The strong/weak pair for two-model reports is gpt-4-1106-preview /
mixtral-8x7b-chat; the N-model report routes among all 11. No licence is stated for the data: it is
read from a local data folder or downloaded from its pinned source, never redistributed.
"""

from __future__ import annotations

import ast
import re

import msgspec

import routellm
from routellm.benchmark import Benchmark, BenchmarkData
from routellm.records import BenchmarkSpec

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/mixtral-8x7b-chat"
#: The 11 models, as the files name their columns.
MODELS = (
    "WizardLM/WizardLM-13B-V1.2",
    "claude-instant-v1",
    "claude-v1",
    "claude-v2",
    "gpt-3.5-turbo-1106",
    "gpt-4-1106-preview",
    "meta/code-llama-instruct-34b-chat",
    "meta/llama-2-70b-chat",
    "mistralai/mistral-7b-chat",
    "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
)
SPLITS = ("test", "train")


#: ARC and Winogrande prompts carry few-shot exemplars, each ending in "Answer:\n<letter>\n\n".
_EXEMPLAR_END = re.compile(r"Answer:[ \t]*\n[A-Za-z0-9]{1,3}\n\n")


def question(prompt: str) -> str:
    """The question of a RouterBench prompt: the last element of its Python-literal list, with the
    few-shot exemplars that ARC and Winogrande put before the question in that element removed
    (the same rule as the training-results loader of ``routellm train``)."""
    try:
        value = ast.literal_eval(prompt)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return prompt
    if not (isinstance(value, list | tuple) and value):
        return prompt
    text = str(value[-1])
    exemplars = list(_EXEMPLAR_END.finditer(text))
    return (text[exemplars[-1].end() :] if exemplars else text).strip()


def load_split(
    split: str = "test", data_dir: str | None = None, tasks: tuple[str, ...] | None = None, *, drop_missing: bool = True
) -> BenchmarkData:
    """One split of the three tasks as :class:`BenchmarkData` with ``cost`` (USD billed per prompt and model)."""
    import numpy as np
    import polars as pl

    from routellm.downloads import resolve_files
    from routellm.errors import ConfigError
    from routellm_benchmark_routerbench.sources import FILES, TASKS

    if split not in SPLITS:
        raise ConfigError(f"benchmark 'routerbench': split must be one of {', '.join(SPLITS)}, got '{split}'")
    tasks = tuple(tasks or TASKS)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ConfigError(f"benchmark 'routerbench': unknown task '{unknown[0]}' (tasks: {', '.join(TASKS)})")
    files = {f"{t}_{split}.csv": FILES[f"{t}_{split}.csv"] for t in tasks}
    root = resolve_files("benchmarks/routerbench", files, local_dir=data_dir)
    columns = ["sample_id", "prompt", "eval_name", *MODELS, *(f"{m}|total_cost" for m in MODELS)]
    frames = [
        pl.read_csv(root / name, columns=columns, infer_schema_length=0).with_columns(
            [pl.col(c).cast(pl.Float64) for c in columns[3:]]
        )
        for name in files
    ]
    data = pl.concat(frames)
    total = data.height
    if drop_missing:  # a few prompts lack some model's result: keep only fully observed ones
        data = data.drop_nulls([*MODELS, *(f"{m}|total_cost" for m in MODELS)])
    counts = data.group_by("eval_name").len().sort("eval_name")
    note = ", ".join(f"{row['eval_name']} {row['len']}" for row in counts.iter_rows(named=True))
    return BenchmarkData(
        name="routerbench" if split == "test" else f"routerbench_{split}",
        prompts=[question(p) for p in data["prompt"].to_list()],
        quality={m: data[m].fill_null(0.0).to_numpy().astype(np.float64) for m in MODELS},
        strong_model=STRONG_MODEL,
        weak_model=WEAK_MODEL,
        ids=[str(s) for s in data["sample_id"].to_list()],
        notes=[
            f"RouterBench zero-shot, RouterDC {split} split: {data.height} prompts ({note})"
            + (f"; {total - data.height} of {total} dropped for a missing model result" if total > data.height else "")
        ],
        cost={m: data[f"{m}|total_cost"].fill_null(0.0).to_numpy().astype(np.float64) for m in MODELS},
    )


class RouterBenchBenchmarkConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Local data folder holding ``benchmarks/routerbench/``; default ``$ROUTELLM_DATA_DIR``, else download.
    data_dir: str | None = None
    #: ``test`` (953 prompts, for evaluation) or ``train`` (2,225, for training only).
    split: str = "test"
    #: A subset of ``arc_challenge``, ``winograde``, ``mbpp`` (default: all three).
    tasks: list[str] | None = None
    #: Drop the few prompts some model has no result for (6 of the 953 test prompts).
    drop_missing: bool = True


class RouterBenchBenchmark(Benchmark[RouterBenchBenchmarkConfig]):
    """RouterBench zero-shot (ARC-challenge, Winogrande, MBPP): 11 models, correctness 0/1 and USD billed per prompt."""

    Config = RouterBenchBenchmarkConfig

    def load(self) -> BenchmarkData:
        cfg = self.config
        return load_split(cfg.split, cfg.data_dir, tuple(cfg.tasks) if cfg.tasks else None, drop_missing=cfg.drop_missing)


@routellm.hookimpl
def routellm_benchmarks():
    yield BenchmarkSpec(
        name="routerbench",
        benchmark_class=RouterBenchBenchmark,
        description="RouterBench zero-shot, RouterDC's test split (953 prompts, 11 models); correctness 0/1 and USD billed.",
    )
