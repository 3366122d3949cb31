"""The Embedder base class: turns prompts into vectors for learned routers."""

from __future__ import annotations

import abc
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import msgspec
import numpy as np

from routellm.structs import EmptyConfig, config_from_generic, convert_section

#: The type of a component's options (its ``Config`` struct).
ConfigT = TypeVar("ConfigT", bound=msgspec.Struct)


class Embedder(abc.ABC, Generic[ConfigT]):
    """Embeds texts as rows of a float32 matrix.

    Subclasses implement :attr:`dim` and :meth:`_embed` (one batch, any size); the base class
    adds batching, L2 normalisation (``normalize``) and an in-memory LRU cache of recent texts
    (``cache_size`` entries, 0 to disable), safe to use from several threads.
    """

    Config: ClassVar[type[msgspec.Struct]] = EmptyConfig
    #: The validated options (an instance of :attr:`Config`).
    config: ConfigT
    name: ClassVar[str] = ""
    #: Texts per call of :meth:`_embed`.
    batch_size: int = 64
    #: Rows are L2-normalised by :meth:`embed` when true.
    normalize: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        config_from_generic(cls)

    def __init__(self, config: ConfigT | None = None, *, cache_size: int = 4096) -> None:
        self.config = config if config is not None else cast(ConfigT, self.Config())
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None, *, name: str | None = None) -> Self:
        """Build the embedder from its config section."""
        where = f"embedder '{name or cls.name or cls.__name__}'"
        return cls(cast(ConfigT, convert_section(section, cls.Config, where=where)))

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Length of each embedding."""

    @abc.abstractmethod
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch: an array of shape ``(len(texts), dim)``."""

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` (cached, batched, normalised): float32 array ``(len(texts), dim)``."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text) if self.cache_size else None
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                else:
                    todo.setdefault(text, []).append(i)
        if todo:
            # Similar lengths in a batch waste less compute on padding.
            unique = sorted(todo, key=len)
            batches = range(0, len(unique), self.batch_size)
            if progress:
                from tqdm.auto import tqdm

                batches = tqdm(batches, desc="embedding", unit="batch")
            for start in batches:
                chunk = unique[start : start + self.batch_size]
                vectors = np.asarray(self._embed(chunk), dtype=np.float32)
                if vectors.shape != (len(chunk), self.dim):
                    raise ValueError(
                        f"{type(self).__name__}._embed returned shape {vectors.shape}, "
                        f"expected {(len(chunk), self.dim)}"
                    )
                if self.normalize:
                    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                    vectors = vectors / np.maximum(norms, 1e-12)
                for text, vector in zip(chunk, vectors, strict=True):
                    out[todo[text]] = vector
                self._remember(chunk, vectors)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text: a float32 vector of length ``dim``."""
        return self.embed([text])[0]

    def _remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if not self.cache_size:
            return
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def cache_token(self) -> str:
        """What identifies this embedder's vectors beyond its config, e.g. a digest of a packaged or local model
        whose files can change at the same name (so on-disk embedding caches notice). Default: nothing."""
        return ""

    def close(self) -> None:  # noqa: B027 - optional hook for subclasses
        """Release resources (HTTP clients, GPU memory)."""
