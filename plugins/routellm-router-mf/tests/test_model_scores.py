"""mf scores every model of its table for N-model routing, consistent with its two-model win rate."""

from __future__ import annotations

import numpy as np
import pytest

from routellm.embedder import Embedder
from routellm.errors import ConfigError
from routellm_router_mf.checkpoint import MFConfig, MFWeights, save_checkpoint
from routellm_router_mf.router import MFRouter
from routellm_router_mf.scoring import sigmoid

TEXT_DIM, DIM = 12, 5
NAMES = ["big-model", "mid-model", "small-model", "tiny-model"]


class TableEmbedder(Embedder):
    def __init__(self, table: dict[str, np.ndarray]) -> None:
        super().__init__(cache_size=0)
        self.table = table

    @property
    def dim(self) -> int:
        return TEXT_DIM

    def _embed(self, texts):
        return np.stack([self.table[t] for t in texts])


@pytest.fixture
def prompts():
    rng = np.random.default_rng(0)
    return {f"prompt {i}": rng.normal(size=TEXT_DIM).astype(np.float32) for i in range(6)}


@pytest.fixture
def router(tmp_path, prompts):
    rng = np.random.default_rng(1)
    weights = MFWeights(
        P=rng.normal(size=(len(NAMES), DIM)).astype(np.float32),
        text_proj=(rng.normal(size=(DIM, TEXT_DIM)) * 0.3).astype(np.float32),
        classifier=rng.normal(size=(1, DIM)).astype(np.float32),
    )
    save_checkpoint(tmp_path, MFConfig(dim=DIM, num_models=len(NAMES), text_dim=TEXT_DIM, model_names=NAMES), weights)
    config = MFRouter.Config(checkpoint_path=str(tmp_path), strong_model="big-model", weak_model="small-model")
    return MFRouter(config, embedder=TableEmbedder(prompts))


def test_pairwise_differences_are_the_win_rate(router, prompts):
    texts = list(prompts)
    scores = router.batch_model_scores(texts, ["small-model", "tiny-model", "mid-model", "big-model"])
    assert scores.shape == (len(texts), 4)
    # strong (big, column 3) over weak (small, column 0) is exactly the two-model win rate
    np.testing.assert_allclose(sigmoid(scores[:, 3] - scores[:, 0]), router.batch_calculate_win_rate(texts), rtol=1e-9)
    assert np.ptp(scores, axis=0).min() > 0  # depends on the prompt


def test_column_order_follows_the_names(router, prompts):
    texts = list(prompts)
    a = router.batch_model_scores(texts, ["tiny-model", "big-model"])
    b = router.batch_model_scores(texts, ["big-model", "tiny-model"])
    np.testing.assert_allclose(a, b[:, ::-1])
    assert router.batch_model_scores([], ["big-model", "tiny-model"]).shape == (0, 2)


def test_unknown_model_names_the_table(router):
    with pytest.raises(ConfigError, match="'gpt-5' is not in this checkpoint's model table"):
        router.batch_model_scores(["prompt 0"], ["gpt-5", "big-model"])
