import numpy as np

from pytest_routellm import BenchmarkContract
from routellm.evaluation.metrics import compute_metrics, oracle_curve
from routellm.registry import get_registry


class TestMTBench(BenchmarkContract):
    benchmark_name = "mt_bench"
    expected_count = 80


def test_routed_on_first_turn_scored_over_both(shared_data):
    import json

    data = get_registry().create_benchmark("mt_bench").load()
    questions = [json.loads(line) for line in (shared_data / "benchmarks/mt_bench/question.jsonl").open()]
    assert data.prompts == [q["turns"][0] for q in questions]
    grades = [json.loads(line) for line in (shared_data / "benchmarks/mt_bench/judgements.jsonl").open()]
    first = questions[0]["question_id"]
    for model in (data.strong_model, data.weak_model):
        both = [g["score"] for g in grades if g["question_id"] == first and g["model"] == model]
        assert len(both) == 2
        assert data.quality[model][0] == np.mean(both)


def test_contamination_list_is_reported_and_optional(shared_data):
    kept = get_registry().create_benchmark("mt_bench").load()
    assert "80 questions" in kept.notes[0]
    dropped = get_registry().create_benchmark("mt_bench", {"drop_contaminated": True}).load()
    assert len(dropped) < 80
    assert f"{len(dropped)}/80" in dropped.notes[0]


def test_oracle_apgr_matches_reference(shared_data):
    data = get_registry().create_benchmark("mt_bench").load()
    strong, weak = data.quality[data.strong_model], data.quality[data.weak_model]
    metrics = compute_metrics(oracle_curve(strong, weak, 10), weak.mean(), strong.mean())
    assert round(metrics.apgr, 3) == 0.964
