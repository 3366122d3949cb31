import math

import numpy as np
import pytest

from routellm.benchmark import BenchmarkData
from routellm.routing import ModelPair, check_threshold, choose_model


def test_two_models_follow_the_seed_rule():
    models = ModelPair(strong="s", weak="w").tiers
    assert choose_model(0.5, [0.5], models) == "s"  # at the threshold: strong
    assert choose_model(0.4999, [0.5], models) == "w"
    assert choose_model(0.0, [0.0], models) == "s"


def test_more_models_pick_the_first_threshold_reached():
    models = ["large", "medium", "small"]
    assert choose_model(0.9, [0.8, 0.3], models) == "large"
    assert choose_model(0.5, [0.8, 0.3], models) == "medium"
    assert choose_model(0.1, [0.8, 0.3], models) == "small"
    with pytest.raises(ValueError, match="3 models need 2 thresholds"):
        choose_model(0.5, [0.5], models)


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan])
def test_threshold_must_be_in_unit_interval(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_threshold(bad)


def test_benchmark_data_checks_shapes():
    with pytest.raises(ValueError, match="no quality scores for model 'weak'"):
        BenchmarkData(name="b", prompts=["a"], quality={"strong": np.ones(1)}, strong_model="strong", weak_model="weak")
    with pytest.raises(ValueError, match="has \\(2,\\) scores for 1 prompts"):
        BenchmarkData(
            name="b", prompts=["a"], quality={"s": np.ones(2), "w": np.ones(1)}, strong_model="s", weak_model="w"
        )
