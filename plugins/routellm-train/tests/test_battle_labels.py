import itertools

import numpy as np
import polars as pl
import pytest

from routellm.errors import ConfigError
from routellm_train.battle_labels import (
    PromptLabels,
    orient_battles,
    pool_by_prompt,
    prior_cross_entropy,
    split_by_prompt,
    training_labels,
    weighted_accuracy,
    weighted_auc,
    weighted_cross_entropy,
)


def battles(rows):
    return pl.DataFrame(rows, schema=["prompt", "model_a", "model_b", "winner", "preference"], orient="row")


def test_orientation_flips_battles_where_the_strong_model_is_b():
    frame = battles(
        [
            ("p1", "gpt4", "mix", "model_a", 0.1),
            ("p2", "mix", "gpt4", "model_a", 0.8),
            ("p3", "llama", "gpt4", "tie", 0.5),
        ]
    )
    out = orient_battles(frame)
    assert out["strong"].to_list() == ["gpt4"] * 3
    assert out["weak"].to_list() == ["mix", "mix", "llama"]
    assert out["outcome"].to_list() == ["strong", "weak", "tie"]
    assert out["weak_preference"].to_list() == pytest.approx([0.1, 0.2, 0.5])


def test_weak_model_filter_and_errors():
    frame = battles([("p1", "gpt4", "mix", "model_a", 0.1), ("p2", "gpt4", "llama", "model_b", 0.9)])
    assert orient_battles(frame, "gpt4", "llama")["prompt"].to_list() == ["p2"]
    with pytest.raises(ConfigError, match="no battles between 'gpt4' and 'claude'.*llama, mix"):
        orient_battles(frame, "gpt4", "claude")
    with pytest.raises(ConfigError, match="no battles with strong model 'claude'"):
        orient_battles(frame, "claude")
    mixed = battles([("p1", "a", "b", "tie", 0.5), ("p2", "c", "d", "tie", 0.5)])
    with pytest.raises(ConfigError, match="--strong-model"):
        orient_battles(mixed)
    with pytest.raises(ConfigError, match="no battles"):
        orient_battles(mixed.head(0))


def test_pool_by_prompt_counts_in_first_seen_order():
    pooled = pool_by_prompt(pl.Series(["b", "a", "b", "b"]), pl.Series([0, 2, 2, 0]), 3)
    assert pooled.prompts == ["b", "a"]
    np.testing.assert_array_equal(pooled.counts, [[2, 0, 1], [0, 0, 1]])
    np.testing.assert_allclose(pooled.targets, [[2 / 3, 0, 1 / 3], [0, 0, 1]])
    assert pooled.subset(np.array([1])).prompts == ["a"]
    with pytest.raises(ValueError, match="0..2"):
        pool_by_prompt(pl.Series(["a"]), pl.Series([3]), 3)


def test_split_by_prompt_is_disjoint_and_seeded():
    train, val = split_by_prompt(100, 0.2, seed=3)
    assert len(val) == 20 and len(train) == 80 and not set(train) & set(val)
    assert (val == split_by_prompt(100, 0.2, seed=3)[1]).all()
    with pytest.raises(ConfigError):
        split_by_prompt(1, 0.5)
    with pytest.raises(ConfigError):
        split_by_prompt(10, 1.0)


def test_weighted_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 30).astype(float)  # many ties
    pos, neg = rng.integers(0, 4, 30), rng.integers(0, 4, 30)
    expanded = [(s, 1) for s, n in zip(scores, pos, strict=True) for _ in range(n)]
    expanded += [(s, 0) for s, n in zip(scores, neg, strict=True) for _ in range(n)]
    wins = total = 0.0
    for (s1, y1), (s2, y2) in itertools.product(expanded, expanded):
        if y1 == 1 and y2 == 0:
            total += 1
            wins += 1.0 if s1 > s2 else 0.5 if s1 == s2 else 0.0
    assert weighted_auc(scores, pos, neg) == pytest.approx(wins / total)
    assert weighted_auc([1, 2], [0, 1], [1, 0]) == 1.0
    assert np.isnan(weighted_auc([1, 2], [0, 0], [1, 1]))


def test_weighted_losses_count_every_pooled_battle():
    data = PromptLabels(["a", "b"], np.array([[3.0, 1.0], [0.0, 2.0]]))
    probs = np.array([[0.75, 0.25], [0.5, 0.5]])
    expected = -(3 * np.log(0.75) + np.log(0.25) + 2 * np.log(0.5)) / 6
    assert weighted_cross_entropy(probs, data) == pytest.approx(expected)
    assert weighted_accuracy(probs, data) == pytest.approx(3 / 6)  # argmax of a tie picks label 0
    prior = np.array([0.5, 0.5])  # the training label frequencies of `data`
    assert prior_cross_entropy(data, data) == pytest.approx(weighted_cross_entropy(np.tile(prior, (2, 1)), data))


def test_training_labels_orient_pool_and_split():
    frame = battles([(f"p{i}", "gpt4", f"m{i % 2}", "model_a", 0.1) for i in range(10)])
    pooled = training_labels(
        frame,
        lambda oriented: pool_by_prompt(oriented["prompt"], pl.Series([0] * oriented.height), 2),
        strong_model=None,
        weak_model=None,
        max_prompts=6,
        val_fraction=0.5,
        seed=1,
    )
    assert pooled.source == "<frame>"
    assert (pooled.strong_model, pooled.weak_models) == ("gpt4", ["m0", "m1"])
    assert len(pooled.data) == 6 and len(pooled.train) == 3 and len(pooled.val) == 3
    assert not set(pooled.train.prompts) & set(pooled.val.prompts)
