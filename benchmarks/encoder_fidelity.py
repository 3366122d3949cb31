"""How close static encoders come to MiniLM on the training sources, measured without any benchmark prompt.

For each static model folder (``--static DIR``, repeatable; ``default`` is the packaged one):

* held-out fidelity to MiniLM-L6 (PyTorch, the reference) on the decontaminated prompts of the five training
  sources: a seeded tenth of them (the same split ``routellm_embedder_static.fit`` would hold out with ``--seed 0``
  on that corpus), neighbour overlap at k=10 and the correlation of pairwise cosine similarities;
* GSM8K difficulty: 10-fold cross-validated Spearman correlation between a ridge fit on the embedding and the mean
  correctness of seven ~7B models on the 1,000 GSM8K *train* questions (``gsm8k_train_7b``), beside MiniLM's and
  prompt length's. This is the signal the GSM8K benchmark rewards; no GSM8K test question is used.

    ROUTELLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/encoder_fidelity.py --static default --static DIR

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static", action="append", default=[], help="static model folder, or default")
    parser.add_argument("--out", type=Path, default=Path("results/encoder_fidelity.json"))
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
        row["gsm8k_difficulty_cv"] = difficulty_cv(cache.embed(gsm.prompts).astype(np.float64), difficulty)
        results[folder] = row
        print(f"static {folder}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
