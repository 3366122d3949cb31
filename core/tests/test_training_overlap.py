"""Training-prompt records: reading them, and eval's warning when a router was trained on the benchmark."""

import json

import numpy as np

from routellm.benchmark import BenchmarkData
from routellm.evaluation.evaluate import evaluate
from routellm.evaluation.report import summary
from routellm.evaluation.scoring import WinRateCache
from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash
from routellm.router import Router
from routellm.training_overlap import NORMALISATION, count_overlap, load_training_hashes, union

PROMPTS = [f"Question {i}: what is {i} + {i}?" for i in range(40)]


def write_record(folder, prompts, normalisation=NORMALISATION):
    folder.mkdir(parents=True, exist_ok=True)
    record = {"normalisation": normalisation, "hashes": sorted({prompt_hash(p) for p in prompts})}
    (folder / TRAINING_PROMPTS_FILE).write_text(json.dumps(record))
    return folder


def test_load_and_count(tmp_path):
    folder = write_record(tmp_path / "ckpt", ["  question 3: WHAT is 3 + 3?", *PROMPTS[10:20], "unrelated"])
    hashes = load_training_hashes(folder)
    overlap = count_overlap(hashes, PROMPTS)
    assert (overlap.overlapping, overlap.prompts, overlap.training_prompts) == (11, 40, 12)
    assert overlap.share == 11 / 40
    assert load_training_hashes(tmp_path / "none") is None and load_training_hashes(None) is None


def test_unknown_normalisation_or_broken_file_is_ignored(tmp_path):
    assert load_training_hashes(write_record(tmp_path / "a", PROMPTS, "other v9")) is None
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / TRAINING_PROMPTS_FILE).write_text("{not json")
    assert load_training_hashes(tmp_path / "b") is None


def test_union():
    assert union([None, None]) is None
    assert union([frozenset({"a"}), None, {"b"}]) == {"a", "b"}


class Trained(Router):
    folder = None

    def calculate_strong_win_rate(self, prompt):
        return len(prompt) / 100

    def training_prompt_hashes(self):
        return load_training_hashes(type(self).folder)


def test_eval_warns_with_count_and_share_also_from_cache(tmp_path):
    Trained.folder = write_record(tmp_path / "ckpt", PROMPTS[:6])
    rng = np.random.default_rng(0)
    data = BenchmarkData("toy", PROMPTS, {"s": rng.random(40), "w": rng.random(40)}, "s", "w")
    cache = WinRateCache(tmp_path / "cache")
    first = evaluate(data, {"trained": {}}, cache=cache, resolve=lambda n: Trained, bootstrap=0, progress=False)
    assert first.warnings == [
        "router 'trained' was trained on 6 of the 40 toy prompts (15.0%); its figures on toy are contaminated"
    ]
    again = evaluate(data, {"trained": {}}, cache=cache, resolve=lambda n: Trained, bootstrap=0, progress=False)
    assert again.routers[0].cached and again.warnings == first.warnings
    assert "WARNING: router 'trained' was trained on 6" in summary(again)
    Trained.folder = write_record(tmp_path / "clean", ["something else"])
    clean = evaluate(data, {"trained": {}}, cache=cache, resolve=lambda n: Trained, bootstrap=0, overwrite=["trained"], progress=False)
    assert clean.warnings == []
