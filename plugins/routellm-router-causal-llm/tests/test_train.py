import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from routellm.cli import build_app
from routellm_router_causal_llm.labels import score_labels
from routellm_router_causal_llm.router import CausalLLMRouter
from routellm_router_causal_llm.train import CausalTrainOptions, train_causal_llm
from routellm_train.finetune import FitOptions

HARD = [f"Prove that there are infinitely many primes of the form 4k+{i}." for i in range(10)]
EASY = [f"Hello there, how are you today? Say hi to friend number {i}." for i in range(10)]


def arena_rows(prompts, weak_wins):
    """Arena-schema battles: gpt-4 as model_a against two weak models, the same verdict for each prompt."""
    rows = []
    for prompt in prompts:
        for weak in ("mixtral", "llama"):
            rows.append(
                {
                    "model_a": "gpt-4",
                    "model_b": weak,
                    "prompt": json.dumps([prompt]),
                    "winner_model_a": 0 if weak_wins else 1,
                    "winner_model_b": 1 if weak_wins else 0,
                    "winner_tie": 0,
                    "preference": 0.95 if weak_wins else 0.02,
                }
            )
    return rows


def test_preference_maps_to_five_equal_bins():
    oriented = pl.DataFrame({"weak_preference": [0.0, 0.19, 0.2, 0.5, 0.6, 0.79, 0.8, 1.0]})
    assert score_labels(oriented).to_list() == [0, 0, 1, 2, 3, 3, 4, 4]


@pytest.mark.quality  # minutes on a CPU: CI only
def test_fine_tuning_learns_which_prompts_the_weak_model_handles(tmp_path, tiny_base):
    battles = tmp_path / "battles.parquet"
    pl.DataFrame(arena_rows(HARD[:6], False) + arena_rows(EASY[:6], True)).write_parquet(battles)
    # Short templates keep the tiny model's context small, so a few dozen steps are enough to learn.
    (tmp_path / "system.txt").write_text("Rate the question.")
    (tmp_path / "question.txt").write_text("{question}")
    options = CausalTrainOptions(
        system_message=str(tmp_path / "system.txt"),
        classifier_message=str(tmp_path / "question.txt"),
        val_fraction=0.34,
        fit=FitOptions(epochs=40, batch_size=8, learning_rate=1e-2, patience=0, eval_every=20, progress=False),
    )
    report = train_causal_llm(battles, tiny_base, tmp_path / "out", options)
    assert report.strong_model == "gpt-4" and report.weak_models == ["llama", "mixtral"]
    assert report.score_counts == {"[[1]]": 12, "[[2]]": 0, "[[3]]": 0, "[[4]]": 0, "[[5]]": 12}
    history = report.fit.history
    assert history[-1].metrics["val_loss"] < history[0].metrics["val_loss"]
    assert history[-1].metrics["val_auc"] == 1.0
    # The saved folder is a complete router checkpoint: tokenizer, templates and prompt format included.
    router = CausalLLMRouter.from_config({"checkpoint_path": str(tmp_path / "out"), "device": "cpu", "model_id": "/nowhere"})
    assert router.prompt("Hi").startswith("<|start_header_id|>system<|end_header_id|>\n\nRate the question.")
    hard = router.batch_calculate_win_rate(HARD[6:])
    easy = router.batch_calculate_win_rate(EASY[6:])
    assert hard.min() > easy.max()
    for name in ("README.md", "system_ft_v5.txt", "classifier_ft_v5.txt", "routellm_training.json", "routellm_causal_llm.json"):
        assert (tmp_path / "out" / name).is_file()


@pytest.mark.slow
def test_cli_trains_on_the_shared_battles(tmp_path, tiny_base, battles_file):
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(
        build_app(),
        [
            "train", "causal_llm", "--battles", str(battles_file), "--base", str(tiny_base), "--out", str(out),
            "--max-prompts", "12", "--epochs", "1", "--batch-size", "4", "--val-fraction", "0.25", "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "saved" in result.output
    report = json.loads((out / "routellm_training.json").read_text())
    assert report["strong_model"] == "gpt4_1106_preview"
    assert sum(report["score_counts"].values()) == report["battles_used"] > 12 * 50
    assert (report["prompts_train"], report["prompts_val"]) == (9, 3)
    card = (out / "README.md").read_text()
    assert "[.8, 1]" in card and "gpt4_1106_preview" in card and "| step |" in card
    router = CausalLLMRouter.from_config({"checkpoint_path": str(out), "device": "cpu"})
    assert np.all(router.batch_calculate_win_rate(["Hi", "Prove it."]) >= 0)


def test_unknown_strong_model_is_explained(tmp_path, tiny_base):
    from routellm.errors import ConfigError

    battles = tmp_path / "battles.parquet"
    pl.DataFrame(arena_rows(HARD[:2], False)).write_parquet(battles)
    with pytest.raises(ConfigError, match="no battles with strong model 'claude'"):
        train_causal_llm(battles, tiny_base, tmp_path / "out", CausalTrainOptions(strong_model="claude"))
