"""The multi-model mf: training on results tables, its checkpoint layout and `batch_model_scores`."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from routellm.cli import build_app
from routellm.embedder import Embedder
from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash
from routellm_router_mf.checkpoint import load_checkpoint
from routellm_router_mf.router import MFRouter
from routellm_router_mf.train_results import ResultsTrainOptions, fit_results, stack_results
from routellm_train.results import Results, SourceInfo

DIM = 8


class HashEmbedder(Embedder):
    """Deterministic vectors whose first coordinate says whether the prompt mentions maths."""

    def __init__(self) -> None:
        super().__init__(cache_size=0)

    @property
    def dim(self) -> int:
        return DIM

    def _embed(self, texts):
        out = []
        for t in texts:
            rng = np.random.default_rng(int(prompt_hash(t), 16) % 2**32)
            v = rng.normal(size=DIM) * 0.3
            v[0] = 2.0 if "maths" in t else -2.0
            out.append(v)
        return np.array(out)


def synthetic(n=240, seed=0):
    """Three models: 'big' is right on everything, 'small' only on non-maths prompts, 'mid' half the time."""
    rng = np.random.default_rng(seed)
    prompts = [f"{'maths' if i % 2 else 'chat'} question {i}" for i in range(n)]
    maths = np.array([i % 2 == 1 for i in range(n)])
    scores = np.stack([np.ones(n), (~maths).astype(float), (rng.random(n) < 0.5).astype(float)], axis=1)
    scores[::7, 2] = np.nan
    return Results(prompts, ["big", "small", "mid"], scores, SourceInfo("synthetic"))


def test_fit_learns_which_prompts_need_the_big_model():
    table = synthetic()
    data = stack_results([table])
    x = HashEmbedder().embed(data.prompts)
    val = np.zeros(len(data.prompts), dtype=bool)
    val[::5] = True
    fitted = fit_results(x, data, val, ResultsTrainOptions(dim=4, epochs=150, patience=30, noise=0.0))
    assert fitted.metrics["val_pairwise_auc"] > 0.9
    assert fitted.weights.P.shape == (3, 4) and fitted.weights.bias.shape == (3,)


def test_same_model_merges_only_named_synonyms():
    a = Results(["p"], ["gpt4_1106_preview", "m"], np.array([[1.0, 0.0]]), SourceInfo("a"))
    b = Results(["q"], ["gpt-4-1106-preview", "M"], np.array([[0.0, 1.0]]), SourceInfo("b"))
    assert stack_results([a, b]).names == ["M", "gpt-4-1106-preview", "gpt4_1106_preview", "m"]
    merged = stack_results([a, b], {"gpt4_1106_preview": "gpt-4-1106-preview"})
    assert merged.names == ["M", "gpt-4-1106-preview", "m"]
    np.testing.assert_array_equal(merged.scores[:, 1], [1.0, 0.0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mf-results")
    source = folder / "results.csv"
    table = synthetic()
    frame = pl.DataFrame({"prompt": table.prompts, **{m: table.scores[:, j] for j, m in enumerate(table.models)}})
    frame.write_csv(source)
    return folder, source


def test_cli_trains_on_a_results_file_and_records_prompt_hashes(trained, shared_data, minilm_path):
    folder, source = trained
    out = folder / "ckpt"
    result = CliRunner().invoke(
        build_app(),
        ["train", "mf", "--results", f"{source}:2", "--out", str(out), "-E", f"model={minilm_path}",
         "--benchmark", "mt_bench", "--data-dir", str(shared_data),
         "--epochs", "60", "--dim", "8", "--near-duplicate", "0"],
    )
    assert result.exit_code == 0, result.output
    config, weights = load_checkpoint(out)
    assert config.names == ["big", "mid", "small"] and config.activation == "tanh" and weights.bias is not None
    assert config.training["sources"][0]["weight"] == 2.0
    record = json.loads((out / TRAINING_PROMPTS_FILE).read_text())
    assert record["normalisation"] == "routellm.prompt_hashes v1"
    assert prompt_hash("maths question 1") in record["hashes"] and len(record["hashes"]) == 240
    card = (out / "README.md").read_text()
    assert "synthetic" not in card and "results.csv" in card and "none stated" in card

    router = MFRouter(MFRouter.Config(checkpoint_path=str(out), strong_model="big", weak_model="small"))
    scores = router.batch_model_scores(["maths question 1", "chat question 2"], ["big", "small", "mid"])
    assert scores.shape == (2, 3)
    win = router.batch_calculate_win_rate(["maths question 1", "chat question 2"])
    np.testing.assert_allclose(win, 1 / (1 + np.exp(-(scores[:, 0] - scores[:, 1]))))


def test_either_battles_or_results(tmp_path):
    result = CliRunner().invoke(build_app(), ["train", "mf", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--battles" in result.output + str(result.exception)
