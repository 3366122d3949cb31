import numpy as np
import pytest

from pytest_routellm import RouterContract
from routellm.errors import ConfigError
from routellm_router_length.router import LengthRouter


class TestLengthContract(RouterContract):
    router_name = "length"


def test_longer_prompt_higher_win_rate():
    router = LengthRouter.from_config({})
    values = router.batch_calculate_win_rate(["", "a", "ab" * 10, "x" * 256, "y" * 5000])
    assert values[0] == 0.0
    assert np.all(np.diff(values) > 0)
    assert values[3] == pytest.approx(0.5)


def test_midpoint_and_slope():
    router = LengthRouter.from_config({"midpoint": 10, "slope": 2})
    # 1 / (1 + (10 / 20) ** 2) = 0.8
    assert router.calculate_strong_win_rate("x" * 20) == pytest.approx(0.8)


def test_words_unit_counts_words():
    router = LengthRouter.from_config({"unit": "words", "midpoint": 3})
    assert router.calculate_strong_win_rate("one two   three") == pytest.approx(0.5)
    assert router.calculate_strong_win_rate("x" * 100) < 0.5


def test_deterministic_and_batch_independent():
    prompts = [f"prompt {'z' * i}" for i in range(40)]
    a = LengthRouter.from_config({}).batch_calculate_win_rate(prompts)
    b = LengthRouter.from_config({}).batch_calculate_win_rate(prompts[::-1])[::-1]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("section", [{"midpoint": 0}, {"slope": -1}, {"unit": "tokens"}])
def test_bad_options_are_config_errors(section):
    with pytest.raises(ConfigError):
        LengthRouter.from_config(section)
