"""Fitting a static model to its teacher on a corpus: a tiny random BERT made here as the teacher (checks the
pipeline, the record and that held-out fidelity moves; says nothing about quality)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm_embedder_static.fit import fidelity, read_corpus


def test_read_corpus_reads_txt_jsonl_and_json_and_drops_repeats(tmp_path):
    (tmp_path / "a.txt").write_text("how to bake bread\n\nwhat is the capital of france\n")
    (tmp_path / "b.jsonl").write_text('{"prompt": "prove root two"}\n"how to bake bread"\n{"text": "square root\\nof two"}\n')
    (tmp_path / "c.json").write_text(json.dumps(["why is it", {"question": "x", "text": "who is it"}]))
    texts = read_corpus([tmp_path / "a.txt", tmp_path / "b.jsonl", tmp_path / "c.json"])
    assert texts == [
        "how to bake bread", "what is the capital of france", "prove root two", "square root\nof two", "why is it",
        "who is it",
    ]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("missing.txt", None, "does not exist"),
        ("a.csv", "x", "must be .txt"),
        ("a.json", '{"not": "a list"}', "cannot read"),
        ("a.jsonl", '{"question": "no text field"}', "item 0 is not a string"),
    ],
)
def test_read_corpus_errors_name_the_file(tmp_path, name, content, match):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match=match):
        read_corpus([tmp_path / name])


def test_fidelity_is_one_for_the_same_space_and_low_for_unrelated_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 16))
    rotated = x @ np.linalg.qr(rng.normal(size=(16, 16)))[0]  # same geometry, another basis
    same = fidelity(rotated, x)
    assert same["neighbour_overlap"] == pytest.approx(1.0) and same["similarity_correlation"] == pytest.approx(1.0)
    other = fidelity(rng.normal(size=(60, 16)), x)
    assert other["neighbour_overlap"] < 0.4 and abs(other["similarity_correlation"]) < 0.2


def _corpus(words: list[str], n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=rng.integers(3, 9))) for _ in range(n)]


def test_fit_folder_trains_a_loadable_model_closer_to_its_teacher(tiny_bert, tiny_bert_words, tmp_path):
    pytest.importorskip("torch", reason="the [distill] extra is not installed")
    pytest.importorskip("skeletoken", reason="the [distill] extra is not installed")
    pytest.importorskip("datasets", reason="the [distill] extra is not installed")
    pytest.importorskip("routellm_embedder_huggingface", reason="the teacher runs through the huggingface embedder")
    from routellm_embedder_static.distill import distill
    from routellm_embedder_static.embedder import StaticEmbedder
    from routellm_embedder_static.fit import fit_folder

    initial = distill(tmp_path / "static", str(tiny_bert), pca_dims=None, dtype="float32")  # 32-d
    corpus = tmp_path / "prompts.txt"
    corpus.write_text("\n".join(_corpus(tiny_bert_words, 1000)))
    out, record = fit_folder(tmp_path / "fitted", [corpus], model=str(initial), teacher=str(tiny_bert), seed=0,
                              cache_folder=tmp_path / "cache")
    config = json.loads((out / "config.json").read_text())
    assert config["routellm_fit"]["teacher"]["model"] == str(tiny_bert)
    assert config["routellm_fit"]["corpus"][0]["file"] == "prompts.txt"
    assert config["routellm_distillation"]["base_model"] == str(tiny_bert)  # the initial model's record is kept
    total = record["texts"] + record["held_out"]  # distinct texts, a tenth held out
    assert 990 <= total <= 1000 and record["held_out"] == round(0.1 * total)
    before, after = record["held_out_before"], record["held_out_after"]
    # Measured on held-out texts: 0.69 -> 0.86 and 0.51 -> 0.70 here.
    assert after["similarity_correlation"] > before["similarity_correlation"] + 0.05
    assert after["neighbour_overlap"] > before["neighbour_overlap"] + 0.05
    assert "## Fitted to the teacher on a corpus" in (out / "README.md").read_text()
    assert len(list((tmp_path / "cache").glob("*/vectors.npy"))) == 1  # the teacher's vectors are cached
    fitted = StaticEmbedder.from_config({"model": str(out), "cache_size": 0})
    original = StaticEmbedder.from_config({"model": str(initial), "cache_size": 0})
    texts = ["what is the capital of france", "how to bake bread"]
    assert fitted.embed(texts).shape == (2, 32)
    assert not np.allclose(fitted.embed(texts), original.embed(texts))


def test_fit_needs_enough_texts_to_hold_some_out():
    from routellm_embedder_static.fit import fit

    with pytest.raises(ConfigError, match="too few"):
        fit(object(), ["a", "b", "c"], np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="3 texts but 2 target vectors"):
        fit(object(), ["a", "b", "c"], np.zeros((2, 4)))


def test_cli_holds_out_the_validation_file(tiny_bert, tiny_bert_words, tmp_path, capsys):
    pytest.importorskip("torch", reason="the [distill] extra is not installed")
    pytest.importorskip("skeletoken", reason="the [distill] extra is not installed")
    pytest.importorskip("datasets", reason="the [distill] extra is not installed")
    pytest.importorskip("routellm_embedder_huggingface", reason="the teacher runs through the huggingface embedder")
    from routellm_embedder_static.distill import distill
    from routellm_embedder_static.fit import main

    initial = distill(tmp_path / "static", str(tiny_bert), pca_dims=None, dtype="float32")
    texts = _corpus(tiny_bert_words, 240, seed=1)
    (tmp_path / "train.txt").write_text("\n".join(texts[:200]))
    (tmp_path / "held.jsonl").write_text("\n".join(json.dumps({"prompt": t}) for t in texts[200:]))
    main([
        "--out", str(tmp_path / "fitted"), "--corpus", str(tmp_path / "train.txt"), "--validation",
        str(tmp_path / "held.jsonl"), "--model", str(initial), "--teacher", str(tiny_bert), "--cache-dir",
        str(tmp_path / "cache"),
    ])
    record = json.loads((tmp_path / "fitted" / "config.json").read_text())["routellm_fit"]
    distinct = len(set(texts[:200]))
    assert record["texts"] == distinct and record["held_out"] == len(set(texts[200:]))
    assert record["validation"][0]["file"] == "held.jsonl"
    assert "--validation held.jsonl" in record["command"]
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"wrote {tmp_path / 'fitted'}: {distinct} texts")
