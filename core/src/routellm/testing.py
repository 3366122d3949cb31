"""Shared test helpers: contract test classes every router and benchmark plugin subclasses.

Usage in a plugin's tests::

    from routellm.testing import RouterContract

    class TestMyRouter(RouterContract):
        router_name = "my_router"
        router_config = {"option": 1}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm.routing import ModelPair

SAMPLE_PROMPTS = [
    "Hi!",
    "What is the capital of France?",
    "Prove that there are infinitely many primes, then generalise the argument to primes of the form 4k+3.",
    "Write a Python function that merges two sorted linked lists in place and explain its complexity.",
    "Translate 'good morning' into Spanish.",
    "A train leaves at 3pm going 60 mph; another leaves at 4pm going 80 mph. When does the second catch up?",
]


class RouterContract:
    """Behaviour every router must have. Set ``router_name`` (and ``router_config``)."""

    router_name: ClassVar[str]
    router_config: ClassVar[dict[str, Any]] = {}
    prompts: ClassVar[list[str]] = SAMPLE_PROMPTS
    #: Tolerance between batched and one-by-one scores (float32 models differ slightly).
    batch_atol: ClassVar[float] = 1e-5

    @pytest.fixture(scope="class")
    @staticmethod
    def router(request):
        from routellm.registry import get_registry

        cls = request.cls
        router = get_registry().create_router(cls.router_name, cls.router_config)
        yield router
        router.close()

    def test_registered_through_entry_points(self):
        from routellm.registry import get_registry

        spec = get_registry().router(self.router_name)
        assert spec.distribution, "router should come from an installed distribution"

    def test_win_rate_is_a_probability(self, router):
        for prompt in self.prompts:
            value = router.calculate_strong_win_rate(prompt)
            assert isinstance(value, float | np.floating)
            assert 0.0 <= float(value) <= 1.0

    def test_batch_matches_one_by_one(self, router):
        batched = router.batch_calculate_win_rate(self.prompts)
        assert isinstance(batched, np.ndarray)
        assert batched.shape == (len(self.prompts),)
        single = np.array([router.calculate_strong_win_rate(p) for p in self.prompts])
        np.testing.assert_allclose(batched, single, atol=self.batch_atol)

    def test_route_respects_threshold(self, router):
        models = ModelPair(strong="strong-model", weak="weak-model")
        prompt = self.prompts[1]
        win_rate = router.calculate_strong_win_rate(prompt)
        assert router.route(prompt, 0.0, models) == "strong-model"
        if win_rate < 1.0:
            assert router.route(prompt, 1.0, models) == "weak-model"
        with pytest.raises(ValueError):
            router.route(prompt, 1.5, models)

    def test_unknown_option_is_an_error_naming_it(self):
        from routellm.registry import get_registry

        section = dict(self.router_config, no_such_option_xyz=1)
        with pytest.raises(ConfigError, match="no_such_option_xyz"):
            get_registry().create_router(self.router_name, section)


class BenchmarkContract:
    """Behaviour every benchmark must have. Set ``benchmark_name`` (and ``benchmark_config``)."""

    benchmark_name: ClassVar[str]
    benchmark_config: ClassVar[dict[str, Any]] = {}
    #: Expected number of prompts after decontamination, when known.
    expected_count: ClassVar[int | None] = None

    @pytest.fixture(scope="class")
    @staticmethod
    def data(request):
        from routellm.registry import get_registry

        cls = request.cls
        return get_registry().create_benchmark(cls.benchmark_name, cls.benchmark_config).load()

    def test_shapes(self, data):
        assert len(data.prompts) > 0
        assert all(isinstance(p, str) and p for p in data.prompts)
        for scores in data.quality.values():
            assert scores.shape == (len(data.prompts),)
            assert np.isfinite(scores).all()

    def test_count(self, data):
        if self.expected_count is not None:
            assert len(data.prompts) == self.expected_count

    def test_strong_beats_weak_on_average(self, data):
        assert data.quality[data.strong_model].mean() >= data.quality[data.weak_model].mean()
