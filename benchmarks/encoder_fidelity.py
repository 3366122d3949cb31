"""How close static encoders come to MiniLM on the training sources, measured without any benchmark prompt.

For each static model folder (``--static DIR``, repeatable; ``default`` is the packaged one):

* held-out fidelity to MiniLM-L6 (PyTorch, the reference) on the decontaminated prompts of the five training
  sources: a seeded tenth of them (the same split ``routellm_embedder_static.fit`` would hold out with ``--seed 0``
  on that corpus), neighbour overlap at k=10 and the correlation of pairwise cosine similarities;
* the same agreement within the GSM8K cluster (the 1,000 GSM8K train questions among themselves);
* GSM8K difficulty: 10-fold cross-validated Spearman correlation between a ridge fit on the embedding and the mean
  correctness of seven ~7B models on the 1,000 GSM8K *train* questions (``gsm8k_train_7b``), beside MiniLM's and
  prompt length's. This is the signal the GSM8K benchmark rewards; no GSM8K test question is used.

    ROUTELLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/encoder_fidelity.py --static default --static DIR

``--write-corpus DIR`` writes those prompts as ``DIR/train.json`` and ``DIR/held_out.json`` (the held-out tenth), the
corpus and validation files for ``python -m routellm_embedder_static.fit``, and ``DIR/responses.json``: model answers
to the kept (decontaminated) source prompts, each cut to its first 600 characters at a space: MMLU-Pro's CoT outputs
of Qwen1.5-72B-Chat, Llama-3.1-70B-Instruct and Gemini-1.5-Flash, RouterBench-train answers of GPT-4-1106,
Mixtral-8x7B, Llama-2-70B-chat and Claude-2, and 12,000 answers (seeded sample) from the AlpacaEval battles file
(``battles/alpaca_eval_gpt4_turbo.parquet`` under ``--data-dir``, 55 models). The packaged static model was fitted on
train.json + responses.json (docs/routers/mf.md, "Static embedder").

Writes ``results/encoder_fidelity.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from routellm.registry import get_registry
from routellm_embedder_static.fit import fidelity
from routellm_router_mf.train_results import cached_embedder
from routellm_train.decontaminate import decontaminate
from routellm_train.sources import SOURCES

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def difficulty_cv(x: np.ndarray, y: np.ndarray, *, folds: int = 10, lam: float = 1.0, seed: int = 0) -> float:
    """Cross-validated Spearman of a ridge regression from ``x`` to ``y``."""
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    pred = np.zeros(len(y))
    for f in range(folds):
        tr, te = fold != f, fold == f
        xm, ym = x[tr].mean(0), y[tr].mean()
        a = x[tr] - xm
        w = np.linalg.solve(a.T @ a + lam * np.eye(x.shape[1]), a.T @ (y[tr] - ym))
        pred[te] = (x[te] - xm) @ w + ym
    return spearman(pred, y)


def _cut(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def model_responses(data_dir: Path | None, kept: set[str], *, battle_sample: int = 12_000) -> list[str]:
    """Answers of several models to the kept source prompts (see the module docstring), distinct, in order."""
    import random
    import zipfile

    import polars as pl

    from routellm_benchmark_routerbench import question
    from routellm_train.sources import _mmlu_pro_prompt

    if data_dir is None:
        raise SystemExit("--write-corpus needs --data-dir (or ROUTELLM_DATA_DIR)")
    texts: list[str] = []
    for model in ("Qwen1.5-72B-Chat", "Meta-Llama-3_1-70B-Instruct", "gemini-1.5-flash-002"):
        with zipfile.ZipFile(data_dir / "labels" / "mmlu_pro" / f"model_outputs_{model}_5shots.zip") as archive:
            items = json.loads(archive.read(archive.namelist()[0]))
        texts += [_cut(i["generated_text"]) for i in items if i.get("generated_text") and _mmlu_pro_prompt(i) in kept]
    for split in ("arc_challenge_train", "winograde_train", "mbpp_train"):
        frame = pl.read_csv(data_dir / "benchmarks" / "routerbench" / f"{split}.csv", infer_schema_length=0)
        keep = [question(p) in kept for p in frame["prompt"].to_list()]
        for model in ("gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat", "meta/llama-2-70b-chat", "claude-v2"):
            texts += [_cut(t) for t, k in zip(frame[f"{model}|model_response"].to_list(), keep, strict=True) if t and k]
    battles = pl.read_parquet(data_dir / "battles" / "alpaca_eval_gpt4_turbo.parquet")
    prompt_of: dict[str, str] = {}  # answer -> its prompt (first occurrence), model A's answers first
    for column in ("response_a", "response_b"):
        for prompt, answer in zip(battles["prompt"].to_list(), battles[column].to_list(), strict=True):
            prompt_of.setdefault(_cut(json.loads(answer)[0]), json.loads(prompt)[0])
    answers = list(prompt_of)
    random.Random(0).shuffle(answers)
    texts += [a for a in answers[:battle_sample] if prompt_of[a] in kept]
    return [t for t in dict.fromkeys(texts) if len(t) > 20]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static", action="append", default=[], help="static model folder, or default")
    parser.add_argument("--out", type=Path, default=Path("results/encoder_fidelity.json"))
    parser.add_argument("--write-corpus", type=Path, help="write DIR/train.json, DIR/held_out.json, DIR/responses.json")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("ROUTELLM_DATA_DIR"),
                        help="folder holding labels/, benchmarks/routerbench/ and battles/ (for --write-corpus)")
    args = parser.parse_args()

    registry = get_registry()
    bench = {name: list(registry.create_benchmark(name).load().prompts) for name in BENCHMARKS}
    _, teacher, _ = cached_embedder("huggingface", {"backend": "torch", "num_threads": os.cpu_count() or 1})
    embed = lambda texts: teacher.embed(texts, echo=print, chunk=256)  # noqa: E731
    tables = [SOURCES[name].load() for name in SOURCES]
    cleaned, _ = decontaminate(tables, bench, embed=None, threshold=None, echo=None)
    cleaned, _ = decontaminate(cleaned, bench, embed=embed, echo=None)
    texts = list(dict.fromkeys(p for t in cleaned for p in t.prompts))
    held_out = np.random.default_rng(0).permutation(len(texts))[: round(0.1 * len(texts))]
    val_texts = [texts[int(i)] for i in held_out]
    if args.write_corpus:
        args.write_corpus.mkdir(parents=True, exist_ok=True)
        kept = set(held_out.tolist())
        train = [t for i, t in enumerate(texts) if i not in kept]
        (args.write_corpus / "train.json").write_text(json.dumps(train))
        (args.write_corpus / "held_out.json").write_text(json.dumps(val_texts))
        responses = model_responses(args.data_dir, set(texts))
        (args.write_corpus / "responses.json").write_text(json.dumps(responses))
        print(f"wrote {args.write_corpus}/train.json ({len(train)}), held_out.json ({len(val_texts)}) and "
              f"responses.json ({len(responses)})")
    reference = embed(val_texts)
    gsm = SOURCES["gsm8k_train_7b"].load()
    difficulty = np.nanmean(np.asarray(gsm.scores, dtype=np.float64), axis=1)
    length = np.log1p([len(p) for p in gsm.prompts])
    results = {
        "texts": len(texts), "held_out": len(val_texts), "gsm8k_train_questions": len(gsm.prompts),
        "length": {"gsm8k_difficulty_spearman": -spearman(length, difficulty)},
        "minilm": {"gsm8k_difficulty_cv": difficulty_cv(embed(gsm.prompts).astype(np.float64), difficulty)},
    }
    print(f"{len(texts)} source prompts, {len(val_texts)} held out; GSM8K train: {len(gsm.prompts)} questions")
    print(f"length: GSM8K difficulty Spearman {results['length']['gsm8k_difficulty_spearman']:.3f} (longer = harder)")
    print(f"MiniLM: GSM8K difficulty CV Spearman {results['minilm']['gsm8k_difficulty_cv']:.3f}")
    for folder in args.static:
        emb, cache, _ = cached_embedder("static", {"model": folder})
        row = fidelity(cache.embed(val_texts), reference)
        gsm_x = cache.embed(gsm.prompts)
        # Within the GSM8K cluster: do the static model and MiniLM agree on which questions are alike?
        row.update({f"gsm8k_train_{k}": v for k, v in fidelity(gsm_x, embed(gsm.prompts)).items()})
        row["gsm8k_difficulty_cv"] = difficulty_cv(gsm_x.astype(np.float64), difficulty)
        results[folder] = row
        print(f"static {folder}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
