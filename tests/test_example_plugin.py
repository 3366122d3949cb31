"""The documented example plugin works through real packaging and entry-point discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "routellm-router-char-count"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """Build the example with pip (its own pyproject, hatchling) into a private folder; return an env using it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert list(target.glob("routellm_router_char_count-0.1.0.dist-info/entry_points.txt"))
    return {**os.environ, "PYTHONPATH": str(target), "COLUMNS": "200"}


def routellm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "routellm.cli", *args], capture_output=True, text=True, env=env, timeout=60)


def test_listed_with_its_distribution(installed):
    result = routellm(installed, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)["plugins"] if r["kind"] == "router"}
    assert rows["char_count"]["distribution"] == "routellm-router-char-count"
    assert rows["char_count"]["version"] == "0.1.0"
    assert rows["char_count"]["description"] == "Longer prompts go to the strong model."


def test_routes_with_config(installed, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("char_count:\n  scale: 10\n")
    result = routellm(installed, "route", "x" * 10, "--router", "char_count", "--threshold", "0.6", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["win_rate"] == pytest.approx(1 - 2.718281828459045**-1)
    assert decision["model"] == "gpt-4-1106-preview"


def test_passes_the_router_contract(installed):
    code = (
        "import sys, pytest\n"
        "from pytest_routellm import RouterContract\n"
        "class TestCharCount(RouterContract):\n"
        "    router_name = 'char_count'\n"
        "    router_config = {'scale': 50.0}\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(pytest.main(['-q', '--color=no', '-p', 'no:cacheprovider', __file__]))\n"
    )
    path = Path(installed["PYTHONPATH"]) / "test_char_count_contract.py"
    path.write_text(code)
    env = {k: v for k, v in installed.items() if k != "PYTEST_ADDOPTS"}  # CI's options are for the outer run
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120, cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_disable_env_hides_it(installed):
    env = {**installed, "ROUTELLM_DISABLE_PLUGINS": "char_count"}
    result = routellm(env, "route", "hi", "--router", "char_count", "--threshold", "0.5")
    assert result.returncode == 1
    assert "unknown router 'char_count'" in result.stderr


def test_evaluates_and_calibrates_a_lazily_loaded_router(installed, shared_data, tmp_path, battles_file):
    """eval and calibrate build routers whose class is a "module:Class" reference."""
    env = {**installed, "ROUTELLM_CACHE_DIR": str(tmp_path / "cache")}
    result = routellm(
        env, "eval", "--routers", "char_count", "--benchmark", "mt_bench", "--output", str(tmp_path / "out"), "--json",
        "--data-dir", str(shared_data),
    )
    assert result.returncode == 0, result.stderr
    assert "char_count" in result.stdout and "APGR" in result.stdout.upper()
    result = routellm(
        env, "calibrate", "--routers", "char_count", "--strong-model-pct", "0.3", "--dataset", str(battles_file),
        "--output", str(tmp_path / "cal.json"),
    )
    assert result.returncode == 0, result.stderr
    assert "router-char_count-p30" in result.stdout
