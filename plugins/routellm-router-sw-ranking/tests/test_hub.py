"""save_pretrained / from_pretrained of sw_ranking (its state is a RankingData, written with RankingData.save)."""

from __future__ import annotations

import numpy as np

from routellm_router_sw_ranking.router import SWRankingRouter


def test_save_pretrained_round_trip(trained_folder, tmp_path):
    router = SWRankingRouter.from_pretrained(trained_folder)
    saved = router.save_pretrained(tmp_path / "saved")
    assert {"config.json", "embeddings.safetensors", "battles.parquet"} <= {p.name for p in saved.iterdir()}
    again = SWRankingRouter.from_pretrained(saved)
    queries = np.random.default_rng(0).normal(size=(4, router.data.embeddings.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    np.testing.assert_allclose(again.win_rates_from_embeddings(queries), router.win_rates_from_embeddings(queries))
    assert (again.strong_model, again.weak_model) == (router.strong_model, router.weak_model)
