"""Per-prompt results of several models ("results tables") as training data, and their battles.

A :class:`Results` table holds, for each prompt, each model's result: 0/1 correctness or a 0..1 score
(``nan`` where a model did not answer that prompt). Trainers use it directly (the multi-model mf
fits every result) or through :func:`results_to_battles`, which turns it into pairwise battles in
the normalised arena schema of :func:`routellm.battles.load_battles` (every model pair on a prompt;
the better result wins, equal results are ties), so every battle trainer can use it.

Tables come from named public sources (:mod:`routellm_train.sources`), local files (wide: a
``prompt`` column and one numeric column per model; long: ``prompt``, ``model``, ``score``) or
Hugging Face ``datasets`` ids in either shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routellm.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class SourceInfo:
    """Where a results table came from, as a model card reports it."""

    name: str
    repo: str | None = None
    commit: str | None = None
    licence: str | None = None
    url: str | None = None
    #: What the loader dropped and why, e.g. ``{"src starts with ori_mmlu": 6804}``.
    filtered: dict[str, int] = field(default_factory=dict)

    def licence_text(self) -> str:
        return self.licence or "none stated"


@dataclass(frozen=True)
class Results:
    """``scores[i, j]``: the result (0..1, ``nan`` = none) of ``models[j]`` on ``prompts[i]``."""

    prompts: list[str]
    models: list[str]
    scores: np.ndarray
    info: SourceInfo
    #: Relative weight of this source's examples in training.
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.scores.shape != (len(self.prompts), len(self.models)):
            raise ValueError(
                f"results '{self.info.name}': scores have shape {self.scores.shape} for "
                f"{len(self.prompts)} prompts and {len(self.models)} models"
            )
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"results '{self.info.name}': a model name appears twice")
        finite = self.scores[np.isfinite(self.scores)]
        if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
            raise ConfigError(f"results '{self.info.name}': scores must lie in 0..1 (0/1 correctness or a score)")

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, keep: np.ndarray) -> Results:
        """The rows where ``keep`` (a boolean mask or index array) selects."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return replace(self, prompts=[self.prompts[i] for i in index], scores=self.scores[index])

    def with_weight(self, weight: float) -> Results:
        if weight <= 0:
            raise ConfigError(f"results '{self.info.name}': weight must be positive, got {weight}")
        return replace(self, weight=float(weight))


def from_frame(frame: pl.DataFrame, info: SourceInfo) -> Results:
    """A results table from a wide (``prompt`` + one column per model) or long (``prompt``, ``model``,
    ``score``) frame; booleans count 1/0 and duplicate prompts are averaged per model."""
    import polars as pl

    if "prompt" not in frame.columns:
        raise ConfigError(f"results '{info.name}': no 'prompt' column (columns: {', '.join(frame.columns[:10])})")
    if {"model", "score"} <= set(frame.columns):
        long = frame.select(
            pl.col("prompt").cast(pl.String), pl.col("model").cast(pl.String), pl.col("score").cast(pl.Float64)
        )
    else:
        numeric = [
            c
            for c, dtype in frame.schema.items()
            if c != "prompt" and (dtype == pl.Boolean or dtype.is_numeric())
        ]
        if not numeric:
            raise ConfigError(
                f"results '{info.name}': expected a 'prompt' column and one numeric/boolean column per model, "
                "or long columns prompt, model, score"
            )
        long = frame.select(pl.col("prompt").cast(pl.String), *(pl.col(c).cast(pl.Float64) for c in numeric)).unpivot(
            index="prompt", variable_name="model", value_name="score"
        )
    long = long.filter(pl.col("prompt").is_not_null() & (pl.col("prompt").str.len_chars() > 0))
    pooled = long.group_by("prompt", "model", maintain_order=True).agg(pl.col("score").drop_nulls().mean())
    prompts = pooled["prompt"].unique(maintain_order=True).to_list()
    models = pooled["model"].unique(maintain_order=True).to_list()
    row = {p: i for i, p in enumerate(prompts)}
    col = {m: j for j, m in enumerate(models)}
    scores = np.full((len(prompts), len(models)), np.nan)
    for prompt, model, score in pooled.iter_rows():
        if score is not None:
            scores[row[prompt], col[model]] = score
    return Results(prompts, models, scores, info)


def results_to_battles(results: Results | list[Results]) -> pl.DataFrame:
    """Every model pair on every prompt as a battle, in the normalised arena schema.

    Columns ``prompt``, ``model_a``, ``model_b``, ``winner`` (``model_a`` / ``model_b`` / ``tie``: equal
    results are ties), ``preference`` (probability that model_b is better: ``0.5 + (s_b − s_a) / 2``)
    and ``weight`` (the source's weight). Pairs where either result is missing are skipped.
    """
    import polars as pl

    tables = [results] if isinstance(results, Results) else list(results)
    parts = []
    for table in tables:
        m = len(table.models)
        ia, ib = np.triu_indices(m, k=1)
        if not len(ia):
            continue
        sa, sb = table.scores[:, ia], table.scores[:, ib]
        ok = np.isfinite(sa) & np.isfinite(sb)
        rows, pairs = np.nonzero(ok)
        a_scores, b_scores = sa[rows, pairs], sb[rows, pairs]
        names = np.asarray(table.models, dtype=object)
        winner = np.where(a_scores > b_scores, "model_a", np.where(b_scores > a_scores, "model_b", "tie"))
        parts.append(
            pl.DataFrame(
                {
                    "prompt": np.asarray(table.prompts, dtype=object)[rows].tolist(),
                    "model_a": names[ia[pairs]].tolist(),
                    "model_b": names[ib[pairs]].tolist(),
                    "winner": winner.tolist(),
                    "preference": (0.5 + (b_scores - a_scores) / 2.0).tolist(),
                    "weight": np.full(len(rows), table.weight).tolist(),
                },
                schema={
                    "prompt": pl.String,
                    "model_a": pl.String,
                    "model_b": pl.String,
                    "winner": pl.String,
                    "preference": pl.Float64,
                    "weight": pl.Float64,
                },
            )
        )
    if not parts:
        raise ConfigError("the results tables hold no pair of models with results on the same prompt")
    return pl.concat(parts)


def parse_results_spec(spec: str) -> tuple[str, float]:
    """``SOURCE`` or ``SOURCE:WEIGHT`` (a trailing ``:<number>`` is a weight; anything else is part of the source)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return spec, 1.0


def load_results(spec: str, *, data_dir: str | Path | None = None, split: str = "train", **options: Any) -> Results:
    """One results table: a named source (see :data:`routellm_train.sources.SOURCES`), a local
    parquet/jsonl/json/csv file, or a Hugging Face dataset id; ``SOURCE:WEIGHT`` sets its weight."""
    from routellm_train.sources import SOURCES

    source, weight = parse_results_spec(spec)
    if source in SOURCES:
        table = SOURCES[source].load(data_dir=data_dir, **options)
    else:
        from routellm.battles import read_table

        path = Path(source)
        name = path.name if path.exists() else source
        table = from_frame(read_table(source, split=split), SourceInfo(name=name, url=source))
    return table.with_weight(weight) if weight != 1.0 else table


def prepare_results(
    specs: list[str] | tuple[str, ...],
    *,
    embed: Any = None,
    data_dir: str | Path | None = None,
    benchmarks: list[str] | None = None,
    prefix_chars: int = 80,
    threshold: float | None = 0.95,
    echo: Any = print,
) -> tuple[list[Results], Any]:
    """Load every results spec and decontaminate the tables against the installed benchmarks
    (``benchmarks``: their names; ``None`` = all, ``[]`` = none). Returns the tables and the
    :class:`~routellm_train.decontaminate.DecontaminationReport` (counts per source)."""
    from routellm_train.decontaminate import decontaminate, installed_benchmark_prompts

    tables = [load_results(spec, data_dir=data_dir) for spec in specs]
    if echo is not None:
        for t in tables:
            echo(f"{t.info.name}: {len(t)} prompts, {len(t.models)} models, weight {t.weight:g}")
    reference = installed_benchmark_prompts(benchmarks, data_dir=str(data_dir) if data_dir else None, echo=echo)
    return decontaminate(tables, reference, embed=embed, prefix_chars=prefix_chars, threshold=threshold, echo=echo)


def sources_record(tables: list[Results], report: Any) -> list[dict[str, Any]]:
    """Per source, what a model card and a checkpoint's config record: name, repo, commit, licence,
    weight, the loader's filters and the decontamination counts."""
    return [
        {
            "name": t.info.name,
            "repo": t.info.repo,
            "commit": t.info.commit,
            "licence": t.info.licence_text(),
            "url": t.info.url,
            "weight": t.weight,
            "filtered": dict(t.info.filtered),
            "decontamination": report.counts.get(t.info.name, {}),
            "models": list(t.models),
        }
        for t in tables
    ]


def write_training_prompts(folder: str | Path, prompts: list[str] | tuple[str, ...]) -> Path:
    """``training_prompts.json`` in ``folder``: the normalised prompts' hashes (never the prompts), so
    ``routellm eval`` can warn when a benchmark overlaps what a router was trained on."""
    import json

    from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash

    path = Path(folder) / TRAINING_PROMPTS_FILE
    hashes = sorted({prompt_hash(p) for p in prompts})
    path.write_text(json.dumps({"normalisation": "routellm.prompt_hashes v1", "hashes": hashes}) + "\n", encoding="utf-8")
    return path


def default_embed(echo: Any = print, options: dict[str, Any] | None = None) -> Any:
    """Prompts → vectors with the default local encoder (all-MiniLM-L6-v2; ``options``: its embedder
    options, e.g. ``{"backend": "torch"}``) behind the on-disk embedding cache (``<routellm cache>/embeddings``):
    the embedder the decontamination threshold was set for."""
    from routellm.registry import get_registry
    from routellm_train.embedding_cache import cache_for

    cache = cache_for("huggingface", get_registry().create_embedder("huggingface", dict(options or {})))
    return lambda texts: cache.embed(texts, echo=echo)


def _builtins(config: Any) -> dict[str, Any]:
    import msgspec

    return dict(msgspec.to_builtins(config))


def rename_models(battles: pl.DataFrame, same_model: dict[str, str] | None) -> pl.DataFrame:
    """Battles with each ``NAME`` of ``same_model`` (``{NAME: MODEL}``, true synonyms only) replaced by ``MODEL``."""
    import polars as pl

    if not same_model:
        return battles
    return battles.with_columns(pl.col("model_a").replace(same_model), pl.col("model_b").replace(same_model))


def results_battles(
    specs: list[str],
    *,
    data_dir: str | Path | None = None,
    benchmarks: list[str] | None = None,
    same_model: dict[str, str] | None = None,
    threshold: float | None = 0.95,
    embedder_options: dict[str, Any] | None = None,
    echo: Any = print,
) -> tuple[pl.DataFrame, list[Results], Any]:
    """For battle trainers: load and decontaminate ``specs`` (near-duplicates at cosine ``threshold`` with
    the default embedder and ``embedder_options``; ``None``: prefix test only), then turn them into battles
    (:func:`results_to_battles`) with ``same_model`` synonyms merged. Returns the battles, the kept tables
    and the decontamination report."""
    embed = default_embed(echo, embedder_options) if threshold else None
    tables, report = prepare_results(
        specs, embed=embed, data_dir=data_dir, benchmarks=benchmarks, threshold=threshold or None, echo=echo
    )
    return rename_models(results_to_battles(tables), same_model), tables, report
