"""An on-disk cache of prompt embeddings, so each prompt is embedded once across trainings and experiments.

Vectors are stored per embedder configuration (a hash of its name and options) under
``<folder>/<key>/``: ``vectors.npy`` (float32) and ``hashes.json`` (the SHA-256 of each prompt's exact
text, row by row). Missing prompts are embedded and appended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def embedder_key(name: str, options: dict[str, Any]) -> str:
    blob = json.dumps({"name": name, **options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class EmbeddingCache:
    """Embeddings of prompts for one embedder configuration, kept in ``folder``."""

    def __init__(self, folder: str | Path, embed: Callable[[Sequence[str]], np.ndarray]) -> None:
        self.folder = Path(folder)
        self._embed = embed
        self._index: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        hashes_file, vectors_file = self.folder / "hashes.json", self.folder / "vectors.npy"
        if hashes_file.is_file() and vectors_file.is_file():
            hashes = json.loads(hashes_file.read_text())
            vectors = np.load(vectors_file)
            if len(hashes) == len(vectors):
                self._index = {h: i for i, h in enumerate(hashes)}
                self._vectors = vectors

    def __len__(self) -> int:
        return len(self._index)

    def has(self, text: str) -> bool:
        return _text_hash(text) in self._index

    def embed(self, texts: Sequence[str], *, chunk: int = 2048, echo: Callable[[str], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` (row per text), embedding and saving only the ones not cached yet."""
        keys = [_text_hash(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._index))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            missing.sort(key=lambda k: len(by_key[k]))  # similar lengths per chunk: less padding
            for start in range(0, len(missing), chunk):
                part = missing[start : start + chunk]
                if echo:
                    echo(f"embedding {start + len(part)}/{len(missing)} new prompts")
                new = np.asarray(self._embed([by_key[k] for k in part]), dtype=np.float32)
                base = len(self._index)
                self._vectors = new if not len(self._index) else np.concatenate([self._vectors, new])
                self._index.update({k: base + i for i, k in enumerate(part)})
                self._save()
        if not keys:
            return np.zeros((0, self._vectors.shape[1] if self._vectors.ndim == 2 else 0), dtype=np.float32)
        return self._vectors[[self._index[k] for k in keys]]

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        hashes: list[str | None] = [None] * len(self._index)
        for key, row in self._index.items():
            hashes[row] = key
        tmp = self.folder / "vectors.tmp.npy"
        np.save(tmp, self._vectors)
        tmp.replace(self.folder / "vectors.npy")
        (self.folder / "hashes.json").write_text(json.dumps(hashes))


#: Embedder options that do not change the vectors (left out of the cache key).
RUNTIME_OPTIONS = ("device", "batch_size", "num_threads", "cache_size", "onnx_cache_dir")


def cache_for(name: str, embedder: Any, folder: str | Path | None = None) -> EmbeddingCache:
    """The on-disk cache for ``embedder`` (registered as ``name``): ``<folder or routellm cache>/embeddings/<key>``,
    keyed by the options that change its vectors and the embedder's ``cache_token()`` (a model digest), so every
    trainer shares it and none reads vectors of an earlier model."""
    import msgspec

    from routellm.paths import cache_dir

    options = {k: v for k, v in msgspec.to_builtins(embedder.config).items() if k not in RUNTIME_OPTIONS}
    token = embedder.cache_token() if hasattr(embedder, "cache_token") else ""
    if token:  # e.g. the digest of a packaged model that changes between releases under the same name
        options["cache_token"] = token
    root = Path(folder) if folder else cache_dir("embeddings")
    return EmbeddingCache(root / embedder_key(name, options), lambda texts: embedder.embed(texts))
