"""Scoring prompts with a router, and the on-disk cache of the win rates.

Win rates are cached per (router, router config, prompts): the key hashes the router's name and
class, the version of the distribution that provides it, its validated config, the data set's name
and a digest of every prompt. Changing any of them scores again; nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from routellm.paths import cache_dir
from routellm.router import Router
from routellm.structs import convert_section
from routellm.training_overlap import Overlap, count_overlap

logger = logging.getLogger(__name__)

#: Bump when the meaning of cached win rates changes.
CACHE_FORMAT = 1
#: Key of the cache metadata holding the router's training-prompt overlap with the scored prompts.
TRAINING_OVERLAP = "training_overlap"


def prompts_digest(prompts: Sequence[str]) -> str:
    """sha256 over the prompts, order included."""
    digest = hashlib.sha256()
    for prompt in prompts:
        data = prompt.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def fingerprint(name: str, router_class: type[Router], config: msgspec.Struct) -> dict[str, str]:
    """What identifies a router's scores: name, class, providing distribution's version, validated config."""
    version = ""
    try:
        from routellm.registry import get_registry

        spec = get_registry().routers.get(name)
        if spec is not None and spec.load() is router_class:
            version = spec.version or ""
    except Exception:  # pragma: no cover - fingerprinting must not fail on a broken registry
        pass
    fields = {}
    token = router_class.cache_token(config) if hasattr(router_class, "cache_token") else ""
    if token:  # only when a router has one, so the keys of routers without one stay as they were
        fields["token"] = token
    return {
        **fields,
        "router": name,
        "class": f"{router_class.__module__}.{router_class.__qualname__}",
        "version": version,
        "config": msgspec.json.encode(config, order="sorted").decode(),
    }


def router_fingerprint(router: Router, name: str | None = None) -> dict[str, str]:
    """:func:`fingerprint` of a built router."""
    cls = type(router)
    return fingerprint(name or router.name or cls.__name__, cls, router.config)


class RouterRecipe:
    """A router not built yet: its name, class and validated config, enough to look up cached win rates
    without loading a model. :meth:`build` makes the router on a cache miss."""

    def __init__(self, name: str, router_class: type[Router], section: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.router_class = router_class
        self.config = convert_section(section, router_class.Config, where=f"router '{name}'")
        self.fingerprint = fingerprint(name, router_class, self.config)

    @classmethod
    def from_registry(cls, name: str, section: Mapping[str, Any] | None = None) -> RouterRecipe:
        from routellm.registry import get_registry

        return cls(name, get_registry().router(name).load(), section)

    def build(self) -> Router:
        return self.router_class(self.config)


def cache_key(fingerprint: dict[str, str], data_name: str, digest: str) -> str:
    """The hex key of one (router, config, data) combination."""
    blob = json.dumps({"format": CACHE_FORMAT, **fingerprint, "data": data_name, "prompts": digest}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class WinRateCache:
    """Win rates stored as ``<key>.npy`` (no pickles) beside a ``<key>.json`` describing them."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir("winrates")
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def get(self, key: str, n: int) -> np.ndarray | None:
        """Cached win rates for ``key`` when present, readable and of length ``n``."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable win-rate cache %s: %s", path, exc)
            return None
        if values.shape != (n,):
            logger.warning("ignoring win-rate cache %s: %s values for %d prompts", path, values.shape, n)
            return None
        return values

    def meta(self, key: str) -> dict | None:
        """The metadata stored beside ``key``'s win rates, when readable."""
        try:
            return json.loads(self.path(key).with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, values: np.ndarray, meta: dict) -> Path:
        """Store win rates atomically, with metadata for humans."""
        path = self.path(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".npy.part")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.asarray(values, dtype=np.float64), allow_pickle=False)
        os.replace(tmp, path)
        meta = {**meta, "n": int(len(values)), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return path


def score_prompts(
    router: Router, prompts: Sequence[str], *, batch_size: int = 64, label: str = "scoring", progress: bool = True
) -> np.ndarray:
    """Win rates for every prompt, computed in batches with a progress bar on stderr."""
    import typer

    out = np.empty(len(prompts), dtype=np.float64)
    starts = range(0, len(prompts), batch_size)
    show = progress and len(prompts) > 0 and sys.stderr.isatty()
    with typer.progressbar(
        length=len(prompts), label=label, file=sys.stderr, hidden=not show, show_pos=True
    ) as bar:
        for start in starts:
            chunk = list(prompts[start : start + batch_size])
            values = np.asarray(router.batch_calculate_win_rate(chunk), dtype=np.float64)
            if values.shape != (len(chunk),):
                raise ValueError(
                    f"router '{router.name}' returned {values.shape} win rates for a batch of {len(chunk)} prompts"
                )
            out[start : start + len(chunk)] = values
            bar.update(len(chunk))
    if not np.isfinite(out).all():
        raise ValueError(f"router '{router.name}' returned NaN or infinite win rates")
    return out


def cached_win_rates(
    recipe: RouterRecipe,
    prompts: Sequence[str],
    data_name: str,
    *,
    cache: WinRateCache | None = None,
    overwrite: bool = False,
    batch_size: int = 64,
    progress: bool = True,
) -> tuple[np.ndarray, bool]:
    """Win rates of the router ``recipe`` describes on ``prompts``: from the cache, else the router is
    built, scores them, is closed, and the values are cached. Returns ``(win_rates, from_cache)``."""
    cache = cache or WinRateCache()
    digest = prompts_digest(prompts)
    key = cache_key(recipe.fingerprint, data_name, digest)
    if not overwrite:
        values = cache.get(key, len(prompts))
        if values is not None:
            return values, True
    router = recipe.build()
    meta = {**recipe.fingerprint, "data": data_name, "prompts_sha256": digest}
    try:
        label = f"{recipe.name} on {data_name}"
        values = score_prompts(router, prompts, batch_size=batch_size, label=label, progress=progress)
        hashes = router.training_prompt_hashes()
        if hashes is not None:
            meta[TRAINING_OVERLAP] = msgspec.to_builtins(count_overlap(hashes, prompts))
    finally:
        router.close()
    cache.put(key, values, meta)
    return values, False


def recorded_overlap(
    recipe: RouterRecipe, prompts: Sequence[str], data_name: str, *, cache: WinRateCache | None = None
) -> Overlap | None:
    """The training-prompt overlap recorded when the router scored ``prompts`` (``None``: none recorded)."""
    cache = cache or WinRateCache()
    meta = cache.meta(cache_key(recipe.fingerprint, data_name, prompts_digest(prompts))) or {}
    found = meta.get(TRAINING_OVERLAP)
    return msgspec.convert(found, Overlap) if found else None
