"""Named public results sources: pinned files (repo @ commit, sha256), one loader each with its filters.

Each loader reads its files from a local data folder (``data_dir`` / ``$ROUTELLM_DATA_DIR``, laid out as
``labels/<source>/`` or ``benchmarks/routerbench/``) or downloads them once from their pinned
``raw.githubusercontent.com`` URLs into routellm's cache, checking every sha256
(:func:`routellm.downloads.resolve_files`). The filters drop every item that overlaps the installed
benchmarks by construction (MMLU items in MMLU-Pro, MMLU/GSM8K items in RouterArena); the generic
decontamination step (:mod:`routellm_train.decontaminate`) runs after them.
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routellm.downloads import PinnedFile, resolve_files
from routellm_train.results import Results, SourceInfo

RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Source:
    """A public results source: where its files are pinned and how to read them."""

    name: str
    repo: str
    commit: str
    licence: str | None
    #: Folder under the data dir (and under the download cache).
    subdir: str
    #: Local file name -> (path in the repo, sha256).
    files: dict[str, tuple[str, str]]
    reader: Callable[[Path, Source], Results]
    description: str = ""

    def pinned(self) -> dict[str, PinnedFile]:
        return {
            local: PinnedFile(url=f"{RAW}/{self.repo}/{self.commit}/{path}", sha256=sha)
            for local, (path, sha) in self.files.items()
        }

    def info(self, **filtered: int) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            repo=self.repo,
            commit=self.commit,
            licence=self.licence,
            url=f"https://github.com/{self.repo}/tree/{self.commit}",
            filtered=dict(filtered),
        )

    def load(self, *, data_dir: str | Path | None = None, **_: Any) -> Results:
        root = resolve_files(self.subdir, self.pinned(), local_dir=data_dir)
        return self.reader(root, self)


# --- readers ----------------------------------------------------------------------------------------


def _read_mmlu_pro(root: Path, source: Source) -> Results:
    """Correctness ``pred == answer`` per model; items whose ``src`` starts ``ori_mmlu`` (taken from the
    MMLU test set) are dropped."""
    per_model: dict[str, dict[str, float]] = {}
    text: dict[str, str] = {}
    dropped: set[str] = set()
    for local in sorted(source.files):
        model = local.removeprefix("model_outputs_").removesuffix("_5shots.zip")
        with zipfile.ZipFile(root / local) as archive:
            items = json.loads(archive.read(archive.namelist()[0]))
        scores = per_model.setdefault(model, {})
        for item in items:
            key = str(item["question_id"])
            if str(item.get("src", "")).startswith("ori_mmlu"):
                dropped.add(key)
                continue
            text[key] = _mmlu_pro_prompt(item)
            scores[key] = float(item.get("pred") is not None and item.get("pred") == item.get("answer"))
    return _from_dicts(text, per_model, source.info(**{"src starts with ori_mmlu": len(dropped)}))


def _mmlu_pro_prompt(item: dict[str, Any]) -> str:
    options = item.get("options")
    if isinstance(options, str):
        try:
            options = ast.literal_eval(options)
        except (ValueError, SyntaxError):
            options = [options]
    letters = "ABCDEFGHIJKLMNOP"
    lines = [str(item["question"]).strip()]
    lines += [f"{letters[i]}. {opt}" for i, opt in enumerate(options or []) if i < len(letters)]
    return "\n".join(lines)


def _read_routerarena(root: Path, source: Source) -> Results:
    """Per-item score 0..1 of each model; items whose ``global_index`` starts ``MMLU_`` or ``GSM8K_`` dropped."""
    per_model: dict[str, dict[str, float]] = {}
    text: dict[str, str] = {}
    dropped: set[str] = set()
    for local in sorted(source.files):
        model = local.removesuffix(".jsonl")
        scores = per_model.setdefault(model, {})
        for line in (root / local).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key = str(item["global_index"])
            if key.startswith(("MMLU_", "GSM8K_")):
                dropped.add(key)
                continue
            result = item.get("evaluation_result")
            if isinstance(result, str):
                try:
                    result = ast.literal_eval(result)
                except (ValueError, SyntaxError):
                    result = None
            score = result.get("score") if isinstance(result, dict) else None
            if score is None:
                continue
            text[key] = routerarena_stem(str(item["question"]))
            scores[key] = min(1.0, max(0.0, float(score)))
    return _from_dicts(text, per_model, source.info(**{"global_index starts with MMLU_ or GSM8K_": len(dropped)}))


_RA_STEM = re.compile(r"Context:(?P<context>.*?)\n\nQuestion:(?P<question>.*)", re.DOTALL)
_RA_TAIL = re.compile(r"\n\n+(Provide (the|your) |Keep the explanation).*$", re.DOTALL)


def routerarena_stem(text: str) -> str:
    """The question a RouterArena prompt asks, first (then its context, if any), without the benchmark's
    instruction preamble and answer-format tail: the form a user would type, and the one that
    decontamination compares with benchmark prompts."""
    match = _RA_STEM.search(text)
    if not match:
        return _RA_TAIL.sub("", text).strip()
    question = _RA_TAIL.sub("", match["question"]).strip()
    context = match["context"].strip()
    return question if context in ("", "None") else f"{question}\n\nContext: {context}"


def _read_alpaca_eval(root: Path, source: Source) -> Results:
    """The GPT-4-Turbo judge's verdicts, Mixtral vs gpt4_1106_preview: each model's score is the judge's
    probability that it is better (``preference`` 1 → output_1, 2 → output_2), averaged over annotators."""
    sums: dict[tuple[str, str], list[float]] = {}
    text: dict[str, str] = {}
    for local in sorted(source.files):
        for item in json.loads((root / local).read_text(encoding="utf-8")):
            try:
                pref = float(item["preference"])
            except (TypeError, ValueError):
                continue
            if not 1.0 <= pref <= 2.0:
                continue
            prompt = str(item["instruction"])
            text[prompt] = prompt
            p2 = pref - 1.0  # probability that output_2 is better
            for model, score in ((item["generator_1"], 1.0 - p2), (item["generator_2"], p2)):
                sums.setdefault((prompt, str(model)), []).append(score)
    per_model: dict[str, dict[str, float]] = {}
    for (prompt, model), values in sums.items():
        per_model.setdefault(model, {})[prompt] = float(np.mean(values))
    return _from_dicts(text, per_model, source.info())


def _read_gsm8k_train(root: Path, source: Source) -> Results:
    """Seven ~7B models' scores on GSM8K *train* questions (a difficulty signal; no strong model)."""
    per_model: dict[str, dict[str, float]] = {}
    text: dict[str, str] = {}
    for local in source.files:
        for i, item in enumerate(json.loads((root / local).read_text(encoding="utf-8"))):
            key = str(i)
            text[key] = str(item["question"])
            for model, score in item["scores"].items():
                per_model.setdefault(str(model), {})[key] = min(1.0, max(0.0, float(score)))
    return _from_dicts(text, per_model, source.info())


#: Model-name columns of the RouterBench CSVs are those without ``|`` that are not these.
_ROUTERBENCH_META = {"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"}


def _read_routerbench(root: Path, source: Source) -> Results:
    """RouterBench zero-shot 0/1 correctness of 11 models; the prompt is the question itself (the last
    element of the ``prompt`` list, few-shot exemplars before it removed)."""
    import polars as pl

    # The benchmark plugin's rule, so training prompts and evaluation prompts are cut alike.
    from routellm_benchmark_routerbench import question

    frames = []
    for local in sorted(source.files):
        frame = pl.read_csv(root / local, infer_schema_length=0)
        models = [c for c in frame.columns if "|" not in c and c not in _ROUTERBENCH_META]
        frames.append(
            frame.select(
                pl.col("prompt").map_elements(question, return_dtype=pl.String).alias("prompt"),
                *(pl.col(m).cast(pl.Float64) for m in models),
            )
        )
    from routellm_train.results import from_frame

    return from_frame(pl.concat(frames, how="diagonal"), source.info())




def _from_dicts(text: dict[str, str], per_model: dict[str, dict[str, float]], info: SourceInfo) -> Results:
    keys = list(text)
    models = sorted(per_model)
    scores = np.full((len(keys), len(models)), np.nan)
    row = {k: i for i, k in enumerate(keys)}
    for j, model in enumerate(models):
        for key, score in per_model[model].items():
            if key in row:
                scores[row[key], j] = score
    results = Results([text[k] for k in keys], models, scores, info)
    # Merge rows whose prompt text is identical (averaging each model's results).
    if len(set(results.prompts)) != len(results.prompts):
        import polars as pl

        from routellm_train.results import from_frame

        frame = pl.DataFrame({"prompt": results.prompts, **{m: scores[:, j] for j, m in enumerate(models)}})
        results = from_frame(frame.fill_nan(None), info)
    return results


# --- the pinned sources -----------------------------------------------------------------------------

_ROUTERDC = ("shuhao02/RouterDC", "0e63989c5bf4363330b8a4616386e3f7f116d9f8")
_MMLU_PRO_SHA = {
    "Meta-Llama-3_1-70B-Instruct": "26573565138fcd27358a0945c9f525a7d9a75a756689058a0d5bfcbc64fa55cb",
    "Mixtral-8x7B-Instruct-v0.1": "4716478ca233a86baa39b1c99452589191d8db3df3b398c871ff2832959408aa",
    "Qwen1.5-72B-Chat": "a87935dfe3c349c06115a3b82e299dea30929a3b25ababc879394b58cc93c0b9",
    "gemini-1.5-flash-002": "fed3caed9a9c1bfc7da74e5116f70ffdb9023794d1677eb2f7d48a2a4adec2e7",
    "gemini-1.5-pro-002": "7d95c116e999dc15012d753e871bbbc8fd4e74b9feb49b992ea55247576af370",
    "jamba-1.5-large": "c4685b28a9b56fcb1270d9d2674f4989f5fc45129f3f635207d3543d67da1a15",
}
_ROUTERBENCH_SHA = {
    "arc_challenge_train.csv": "59e044850520be06f74dd9766b9ab4621d783f7fa5269d7dda118b9abb115d78",
    "mbpp_train.csv": "2a985adc3a3016b5ae4d62229722cdff9ece58aa1338206a6b12e4957304452b",
    "winograde_train.csv": "f6d54caab59bebb9facf3407c515a07a20faf4e75c639b7e91988ceaf312906a",
}

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="mmlu_pro",
            repo="TIGER-AI-Lab/MMLU-Pro",
            commit="f418b116db00b065c2aea046518d8fcf74d39872",
            licence="Apache-2.0",
            subdir="labels/mmlu_pro",
            files={
                f"model_outputs_{m}_5shots.zip": (f"eval_results/model_outputs_{m}_5shots.zip", sha)
                for m, sha in _MMLU_PRO_SHA.items()
            },
            reader=_read_mmlu_pro,
            description="MMLU-Pro 5-shot CoT correctness of 6 models (MMLU-derived items dropped)",
        ),
        Source(
            name="routerarena",
            repo="RouteWorks/RouterArena",
            commit="4714a9ad73e897a1241e73a86c9297fed2e871d8",
            licence="Apache-2.0",
            subdir="labels/routerarena",
            files={
                "claude-3-haiku-20240307.jsonl": (
                    "cached_results/claude-3-haiku-20240307.jsonl",
                    "9f5bed666a524d74e629091b57ef2fdf644181dcc1039ef44b44460f254d150a",
                ),
                "gemini-2.0-flash-001.jsonl": (
                    "cached_results/gemini-2.0-flash-001.jsonl",
                    "5c2364f65a4c309bc531338672445894957a6465be71e31a21a6727028404c20",
                ),
            },
            reader=_read_routerarena,
            description="RouterArena scores 0..1 of 2 models on ~40 benchmarks (MMLU/GSM8K items dropped)",
        ),
        Source(
            name="alpaca_eval_mixtral",
            repo="tatsu-lab/alpaca_eval",
            commit="cd543a149df89434d8a54582c0151c0b945c3d20",
            licence="Apache-2.0",
            subdir="labels/alpaca_eval_mixtral",
            files={
                f"{a}.annotations.json": (f"results/Mixtral-8x7B-Instruct-v0.1/{a}/annotations.json", sha)
                for a, sha in (
                    ("alpaca_eval_cot_gpt4_turbo_fn", "1a09ed4eba62e3f7c2640fa55c5b5eb5bf0d11ca36526c41750b875da563e138"),
                    ("alpaca_eval_gpt4_turbo_fn", "dd1eaff31ab61c1e7eac5f95b28446d87caae7be7f222e1eeecf806893ed14fb"),
                )
            },
            reader=_read_alpaca_eval,
            description="GPT-4-Turbo judge verdicts, Mixtral-8x7B-Instruct vs gpt4_1106_preview, 805 prompts",
        ),
        Source(
            name="gsm8k_train_7b",
            repo=_ROUTERDC[0],
            commit=_ROUTERDC[1],
            licence=None,
            subdir="labels/gsm8k_train_7b",
            files={
                "gsm8k-train.json": (
                    "datasets/split2_model7/gsm8k-train.json",
                    "63528cfd7b1860f03bae35e16d4964fe61d4abd3133386c92b22f433a4d4cd75",
                )
            },
            reader=_read_gsm8k_train,
            description="GSM8K train questions scored for seven ~7B models (difficulty only)",
        ),
        Source(
            name="routerbench",
            repo=_ROUTERDC[0],
            commit=_ROUTERDC[1],
            licence=None,
            subdir="benchmarks/routerbench",
            files={local: (f"datasets/routerbench_zs/{local}", sha) for local, sha in _ROUTERBENCH_SHA.items()},
            reader=_read_routerbench,
            description="RouterBench zero-shot correctness of 11 models on ARC-challenge, Winogrande, MBPP (train split)",
        ),
    )
}

#: Sources whose licence is Apache-2.0 (the ``--apache-only`` recipe).
APACHE_SOURCES = tuple(name for name, s in SOURCES.items() if s.licence == "Apache-2.0")
