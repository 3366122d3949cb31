"""`routellm eval` and `routellm calibrate` end to end, and the documented example benchmark plugin."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routellm.calibration import load_calibration, resolve_threshold
from routellm.cli import build_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "routellm-benchmark-csv"


def run_cli(*args):
    result = CliRunner().invoke(build_app(), list(args), catch_exceptions=False)
    return result


def test_eval_gsm8k_writes_table_json_and_charts(shared_data, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "eval", "--routers", "random", "--benchmark", "gsm8k", "--output", str(out), "--random-runs", "20",
        "--data-dir", str(shared_data),
    )
    assert result.exit_code == 0, result.output
    assert "1307/1319 questions remain after decontamination" in result.output
    assert "| gsm8k | random (mean of 20 seeds) |" in result.output
    for name in ("gsm8k.json", "gsm8k.md", "gsm8k.html", "gsm8k.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "gsm8k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads((out / "gsm8k.json").read_text())
    assert payload["num_prompts"] == 1307
    # The length baseline is added by default; every router has bootstrap intervals.
    random, length = payload["routers"]
    assert (random["name"], length["name"]) == ("random", "length")
    assert len(random["curve"]["strong_share"]) == 11
    assert random["metrics"]["apgr"] == pytest.approx(0.5, abs=0.03)
    assert length["metrics"]["apgr"] == pytest.approx(0.597, abs=3e-3)  # the data README's length baseline: 0.597
    low, high = length["intervals"]["apgr"]
    assert low < length["metrics"]["apgr"] < high and length["intervals"]["resamples"] == 1000
    assert "95% bootstrap interval over 1000 resamples" in result.output
    assert payload["optimal"]["metrics"]["apgr"] == pytest.approx(1.131, abs=5e-4)


def test_eval_csv_format_and_unknown_router(shared_data, tmp_path):
    result = run_cli(
        "eval", "--routers", "random", "--benchmark", "mt_bench", "--output", str(tmp_path), "--format", "csv",
        "--no-charts", "--num-results", "4", "--data-dir", str(shared_data), "--no-baselines", "--bootstrap", "0",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mt_bench_curves.csv").read_text().count("\n") == 1 + 2 * 5
    with pytest.raises(Exception, match="unknown router 'nope'"):
        run_cli(
            "eval", "--routers", "random", "nope", "--benchmark", "mt_bench", "--output", str(tmp_path),
            "--data-dir", str(shared_data),
        )


def test_calibrate_saves_thresholds_that_model_names_resolve(battles_file, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("routers:\n  random:\n    seed: 0\ncalibration:\n  file: calibration.json\n")
    result = run_cli(
        "calibrate", "--routers", "random", "--strong-model-pct", "0.2", "--strong-model-pct", "0.5",
        "--dataset", str(battles_file), "--config", str(config),
    )
    assert result.exit_code == 0, result.output
    assert "805 distinct prompts of 45875 battles" in result.output
    assert '"router-random-p20"' in result.output and 'model="router-random-0.' in result.output
    calibration = load_calibration(tmp_path / "calibration.json")
    assert calibration.dataset == str(battles_file)
    router, threshold = resolve_threshold("router-random-p20", calibration)
    assert router == "random" and 0.7 < threshold < 0.9
    # The second run reads the cached win rates.
    again = run_cli("calibrate", "--routers", "random", "--dataset", str(battles_file), "--config", str(config))
    assert "cached win rates" in again.output


def _install_example(target: Path) -> None:
    """What `pip install` would leave: the package plus a dist-info with the entry point."""
    shutil.copytree(EXAMPLE / "src" / "routellm_benchmark_csv", target / "routellm_benchmark_csv")
    info = target / "routellm_benchmark_csv-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: routellm-benchmark-csv\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[routellm]\ncsv_results = routellm_benchmark_csv\n")


def test_example_benchmark_plugin_installs_and_evaluates(shared_data, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_example(site)
    config = tmp_path / "eval.yaml"
    config.write_text(
        "benchmarks:\n  csv_results:\n"
        f"    path: {shared_data / 'benchmarks' / 'mmlu' / 'responses' / 'mmlu_college_physics.csv'}\n"
        "    strong_model: gpt-4-1106-preview\n    weak_model: mistralai/Mixtral-8x7B-Instruct-v0.1\n"
        "routers:\n  random: {}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run(
        [sys.executable, "-m", "routellm.cli", "plugins"], env=env, capture_output=True, text=True, check=True
    )
    assert "csv_results" in listed.stdout and "routellm-benchmark-csv" in listed.stdout
    done = subprocess.run(
        [sys.executable, "-m", "routellm.cli", "eval", "--config", str(config), "--routers", "random",
         "--benchmark", "csv_results", "--output", str(tmp_path / "out"), "--no-charts"],
        env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "mmlu_college_physics.csv: 102 prompts" in done.stdout
    payload = json.loads((tmp_path / "out" / "mmlu_college_physics.json").read_text())
    assert payload["num_prompts"] == 102 and payload["routers"][0]["runs"] == 20


def test_example_eval_config_selects_mmlu_domains(shared_data, tmp_path):
    config = ROOT / "configs" / "eval.example.yaml"
    result = run_cli(
        "eval", "--config", str(config), "--routers", "random", "--benchmark", "mmlu", "--benchmark", "mt-bench",
        "--output", str(tmp_path), "--no-charts", "--random-runs", "2", "--data-dir", str(shared_data),
    )
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "mmlu.json").read_text())
    assert payload["num_prompts"] == 100 + 100 + 102 + 270
    assert (tmp_path / "mt_bench.json").is_file()
