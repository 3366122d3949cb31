"""mf checkpoints on disk: RouteLLM's published layout and the extended one written by ``routellm train mf``.

Both are a folder with ``config.json`` and weights ``P.weight`` (model embeddings),
``text_proj.0.weight`` (prompt projection) and ``classifier.0.weight`` (scoring vector) in
``model.safetensors`` (or ``pytorch_model.bin``, read with ``torch.load(weights_only=True)``, which needs
``routellm-router-mf[torch]``; nothing is ever unpickled). RouteLLM's ``config.json`` holds only the constructor arguments (``dim``,
``num_models``, ``text_dim``, ``num_classes``, ``use_proj``); its rows are named by
:data:`~routellm_router_mf.model_ids.ROUTELLM_MODEL_NAMES`. Checkpoints trained here add their own
``model_names``, the embedder that made the prompt embeddings, optional extra prompt features and
training metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.errors import ConfigError
from routellm.extras import MissingDependencyError, importable
from routellm_router_mf.model_ids import ROUTELLM_MODEL_NAMES

#: The folder of the checkpoint shipped in this package (``checkpoint_path: default``): recipe (1) on the
#: ``static`` embedder (routellm-embedder-static).
PACKAGED_DIR = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_CHECKPOINT = PACKAGED_DIR / "default"
#: Other checkpoints shipped in this package, by ``checkpoint_path`` name (a local folder of that name wins).
#: ``minilm``, ``apache`` and ``routerbench`` embed with all-MiniLM-L6-v2 (routellm-embedder-huggingface); the
#: ``*-static`` ones are recipes (2) and (3) on the ``static`` embedder.
PACKAGED = ("default", "minilm", "apache", "routerbench", "apache-static", "routerbench-static")
#: Earlier names of packaged checkpoints (``static`` became ``default`` when the static embedder became the default).
RENAMED = {"static": "default"}
#: Key of a checkpoint's embedder record holding the embedder's ``cache_token()`` at training time (a digest of the
#: exact model, e.g. the static embedder's packaged one); not an embedder option.
MODEL_DIGEST = "model_digest"
SAFETENSORS = "model.safetensors"
TORCH_BIN = "pytorch_model.bin"
FORMAT = "routellm-mf/1"
#: Files of an mf checkpoint fetched from the Hub.
HUB_FILES = ("config.json", "*.safetensors", "*.bin", "*.md")
#: Extra prompt features a checkpoint may declare (appended, standardised, to the embedding).
FEATURES = ("log_chars",)
#: Activations a checkpoint may apply to the projected prompt vector.
ACTIVATIONS = ("tanh",)


class MFConfig(msgspec.Struct, omit_defaults=True):
    """``config.json`` of an mf checkpoint (RouteLLM's keys first; the rest is this project's extension)."""

    dim: int
    num_models: int
    text_dim: int
    num_classes: int = 1
    use_proj: bool = True
    format: str | None = None
    #: Row ``i`` of ``P`` is ``model_names[i]``; absent in RouteLLM's layout (then RouteLLM's table).
    model_names: list[str] | None = None
    #: Other names for rows, e.g. ``{"mixtral-8x7b-instruct-v0.1": "Mixtral-8x7B-Instruct-v0.1_concise"}``.
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    #: The embedder section (``name`` plus its options) that produced the training embeddings.
    embedder: dict[str, Any] | None = None
    #: Extra prompt features appended after the embedding, standardised with ``feature_mean/std``.
    features: list[str] = msgspec.field(default_factory=list)
    feature_mean: list[float] = msgspec.field(default_factory=list)
    feature_std: list[float] = msgspec.field(default_factory=list)
    #: How the checkpoint was trained (data, split, hyperparameters, metrics).
    training: dict[str, Any] | None = None
    #: ``None`` (RouteLLM: linear projection) or ``"tanh"`` applied to ``W x`` (multi-model checkpoints).
    activation: str | None = None
    #: RouteLLM L2-normalises the rows of ``P``; multi-model checkpoints score with raw rows.
    normalize_models: bool = True
    #: Whether the weights hold ``model_bias`` (one quality offset per model row).
    model_bias: bool = False

    @property
    def names(self) -> list[str]:
        return list(self.model_names) if self.model_names is not None else list(ROUTELLM_MODEL_NAMES)

    @property
    def input_dim(self) -> int:
        """Width of the prompt vector the projection takes: embedding plus features."""
        return self.text_dim + len(self.features)


@dataclass
class MFWeights:
    """The three weight matrices, as float32 numpy arrays."""

    P: np.ndarray  # (num_models, dim)
    text_proj: np.ndarray | None  # (dim, input_dim), None when use_proj is false
    classifier: np.ndarray  # (num_classes, dim)
    bias: np.ndarray | None = None  # (num_models,), only with config.model_bias


def state_dict_keys(use_proj: bool) -> list[str]:
    keys = ["P.weight", "classifier.0.weight"]
    return keys + ["text_proj.0.weight"] if use_proj else keys


def resolve_checkpoint(path: str, *, revision: str | None = None) -> Path:
    """A local folder for ``path``: a packaged name (``default``, ``minilm``, ``apache``, ``routerbench``,
    ``apache-static``, ``routerbench-static``; ``static`` is ``default``'s earlier name), a folder, or a Hugging Face
    Hub repo id."""
    if path == "default" or (path in RENAMED and not Path(path).expanduser().is_dir()):
        return PACKAGED_DIR / RENAMED.get(path, path)
    if path in PACKAGED and not Path(path).expanduser().is_dir() and (PACKAGED_DIR / path / "config.json").is_file():
        return PACKAGED_DIR / path
    from routellm.checkpoints import resolve_checkpoint as resolve

    return resolve(path, owner="router 'mf'", revision=revision, allow_patterns=HUB_FILES)


def local_checkpoint_digest(path: str) -> str:
    """sha256 of a packaged or local checkpoint folder's config and weights ("" for a Hub id, whose
    ``revision`` option identifies it); no download, no model loading."""
    local = Path(path).expanduser()
    packaged = RENAMED.get(path, path)
    folder = local if local.is_dir() else PACKAGED_DIR / packaged if packaged in PACKAGED else None
    if folder is None or not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        file = folder / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def load_checkpoint(folder: Path) -> tuple[MFConfig, MFWeights]:
    """Read and validate a checkpoint folder; every problem is a :class:`ConfigError` naming the file."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ConfigError(f"{folder} is not an mf checkpoint: it has no config.json")
    try:
        config = msgspec.json.decode(config_file.read_bytes(), type=MFConfig)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{config_file}: not a valid mf config ({exc})") from None
    if config.num_classes != 1:
        raise ConfigError(f"{config_file}: num_classes must be 1 (a single win-rate logit), got {config.num_classes}")
    unknown = [f for f in config.features if f not in FEATURES]
    if unknown:
        raise ConfigError(f"{config_file}: unknown prompt feature '{unknown[0]}' (known: {', '.join(FEATURES)})")
    if not (len(config.feature_mean) == len(config.feature_std) == len(config.features)):
        raise ConfigError(f"{config_file}: feature_mean and feature_std need one value per feature")
    if config.activation is not None and config.activation not in ACTIVATIONS:
        raise ConfigError(f"{config_file}: unknown activation '{config.activation}' (known: {', '.join(ACTIVATIONS)})")
    if not config.use_proj and config.input_dim != config.dim:
        raise ConfigError(f"{config_file}: without use_proj the prompt width ({config.input_dim}) must equal dim")
    names = config.names
    if len(names) != config.num_models:
        raise ConfigError(
            f"{config_file}: num_models is {config.num_models} but the model-name table has {len(names)} names"
            + ("" if config.model_names is not None else " (a config without model_names uses RouteLLM's 64)")
        )
    bad = [row for row in config.aliases.values() if row not in names]
    if bad:
        raise ConfigError(f"{config_file}: alias target '{bad[0]}' is not in the model-name table")
    tensors = _read_tensors(folder)
    expected: dict[str, tuple[int, ...]] = {
        "P.weight": (config.num_models, config.dim),
        "classifier.0.weight": (1, config.dim),
    }
    if config.use_proj:
        expected["text_proj.0.weight"] = (config.dim, config.input_dim)
    if config.model_bias:
        expected["model_bias"] = (config.num_models,)
    for key, shape in expected.items():
        if key not in tensors:
            raise ConfigError(f"{folder}: weights lack '{key}' (found: {', '.join(sorted(tensors)) or 'none'})")
        if tuple(tensors[key].shape) != shape:
            raise ConfigError(f"{folder}: '{key}' has shape {tuple(tensors[key].shape)}, config.json implies {shape}")
    weights = MFWeights(
        P=tensors["P.weight"],
        text_proj=tensors.get("text_proj.0.weight") if config.use_proj else None,
        classifier=tensors["classifier.0.weight"],
        bias=tensors.get("model_bias") if config.model_bias else None,
    )
    return config, weights


def _read_tensors(folder: Path) -> dict[str, np.ndarray]:
    st_file, bin_file = folder / SAFETENSORS, folder / TORCH_BIN
    if st_file.is_file():
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(st_file))
        except Exception as exc:
            raise ConfigError(f"{st_file}: not a readable safetensors file ({exc})") from None
    elif bin_file.is_file():
        if not importable("torch"):
            raise MissingDependencyError(
                f"router 'mf': {bin_file} is a PyTorch file, and reading it needs torch: "
                "pip install 'routellm-router-mf[torch]' (or convert it once to model.safetensors)"
            )
        import torch

        try:
            state = torch.load(bin_file, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ConfigError(f"{bin_file}: cannot be read as plain tensors ({type(exc).__name__}: {exc})") from None
        tensors = {key: value.float().numpy() for key, value in state.items()}
    else:
        raise ConfigError(f"{folder} is not an mf checkpoint: it has no {SAFETENSORS} (or {TORCH_BIN})")
    return {key: np.asarray(value, dtype=np.float32) for key, value in tensors.items()}


def save_checkpoint(folder: Path, config: MFConfig, weights: MFWeights, *, card: str | None = None) -> None:
    """Write ``config.json``, ``model.safetensors`` and (optionally) the model card ``README.md``."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"P.weight": weights.P, "classifier.0.weight": weights.classifier}
    if weights.text_proj is not None:
        tensors["text_proj.0.weight"] = weights.text_proj
    if weights.bias is not None:
        tensors["model_bias"] = weights.bias
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, str(folder / SAFETENSORS))
    data = msgspec.to_builtins(config)
    # NaN (e.g. a validation AUC with one class only) is not JSON: written as null so the folder loads.
    (folder / "config.json").write_text(json.dumps(_nan_to_none(data), indent=2) + "\n", encoding="utf-8")
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")


def name_key(name: str) -> str:
    """A loose key for matching model names across sources: ``gpt4_1106_preview`` ~ ``gpt-4-1106-preview``,
    ``mistralai/Mixtral-8x7B-Instruct-v0.1`` ~ ``mixtral-8x7b-instruct-v0.1``."""
    return re.sub(r"[^a-z0-9.]", "", name.rsplit("/", 1)[-1].lower())


def find_model(names: list[str], wanted: str, *, where: str, aliases: dict[str, str] | None = None) -> int:
    """Row of ``wanted`` in ``names``: exact match, then the checkpoint's aliases, then a loose match
    (case, punctuation, org prefix) against names and aliases."""
    if wanted in names:
        return names.index(wanted)
    aliases = aliases or {}
    if wanted in aliases:
        return names.index(aliases[wanted])
    matches = {i for i, name in enumerate(names) if name_key(name) == name_key(wanted)}
    matches |= {names.index(row) for alias, row in aliases.items() if name_key(alias) == name_key(wanted)}
    if len(matches) == 1:
        return matches.pop()
    shown = ", ".join(names[:70]) + (" ..." if len(names) > 70 else "")
    raise ConfigError(
        f"{where}: model '{wanted}' is not in this checkpoint's model table "
        f"({'ambiguous loose match' if matches else 'no match'}); choose one of: {shown}"
    )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(item) for item in value]
    return value
