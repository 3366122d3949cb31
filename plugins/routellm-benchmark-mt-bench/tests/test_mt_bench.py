import numpy as np
import pytest

from pytest_routellm import BenchmarkContract
from routellm.evaluation.metrics import compute_metrics, oracle_curve
from routellm.registry import get_registry


class TestMTBench(BenchmarkContract):
    benchmark_name = "mt_bench"
    expected_count = 72

    @pytest.fixture(scope="class")
    @staticmethod
    def benchmark_section(shared_data):
        return {"data_dir": str(shared_data)}


def test_routed_on_first_turn_scored_over_both(shared_data):
    import json

    data = get_registry().create_benchmark("mt_bench", {"data_dir": str(shared_data), "drop_contaminated": False}).load()
    questions = [json.loads(line) for line in (shared_data / "benchmarks/mt_bench/question.jsonl").open()]
    assert data.prompts == [q["turns"][0] for q in questions]
    grades = [json.loads(line) for line in (shared_data / "benchmarks/mt_bench/judgements.jsonl").open()]
    first = questions[0]["question_id"]
    for model in (data.strong_model, data.weak_model):
        both = [g["score"] for g in grades if g["question_id"] == first and g["model"] == model]
        assert len(both) == 2
        assert data.quality[model][0] == np.mean(both)


def test_contaminated_questions_are_dropped_as_routellm_does_and_optionally_kept(shared_data):
    import json

    listed = {json.loads(line)["eval_prompt"] for line in (shared_data / "benchmarks/mt_bench/contaminated_prompts.jsonl").open()}
    questions = [json.loads(line) for line in (shared_data / "benchmarks/mt_bench/question.jsonl").open()]
    contaminated = {str(q["question_id"]) for q in questions if set(q["turns"]) & listed}
    dropped = get_registry().create_benchmark("mt_bench", {"data_dir": str(shared_data)}).load()
    assert len(dropped) == 72 and len(contaminated) == 8
    assert not contaminated & set(dropped.ids)
    assert dropped.notes == ["MT Bench: 72/80 questions remain after decontamination"]
    kept = get_registry().create_benchmark("mt_bench", {"data_dir": str(shared_data), "drop_contaminated": False}).load()
    assert len(kept) == 80 and contaminated <= set(kept.ids)
    assert "80 questions" in kept.notes[0]


@pytest.mark.parametrize(("drop", "apgr"), [(True, 0.960), (False, 0.964)])
def test_oracle_apgr_matches_reference(shared_data, drop, apgr):
    data = get_registry().create_benchmark("mt_bench", {"data_dir": str(shared_data), "drop_contaminated": drop}).load()
    strong, weak = data.quality[data.strong_model], data.quality[data.weak_model]
    metrics = compute_metrics(oracle_curve(strong, weak, 10), weak.mean(), strong.mean())
    assert round(metrics.apgr, 3) == apgr
