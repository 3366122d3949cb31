"""Reference prompts and the empirical CDF that turns a member's win rates into quantiles."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from routellm.errors import ConfigError

#: The shipped reference prompts (built by ``tools/build_reference.py``).
BUILTIN = Path(__file__).resolve().parent / "reference_prompts.json"


def load_reference(reference: str) -> tuple[list[str], str]:
    """``(prompts, name)`` of a reference: ``builtin`` or a file (``.json`` list or ``{"prompts": [...]}``,
    ``.jsonl`` with a ``prompt`` field, or ``.txt`` with one prompt per line). ``name`` identifies the
    prompts in the win-rate cache."""
    path = BUILTIN if reference == "builtin" else Path(reference).expanduser()
    if not path.is_file():
        raise ConfigError(f"router 'blend': reference must be 'builtin' or a prompts file; not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            prompts = data["prompts"] if isinstance(data, dict) else data
        elif path.suffix == ".jsonl":
            prompts = [json.loads(line)["prompt"] for line in text.splitlines() if line.strip()]
        else:
            prompts = [line for line in text.splitlines() if line.strip()]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"router 'blend': cannot read reference prompts from {path}: {exc}") from None
    prompts = [str(p) for p in prompts]
    if len(prompts) < 2:
        raise ConfigError(f"router 'blend': reference {path} holds {len(prompts)} prompts; it needs at least 2")
    digest = hashlib.sha256("\0".join(prompts).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return prompts, f"blend-reference:{digest}"


class EmpiricalCDF:
    """The share of reference win rates below a value (ties count half), linear between reference values.

    Outside the reference range it goes linearly to 0 (1) over one more range width, so it stays strictly
    increasing there too and the order of a member's win rates is kept wherever the other members tie.
    """

    def __init__(self, reference: Sequence[float] | np.ndarray) -> None:
        values = np.sort(np.asarray(reference, dtype=np.float64))
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError("reference win rates must be finite and not empty")
        unique = np.unique(values)
        left = np.searchsorted(values, unique, side="left")
        right = np.searchsorted(values, unique, side="right")
        mid = (left + right) / (2.0 * values.size)
        span = max(float(unique[-1] - unique[0]), 1e-9)
        self.xp = np.concatenate([[unique[0] - span], unique, [unique[-1] + span]])
        self.fp = np.concatenate([[0.0], mid, [1.0]])

    def __call__(self, win_rates: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(win_rates, dtype=np.float64), self.xp, self.fp)
