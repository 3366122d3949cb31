"""The command line, run as users run it: a fresh process through the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "routellm"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200", **(env or {})}
    )


def test_version():
    from routellm import __version__

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"routellm {__version__}"


@pytest.mark.parametrize("command", [[], ["plugins"], ["route"], ["train"]])
def test_help_on_every_command(command):
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: routellm" in result.stdout


def test_plugins_lists_distribution_and_version():
    result = run("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)["plugins"]}
    assert rows[("router", "random")]["distribution"] == "routellm-router-random"
    assert rows[("router", "random")]["version"] == "0.1.0"
    table = run("plugins").stdout
    assert "routellm-router-random" in table and "KIND" in table


def test_route_prints_win_rate_and_model(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("random:\n  seed: 11\n")
    first = run("route", "Prove Fermat's little theorem.", "--router", "random", "--threshold", "0.5", "--config", str(config), "--json")
    assert first.returncode == 0, first.stderr
    decision = json.loads(first.stdout)
    second = json.loads(run("route", "Prove Fermat's little theorem.", "-r", "random", "-t", "0.5", "-c", str(config), "--json").stdout)
    assert decision == second  # seeded: reproducible across processes
    expected = "gpt-4-1106-preview" if decision["win_rate"] >= 0.5 else "mixtral-8x7b-instruct-v0.1"
    assert decision["model"] == expected
    text = run("route", "hi", "-r", "random", "-t", "0", "--strong-model", "big", "--weak-model", "small").stdout
    assert "routed to: big (strong; threshold 0.0)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["route", "hi", "--router", "nope", "--threshold", "0.5"], "unknown router 'nope' (available:"),
        (["route", "hi", "--router", "random", "--threshold", "0.5", "--config", "/no/such.yaml"], "config file not found: /no/such.yaml"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, message):
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_option_names_file_and_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("random:\n  speed: 1\n")
    result = run("route", "hi", "-r", "random", "-t", "0.5", "-c", str(config))
    assert result.returncode == 1
    assert f"{config}: router 'random': unknown option 'speed' (valid options: seed)" in result.stderr
    assert "Traceback" not in result.stderr


def test_threshold_out_of_range_is_rejected():
    result = run("route", "hi", "-r", "random", "-t", "1.5")
    assert result.returncode == 2
    assert "1.5 is not in the range" in result.stderr and "Traceback" not in result.stderr


def test_plugins_and_route_never_import_torch():
    code = (
        "import sys; from routellm.cli import main\n"
        "for argv in (['plugins'], ['route', 'hi', '-r', 'random', '-t', '0.5']):\n"
        "    try: main(argv)\n"
        "    except SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'transformers' not in sys.modules\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
