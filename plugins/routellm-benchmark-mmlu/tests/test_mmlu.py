import numpy as np
import pytest

from pytest_routellm import BenchmarkContract
from routellm.errors import ConfigError
from routellm.evaluation.metrics import compute_metrics, oracle_curve
from routellm.registry import get_registry


class TestMMLU(BenchmarkContract):
    benchmark_name = "mmlu"
    expected_count = 14037

    @pytest.fixture(scope="class")
    @staticmethod
    def benchmark_section(shared_data):
        return {"data_dir": str(shared_data)}


def test_57_domains():
    from routellm_benchmark_mmlu import all_domains

    assert len(all_domains()) == 57
    assert "abstract_algebra" in all_domains()


def test_domains_are_selectable(shared_data):
    data = get_registry().create_benchmark("mmlu", {"data_dir": str(shared_data), "domains": ["abstract_algebra", "anatomy"]}).load()
    assert len(data) == 100 + 135
    assert {i.split("/")[0] for i in data.ids} == {"abstract_algebra", "anatomy"}


def test_unknown_domain_names_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown domain.*not_a_domain.*valid domains: abstract_algebra"):
        get_registry().create_benchmark("mmlu", {"domains": ["not_a_domain"]}).load()


def test_contamination_counts(shared_data):
    full = get_registry().create_benchmark("mmlu", {"data_dir": str(shared_data), "drop_contaminated": False}).load()
    assert len(full) == 14042
    clean = get_registry().create_benchmark("mmlu", {"data_dir": str(shared_data)}).load()
    assert clean.notes == ["MMLU: 14037/14042 prompts remain after decontamination"]


def test_oracle_apgr_matches_reference(shared_data):
    data = get_registry().create_benchmark("mmlu", {"data_dir": str(shared_data)}).load()
    strong, weak = data.quality[data.strong_model], data.quality[data.weak_model]
    metrics = compute_metrics(oracle_curve(strong, weak, 10), weak.mean(), strong.mean())
    assert round(metrics.apgr, 3) == 1.290
    assert set(np.unique(strong)) <= {0.0, 1.0}
