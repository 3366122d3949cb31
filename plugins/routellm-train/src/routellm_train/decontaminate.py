"""Decontamination: drop training prompts that match an evaluation benchmark's prompts.

Two tests, both against every prompt of every installed benchmark:

* **normalised exact prefix**: the first ``prefix_chars`` characters of the prompts, normalised with
  :func:`routellm.prompt_hashes.normalise`, are equal (whole prompts when shorter);
* **embedding near-duplicate**: cosine similarity of the prompt embeddings at or above ``threshold``.

The counts per source go to the console and the model card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from routellm.prompt_hashes import normalise
from routellm_train.results import Results

#: Defaults: 80 normalised characters (as the shared data's filters), cosine ≥ 0.95 on MiniLM embeddings.
PREFIX_CHARS = 80
NEAR_DUPLICATE_COSINE = 0.95


@dataclass
class DecontaminationReport:
    """What was dropped, per source: ``{source: {"total", "exact_prefix", "near_duplicate", "kept"}}``."""

    prefix_chars: int
    threshold: float | None
    benchmarks: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"decontamination against {', '.join(f'{k} ({v})' for k, v in self.benchmarks.items()) or 'no benchmark'}: "
            f"normalised prefix of {self.prefix_chars} chars"
            + (f", embedding cosine >= {self.threshold}" if self.threshold is not None else "")
        ]
        for name, c in self.counts.items():
            out.append(
                f"  {name}: {c['total']} prompts, dropped {c['exact_prefix']} by prefix and "
                f"{c['near_duplicate']} as near-duplicates, kept {c['kept']}"
            )
        return out


def prefix_key(text: str, chars: int = PREFIX_CHARS) -> str:
    return normalise(text)[:chars]


def prefix_matches(prompts: Sequence[str], reference: Sequence[str], chars: int = PREFIX_CHARS) -> np.ndarray:
    """Boolean mask: prompts whose normalised prefix equals a reference prompt's."""
    keys = {prefix_key(t, chars) for t in reference}
    keys.discard("")
    return np.fromiter((prefix_key(p, chars) in keys for p in prompts), dtype=bool, count=len(prompts))


def max_cosine(vectors: np.ndarray, reference: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each row of ``vectors``, its highest cosine similarity to any row of ``reference``."""
    if not len(reference) or not len(vectors):
        return np.full(len(vectors), -1.0)
    ref = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    ref = ref.astype(np.float32)
    out = np.empty(len(vectors))
    for start in range(0, len(vectors), chunk):
        part = vectors[start : start + chunk].astype(np.float32)
        part = part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
        out[start : start + chunk] = (part @ ref.T).max(axis=1)
    return out


def decontaminate(
    tables: Sequence[Results],
    benchmarks: Mapping[str, Sequence[str]],
    *,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    prefix_chars: int = PREFIX_CHARS,
    threshold: float | None = NEAR_DUPLICATE_COSINE,
    echo: Callable[[str], None] | None = print,
) -> tuple[list[Results], DecontaminationReport]:
    """Each table without its prompts that match a benchmark prompt; ``embed`` (prompts → vectors)
    enables the near-duplicate test (skipped when ``None`` or ``threshold`` is ``None``)."""
    reference = [p for prompts in benchmarks.values() for p in prompts]
    use_embeddings = embed is not None and threshold is not None
    report = DecontaminationReport(
        prefix_chars, threshold if use_embeddings else None, {k: len(v) for k, v in benchmarks.items()}
    )
    ref_vectors = np.asarray(embed(reference)) if embed is not None and use_embeddings and reference else None
    cleaned = []
    for table in tables:
        prefix = prefix_matches(table.prompts, reference, prefix_chars)
        near = np.zeros(len(table), dtype=bool)
        if ref_vectors is not None and embed is not None and len(table):
            near = (max_cosine(np.asarray(embed(table.prompts)), ref_vectors) >= threshold) & ~prefix
        keep = ~(prefix | near)
        report.counts[table.info.name] = {
            "total": len(table),
            "exact_prefix": int(prefix.sum()),
            "near_duplicate": int(near.sum()),
            "kept": int(keep.sum()),
        }
        cleaned.append(table.subset(keep))
    if echo is not None:
        for line in report.lines():
            echo(line)
    return cleaned, report


def installed_benchmark_prompts(
    names: Sequence[str] | None = None, *, data_dir: str | None = None, echo: Callable[[str], None] | None = print
) -> dict[str, list[str]]:
    """Prompts of the installed benchmark plugins (all, or ``names``); a benchmark whose data cannot be
    loaded is reported and skipped (decontamination then cannot cover it)."""
    from routellm.registry import get_registry

    registry = get_registry()
    wanted = list(names) if names is not None else sorted(registry.benchmarks)
    out: dict[str, list[str]] = {}
    for name in wanted:
        section = {"data_dir": data_dir} if data_dir else None
        try:
            data = registry.create_benchmark(name, section).load()
        except Exception as exc:  # a benchmark without data: say so, keep going
            if echo is not None:
                echo(f"warning: cannot load benchmark '{name}' for decontamination ({type(exc).__name__}: {exc})")
            continue
        out[name] = list(data.prompts)
    return out
