"""Missing optional dependencies: one line naming what to install, no traceback."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from routellm.cli import main
from routellm.extras import MissingDependencyError, missing, require

CORE_SRC = Path(__file__).resolve().parents[1] / "src" / "routellm"
BIN = Path(sys.executable).parent / "routellm"


def run_main(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_require_names_module_and_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "polars", None)
    assert missing("polars", "msgspec") == ["polars"]
    with pytest.raises(MissingDependencyError, match=r"^thing needs polars: pip install 'routellm-core\[eval\]'$"):
        require("polars", "msgspec", install="routellm-core[eval]", purpose="thing")
    require("msgspec", install="x", purpose="y")  # present: no error


def test_serve_without_serve_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    line = run_main(capsys, "serve", "--routers", "random")
    assert line == "Error: routellm serve needs uvicorn: pip install 'routellm-core[serve]'"


@pytest.mark.parametrize("module", ["polars", "altair"])
def test_eval_without_eval_extra(monkeypatch, capsys, module):
    monkeypatch.setitem(sys.modules, module, None)
    line = run_main(capsys, "eval", "--routers", "random", "--benchmark", "gsm8k")
    assert line == f"Error: routellm eval needs {module}: pip install 'routellm-core[eval]'"


def test_eval_without_charts_does_not_need_altair(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "altair", None)
    monkeypatch.setitem(sys.modules, "polars", None)
    line = run_main(capsys, "eval", "--routers", "random", "--benchmark", "gsm8k", "--no-charts")
    assert "needs polars:" in line and "altair" not in line


def test_calibrate_without_polars(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "polars", None)
    line = run_main(capsys, "calibrate", "--routers", "random")
    assert line == "Error: routellm calibrate needs polars: pip install 'routellm-core[eval]'"


def test_train_without_the_plugins_train_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "routellm_train", None)
    line = run_main(capsys, "train", "mf", "--battles", "x.parquet", "--out", "y")
    assert line == "Error: routellm train mf needs routellm_train: pip install 'routellm-router-mf[train]'"


def test_train_with_no_trainer_installed():
    env = {**os.environ, "ROUTELLM_DISABLE_PLUGINS": "1"}
    result = subprocess.run([str(BIN), "train", "mf", "--out", "x"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: no trainer is installed: pip install 'routellm-router-mf[train]' (or the [train] extra of "
        "routellm-router-bert, routellm-router-causal-llm or routellm-router-sw-ranking)"
    ]


def test_core_never_imports_pytest():
    for path in CORE_SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] in {"pytest", "pytest_routellm"} for name in names), path
