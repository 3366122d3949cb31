"""Start-up time of `routellm plugins` and `routellm route --router random`, from fresh processes.

Compares with a bare `python -c pass` in the same run and checks (with -X importtime) that torch is
never imported. Prints a table and writes results/startup.json.

    .venv/bin/python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CASES = {
    "python -c pass (baseline)": [PY, "-c", "pass"],
    "routellm plugins": [PY, "-m", "routellm.cli", "plugins"],
    "routellm route --router random": [PY, "-m", "routellm.cli", "route", "Explain quicksort.", "--router", "random", "--threshold", "0.5"],
}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def imported_modules(cmd: list[str]) -> set[str]:
    result = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], check=True, capture_output=True, text=True)
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for cmd in CASES.values():  # warm the file cache
        timed(cmd)
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):  # interleaved, so load on the machine hits every case alike
        for name, cmd in CASES.items():
            samples[name].append(timed(cmd))
    results = {}
    for name, cmd in CASES.items():
        modules = imported_modules(cmd)
        results[name] = {
            "median_s": statistics.median(samples[name]),
            "p90_s": sorted(samples[name])[int(0.9 * (len(samples[name]) - 1))],
            "imports_torch": "torch" in modules,
            "imports_numpy": "numpy" in modules,
        }
    print(f"{'command':34} {'median':>8} {'p90':>8}  torch  numpy")
    for name, r in results.items():
        print(f"{name:34} {r['median_s']*1000:7.0f}ms {r['p90_s']*1000:7.0f}ms  {str(r['imports_torch']):5}  {r['imports_numpy']}")
    out = ROOT / "results" / "startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "results": results}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
