"""mf router speed on this machine's CPU with the local all-MiniLM-L6-v2: prompts/s batched (batch 64)
and single-prompt p50 latency, for the shipped default and for speed variants, measured interleaved in
one run so they share the machine's load. Also the default checkpoint's validation metrics.

    ROUTELLM_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/mf_speed.py [--rounds 3]

Variants (the in-memory LRU is off for all, so every prompt is embedded), all the huggingface embedder
with all-MiniLM-L6-v2, one config line apart:

* ``torch``: the reference, PyTorch float32 (RouteLLM 0.2.0's path and this project's default before issue 12);
* ``onnx``: the same model exported to ONNX Runtime, graph fused and optimised, float32;
* ``onnx-int8``: that graph with static int8 MatMuls (the default ``backend``);
* ``onnx-int8-len128``: ``onnx-int8`` with ``max_length: 128`` (the length all-MiniLM-L6-v2 was trained at);
* ``torch-len128``: ``torch`` with ``max_length: 128``;
* ``static``: the ``static`` embedder (model2vec token lookup, distilled from all-MiniLM-L6-v2) with the mf
  checkpoint trained on it (``--static-checkpoint``; another embedding space, so its win rates differ from the
  MiniLM checkpoint's by more than a backend's).

The MiniLM variants score the MiniLM checkpoint (``--minilm-checkpoint``).

Writes ``results/mf_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from routellm.paths import data_dir
from routellm_router_mf.router import MFRouter

BATCH = 64


def prompt_sets(root: Path, n: int) -> dict[str, list[str]]:
    gsm = pl.read_csv(root / "benchmarks/gsm8k/gsm8k_responses.csv")["prompt"].to_list()[:n]
    mt = [json.loads(line)["turns"][0] for line in (root / "benchmarks/mt_bench/question.jsonl").read_text().splitlines()]
    battles = pl.read_parquet(root / "battles/alpaca_eval_gpt4_turbo.parquet")["prompt"].unique(maintain_order=True)
    alpaca = [json.loads(p)[0] for p in battles.to_list()[:n]]
    return {"gsm8k": gsm, "mt_bench": mt, "alpaca": alpaca}


VARIANTS: dict[str, dict] = {
    "static": {"name": "static"},
    "torch": {"backend": "torch"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx-int8"},
    "onnx-int8-len128": {"backend": "onnx-int8", "max_length": 128},
    "torch-len128": {"backend": "torch", "max_length": 128},
}


def make_router(variant: str, checkpoints: dict[str, str]) -> MFRouter:
    embedder: dict = {"cache_size": 0, "batch_size": BATCH, **VARIANTS[variant]}
    checkpoint = checkpoints["static" if variant == "static" else "minilm"]
    router = MFRouter(MFRouter.Config(checkpoint_path=checkpoint, embedder=embedder))
    router.calculate_strong_win_rate("warm up")  # load the model (export it on first use)
    return router


def threads_for(variant: str, default_threads: int) -> int:
    return default_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (medians reported)")
    parser.add_argument("--prompts", type=int, default=128, help="prompts per set (MT Bench has 80)")
    parser.add_argument("--single", type=int, default=60, help="prompts timed one by one per round")
    parser.add_argument("--variants", nargs="*", default=["torch", "onnx", "onnx-int8", "onnx-int8-len128"])
    parser.add_argument("--out", type=Path, default=Path("results/mf_speed.json"))
    parser.add_argument("--minilm-checkpoint", default="minilm", help="mf checkpoint for the MiniLM variants")
    parser.add_argument("--static-checkpoint", default="default", help="mf checkpoint for the static variant")
    args = parser.parse_args()
    root = data_dir()
    if root is None:
        raise SystemExit("set ROUTELLM_DATA_DIR to the shared data folder")
    sets = prompt_sets(root, args.prompts)
    default_threads = torch.get_num_threads()
    checkpoints = {"minilm": args.minilm_checkpoint, "static": args.static_checkpoint}
    routers = {v: make_router(v, checkpoints) for v in args.variants}
    everything = [p for prompts in sets.values() for p in prompts]
    singles = [p for i, p in enumerate(everything) if i % max(1, len(everything) // args.single) == 0][: args.single]

    # Quality effect of each variant: win rates against the default's, and batch vs one-by-one.
    torch.set_num_threads(default_threads)
    reference = routers[args.variants[0]].batch_calculate_win_rate(everything)
    quality = {}
    for variant, router in routers.items():
        torch.set_num_threads(threads_for(variant, default_threads))
        batched = router.batch_calculate_win_rate(everything)
        one_by_one = np.array([router.calculate_strong_win_rate(p) for p in everything[:64]])
        quality[variant] = {
            "win_rate_max_abs_diff_vs_reference": float(np.abs(batched - reference).max()),
            "win_rate_mean_abs_diff_vs_reference": float(np.abs(batched - reference).mean()),
            "batch_vs_single_max_diff": float(np.abs(batched[:64] - one_by_one).max()),
        }

    throughput: dict[str, dict[str, list[float]]] = {v: {s: [] for s in sets} for v in routers}
    latency: dict[str, list[float]] = {v: [] for v in routers}
    # CPU time (all threads of this process): robust to other load on a shared machine.
    cpu: dict[str, list[float]] = {v: [] for v in routers}
    single_cpu: dict[str, list[float]] = {v: [] for v in routers}
    for round_ in range(args.rounds):
        for variant, router in routers.items():
            torch.set_num_threads(threads_for(variant, default_threads))
            cpu_start, n = time.process_time(), 0
            for name, prompts in sets.items():
                start = time.perf_counter()
                router.batch_calculate_win_rate(prompts)
                throughput[variant][name].append(len(prompts) / (time.perf_counter() - start))
                n += len(prompts)
            cpu[variant].append(n / (time.process_time() - cpu_start))
            for prompt in singles:
                start, cpu_one = time.perf_counter(), time.process_time()
                router.calculate_strong_win_rate(prompt)
                latency[variant].append(time.perf_counter() - start)
                single_cpu[variant].append(time.process_time() - cpu_one)
        print(f"round {round_ + 1}/{args.rounds} done (load average {os.getloadavg()[0]:.1f})", flush=True)
    torch.set_num_threads(default_threads)

    metrics = (routers[args.variants[0]].checkpoint.training or {}).get("metrics", {})
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": default_threads, "processor": platform.processor(),
                    "load_average_end": os.getloadavg()},
        "batch_size": BATCH,
        "checkpoints": checkpoints,
        "default_checkpoint_metrics": metrics,
        "variants": {},
    }
    print(f"\ndefault checkpoint: validation pairwise accuracy {metrics.get('val_pairwise_accuracy', float('nan')):.4f}, "
          f"loss {metrics.get('val_loss', float('nan')):.4f}")
    print(f"{'variant':16s} " + " ".join(f"{s + ' p/s':>14s}" for s in sets) + f" {'all p/s':>9s} {'single p50 ms':>14s}"
          f" {'max |Δwr|':>10s} {'batch≠single':>12s}")
    base_all = None
    for variant in routers:
        per_set = {s: float(np.median(v)) for s, v in throughput[variant].items()}
        total = len(everything) / sum(len(sets[s]) / per_set[s] for s in sets)
        base_all = base_all or total
        p50 = float(np.median(latency[variant]) * 1000)
        result["variants"][variant] = {
            "prompts_per_s": per_set, "prompts_per_s_all_sets": total, "speedup_vs_reference": total / base_all,
            "single_p50_ms": p50, "single_p90_ms": float(np.percentile(latency[variant], 90) * 1000),
            "raw_prompts_per_s": throughput[variant], **quality[variant],
            "prompts_per_cpu_s": float(np.median(cpu[variant])),
            "single_cpu_ms_p50": float(np.median(single_cpu[variant]) * 1000),
        }
        q = quality[variant]
        print(f"{variant:16s} " + " ".join(f"{per_set[s]:14.1f}" for s in sets) + f" {total:9.1f} {p50:14.1f}"
              f" {q['win_rate_max_abs_diff_vs_reference']:10.4f} {q['batch_vs_single_max_diff']:12.2e}"
              f" {np.median(cpu[variant]):8.1f} {np.median(single_cpu[variant]) * 1000:8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
