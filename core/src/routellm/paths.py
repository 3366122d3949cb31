"""Where routellm keeps its caches and finds local data."""

from __future__ import annotations

import os
from pathlib import Path

#: Folder holding local data (``benchmarks/``, ``battles/``); overrides downloads when set.
DATA_DIR_ENV = "ROUTELLM_DATA_DIR"
#: Folder for routellm's caches (downloads, win rates); default ``~/.cache/routellm``.
CACHE_DIR_ENV = "ROUTELLM_CACHE_DIR"


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The local data folder: ``explicit``, else ``$ROUTELLM_DATA_DIR``, else ``None`` (use downloads)."""
    value = explicit or os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def cache_dir(*parts: str) -> Path:
    """A folder under routellm's cache (created)."""
    base = os.environ.get(CACHE_DIR_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "routellm"
    )
    path = Path(base, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
