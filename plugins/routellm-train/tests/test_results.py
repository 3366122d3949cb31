import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from routellm.errors import ConfigError
from routellm.prompt_hashes import normalise
from routellm_train.decontaminate import decontaminate, max_cosine, prefix_matches
from routellm_train.embedding_cache import EmbeddingCache
from routellm_train.results import (
    Results,
    SourceInfo,
    from_frame,
    load_results,
    parse_results_spec,
    results_to_battles,
)
from routellm_train.sources import APACHE_SOURCES, SOURCES

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def data_root() -> Path:
    for candidate in (os.environ.get("ROUTELLM_DATA_DIR"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "labels").is_dir():
            return Path(candidate)
    pytest.skip("shared data with labels/ not found (set ROUTELLM_DATA_DIR)")


def table(prompts, models, scores, name="t"):
    return Results(list(prompts), list(models), np.asarray(scores, dtype=float), SourceInfo(name))


def test_every_pair_on_a_prompt_is_a_battle_and_equal_results_tie():
    t = table(["p1", "p2"], ["a", "b", "c"], [[1, 0, 1], [0.5, np.nan, 0.25]])
    battles = results_to_battles(t.with_weight(2.0))
    rows = {(r["prompt"], r["model_a"], r["model_b"]): r for r in battles.iter_rows(named=True)}
    assert len(rows) == 3 + 1  # p1: ab, ac, bc; p2: only ac (b missing)
    assert rows[("p1", "a", "b")]["winner"] == "model_a"
    assert rows[("p1", "a", "c")]["winner"] == "tie"
    assert rows[("p1", "b", "c")]["winner"] == "model_b"
    assert rows[("p2", "a", "c")]["preference"] == pytest.approx(0.375)
    assert set(battles["weight"].to_list()) == {2.0}


def test_wide_and_long_frames_give_the_same_table():
    wide = pl.DataFrame({"prompt": ["x", "y"], "m1": [True, False], "m2": [0.0, 1.0]})
    long = pl.DataFrame({"prompt": ["x", "x", "y", "y"], "model": ["m1", "m2", "m1", "m2"], "score": [1, 0, 0, 1]})
    a, b = from_frame(wide, SourceInfo("w")), from_frame(long, SourceInfo("l"))
    assert a.models == b.models == ["m1", "m2"]
    np.testing.assert_array_equal(a.scores, b.scores)


def test_scores_outside_0_1_are_refused():
    with pytest.raises(ConfigError, match="0..1"):
        table(["p"], ["a"], [[3.0]])


def test_results_spec_weight_suffix():
    assert parse_results_spec("mmlu_pro:2") == ("mmlu_pro", 2.0)
    assert parse_results_spec("C:/x/file.csv") == ("C:/x/file.csv", 1.0)
    assert parse_results_spec("org/dataset") == ("org/dataset", 1.0)


def test_local_results_file(tmp_path):
    path = tmp_path / "r.csv"
    pl.DataFrame({"prompt": ["q1", "q2"], "big": [1, 1], "small": [0, 1]}).write_csv(path)
    loaded = load_results(f"{path}:0.5")
    assert loaded.weight == 0.5 and loaded.models == ["big", "small"] and len(loaded) == 2


def test_prefix_and_embedding_decontamination():
    t = table(["What is 2+2?  Explain.", "Name a colour", "unrelated"], ["a", "b"], [[1, 0], [1, 1], [0, 0]], "src")
    assert list(prefix_matches(t.prompts, ["what is 2 + 3? explain", "something else"])) == [False, False, False]
    bench = {"b1": ["WHAT is 2+2?? explain!"]}
    assert normalise(bench["b1"][0]) == normalise(t.prompts[0])
    vecs = {"Name a colour": [1.0, 0.0], "WHAT is 2+2?? explain!": [0.0, 1.0], "What is 2+2?  Explain.": [0.0, 1.0],
            "unrelated": [0.6, 0.8], "colour?": [0.99, 0.05]}
    embed = lambda texts: np.array([vecs[x] for x in texts])  # noqa: E731
    kept, report = decontaminate([t], {"b1": bench["b1"] + ["colour?"]}, embed=embed, threshold=0.95, echo=None)
    assert kept[0].prompts == ["unrelated"]
    assert report.counts["src"] == {"total": 3, "exact_prefix": 1, "near_duplicate": 1, "kept": 1}


def test_max_cosine():
    sims = max_cosine(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[0.0, 1.0], [1.0, 1.0]]))
    np.testing.assert_allclose(sims, [np.sqrt(0.5), 1.0])


def test_embedding_cache_embeds_each_prompt_once(tmp_path):
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    cache = EmbeddingCache(tmp_path, embed)
    first = cache.embed(["a", "bb", "a"])
    again = EmbeddingCache(tmp_path, embed).embed(["bb", "ccc"])
    assert calls == [["a", "bb"], ["ccc"]]
    assert first[:, 0].tolist() == [1, 2, 1] and again[:, 0].tolist() == [2, 3]


def test_sources_are_pinned_to_commits_with_checksums():
    for source in SOURCES.values():
        for pinned in source.pinned().values():
            assert pinned.url.startswith(f"https://raw.githubusercontent.com/{source.repo}/{source.commit}/")
            assert len(pinned.sha256) == 64
    assert set(APACHE_SOURCES) == {"mmlu_pro", "routerarena", "alpaca_eval_mixtral"}


# --- the real files --------------------------------------------------------------------------------


def test_mmlu_pro_drops_mmlu_items(data_root):
    t = SOURCES["mmlu_pro"].load(data_dir=data_root)
    assert len(t.models) == 6 and "Mixtral-8x7B-Instruct-v0.1" in t.models
    assert 5200 <= len(t) <= 5300  # 5,216 items in every model's file, a few more in some
    assert t.info.filtered["src starts with ori_mmlu"] >= 6800
    assert np.nanmean(t.scores) > 0.3 and set(np.unique(t.scores[np.isfinite(t.scores)])) <= {0.0, 1.0}


def test_routerarena_drops_mmlu_and_gsm8k(data_root):
    t = SOURCES["routerarena"].load(data_dir=data_root)
    assert t.models == ["claude-3-haiku-20240307", "gemini-2.0-flash-001"]
    assert 700 <= len(t) <= 809 - 1 and all(t.info.filtered.values())


def test_routerbench_has_eleven_models_and_bare_questions(data_root):
    t = SOURCES["routerbench"].load(data_dir=data_root)
    assert len(t.models) == 11 and "gpt-4-1106-preview" in t.models and "mistralai/mixtral-8x7b-chat" in t.models
    assert len(t) > 2100
    assert not any("Answer:\nB\n\n" in p for p in t.prompts)


def test_alpaca_and_gsm8k_train(data_root):
    alpaca = SOURCES["alpaca_eval_mixtral"].load(data_dir=data_root)
    assert sorted(alpaca.models) == ["Mixtral-8x7B-Instruct-v0.1", "gpt4_1106_preview"] and len(alpaca) == 805
    np.testing.assert_allclose(alpaca.scores.sum(axis=1), 1.0)
    gsm = SOURCES["gsm8k_train_7b"].load(data_dir=data_root)
    assert len(gsm.models) == 7 and len(gsm) == 1000


def test_named_sources_have_no_exact_overlap_with_benchmark_files(data_root):
    gsm_test = pl.read_csv(data_root / "benchmarks/gsm8k/gsm8k_responses.csv")["prompt"].to_list()
    mt = [json.loads(line)["turns"][0] for line in (data_root / "benchmarks/mt_bench/question.jsonl").read_text().splitlines()]
    for name in ("routerarena", "gsm8k_train_7b"):
        t = SOURCES[name].load(data_dir=data_root)
        assert not prefix_matches(t.prompts, gsm_test + mt).any(), name


def test_results_battles_merge_synonyms_and_skip_embedding_without_threshold(tmp_path, monkeypatch):
    """`same_model` renames a synonym in every battle; with no near-duplicate threshold nothing is embedded."""
    import routellm_train.results as results_module

    def no_embedder(*args, **kwargs):
        raise AssertionError("the prefix-only test must not build an embedder")

    monkeypatch.setattr(results_module, "default_embed", no_embedder)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    pl.DataFrame({"prompt": ["p1", "p2"], "gpt4_1106_preview": [1, 0], "mix": [0, 0]}).write_csv(first)
    pl.DataFrame({"prompt": ["p3"], "gpt-4-1106-preview": [1], "mix": [1]}).write_csv(second)
    battles, tables, report = results_module.results_battles(
        [str(first), str(second)], benchmarks=[], same_model={"gpt4_1106_preview": "gpt-4-1106-preview"},
        threshold=None, echo=None,
    )
    assert [t.info.name for t in tables] == ["first.csv", "second.csv"]
    assert report.counts["first.csv"]["kept"] == 2
    names = set(battles["model_a"]) | set(battles["model_b"])
    assert names == {"gpt-4-1106-preview", "mix"}
    assert battles["winner"].to_list() == ["model_a", "tie", "tie"]
