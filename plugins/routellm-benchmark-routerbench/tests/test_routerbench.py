"""The routerbench benchmark on the shared RouterBench files (RouterDC's split)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_routellm import BenchmarkContract
from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_benchmark_routerbench import MODELS, question


class TestRouterBench(BenchmarkContract):
    benchmark_name = "routerbench"
    expected_count = 945  # 953 test prompts, 8 lack some model's result


def test_figures_and_costs(shared_data):
    data = get_registry().create_benchmark("routerbench").load()
    assert set(data.quality) == set(MODELS) == set(data.cost)
    gpt4, mixtral = data.quality["gpt-4-1106-preview"], data.quality["mistralai/mixtral-8x7b-chat"]
    assert round(gpt4.mean(), 3) == 0.879 and round(mixtral.mean(), 3) == 0.747
    assert round(data.cost["gpt-4-1106-preview"].mean() * 1000, 2) == 5.0
    assert round(data.cost["zero-one-ai/Yi-34B-Chat"].mean() * 1000, 2) == 0.33
    assert set(np.unique(gpt4)) <= {0.0, 1.0}
    assert not any(p.startswith("['") for p in data.prompts)
    everything = get_registry().create_benchmark("routerbench", {"drop_missing": False}).load()
    assert len(everything) == 953
    train = get_registry().create_benchmark("routerbench", {"split": "train", "tasks": ["mbpp"]}).load()
    assert len(train) == 299 and train.name == "routerbench_train"
    assert not set(train.ids) & set(data.ids)
    # two MBPP tasks share their text between the splits (different tests): a fact of RouterDC's split
    assert len(set(train.prompts) & set(data.prompts)) == 2


def test_bad_options(shared_data):
    with pytest.raises(ConfigError, match="split must be one of test, train"):
        get_registry().create_benchmark("routerbench", {"split": "dev"}).load()
    with pytest.raises(ConfigError, match="unknown task 'gsm8k'"):
        get_registry().create_benchmark("routerbench", {"tasks": ["gsm8k"]}).load()


def test_question_is_the_last_element():
    assert question("['shot 1', 'shot 2', 'What is 2+2?']") == "What is 2+2?"
    assert question("not a list") == "not a list"
    assert question("[]") == "[]"
    shots = "Q1?\nA) x\nB) y\nAnswer:\nB\n\nQ2?\nA) x\nB) y\nAnswer:"
    assert question(repr([shots])) == "Q2?\nA) x\nB) y\nAnswer:"
