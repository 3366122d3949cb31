from collections.abc import Sequence

import numpy as np

from routellm.embedder import Embedder


class CountingEmbedder(Embedder):
    batch_size = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return 3

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_batches_normalises_and_keeps_order():
    emb = CountingEmbedder()
    texts = ["ccc", "a", "bb", "dddd", "a"]
    out = emb.embed(texts)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    expected = np.array([[len(t), 1.0, 0.0] for t in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # duplicates embedded once, batches of 2, shortest first
    assert emb.calls == [["a", "bb"], ["ccc", "dddd"]]


def test_lru_cache_hits_and_evicts():
    emb = CountingEmbedder(cache_size=2)
    emb.embed(["x", "y"])
    emb.embed(["x"])
    assert len(emb.calls) == 1
    emb.embed(["z"])  # evicts y (x was used more recently)
    emb.embed(["x"])
    assert len(emb.calls) == 2
    emb.embed(["y"])
    assert len(emb.calls) == 3


def test_cache_can_be_disabled():
    emb = CountingEmbedder(cache_size=0)
    emb.embed(["x"])
    emb.embed(["x"])
    assert len(emb.calls) == 2
