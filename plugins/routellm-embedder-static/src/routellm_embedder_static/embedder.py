"""A static (token-lookup) model2vec encoder as a routellm embedder: tokenise, look up, average; no transformer."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.checkpoints import resolve_checkpoint
from routellm.embedder import Embedder
from routellm.errors import ConfigError

OWNER = "embedder 'static'"
#: ``model: default`` is the folder shipped in this package (distilled from all-MiniLM-L6-v2).
DEFAULT_MODEL = "default"
PACKAGED = Path(__file__).resolve().parent / "model"
#: Files of a model2vec folder (``StaticModel.save_pretrained``); fetched from the Hub for a repo id.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
HUB_PATTERNS = (*MODEL_FILES, "README.md", "modules.json")


class StaticEmbedderConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: ``default`` (the packaged model), a local model2vec folder, or a Hugging Face Hub repo id.
    model: str = DEFAULT_MODEL
    #: L2-normalise each embedding (mf checkpoints expect it).
    normalize: bool = True
    #: Tokens kept per text; default: the model's ``max_length`` (512 for the packaged model).
    max_length: int | None = None
    batch_size: int = 256
    revision: str | None = None
    cache_size: int = 4096
    #: Accepted so that router configs written for the huggingface embedder (``device: auto``, ``num_threads: 1``)
    #: keep working with a static checkpoint; lookups always run on the CPU, in the calling thread.
    device: str = "auto"
    num_threads: int | None = None


class StaticEmbedder(Embedder[StaticEmbedderConfig]):
    """Mean of per-token vectors (model2vec ``StaticModel``), float32; each text is embedded on its own,
    so a prompt's vector does not depend on the other prompts in a batch."""

    Config = StaticEmbedderConfig

    def __init__(self, config: StaticEmbedderConfig | None = None) -> None:
        config = config if config is not None else StaticEmbedderConfig()
        super().__init__(config, cache_size=config.cache_size)
        self.batch_size = config.batch_size
        self.normalize = config.normalize
        self._load_lock = threading.Lock()

    @cached_property
    def path(self) -> Path:
        """Local folder of the model: the packaged one, the configured folder, or a Hub snapshot."""
        return resolve_model(self.config.model, self.config.revision)

    @property
    def dim(self) -> int:
        return self._dim

    @cached_property
    def _dim(self) -> int:
        """From the folder's config.json (no model load), else the loaded vectors."""
        try:
            hidden = json.loads((self.path / "config.json").read_text()).get("hidden_dim")
        except (OSError, ValueError, AttributeError):
            hidden = None
        return int(hidden) if hidden else int(self._model.dim)

    @property
    def _model(self) -> Any:
        model = self.__dict__.get("_loaded")
        if model is None:
            with self._load_lock:  # one load even when several threads embed at once
                model = self.__dict__.get("_loaded")
                if model is None:
                    model = vars(self)["_loaded"] = load_static_model(self.path)
        return model

    def cache_token(self) -> str:
        """SHA-256 of the model folder's vectors and tokenizer: the packaged model (``default``) changes between
        releases under the same name, and so can a local folder."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for name in ("model.safetensors", "tokenizer.json"):
            digest.update(name.encode() + b"\0" + (self.path / name).read_bytes())
        return digest.hexdigest()

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        kwargs: dict[str, Any] = {"max_length": self.config.max_length} if self.config.max_length else {}
        # The base class normalises (in float32); threads and processes off: one deterministic pass.
        out = self._model.encode(list(texts), normalize=False, use_multiprocessing=False, batch_size=len(texts) or 1, **kwargs)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def resolve_model(model: str, revision: str | None = None) -> Path:
    """A local model2vec folder for ``model`` (``default``: the packaged one); a ConfigError names what is wrong."""
    if model == DEFAULT_MODEL:
        path = PACKAGED
    else:
        path = resolve_checkpoint(
            model, owner=OWNER, revision=revision, allow_patterns=HUB_PATTERNS, what="model2vec model folder"
        )
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(
            f"{OWNER}: {path} is not a model2vec model folder (missing {', '.join(missing)}); "
            "pass a folder made by `python -m routellm_embedder_static.distill` or StaticModel.save_pretrained"
        )
    return path


def load_static_model(path: Path) -> Any:
    """``model2vec.StaticModel`` from ``path``, its vectors held as float32 (sums in full precision)."""
    from model2vec import StaticModel

    try:
        model = StaticModel.from_pretrained(path, force_download=False)
    except Exception as exc:  # safetensors/tokenizers raise their own types
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{OWNER}: cannot load model2vec model from {path} ({type(exc).__name__}: {reason})") from None
    if model.embedding.dtype != np.float32:
        model.embedding = model.embedding.astype(np.float32)
    return model
