"""Prompt normalisation and short hashes, shared by decontamination and training-prompt records.

Trainers record the hashes of the prompts they trained on (``training_prompts.json`` in the checkpoint
folder); ``routellm eval`` compares them with a benchmark's prompts. Both sides must normalise alike,
so this module is the only place that defines it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)

#: Name of the file, in a trained checkpoint folder, that lists its training prompts' hashes.
TRAINING_PROMPTS_FILE = "training_prompts.json"


def normalise(text: str) -> str:
    """NFKC, case-folded, every run of non-alphanumeric characters collapsed to one space, stripped."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def prompt_hash(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of the normalised prompt."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


def prompt_hashes(texts: Iterable[str]) -> set[str]:
    return {prompt_hash(t) for t in texts}
