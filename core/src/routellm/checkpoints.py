"""Finding a model checkpoint: a local folder, or a Hugging Face Hub snapshot (``huggingface_hub``, lazily)."""

from __future__ import annotations

import logging
from pathlib import Path

from routellm.errors import ConfigError

logger = logging.getLogger(__name__)

#: Files a transformers checkpoint needs, without weights (those are fetched separately).
HUB_PATTERNS = ("*.json", "*.txt", "*.model", "*.jinja", "tokenizer*")
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")
#: Pickle-based weights; transformers loads them with ``torch.load(..., weights_only=True)``.
TORCH_BIN = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def resolve_checkpoint(ref: str, *, owner: str, revision: str | None = None) -> Path:
    """A local folder for ``ref``: the folder itself, else a snapshot of the Hub repository ``ref``.

    ``owner`` names the component in messages (e.g. ``"router 'bert'"``). Safetensors weights are
    preferred; ``pytorch_model.bin`` is fetched only when a repository has no safetensors.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ConfigError(f"{owner}: {path} is a file; checkpoint_path must be a model folder or a Hugging Face Hub id")
    if path.is_absolute() or ref.startswith((".", "~")) or ref.count("/") != 1:
        raise ConfigError(f"{owner}: checkpoint folder not found: {path}")
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(ref, revision=revision, allow_patterns=[*HUB_PATTERNS, "*.safetensors"]))
        if not any((folder / name).is_file() for name in SAFETENSORS):
            folder = Path(snapshot_download(ref, revision=revision, allow_patterns=list(TORCH_BIN) + ["*.bin"]))
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(
            f"{owner}: '{ref}' is not a local folder, and downloading it from the Hugging Face Hub failed "
            f"({type(exc).__name__}: {reason}); pass the path of a downloaded or trained checkpoint folder"
        ) from None
    logger.debug("%s: using hub snapshot %s", owner, folder)
    return folder


def check_model_folder(path: Path, *, owner: str, hint: str = "") -> None:
    """Raise :class:`ConfigError` unless ``path`` holds a transformers ``config.json`` and weights."""
    suffix = f"; {hint}" if hint else ""
    if not (path / "config.json").is_file():
        raise ConfigError(f"{owner}: {path} has no config.json, so it is not a transformers model folder{suffix}")
    if not any((path / name).is_file() for name in SAFETENSORS + TORCH_BIN):
        present = ", ".join(sorted(p.name for p in path.iterdir())) or "nothing"
        raise ConfigError(
            f"{owner}: {path} has no model weights (expected model.safetensors or pytorch_model.bin; "
            f"found {present}){suffix}"
        )


def has_tokenizer(path: Path) -> bool:
    """Whether ``path`` holds tokenizer files."""
    return any(
        (path / name).is_file()
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model", "spiece.model")
    )
