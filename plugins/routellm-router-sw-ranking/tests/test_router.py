import json

import msgspec
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pytest_routellm import RouterContract
from routellm.battles import load_battles
from routellm.cli import build_app
from routellm.errors import ConfigError
from routellm.registry import get_registry
from routellm_router_sw_ranking.ranking_data import RankingData, drop_short_prompts
from routellm_router_sw_ranking.router import SWRankingRouter

# The trained-folder fixture embeds the battle prompts with the real MiniLM (~5-8 s once per session).
pytestmark = pytest.mark.slow


class TestSWRankingContract(RouterContract):
    router_name = "sw_ranking"

    @pytest.fixture(scope="class")
    @staticmethod
    def router(trained_folder):
        router = get_registry().create_router("sw_ranking", {"checkpoint_path": str(trained_folder)})
        yield router
        router.close()


@pytest.fixture(scope="module")
def router(trained_folder):
    router = SWRankingRouter.from_config({"checkpoint_path": str(trained_folder)})
    yield router
    router.close()


def test_folder_holds_what_serving_needs(trained_folder, battles_slice):
    config = json.loads((trained_folder / "config.json").read_text())
    battles = drop_short_prompts(load_battles(battles_slice))
    assert config["format"] == "routellm-sw-ranking"
    assert config["num_prompts"] == battles["prompt"].n_unique()
    assert config["num_battles"] == battles.height
    # RouteLLM's names, matched loosely to this data's spelling, are stored as the defaults.
    assert config["strong_model"] == "gpt4_1106_preview"
    assert config["weak_model"] == "Mixtral-8x7B-Instruct-v0.1_concise"
    data = RankingData.load(trained_folder)
    assert data.embeddings.shape == (config["num_prompts"], 384)
    np.testing.assert_allclose(np.linalg.norm(data.embeddings, axis=1), 1.0, atol=1e-5)
    assert set(data.tiers.values()) == set(range(5))
    assert "gpt4_1106_preview" in (trained_folder / "README.md").read_text()


def test_matches_original_style_reference(router, reference):
    data = router.data
    battles = data.battles
    tier_a = battles["model_a"].replace_strict(data.tiers).to_numpy()
    tier_b = battles["model_b"].replace_strict(data.tiers).to_numpy()
    winner = battles["winner"].to_numpy()
    battle_vectors = data.embeddings[battles["prompt_id"].to_numpy()]
    prompts = ["How do I bake sourdough bread?", "Explain quantum entanglement to a child.", "hello"]
    queries = router.embedder.embed(prompts)
    fast = router.win_rates_from_embeddings(queries)
    for q, value in zip(queries, fast, strict=True):
        expected = reference(q, battle_vectors, tier_a, tier_b, winner, router.strong_tier, router.weak_tier, 1e-3)
        assert abs(value - expected) < 1e-6
    assert np.all((fast > 0.5) & (fast < 1.0))  # gpt4_1106_preview beats Mixtral on these battles


def test_unknown_model_lists_known_ones(trained_folder):
    with pytest.raises(ConfigError, match=r"weak_model 'no-such-model'.*known models: .*gpt4_1106_preview"):
        SWRankingRouter.from_config({"checkpoint_path": str(trained_folder), "weak_model": "no-such-model"})


def test_seed_model_names_match_loosely(trained_folder):
    router = SWRankingRouter.from_config(
        {"checkpoint_path": str(trained_folder), "strong_model": "gpt-4-1106-preview", "weak_model": "vicuna-7b"}
    )
    assert router.strong_model == "gpt4_1106_preview"
    assert router.weak_model == "vicuna-7b"  # exact name wins over the prefix match with vicuna-7b-v1.5


def test_same_tier_is_an_error(trained_folder):
    data = RankingData.load(trained_folder)
    strong_tier = data.tiers["gpt4_1106_preview"]
    mate = next((m for m, t in data.tiers.items() if t == strong_tier and m != "gpt4_1106_preview"), None)
    assert mate is not None
    with pytest.raises(ConfigError, match="same tier"):
        SWRankingRouter.from_config({"checkpoint_path": str(trained_folder), "weak_model": mate})


def test_num_tiers_regroups(trained_folder):
    router = SWRankingRouter.from_config({"checkpoint_path": str(trained_folder), "num_tiers": 8})
    assert router.data.num_tiers == 8
    # RouteLLM's grouping may leave a tier empty; labels are made dense.
    assert router.n_tiers == len(set(router.data.tiers.values())) > 5


def test_needs_battles():
    with pytest.raises(ConfigError, match="routellm train sw_ranking"):
        SWRankingRouter.from_config({})
    with pytest.raises(ConfigError, match="not found"):
        SWRankingRouter.from_config({"checkpoint_path": "/no/such/folder"})


def test_not_a_trained_folder(tmp_path):
    with pytest.raises(ConfigError, match="missing config.json"):
        SWRankingRouter.from_config({"checkpoint_path": str(tmp_path)})


def test_seed_config_keys_with_local_files(router, battles_slice, tmp_path):
    """arena_battle_datasets + arena_embedding_datasets (one vector per battle row), as in RouteLLM's config."""
    raw = pl.read_parquet(battles_slice)
    first_turns = load_battles(battles_slice)["prompt"].to_list()  # one vector per source row
    index = {p: i for i, p in enumerate(router.data.prompts)}
    per_battle = router.data.embeddings[[index[p] for p in first_turns]]
    half = raw.height // 2
    raw.head(half).write_parquet(tmp_path / "a.parquet")
    raw.tail(raw.height - half).write_parquet(tmp_path / "b.parquet")
    np.save(tmp_path / "a.npy", per_battle[:half])
    pl.DataFrame({"embeddings": per_battle[half:].tolist()}).write_parquet(tmp_path / "b_emb.parquet")
    seed_router = SWRankingRouter(
        msgspec.convert(
            {
            "arena_battle_datasets": [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")],
            "arena_embedding_datasets": [str(tmp_path / "a.npy"), str(tmp_path / "b_emb.parquet")],
            "strong_model": "gpt4_1106_preview",
            "weak_model": "Mixtral-8x7B-Instruct-v0.1_concise",
            "num_tiers": 5,
            },
            SWRankingRouter.Config,
        ),
        embedder=router.embedder,
    )
    queries = router.embedder.embed(["Write a haiku about autumn.", "What is 17 * 23?"])
    np.testing.assert_allclose(
        seed_router.win_rates_from_embeddings(queries), router.win_rates_from_embeddings(queries), atol=1e-9
    )


def test_seed_config_keys_must_pair_up(battles_slice):
    with pytest.raises(ConfigError, match="one embeddings source per battles source"):
        SWRankingRouter.from_config(
            {"arena_battle_datasets": [str(battles_slice)], "arena_embedding_datasets": ["a.npy", "b.npy"]}
        )


def test_wrong_embedding_dim_is_a_clear_error(trained_folder):
    router = SWRankingRouter.from_config({"checkpoint_path": str(trained_folder)})
    with pytest.raises(ValueError, match="384"):
        router.win_rates_from_embeddings(np.ones((1, 16)))


def test_train_refuses_to_overwrite(trained_folder):
    result = CliRunner().invoke(
        build_app(), ["train", "sw_ranking", "--battles", "x.parquet", "--out", str(trained_folder)]
    )
    assert result.exit_code != 0
    assert "--overwrite" in str(result.exception)


def test_hub_folder_failure_says_what_to_do(monkeypatch):
    import huggingface_hub

    def offline(repo_id, revision=None, **kwargs):
        raise OSError(f"no route to the hub for {repo_id}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(ConfigError, match=r"cannot get 'someone/sw-ranking-data' from the Hugging Face Hub.*routellm train"):
        SWRankingRouter.from_config({"checkpoint_path": "someone/sw-ranking-data"})


def test_model_scores_are_tier_ratings_consistent_with_the_win_rate(router, battles_slice):
    prompts = load_battles(battles_slice)["prompt"].unique().sort().to_list()[:12]
    weak, strong = router.weak_model, router.strong_model
    scores = router.batch_model_scores(prompts, [weak, strong])
    assert scores.shape == (len(prompts), 2)
    gap = scores[:, 1] - scores[:, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-gap)), router.batch_calculate_win_rate(prompts), rtol=1e-9)
    with pytest.raises(ConfigError, match="not in the battles"):
        router.batch_model_scores(prompts[:1], ["no-such-model", strong])


def test_train_on_results_writes_prompt_hashes_and_sources(tmp_path, minilm_path, shared_data):
    """`--results`: every model pair on a prompt becomes a battle; the folder records prompt hashes and sources."""
    import json

    import polars as pl
    from typer.testing import CliRunner

    from routellm.cli import build_app
    from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash

    prompts = [f"{'prove the theorem' if i % 2 else 'say hello'} number {i}" for i in range(30)]
    source = tmp_path / "results.csv"
    pl.DataFrame({"prompt": prompts, "big": [1] * 30, "small": [i % 2 == 0 for i in range(30)], "tiny": [0] * 30}).write_csv(source)
    out = tmp_path / "sw"
    result = CliRunner().invoke(
        build_app(),
        ["train", "sw_ranking", "--results", str(source), "--out", str(out), "--embedder-model", str(minilm_path),
         "--strong-model", "big", "--weak-model", "tiny", "--num-tiers", "3", "--benchmark", "mt_bench",
         "--data-dir", str(shared_data)],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    hashes = json.loads((out / TRAINING_PROMPTS_FILE).read_text())["hashes"]
    assert prompt_hash(prompts[3]) in hashes and len(hashes) == 30
    sources = json.loads((out / "training_sources.json").read_text())["sources"]
    assert sources[0]["name"] == "results.csv" and sources[0]["decontamination"]["kept"] == 30
