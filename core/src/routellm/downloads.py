"""Pinned downloads: fetch a public file once, verify its sha256, keep it in routellm's cache.

Benchmark plugins describe their files as :class:`PinnedFile` records (a URL at a fixed commit
plus the file's sha256) and call :func:`resolve_files`, which reads them from a local data folder
when one is configured and otherwise downloads them into the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import httpx
import msgspec

from routellm.errors import RoutellmError
from routellm.paths import cache_dir, data_dir

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16


class DownloadError(RoutellmError):
    """A pinned file could not be downloaded, or its checksum did not match."""


class PinnedFile(msgspec.Struct, frozen=True):
    """A public file at a fixed URL with its expected sha256 (hex)."""

    url: str
    sha256: str


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(pinned: PinnedFile, dest: str | Path, *, client: httpx.Client | None = None, timeout: float = 60.0) -> Path:
    """Return ``dest``, downloading ``pinned`` there first unless a copy with the right checksum exists.

    The download goes to a temporary file beside ``dest`` and is renamed into place only after its
    checksum matches, so an interrupted or tampered download never poisons the cache.
    """
    dest = Path(dest)
    if dest.is_file():
        if sha256_file(dest) == pinned.sha256:
            return dest
        logger.warning("cached %s has the wrong checksum; downloading it again", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    own_client = client is None
    if own_client:
        client = httpx.Client(follow_redirects=True, timeout=timeout)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with client.stream("GET", pinned.url) as response:
                    response.raise_for_status()
                    for chunk in response.iter_bytes(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except httpx.HTTPError as exc:
                raise DownloadError(
                    f"could not download {pinned.url} ({type(exc).__name__}: {exc}); "
                    f"point {_data_hint()} at a local copy instead"
                ) from None
        actual = digest.hexdigest()
        if actual != pinned.sha256:
            raise DownloadError(
                f"checksum mismatch for {pinned.url}: expected sha256 {pinned.sha256}, got {actual}; "
                f"the file changed upstream or the download was corrupted (use {_data_hint()} for a local copy)"
            )
        os.replace(tmp_name, dest)
        logger.info("downloaded %s to %s", pinned.url, dest)
        return dest
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        if own_client:
            client.close()


def resolve_files(
    subdir: str,
    files: Mapping[str, PinnedFile],
    *,
    local_dir: str | Path | None = None,
    client: httpx.Client | None = None,
) -> Path:
    """The folder holding ``files`` (relative paths) for the data set ``subdir`` (e.g. ``benchmarks/gsm8k``).

    With a local data folder (``local_dir``, else ``$ROUTELLM_DATA_DIR``) the files are read from
    ``<data dir>/<subdir>/`` as they are. Without one, each is downloaded once into
    ``<cache>/downloads/<subdir>/`` and checked against its pinned sha256.
    """
    local = data_dir(local_dir)
    if local is not None:
        root = local / subdir
        missing = [rel for rel in files if not (root / rel).is_file()]
        if missing:
            raise DownloadError(
                f"data folder {local} lacks {len(missing)} file(s) of {subdir}, e.g. {root / missing[0]}; "
                f"fix the data_dir option / $ROUTELLM_DATA_DIR, or unset both to download the pinned files"
            )
        return root
    root = cache_dir("downloads", *Path(subdir).parts)
    own_client = client is None
    if own_client:
        client = httpx.Client(follow_redirects=True, timeout=60.0)
    try:
        for rel, pinned in files.items():
            fetch(pinned, root / rel, client=client)
    finally:
        if own_client:
            client.close()
    return root


def _data_hint() -> str:
    return "the data_dir option or $ROUTELLM_DATA_DIR"
