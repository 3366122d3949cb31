"""`routellm train mf` and `routellm train sw_ranking` with `--embedder static`, and the routers they make."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

pytest.importorskip("routellm_router_mf", reason="routellm-router-mf is not installed")
pytest.importorskip("routellm_router_sw_ranking", reason="routellm-router-sw-ranking is not installed")
pytest.importorskip("routellm_train", reason="the trainers' [train] extras are not installed")

from routellm.cli import build_app  # noqa: E402


@pytest.fixture
def results_file(tmp_path):
    prompts = [f"{'prove the theorem about primes' if i % 2 else 'say hello to my friend'} number {i}" for i in range(40)]
    source = tmp_path / "results.csv"
    pl.DataFrame(
        {"prompt": prompts, "big": [1] * 40, "small": [i % 2 == 0 for i in range(40)], "tiny": [0] * 40}
    ).write_csv(source)
    return source


def test_train_mf_with_the_static_embedder(results_file, tmp_path):
    from routellm_router_mf.checkpoint import load_checkpoint
    from routellm_router_mf.router import MFRouter

    out = tmp_path / "mf"
    result = CliRunner().invoke(
        build_app(),
        ["train", "mf", "--results", str(results_file), "--out", str(out), "--embedder", "static",
         "--epochs", "40", "--dim", "8", "--no-decontaminate"],
    )
    assert result.exit_code == 0, result.output
    config, _ = load_checkpoint(out)
    assert config.embedder["name"] == "static" and config.embedder["model"] == "default" and config.text_dim == 128
    router = MFRouter(MFRouter.Config(checkpoint_path=str(out), strong_model="big", weak_model="small"))
    win = router.batch_calculate_win_rate(["prove the theorem about primes number 99", "say hello to my friend number 98"])
    assert win[0] > win[1]


def test_train_sw_ranking_with_the_static_embedder(results_file, tmp_path, shared_data):
    out = tmp_path / "sw"
    result = CliRunner().invoke(
        build_app(),
        ["train", "sw_ranking", "--results", str(results_file), "--out", str(out), "--embedder", "static",
         "--strong-model", "big", "--weak-model", "tiny", "--num-tiers", "3", "--benchmark", "mt_bench",
         "--data-dir", str(shared_data)],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    assert json.loads((out / "config.json").read_text())["embedder"]["name"] == "static"
    from routellm_router_sw_ranking.router import SWRankingRouter

    router = SWRankingRouter.from_config({"checkpoint_path": str(out), "strong_model": "big", "weak_model": "tiny"})
    win = router.batch_calculate_win_rate(["prove the theorem about primes number 99"])
    assert np.isfinite(win).all() and 0.0 <= win[0] <= 1.0
