import numpy as np
import pytest

from pytest_routellm import RouterContract
from routellm.registry import get_registry
from routellm_router_random import RandomRouter


class TestRandomContract(RouterContract):
    router_name = "random"
    router_config = {"seed": 7}


def test_seeded_is_reproducible_and_order_independent():
    a = RandomRouter.from_config({"seed": 1})
    b = RandomRouter.from_config({"seed": 1})
    prompts = [f"prompt {i}" for i in range(50)]
    np.testing.assert_array_equal(a.batch_calculate_win_rate(prompts), b.batch_calculate_win_rate(prompts[::-1])[::-1])


def test_different_seeds_differ():
    prompts = [f"prompt {i}" for i in range(50)]
    a = RandomRouter.from_config({"seed": 1}).batch_calculate_win_rate(prompts)
    b = RandomRouter.from_config({"seed": 2}).batch_calculate_win_rate(prompts)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("seed", [None, 3])
def test_roughly_uniform(seed):
    router = get_registry().create_router("random", {"seed": seed})
    values = router.batch_calculate_win_rate([f"q{i}" for i in range(4000)])
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.03
    # about half above any threshold t: share of strong calls = 1 - t
    assert abs((values >= 0.8).mean() - 0.2) < 0.03


def test_unseeded_draws_fresh_values():
    router = RandomRouter.from_config({})
    assert len({router.calculate_strong_win_rate("same") for _ in range(10)}) > 1


def test_bad_seed_type_names_option():
    from routellm.errors import ConfigError

    with pytest.raises(ConfigError, match="seed"):
        RandomRouter.from_config({"seed": "abc"})
