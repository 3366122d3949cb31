"""Checkpoints: one resolver for "a local folder or a Hugging Face Hub snapshot", model-folder checks, and
``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for routers loaded from a folder.

``huggingface_hub`` is imported only when the Hub is used (``pip install 'routellm-core[hub]'``).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from routellm.errors import ConfigError
from routellm.extras import require

logger = logging.getLogger(__name__)

#: Files a transformers checkpoint needs, without weights (those are fetched separately).
HUB_PATTERNS = ("*.json", "*.txt", "*.model", "*.jinja", "tokenizer*")
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")
#: Pickle-based weights; transformers loads them with ``torch.load(..., weights_only=True)``.
TORCH_BIN = ("pytorch_model.bin", "pytorch_model.bin.index.json")
#: A Hugging Face Hub repository id, ``owner/name``.
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def resolve_checkpoint(
    ref: str,
    *,
    owner: str,
    revision: str | None = None,
    allow_patterns: Sequence[str] | None = None,
    what: str = "checkpoint folder",
    hint: str = "",
) -> Path:
    """A local folder for ``ref``: the folder itself, else a snapshot of the Hub repository ``ref``.

    ``owner`` names the component in messages (e.g. ``"router 'bert'"``), ``what`` the thing expected
    (``"checkpoint folder"``), ``hint`` is appended to errors (e.g. ``"; make one with ..."``).
    Without ``allow_patterns`` the snapshot is a transformers model: safetensors weights are preferred,
    ``pytorch_model.bin`` is fetched only when the repository has no safetensors.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ConfigError(f"{owner}: {path} is a file; give a {what} or a Hugging Face Hub id{hint}")
    if path.is_absolute() or ref.startswith((".", "~")) or not HUB_ID.fullmatch(ref):
        raise ConfigError(f"{owner}: {what} not found: {path}{hint}")
    require("huggingface_hub", install="routellm-core[hub]", purpose=f"{owner} (downloading '{ref}')")
    from huggingface_hub import snapshot_download

    try:
        if allow_patterns is not None:
            folder = Path(snapshot_download(ref, revision=revision, allow_patterns=list(allow_patterns)))
        else:
            folder = Path(snapshot_download(ref, revision=revision, allow_patterns=[*HUB_PATTERNS, "*.safetensors"]))
            if not any((folder / name).is_file() for name in SAFETENSORS):
                folder = Path(snapshot_download(ref, revision=revision, allow_patterns=[*TORCH_BIN, "*.bin"]))
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(
            f"{owner}: cannot get '{ref}' from the Hugging Face Hub ({type(exc).__name__}: {reason}), and it is "
            f"not a local folder; pass the path of a downloaded or trained {what}{hint}"
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


def model_max_length(path: Path, tokenizer: Any, config: Any) -> int:
    """An encoder's token limit: sentence-transformers' ``max_seq_length``, else the tokenizer's/config's."""
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        value = json.loads(st_config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(limits) if limits else 512


class HubCheckpointMixin:
    """``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for a router whose weights are a folder.

    The same interface as ``huggingface_hub.ModelHubMixin``, for routers built from a config section:
    ``from_pretrained(ref, **options)`` is ``from_config({"checkpoint_path": ref, **options})`` (so a
    local folder and a Hub id both work, through :func:`resolve_checkpoint`), ``save_pretrained``
    writes the folder the router was loaded from, and ``push_to_hub`` uploads that folder with
    ``huggingface_hub.HfApi``. (``ModelHubMixin`` itself maps ``config.json`` keys onto ``__init__``
    arguments, which clashes with RouteLLM's checkpoint ``config.json`` files.)

    Set :attr:`checkpoint_folder` when loading; override :meth:`_save_pretrained` when the router's
    state is not a folder on disk.
    """

    #: The config option that names the checkpoint folder or Hub id.
    checkpoint_option: ClassVar[str] = "checkpoint_path"
    #: The folder the router was loaded from.
    checkpoint_folder: Path | None = None

    if TYPE_CHECKING:

        @classmethod
        def from_config(cls, section: Mapping[str, Any] | None = None, *, name: str | None = None) -> Self: ...

    @classmethod
    def from_pretrained(cls, ref: str | Path, **options: Any) -> Self:
        """Load from a local folder or a Hugging Face Hub id (``revision=`` and other router options allowed)."""
        return cls.from_config({**options, cls.checkpoint_option: str(ref)})

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the router's checkpoint into ``directory`` (created if needed); returns it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_pretrained(directory)
        return directory

    def _save_pretrained(self, directory: Path) -> None:
        source = self.checkpoint_folder
        if source is None:
            raise ConfigError(f"{type(self).__name__} was not loaded from a checkpoint folder; nothing to save")
        for item in source.iterdir():
            if item.name.startswith("."):
                continue  # .cache, .gitattributes of hub snapshots
            target = directory / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(item, target)  # follows the hub cache's symlinks

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        commit_message: str = "Upload routellm router",
        branch: str | None = None,
        create_pr: bool | None = None,
    ) -> Any:
        """Create (or reuse) the model repository ``repo_id`` and upload the checkpoint in one commit."""
        require("huggingface_hub", install="routellm-core[hub]", purpose="push_to_hub")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "checkpoint")
            return api.upload_folder(
                repo_id=repo_id,
                repo_type="model",
                folder_path=folder,
                commit_message=commit_message,
                revision=branch,
                create_pr=create_pr,
            )
