"""Speed of `routellm calibrate`: prompts/s with the random router on the 45,875-battle file.

    python benchmarks/calibrate_speed.py [--dataset FILE] [--routers random] [--repeats 5]

Each repeat calibrates from scratch (fresh win-rate cache, nothing reused) and times two things:
the whole run (load battles, score, quantiles, save) per battle, and scoring alone per distinct
prompt. Prints medians and writes results/calibrate_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="default: $ROUTELLM_DATA_DIR/battles/alpaca_eval_gpt4_turbo.parquet")
    parser.add_argument("--routers", nargs="*", default=["random"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=Path("results"))
    args = parser.parse_args()

    from routellm.calibrate import calibrate
    from routellm.config import load_config
    from routellm.evaluation.scoring import WinRateCache
    from routellm.paths import data_dir

    dataset = args.dataset or str((data_dir() or Path("data")) / "battles" / "alpaca_eval_gpt4_turbo.parquet")
    cfg = load_config(args.config)
    report = {"dataset": dataset, "repeats": args.repeats, "cpus": os.cpu_count(), "routers": {}}
    for name in args.routers:
        totals, scoring, runs = [], [], None
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                runs, _path = calibrate(
                    [name], [0.2], dataset=dataset, config=cfg, output=Path(tmp) / "calibration.json",
                    cache=WinRateCache(Path(tmp) / "winrates"), progress=False,
                )
                totals.append(time.perf_counter() - start)
                scoring.append(runs[0].seconds)
        run = runs[0]
        total, score = statistics.median(totals), statistics.median(scoring)
        report["routers"][name] = {
            "battles": run.num_battles,
            "distinct_prompts": run.num_prompts,
            "threshold_20pct": run.thresholds["0.2"],
            "median_total_s": total,
            "median_scoring_s": score,
            "battles_per_s_end_to_end": run.num_battles / total,
            "distinct_prompts_per_s_scoring": run.num_prompts / score,
            "all_total_s": totals,
        }
        print(
            f"{name}: {run.num_battles} battles ({run.num_prompts} distinct prompts); median of {args.repeats}: "
            f"end to end {total:.3f} s = {run.num_battles / total:,.0f} battles/s; "
            f"scoring {score * 1000:.1f} ms = {run.num_prompts / score:,.0f} prompts/s"
        )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "calibrate_speed.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.output / 'calibrate_speed.json'}")


if __name__ == "__main__":
    main()
