"""Routing quality of the default mf router with each huggingface-embedder backend, against the reference
PyTorch float32 encoder: APGR on MT Bench, GSM8K and MMLU (all prompts, or a fixed MMLU subset with
`--mmlu-sample N`; the evaluator's 10-step threshold sweep), the cosine of each prompt's embedding to the
reference one, and a noise band: the APGR change that reference win rates perturbed by as much as the
variant moves them give (2.5-97.5 %).

    ROUTELLM_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 nice -n 5 .venv/bin/python benchmarks/encoder_quality.py \\
        [--variants torch onnx-int8 ...] [--benchmarks mt_bench gsm8k mmlu]

Embeddings are cached per (variant, benchmark) under ``.cache/encoder_quality/`` (MMLU's 14k prompts take
a while on a CPU; the cache lets the figure be recomputed for a new mf checkpoint in seconds). Writes
``results/encoder_quality.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from routellm.embedder import Embedder
from routellm.evaluation.metrics import compute_metrics, sweep
from routellm.registry import get_registry
from routellm_router_mf.router import MFRouter

ROOT = Path(__file__).resolve().parents[1]
#: Embedder options of each variant (over the checkpoint's recorded embedder).
VARIANTS = {
    "torch": {"backend": "torch"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx-int8"},
    "onnx-int8-len128": {"backend": "onnx-int8", "max_length": 128},
    "torch-len128": {"backend": "torch", "max_length": 128},
}


class Lookup(Embedder):
    """Embeddings computed beforehand, by text."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        super().__init__(cache_size=0)
        self.normalize = False
        self.table = dict(zip(texts, vectors, strict=True))
        self._dim = vectors.shape[1]

    @property
    def dim(self) -> int:
        return self._dim

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def noise_band(win_rates, diff, strong_q, weak_q, base: float, draws: int = 200) -> dict:
    """APGR change when the reference win rates get Gaussian noise as large as this variant's change (sd of
    ``diff``): the 2.5-97.5 % band says which APGR deltas this benchmark cannot tell from noise."""
    rng = np.random.default_rng(1)
    weak, strong = float(weak_q.mean()), float(strong_q.mean())
    deltas = [
        compute_metrics(sweep(win_rates + rng.normal(0, diff.std(), len(diff)), strong_q, weak_q), weak, strong).apgr
        - base
        for _ in range(draws)
    ]
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"noise_delta_p2_5": float(low), "noise_delta_p97_5": float(high)}


def embeddings(variant: str, bench: str, prompts: list[str], cache: Path) -> np.ndarray:
    digest = hashlib.sha256(json.dumps([VARIANTS[variant], prompts]).encode()).hexdigest()[:16]
    path = cache / f"{variant}-{bench}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    router = MFRouter(MFRouter.Config(embedder={**VARIANTS[variant], "cache_size": 0}))
    start = time.perf_counter()
    vectors = router.embedder.embed(prompts, progress=True)
    print(f"  embedded {len(prompts)} {bench} prompts with {variant} in {time.perf_counter() - start:.0f} s", flush=True)
    np.save(path, vectors)
    router.close()
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["torch", "onnx", "onnx-int8", "onnx-int8-len128"])
    parser.add_argument("--benchmarks", nargs="+", default=["mt_bench", "gsm8k", "mmlu"])
    parser.add_argument("--mmlu-sample", type=int, default=0,
                        help="score a fixed random subset of MMLU's prompts (seed 0); 0: all 14k")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache/encoder_quality")
    parser.add_argument("--out", type=Path, default=ROOT / "results/encoder_quality.json")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    registry = get_registry()
    result: dict = {"reference": args.variants[0], "benchmarks": {}}
    router = MFRouter(MFRouter.Config())
    for bench in args.benchmarks:
        data = registry.create_benchmark(bench).load()
        prompts = list(data.prompts)
        strong_q = np.asarray(data.quality[data.strong_model], dtype=np.float64)
        weak_q = np.asarray(data.quality[data.weak_model], dtype=np.float64)
        if bench == "mmlu" and 0 < args.mmlu_sample < len(prompts):
            keep = np.sort(np.random.default_rng(0).choice(len(prompts), args.mmlu_sample, replace=False))
            prompts, strong_q, weak_q = [prompts[i] for i in keep], strong_q[keep], weak_q[keep]
        unique = list(dict.fromkeys(prompts))
        rows = {}
        reference = None
        for variant in args.variants:
            vectors = embeddings(variant, bench, unique, args.cache)
            router._embedder = Lookup(unique, vectors)
            router.__dict__.pop("embedder", None)
            win_rates = router.batch_calculate_win_rate(prompts)
            metrics = compute_metrics(sweep(win_rates, strong_q, weak_q), float(weak_q.mean()), float(strong_q.mean()))
            row = {"apgr": metrics.apgr}
            if reference is None:
                reference = (vectors, win_rates)
            else:
                cos = np.sum(vectors * reference[0], axis=1)
                row |= {"cosine_min": float(cos.min()), "cosine_p1": float(np.percentile(cos, 1)),
                        "cosine_mean": float(cos.mean()), "apgr_delta": metrics.apgr - rows[args.variants[0]]["apgr"],
                        "win_rate_max_abs_diff": float(np.abs(win_rates - reference[1]).max())}
                row |= noise_band(reference[1], win_rates - reference[1], strong_q, weak_q, row["apgr"] - row["apgr_delta"])
            rows[variant] = row
            print(f"{bench:9s} {variant:18s} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
        result["benchmarks"][bench] = {"prompts": len(prompts), "of": len(data.prompts), "variants": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
