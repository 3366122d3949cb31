"""RouteLLM's battle preprocessing: short first turns dropped, its row-aligned embeddings files accepted."""

import json

import numpy as np
import polars as pl
import pytest

from routellm.errors import ConfigError
from routellm_router_sw_ranking.ranking_data import MIN_PROMPT_CHARS, drop_short_prompts, normalize_rows
from routellm_router_sw_ranking.sources import from_seed_config

PROMPTS = [
    "Explain how vaccines train the immune system.",
    "  hi there!   ",  # 9 characters once stripped: dropped
    "Write a limerick about a cat.",
    "0123456789abcde",  # 15: dropped
    "0123456789abcdef",  # 16: kept
    "Explain how vaccines train the immune system.",
]
MODELS = [("strong", "weak"), ("weak", "strong"), ("strong", "mid"), ("mid", "weak"), ("weak", "mid"), ("mid", "strong")]


@pytest.fixture
def arena_file(tmp_path):
    winners = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0), (0, 1, 0), (0, 1, 0)]
    frame = pl.DataFrame(
        {
            "id": list(range(len(PROMPTS))),
            "model_a": [a for a, _ in MODELS],
            "model_b": [b for _, b in MODELS],
            "prompt": [json.dumps([p, "second turn"]) for p in PROMPTS],
            "winner_model_a": [w[0] for w in winners],
            "winner_model_b": [w[1] for w in winners],
            "winner_tie": [w[2] for w in winners],
        }
    )
    path = tmp_path / "battles.parquet"
    frame.write_parquet(path)
    return path


def test_first_turns_under_16_stripped_characters_are_dropped():
    frame = pl.DataFrame({"prompt": PROMPTS})
    kept = drop_short_prompts(frame)["prompt"].to_list()
    assert MIN_PROMPT_CHARS == 16
    assert kept == [PROMPTS[0], PROMPTS[2], PROMPTS[4], PROMPTS[5]]


@pytest.mark.parametrize("layout", ["kept battles (RouteLLM's file)", "source rows"])
def test_embeddings_aligned_with_kept_battles_or_with_source_rows(arena_file, tmp_path, layout):
    rng = np.random.default_rng(0)
    per_row = rng.normal(size=(len(PROMPTS), 8)).astype(np.float32)
    per_row[5] = per_row[0]  # the same prompt has the same embedding
    kept_rows = [0, 2, 4, 5]
    vectors = per_row[kept_rows] if layout.startswith("kept") else per_row
    np.save(tmp_path / "emb.npy", vectors)
    data = from_seed_config(
        [str(arena_file)], [str(tmp_path / "emb.npy")], embedder=None, embedder_record={"name": "test"}, num_tiers=2
    )
    assert data.prompts == [PROMPTS[0], PROMPTS[2], PROMPTS[4]]
    assert data.battles.height == 4
    np.testing.assert_allclose(data.embeddings, normalize_rows(per_row[[0, 2, 4]]), rtol=1e-6)


def test_misaligned_embeddings_are_a_clear_error(arena_file, tmp_path):
    np.save(tmp_path / "emb.npy", np.zeros((3, 8), dtype=np.float32))
    with pytest.raises(ConfigError, match="3 embeddings but .* 4 battles with a first turn of at least 16"):
        from_seed_config([str(arena_file)], [str(tmp_path / "emb.npy")], embedder=None, embedder_record={})
