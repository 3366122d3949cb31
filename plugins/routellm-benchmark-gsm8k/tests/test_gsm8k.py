import pytest

from pytest_routellm import BenchmarkContract
from routellm.evaluation.metrics import compute_metrics, oracle_curve
from routellm.registry import get_registry


class TestGSM8K(BenchmarkContract):
    benchmark_name = "gsm8k"
    expected_count = 1307

    @pytest.fixture(scope="class")
    @staticmethod
    def benchmark_section(shared_data):
        return {"data_dir": str(shared_data)}


def test_contamination_counts(shared_data):
    full = get_registry().create_benchmark("gsm8k", {"data_dir": str(shared_data), "drop_contaminated": False}).load()
    assert len(full) == 1319
    clean = get_registry().create_benchmark("gsm8k", {"data_dir": str(shared_data)}).load()
    assert clean.notes == ["GSM8K: 1307/1319 questions remain after decontamination"]
    assert len(set(clean.ids)) == 1307


def test_oracle_apgr_matches_reference(shared_data):
    data = get_registry().create_benchmark("gsm8k", {"data_dir": str(shared_data)}).load()
    strong, weak = data.quality[data.strong_model], data.quality[data.weak_model]
    metrics = compute_metrics(oracle_curve(strong, weak, 10), weak.mean(), strong.mean())
    assert round(metrics.apgr, 3) == 1.131
