import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from routellm.battles import load_battles
from routellm.cli import build_app
from routellm_router_bert.labels import LABELS, prompt_labels
from routellm_router_bert.router import BertRouter
from routellm_router_bert.train import BertTrainOptions, train_bert
from routellm_train.battle_labels import orient_battles, weighted_auc
from routellm_train.finetune import FitOptions

from .conftest import save_tiny_bert

# The MiniLM run: a slice of the shared battles small enough for about a minute of CPU.
MINILM_PROMPTS, MINILM_VAL, MINILM_MAX_LENGTH, MINILM_EPOCHS, MINILM_LR = 500, 0.4, 48, 1, 2e-4

HARD = [f"prove that there are infinitely many primes {i}" for i in range(10)]
EASY = [f"hi good morning translate {i}" for i in range(10)]


def arena_rows(prompts, outcome, strong_side="a"):
    """Arena-schema battles of gpt-4 against two weak models; ``outcome`` is 'strong', 'weak' or 'tie'."""
    rows = []
    for prompt in prompts:
        for weak in ("mixtral", "llama"):
            strong_won, weak_won = outcome == "strong", outcome == "weak"
            a_won, b_won = (strong_won, weak_won) if strong_side == "a" else (weak_won, strong_won)
            rows.append(
                {
                    "model_a": "gpt-4" if strong_side == "a" else weak,
                    "model_b": weak if strong_side == "a" else "gpt-4",
                    "prompt": json.dumps([prompt]),
                    "winner_model_a": int(a_won),
                    "winner_model_b": int(b_won),
                    "winner_tie": int(outcome == "tie"),
                }
            )
    return rows


def test_labels_follow_the_strong_side_wherever_it_sits(tmp_path):
    path = tmp_path / "b.parquet"
    rows = arena_rows(["p1"], "strong", "a") + arena_rows(["p1"], "weak", "b") + arena_rows(["p2"], "tie", "b")
    pl.DataFrame(rows).write_parquet(path)
    data = prompt_labels(orient_battles(load_battles(path)))
    assert LABELS == ("strong_wins", "tie", "weak_wins")
    assert data.prompts == ["p1", "p2"]
    np.testing.assert_array_equal(data.counts, [[2, 0, 2], [0, 2, 0]])


@pytest.mark.slow
def test_fine_tuning_learns_which_prompts_the_strong_model_wins(tmp_path):
    battles = tmp_path / "battles.parquet"
    pl.DataFrame(arena_rows(HARD[:8], "strong") + arena_rows(EASY[:8], "weak")).write_parquet(battles)
    base = save_tiny_bert(tmp_path / "base", head=False)
    options = BertTrainOptions(
        val_fraction=0.25, max_length=32, fit=FitOptions(epochs=15, batch_size=8, learning_rate=3e-3, patience=0, eval_every=10, progress=False)
    )
    report = train_bert(battles, base, tmp_path / "out", options)
    assert report.label_counts == {"strong_wins": 16, "tie": 0, "weak_wins": 16}
    assert report.fit.history[-1].metrics["val_auc"] == 1.0
    router = BertRouter.from_config({"checkpoint_path": str(tmp_path / "out"), "device": "cpu"})
    assert router.max_length == 32
    hard, easy = router.batch_calculate_win_rate(HARD[8:]), router.batch_calculate_win_rate(EASY[8:])
    assert hard.min() > easy.max()


@pytest.mark.slow
def test_cli_writes_a_loadable_checkpoint_with_a_model_card(tmp_path, battles_file):
    base = save_tiny_bert(tmp_path / "base", head=False)
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(
        build_app(),
        [
            "train", "bert", "--battles", str(battles_file), "--base", str(base), "--out", str(out),
            "--max-prompts", "16", "--epochs", "2", "--val-fraction", "0.25", "--max-length", "32", "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "routellm_training.json").read_text())
    assert report["strong_model"] == "gpt4_1106_preview" and len(report["weak_models"]) > 40
    assert (report["prompts_train"], report["prompts_val"]) == (12, 4)
    assert [e["epoch"] for e in report["fit"]["history"]] == [1.0, 2.0]
    assert set(report["fit"]["best"]["metrics"]) == {"val_loss", "val_accuracy", "val_auc"}
    card = (out / "README.md").read_text()
    assert "`strong_wins`" in card and "gpt4_1106_preview" in card and "| step |" in card
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "strong_wins", "1": "tie", "2": "weak_wins"}
    router = BertRouter.from_config({"checkpoint_path": str(out), "device": "cpu"})
    assert 0.0 <= router.calculate_strong_win_rate("Hello") <= 1.0


def test_battles_without_a_common_model_need_a_strong_model(tmp_path):
    from routellm.errors import ConfigError

    rows = arena_rows(["p1"], "strong") + [
        {"model_a": "x", "model_b": "y", "prompt": '["p2"]', "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0}
    ]
    path = tmp_path / "b.parquet"
    pl.DataFrame(rows).write_parquet(path)
    with pytest.raises(ConfigError, match="--strong-model"):
        train_bert(path, tmp_path / "base", tmp_path / "out")


@pytest.mark.quality  # minutes on a CPU: CI only
def test_minilm_router_beats_chance_on_held_out_prompts(tmp_path, minilm_path, battles_file):
    """Fine-tune MiniLM on a slice of the shared battles; score held-out prompts it never saw."""
    options = BertTrainOptions(
        max_prompts=MINILM_PROMPTS,
        val_fraction=MINILM_VAL,
        max_length=MINILM_MAX_LENGTH,
        fit=FitOptions(epochs=MINILM_EPOCHS, batch_size=16, learning_rate=MINILM_LR, patience=0, progress=False),
    )
    report = train_bert(battles_file, minilm_path, tmp_path / "minilm", options)
    router = BertRouter.from_config({"checkpoint_path": str(tmp_path / "minilm"), "device": "cpu", "batch_size": 64})
    # Held-out prompts: the validation split, re-derived exactly as the trainer drew it.
    from routellm_train.battle_labels import split_by_prompt

    data = prompt_labels(orient_battles(load_battles(battles_file)))
    keep = np.sort(np.random.default_rng(0).permutation(len(data))[:MINILM_PROMPTS])
    held_out = data.subset(keep).subset(split_by_prompt(MINILM_PROMPTS, MINILM_VAL, 0)[1])
    assert len(held_out) == report.prompts_val
    scores = router.batch_calculate_win_rate(held_out.prompts)
    strong, other = held_out.counts[:, 0], held_out.counts[:, 1:].sum(axis=1)
    auc = weighted_auc(scores, strong, other)
    # Chance: the same scores shuffled across the held-out prompts (a one-sided permutation test, p < 0.05).
    rng = np.random.default_rng(1)
    null = [weighted_auc(rng.permutation(scores), strong, other) for _ in range(1000)]
    assert auc > np.percentile(null, 95), (auc, np.percentile(null, 95))
    assert auc == pytest.approx(report.fit.best.metrics["val_auc"], abs=1e-3)


def test_cli_trains_on_results_with_synonyms_merged(tmp_path, shared_data):
    """`--results` with `--same-model`: a synonym's results join the strong model's battles; the folder records
    the training prompts' hashes and the sources."""
    from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash

    base = save_tiny_bert(tmp_path / "base", head=False)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    pl.DataFrame({"prompt": HARD, "gpt-4-1106-preview": [1] * 10, "mixtral": [0] * 10}).write_csv(first)
    pl.DataFrame({"prompt": EASY, "gpt4_1106_preview": [1] * 10, "mixtral": [1] * 10}).write_csv(second)
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(
        build_app(),
        [
            "train", "bert", "--results", str(first), "--results", str(second), "--base", str(base), "--out", str(out),
            "--strong-model", "gpt-4-1106-preview", "--weak-model", "mixtral",
            "--same-model", "gpt4_1106_preview=gpt-4-1106-preview", "--near-duplicate", "0",
            "--benchmark", "mt_bench", "--data-dir", str(shared_data),
            "--epochs", "1", "--val-fraction", "0.25", "--max-length", "16", "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    report = json.loads((out / "routellm_training.json").read_text())
    assert report["battles_used"] == 20 and report["label_counts"] == {"strong_wins": 10, "tie": 10, "weak_wins": 0}
    hashes = json.loads((out / TRAINING_PROMPTS_FILE).read_text())["hashes"]
    assert prompt_hash(EASY[0]) in hashes and len(hashes) == 20
    record = json.loads((out / "training_sources.json").read_text())
    assert record["same_model"] == ["gpt4_1106_preview=gpt-4-1106-preview"]
    assert [s["name"] for s in record["sources"]] == ["first.csv", "second.csv"]
