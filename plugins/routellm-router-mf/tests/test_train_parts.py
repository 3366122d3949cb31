"""The pieces of `routellm train mf` that decide what the model learns: targets, ties, split, metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from routellm.errors import ConfigError
from routellm_router_mf.train import battle_arrays, split_prompts, within_pair_auc


def battles(preference=True):
    frame = pl.DataFrame(
        {
            "prompt": ["p1", "p1", "p2", "p2", "p3"],
            "model_a": ["x", "x", "x", "y", "y"],
            "model_b": ["y", "z", "y", "y", "z"],
            "winner": ["model_a", "tie", "model_b", "model_a", "tie"],
            "preference": [0.1, 0.52, 0.9, 0.0, None],
        }
    )
    return frame if preference else frame.drop("preference")


def test_soft_ties_keep_graded_targets_and_drop_self_battles():
    data = battle_arrays(battles(), "soft")
    assert len(data.target) == 4  # y vs y dropped
    assert data.names == ["x", "y", "z"] and data.prompts == ["p1", "p2", "p3"]
    np.testing.assert_allclose(data.target, [0.9, 0.48, 0.1, 0.5])  # P(model_a wins) = 1 - preference
    assert data.winner.tolist() == [1, -1, 0, -1]


def test_drop_ties_uses_hard_targets_like_the_seed():
    data = battle_arrays(battles(), "drop")
    assert data.target.tolist() == [1.0, 0.0]
    assert data.prompts == ["p1", "p2"]


def test_bad_ties_option():
    with pytest.raises(ConfigError, match="ties must be 'soft' or 'drop'"):
        battle_arrays(battles(), "maybe")


def test_split_is_by_prompt_and_reproducible():
    mask = split_prompts(100, 0.1, seed=3)
    assert mask.sum() == 10
    np.testing.assert_array_equal(mask, split_prompts(100, 0.1, seed=3))
    assert not np.array_equal(mask, split_prompts(100, 0.1, seed=4))
    with pytest.raises(ConfigError, match="at least two distinct prompts"):
        split_prompts(1, 0.5, seed=0)


def test_within_pair_auc():
    a = np.array([0, 0, 0, 0, 2, 2, 1])
    b = np.array([1, 1, 1, 1, 1, 1, 2])
    won = np.array([1, 1, 0, 0, 1, 0, -1])
    perfect = np.array([2.0, 1.0, -1.0, -2.0, 0.5, -0.5, 9.0])
    assert within_pair_auc(a, b, won, perfect) == 1.0
    assert within_pair_auc(a, b, won, -perfect) == 0.0
    assert within_pair_auc(a, b, won, np.zeros(7)) == 0.5  # prompt-blind
    # Orientation: battle (2 vs 1) is scored from model 1's side, so flipping a and b changes nothing.
    assert within_pair_auc(a, b, won, perfect) == within_pair_auc(
        np.where(a == 2, 1, a), np.where(a == 2, 2, b), np.where(a == 2, 1 - won, won), np.where(a == 2, -perfect, perfect)
    )


def test_response_lengths_for_length_control(tmp_path):
    import json

    from routellm.battles import load_battles

    rows = [
        {"model_a": "x", "model_b": "y", "prompt": json.dumps(["q1"]), "response_a": json.dumps(["abc", "de"]),
         "response_b": json.dumps(["a"]), "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
        {"model_a": "y", "model_b": "x", "prompt": json.dumps(["q2"]), "response_a": "plain text",
         "response_b": json.dumps([None]), "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},
    ]
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    frame = load_battles(path, response_lengths=True)
    assert frame["response_a_chars"].to_list() == [5, 10]
    assert frame["response_b_chars"].to_list() == [1, 0]
    data = battle_arrays(frame, "soft")
    np.testing.assert_allclose(data.length_diff, [np.log(6) - np.log(2), np.log(11) - np.log(1)])
    assert "response_a_chars" not in load_battles(path).columns

    bare = tmp_path / "bare.jsonl"
    bare.write_text("\n".join(json.dumps({k: v for k, v in r.items() if not k.startswith("response")}) for r in rows))
    assert load_battles(bare, response_lengths=True)["response_a_chars"].null_count() == 2
