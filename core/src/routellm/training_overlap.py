"""Reading a trained router's recorded training prompts and counting how many a benchmark shares.

A trainer writes ``training_prompts.json`` (:data:`~routellm.prompt_hashes.TRAINING_PROMPTS_FILE`) into
its checkpoint folder: ``{"normalisation": "routellm.prompt_hashes v1", "hashes": [...]}``, each hash
:func:`~routellm.prompt_hashes.prompt_hash` of a training prompt. ``routellm eval`` warns when the
benchmark's prompts hash to any of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from routellm.prompt_hashes import TRAINING_PROMPTS_FILE, prompt_hash

logger = logging.getLogger(__name__)

#: The normalisation this routellm hashes with; a file naming another one cannot be compared.
NORMALISATION = "routellm.prompt_hashes v1"


class Overlap(msgspec.Struct, frozen=True):
    """How many of a benchmark's prompts a router was trained on."""

    overlapping: int
    prompts: int
    training_prompts: int

    @property
    def share(self) -> float:
        return self.overlapping / self.prompts if self.prompts else 0.0


def load_training_hashes(folder: str | Path | None) -> frozenset[str] | None:
    """The training-prompt hashes recorded in a checkpoint folder, or ``None`` when it records none.

    A file that is unreadable or uses another normalisation is logged and treated as absent.
    """
    if folder is None:
        return None
    path = Path(folder) / TRAINING_PROMPTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        normalisation, hashes = data["normalisation"], data["hashes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None
    if normalisation != NORMALISATION:
        logger.warning("ignoring %s: normalisation '%s', this routellm uses '%s'", path, normalisation, NORMALISATION)
        return None
    return frozenset(str(h) for h in hashes)


def union(parts: Iterable[frozenset[str] | set[str] | None]) -> frozenset[str] | None:
    """The union of several routers' hashes; ``None`` when none of them records any."""
    found = [set(p) for p in parts if p is not None]
    return frozenset().union(*found) if found else None


def count_overlap(hashes: frozenset[str] | set[str], prompts: Sequence[str]) -> Overlap:
    """How many of ``prompts`` hash to a training prompt."""
    overlapping = sum(1 for p in prompts if prompt_hash(p) in hashes)
    return Overlap(overlapping=overlapping, prompts=len(prompts), training_prompts=len(hashes))
